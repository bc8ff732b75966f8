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
import type { Conn } from '../api/conn.js';

/** Wall-clock time a poller's plugin may hold the thread before the event loop turns. */
const TURN_BUDGET_MS = 8;
/** The clock is read at least every so many events of the plugin, and every so much fuel it uses. */
const CHECK_EVERY_EVENTS = 16;
const CHECK_EVERY_FUEL = 1_000_000;
/** Time of a turn after which its every event is timed. */
const TIMED_AFTER_MS = 2;
/** Bytes of data a connection may have waiting for the next turn before it is paused. */
const MAX_WAITING_BYTES = 64 * 1024;

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
  | { kind: 'close'; conn: Conn };

/**
 * The time a poller's plugin has held the thread in this turn of the event
 * loop, and the events waiting for the next turn. Reading the clock at
 * every event cost the echo plugin 0.2-0.3 us of CPU per message over
 * loopback (some 5 %), so the budget is kept in two ways. At first the
 * clock is read only every {@link CHECK_EVERY_EVENTS} events, once the
 * plugin has used {@link CHECK_EVERY_FUEL} units of fuel since the last
 * reading, or after an event that used more than a slice (which the
 * instance reports with how long it ran): an event that used less than a
 * slice took well under a millisecond. Those readings see the turn's
 * wall-clock time, the engine's work around the events included. Once the
 * turn has taken
 * {@link TIMED_AFTER_MS}, the supervisor times every further event of the
 * turn, and only the plugin's own time counts from then on (with all of the
 * turn before): a busy engine serving a plugin that does little does not
 * make its events wait. The first reading of a turn starts it (and the
 * `setImmediate` that ends it), so a turn never counts another's time.
 */
export class TurnBudget {
  readonly #deliver: (event: WaitingEvent) => void;
  readonly #pauses: Pauses;
  /** The fuel the plugin has used so far, all instances together. */
  readonly #fuel: () => number;
  readonly #queue: WaitingEvent[] = [];
  /** Events (closes not counted) and bytes waiting per connection. */
  readonly #perConn = new Map<Conn, { events: number; bytes: number }>();
  /** Events and fuel since the clock was last read. */
  #events = 0;
  #fuelAtReading = 0;
  /** When this turn started (-1: no reading yet). */
  #turnStart = -1;
  /** Whether every event is timed, the time counted so far, and when the event being timed began (-1: none). */
  #timing = false;
  #used = 0;
  #eventStart = -1;
  #stopped = false;

  /** `deliver` runs a waiting event when its turn comes; `fuel` tells the fuel the plugin used so far. */
  constructor(deliver: (event: WaitingEvent) => void, pauses: Pauses, fuel: () => number) {
    this.#deliver = deliver;
    this.#pauses = pauses;
    this.#fuel = fuel;
  }

  /** Whether an event may run now: not while earlier events wait, nor once this turn has taken {@link TURN_BUDGET_MS}. */
  admits(): boolean {
    if (this.#queue.length > 0) return false;
    if (this.#timing) return this.#used <= TURN_BUDGET_MS;
    if (++this.#events >= CHECK_EVERY_EVENTS || this.#fuel() - this.#fuelAtReading >= CHECK_EVERY_FUEL) this.#read(0);
    return true;
  }

  /** Whether the event about to run must be timed ({@link begin}, {@link end}). */
  get timing(): boolean {
    return this.#timing;
  }

  /** A timed event begins. */
  begin(): void {
    this.#eventStart = performance.now();
  }

  /** A timed event ended: its time counts. */
  end(): void {
    this.#used += performance.now() - this.#eventStart;
    this.#eventStart = -1;
  }

  /** An event ran `ms` past its first slice of fuel (more than the readings between events see). */
  ranLong(ms: number): void {
    if (this.#eventStart < 0) this.#read(ms); // a timed event is counted whole by end()
  }

  /** Reads the clock; `extra` ms ran before now that no reading saw. Starts timing events once the turn has taken {@link TIMED_AFTER_MS}. */
  #read(extra: number): void {
    const now = performance.now();
    this.#events = 0;
    this.#fuelAtReading = this.#fuel();
    if (this.#turnStart < 0) this.#startTurn(now - extra);
    if (now - this.#turnStart > TIMED_AFTER_MS) {
      this.#timing = true;
      this.#used = now - this.#turnStart;
    }
  }

  /** A turn starts at `at`; the `setImmediate` that comes after this turn ends it. */
  #startTurn(at: number): void {
    this.#turnStart = at;
    if (!this.#stopped) setImmediate(() => this.#turned());
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
    this.#run(true);
  }

  /** No more turns: waiting events are dropped. */
  stop(): void {
    this.#stopped = true;
    this.#queue.length = 0;
    this.#perConn.clear();
  }

  #turned(): void {
    this.#turnStart = -1;
    this.#timing = false;
    this.#used = 0;
    this.#events = 0;
    if (!this.#stopped && this.#queue.length > 0) this.#run(false);
  }

  /**
   * Runs waiting events in order, each timed, until the queue is empty or,
   * unless `all`, they have taken {@link TURN_BUDGET_MS} (then the rest
   * waits for the turn after).
   */
  #run(all: boolean): void {
    const queue = this.#queue;
    this.#timing = true;
    if (this.#turnStart < 0) this.#startTurn(performance.now());
    let i = 0;
    while (i < queue.length && !this.#stopped && (all || this.#used <= TURN_BUDGET_MS)) {
      const event = queue[i++];
      this.begin();
      this.#deliver(event);
      this.end();
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
