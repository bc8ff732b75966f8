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
import { ERRNO, LISTEN, native, type WatchHandle } from './native.js';
import {
  resolveOptions,
  type AcceptErrorHandler,
  type CloseHandler,
  type DataHandler,
  type DrainHandler,
  type EngineOptions,
  type OpenHandler,
  type ResolvedOptions,
  type StopHandler,
} from './options.js';
import {
  CloseCause,
  EVENT_WORDS,
  EventKind,
  FAILED_CALL,
  FD_MASK,
  instantiateReactor,
  type Reactor,
} from './reactor.js';
import { linuxSys } from './sys/linux.js';

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
const EBADF = -9;

interface PendingDial {
  resolve(conn: Conn): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout | undefined;
  target: ResolvedEndpoint;
}

/** A connection's deadline timers. */
interface Deadlines {
  read?: NodeJS.Timeout;
  write?: NodeJS.Timeout;
}

const encoder = new TextEncoder();
const noop = () => {};

/**
 * A non-blocking TCP engine: listeners and connections driven by one
 * reactor (Wasm) on the thread that created it, inside Node's event loop.
 *
 * Handlers run on that thread, one at a time, never re-entered: `onOpen`
 * before a connection's first `onData`, `onClose` exactly once after its
 * last. An exception thrown by a handler does not disturb the engine; it is
 * rethrown afterwards as an uncaught exception.
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
  /** Deadline timers, only for connections that have one. */
  readonly #deadlines = new Map<Conn, Deadlines>();
  readonly #timers = new Set<NodeJS.Timeout>();
  #dispatching = false;
  /** The reactor may hold events caused by calls made outside `run-once`. */
  #eventsPending = false;
  #drainScheduled = false;
  #handlerError: { error: unknown } | undefined;
  /** The `data` view being delivered, and where its bytes are in reactor memory. */
  #delivered: Uint8Array | undefined;
  #deliveredPtr = 0;
  #deliveredLen = 0;
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
    if (options.onOpen) this.#onOpen = options.onOpen;
    if (options.onData) this.#onData = options.onData;
    if (options.onClose) this.#onClose = options.onClose;
    if (options.onDrain) this.#onDrain = options.onDrain;
    if (options.onStop) this.#onStop = options.onStop;
    if (options.onAcceptError) this.#onAcceptError = options.onAcceptError;
    this.#owner = {
      write: (conn, data) => this.#write(conn, data),
      writev: (conn, chunks) => this.#writev(conn, chunks),
      close: (conn) => this.#close(conn),
      end: (conn) => this.#end(conn),
      bufferedAmount: (conn) => this.#reactor!.bufferedAmount(conn.handle),
      setDeadline: (conn, kind, deadline) => this.#setDeadline(conn, kind, deadline),
      address: (conn, side) => this.#address(conn, side),
    };
  }

  /** Sets the handler called when a connection opens (replacing the previous one). */
  onOpen(handler: OpenHandler): this {
    this.#onOpen = checkHandler('onOpen', handler);
    return this;
  }

  /** Sets the handler called with arriving bytes (replacing the previous one). */
  onData(handler: DataHandler): this {
    this.#onData = checkHandler('onData', handler);
    return this;
  }

  /** Sets the handler called when a connection closes (replacing the previous one). */
  onClose(handler: CloseHandler): this {
    this.#onClose = checkHandler('onClose', handler);
    return this;
  }

  /** Sets the handler called when a connection's write buffer empties (replacing the previous one). */
  onDrain(handler: DrainHandler): this {
    this.#onDrain = checkHandler('onDrain', handler);
    return this;
  }

  /** Sets the handler called once the engine stopped (replacing the previous one). */
  onStop(handler: StopHandler): this {
    this.#onStop = checkHandler('onStop', handler);
    return this;
  }

  /** Sets the handler called when accepting fails (replacing the previous one). */
  onAcceptError(handler: AcceptErrorHandler): this {
    this.#onAcceptError = checkHandler('onAcceptError', handler);
    return this;
  }

  /**
   * The listen addresses: as configured before {@link start}, then as bound
   * ('127.0.0.1:0' becomes '127.0.0.1:40123').
   */
  get addrs(): string[] {
    return this.#addrs.slice();
  }

  /** Number of live connections (opened and not yet closed by the reactor). */
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
      const bound: string[] = [];
      for (const ep of endpoints) {
        unowned = listen(ep, o.backlog, o.reusePort);
        const rc = reactor.addListener(unowned);
        if (rc < 0) throw systemError(rc, 'epoll_ctl');
        bound.push(formatAddress(sockAddress(unowned, 'local')!));
        unowned = -1;
      }
      this.#addrs = bound;
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
      for (const timer of this.#timers) clearTimeout(timer);
      this.#timers.clear();
      for (const conn of [...this.#deadlines.keys()]) this.#clearDeadlines(conn);
      const reactor = this.#reactor!;
      reactor.shutdown();
      this.#dispatching = true;
      try {
        this.#dispatch(reactor.takeEvents());
      } finally {
        this.#dispatching = false;
      }
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
    this.#dispatching = true;
    try {
      this.#dispatch(reactor.runOnce(0));
      while (reactor.backlog() > 0) this.#dispatch(reactor.runOnce(0));
      this.#drainPending();
    } finally {
      this.#dispatching = false;
    }
    this.#rethrowHandlerError();
  };

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
      if (this.#state !== State.Running) return;
      this.#dispatching = true;
      try {
        this.#drainPending();
      } finally {
        this.#dispatching = false;
      }
      this.#rethrowHandlerError();
    });
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
   * start of its dispatch: their descriptor is already closed (and may be
   * reused by a connection accepted in the same batch), so no handler may
   * write to them or look up their addresses.
   */
  #markDoomed(first: number, end: number): void {
    const events = this.#mem.i32;
    for (let p = first; p < end; p += EVENT_WORDS) {
      if ((events[p] & 0xff) !== EventKind.Closed) continue;
      const handle = events[p + 1] >>> 0;
      const conn = this.#conns[handle & FD_MASK];
      if (conn !== undefined && conn.handle === handle && conn.state === ConnState.Open) conn.state = ConnState.Doomed;
    }
  }

  #opened(handle: number, listenerFd: number): void {
    const fd = handle & FD_MASK;
    if (listenerFd === 0) {
      const conn = this.#conns[fd];
      if (conn === undefined || conn.handle !== handle) return;
      const dial = this.#dials.get(conn)!;
      this.#dials.delete(conn);
      this.#clearTimer(dial.timer);
      if (conn.state === ConnState.Connecting) conn.state = ConnState.Open;
      this.#call(() => this.#onOpen(conn));
      dial.resolve(conn);
      return;
    }
    const conn = new Conn(this.#owner, handle, ConnState.Open);
    this.#conns[fd] = conn;
    this.#call(() => this.#onOpen(conn));
  }

  #deliverData(handle: number, ptr: number, len: number): void {
    const conn = this.#conns[handle & FD_MASK];
    if (conn === undefined || conn.handle !== handle || conn.state === ConnState.Closed) return;
    const mem = this.#mem;
    mem.sync();
    const data = new Uint8Array(mem.buffer, ptr, len);
    this.#delivered = data;
    this.#deliveredPtr = ptr;
    this.#deliveredLen = len;
    try {
      this.#onData(conn, data);
    } catch (error) {
      this.#handlerError ??= { error };
    }
    this.#delivered = undefined;
  }

  #drained(handle: number): void {
    const conn = this.#conns[handle & FD_MASK];
    if (conn === undefined || conn.handle !== handle || conn.state !== ConnState.Open) return;
    this.#call(() => this.#onDrain(conn));
  }

  #closed(handle: number, status: number, detail: number): void {
    const fd = handle & FD_MASK;
    const conn = this.#conns[fd];
    if (conn === undefined || conn.handle !== handle) return;
    this.#conns[fd] = undefined;
    const dial = this.#dials.get(conn);
    if (dial !== undefined) {
      const { ip, port } = dial.target;
      this.#failDial(
        conn,
        status === CloseCause.DialTimeout
          ? new NbioError('ERR_NBIO_DIAL_TIMEOUT', `dial ${ip}:${port} timed out`)
          : status < 0
            ? systemError(status, FAILED_CALL[detail] || 'connect', ip, port)
            : new NbioError('ERR_NBIO_NOT_RUNNING', 'the engine stopped'),
      );
      return;
    }
    conn.state = ConnState.Closed;
    this.#clearDeadlines(conn);
    const onClose = this.#onClose;
    if (onClose === noop) return;
    const err = closeError(status, detail);
    this.#call(() => onClose(conn, err));
  }

  #failDial(conn: Conn, err: Error): void {
    const dial = this.#dials.get(conn)!;
    this.#dials.delete(conn);
    this.#clearTimer(dial.timer);
    conn.state = ConnState.Closed;
    dial.reject(err);
  }

  #listenerPaused(listenerFd: number, errno: number): void {
    const onAcceptError = this.#onAcceptError;
    if (onAcceptError !== noop) {
      const err = withoutStack(() => systemError(errno, 'accept'));
      this.#call(() => onAcceptError(err));
    }
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      if (this.#state === State.Running) this.#reactor!.resumeListener(listenerFd);
    }, LISTENER_RETRY_MS);
    this.#timers.add(timer);
  }

  #clearTimer(timer: NodeJS.Timeout | undefined): void {
    if (timer === undefined) return;
    clearTimeout(timer);
    this.#timers.delete(timer);
  }

  #write(conn: Conn, data: Uint8Array | string): void {
    const mem = this.#mem;
    let ptr: number;
    let len: number;
    const inReactor = this.#reactorBytes(data);
    if (inReactor >= 0) {
      // Already in reactor memory (the delivered view, or a view on it): no copy.
      ptr = inReactor;
      len = this.#chunkLength(data);
    } else {
      len = this.#chunkLength(data);
      if (len === 0) return;
      ptr = mem.alloc(1, len);
      this.#place(data, ptr, len);
    }
    if (len !== 0) this.#submit(conn, ptr, len);
  }

  #writev(conn: Conn, chunks: readonly (Uint8Array | string)[]): void {
    if (!Array.isArray(chunks)) throw new NbioError('ERR_NBIO_INVALID_OPTION', 'writev() takes an array of chunks');
    // Lengths and reactor-memory sources first: allocating may grow (and
    // detach) the memory those sources are views on.
    const lengths = chunks.map((chunk) => this.#chunkLength(chunk));
    const sources = chunks.map((chunk) => this.#reactorBytes(chunk));
    const total = lengths.reduce((a, b) => a + b, 0);
    if (total === 0) return;
    const mem = this.#mem;
    const ptr = mem.alloc(1, total);
    let at = ptr;
    chunks.forEach((chunk, i) => {
      if (sources[i] >= 0) mem.u8.copyWithin(at, sources[i], sources[i] + lengths[i]);
      else this.#place(chunk, at, lengths[i]);
      at += lengths[i];
    });
    this.#submit(conn, ptr, total);
  }

  /** Byte length of a chunk to write; throws for anything but bytes or a string. */
  #chunkLength(data: Uint8Array | string): number {
    if (data === this.#delivered) return this.#deliveredLen;
    if (typeof data === 'string') return Buffer.byteLength(data);
    if (data instanceof Uint8Array) return data.byteLength;
    throw new NbioError('ERR_NBIO_INVALID_OPTION', 'write() takes a Uint8Array (or Buffer) or a string');
  }

  /**
   * Where a chunk's bytes already are in reactor memory (the delivered
   * view, tracked even if the memory grew and detached it; or any other
   * view on the memory), or -1.
   */
  #reactorBytes(data: Uint8Array | string): number {
    if (data === this.#delivered) return this.#deliveredPtr;
    if (typeof data === 'string') return -1;
    this.#mem.sync();
    return data.buffer === this.#mem.buffer ? data.byteOffset : -1;
  }

  /** Copies (or UTF-8 encodes) a chunk from JavaScript into reactor memory at `ptr`. */
  #place(data: Uint8Array | string, ptr: number, len: number): void {
    const u8 = this.#mem.u8;
    if (typeof data === 'string') encoder.encodeInto(data, u8.subarray(ptr, ptr + len));
    else u8.set(data, ptr);
  }

  /** Hands `len` bytes at `ptr` in reactor memory to the reactor's write. */
  #submit(conn: Conn, ptr: number, len: number): void {
    const rc = this.#reactor!.write(conn.handle, ptr, len);
    if (rc < 0) {
      // The reactor closed the connection (now, or earlier in this batch);
      // its `closed` event carries the cause to onClose.
      conn.state = ConnState.Doomed;
      if (rc !== EBADF) this.#scheduleDrain();
    }
  }

  #setDeadline(conn: Conn, kind: 'read' | 'write', deadline: Date | number | undefined): void {
    const at = deadline instanceof Date ? deadline.getTime() : deadline ?? 0;
    if (typeof at !== 'number' || Number.isNaN(at)) {
      throw new NbioError('ERR_NBIO_INVALID_OPTION', `a deadline must be a Date, a time in ms or undefined, got ${String(deadline)}`);
    }
    let timers = this.#deadlines.get(conn);
    clearTimeout(timers?.[kind]);
    if (at === 0) {
      if (timers) delete timers[kind];
      if (timers && !timers.read && !timers.write) this.#deadlines.delete(conn);
      return;
    }
    if (!timers) {
      timers = {};
      this.#deadlines.set(conn, timers);
    }
    timers[kind] = setTimeout(() => {
      delete timers[kind];
      if (conn.state !== ConnState.Open && conn.state !== ConnState.Ending) return;
      if (kind === 'write' && this.#reactor!.bufferedAmount(conn.handle) === 0) return;
      const cause = kind === 'read' ? CloseCause.ReadTimeout : CloseCause.WriteTimeout;
      if (this.#reactor!.close(conn.handle, cause) === 0) this.#scheduleDrain();
    }, Math.max(0, at - Date.now()));
  }

  #clearDeadlines(conn: Conn): void {
    const timers = this.#deadlines.get(conn);
    if (timers === undefined) return;
    clearTimeout(timers.read);
    clearTimeout(timers.write);
    this.#deadlines.delete(conn);
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

function checkHandler<T>(name: string, handler: T): T {
  if (typeof handler !== 'function') throw new NbioError('ERR_NBIO_INVALID_OPTION', `${name} must be a function`);
  return handler;
}

function listen(ep: ResolvedEndpoint, backlog: number, reusePort: boolean): number {
  const shared = reusePort ? LISTEN.REUSEPORT : 0;
  let fd = native.listen(ep.family, ep.ip, ep.port, backlog, (ep.v6only ? LISTEN.V6ONLY : 0) | shared);
  if (fd === -ERRNO.EAFNOSUPPORT && ep.ip === '::' && !ep.v6only) {
    // No IPv6 on this machine: "all interfaces" falls back to IPv4.
    fd = native.listen(4, '0.0.0.0', ep.port, backlog, shared);
  }
  if (fd < 0) throw systemError(fd, 'listen', ep.ip, ep.port);
  return fd;
}

function sockAddress(fd: number, side: 'local' | 'remote'): AddressInfo | undefined {
  const found = side === 'local' ? native.getsockname(fd) : native.getpeername(fd);
  if (typeof found === 'number') return undefined;
  return { address: found.address, port: found.port, family: found.family === 6 ? 'IPv6' : 'IPv4' };
}

/** The `err` given to onClose for a `closed` event's status and failed call. */
function closeError(status: number, detail: number): Error | undefined {
  switch (status) {
    case CloseCause.PeerEnded:
      return withoutStack(() => new NbioError('ERR_NBIO_EOF', 'the peer closed the connection'));
    case CloseCause.WriteOverflow:
      return withoutStack(() => new NbioError('ERR_NBIO_WRITE_OVERFLOW', 'the write buffer would exceed maxWriteBufferSize'));
    case CloseCause.ReadTimeout:
      return withoutStack(() => new NbioError('ERR_NBIO_READ_TIMEOUT', 'the read deadline passed'));
    case CloseCause.WriteTimeout:
      return withoutStack(() => new NbioError('ERR_NBIO_WRITE_TIMEOUT', 'the write deadline passed with bytes still queued'));
    default:
      return status < 0 ? withoutStack(() => systemError(status, FAILED_CALL[detail] || 'close')) : undefined;
  }
}
