/**
 * One poller: a reactor instance driven in this thread's event loop, and the
 * connections it serves; it puts the parts of this folder together.
 */
import type { Transport } from '../api/address.js';
import { BatchDispatch } from './batch-dispatch.js';
import { ConnIndex } from './conn-index.js';
import { ConnOps } from './conn-ops.js';
import { DispatchLoop } from './dispatch-loop.js';
import { Conn, ConnState } from '../api/conn.js';
import { Containment, PollerRemains } from './containment.js';
import { PendingDials, type DialWaiter } from './dials.js';
import { NbioError, systemError, type EngineError } from '../api/errors.js';
import { EventDelivery } from './event-delivery.js';
import { pollerSyscallFailed, reactorFault } from './fault.js';
import { ConnOrigin } from '../generated/abi.js';
import { GuestMemory } from '../guest/memory.js';
import { HeldReads } from './held-reads.js';
import { noop, type Handlers } from '../api/handlers.js';
import { IdleTimers } from './idle-timers.js';
import { ListenerRetries } from './listener-retry.js';
import { ERRNO, native, type WatchHandle } from '../sys/native.js';
import { OpenedConns } from './opened-conns.js';
import type { Adoption, PollerSettings } from './settings.js';
import { FdRole, OwnedFds } from '../sys/owned-fds.js';
import { PluginDispatch } from '../plugin/adapter.js';
import { CloseCause, type Reactor } from '../guest/reactor.js';
import { instantiateReactor } from './reactor-loader.js';
import { PollerFigures } from './poller-figures.js';
import type { PollerStats } from '../api/stats.js';
import type { StatsBoard } from './stats-board.js';
import { linuxSys } from '../sys/linux.js';
import { WritePath } from './write-path.js';

/**
 * One poller: a reactor instance (its own Wasm memory and epoll instance)
 * driven inside this thread's event loop, and the connections it serves.
 *
 * A libuv watcher on the epoll descriptor tells it when something is
 * ready; the poller then runs the reactor's `run-once` and dispatches the
 * batch of events to the engine's {@link Handlers}. Calls made from
 * outside a batch (a write from a timer, a close) may cause events too.
 * When events are delivered is in host/poller/dispatch-loop.ts; how a batch is
 * read out of reactor memory, in host/poller/batch-dispatch.ts; what each
 * connection event does, in host/poller/event-delivery.ts; what a connection's
 * own methods do, in host/poller/conn-ops.ts.
 *
 * Life cycle: {@link create} → {@link addListener}… → {@link start} →
 * {@link stop}; or {@link abandon} instead of `start` when setting up failed.
 *
 * Failure: if the reactor traps (or throws) in any call, or the epoll
 * descriptor fails (`poll-failed`, or an error from the libuv watcher),
 * the poller fails for good: it is detached at once (no more events, no
 * timers) and contained on the next tick, or at {@link stop} if that comes
 * first, by the one path of host/poller/containment.ts: every descriptor the
 * reactor owned closed at the host level, the error reported
 * ({@link reportFailure}), pending dials rejected and each open
 * connection's `onClose` called with it, then {@link onFailure}.
 */
