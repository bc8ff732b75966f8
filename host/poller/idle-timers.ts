/**
 * Idle time-outs of UDP peers (`udpReadTimeout`): a peer that sent nothing
 * for `timeoutMs` expires. Each datagram only records when it arrived
 * (`touch`, no timer work); one timer per peer checks when the peer would
 * expire and, if something arrived meanwhile, sets itself again for the
 * rest of the time.
 */
export class IdleTimers<K> {
  readonly #timeoutMs: number;
  readonly #expire: (key: K) => void;
  readonly #seen = new Map<K, number>();
  readonly #timers = new Map<K, NodeJS.Timeout>();

  constructor(timeoutMs: number, expire: (key: K) => void) {
    this.#timeoutMs = timeoutMs;
    this.#expire = expire;
  }

  /** Starts timing `key`, as if it had just been active. */
  start(key: K): void {
    this.#seen.set(key, Date.now());
    this.#arm(key, this.#timeoutMs);
  }

  /** `key` was active now. */
  touch(key: K): void {
    if (this.#seen.has(key)) this.#seen.set(key, Date.now());
  }

  /** Stops timing `key`. */
  clear(key: K): void {
    clearTimeout(this.#timers.get(key));
    this.#timers.delete(key);
    this.#seen.delete(key);
  }

  /** Stops every timer. */
  clearAll(): void {
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
    this.#seen.clear();
  }

  #arm(key: K, delay: number): void {
    this.#timers.set(key, setTimeout(() => {
      const idle = Date.now() - this.#seen.get(key)!;
      if (idle < this.#timeoutMs) return this.#arm(key, this.#timeoutMs - idle);
      this.clear(key);
      this.#expire(key);
    }, delay));
  }
}
