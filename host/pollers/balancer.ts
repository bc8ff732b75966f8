/**
 * The `loadBalancing` rule: which poller a new connection goes to.
 */
import type { LoadBalancing } from '../api/options.js';

/**
 * Picks the poller (0: the engine's thread, 1..n-1: worker threads) a new
 * connection goes to, by the engine's `loadBalancing` rule:
 * 'round-robin' in turn; 'least-connections' the one serving the fewest
 * (`load(i)`, counting connections handed over and not yet open there;
 * ties go in turn); 'hash' by descriptor number, `fd % n`, as nbio does.
 * A poller that failed (`alive(i)` false) is passed over: its turn, or its
 * share of the hash, goes to the next one that works. The engine's own
 * poller always works (the engine stops when it fails).
 */
export class Balancer {
  readonly #rule: LoadBalancing;
  readonly #count: number;
  readonly #load: (poller: number) => number;
  readonly #alive: (poller: number) => boolean;
  #next = 0;

  constructor(rule: LoadBalancing, count: number, load: (poller: number) => number, alive: (poller: number) => boolean) {
    this.#rule = rule;
    this.#count = count;
    this.#load = load;
    this.#alive = alive;
  }

  pick(fd: number): number {
    const n = this.#count;
    if (this.#rule === 'hash') return this.#working(fd % n);
    const start = this.#working(this.#next);
    this.#next = (start + 1) % n;
    if (this.#rule !== 'least-connections') return start;
    let best = start;
    let bestLoad = this.#load(start);
    for (let k = 1; k < n && bestLoad > 0; k++) {
      const i = (start + k) % n;
      if (!this.#alive(i)) continue;
      const load = this.#load(i);
      if (load < bestLoad) {
        best = i;
        bestLoad = load;
      }
    }
    return best;
  }

  /** `i`, or the first poller after it that works. */
  #working(i: number): number {
    const n = this.#count;
    for (let k = 0; k < n; k++) {
      const j = (i + k) % n;
      if (this.#alive(j)) return j;
    }
    return 0;
  }
}
