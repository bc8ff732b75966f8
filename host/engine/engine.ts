/**
 * `Engine`, the public entry of the package: its options and handlers, its
 * lifecycle (start, graceful or immediate stop, failure), and its dials and
 * sockets handed over; it puts the layers below it together.
 */
import type { Socket } from 'node:net';
import { parseAddress, parseNetwork, resolveEndpoint, transportOf, type Network } from '../api/address.js';
import { dialTimeout, stopOptions, type DialOptions, type StopOptions } from '../api/call-options.js';
import type { Conn } from '../api/conn.js';
import { NbioError, summarizeError } from '../api/errors.js';
import { Handlers, noop } from '../api/handlers.js';
import type { EngineOptions } from '../api/options.js';
import { checkHandler, resolveOptions, type ResolvedOptions } from '../api/resolve-options.js';
import { NO_STATS, engineStats, perPollerOption, type EngineStats, type StatsOptions } from '../api/stats.js';
import type { PluginStats, PluginSupervisor } from '../plugin/supervisor.js';
import type { Poller } from '../poller/poller.js';
import type { PollerGroup } from '../pollers/poller-group.js';
import { connect, detach, whenSent } from '../sys/sockets.js';
import { EngineHandlers } from './engine-handlers.js';
import { Listeners } from './listeners.js';
import type { Placement } from './placement.js';
import { startServing } from './start.js';

/** Called when a plugin instance fails or the plugin is disabled. */
export type PluginErrorHandler = (err: NbioError) => void;

/**
 * This thread's poller of an engine, for host/poller-worker.ts (which runs
 * a worker poller as an engine of its own); not part of the public API.
 */
export let pollerOf: (engine: Engine) => Poller | undefined;

const enum State {
  Created,
  Starting,
  Running,
  Stopping,
  Stopped,
}

/**
 * A non-blocking network engine: listeners and connections driven by one
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
 * takes its own connections with it (see host/pollers/poller-group.ts).
 */
export class Engine extends EngineHandlers {
  readonly #options: ResolvedOptions;
  #addrs: string[];
  #state = State.Created;
  #starting: Promise<void> | undefined;
  #stopping: Promise<void> | undefined;
  /** This thread's poller, once started. */
  #poller: Poller | undefined;
  /** The pollers in worker threads, with `pollers` > 1. */
  #pollers: PollerGroup | undefined;
  /** Which poller a new connection goes to, once started. */
  #placement: Placement | undefined;
  /** The sockets this engine listens on. */
  readonly #listeners = new Listeners();
  /** A plain `stop()` came during a graceful one: close what is left at once. */
  #cutShort = false;
  /** Ends the wait of a graceful stop (set while it waits). */
  #endWait: (() => void) | undefined;
  readonly #handlers: Handlers;
  #onPluginError: PluginErrorHandler = noop;
  /** This thread's poller's plugin, with the `plugin` option. */
  #supervisor: PluginSupervisor | undefined;
  /** Why `start()` failed, if it did: a later `start()` says so. */
  #startFailure: unknown;
  /** Why the engine stopped by itself, if it did. */
  #failure: NbioError | undefined;
  /** Whether a started engine keeps the process alive ({@link ref}, {@link unref}). */
  #ref = true;

  static {
    pollerOf = (engine) => engine.#poller;
  }