export class Poller {
  readonly #settings: PollerSettings;
  readonly #reactor: Reactor;
  readonly #owned: OwnedFds;
  readonly #writer: WritePath;
  readonly #epfd: number;
  #watcher: WatchHandle | undefined;
  #running = false;
  /** How the poller ends when it fails, and when it stops (host/poller/containment.ts). */
  readonly #containment: Containment;
  /**
   * Reports a failure of the poller: `onError` of its handlers, unless
   * set otherwise (a worker poller reports to the engine's thread).
   */
  reportFailure: (err: NbioError) => void;
  /** Called once the poller failed and was contained (see the class doc). */
  onFailure: (err: NbioError) => void = noop;
  readonly #conns = new ConnIndex();
  /** The connections told open and not yet closed: what a failure owes an onClose. */
  readonly #opened = new OpenedConns();
  /** What paused connections had read before the pause, delivered after they resume. */
  readonly #held = new HeldReads();
  readonly #ops: ConnOps;
  readonly #dials = new PendingDials((conn) => this.#ops.closeWith(conn, CloseCause.DialTimeout));
  readonly #idle: IdleTimers<Conn> | undefined;
  readonly #deliver: EventDelivery;
  readonly #batch: BatchDispatch;
  readonly #retries: ListenerRetries;
  readonly #loop: DispatchLoop;
  readonly #figures: PollerFigures;
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
    this.#settings = settings;
    this.#reactor = reactor;
    this.#owned = owned;
    this.#writer = new WritePath(mem, reactor);
    this.#epfd = epfd;
    this.reportFailure = (err) => handlers.reportError(err);
    this.#ops = new ConnOps({
      reactor, writer: this.#writer, index: this.#conns, held: this.#held, owned, pluginServed: handlers instanceof PluginDispatch,
      lingerTimeout: settings.lingerTimeout, pausedHangUpTimeout: settings.pausedHangUpTimeout, scheduleDrain: () => this.#loop.schedule(),
    });
    if (settings.udpReadTimeout > 0) {
      this.#idle = new IdleTimers(settings.udpReadTimeout, (conn) => this.#ops.closeWith(conn, CloseCause.ReadTimeout));
    }
    this.#deliver = new EventDelivery({
      handlers, settings, mem, writer: this.#writer, conns: this.#conns, held: this.#held, ops: this.#ops,
      dials: this.#dials, idle: this.#idle, opened: this.#opened,
      running: () => this.#running,
      closed: () => this.onClosed,
    });
    this.#retries = new ListenerRetries((fd) => reactor.resumeListener(fd), handlers);
    this.#figures = new PollerFigures(reactor, mem);
    this.#batch = new BatchDispatch({
      mem, conns: this.#conns, deliver: this.#deliver,
      failed: () => this.#containment.failure !== undefined,
      fail: (err) => this.#fail(err),
      listenerPaused: (fd, errno) => this.#retries.paused(fd, errno),
      accepted: (fd) => this.onAccepted(fd),
    });
    this.#loop = new DispatchLoop({
      reactor, batch: this.#batch, held: this.#held, deliver: this.#deliver, handlers,
      running: () => this.#running,
      watchFailed: (status) => this.#fail(pollerSyscallFailed(status, 'uv_poll')),
      settled: () => {
        this.onSettled?.();
        this.#emptied?.();
      },
    });
    const remains = new PollerRemains({
      quiet: () => this.#quiet(), owned, conns: this.#conns, held: this.#held, dials: this.#dials, opened: this.#opened,
      deliver: this.#deliver, dispatching: (tell) => this.#loop.dispatching(tell),
    });
    this.#containment = new Containment(remains, {
      handlers,
      report: (err) => this.reportFailure(err),
      failed: (err) => this.onFailure(err),
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
      throw this.#containment.failure ?? systemError(rc, 'epoll_ctl');
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
   * Stops listening on `fd`: a listener closes at once (a retry after a
   * failed accept is cancelled); a UDP socket takes no new peers and
   * closes with its last one.
   */
  removeListener(fd: number): void {
    this.#retries.cancel(fd);
    this.#reactor.removeListener(fd);
  }

  /** Starts serving: watches the epoll descriptor in this thread's event loop. */
  start(): void {
    this.#watcher = native.watchStart(this.#epfd, this.#loop.onReadable);
    this.#running = true;
  }

  /**
   * Whether watching the epoll descriptor keeps this thread's event loop
   * (and so the process) alive; it is served either way. Does nothing
   * before {@link start} or once stopped.
   */
  setRef(ref: boolean): void {
    if (this.#watcher !== undefined) native.watchRef(this.#watcher, ref);
  }

  /**
   * Closes everything the reactor owns (listeners, epoll instance) without
   * delivering events: setting up failed. A fault from then on is ignored
   * (it fails start() instead).
   */
  abandon(): void {
    this.#containment.contain();
  }

  /**
   * Stops serving: stops the watcher and every timer, closes the listeners
   * and connections (discarding queued bytes) and delivers each open
   * connection's `onClose` (err undefined); pending dials reject with
   * ERR_NBIO_NOT_RUNNING. A poller that failed is contained now instead,
   * if it was not yet.
   */
  stop(): void {
    if (this.#containment.failure === undefined) {
      this.#quiet();
      const reactor = this.#reactor;
      reactor.shutdown();
      this.#loop.dispatching(() => {
        this.#batch.dispatch(reactor.takeEvents());
        // Closes held behind the bytes of paused connections: reported now.
        for (const [conn, close] of this.#held.takeCloses()) this.#deliver.finishClose(conn, close.status, close.detail);
      });
    }
    // What is left, if anything (a reactor that failed while shutting down: everything).
    this.#containment.contain();
  }

  /**
   * A graceful stop: ends every connection (as `conn.end()`: queued bytes
   * are still sent, then the FIN, and it closes at the peer's end or its
   * `lingerTimeout`) and cancels dials whose connect is in
   * progress; connections that open from now on (handed over, or accepted
   * before the listeners closed) are ended right after their `onOpen`.
   * `closed` resolves once no connection is left, after `timeout` ms (0: no
   * limit), or when `cut()` is called.
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
    this.#running = false;
    if (this.#watcher !== undefined) native.watchStop(this.#watcher);
    this.#watcher = undefined;
    this.#retries.clearAll();
    this.#ops.deadlines.clearAll();
    this.#dials.clearTimers();
    this.#idle?.clearAll();
  }

  /**
   * The poller cannot go on (see the class doc): detached now, with its
   * figures as they were; contained on the next tick.
   */
  #fail(err: NbioError): void {
    this.#figures.freeze(err.code);
    if (this.#containment.fail(err)) process.nextTick(() => this.#containment.contain());
  }

  /** Live connections (open, dials in progress, UDP peers). */
  get connCount(): number {
    return this.#running ? this.#reactor.connCount() : 0;
  }

  /** The descriptors this poller's reactor owns (host/sys/owned-fds.ts), as shared memory. */
  get fdTable(): SharedArrayBuffer {
    return this.#owned.buffer;
  }

  /** The connections it told open and not closed (host/poller/opened-conns.ts), as shared memory. */
  get openedTable(): SharedArrayBuffer {
    return this.#opened.buffer;
  }

  /** What the poller counted (host/poller/poller-figures.ts). */
  get stats(): PollerStats {
    return this.#figures.current;
  }

  /** Copies what the reactor counted into `slot` of `board` (a worker poller's figures for the engine's thread). */
  publishStats(board: StatsBoard, slot: number): void {
    this.#figures.publish(board, slot);
  }

  /**
   * Hands the connected (or, TCP only, connecting) socket `fd` to the
   * reactor and resolves with its connection once it is open (after its
   * `onOpen`); rejects with a system error, ERR_NBIO_DIAL_TIMEOUT after
   * `timeout` ms, or ERR_NBIO_NOT_RUNNING if the poller stops first. The
   * poller must be running; `fd` is its from now on.
   */
  adopt(fd: number, how: Adoption): Promise<Conn> {
    return new Promise((resolve, reject) => this.adoptFor(fd, how, { resolve, reject }));
  }

  /**
   * As {@link adopt}, for a `waiter` told synchronously: rejected at once
   * if the reactor refuses `fd` (then closed), resolved right after the
   * connection's `onOpen`.
   */
  adoptFor(fd: number, how: Adoption, waiter: DialWaiter): void {
    const origin = how.connecting ? ConnOrigin.Dialing : how.target !== undefined ? ConnOrigin.Dialed : ConnOrigin.Added;
    const conn = this.#register(fd, how, origin);
    if (conn instanceof Error) waiter.reject(conn);
    else this.#dials.add(conn, waiter, how.target, how.connecting, how.timeout);
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
    this.#loop.deliverPending();
    const failure = this.#containment.failure;
    if (failure !== undefined || this.#containment.contained) {
      this.#owned.remove(fd); // (handed over by another thread: recorded as this poller's)
      native.close(fd);
      return failure ?? new NbioError('ERR_NBIO_NOT_RUNNING', 'the engine stopped');
    }
    const reactor = this.#reactor;
    this.#owned.add(fd, FdRole.Conn);
    const handle = how.transport === 'udp' ? reactor.addDatagram(fd, 1) : reactor.addConn(fd, origin);
    // The reactor closed it (or, dead, left it to containment).
    if (handle < 0) return this.#containment.failure ?? systemError(handle, 'epoll_ctl');
    const conn = new Conn(this.#ops, handle, ConnState.Connecting, how.transport);
    this.#conns.add(conn);
    if (how.buffered !== undefined && how.buffered.length > 0) {
      for (const chunk of how.buffered) this.#held.hold(conn, chunk);
      this.#held.resumed(conn);
    }
    // Unless it connects, its `opened` event is pending already.
    if (!how.connecting) this.#loop.schedule();
    return conn;
  }
}
