import {
  formatAddress,
  parseAddress,
  parseNetwork,
  resolveEndpoint,
  type AddressInfo,
  type ResolvedEndpoint,
} from './address.js';
import { Conn, ConnState, type ConnOwner } from './conn.js';
import { NbioError, systemError, withoutStack } from './errors.js';
import { GuestMemory } from './guest-memory.js';
import { Deadlines, type DeadlineKind } from './deadlines.js';
import { ERRNO, native, type WatchHandle } from './native.js';
import {
  checkHandler,
  loadHandlers,
  resolveOptions,
  type AcceptErrorHandler,
  type CloseHandler,
  type DataHandler,
  type DrainHandler,
  type EngineOptions,
  type HandlerModule,
  type OpenHandler,
  type ResolvedOptions,
  type StopHandler,
} from './options.js';
import {
  CloseCause,
  EVENT_WORDS,
  EventKind,
  FD_MASK,
  instantiateReactor,
  type Reactor,
} from './reactor.js';
import { closeError, dialError } from './close-cause.js';
import { PollerGroup } from './pollers.js';
import { listen, sockAddress } from './sockets.js';
import { linuxSys } from './sys/linux.js';
import { WritePath, type Chunk } from './write-path.js';

/** Options of {@link Engine.dial}. */
export interface DialOptions {
  /** Give up (rejecting with ERR_NBIO_DIAL_TIMEOUT) after this many milliseconds; 0 or absent: no limit. */
  timeout?: number;
}

const enum State {
  Created,
  Starting,
  Running,
  Stopping,
  Stopped,
}

/** Pause before re-arming a listener whose accept failed (EMFILE and the like). */
const LISTENER_RETRY_MS = 50;

interface PendingDial {
  resolve(conn: Conn): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout | undefined;
  target: ResolvedEndpoint;
}

const noop = () => {};

/**
 * A non-blocking TCP engine: listeners and connections driven by one
 * reactor (Wasm) on the thread that created it, inside Node's event loop.
 *
 * Handlers run on that thread, one at a time, never re-entered: `onOpen`
 * before a connection's first `onData`, `onClose` exactly once after its
 * last. An exception thrown by a handler does not disturb the engine; the
 * first one of a batch is rethrown afterwards as an uncaught exception.
 */
export class Engine {
  readonly #options: ResolvedOptions;
  #addrs: string[];
  #state = State.Created;
  #starting: Promise<void> | undefined;
  #stopping: Promise<void> | undefined;
  #reactor: Reactor | undefined;
  readonly #mem = new GuestMemory();
  #watcher: WatchHandle | undefined;
  /** Connections by file descriptor (the reactor's table, mirrored for JS objects). */
  readonly #conns: (Conn | undefined)[] = [];
  readonly #dials = new Map<Conn, PendingDial>();
  readonly #deadlines = new Deadlines<Conn>((conn, kind) => this.#deadlinePassed(conn, kind));
  readonly #timers = new Set<NodeJS.Timeout>();
  #dispatching = false;
  /** The reactor may hold events caused by calls made outside `run-once`. */
  #eventsPending = false;
  #drainScheduled = false;
  #handlerError: { error: unknown } | undefined;
  #writer: WritePath | undefined;
  /** The pollers in worker threads, with `pollers` > 1. */
  #pollers: PollerGroup | undefined;
  #onOpen: OpenHandler = noop;
  #onData: DataHandler = noop;
  #onClose: CloseHandler = noop;
  #onDrain: DrainHandler = noop;
  #onStop: StopHandler = noop;
  #onAcceptError: AcceptErrorHandler = noop;
  readonly #owner: ConnOwner;

