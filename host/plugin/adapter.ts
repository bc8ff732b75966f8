/**
 * The handlers a poller calls when a plugin serves its connections: they
 * route events to the plugin's supervisor and still tell the application's
 * handlers of opens, closes and drains.
 */
import { Handlers, noop } from '../api/handlers.js';
import type { PluginSupervisor } from './supervisor.js';

/**
 * The engine's handlers when a plugin serves its connections: what the
 * poller dispatches goes to the plugin (through its supervisor), and the
 * application's own handlers still see the connections open and close
 * (onOpen before the plugin's on-open, onClose after its on-close), and
 * drain. Exceptions of the application's handlers are kept and rethrown
 * by the application's {@link Handlers}, as without a plugin.
 */
export class PluginDispatch extends Handlers {
  readonly #app: Handlers;

  constructor(app: Handlers, supervisor: PluginSupervisor) {
    super();
    this.#app = app;
    this.onOpen = (conn) => {
      if (app.onOpen !== noop) app.call(() => app.onOpen(conn));
      supervisor.open(conn);
    };
    this.onData = (conn, data) => supervisor.data(conn, data);
    this.onDrain = (conn) => {
      supervisor.drain(conn);
      if (app.onDrain !== noop) app.call(() => app.onDrain(conn));
    };
    this.onClose = (conn, err) => {
      supervisor.closed(conn);
      if (app.onClose !== noop) app.call(() => app.onClose(conn, err));
    };
    // The plugin world has no end event: the application still hears it;
    // the engine then ends the connection (allowHalfOpen is refused with a plugin).
    this.onEnd = (conn) => {
      if (app.onEnd !== noop) app.call(() => app.onEnd(conn));
    };
    this.onAcceptError = (err) => app.onAcceptError(err);
  }

  override capture(error: unknown): void {
    this.#app.capture(error);
  }

  override rethrow(): void {
    this.#app.rethrow();
  }
}
