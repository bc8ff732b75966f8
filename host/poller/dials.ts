/**
 * Connections handed to a poller that have not opened yet (dials, adopted
 * sockets), and who waits for each to open.
 */
import type { ResolvedEndpoint } from '../api/address.js';
import type { Conn } from '../api/conn.js';

/**
 * Who waits for a connection handed to a poller to open: the promise a
 * `dial` returned, or a worker's report to the engine's thread
 * (host/poller-worker.ts). Called synchronously, once: `resolve` right
 * after the connection's onOpen, `reject` when it closed (or its poller
 * ended) before it opened.
 */
export interface DialWaiter {
  resolve(conn: Conn): void;
  reject(err: Error): void;
}

/** A connection handed to a poller and not open yet, and who waits for it. */
export interface PendingDial extends DialWaiter {
  /** Where it was dialed (for error messages); undefined for an adopted socket. */
  target: ResolvedEndpoint | undefined;
  /** A TCP connect in progress (not merely an `opened` event to deliver). */
  connecting: boolean;
  timer: NodeJS.Timeout | undefined;
}

/**
 * The dials (and adoptions) of one poller whose connection has not opened
 * yet: who waits for each, and its time-out, which calls `expire` (the
 * poller then closes the connection with the dial-timeout cause, and the
 * closing rejects the wait).
 */
export class PendingDials {
  readonly #pending = new Map<Conn, PendingDial>();
  readonly #expire: (conn: Conn) => void;

  constructor(expire: (conn: Conn) => void) {
    this.#expire = expire;
  }

  /** `waiter` waits for `conn`'s opening; a connect in progress gives up after `timeout` ms (0: no limit). */
  add(conn: Conn, waiter: DialWaiter, target: ResolvedEndpoint | undefined, connecting: boolean, timeout: number): void {
    const dial: PendingDial = { resolve: waiter.resolve, reject: waiter.reject, target, connecting, timer: undefined };
    if (connecting && timeout > 0) {
      dial.timer = setTimeout(() => {
        dial.timer = undefined;
        this.#expire(conn);
      }, timeout);
    }
    this.#pending.set(conn, dial);
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

  /** The connections still waited for. */
  conns(): Conn[] {
    return [...this.#pending.keys()];
  }

  /** Stops every time-out (the poller stops; the dials are settled by their closing). */
  clearTimers(): void {
    for (const dial of this.#pending.values()) {
      clearTimeout(dial.timer);
      dial.timer = undefined;
    }
  }
}
