import type { ResolvedEndpoint, Transport } from './address.js';
import { BatchDispatch } from './batch-dispatch.js';
import { ConnIndex } from './conn-index.js';
import { ConnOps } from './conn-ops.js';
import { Conn, ConnState } from './conn.js';
import { PendingDials } from './dials.js';
import { NbioError, systemError, withoutStack, type EngineError } from './errors.js';
import { EventDelivery } from './event-delivery.js';
import { pollerSyscallFailed, reactorFault } from './fault.js';
import { ConnOrigin } from './generated/abi.js';
import { GuestMemory } from './guest-memory.js';
import { HeldReads } from './held-reads.js';
import { noop, type Handlers } from './handlers.js';
import { IdleTimers } from './idle-timers.js';
import { ERRNO, native, type WatchHandle } from './native.js';
import type { ResolvedOptions } from './options.js';
import { FdRole, OwnedFds } from './owned-fds.js';
import { PluginDispatch } from './plugin/adapter.js';
import { CloseCause, instantiateReactor, type Reactor } from './reactor.js';
import { NO_STATS, readReactorStats, type ReactorStats } from './stats.js';
import type { StatsBoard } from './stats-board.js';
import { linuxSys } from './sys/linux.js';
import { WritePath } from './write-path.js';

/** Pause before re-arming a listener whose accept failed (EMFILE and the like). */
const LISTENER_RETRY_MS = 50;

/** What a poller is set up with: its reactor's settings and how it treats connections. */
export type PollerSettings = Pick<
  ResolvedOptions,
  | 'readBufferSize' | 'maxWriteBufferSize' | 'maxConnReadTimesPerEventLoop' | 'noDelay' | 'maxMemory' | 'edgeTriggered'
  | 'allowHalfOpen' | 'lingerTimeout' | 'keepAlive' | 'keepAliveInitialDelay' | 'udpReadTimeout'
> & {
  /** What the engine's listeners carry (the transport of accepted connections). */
  transport: Transport;
};

/** How a descriptor handed to {@link Poller.adopt} is connected. */
export interface Adoption {
  transport: Transport;
  /** A TCP connect still in progress: opened once it completes. */
  connecting: boolean;
  /** With `connecting`: ms before the dial gives up (ERR_NBIO_DIAL_TIMEOUT); 0: no limit. */
  timeout: number;
  /** Where it was dialed (for error messages; a dial counts in `dialed`); undefined for an adopted socket (`added`). */
  target: ResolvedEndpoint | undefined;
  /** Bytes the socket had received before it was handed over, delivered first. */
  buffered?: Uint8Array[];
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
 * whichever comes first. How a batch is read out of reactor memory is in
 * host/batch-dispatch.ts; what each connection event does, in
 * host/event-delivery.ts; what a connection's own methods do, in
 * host/conn-ops.ts.
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
  readonly #settings: PollerSettings;
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
  readonly #conns = new ConnIndex();
  /** What paused connections had read before the pause, delivered after they resume. */
  readonly #held = new HeldReads();
  readonly #ops: ConnOps;
  readonly #dials = new PendingDials((conn) => this.#ops.closeWith(conn, CloseCause.DialTimeout));
  readonly #idle: IdleTimers<Conn> | undefined;
  readonly #deliver: EventDelivery;
  readonly #batch: BatchDispatch;
  readonly #timers = new Set<NodeJS.Timeout>();
  #dispatching = false;
  /** The reactor may hold events caused by calls made outside `run-once`. */
  #eventsPending = false;
  #drainScheduled = false;
  /** The reactor's figures as last read (what {@link stats} answers once the reactor is dead). */
  #stats: Readonly<ReactorStats> | undefined;
  /**
   * Called with each descriptor an acceptor (see {@link addAcceptor})
   * accepted: it is the callee's to hand to a poller.
   */
  onAccepted: (fd: number) => void = (fd) => native.close(fd);
  /** Called after every dispatch (connections may have opened or closed). */
  onSettled: (() => void) | undefined;
  /** During a graceful stop: checks, after every dispatch, whether every connection has closed. */
  #emptied: (() => void) | undefined;
  /** Called when a connection's onClose has been delivered (or its dial rejected). */
  onClosed: ((conn: Conn, err: Error | undefined) => void) | undefined;

