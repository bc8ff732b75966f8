/**
 * The one path every poller failure takes (this thread's poller or a
 * worker's, a trap, a failed epoll, a dead thread, or a stop's last step):
 * everything the poller owned closed, each connection told once.
 */
import type { ConnIndex } from './conn-index.js';
import { Conn, ConnState, type ConnOwner } from '../api/conn.js';
import type { PendingDials } from './dials.js';
import { NbioError, type EngineError } from '../api/errors.js';
import type { EventDelivery } from './event-delivery.js';
import type { Handlers } from '../api/handlers.js';
import type { HeldReads } from './held-reads.js';
import type { OpenedConns } from './opened-conns.js';
import type { OwnedFds } from '../sys/owned-fds.js';
import { CloseCause } from '../guest/reactor.js';

/**
 * Failure containment: the one path by which a poller that can no longer
 * work ends, wherever the failure comes from: this thread's poller whose
 * reactor traps or whose epoll descriptor fails (host/poller/poller.ts, in
 * whichever thread it runs); a worker poller seen from the engine's
 * thread whose reactor failed, whose thread ended without being asked or
 * was terminated because it did not stop (host/pollers/poller-group.ts). A poller that
 * stops takes the same path as its last step, with nothing to report.
 *
 * Whatever the moment of the failure, once the path has run:
 * 1. the poller was detached as soon as the failure was noticed
 *    ({@link Containment.fail}): its watcher and timers stopped, nothing
 *    hands it connections any more;
 * 2. every descriptor in its table is closed at the host level (its
 *    listeners, epoll instance, connections, and sockets handed to it that
 *    it had not taken yet: host/sys/owned-fds.ts);
 * 3. the failure is reported once (`onError` on the engine's thread);
 * 4. each dial or adoption not open yet rejects with it (its socket was
 *    in the table), and each connection whose `onOpen` ran gets `onClose`
 *    with it, exactly once (host/poller/opened-conns.ts), in the thread that
 *    served it or, if that thread is gone, on the engine's thread;
 * 5. its owner hears of it (the engine stops if it was its own poller).
 * Its figures stay as they were last taken, with the connections then
 * open counted as closed by the failure (host/api/stats.ts), so that they
 * still add up.
 *
 * For a stop, dials left reject with ERR_NBIO_NOT_RUNNING and connections
 * left get `onClose` with `err` undefined; normally the stop closed them
 * all already and the path only checks.
 */
export class Containment {
  readonly #remains: Remains;
  readonly #owner: FailureOwner;
  #failure: NbioError | undefined;
  #contained = false;

  constructor(remains: Remains, owner: FailureOwner) {
    this.#remains = remains;
    this.#owner = owner;
  }

  /** Why the poller failed, once it has. */
  get failure(): NbioError | undefined {
    return this.#failure;
  }

  /** Whether the path has run. */
  get contained(): boolean {
    return this.#contained;
  }

