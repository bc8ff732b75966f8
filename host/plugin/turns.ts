/**
 * Keeping one plugin from holding the thread across many events: each
 * event is bounded (fuel, `timePerEvent`), but a plugin serving many
 * connections gets many events in one batch of the poller. Once the
 * events of a poller's plugin have held the thread for
 * {@link TURN_BUDGET_MS} of wall-clock time since the event loop last
 * turned, its further events wait, in order, for the next turn (a
 * `setImmediate`), when they run within the same budget again. A connection with more than
 * {@link MAX_WAITING_BYTES} waiting is paused until they have run, so that
 * the kernel holds what its peer sends meanwhile.
 *
 * Also here: why a connection is paused, when several reasons may hold it.
 */
import type { Conn } from '../conn.js';

/** Wall-clock time a poller's plugin may hold the thread before the event loop turns. */
export const TURN_BUDGET_MS = 4;
/** Time after which the end of the turn is watched (a `setImmediate`; none for plugins that take less). */
const WATCH_AFTER_MS = 0.5;
/** A gap between two events of the plugin after which the second starts a turn of its own. */
const IDLE_GAP_MS = 1;
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

/**
 * The time a poller's plugin has held the thread in this turn of the event
 * loop, and the events waiting for the next turn. The time is read once
 * per event, when it comes (the clock the event then runs by): the turn's
 * time is from its first event of the plugin to the latest, the plugin's
 * events and what the engine did around them. A plugin event after a gap
 * of {@link IDLE_GAP_MS} starts a new turn: the loop did other things.
 */
export class TurnBudget {
  readonly #deliver: (event: WaitingEvent, now: number) => void;
  readonly #pauses: Pauses;
  readonly #queue: WaitingEvent[] = [];
  /** Events (closes not counted) and bytes waiting per connection. */
  readonly #perConn = new Map<Conn, { events: number; bytes: number }>();
  /** When the turn's first event came (-1: none yet), and the latest. */
  #turnStart = -1;
  #lastEvent = 0;
  #watching = false;
  #stopped = false;

  /** `deliver` runs a waiting event when its turn comes, `now` being the time it runs from. */
  constructor(deliver: (event: WaitingEvent, now: number) => void, pauses: Pauses) {
    this.#deliver = deliver;
    this.#pauses = pauses;
  }

  /**
   * Whether an event that comes at `now` (performance.now()) may run now:
   * not while earlier events wait, nor once this turn has taken
   * {@link TURN_BUDGET_MS}.
   */
  admits(now: number): boolean {
    return this.#queue.length === 0 && this.#within(now, TURN_BUDGET_MS);
  }

  /** Counts an event at `now` in the turn; whether the turn is still within `budget`. */
  #within(now: number, budget: number): boolean {
    if (this.#turnStart < 0 || now - this.#lastEvent > IDLE_GAP_MS) this.#turnStart = now;
    this.#lastEvent = now;
    const used = now - this.#turnStart;
    if (!this.#watching && !this.#stopped && used > WATCH_AFTER_MS) {
      this.#watching = true;
      setImmediate(() => this.#turned());
    }
    return used <= budget;
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
    this.#turnStart = -1;
    if (!this.#stopped) this.#run(TURN_BUDGET_MS);
  }

  /** Runs waiting events in order until the queue is empty or the turn has taken `budget` ms. */
  #run(budget: number): void {
    const queue = this.#queue;
    let i = 0;
    while (i < queue.length && !this.#stopped) {
      const now = performance.now();
      if (!this.#within(now, budget)) break;
      const event = queue[i++];
      this.#deliver(event, now);
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
