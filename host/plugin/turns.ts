/**
 * Keeping one plugin from holding the thread across many events: each
 * event is bounded (fuel, `timePerEvent`), but a plugin serving many
 * connections gets many events in one batch of the poller. Once the
 * events of a poller's plugin have taken {@link TURN_BUDGET_MS} of wall-
 * clock time since the event loop last turned, its further events wait,
 * in order, for the next turn (a `setImmediate`), when they run within
 * the same budget again. A connection with more than
 * {@link MAX_WAITING_BYTES} waiting is paused until they have run, so that
 * the kernel holds what its peer sends meanwhile.
 *
 * Also here: why a connection is paused, when several reasons may hold it.
 */
import type { Conn } from '../conn.js';

/** Wall-clock time a poller's plugin may run before the event loop turns. */
export const TURN_BUDGET_MS = 2;
/** Time spent after which the end of the turn is watched (a `setImmediate`; none for plugins that use less). */
const WATCH_AFTER_MS = 0.5;
/** Bytes of data a connection may have waiting for the next turn before it is paused. */
export const MAX_WAITING_BYTES = 64 * 1024;

/** Why a connection is paused; it reads again once no reason is left. */
export const enum PauseReason {
  /** The plugin paused it. */
  Plugin = 1,
  /** It opened while no instance could take it (a re-creation is pending). */
  Waiting = 2,
  /** Its events wait for the next turn. */
  Turn = 4,
}

/** The reasons each paused connection is paused for. */
export class Pauses {
  readonly #reasons = new Map<Conn, number>();

  add(conn: Conn, reason: PauseReason): void {
    const reasons = this.#reasons.get(conn) ?? 0;
    if (reasons === 0) conn.pause();
    this.#reasons.set(conn, reasons | reason);
  }

  remove(conn: Conn, reason: PauseReason): void {
    const reasons = this.#reasons.get(conn);
    if (reasons === undefined || (reasons & reason) === 0) return;
    if (reasons === reason) {
      this.#reasons.delete(conn);
      conn.resume();
    } else {
      this.#reasons.set(conn, reasons & ~reason);
    }
  }

  has(conn: Conn, reason: PauseReason): boolean {
    return ((this.#reasons.get(conn) ?? 0) & reason) !== 0;
  }

  /** The connection closed: nothing to resume. */
  forget(conn: Conn): void {
    this.#reasons.delete(conn);
  }
}

/** An event that waits for the next turn. `data` is a copy; `err` what a close's onClose received. */
export type WaitingEvent =
  | { kind: 'open'; conn: Conn }
  | { kind: 'data'; conn: Conn; data: Uint8Array }
  | { kind: 'drain'; conn: Conn }
  | { kind: 'close'; conn: Conn; err: Error | undefined };

/** The time a poller's plugin ran since the event loop last turned, and the events waiting for the next turn. */
export class TurnBudget {
  readonly #deliver: (event: WaitingEvent) => void;
  readonly #pauses: Pauses;
  readonly #queue: WaitingEvent[] = [];
  /** Events (closes not counted) and bytes waiting per connection. */
  readonly #perConn = new Map<Conn, { events: number; bytes: number }>();
  #busy = 0;
  #watching = false;
  #stopped = false;

  /** `deliver` runs a waiting event when its turn comes. */
  constructor(deliver: (event: WaitingEvent) => void, pauses: Pauses) {
    this.#deliver = deliver;
    this.#pauses = pauses;
  }

  /** Whether a new event must wait: the turn's budget is used, or earlier events wait. */
  get full(): boolean {
    return this.#queue.length > 0 || this.#busy > TURN_BUDGET_MS;
  }

  /** Events waiting. */
  get waiting(): number {
    return this.#queue.length;
  }

  /** An event of the plugin took `ms`. */
  spent(ms: number): void {
    this.#busy += ms;
    if (!this.#watching && !this.#stopped && this.#busy > WATCH_AFTER_MS) {
      this.#watching = true;
      setImmediate(() => this.#turned());
    }
  }

  /** Queues an event for the next turn (pausing its connection if it has too much data waiting). */
  wait(event: WaitingEvent): void {
    if (event.kind !== 'close') {
      let waiting = this.#perConn.get(event.conn);
      if (waiting === undefined) this.#perConn.set(event.conn, (waiting = { events: 0, bytes: 0 }));
      waiting.events++;
      if (event.kind === 'data') {
        waiting.bytes += event.data.length;
        if (waiting.bytes > MAX_WAITING_BYTES) this.#pauses.add(event.conn, PauseReason.Turn);
      }
    }
    this.#queue.push(event);
  }

  /** Runs every waiting event now, whatever the budget (the engine stops). */
  flush(): void {
    this.#run(Infinity);
  }

  /** No more turns: waiting events are dropped. */
  stop(): void {
    this.#stopped = true;
    this.#queue.length = 0;
    this.#perConn.clear();
  }

  #turned(): void {
    this.#watching = false;
    this.#busy = 0;
    if (!this.#stopped) this.#run(TURN_BUDGET_MS);
  }

  /** Runs waiting events in order until the queue is empty or `budget` ms are used. */
  #run(budget: number): void {
    const queue = this.#queue;
    let i = 0;
    while (i < queue.length && this.#busy <= budget && !this.#stopped) {
      const event = queue[i++];
      this.#deliver(event);
      if (event.kind === 'close') continue;
      const waiting = this.#perConn.get(event.conn)!;
      if (event.kind === 'data') waiting.bytes -= event.data.length;
      if (--waiting.events === 0) {
        this.#perConn.delete(event.conn);
        this.#pauses.remove(event.conn, PauseReason.Turn);
      }
    }
    queue.splice(0, i);
  }
}
