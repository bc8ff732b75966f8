import { checkFamily, formatAddress, parseAddress, parseNetwork, resolveEndpoint, type Network } from './address.js';
import type { Conn } from './conn.js';
import { NbioError, systemError } from './errors.js';
import { Handlers, noop } from './handlers.js';
import { ERRNO, native } from './native.js';
import {
  checkKnownKeys,
  checkHandler,
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
import { PluginDispatch } from './plugin/adapter.js';
import { preparePlugin, readPlugin } from './plugin/module.js';
import { PluginSupervisor, type PluginStats } from './plugin/supervisor.js';
import { Poller } from './poller.js';
import { PollerGroup } from './pollers.js';
import { listen, sockAddress } from './sockets.js';
import { NO_STATS, engineStats, type EngineStats } from './stats.js';

/** Options of {@link Engine.dial}. */
export interface DialOptions {
  /** Give up (rejecting with ERR_NBIO_DIAL_TIMEOUT) after this many milliseconds; 0 or absent: no limit. */
  timeout?: number;
}

const DIAL_OPTIONS: ReadonlySet<string> = new Set(['timeout']);
/** Most bytes a plugin's connection may have queued when `maxWriteBufferSize` is 0 (no limit for JavaScript writes). */
const PLUGIN_WRITE_QUEUE = 1024 * 1024;

/** Called when a plugin instance fails or the plugin is disabled. */
export type PluginErrorHandler = (err: NbioError) => void;

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
  #onPluginError: PluginErrorHandler = noop;
  /** This thread's poller's plugin, with the `plugin` option. */
  #supervisor: PluginSupervisor | undefined;
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

  /**
   * Sets the handler called when a plugin instance fails (the error is
   * ERR_NBIO_PLUGIN_TRAP or ERR_NBIO_PLUGIN_LIMIT, its `cause` what was
   * thrown; the instance's connections were closed with it), when
   * re-creating one fails, and once when the plugin is disabled
   * (ERR_NBIO_PLUGIN_DISABLED). With `pollers` > 1, failures in every
   * poller are reported here.
   */
  onPluginError(handler: PluginErrorHandler): this {
    this.#onPluginError = checkHandler('onPluginError', handler);
    return this;
  }

  /** What this thread's poller's plugin did so far; undefined without a plugin or before `start()`. */
  get pluginStats(): PluginStats | undefined {
    return this.#supervisor?.stats;
  }

  /** Sets the handler called when a poller of the engine fails (replacing the previous one). */
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
   * What this thread's poller has done so far: connections open, accepted,
   * dialed, closed (by cause), bytes read and written, bytes queued now
   * and at most, reactor memory. The reactor keeps the counts as it goes,
   * so a call costs a few microseconds whatever the number of connections.
   * With `pollers` > 1 it covers this thread's poller only (each worker
   * poller counts its own). All zero before `start()`; after `stop()`, the
   * final figures; once the engine failed, what it told last before.
   */
  stats(): EngineStats {
    return engineStats(this.#poller?.stats ?? NO_STATS);
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
      const supervisor = o.plugin === undefined ? undefined : await this.#loadPlugin(o);
      poller = Poller.create(o, supervisor === undefined ? this.#handlers : new PluginDispatch(this.#handlers, supervisor));
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
      if (o.handlers !== undefined) {
        const mod = await loadHandlers(o.handlers);
        if (o.plugin !== undefined && mod.onData !== undefined) {
          throw new NbioError('ERR_NBIO_INVALID_OPTION', `${o.handlers} exports onData, which cannot be used with a plugin`);
        }
        this.#handlers.install(mod);
      }
      supervisor?.start(poller);
      this.#supervisor = supervisor;
      if (o.pollers > 1) {
        const { network, readBufferSize, maxWriteBufferSize, maxConnReadTimesPerEventLoop, maxMemory, noDelay, backlog, handlers, plugin } = o;
        const pluginLog = plugin?.log;
        this.#pollers = await PollerGroup.start(o.pollers - 1, {
          network, addrs: bound, readBufferSize, maxWriteBufferSize, maxConnReadTimesPerEventLoop, maxMemory, noDelay, backlog,
          reusePort: true, handlers,
          // (A URL object would reach the thread as an empty object, so its text goes; a function cannot go.)
          plugin: plugin === undefined ? undefined
            : { ...plugin, module: plugin.module instanceof URL ? plugin.module.href : plugin.module, log: undefined },
        }, this.#handlers, {
          pluginError: (err) => this.#reportPluginError(err),
          pluginLog: pluginLog === undefined ? undefined : (level, message) => this.#handlers.call(() => pluginLog(level, message)),
        });
      }
      poller.start();
      this.#poller = poller;
      this.#state = State.Running;
    } catch (err) {
      if (unowned >= 0) native.close(unowned);
      this.#supervisor?.stop();
      this.#supervisor = undefined;
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
      const supervisor = this.#supervisor;
      if (supervisor !== undefined) supervisor.stopping = true;
      this.#poller!.stop();
      supervisor?.stop();
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
   * engine is not running; with ERR_NBIO_INVALID_ADDRESS or
   * ERR_NBIO_INVALID_OPTION (an unknown option) for bad arguments.
   */
  async dial(network: Network, address: string, options: DialOptions = {}): Promise<Conn> {
    const net = parseNetwork(network);
    const endpoint = parseAddress(address, 'dial');
    checkFamily(net, endpoint);
    checkKnownKeys(options, DIAL_OPTIONS, 'dial option');
    const timeout = options.timeout ?? 0;
    if (typeof timeout !== 'number' || !(timeout >= 0) || !Number.isFinite(timeout)) {
      throw new NbioError('ERR_NBIO_INVALID_OPTION', `timeout must be a number of milliseconds >= 0, got ${String(timeout)}`);
    }
    this.#checkRunning();
    const target = await resolveEndpoint(net, endpoint, 'dial');
    this.#checkRunning();
    return this.#poller!.dial(target, timeout);
  }

  /** Loads and checks the plugin (ERR_NBIO_PLUGIN_LOAD if refused) and makes this poller's supervisor. */
  async #loadPlugin(o: ResolvedOptions): Promise<PluginSupervisor> {
    const options = o.plugin!;
    const plugin = await preparePlugin(await readPlugin(options.module), options.maxMemory);
    const log = options.log;
    return new PluginSupervisor(plugin, options, o.maxWriteBufferSize || PLUGIN_WRITE_QUEUE, {
      error: (err) => this.#reportPluginError(err),
      log: (level, message) => {
        if (log !== undefined) this.#handlers.call(() => log(level, message));
      },
    });
  }

  #reportPluginError(err: NbioError): void {
    const handler = this.#onPluginError;
    if (handler !== noop) this.#handlers.call(() => handler(err));
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
