/**
 * The engine's handlers as pollers call them: the current function of each,
 * and what happens to an exception a handler throws (kept, rethrown after
 * its batch).
 */
import { NbioError } from './errors.js';
import { checkHandler } from './resolve-options.js';
import { type AcceptErrorHandler, type CloseHandler, type DataHandler, type DrainHandler, type EndHandler, type ErrorHandler, type HandlerModule, type OpenHandler, type StopHandler } from './options.js';

/** A handler that does nothing: what an engine calls until one is set. */
export const noop = (): void => {};

/**
 * The handlers of one engine, and the first exception one of them threw.
 *
 * Handlers are called through {@link call} (or, on the per-message path,
 * directly with {@link capture} in a catch), so an exception never unwinds
 * through the engine: it is kept, the rest of the batch is delivered, and
 * {@link rethrow} raises it afterwards as an uncaught exception.
 */
export class Handlers {
  onOpen: OpenHandler = noop;
  onData: DataHandler = noop;
  onClose: CloseHandler = noop;
  onEnd: EndHandler = noop;
  onDrain: DrainHandler = noop;
  onStop: StopHandler = noop;
  onAcceptError: AcceptErrorHandler = noop;
  onError: ErrorHandler = noop;
  #error: { error: unknown } | undefined;

  /** Takes every handler `mod` defines (options, or a handlers module); leaves the others. */
  install(mod: HandlerModule): void {
    if (mod.onOpen) this.onOpen = mod.onOpen;
    if (mod.onData) this.onData = mod.onData;
    if (mod.onClose) this.onClose = mod.onClose;
    if (mod.onEnd) this.onEnd = mod.onEnd;
    if (mod.onDrain) this.onDrain = mod.onDrain;
    if (mod.onStop) this.onStop = mod.onStop;
    if (mod.onAcceptError) this.onAcceptError = mod.onAcceptError;
    if (mod.onError) this.onError = mod.onError;
  }

  /**
   * Sets one handler; throws ERR_NBIO_INVALID_OPTION unless `handler` is a
   * function, or if that handler is set already (by an option or an
   * earlier call): an engine has one of each for every connection, and
   * silently replacing the first would drop what it did.
   */
  set<K extends keyof HandlerModule>(name: K, handler: HandlerModule[K]): void {
    const checked = checkHandler(name, handler);
    if ((this as HandlerModule)[name] !== noop) {
      throw new NbioError(
        'ERR_NBIO_INVALID_OPTION',
        `${name} is already set: an engine has one ${name} for every connection, and a second would silently replace the first. ` +
          'Do both things in one handler (per connection, through conn.session if they differ)',
      );
    }
    (this as HandlerModule)[name] = checked;
  }

  /** Runs `handler`; an exception is kept for {@link rethrow}. */
  call(handler: () => void): void {
    try {
      handler();
    } catch (error) {
      this.capture(error);
    }
  }

  /** Keeps `error` for {@link rethrow} unless an earlier one is kept already. */
  capture(error: unknown): void {
    this.#error ??= { error };
  }

  /**
   * Reports an error of the engine itself (a poller failed): to `onError`,
   * or, without one, as a process warning, so that it is never silent.
   */
  reportError(err: Error): void {
    const onError = this.onError;
    if (onError === noop) process.emitWarning(err);
    else this.call(() => onError(err));
  }

  /** Raises the kept exception, if any, as an uncaught exception on the next tick. */
  rethrow(): void {
    const failure = this.#error;
    if (failure === undefined) return;
    this.#error = undefined;
    process.nextTick(() => {
      throw failure.error;
    });
  }
}