  /**
   * Validates `options` (throwing ERR_NBIO_INVALID_OPTION or
   * ERR_NBIO_INVALID_ADDRESS); opens nothing until {@link start}.
   */
  constructor(options: EngineOptions = {}) {
    const resolved = resolveOptions(options);
    const handlers = new Handlers();
    super(resolved, handlers);
    this.#options = resolved;
    this.#handlers = handlers;
    this.#addrs = (options.addrs ?? []).slice();
    handlers.install(options);
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

  /** What the plugin did in this thread's poller only (not the worker pollers'); undefined without a plugin or before `start()`. */
  get pluginStats(): PluginStats | undefined {
    return this.#supervisor?.stats;
  }

  /**
   * The listen addresses: as configured before {@link start}, then as bound
   * ('127.0.0.1:0' becomes '127.0.0.1:40123'; Unix paths stay as given).
   */
  get addrs(): string[] {
    return this.#addrs.slice();
  }

  /**
   * Number of live connections (open, dials in progress, UDP peers) of all
   * pollers. With `pollers` > 1 the figures of worker pollers are as of
   * their last batch.
   */
  get connCount(): number {
    if (this.#poller === undefined || this.#state !== State.Running) return 0;
    return this.#poller.connCount + (this.#pollers?.connCount ?? 0);
  }

  /**
   * `stats().reactorMemory`: bytes of every poller's WebAssembly memory
   * (connection tables, read batches, write buffers). It never shrinks
   * (freed buffers are reused): also the high-water mark. 0 before `start()`.
   */
  get reactorMemory(): number {
    return this.stats().reactorMemory;
  }

  /**
   * `stats().reactorMemoryInUse`: bytes of {@link reactorMemory} in use,
   * over every poller. The rest is free, mostly given back to the system.
   * With the same connections open and nothing queued, it comes back to
   * the same figure. 0 before `start()`.
   */
  get reactorMemoryInUse(): number {
    return this.stats().reactorMemoryInUse;
  }

  /**
   * What the engine's pollers have done so far, summed (each one's with
   * `{ perPoller: true }`): connections open, accepted, dialed, closed (by
   * cause), bytes read and written, bytes queued, reactor memory. Costs
   * well under a microsecond with a few pollers, however many connections;
   * worker pollers' figures are as they last published them (README, "Stats").
   */
  stats(options?: StatsOptions): EngineStats {
    const perPoller = perPollerOption(options);
    const own = this.#poller?.stats ?? { reactor: NO_STATS };
    return engineStats(this.#pollers === undefined ? [own] : [own, ...this.#pollers.stats()], perPoller);
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
          ? new NbioError('ERR_NBIO_NOT_RUNNING', this.#startFailure === undefined
            ? 'the engine was stopped, and an engine starts only once: create a new Engine'
            : `this engine's start() failed (${summarizeError(this.#startFailure)}), and an engine starts only once: create a new Engine to try again`)
          : new NbioError('ERR_NBIO_ALREADY_STARTED', 'the engine was already started'),
      );
    }
    this.#state = State.Starting;
    this.#starting = this.#start();
    return this.#starting;
  }

  async #start(): Promise<void> {
    try {
      const log = this.#options.plugin?.log;
      const serving = await startServing(this.#options, this.#handlers, this.#listeners, {
        bound: (addrs) => {
          this.#addrs = addrs;
        },
        pollerFailed: (err) => this.#pollerFailed(err),
        plugin: {
          error: (err) => this.#reportPluginError(err),
          log: (level, message) => {
            if (log !== undefined) this.#handlers.call(() => log(level, message));
          },
        },
      });
      this.#supervisor = serving.supervisor;
      this.#pollers = serving.pollers;
      this.#placement = serving.placement;
      this.#poller = serving.poller;
      this.#state = State.Running;
      if (!this.#ref) this.#applyRef();
    } catch (err) {
      this.#state = State.Stopped;
      this.#startFailure = err;
      throw err;
    }
  }

  /**
   * As `net.Server#unref()`: the process may exit while the engine runs,
   * its listeners, connections (one watcher serves them all, unlike
   * `net.Server`'s sockets) and worker pollers open, with no `onClose` or
   * `onStop`. Timers of deadlines, read time-outs and lingering closes
   * still hold it until they pass. May come before `start()`.
   */
  unref(): this {
    this.#ref = false;
    this.#applyRef();
    return this;
  }

  /** Undoes {@link unref}: a started engine keeps the process alive again until it is stopped (the default). */
  ref(): this {
    this.#ref = true;
    this.#applyRef();
    return this;
  }

