/**
 * Read, write and linger deadlines of a poller's connections, and their
 * read time-outs (a deadline that each read moves), on one timer each.
 */
/**
 * Which deadline of a connection: the application's read and write
 * deadlines, its read time-out (`conn.setReadTimeout`: expires as `read`),
 * the linger time-out of a connection that ended (its FIN sent, it
 * waits for the peer's end), and how long a paused connection whose peer
 * hung up keeps its descriptor (host/poller/conn-ops.ts).
 */
export type DeadlineKind = 'read' | 'write' | 'linger' | 'hangUp';

type TimerKind = DeadlineKind | 'readIdle';

const KINDS: readonly TimerKind[] = ['read', 'write', 'linger', 'hangUp', 'readIdle'];

/** The timers of one key; a kind is absent when that deadline is not set. */
type Timers = { [kind in TimerKind]?: NodeJS.Timeout };

/** A read time-out: its length, and when the connection last read. */
interface ReadIdle {
  readonly ms: number;
  lastRead: number;
}

/** setTimeout's largest delay; longer deadlines are reached in steps. */
const MAX_DELAY = 0x7fffffff;

/**
 * Deadline timers of connections, kept only for connections that set one,
 * so idle connections pay nothing. `expire` runs when a deadline passes.
 */
export class Deadlines<K> {
  readonly #timers = new Map<K, Timers>();
  readonly #readIdle = new Map<K, ReadIdle>();
  readonly #expire: (key: K, kind: DeadlineKind) => void;

  constructor(expire: (key: K, kind: DeadlineKind) => void) {
    this.#expire = expire;
  }

  /**
   * Sets the `kind` deadline of `key` to `at` (ms since the epoch, checked
   * by the caller), replacing the previous one; 0 clears it. A time in the
   * past expires at once.
   */
  set(key: K, kind: DeadlineKind, at: number): void {
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

  /**
   * Sets `key`'s read time-out: it expires as a `read` deadline once
   * nothing was read for `ms` (each {@link read} starts the count again);
   * 0 clears it. Reads only note their time: the one timer, when it
   * fires early, sets itself again for what is left.
   */
  setReadTimeout(key: K, ms: number): void {
    const timers = this.#timers.get(key) ?? {};
    clearTimeout(timers.readIdle);
    delete timers.readIdle;
    this.#readIdle.delete(key);
    if (ms === 0) {
      if (isEmpty(timers)) this.#timers.delete(key);
      return;
    }
    this.#timers.set(key, timers);
    this.#readIdle.set(key, { ms, lastRead: Date.now() });
    this.#armIdle(key, timers, ms);
  }

  /** `key` read something: its read time-out, if it has one, counts from now. */
  read(key: K): void {
    if (this.#readIdle.size === 0) return;
    const idle = this.#readIdle.get(key);
    if (idle !== undefined) idle.lastRead = Date.now();
  }

  /** Clears every deadline of `key`. */
  clear(key: K): void {
    const timers = this.#timers.get(key);
    if (timers === undefined) return;
    this.#readIdle.delete(key);
    for (const kind of KINDS) clearTimeout(timers[kind]);
    this.#timers.delete(key);
  }

  /** Clears every deadline. */
  clearAll(): void {
    for (const key of [...this.#timers.keys()]) this.clear(key);
  }

  #armIdle(key: K, timers: Timers, delay: number): void {
    timers.readIdle = setTimeout(() => {
      const idle = this.#readIdle.get(key)!;
      const left = idle.lastRead + idle.ms - Date.now();
      if (left > 0) return this.#armIdle(key, timers, left);
      delete timers.readIdle;
      this.#readIdle.delete(key);
      if (isEmpty(timers)) this.#timers.delete(key);
      this.#expire(key, 'read');
    }, delay);
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
