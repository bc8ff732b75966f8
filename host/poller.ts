import type { AddressInfo, ResolvedEndpoint } from './address.js';
import { closeError, dialError } from './close-cause.js';
import { Conn, ConnState, type ConnOwner } from './conn.js';
import { ConnStream } from './conn-stream.js';
import { Deadlines, type DeadlineKind } from './deadlines.js';
import { NbioError, systemError, withoutStack, type EngineError } from './errors.js';
import { pollerSyscallFailed, reactorFault } from './fault.js';
import { GuestMemory } from './guest-memory.js';
import { HeldReads } from './held-reads.js';
import { noop, type Handlers } from './handlers.js';
import { ERRNO, native, type WatchHandle } from './native.js';
import type { ResolvedOptions } from './options.js';
import { FdRole, OwnedFds } from './owned-fds.js';
import { PluginDispatch } from './plugin/adapter.js';
import { EventKind, FD_MASK } from './generated/abi.js';
import { CloseCause, EventWords, ListWords, instantiateReactor, type Reactor } from './reactor.js';
import { sockAddress } from './sockets.js';
import { NO_STATS, channels, readReactorStats, type ReactorStats } from './stats.js';
import { linuxSys } from './sys/linux.js';
import { WritePath } from './write-path.js';

/** Pause before re-arming a listener whose accept failed (EMFILE and the like). */
const LISTENER_RETRY_MS = 50;

/** The settings a poller's reactor is initialised with. */
export type ReactorSettings = Pick<
  ResolvedOptions,
  'readBufferSize' | 'maxWriteBufferSize' | 'maxConnReadTimesPerEventLoop' | 'noDelay' | 'maxMemory'
>;

interface PendingDial {
  resolve(conn: Conn): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout | undefined;
  target: ResolvedEndpoint;
}

/**
 * One poller: a reactor instance (its own Wasm memory and epoll instance)
 * driven inside this thread's event loop, and the connections it serves.
 *
 * A libuv watcher on the epoll descriptor calls {@link #onReadable} when
 * something is ready; the poller then runs the reactor's `run-once` and
 * dispatches the batch of events to the engine's {@link Handlers}. Calls
 * made from outside a batch (a write from a timer, a close) may cause
 * events too; those are delivered by a `setImmediate` or by the next batch,
 * whichever comes first.
 *
 * Life cycle: {@link create} → {@link addListener}… → {@link start} →
 * {@link stop}; or {@link abandon} instead of `start` when setting up failed.
 *
 * Failure: if the reactor traps (or throws) in any call, or the epoll
 * descriptor fails (`poll-failed`, or an error from the libuv watcher),
 * the poller fails for good: no more events are delivered; on the next
 * tick it closes every descriptor the reactor owned at the host level
 * (its {@link OwnedFds}), reports the error (`onError`), calls each
 * connection's `onClose` with it (pending dials reject with it), and
 * tells its owner ({@link onFailure}). See host/fault.ts.
 */