  #applyRef(): void {
    this.#poller?.setRef(this.#ref);
    this.#pollers?.setRef(this.#ref);
  }

  /**
   * Stops the engine: closes the listeners (removing Unix socket files)
   * and every connection (discarding queued bytes), calls each open
   * connection's `onClose` once (err undefined), rejects pending dials with
   * ERR_NBIO_NOT_RUNNING, then calls `onStop`. With `{ graceful: true }`
   * it first closes the listeners, ends every connection (`conn.end()`:
   * queued bytes are still sent; data still arrives) and waits until all
   * have closed or `timeout` ms passed, then closes the rest. Once it
   * resolves nothing of the engine is left open and it no longer keeps the
   * process alive. Calling it again returns the same promise; a plain
   * `stop()` during a graceful one closes what is left at once.
   */
  stop(options: StopOptions = {}): Promise<void> {
    const { graceful, timeout } = stopOptions(options);
    if (this.#stopping !== undefined) {
      if (!graceful) {
        this.#cutShort = true;
        this.#endWait?.();
      }
      return this.#stopping;
    }
    this.#stopping = this.#stop(graceful, timeout);
    return this.#stopping;
  }

  async #stop(graceful: boolean, timeout: number): Promise<void> {
    // Never tear down in the middle of a dispatch: let the current batch finish.
    await undefined;
    if (this.#starting) await this.#starting.catch(noop);
    const wasRunning = this.#state === State.Running;
    this.#state = State.Stopping;
    if (wasRunning) {
      const workers = this.#pollers?.stop(graceful, timeout);
      if (graceful) await this.#endGracefully(timeout);
      const supervisor = this.#supervisor;
      if (supervisor !== undefined) supervisor.stopping = true;
      this.#poller!.stop();
      this.#listeners.close();
      supervisor?.stop();
      await workers;
    }
    this.#state = State.Stopped;
    const handlers = this.#handlers;
    if (wasRunning) handlers.call(() => handlers.onStop());
    handlers.rethrow();
  }

  /**
   * The graceful part of a stop on this thread: no more listening, every
   * connection ended; resolves once all have closed, after `timeout` ms
   * (0: no limit), or when a plain `stop()` cuts it short.
   */
  async #endGracefully(timeout: number): Promise<void> {
    const poller = this.#poller!;
    this.#listeners.removeFrom(poller);
    this.#listeners.close();
    const wait = poller.endGracefully(timeout);
    this.#endWait = () => {
      this.#pollers?.stopNow();
      wait.cut();
    };
    if (this.#cutShort) this.#endWait();
    await wait.closed;
    this.#endWait = undefined;
  }

  /**
   * This thread's poller failed and closed everything (host/poller/poller.ts):
   * the engine stops by itself (the other pollers too), then `onStop`.
   */
  #pollerFailed(err: NbioError): void {
    this.#failure ??= err;
    if (this.#state !== State.Running) return; // already stopping: stop() finishes
    this.#state = State.Stopping;
    this.#endWait?.();
    this.#stopping ??= (async () => {
      await this.#pollers?.stop();
      this.#listeners.close();
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
   * Connects to `address` over `network` ('host:port' for TCP and UDP, a
   * path or '@name' for 'unix') and resolves with the connection once it
   * is open (after its `onOpen`); it is driven by this engine like an
   * accepted one. A UDP connection is a connected socket: it exchanges
   * datagrams with that peer only. With `pollers` > 1 the connection lands
   * on a poller by the `loadBalancing` rule. Rejects with Node-style
   * system errors (ECONNREFUSED…), ERR_NBIO_DIAL_TIMEOUT, or
   * ERR_NBIO_NOT_RUNNING when the engine is not running; with
   * ERR_NBIO_INVALID_ADDRESS or ERR_NBIO_INVALID_OPTION (an unknown
   * option) for bad arguments.
   */
  async dial(network: Network, address: string, options: DialOptions = {}): Promise<Conn> {
    const net = parseNetwork(network, 'ERR_NBIO_INVALID_ADDRESS', 'dial: the network');
    const endpoint = parseAddress(net, address, 'dial');
    const timeout = dialTimeout(options);
    this.#checkRunning();
    const target = await resolveEndpoint(net, endpoint, 'dial');
    this.#checkRunning();
    const transport = transportOf(net);
    const fd = connect(transport, target);
    return this.#placement!.place(fd, { transport, connecting: transport === 'tcp', timeout, target });
  }

  /**
   * Takes over a connected `node:net` socket (TCP or Unix, as nbio's
   * AddConn does): its descriptor is detached from libuv and served by
   * this engine (by a poller chosen by `loadBalancing` with `pollers` > 1);
   * resolves with the connection once it is open (after its `onOpen`).
   * Bytes Node had already received and not delivered come first in
   * `onData`; bytes it still had to send are sent before the socket is
   * taken over. The `net.Socket` is destroyed (without closing the
   * connection) and must not be used afterwards. Rejects with
   * ERR_NBIO_INVALID_ARG for anything else (not connected, a TLS socket…)
   * and ERR_NBIO_NOT_RUNNING when the engine is not running.
   */
  async addConn(socket: Socket): Promise<Conn> {
    this.#checkRunning();
    const sending = whenSent(socket);
    if (sending !== undefined) await sending;
    this.#checkRunning();
    const { fd, transport, buffered } = detach(socket);
    return this.#placement!.place(fd, { transport, connecting: false, timeout: 0, target: undefined, buffered });
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
