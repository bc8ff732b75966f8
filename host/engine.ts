import { formatAddress, parseAddress, parseNetwork, resolveEndpoint } from './address.js';
import type { Conn } from './conn.js';
import { NbioError, systemError } from './errors.js';
import { Handlers, noop } from './handlers.js';
import { ERRNO, native } from './native.js';
import {
  loadHandlers,
  resolveOptions,
  type AcceptErrorHandler,
  type CloseHandler,
  type DataHandler,
  type DrainHandler,
  type EngineOptions,
  type ErrorHandler,
  type HandlerModule,
  type OpenHandler,
  type ResolvedOptions,
  type StopHandler,
} from './options.js';
import { Poller } from './poller.js';
import { PollerGroup } from './pollers.js';
import { listen, sockAddress } from './sockets.js';

/** Options of {@link Engine.dial}. */
export interface DialOptions {
  /** Give up (rejecting with ERR_NBIO_DIAL_TIMEOUT) after this many milliseconds; 0 or absent: no limit. */
  timeout?: number;
}

/**
 * The descriptor table of an engine's own poller (host/owned-fds.ts), for
 * host/poller-worker.ts to hand to the thread that started it; not part of
 * the public API.
 */
export let fdTableOf: (engine: Engine) => SharedArrayBuffer | undefined;

const enum State {
  Created,
  Starting,
  Running,
  Stopping,
  Stopped,
}

/**
 * A non-blocking TCP engine: listeners and connections driven by one
 * reactor (Wasm) on the thread that created it, inside Node's event loop
 * (see {@link Poller}), plus, with `pollers` > 1, more reactors in worker
 * threads.
 *
 * Handlers run on that thread, one at a time, never re-entered: `onOpen`
 * before a connection's first `onData`, `onClose` exactly once after its
 * last. An exception thrown by a handler does not disturb the engine; the
 * first one of a batch is rethrown afterwards as an uncaught exception.
 *
 * If this thread's poller fails (its reactor traps, its epoll descriptor
 * fails), the engine stops by itself: `onError`, each connection's
 * `onClose` with the error, `onStop`; from then on `dial` and `start`
 * refuse with the error's code. A worker poller that fails or dies only
 * takes its own connections with it (see host/pollers.ts).
 */
export class Engine {
  readonly #options: ResolvedOptions;
  #addrs: string[];
  #state = State.Created;
  #starting: Promise<void> | undefined;
  #stopping: Promise<void> | undefined;
  /** This thread's poller, once started. */
  #poller: Poller | undefined;
  /** The pollers in worker threads, with `pollers` > 1. */
  #pollers: PollerGroup | undefined;
  readonly #handlers = new Handlers();
  /** Why the engine stopped by itself, if it did. */
  #failure: NbioError | undefined;

  static {
    fdTableOf = (engine) => engine.#poller?.fdTable;
  }

  /**
   * Validates `options` (throwing ERR_NBIO_INVALID_OPTION or
   * ERR_NBIO_INVALID_ADDRESS); opens nothing until {@link start}.
   */
  constructor(options: EngineOptions = {}) {
    this.#options = resolveOptions(options);
    this.#addrs = (options.addrs ?? []).slice();
    this.#handlers.install(options);
  }

  /** Sets the handler called when a connection opens (replacing the previous one). */
  onOpen(handler: OpenHandler): this {
    return this.#setHandler('onOpen', handler);
  }

  /** Sets the handler called with arriving bytes (replacing the previous one). */
  onData(handler: DataHandler): this {
    return this.#setHandler('onData', handler);
  }

  /** Sets the handler called when a connection closes (replacing the previous one). */
  onClose(handler: CloseHandler): this {
    return this.#setHandler('onClose', handler);
  }

  /** Sets the handler called when a connection's write buffer empties (replacing the previous one). */
  onDrain(handler: DrainHandler): this {
    return this.#setHandler('onDrain', handler);
  }