export class Poller {
  readonly #handlers: Handlers;
  readonly #reactor: Reactor;
  readonly #mem: GuestMemory;
  readonly #owned: OwnedFds;
  readonly #writer: WritePath;
  readonly #epfd: number;
  #watcher: WatchHandle | undefined;
  #running = false;
  /** Why the poller failed for good, once it has. */
  #failure: NbioError | undefined;
  #contained = false;
  /** Called once the poller failed and closed everything (see the class doc). */
  onFailure: (err: NbioError) => void = noop;
  /** Connections by file descriptor (the reactor's table, mirrored for JS objects). */
  readonly #conns: (Conn | undefined)[] = [];
  readonly #dials = new Map<Conn, PendingDial>();
  readonly #deadlines = new Deadlines<Conn>((conn, kind) => this.#deadlinePassed(conn, kind));
  readonly #timers = new Set<NodeJS.Timeout>();
  /** Connections closed by {@link fail}, with the error their onClose receives. */
  readonly #failures = new Map<Conn, EngineError>();
  /** What paused connections had read before the pause, delivered after they resume. */
  readonly #held = new HeldReads();
  #dispatching = false;
  /** The reactor may hold events caused by calls made outside `run-once`. */
  #eventsPending = false;
  #drainScheduled = false;
  /** The reactor's figures as last read (what {@link stats} answers once the reactor is dead). */
  #stats: Readonly<ReactorStats> | undefined;
  readonly #owner: ConnOwner = {
    write: (conn, data) => this.#afterWrite(conn, this.#writer.write(this.#handleOf(conn), data)),
    writev: (conn, chunks) => this.#afterWrite(conn, this.#writer.writev(this.#handleOf(conn), chunks)),
    close: (conn) => this.#close(conn),
    end: (conn) => this.#end(conn),
    pause: (conn) => this.#pauseReading(conn),
    resume: (conn) => this.#resumeReading(conn),
    bufferedAmount: (conn) => this.#reactor.bufferedAmount(this.#handleOf(conn)),
    setDeadline: (conn, kind, deadline) => this.#deadlines.set(conn, kind, deadline),
    address: (conn, side) => this.#address(conn, side),
    stream: (conn, options) => {
      if (this.#handlers instanceof PluginDispatch) {
        throw new NbioError('ERR_NBIO_NOT_SUPPORTED', 'a plugin serves this connection: it cannot be turned into a stream');
      }
      return new ConnStream(conn, options);
    },
  };

  private constructor(handlers: Handlers, reactor: Reactor, mem: GuestMemory, owned: OwnedFds, epfd: number) {
    this.#handlers = handlers;
    this.#reactor = reactor;
    this.#mem = mem;
    this.#owned = owned;
    this.#writer = new WritePath(mem, reactor);
    this.#epfd = epfd;
  }

  /**
   * Instantiates and initialises a reactor (creating its epoll instance).
   * Throws a system error (syscall 'epoll_create1') if that fails, or
   * ERR_NBIO_INVALID_OPTION if `maxMemory` cannot even hold the read batch.
   */
  static create(settings: ReactorSettings, handlers: Handlers): Poller {
    const mem = new GuestMemory();
    const owned = new OwnedFds();
    // A fault before the poller exists fails `create` itself.
    let fault = (error: unknown): void => {
      throw reactorFault(error);
    };
    try {
      const reactor = instantiateReactor(linuxSys(mem, owned), mem, { onFault: (error) => fault(error) });
      const { readBufferSize, maxWriteBufferSize, maxConnReadTimesPerEventLoop, noDelay, maxMemory } = settings;
      const epfd = reactor.init(readBufferSize, maxWriteBufferSize, maxConnReadTimesPerEventLoop, noDelay ? 1 : 0, maxMemory);
      if (epfd === -ERRNO.ENOMEM) {
        throw new NbioError('ERR_NBIO_INVALID_OPTION', `maxMemory (${maxMemory} bytes) cannot hold the reactor's read batch (readBufferSize ${readBufferSize})`);
      }
      if (epfd < 0) throw systemError(epfd, 'epoll_create1');
      const poller = new Poller(handlers, reactor, mem, owned, epfd);
      fault = (error) => poller.#fail(reactorFault(error));
      return poller;
    } catch (err) {
      owned.closeAll();
      throw err;
    }
  }

  /**
   * Hands a listening socket to the reactor, which accepts on it from then on
   * and closes it at {@link stop}. Throws a system error (the descriptor is
   * then still the caller's).
   */
  addListener(fd: number): void {
    this.#owned.add(fd, FdRole.Listener);
    const rc = this.#reactor.addListener(fd);
    if (rc < 0) {
      this.#owned.remove(fd);
      throw this.#failure ?? systemError(rc, 'epoll_ctl');
    }
  }

  /** Starts serving: watches the epoll descriptor in this thread's event loop. */
  start(): void {
    this.#watcher = native.watchStart(this.#epfd, this.#onReadable);
    this.#running = true;
  }

  /** Closes everything the reactor owns (listeners, epoll instance) without delivering events: setting up failed. */
  abandon(): void {
    this.#contained = true; // a fault while setting up fails start() instead
    this.#reactor.shutdown();
    this.#owned.closeAll();
  }

  /**
   * Stops serving: stops the watcher and every timer, closes the listeners
   * and connections (discarding queued bytes) and delivers each open
   * connection's `onClose` (err undefined); pending dials reject with
   * ERR_NBIO_NOT_RUNNING.
   */
  stop(): void {
    if (this.#failure !== undefined) return this.#contain();
    this.#running = false;
    this.#quiet();
    const reactor = this.#reactor;
    reactor.shutdown();
    this.#dispatchingWhile(() => {
      this.#dispatch(reactor.takeEvents());
      // Closes held behind the bytes of paused connections: reported now.
      for (const [conn, close] of this.#held.takeCloses()) this.#finishClose(conn, close.status, close.detail);
    });
    // A reactor that failed while shutting down: close the rest here.
    if (this.#failure !== undefined) this.#contain();
  }

  /**
   * Closes `conn` now, discarding queued bytes, like `conn.close()`, but its
   * onClose receives `err` (a plugin's failure, say). Does nothing if the
   * connection is already closed.
   */
  fail(conn: Conn, err: EngineError): void {
    if (conn.state === ConnState.Closed) return;
    this.#failures.set(conn, err);
    this.#close(conn);
  }

  /** Stops the watcher and every timer: nothing of this poller runs any more. */
  #quiet(): void {
    if (this.#watcher !== undefined) native.watchStop(this.#watcher);
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    this.#deadlines.clearAll();
  }

  /** The poller cannot go on (see the class doc): contain it on the next tick, once. */
  #fail(err: NbioError): void {
    if (this.#failure !== undefined) return;
    this.#failure = err;
    process.nextTick(() => this.#contain());
  }

  /**
   * Closes everything the failed reactor owned at the host level, tells
   * the application (onError, then each connection's onClose or dial
   * rejection, with the failure), then the owner. Runs once.
   */
  #contain(): void {
    if (this.#contained) return;
    this.#contained = true;
    const err = this.#failure!;
    this.#running = false;
    this.#quiet();
    this.#owned.closeAll();
    const handlers = this.#handlers;
    handlers.reportError(err);
    this.#dispatchingWhile(() => {
      for (const conn of this.#conns.splice(0)) {
        if (conn === undefined) continue;
        conn.state = ConnState.Closed;
        const dial = this.#takeDial(conn);
        if (dial !== undefined) {
          dial.reject(err);
          continue;
        }
        if (channels.close.hasSubscribers) channels.close.publish({ conn, error: err });
        const sink = conn.stream ?? handlers;
        handlers.call(() => sink.onClose(conn, err));
      }
    });
    this.onFailure(err);
    handlers.rethrow();
  }

  /** Live connections (open, or dials in progress). */
  get connCount(): number {
    return this.#running ? this.#reactor.connCount() : 0;
  }

  /** The descriptors this poller's reactor owns (host/owned-fds.ts), as shared memory. */
  get fdTable(): SharedArrayBuffer {
    return this.#owned.buffer;
  }

  /** Bytes of the reactor's memory in use (allocated). */
  get memoryInUse(): number {
    return this.#reactor.memoryInUse();
  }

  /** Bytes of the reactor's Wasm memory. */
  get memoryBytes(): number {
    this.#mem.sync();
    return this.#mem.buffer.byteLength;
  }

  /** What the reactor counted (host/stats.ts); once it is dead, what it counted last time it was asked. */
  get stats(): Readonly<ReactorStats> {
    const ptr = this.#reactor.stats();
    // A dead reactor answers a negated errno instead of an address.
    if (ptr > 0) {
      this.#mem.sync();
      this.#stats = readReactorStats(this.#mem.buffer, ptr);
    }
    return this.#stats ?? NO_STATS;
  }

  /**
   * Connects to `target` and resolves with the connection once it is open
   * (after its `onOpen`); rejects with a system error, ERR_NBIO_DIAL_TIMEOUT
   * after `timeout` ms (0: no limit), or ERR_NBIO_NOT_RUNNING if the poller
   * stops first. The poller must be running.
   */
  dial(target: ResolvedEndpoint, timeout: number): Promise<Conn> {
    // A connection closed since the last batch may still own the descriptor
    // number connect() is about to reuse: deliver its onClose first.
    this.#deliverPending();
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    const reactor = this.#reactor;
    const fd = native.connect(target.family, target.ip, target.port);
    if (fd < 0) return Promise.reject(systemError(fd, 'connect', target.ip, target.port));
    this.#owned.add(fd, FdRole.Conn);
    const handle = reactor.addConn(fd, 1);
    if (handle < 0) {
      // The reactor closed it (or, dead, left it to containment).
      return Promise.reject(this.#failure ?? systemError(handle, 'epoll_ctl'));
    }
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

  /** Runs when the epoll instance has something ready (libuv watcher), or with a negated errno when the watcher failed. */
  readonly #onReadable = (status?: number): void => {
    if (!this.#running) return;
    if (status !== undefined) return this.#fail(pollerSyscallFailed(status, 'uv_poll'));
    const reactor = this.#reactor;
    this.#dispatchingWhile(() => {
      this.#dispatch(reactor.runOnce(0));
      while (reactor.backlog() > 0) this.#dispatch(reactor.runOnce(0));
      this.#drainPending();
    });
    this.#handlers.rethrow();
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
      this.#dispatch(this.#reactor.takeEvents());
      if (this.#held.pending) this.#deliverHeld();
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
    if (this.#dispatching || !this.#eventsPending || !this.#running) return;
    this.#dispatchingWhile(() => this.#drainPending());
    this.#handlers.rethrow();
  }

  /**
   * Delivers one batch (`ret` addresses its {ptr, len} in reactor memory).
   * The reactor keeps the listed records and their `data` bytes in place
   * until the next `run-once` or `take-events`, even when a handler makes
   * it grow its memory or append events; only the view must be refreshed
   * after a handler ran.
   */
  #dispatch(ret: number): void {
    // A list from a dead reactor (a guarded call returned DEAD) is empty.
    if (ret < 0 || this.#failure !== undefined) return;
    const mem = this.#mem;
    mem.sync();
    const w = ret >>> 2;
    const first = mem.i32[w + ListWords.ptr] >>> 2;
    const end = first + mem.i32[w + ListWords.len] * EventWords.size;
    this.#prepare(first, end);
    for (let p = first; p < end && this.#failure === undefined; p += EventWords.size) {
      mem.sync();
      const events = mem.i32;
      const handle = events[p + EventWords.conn] >>> 0;
      switch (events[p + EventWords.kind] & 0xff) {
        case EventKind.Data:
          this.#deliverData(handle, events[p + EventWords.dataPtr] >>> 0, events[p + EventWords.dataLen] >>> 0);
          break;
        case EventKind.Opened:
          this.#opened(handle, events[p + EventWords.detail]);
          break;
        case EventKind.Closed:
          this.#closed(handle, events[p + EventWords.status], events[p + EventWords.detail]);
          break;
        case EventKind.ListenerPaused:
          this.#listenerPaused(events[p + EventWords.detail], events[p + EventWords.status]);
          break;
        case EventKind.Drained:
          this.#drained(handle);
          break;
      }
    }
  }

  /**
   * Before any handler of a batch runs: connections closed by the reactor
   * in this batch are doomed from the start of its dispatch (even a dial
   * that opened and closed in the same batch): their descriptor is already
   * closed (and may be reused by a connection accepted in the same batch),
   * so no handler may write to them or look up their addresses. Memory the
   * reactor released is discarded now, while it is sure to be unused; a
   * failed epoll_wait fails the poller.
   */
  #prepare(first: number, end: number): void {
    const events = this.#mem.i32;
    for (let p = first; p < end; p += EventWords.size) {
      switch (events[p + EventWords.kind] & 0xff) {
        case EventKind.Closed: {
          const conn = this.#connOf(events[p + EventWords.conn] >>> 0);
          if (conn !== undefined && (conn.state === ConnState.Open || conn.state === ConnState.Connecting)) {
            conn.state = ConnState.Doomed;
          }
          break;
        }
        case EventKind.Released:
          native.discard(this.#mem.buffer, events[p + EventWords.conn] >>> 0, events[p + EventWords.detail] >>> 0);
          break;
        case EventKind.PollFailed:
          this.#fail(pollerSyscallFailed(events[p + EventWords.status], 'epoll_wait'));
          break;
      }
    }
  }

  /** The connection `handle` names, unless its descriptor belongs to another (or no) connection now. */
  #connOf(handle: number): Conn | undefined {
    const conn = this.#conns[handle & FD_MASK];
    return conn !== undefined && conn.handle === handle ? conn : undefined;
  }

  #opened(handle: number, acceptedOn: number): void {
    const handlers = this.#handlers;
    if (acceptedOn === 0) {
      const conn = this.#connOf(handle);
      if (conn === undefined) return;
      const dial = this.#takeDial(conn)!;
      if (conn.state === ConnState.Connecting) conn.state = ConnState.Open;
      if (channels.open.hasSubscribers) channels.open.publish({ conn });
      handlers.call(() => handlers.onOpen(conn));
      dial.resolve(conn);
      return;
    }
    const conn = new Conn(this.#owner, handle, ConnState.Open);
    this.#conns[handle & FD_MASK] = conn;
    if (channels.open.hasSubscribers) channels.open.publish({ conn });
    handlers.call(() => handlers.onOpen(conn));
  }

  #deliverData(handle: number, ptr: number, len: number): void {
    const conn = this.#connOf(handle);
    if (conn === undefined || conn.state === ConnState.Closed) return;
    const mem = this.#mem;
    mem.sync();
    if (conn.paused || this.#held.has(conn)) {
      this.#held.hold(conn, mem.u8.subarray(ptr, ptr + len));
      return;
    }
    const data = new Uint8Array(mem.buffer, ptr, len);
    const writer = this.#writer;
    writer.deliver(data, ptr, len);
    // Not through handlers.call: no closure per message on the hot path.
    try {
      (conn.stream ?? this.#handlers).onData(conn, data);
    } catch (error) {
      this.#handlers.capture(error);
    }
    writer.deliver(undefined);
  }

  #drained(handle: number): void {
    const conn = this.#connOf(handle);
    if (conn === undefined || conn.state !== ConnState.Open) return;
    const sink = conn.stream ?? this.#handlers;
    this.#handlers.call(() => sink.onDrain(conn));
  }

  #closed(handle: number, status: number, detail: number): void {
    const conn = this.#connOf(handle);
    if (conn === undefined) return;
    this.#conns[handle & FD_MASK] = undefined;
    if (this.#running && conn.state !== ConnState.Closed && this.#held.holdClose(conn, { status, detail })) {
      // Bytes before this close are still held: report it after them.
      conn.state = ConnState.Doomed;
      this.#deadlines.clear(conn);
      return;
    }
    this.#held.delete(conn);
    this.#finishClose(conn, status, detail);
  }

  /** The connection is gone: rejects its dial, or calls onClose with the cause. */
  #finishClose(conn: Conn, status: number, detail: number): void {
    conn.state = ConnState.Closed;
    const failure = this.#failures.get(conn);
    if (failure !== undefined) this.#failures.delete(conn);
    const dial = this.#takeDial(conn);
    if (dial !== undefined) {
      dial.reject(dialError(status, detail, dial.target, this.#running));
      return;
    }
    this.#deadlines.clear(conn);
    const sink = conn.stream ?? this.#handlers;
    const publish = channels.close.hasSubscribers;
    if (sink.onClose === noop && !publish) return;
    const err = failure ?? closeError(status, detail);
    if (publish) channels.close.publish({ conn, error: err });
    this.#handlers.call(() => sink.onClose(conn, err));
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
    const handlers = this.#handlers;
    const onAcceptError = handlers.onAcceptError;
    if (onAcceptError !== noop) {
      const err = withoutStack(() => systemError(errno, 'accept'));
      handlers.call(() => onAcceptError(err));
    }
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      if (!this.#running) return;
      const rc = this.#reactor.resumeListener(listenerFd);
      if (rc < 0) this.#listenerPaused(listenerFd, rc);
    }, LISTENER_RETRY_MS);
    this.#timers.add(timer);
  }

  #clearTimer(timer: NodeJS.Timeout | undefined): void {
    if (timer === undefined) return;
    clearTimeout(timer);
    this.#timers.delete(timer);
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
    const handle = this.#handleOf(conn);
    if (kind === 'write' && this.#reactor.bufferedAmount(handle) === 0) return;
    const cause = kind === 'read' ? CloseCause.ReadTimeout : CloseCause.WriteTimeout;
    if (this.#reactor.close(handle, cause) === 0) this.#scheduleDrain();
  }

  #close(conn: Conn): void {
    const state = conn.state;
    conn.state = ConnState.Closed;
    if (this.#held.hasClose(conn)) {
      // Its close came while paused: report it now, dropping the held bytes.
      this.#held.dropBytes(conn);
      this.#held.resumed(conn);
      this.#scheduleDrain();
    } else if (state === ConnState.Doomed) this.#scheduleDrain();
    else if (this.#reactor.close(this.#handleOf(conn), CloseCause.Local) === 0) this.#scheduleDrain();
  }

  #end(conn: Conn): void {
    conn.state = ConnState.Ending;
    // Closes at once when nothing is queued; otherwise after the last flush.
    if (this.#reactor.end(this.#handleOf(conn)) === 0) this.#scheduleDrain();
  }

  #pauseReading(conn: Conn): void {
    this.#afterWrite(conn, this.#reactor.pauseReading(this.#handleOf(conn)));
  }

  #resumeReading(conn: Conn): void {
    if (!this.#held.has(conn)) {
      if (conn.state === ConnState.Open || conn.state === ConnState.Ending) {
        this.#afterWrite(conn, this.#reactor.resumeReading(this.#handleOf(conn)));
      }
      return;
    }
    // Held bytes go first, from the next drain; the reactor reads again after them.
    this.#held.resumed(conn);
    this.#scheduleDrain();
  }

  /** Delivers what resumed (or closed) connections held, then lets the reactor read them again. */
  #deliverHeld(): void {
    const handlers = this.#handlers;
    for (const conn of this.#held.takeResumed()) {
      const held = this.#held.get(conn);
      if (held === undefined) continue;
      while (held.chunks.length > 0 && !conn.paused && conn.state !== ConnState.Closed) {
        const data = held.chunks.shift()!;
        const sink = conn.stream ?? handlers;
        handlers.call(() => sink.onData(conn, data));
      }
      if (conn.paused && conn.state !== ConnState.Closed) continue;
      this.#held.delete(conn);
      if (held.close !== undefined) this.#finishClose(conn, held.close.status, held.close.detail);
      else this.#resumeReading(conn);
    }
  }

  #address(conn: Conn, side: 'local' | 'remote'): AddressInfo | undefined {
    return this.#handleOf(conn) === 0 ? undefined : sockAddress(conn.handle & FD_MASK, side);
  }

  /**
   * The handle to pass to the reactor for `conn`: its own while it is the
   * connection this poller knows on its descriptor, else 0, which names
   * nothing. A handle's generation wraps after 2,047 reuses of its
   * descriptor, so the handle of a connection long closed may name a live
   * one again; only the identity of the `Conn` tells them apart.
   */
  #handleOf(conn: Conn): number {
    return this.#conns[conn.handle & FD_MASK] === conn ? conn.handle : 0;
  }
}
