/**
 * The bytes (and a close behind them) a paused connection had already read
 * when it paused, kept until it resumes.
 */
import type { Conn } from '../api/conn.js';

/** A close that came behind held bytes: the `closed` event's status and failed call. */
export interface HeldClose {
  status: number;
  detail: number;
}

/** What one paused connection holds. */
interface Held {
  chunks: Uint8Array[];
  /** The peer's end of stream came behind the chunks. */
  ended: boolean;
  close: HeldClose | undefined;
}

/**
 * Bytes that paused connections had already read when `pause()` took
 * effect (the rest of the reactor's batch), and the peer's end and a close
 * that came behind them, kept by a poller to deliver in order once the
 * connection resumes. Also bytes an adopted socket had buffered before the
 * engine took it over, delivered before the engine reads it.
 * Also the list of connections resumed (or closed) since the last drain,
 * whose holdings are to be delivered.
 */
export class HeldReads {
  readonly #held = new Map<Conn, Held>();
  #resumed: Conn[] = [];

  /** Whether `conn` holds anything: then its new bytes must be held too, to keep the order. */
  has(conn: Conn): boolean {
    return this.#held.has(conn);
  }

  /** Keeps a copy of `data` for `conn`. */
  hold(conn: Conn, data: Uint8Array): void {
    this.#of(conn).chunks.push(data.slice());
  }

  /** Keeps `conn`'s close behind what it holds; false (nothing kept) if it holds nothing. */
  holdClose(conn: Conn, close: HeldClose): boolean {
    const held = this.#held.get(conn);
    if (held === undefined) return false;
    held.close = close;
    return true;
  }

  /** Keeps the peer's end behind what `conn` holds; false (nothing kept) if it holds nothing. */
  holdEnd(conn: Conn): boolean {
    const held = this.#held.get(conn);
    if (held === undefined) return false;
    held.ended = true;
    return true;
  }

  /** Whether `conn`'s close is held. */
  hasClose(conn: Conn): boolean {
    return this.#held.get(conn)?.close !== undefined;
  }

  /** Drops `conn`'s bytes (not its close). */
  dropBytes(conn: Conn): void {
    const held = this.#held.get(conn);
    if (held !== undefined) held.chunks.length = 0;
  }

  /** Forgets everything `conn` holds. */
  delete(conn: Conn): void {
    this.#held.delete(conn);
  }

  /** Marks `conn` for delivery by the next drain. */
  resumed(conn: Conn): void {
    this.#resumed.push(conn);
  }

  /** Whether connections wait for delivery. */
  get pending(): boolean {
    return this.#resumed.length > 0;
  }

  /** Takes the connections marked for delivery. */
  takeResumed(): Conn[] {
    return this.#resumed.splice(0);
  }

  /** What `conn` holds: its chunks (taken in order with `shift`), its end and its close. */
  get(conn: Conn): Held | undefined {
    return this.#held.get(conn);
  }

  /** Takes every held close (at stop), forgetting everything. */
  takeCloses(): [Conn, HeldClose][] {
    const closes: [Conn, HeldClose][] = [];
    for (const [conn, held] of this.#held) if (held.close !== undefined) closes.push([conn, held.close]);
    this.#held.clear();
    this.#resumed = [];
    return closes;
  }

  #of(conn: Conn): Held {
    let held = this.#held.get(conn);
    if (held === undefined) {
      held = { chunks: [], ended: false, close: undefined };
      this.#held.set(conn, held);
    }
    return held;
  }
}