  /**
   * Validates `options` (throwing ERR_NBIO_INVALID_OPTION or
   * ERR_NBIO_INVALID_ADDRESS); opens nothing until {@link start}.
   */
  constructor(options: EngineOptions = {}) {
    this.#options = resolveOptions(options);
    this.#addrs = (options.addrs ?? []).slice();
    this.#install(options);
    this.#owner = {
      write: (conn, data) => this.#write(conn, data),
      writev: (conn, chunks) => this.#writev(conn, chunks),
      close: (conn) => this.#close(conn),
      end: (conn) => this.#end(conn),
      bufferedAmount: (conn) => this.#reactor!.bufferedAmount(conn.handle),
      setDeadline: (conn, kind, deadline) => this.#deadlines.set(conn, kind, deadline),
      address: (conn, side) => this.#address(conn, side),
    };
  }

  /** Sets the handler called when a connection opens (replacing the previous one). */
  onOpen(handler: OpenHandler): this {
    this.#onOpen = this.#checkHandler('onOpen', handler);
    return this;
  }

  /** Sets the handler called with arriving bytes (replacing the previous one). */
  onData(handler: DataHandler): this {
    this.#onData = this.#checkHandler('onData', handler);
    return this;
  }

  /** Sets the handler called when a connection closes (replacing the previous one). */
  onClose(handler: CloseHandler): this {
    this.#onClose = this.#checkHandler('onClose', handler);
    return this;
  }

  /** Sets the handler called when a connection's write buffer empties (replacing the previous one). */
  onDrain(handler: DrainHandler): this {
    this.#onDrain = this.#checkHandler('onDrain', handler);
    return this;
  }

  /** Sets the handler called once the engine stopped (replacing the previous one). */
  onStop(handler: StopHandler): this {
    this.#onStop = this.#checkHandler('onStop', handler);
    return this;
  }

  /** Sets the handler called when accepting fails (replacing the previous one). */
  onAcceptError(handler: AcceptErrorHandler): this {
    this.#onAcceptError = this.#checkHandler('onAcceptError', handler);
    return this;
  }

  #checkHandler<T>(name: string, handler: T): T {
    if (this.#options.handlers !== undefined) {
      throw new NbioError('ERR_NBIO_INVALID_OPTION', `this engine takes its handlers from ${this.#options.handlers}; ${name} cannot be set`);
    }
    return checkHandler(name, handler);
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
    return this.#reactor && this.#state === State.Running ? this.#reactor.connCount() : 0;
  }

  /**
   * Bytes of the reactor's WebAssembly memory: its connection table, read
   * batch and the write buffers of connections with queued bytes. Wasm
   * memory never shrinks (freed buffers are reused), so this is also the
   * high-water mark. 0 before `start()`.
   */
  get reactorMemory(): number {
    if (this.#reactor === undefined) return 0;
    this.#mem.sync();
    return this.#mem.buffer.byteLength;
  }

  /**
   * Opens every listen address and starts serving. Rejects (having closed
   * whatever it opened) if an address cannot be resolved or bound, with
   * Node-style system errors (EADDRINUSE, ENOTFOUND…). An engine starts once.
   */
  start(): Promise<void> {
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
    const { network } = this.#options;
    /** A listening socket not yet handed to the reactor (closed here if start fails). */
    let unowned = -1;
    try {
      const endpoints = await Promise.all(this.#options.addrs.map((ep) => resolveEndpoint(network, ep, 'listen')));
      const reactor = instantiateReactor(linuxSys(this.#mem), this.#mem);
      const o = this.#options;
      const epfd = reactor.init(o.readBufferSize, o.maxWriteBufferSize, o.maxConnReadTimesPerEventLoop, o.noDelay ? 1 : 0);
      if (epfd < 0) throw systemError(epfd, 'epoll_create1');
      this.#reactor = reactor;
      this.#writer = new WritePath(this.#mem, reactor);
      const bound: string[] = [];
      for (const ep of endpoints) {
        unowned = listen(ep, o.backlog, o.reusePort);
        const rc = reactor.addListener(unowned);
        if (rc < 0) throw systemError(rc, 'epoll_ctl');
        const fd = unowned;
        unowned = -1;
        const local = sockAddress(fd, 'local');
        if (local === undefined) throw systemError(-ERRNO.ENOTSOCK, 'getsockname');
        bound.push(formatAddress(local));
      }
      this.#addrs = bound;
      if (o.handlers !== undefined) this.#install(await loadHandlers(o.handlers));
      if (o.pollers > 1) {
        const { network, readBufferSize, maxWriteBufferSize, maxConnReadTimesPerEventLoop, noDelay, backlog, handlers } = o;
        this.#pollers = await PollerGroup.start(o.pollers - 1, {
          network, addrs: bound, readBufferSize, maxWriteBufferSize, maxConnReadTimesPerEventLoop, noDelay, backlog,
          reusePort: true, handlers,
        });
      }
      this.#watcher = native.watchStart(epfd, this.#onReadable);
      this.#state = State.Running;
    } catch (err) {
      if (unowned >= 0) native.close(unowned);
      // Closes the listeners the reactor took over and its epoll instance.
      this.#reactor?.shutdown();
      this.#state = State.Stopped;
      throw err;
    }
  }

  /** Takes the handlers `mod` defines (options, or a handlers module). */
  #install(mod: HandlerModule): void {
    if (mod.onOpen) this.#onOpen = mod.onOpen;
    if (mod.onData) this.#onData = mod.onData;
    if (mod.onClose) this.#onClose = mod.onClose;
    if (mod.onDrain) this.#onDrain = mod.onDrain;
    if (mod.onStop) this.#onStop = mod.onStop;
    if (mod.onAcceptError) this.#onAcceptError = mod.onAcceptError;
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
      native.watchStop(this.#watcher!);
      await this.#pollers?.stop();
      for (const timer of this.#timers) clearTimeout(timer);
      this.#timers.clear();
      this.#deadlines.clearAll();
      const reactor = this.#reactor!;
      reactor.shutdown();
      this.#dispatchingWhile(() => this.#dispatch(reactor.takeEvents()));
    }
    this.#state = State.Stopped;
    if (wasRunning) this.#call(() => this.#onStop());
    this.#rethrowHandlerError();
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
    // A connection closed since the last batch may still own the descriptor
    // number connect() is about to reuse: deliver its onClose first.
    this.#deliverPending();
    const reactor = this.#reactor!;
    const fd = native.connect(target.family, target.ip, target.port);
    if (fd < 0) throw systemError(fd, 'connect', target.ip, target.port);
    const handle = reactor.addConn(fd, 1);
    if (handle < 0) throw systemError(handle, 'epoll_ctl');
    const conn = new Conn(this.#owner, handle, ConnState.Connecting);
    this.#conns[fd] = conn;
    return new Promise<Conn>((resolve, reject) => {
      const dial: PendingDial = { resolve, reject, timer: undefined, target };
      if (timeout > 0) {
        dial.timer = setTimeout(() => {
          this.#timers.delete(dial.timer!);
          if (reactor.close(handle, CloseCause.DialTimeout) === 0) this.#scheduleDrain();
        }, timeout);
        this.#timers.add(dial.timer);
      }
      this.#dials.set(conn, dial);
    });
  }

  #checkRunning(): void {
    if (this.#state !== State.Running) {
      throw new NbioError('ERR_NBIO_NOT_RUNNING', this.#state === State.Created || this.#state === State.Starting
        ? 'the engine is not started; await engine.start() first'
        : 'the engine was stopped');
    }
  }

  /** Runs when the epoll instance has something ready (libuv watcher). */
  readonly #onReadable = (): void => {
    if (this.#state !== State.Running) return;
    const reactor = this.#reactor!;
    this.#dispatchingWhile(() => {
      this.#dispatch(reactor.runOnce(0));
      while (reactor.backlog() > 0) this.#dispatch(reactor.runOnce(0));
      this.#drainPending();
    });
    this.#rethrowHandlerError();
  };

  /**
   * Runs `deliver` marked as dispatching: calls made by handlers meanwhile
   * leave the events they cause for the dispatch to pick up, instead of
   * scheduling a delivery of their own.
   */
  #dispatchingWhile(deliver: () => void): void {
    this.#dispatching = true;
    try {
      deliver();
    } finally {
      this.#dispatching = false;
    }
  }

  /** Dispatches events the reactor holds because of calls made between batches. */
  #drainPending(): void {
    while (this.#eventsPending) {
      this.#eventsPending = false;
      this.#dispatch(this.#reactor!.takeEvents());
    }
  }

  #scheduleDrain(): void {
    this.#eventsPending = true;
    if (this.#dispatching || this.#drainScheduled) return;
    this.#drainScheduled = true;
    setImmediate(() => {
      this.#drainScheduled = false;
      this.#deliverPending();
    });
  }

  /** Outside a dispatch: delivers the events calls made since the last batch caused. */
  #deliverPending(): void {
    if (this.#dispatching || !this.#eventsPending || this.#state !== State.Running) return;
    this.#dispatchingWhile(() => this.#drainPending());
    this.#rethrowHandlerError();
  }

  /**
   * Delivers one batch (`ret` addresses its {ptr, len} in reactor memory).
   * The reactor keeps the listed records and their `data` bytes in place
   * until the next `run-once` or `take-events`, even when a handler makes
   * it grow its memory or append events; only the view must be refreshed
   * after a handler ran.
   */
  #dispatch(ret: number): void {
    const mem = this.#mem;
    mem.sync();
    const w = ret >>> 2;
    const first = mem.i32[w] >>> 2;
    const end = first + mem.i32[w + 1] * EVENT_WORDS;
    this.#markDoomed(first, end);
    for (let p = first; p < end; p += EVENT_WORDS) {
      mem.sync();
      const events = mem.i32;
      const handle = events[p + 1] >>> 0;
      switch (events[p] & 0xff) {
        case EventKind.Data:
          this.#deliverData(handle, events[p + 4] >>> 0, events[p + 5] >>> 0);
          break;
        case EventKind.Opened:
          this.#opened(handle, events[p + 3]);
          break;
        case EventKind.Closed:
          this.#closed(handle, events[p + 2], events[p + 3]);
          break;
        case EventKind.ListenerPaused:
          this.#listenerPaused(events[p + 3], events[p + 2]);
          break;
        case EventKind.Drained:
          this.#drained(handle);
          break;
      }
    }
  }

  /**
   * Connections closed by the reactor in this batch are doomed from the
   * start of its dispatch (even a dial that opened and closed in the same
   * batch): their descriptor is already closed (and may be reused by a
   * connection accepted in the same batch), so no handler may write to them
   * or look up their addresses.
   */
  #markDoomed(first: number, end: number): void {
    const events = this.#mem.i32;
    for (let p = first; p < end; p += EVENT_WORDS) {
      if ((events[p] & 0xff) !== EventKind.Closed) continue;
      const conn = this.#connOf(events[p + 1] >>> 0);
      if (conn !== undefined && (conn.state === ConnState.Open || conn.state === ConnState.Connecting)) {
        conn.state = ConnState.Doomed;
      }
    }
  }

  /** The connection `handle` names, unless its descriptor belongs to another (or no) connection now. */
  #connOf(handle: number): Conn | undefined {
    const conn = this.#conns[handle & FD_MASK];
    return conn !== undefined && conn.handle === handle ? conn : undefined;
  }

  #opened(handle: number, acceptedOn: number): void {
    if (acceptedOn === 0) {
      const conn = this.#connOf(handle);
      if (conn === undefined) return;
      const dial = this.#takeDial(conn)!;
      if (conn.state === ConnState.Connecting) conn.state = ConnState.Open;
      this.#call(() => this.#onOpen(conn));
      dial.resolve(conn);
      return;
    }
    const conn = new Conn(this.#owner, handle, ConnState.Open);
    this.#conns[handle & FD_MASK] = conn;
    this.#call(() => this.#onOpen(conn));
  }

  #deliverData(handle: number, ptr: number, len: number): void {
    const conn = this.#connOf(handle);
    if (conn === undefined || conn.state === ConnState.Closed) return;
    const mem = this.#mem;
    mem.sync();
    const data = new Uint8Array(mem.buffer, ptr, len);
    const writer = this.#writer!;
    writer.deliver(data, ptr, len);
    // Not through #call: no closure per message on the hot path.
    try {
      this.#onData(conn, data);
    } catch (error) {
      this.#handlerError ??= { error };
    }
    writer.deliver(undefined);
  }

  #drained(handle: number): void {
    const conn = this.#connOf(handle);
    if (conn === undefined || conn.state !== ConnState.Open) return;
    this.#call(() => this.#onDrain(conn));
  }

  #closed(handle: number, status: number, detail: number): void {
    const conn = this.#connOf(handle);
    if (conn === undefined) return;
    this.#conns[handle & FD_MASK] = undefined;
    conn.state = ConnState.Closed;
    const dial = this.#takeDial(conn);
    if (dial !== undefined) {
      dial.reject(dialError(status, detail, dial.target, this.#state === State.Running));
      return;
    }
    this.#deadlines.clear(conn);
    const onClose = this.#onClose;
    if (onClose === noop) return;
    const err = closeError(status, detail);
    this.#call(() => onClose(conn, err));
  }

  /** Removes `conn`'s pending dial, if it has one, and stops its timer. */
  #takeDial(conn: Conn): PendingDial | undefined {
    const dial = this.#dials.get(conn);
    if (dial === undefined) return undefined;
    this.#dials.delete(conn);
    this.#clearTimer(dial.timer);
    return dial;
  }

  #listenerPaused(listenerFd: number, errno: number): void {
    const onAcceptError = this.#onAcceptError;
    if (onAcceptError !== noop) {
      const err = withoutStack(() => systemError(errno, 'accept'));
      this.#call(() => onAcceptError(err));
    }
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      if (this.#state !== State.Running) return;
      const rc = this.#reactor!.resumeListener(listenerFd);
      if (rc < 0) this.#listenerPaused(listenerFd, rc);
    }, LISTENER_RETRY_MS);
    this.#timers.add(timer);
  }

  #clearTimer(timer: NodeJS.Timeout | undefined): void {
    if (timer === undefined) return;
    clearTimeout(timer);
    this.#timers.delete(timer);
  }

  #write(conn: Conn, data: Chunk): void {
    this.#afterWrite(conn, this.#writer!.write(conn.handle, data));
  }

  #writev(conn: Conn, chunks: readonly Chunk[]): void {
    this.#afterWrite(conn, this.#writer!.writev(conn.handle, chunks));
  }

  #afterWrite(conn: Conn, rc: number): void {
    if (rc >= 0) return;
    // The reactor closed the connection (now, or earlier in this batch);
    // its `closed` event carries the cause to onClose.
    conn.state = ConnState.Doomed;
    if (rc !== -ERRNO.EBADF) this.#scheduleDrain();
  }

  #deadlinePassed(conn: Conn, kind: DeadlineKind): void {
    if (conn.state !== ConnState.Open && conn.state !== ConnState.Ending) return;
    if (kind === 'write' && this.#reactor!.bufferedAmount(conn.handle) === 0) return;
    const cause = kind === 'read' ? CloseCause.ReadTimeout : CloseCause.WriteTimeout;
    if (this.#reactor!.close(conn.handle, cause) === 0) this.#scheduleDrain();
  }

  #close(conn: Conn): void {
    const state = conn.state;
    conn.state = ConnState.Closed;
    if (state === ConnState.Doomed) this.#scheduleDrain();
    else if (this.#reactor!.close(conn.handle, CloseCause.Local) === 0) this.#scheduleDrain();
  }

  #end(conn: Conn): void {
    conn.state = ConnState.Ending;
    // Closes at once when nothing is queued; otherwise after the last flush.
    if (this.#reactor!.end(conn.handle) === 0) this.#scheduleDrain();
  }

  #address(conn: Conn, side: 'local' | 'remote'): AddressInfo | undefined {
    return sockAddress(conn.handle & FD_MASK, side);
  }

  /** Runs a user handler; an exception is kept and rethrown after the batch. */
  #call(handler: () => void): void {
    try {
      handler();
    } catch (error) {
      this.#handlerError ??= { error };
    }
  }

  #rethrowHandlerError(): void {
    const failure = this.#handlerError;
    if (failure === undefined) return;
    this.#handlerError = undefined;
    process.nextTick(() => {
      throw failure.error;
    });
  }
}
