/**
 * How a poller is put together: its reactor instantiated and initialised on
 * the Linux `sys`, and the parts of this folder built and connected to each
 * other. host/poller/poller.ts owns the result and drives it.
 */
import { BatchDispatch } from './batch-dispatch.js';
import { ConnIndex } from './conn-index.js';
import { ConnOps } from './conn-ops.js';
import { DispatchLoop } from './dispatch-loop.js';
import type { Conn } from '../api/conn.js';
import { Containment, PollerRemains } from './containment.js';
import { PendingDials } from './dials.js';
import { NbioError, systemError } from '../api/errors.js';
import { EventDelivery } from './event-delivery.js';
import { pollerSyscallFailed } from './fault.js';
import { GuestMemory } from '../guest/memory.js';
import { HeldReads } from './held-reads.js';
import type { Handlers } from '../api/handlers.js';
import { IdleTimers } from './idle-timers.js';
import { ListenerRetries } from './listener-retry.js';
import { ERRNO } from '../sys/native.js';
import { OpenedConns } from './opened-conns.js';
import type { PollerSettings } from './settings.js';
import { OwnedFds } from '../sys/owned-fds.js';
import { PluginDispatch } from '../plugin/adapter.js';
import { CloseCause, type Reactor } from '../guest/reactor.js';
import { instantiateReactor } from './reactor-loader.js';
import { PollerFigures } from './poller-figures.js';
import { linuxSys } from '../sys/linux.js';
import { WritePath } from './write-path.js';

/** A reactor ready to serve: its memory, the descriptors it owns, and its epoll instance. */
export interface OpenedReactor {
  reactor: Reactor;
  mem: GuestMemory;
  owned: OwnedFds;
  epfd: number;
}

/**
 * Instantiates a reactor on the Linux `sys` and initialises it with
 * `settings` (creating its epoll instance); `onFault` hears of any trap or
 * throw of its exports from then on. Throws a system error (syscall
 * 'epoll_create1') if that fails, or ERR_NBIO_INVALID_OPTION if `maxMemory`
 * cannot even hold the read batch, every descriptor it opened closed.
 */
export function openReactor(settings: PollerSettings, onFault: (error: unknown) => void): OpenedReactor {
  const mem = new GuestMemory();
  const owned = new OwnedFds();
  try {
    const reactor = instantiateReactor(linuxSys(mem, owned), mem, { onFault });
    const { readBufferSize, maxWriteBufferSize, maxConnReadTimesPerEventLoop, noDelay, maxMemory, edgeTriggered } = settings;
    const epfd = reactor.init(
      readBufferSize, maxWriteBufferSize, maxConnReadTimesPerEventLoop, noDelay ? 1 : 0, maxMemory, edgeTriggered ? 1 : 0,
    );
    if (epfd === -ERRNO.ENOMEM) {
      throw new NbioError('ERR_NBIO_INVALID_OPTION', `maxMemory (${maxMemory} bytes) cannot hold the reactor's read batch (readBufferSize ${readBufferSize})`);
    }
    if (epfd < 0) throw systemError(epfd, 'epoll_create1');
    return { reactor, mem, owned, epfd };
  } catch (err) {
    owned.closeAll();
    throw err;
  }
}

/** What the parts call back into the poller that owns them (each read when called, so the poller may change it later). */
export interface PollerHooks {
  /** Whether the poller is serving (started and not stopped). */
  running(): boolean;
  /** The poller's `onClosed`, if set. */
  closed(): ((conn: Conn, err: Error | undefined) => void) | undefined;
  /** The poller cannot go on: detach it, contain it later. */
  fail(err: NbioError): void;
  /** An acceptor accepted `fd`: the poller's `onAccepted`. */
  accepted(fd: number): void;
  /** A dispatch ended (connections may have opened or closed). */
  settled(): void;
  /** Stops the poller's watcher and every timer. */
  quiet(): void;
  /** Reports a failure of the poller (its `reportFailure`). */
  report(err: NbioError): void;
  /** The poller failed and was contained (its `onFailure`). */
  failed(err: NbioError): void;
}

/** The parts of one poller, connected to each other: what host/poller/poller.ts drives. */
export interface PollerWiring {
  conns: ConnIndex;
  /** The connections told open and not yet closed: what a failure owes an onClose. */
  opened: OpenedConns;
  /** What paused connections had read before the pause, delivered after they resume. */
  held: HeldReads;
  ops: ConnOps;
  dials: PendingDials;
  /** UDP peers' idle timers, when `udpReadTimeout` is set. */
  idle: IdleTimers<Conn> | undefined;
  deliver: EventDelivery;
  batch: BatchDispatch;
  retries: ListenerRetries;
  loop: DispatchLoop;
  figures: PollerFigures;
  /** How the poller ends when it fails, and when it stops (host/poller/containment.ts). */
  containment: Containment;
}

/** Builds the parts of a poller around `opened`, serving `handlers` as `settings` say, calling back through `hooks`. */
export function wirePoller(handlers: Handlers, settings: PollerSettings, { reactor, mem, owned }: OpenedReactor, hooks: PollerHooks): PollerWiring {
  const writer = new WritePath(mem, reactor);
  const conns = new ConnIndex();
  const opened = new OpenedConns();
  const held = new HeldReads();
  // The loop and the containment are built last: the parts before them
  // reach them only from callbacks, which run once the poller serves.
  const ops = new ConnOps({
    reactor, writer, index: conns, held, owned, pluginServed: handlers instanceof PluginDispatch,
    lingerTimeout: settings.lingerTimeout, pausedHangUpTimeout: settings.pausedHangUpTimeout, scheduleDrain: () => loop.schedule(),
  });
  const dials = new PendingDials((conn) => ops.closeWith(conn, CloseCause.DialTimeout));
  const idle = settings.udpReadTimeout > 0
    ? new IdleTimers<Conn>(settings.udpReadTimeout, (conn) => ops.closeWith(conn, CloseCause.ReadTimeout))
    : undefined;
  const deliver = new EventDelivery({
    handlers, settings, mem, writer, conns, held, ops, dials, idle, opened,
    running: hooks.running,
    closed: hooks.closed,
  });
  const retries = new ListenerRetries((fd) => reactor.resumeListener(fd), handlers);
  const figures = new PollerFigures(reactor, mem);
  const batch = new BatchDispatch({
    mem, conns, deliver,
    failed: () => containment.failure !== undefined,
    fail: hooks.fail,
    listenerPaused: (fd, errno) => retries.paused(fd, errno),
    accepted: hooks.accepted,
  });
  const loop = new DispatchLoop({
    reactor, batch, held, deliver, handlers,
    running: hooks.running,
    watchFailed: (status) => hooks.fail(pollerSyscallFailed(status, 'uv_poll')),
    settled: hooks.settled,
  });
  const remains = new PollerRemains({
    quiet: hooks.quiet, owned, conns, held, dials, opened, deliver,
    dispatching: (tell) => loop.dispatching(tell),
  });
  const containment = new Containment(remains, { handlers, report: hooks.report, failed: hooks.failed });
  return { conns, opened, held, ops, dials, idle, deliver, batch, retries, loop, figures, containment };
}