  private constructor(handlers: Handlers, settings: PollerSettings, reactor: Reactor, mem: GuestMemory, owned: OwnedFds, epfd: number) {
    this.#handlers = handlers;
    this.#settings = settings;
    this.#reactor = reactor;
    this.#mem = mem;
    this.#owned = owned;
    this.#writer = new WritePath(mem, reactor);
    this.#epfd = epfd;
    this.#ops = new ConnOps({
      reactor, writer: this.#writer, index: this.#conns, held: this.#held, pluginServed: handlers instanceof PluginDispatch,
      lingerTimeout: settings.lingerTimeout, scheduleDrain: () => this.#scheduleDrain(),
    });
    if (settings.udpReadTimeout > 0) {
      this.#idle = new IdleTimers(settings.udpReadTimeout, (conn) => this.#ops.closeWith(conn, CloseCause.ReadTimeout));
    }
    this.#deliver = new EventDelivery({
      handlers, settings, mem, writer: this.#writer, conns: this.#conns, held: this.#held, ops: this.#ops,
      dials: this.#dials, idle: this.#idle,
      running: () => this.#running,
      closed: () => this.onClosed,
    });
    this.#batch = new BatchDispatch({
      mem, conns: this.#conns, deliver: this.#deliver,
      failed: () => this.#failure !== undefined,
      fail: (err) => this.#fail(err),
      listenerPaused: (fd, errno) => this.#listenerPaused(fd, errno),
      accepted: (fd) => this.onAccepted(fd),
    });
  }

  /**
   * Instantiates and initialises a reactor (creating its epoll instance).
   * Throws a system error (syscall 'epoll_create1') if that fails, or
   * ERR_NBIO_INVALID_OPTION if `maxMemory` cannot even hold the read batch.
   */
  static create(settings: PollerSettings, handlers: Handlers): Poller {
    const mem = new GuestMemory();
    const owned = new OwnedFds();
    // A fault before the poller exists fails `create` itself.
    let fault = (error: unknown): void => {
      throw reactorFault(error);
    };
    try {
      const reactor = instantiateReactor(linuxSys(mem, owned), mem, { onFault: (error) => fault(error) });
      const { readBufferSize, maxWriteBufferSize, maxConnReadTimesPerEventLoop, noDelay, maxMemory, edgeTriggered } = settings;
      const epfd = reactor.init(
        readBufferSize, maxWriteBufferSize, maxConnReadTimesPerEventLoop, noDelay ? 1 : 0, maxMemory, edgeTriggered ? 1 : 0,
      );
      if (epfd === -ERRNO.ENOMEM) {
        throw new NbioError('ERR_NBIO_INVALID_OPTION', `maxMemory (${maxMemory} bytes) cannot hold the reactor's read batch (readBufferSize ${readBufferSize})`);
      }
      if (epfd < 0) throw systemError(epfd, 'epoll_create1');
      const poller = new Poller(handlers, settings, reactor, mem, owned, epfd);
      fault = (error) => poller.#fail(reactorFault(error));
      return poller;
    } catch (err) {
      owned.closeAll();
      throw err;
    }
  }

  /**
   * Hands a listening socket to the reactor, which accepts on it from then on
   * and closes it at {@link stop}; a bound UDP socket (`transport` 'udp')
   * serves peers instead. Throws a system error (the descriptor is then
   * still the caller's).
   */
  addListener(fd: number, transport: Transport): void {
    this.#addListening(fd, transport === 'udp' ? FdRole.Datagram : FdRole.Listener, (reactor) =>
      transport === 'udp' ? reactor.addDatagram(fd, 0) : reactor.addListener(fd));
  }

  /**
   * Like {@link addListener}, but what it accepts is handed to
   * {@link onAccepted} instead of being served here.
   */
  addAcceptor(fd: number): void {
    this.#addListening(fd, FdRole.Listener, (reactor) => reactor.addAcceptor(fd));
  }

  #addListening(fd: number, role: FdRole, add: (reactor: Reactor) => number): void {
    this.#owned.add(fd, role);
    const rc = add(this.#reactor);
    if (rc < 0) {
      this.#owned.remove(fd);
      throw this.#failure ?? systemError(rc, 'epoll_ctl');
    }
  }

  /**
   * Gives up a descriptor an acceptor of this poller accepted, before it
   * is handed to another poller: this reactor no longer owns it.
   */
  disown(fd: number): void {
    this.#owned.remove(fd);
  }

  /**
   * Stops listening on `fd`: a listener closes at once; a UDP socket takes
   * no new peers and closes with its last one.
   */
  removeListener(fd: number): void {
    this.#reactor.removeListener(fd);
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
      this.#batch.dispatch(reactor.takeEvents());
      // Closes held behind the bytes of paused connections: reported now.
      for (const [conn, close] of this.#held.takeCloses()) this.#deliver.finishClose(conn, close.status, close.detail);
    });
    // A reactor that failed while shutting down: close the rest here.
    if (this.#failure !== undefined) this.#contain();
  }

  /**
   * A graceful stop: ends every connection (as `conn.end()`: queued bytes
   * are still sent, then the FIN, and it closes at the peer's end or its
   * `lingerTimeout`) and cancels dials whose connect is in
   * progress; connections that open from now on (handed over, or accepted
   * before the listeners closed) are ended right after their `onOpen`.
   * `closed` resolves once no connection is left, after `timeout` ms (0:
   * no limit), or when `cut()` is called.
   */
  endGracefully(timeout: number): { closed: Promise<void>; cut(): void } {
    this.#deliver.endingAll = true;
    for (const conn of this.#conns.all()) {
      if (conn.state !== ConnState.Connecting) conn.end();
      else if (this.#dials.connecting(conn)) this.#ops.close(conn);
    }
    let cut!: () => void;
    const closed = new Promise<void>((resolve) => {
      const timer = timeout > 0 ? setTimeout(() => cut(), timeout) : undefined;
      cut = () => {
        clearTimeout(timer);
        this.#emptied = undefined;
        resolve();
      };
      this.#emptied = () => {
        if (this.connCount === 0) cut();
      };
      // Closes caused by ending are delivered asynchronously; this also covers a poller with nothing to end.
      setImmediate(() => this.#emptied?.());
    });
    return { closed, cut };
  }

  /**
   * Closes `conn` now, discarding queued bytes, like `conn.close()`, but its
   * onClose receives `err` (a plugin's failure, say). Does nothing if the
   * connection is already closed.
   */
  fail(conn: Conn, err: EngineError): void {
    if (conn.state !== ConnState.Closed) this.#deliver.failWith(conn, err);
  }

  /** Stops the watcher and every timer: nothing of this poller runs any more. */
  #quiet(): void {
    if (this.#watcher !== undefined) native.watchStop(this.#watcher);
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    this.#ops.deadlines.clearAll();
    this.#dials.clearTimers();
    this.#idle?.clearAll();
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
      for (const conn of this.#conns.clear()) this.#deliver.lost(conn, err);
    });
    this.onFailure(err);
    handlers.rethrow();
  }

  /** Live connections (open, dials in progress, UDP peers). */
  get connCount(): number {
    return this.#running ? this.#reactor.connCount() : 0;
  }

  /** The descriptors this poller's reactor owns (host/owned-fds.ts), as shared memory. */
  get fdTable(): SharedArrayBuffer {
    return this.#owned.buffer;
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
   * Copies what the reactor counted into `slot` of `board` (a worker
   * poller's figures for the engine's thread); nothing once the reactor is
   * dead, so the board keeps what it counted last.
   */
  publishStats(board: StatsBoard, slot: number): void {
    const ptr = this.#reactor.stats();
    if (ptr <= 0) return;
    this.#mem.sync();
    board.publish(slot, this.#mem.i32, ptr);
  }

  /**
   * Hands the connected (or, TCP only, connecting) socket `fd` to the
   * reactor and resolves with its connection once it is open (after its
   * `onOpen`); rejects with a system error, ERR_NBIO_DIAL_TIMEOUT after
   * `timeout` ms, or ERR_NBIO_NOT_RUNNING if the poller stops first. The
   * poller must be running; `fd` is its from now on.
   */
  adopt(fd: number, how: Adoption): Promise<Conn> {
    const origin = how.connecting ? ConnOrigin.Dialing : how.target !== undefined ? ConnOrigin.Dialed : ConnOrigin.Added;
    const conn = this.#register(fd, how, origin);
    if (conn instanceof Error) return Promise.reject(conn);
    return this.#dials.wait(conn, how.target, how.connecting, how.timeout);
  }

  /** Serves a connection an acceptor handed over (`onOpen` follows); closes `fd` if that fails. */
  adoptAccepted(fd: number): void {
    const how = { transport: this.#settings.transport, connecting: false, timeout: 0, target: undefined };
    this.#register(fd, how, ConnOrigin.Accepted);
  }

  /**
   * Registers `fd` with the reactor as a connection not open yet, counted
   * in its stats as `origin` says (a UDP socket is always a dial); returns
   * it, or the error (`fd` closed).
   */
  #register(fd: number, how: Adoption, origin: ConnOrigin): Conn | Error {
    // A connection closed since the last batch may still own the descriptor
    // number about to be reused: deliver its onClose first.
    this.#deliverPending();
    if (this.#failure !== undefined) {
      native.close(fd);
      return this.#failure;
    }
    const reactor = this.#reactor;
    this.#owned.add(fd, FdRole.Conn);
    const handle = how.transport === 'udp' ? reactor.addDatagram(fd, 1) : reactor.addConn(fd, origin);
    // The reactor closed it (or, dead, left it to containment).
    if (handle < 0) return this.#failure ?? systemError(handle, 'epoll_ctl');
    const conn = new Conn(this.#ops, handle, ConnState.Connecting, how.transport);
    this.#conns.add(conn);
    if (how.buffered !== undefined && how.buffered.length > 0) {
      for (const chunk of how.buffered) this.#held.hold(conn, chunk);
      this.#held.resumed(conn);
    }
    // Unless it connects, its `opened` event is pending already.
    if (!how.connecting) this.#scheduleDrain();
    return conn;
  }

  /** Runs when the epoll instance has something ready (libuv watcher), or with a negated errno when the watcher failed. */
  readonly #onReadable = (status?: number): void => {
    if (!this.#running) return;
    if (status !== undefined) return this.#fail(pollerSyscallFailed(status, 'uv_poll'));
    const reactor = this.#reactor;
    const batch = this.#batch;
    // As #dispatchingWhile does, without a closure per wake-up.
    this.#dispatching = true;
    try {
      batch.dispatch(reactor.runOnce(0));
      while (reactor.backlog() > 0) batch.dispatch(reactor.runOnce(0));
      this.#drainPending();
    } finally {
      this.#dispatching = false;
    }
    this.onSettled?.();
    this.#emptied?.();
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
      this.#batch.dispatch(this.#reactor.takeEvents());
      if (this.#held.pending) this.#deliver.deliverHeld();
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
    this.onSettled?.();
    this.#emptied?.();
    this.#handlers.rethrow();
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
}
