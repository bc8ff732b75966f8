/**
 * One poller: a reactor instance driven in this thread's event loop, and the
 * connections it serves; it drives the parts of this folder, which
 * host/poller/poller-wiring.ts puts together.
 */
import type { Transport } from '../api/address.js';
import { Conn, ConnState } from '../api/conn.js';
import type { DialWaiter } from './dials.js';
import { NbioError, systemError, type EngineError } from '../api/errors.js';
import { reactorFault } from './fault.js';
import { ConnOrigin } from '../generated/abi.js';
import { noop, type Handlers } from '../api/handlers.js';
import { native, type WatchHandle } from '../sys/native.js';
import type { Adoption, PollerSettings } from './settings.js';
import { FdRole, type OwnedFds } from '../sys/owned-fds.js';
import type { Reactor } from '../guest/reactor.js';
import type { PollerStats } from '../api/stats.js';
import type { StatsBoard } from './stats-board.js';
import { openReactor, wirePoller, type OpenedReactor, type PollerWiring } from './poller-wiring.js';

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
  readonly #epfd: number;
  #watcher: WatchHandle | undefined;
  #running = false;
  /** Its parts, connected to each other (host/poller/poller-wiring.ts). */
  readonly #parts: PollerWiring;
  /**
   * Reports a failure of the poller: `onError` of its handlers, unless
   * set otherwise (a worker poller reports to the engine's thread).
   */
  reportFailure: (err: NbioError) => void;
  /** Called once the poller failed and was contained (see the class doc). */
  onFailure: (err: NbioError) => void = noop;
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

  private constructor(handlers: Handlers, settings: PollerSettings, opened: OpenedReactor) {
    this.#settings = settings;
    this.#reactor = opened.reactor;
    this.#owned = opened.owned;
    this.#epfd = opened.epfd;
    this.reportFailure = (err) => handlers.reportError(err);
    this.#parts = wirePoller(handlers, settings, opened, {
      running: () => this.#running,
      closed: () => this.onClosed,
      fail: (err) => this.#fail(err),
      accepted: (fd) => this.onAccepted(fd),
      settled: () => {
        this.onSettled?.();
        this.#emptied?.();
      },
      quiet: () => this.#quiet(),
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
    // A fault before the poller exists fails `create` itself.
    let fault = (error: unknown): void => {
      throw reactorFault(error);
    };
    const opened = openReactor(settings, (error) => fault(error));
    try {
      const poller = new Poller(handlers, settings, opened);
      fault = (error) => poller.#fail(reactorFault(error));
      return poller;
    } catch (err) {
      opened.owned.closeAll();
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
      throw this.#parts.containment.failure ?? systemError(rc, 'epoll_ctl');
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
    this.#parts.retries.cancel(fd);
    this.#reactor.removeListener(fd);
  }

  /** Starts serving: watches the epoll descriptor in this thread's event loop. */
  start(): void {
    this.#watcher = native.watchStart(this.#epfd, this.#parts.loop.onReadable);
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
    this.#parts.containment.contain();
  }

  /**
   * Stops serving: stops the watcher and every timer, closes the listeners
   * and connections (discarding queued bytes) and delivers each open
   * connection's `onClose` (err undefined); pending dials reject with
   * ERR_NBIO_NOT_RUNNING. A poller that failed is contained now instead,
   * if it was not yet.
   */
  stop(): void {
    if (this.#parts.containment.failure === undefined) {
      this.#quiet();
      const reactor = this.#reactor;
      reactor.shutdown();
      this.#parts.loop.dispatching(() => {
        this.#parts.batch.dispatch(reactor.takeEvents());
        // Closes held behind the bytes of paused connections: reported now.
        for (const [conn, close] of this.#parts.held.takeCloses()) this.#parts.deliver.finishClose(conn, close.status, close.detail);
      });
    }
    // What is left, if anything (a reactor that failed while shutting down: everything).
    this.#parts.containment.contain();
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
    this.#parts.deliver.endingAll = true;
    for (const conn of this.#parts.conns.all()) {
      if (conn.state !== ConnState.Connecting) conn.end();
      else if (this.#parts.dials.connecting(conn)) this.#parts.ops.close(conn);
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
    if (conn.state !== ConnState.Closed) this.#parts.deliver.failWith(conn, err);
  }

  /** Stops the watcher and every timer: nothing of this poller runs any more. */
  #quiet(): void {
    this.#running = false;
    if (this.#watcher !== undefined) native.watchStop(this.#watcher);
    this.#watcher = undefined;
    this.#parts.retries.clearAll();
    this.#parts.ops.deadlines.clearAll();
    this.#parts.dials.clearTimers();
    this.#parts.idle?.clearAll();
  }

  /**
   * The poller cannot go on (see the class doc): detached now, with its
   * figures as they were; contained on the next tick.
   */
  #fail(err: NbioError): void {
    this.#parts.figures.freeze(err.code);
    if (this.#parts.containment.fail(err)) process.nextTick(() => this.#parts.containment.contain());
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
    return this.#parts.opened.buffer;
  }

  /** What the poller counted (host/poller/poller-figures.ts). */
  get stats(): PollerStats {
    return this.#parts.figures.current;
  }

  /** Copies what the reactor counted into `slot` of `board` (a worker poller's figures for the engine's thread). */
  publishStats(board: StatsBoard, slot: number): void {
    this.#parts.figures.publish(board, slot);
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
    else this.#parts.dials.add(conn, waiter, how.target, how.connecting, how.timeout);
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
    this.#parts.loop.deliverPending();
    const failure = this.#parts.containment.failure;
    if (failure !== undefined || this.#parts.containment.contained) {
      this.#owned.remove(fd); // (handed over by another thread: recorded as this poller's)
      native.close(fd);
      return failure ?? new NbioError('ERR_NBIO_NOT_RUNNING', 'the engine stopped');
    }
    const reactor = this.#reactor;
    this.#owned.add(fd, FdRole.Conn);
    const handle = how.transport === 'udp' ? reactor.addDatagram(fd, 1) : reactor.addConn(fd, origin);
    // The reactor closed it (or, dead, left it to containment).
    if (handle < 0) return this.#parts.containment.failure ?? systemError(handle, 'epoll_ctl');
    const conn = new Conn(this.#parts.ops, handle, ConnState.Connecting, how.transport);
    this.#parts.conns.add(conn);
    if (how.buffered !== undefined && how.buffered.length > 0) {
      for (const chunk of how.buffered) this.#parts.held.hold(conn, chunk);
      this.#parts.held.resumed(conn);
    }
    // Unless it connects, its `opened` event is pending already.
    if (!how.connecting) this.#parts.loop.schedule();
    return conn;
  }
}
