/**
 * The part of `Engine`'s API that sets the handlers of connection and
 * engine events (`onOpen` ... `onError`), each refused when the engine's
 * options already decide it: a `handlers` module, or a plugin that takes
 * the data.
 */
import { NbioError } from '../api/errors.js';
import type { Handlers } from '../api/handlers.js';
import type {
  AcceptErrorHandler, CloseHandler, DataHandler, DrainHandler, EndHandler, ErrorHandler, HandlerModule, OpenHandler, StopHandler,
} from '../api/options.js';
import type { ResolvedOptions } from '../api/resolve-options.js';

/**
 * `Engine`'s handler setters; the engine owns `handlers` and delivers
 * events to it. Each handler is set once, by its setter or by the option
 * of the same name: setting it again throws ERR_NBIO_INVALID_OPTION (a
 * second handler would silently replace the first).
 */
export abstract class EngineHandlers {
  readonly #options: ResolvedOptions;
  readonly #handlers: Handlers;

  protected constructor(options: ResolvedOptions, handlers: Handlers) {
    this.#options = options;
    this.#handlers = handlers;
  }

  /** Sets the handler called when a connection opens. */
  onOpen(handler: OpenHandler): this {
    return this.#setHandler('onOpen', handler);
  }

  /** Sets the handler called with arriving bytes. */
  onData(handler: DataHandler): this {
    return this.#setHandler('onData', handler);
  }

  /** Sets the handler called when a connection closes. */
  onClose(handler: CloseHandler): this {
    return this.#setHandler('onClose', handler);
  }

  /** Sets the handler called when the peer ends its side of a connection. */
  onEnd(handler: EndHandler): this {
    return this.#setHandler('onEnd', handler);
  }

  /** Sets the handler called when a connection's write buffer empties. */
  onDrain(handler: DrainHandler): this {
    return this.#setHandler('onDrain', handler);
  }

  /** Sets the handler called once the engine stopped. */
  onStop(handler: StopHandler): this {
    return this.#setHandler('onStop', handler);
  }

  /** Sets the handler called when accepting fails. */
  onAcceptError(handler: AcceptErrorHandler): this {
    return this.#setHandler('onAcceptError', handler);
  }

  /** Sets the handler called when a poller of the engine fails. */
  onError(handler: ErrorHandler): this {
    return this.#setHandler('onError', handler);
  }

  #setHandler<K extends keyof HandlerModule>(name: K, handler: HandlerModule[K]): this {
    if (name === 'onData' && this.#options.plugin !== undefined) {
      throw new NbioError('ERR_NBIO_INVALID_OPTION', 'onData cannot be set with a plugin: the plugin handles the data');
    }
    if (this.#options.handlers !== undefined) {
      throw new NbioError('ERR_NBIO_INVALID_OPTION', `this engine takes its handlers from ${this.#options.handlers}; ${name} cannot be set`);
    }
    this.#handlers.set(name, handler);
    return this;
  }
}
