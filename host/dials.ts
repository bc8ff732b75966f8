import type { ResolvedEndpoint } from './address.js';
import type { Conn } from './conn.js';

/** A connection handed to a poller and not open yet, and who waits for it. */
export interface PendingDial {
  resolve(conn: Conn): void;
  reject(err: Error): void;
  /** Where it was dialed (for error messages); undefined for an adopted socket. */
  target: ResolvedEndpoint | undefined;
  /** A TCP connect in progress (not merely an `opened` event to deliver). */
  connecting: boolean;
  timer: NodeJS.Timeout | undefined;
}

/**
 * The dials (and adoptions) of one poller whose connection has not opened
 * yet: the promise each `dial` returned, and its time-out, which calls
 * `expire` (the poller then closes the connection with the dial-timeout
 * cause, and the closing rejects the promise).
 */
export class PendingDials {
  readonly #pending = new Map<Conn, PendingDial>();
  readonly #expire: (conn: Conn) => void;

  constructor(expire: (conn: Conn) => void) {
    this.#expire = expire;
  }

  /** A promise for `conn`'s opening; a connect in progress gives up after `timeout` ms (0: no limit). */
  wait(conn: Conn, target: ResolvedEndpoint | undefined, connecting: boolean, timeout: number): Promise<Conn> {
    return new Promise<Conn>((resolve, reject) => {
      const dial: PendingDial = { resolve, reject, target, connecting, timer: undefined };
      if (connecting && timeout > 0) {
        dial.timer = setTimeout(() => {
          dial.timer = undefined;
          this.#expire(conn);
        }, timeout);
      }
      this.#pending.set(conn, dial);
    });
  }

  /** Whether `conn` is a connect in progress. */
  connecting(conn: Conn): boolean {
    return this.#pending.get(conn)?.connecting ?? false;
  }

  /** Removes `conn`'s pending dial, if it has one, and stops its timer. */
  take(conn: Conn): PendingDial | undefined {
    const dial = this.#pending.get(conn);
    if (dial === undefined) return undefined;
    this.#pending.delete(conn);
    clearTimeout(dial.timer);
    return dial;
  }

  /** Stops every time-out (the poller stops; the dials are settled by their closing). */
  clearTimers(): void {
    for (const dial of this.#pending.values()) {
      clearTimeout(dial.timer);
      dial.timer = undefined;
    }
  }
}