  /** Sets the handler called once the engine stopped (replacing the previous one). */
  onStop(handler: StopHandler): this {
    return this.#setHandler('onStop', handler);
  }

  /** Sets the handler called when accepting fails (replacing the previous one). */
  onAcceptError(handler: AcceptErrorHandler): this {
    return this.#setHandler('onAcceptError', handler);
  }

  /** Sets the handler called when a poller of the engine fails (replacing the previous one). */
  onError(handler: ErrorHandler): this {
    return this.#setHandler('onError', handler);
  }

  #setHandler<K extends keyof HandlerModule>(name: K, handler: HandlerModule[K]): this {
    if (this.#options.handlers !== undefined) {
      throw new NbioError('ERR_NBIO_INVALID_OPTION', `this engine takes its handlers from ${this.#options.handlers}; ${name} cannot be set`);
    }
    this.#handlers.set(name, handler);
    return this;
  }

  /**
   * The listen addresses: as configured before {@link start}, then as bound
   * ('127.0.0.1:0' becomes '127.0.0.1:40123').
   */
  get addrs(): string[] {
    return this.#addrs.slice();
  }

  /** Number of live connections (open, or dials in progress) of this thread's poller. */
  get connCount(): number {
    return this.#poller !== undefined && this.#state === State.Running ? this.#poller.connCount : 0;
  }

  /**
   * Bytes of the reactor's WebAssembly memory: its connection table, read
   * batch and the write buffers of connections with queued bytes. Wasm
   * memory never shrinks (freed buffers are reused), so this is also the
   * high-water mark. 0 before `start()`.
   */
  get reactorMemory(): number {
    return this.#poller?.memoryBytes ?? 0;
  }

  /**
   * Bytes of the reactor's memory in use: its connection table, read batch,
   * event list and queued writes. The rest of {@link reactorMemory} is
   * free, and mostly given back to the system (so not resident). With the
   * same connections open and nothing queued, it comes back to the same
   * figure. 0 before `start()`.
   */
  get reactorMemoryInUse(): number {
    return this.#poller?.memoryInUse ?? 0;
  }

  /**
   * Opens every listen address and starts serving. Rejects (having closed
   * whatever it opened) if an address cannot be resolved or bound, with
   * Node-style system errors (EADDRINUSE, ENOTFOUND…). An engine starts once.
   */
  start(): Promise<void> {
    if (this.#failure !== undefined) return Promise.reject(this.#failed());
    if (this.#state !== State.Created) {
      return Promise.reject(
        this.#state === State.Stopping || this.#state === State.Stopped
          ? new NbioError('ERR_NBIO_NOT_RUNNING', 'the engine was stopped; create a new one')
          : new NbioError('ERR_NBIO_ALREADY_STARTED', 'the engine was already started'),
      );
    }
    this.#state = State.Starting;
    this.#starting = this.#start();
    return this.#starting;
  }

  async #start(): Promise<void> {
    const o = this.#options;
    /** A listening socket not yet handed to the reactor (closed here if start fails). */
    let unowned = -1;
    let poller: Poller | undefined;
    try {
      const endpoints = await Promise.all(o.addrs.map((ep) => resolveEndpoint(o.network, ep, 'listen')));
      poller = Poller.create(o, this.#handlers);
      poller.onFailure = (err) => this.#pollerFailed(err);
      const bound: string[] = [];
      for (const ep of endpoints) {
        unowned = listen(ep, o.backlog, o.reusePort);
        poller.addListener(unowned);
        const fd = unowned;
        unowned = -1;
        const local = sockAddress(fd, 'local');
        if (local === undefined) throw systemError(-ERRNO.ENOTSOCK, 'getsockname');
        bound.push(formatAddress(local));
      }
      this.#addrs = bound;
      if (o.handlers !== undefined) this.#handlers.install(await loadHandlers(o.handlers));
      if (o.pollers > 1) {
        const { network, readBufferSize, maxWriteBufferSize, maxConnReadTimesPerEventLoop, maxMemory, noDelay, backlog, handlers } = o;
        this.#pollers = await PollerGroup.start(o.pollers - 1, {
          network, addrs: bound, readBufferSize, maxWriteBufferSize, maxConnReadTimesPerEventLoop, maxMemory, noDelay, backlog,
          reusePort: true, handlers,
        }, this.#handlers);
      }
      poller.start();
      this.#poller = poller;
      this.#state = State.Running;
    } catch (err) {
      if (unowned >= 0) native.close(unowned);
      // Closes the listeners the reactor took over and its epoll instance.
      poller?.abandon();
      this.#state = State.Stopped;
      throw err;
    }
  }

  /**
   * Stops the engine: closes the listeners and every connection (discarding
   * queued bytes), calls each open connection's `onClose` once (err
   * undefined), rejects pending dials with ERR_NBIO_NOT_RUNNING, then calls
   * `onStop`. Once it resolves nothing of the engine is left open and it no
   * longer keeps the process alive. Calling it again returns the same promise.
   */
  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async #stop(): Promise<void> {
    // Never tear down in the middle of a dispatch: let the current batch finish.
    await undefined;
    if (this.#starting) await this.#starting.catch(noop);
    const wasRunning = this.#state === State.Running;
    this.#state = State.Stopping;
    if (wasRunning) {
      this.#poller!.stop();
      await this.#pollers?.stop();
    }
    this.#state = State.Stopped;
    const handlers = this.#handlers;
    if (wasRunning) handlers.call(() => handlers.onStop());
    handlers.rethrow();
  }

  /**
   * This thread's poller failed and closed everything (host/poller.ts):
   * the engine stops by itself (the other pollers too), then `onStop`.
   */
  #pollerFailed(err: NbioError): void {
    this.#failure ??= err;
    if (this.#state !== State.Running) return; // already stopping: stop() finishes
    this.#state = State.Stopping;
    this.#stopping ??= (async () => {
      await this.#pollers?.stop();
      this.#state = State.Stopped;
      const handlers = this.#handlers;
      handlers.call(() => handlers.onStop());
      handlers.rethrow();
    })();
  }

  /** The error calls are refused with once the engine failed: the failure's code, and the failure as cause. */
  #failed(): NbioError {
    const f = this.#failure!;
    return new NbioError(f.code, `the engine failed and stopped: ${f.message}`, { cause: f });
  }

  /**
   * Connects to `address` ('host:port') over `network` and resolves with the
   * connection once it is open (after its `onOpen`); it is driven by this
   * engine like an accepted one. Rejects with Node-style system errors
   * (ECONNREFUSED…), ERR_NBIO_DIAL_TIMEOUT, or ERR_NBIO_NOT_RUNNING when the
   * engine is not running.
   */
  async dial(network: string, address: string, options: DialOptions = {}): Promise<Conn> {
    const net = parseNetwork(network);
    const endpoint = parseAddress(address, 'dial');
    const timeout = options.timeout ?? 0;
    if (typeof timeout !== 'number' || !(timeout >= 0) || !Number.isFinite(timeout)) {
      throw new NbioError('ERR_NBIO_INVALID_OPTION', `timeout must be a number of milliseconds >= 0, got ${String(timeout)}`);
    }
    this.#checkRunning();
    const target = await resolveEndpoint(net, endpoint, 'dial');
    this.#checkRunning();
    return this.#poller!.dial(target, timeout);
  }

  #checkRunning(): void {
    if (this.#failure !== undefined) throw this.#failed();
    if (this.#state !== State.Running) {
      throw new NbioError('ERR_NBIO_NOT_RUNNING', this.#state === State.Created || this.#state === State.Starting
        ? 'the engine is not started; await engine.start() first'
        : 'the engine was stopped');
    }
  }
}
