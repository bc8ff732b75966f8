/**
 * When a poller runs its reactor and dispatches: on the epoll descriptor's
 * readiness, until its backlog is done, never inside a dispatch.
 */
import type { BatchDispatch } from './batch-dispatch.js';
import type { EventDelivery } from './event-delivery.js';
import type { Handlers } from '../api/handlers.js';
import type { HeldReads } from './held-reads.js';
import type { Reactor } from '../guest/reactor.js';

/** What a poller's {@link DispatchLoop} drives. */
export interface LoopContext {
  reactor: Reactor;
  batch: BatchDispatch;
  held: HeldReads;
  deliver: EventDelivery;
  handlers: Handlers;
  /** Whether the poller still serves (nothing is delivered once it stopped or failed). */
  running(): boolean;
  /** The libuv watcher reported an error on the epoll descriptor (a negated errno). */
  watchFailed(status: number): void;
  /** Runs after every dispatch (connections may have opened or closed). */
  settled(): void;
}

/**
 * When one poller delivers its reactor's events: after each readiness
 * report of its epoll descriptor ({@link onReadable}, the libuv watcher's
 * callback: `run-once` until nothing is left), and, for the events that
 * calls made between batches caused (a write from a timer, a close), in a
 * `setImmediate` or with the next batch, whichever comes first. Calls
 * that handlers make during a dispatch leave their events for that
 * dispatch to pick up. After each dispatch `settled` runs and the first
 * exception a handler threw is raised.
 */
export class DispatchLoop {
  readonly #c: LoopContext;
  #dispatching = false;
  /** The reactor may hold events caused by calls made outside `run-once`. */
  #eventsPending = false;
  #drainScheduled = false;

  constructor(context: LoopContext) {
    this.#c = context;
  }

  /** Runs when the epoll instance has something ready, or with a negated errno when the watcher failed. */
  readonly onReadable = (status?: number): void => {
    const c = this.#c;
    if (!c.running()) return;
    if (status !== undefined) return c.watchFailed(status);
    const { reactor, batch } = c;
    // As dispatching() does, without a closure per wake-up.
    this.#dispatching = true;
    try {
      batch.dispatch(reactor.runOnce(0));
      while (reactor.backlog() > 0) batch.dispatch(reactor.runOnce(0));
      this.#drainPending();
    } finally {
      this.#dispatching = false;
    }
    c.settled();
    c.handlers.rethrow();
  };

  /**
   * Runs `deliver` marked as dispatching: calls made by handlers meanwhile
   * leave the events they cause for the dispatch to pick up, instead of
   * scheduling a delivery of their own.
   */
  dispatching(deliver: () => void): void {
    this.#dispatching = true;
    try {
      deliver();
    } finally {
      this.#dispatching = false;
    }
  }

  /** A call outside `run-once` may have caused events: they are delivered as soon as possible. */
  schedule(): void {
    this.#eventsPending = true;
    if (this.#dispatching || this.#drainScheduled) return;
    this.#drainScheduled = true;
    setImmediate(() => {
      this.#drainScheduled = false;
      this.deliverPending();
    });
  }

  /** Outside a dispatch: delivers the events calls made since the last batch caused. */
  deliverPending(): void {
    const c = this.#c;
    if (this.#dispatching || !this.#eventsPending || !c.running()) return;
    this.dispatching(() => this.#drainPending());
    c.settled();
    c.handlers.rethrow();
  }

  /** Dispatches events the reactor holds because of calls made between batches. */
  #drainPending(): void {
    const { reactor, batch, held, deliver } = this.#c;
    while (this.#eventsPending) {
      this.#eventsPending = false;
      batch.dispatch(reactor.takeEvents());
      if (held.pending) deliver.deliverHeld();
    }
  }
}
