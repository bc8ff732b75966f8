/**
 * Read, write and linger deadlines of a poller's connections, on one timer
 * each, and the errors they close connections with.
 */
import { NbioError } from '../api/errors.js';

/**
 * Which deadline of a connection: the application's read and write
 * deadlines, and the linger time-out of a connection that ended (its FIN
 * sent, it waits for the peer's end; host/poller/conn-ops.ts).
 */
export type DeadlineKind = 'read' | 'write' | 'linger';

const KINDS: readonly DeadlineKind[] = ['read', 'write', 'linger'];

/** The timers of one key; a kind is absent when that deadline is not set. */
type Timers = { [kind in DeadlineKind]?: NodeJS.Timeout };

/** setTimeout's largest delay; longer deadlines are reached in steps. */
const MAX_DELAY = 0x7fffffff;

/**
 * Deadline timers of connections, kept only for connections that set one,
 * so idle connections pay nothing. `expire` runs when a deadline passes.
 */
export class Deadlines<K> {
  readonly #timers = new Map<K, Timers>();
  readonly #expire: (key: K, kind: DeadlineKind) => void;

  constructor(expire: (key: K, kind: DeadlineKind) => void) {
    this.#expire = expire;
  }

  /**
   * Sets the `kind` deadline of `key` to `deadline` (a Date, or ms since the
   * epoch), replacing the previous one; undefined or 0 clears it. A time in
   * the past expires at once. Throws ERR_NBIO_INVALID_ARG for anything
   * that is not a finite time.
   */
  set(key: K, kind: DeadlineKind, deadline: Date | number | undefined): void {
    const at = deadline instanceof Date ? deadline.getTime() : deadline ?? 0;
    if (typeof at !== 'number' || !Number.isFinite(at)) {
      throw new NbioError('ERR_NBIO_INVALID_ARG', `a deadline must be a Date, a time in ms or undefined, got ${String(deadline)}`);
    }
    let timers = this.#timers.get(key);
    clearTimeout(timers?.[kind]);
    if (timers) delete timers[kind];
    if (at === 0) {
      if (timers && isEmpty(timers)) this.#timers.delete(key);
      return;
    }
    if (!timers) {
      timers = {};
      this.#timers.set(key, timers);
    }
    this.#arm(key, kind, timers, at);
  }

  /** Clears every deadline of `key`. */
  clear(key: K): void {
    const timers = this.#timers.get(key);
    if (timers === undefined) return;
    for (const kind of KINDS) clearTimeout(timers[kind]);
    this.#timers.delete(key);
  }

  /** Clears every deadline. */
  clearAll(): void {
    for (const key of [...this.#timers.keys()]) this.clear(key);
  }

  #arm(key: K, kind: DeadlineKind, timers: Timers, at: number): void {
    const delay = Math.max(0, at - Date.now());
    timers[kind] = setTimeout(() => {
      if (delay > MAX_DELAY) return this.#arm(key, kind, timers, at);
      delete timers[kind];
      if (isEmpty(timers)) this.#timers.delete(key);
      this.#expire(key, kind);
    }, Math.min(delay, MAX_DELAY));
  }
}

function isEmpty(timers: Timers): boolean {
  return KINDS.every((kind) => timers[kind] === undefined);
}