  /**
   * The poller failed with `err`: records it and detaches the poller at
   * once (callable from anywhere, a reactor call included: it calls no
   * handler). False, doing nothing, if it had failed or ended already:
   * the first failure is the one reported.
   */
  fail(err: NbioError): boolean {
    if (this.#failure !== undefined || this.#contained) return false;
    this.#failure = err;
    this.#remains.detach();
    return true;
  }

  /** Runs the path (see the file's doc), once: with the failure, or as the end of a stop if none was recorded. */
  contain(): void {
    if (this.#contained) return;
    this.#contained = true;
    const err = this.#failure;
    const remains = this.#remains;
    remains.detach();
    remains.fds?.closeAll();
    if (err !== undefined) this.#owner.report(err);
    remains.rejectDials(err ?? new NbioError('ERR_NBIO_NOT_RUNNING', 'the engine stopped'));
    remains.closeOpened(err);
    if (err !== undefined) this.#owner.failed(err);
    this.#owner.handlers.rethrow();
  }
}

/** What a poller that ends leaves, for {@link Containment} to close and tell. */
export interface Remains {
  /** Stops everything that could still run for it or hand it work; calls no handler; idempotent. */
  detach(): void;
  /** Its descriptor table, once it has one. */
  readonly fds: OwnedFds | undefined;
  /** Rejects with `err` every dial or adoption not open yet. */
  rejectDials(err: EngineError): void;
  /** Calls `onClose` with `err` for every connection whose `onOpen` ran and whose `onClose` did not. */
  closeOpened(err: EngineError | undefined): void;
}

/** Who hears of a poller's failure. */
export interface FailureOwner {
  /** Where exceptions of the handlers called meanwhile are kept, to be raised after. */
  readonly handlers: Handlers;
  /** Reports the failure (onError on the engine's thread). */
  report(err: NbioError): void;
  /** The poller is contained. */
  failed(err: NbioError): void;
}

/** The parts of a poller (host/poller/poller.ts) its remains are in. */
export interface PollerParts {
  /** Stops its watcher and every timer; it delivers nothing more. */
  quiet(): void;
  owned: OwnedFds;
  conns: ConnIndex;
  held: HeldReads;
  dials: PendingDials;
  opened: OpenedConns;
  deliver: EventDelivery;
  /** Runs `tell` as a dispatch (calls its handlers make leave their events for later). */
  dispatching(tell: () => void): void;
}

/** The remains of a poller of this thread: its `Conn`s are here. */
export class PollerRemains implements Remains {
  readonly #p: PollerParts;

  constructor(parts: PollerParts) {
    this.#p = parts;
  }

  detach(): void {
    this.#p.quiet();
  }

  get fds(): OwnedFds {
    return this.#p.owned;
  }

  rejectDials(err: EngineError): void {
    const { dials, deliver, dispatching } = this.#p;
    dispatching(() => {
      for (const conn of dials.conns()) deliver.lost(conn, err);
    });
  }

  closeOpened(err: EngineError | undefined): void {
    const { conns, held, opened, deliver, dispatching } = this.#p;
    conns.clear();
    held.takeCloses(); // a close held behind unread bytes is told here, with the rest
    dispatching(() => {
      for (const conn of opened.take()) {
        if (err === undefined) deliver.finishClose(conn, CloseCause.Local, 0);
        else deliver.lost(conn, err);
      }
    });
  }
}

/**
 * The stand-in `Conn`s of the connections the engine's thread placed on a
 * worker poller (host/pollers/remote-conns.ts), as its remains settle them.
 */
export interface StandIns {
  /** Rejects the dials and adoptions placed there that had not opened yet. */
  rejectPending(err: Error): void;
  /** The open stand-in of the connection on `fd`, no longer kept; undefined if there is none. */
  takeOpen(fd: number): Conn | undefined;
  /** Drops every stand-in left: the worker closed and told them. */
  forgetAll(): void;
}

/** What the engine's thread keeps of a worker poller (host/pollers/poller-group.ts). */
export interface WorkerParts {
  /** Hands it nothing more. */
  detach(): void;
  /** Its descriptor table and its opened connections, once it started. */
  readonly fds: OwnedFds | undefined;
  readonly opened: OpenedConns | undefined;
  /** The stand-ins of the connections this thread placed there. */
  remotes: StandIns;
  handlers: Handlers;
}

/**
 * The remains of a worker poller, as the engine's thread settles them
 * once the thread has ended (never before: the thread might still close
 * a descriptor whose number is then reused). Its `Conn`s died with it: a
 * connection it served gets `onClose` here with its stand-in if this
 * thread placed it there and holds one, else with a `Conn` that is closed
 * already and carries no session.
 */
export class WorkerRemains implements Remains {
  readonly #w: WorkerParts;

  constructor(parts: WorkerParts) {
    this.#w = parts;
  }

  detach(): void {
    this.#w.detach();
  }

  get fds(): OwnedFds | undefined {
    return this.#w.fds;
  }

  rejectDials(err: EngineError): void {
    this.#w.remotes.rejectPending(err);
  }

  closeOpened(err: EngineError | undefined): void {
    const { opened, remotes, handlers } = this.#w;
    for (const { fd, count } of opened?.takeCounts() ?? []) {
      for (let i = 0; i < count; i++) {
        const conn = (i === 0 ? remotes.takeOpen(fd) : undefined) ?? new Conn(LOST, fd, ConnState.Closed);
        handlers.call(() => handlers.onClose(conn, err));
      }
    }
    remotes.forgetAll(); // closed there, told there
  }
}

/** The owner of connections lost with a dead worker: closed, so nothing ever calls it. */
const LOST: ConnOwner = new Proxy({} as ConnOwner, {
  get() {
    throw new Error('nbio-wasm: a connection of a dead poller was used');
  },
});
