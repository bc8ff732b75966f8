import type { LoadBalancing } from './options.js';

/**
 * Picks the poller (0: the engine's thread, 1..n-1: worker threads) a new
 * connection goes to, by the engine's `loadBalancing` rule:
 * 'round-robin' in turn; 'least-connections' the one serving the fewest
 * (`load(i)`, counting connections handed over and not yet open there;
 * ties go in turn); 'hash' by descriptor number, `fd % n`, as nbio does.
 */
export class Balancer {
  readonly #rule: LoadBalancing;
  readonly #count: number;
  readonly #load: (poller: number) => number;
  #next = 0;

  constructor(rule: LoadBalancing, count: number, load: (poller: number) => number) {
    this.#rule = rule;
    this.#count = count;
    this.#load = load;
  }

  pick(fd: number): number {
    const n = this.#count;
    if (this.#rule === 'hash') return fd % n;
    const start = this.#next;
    this.#next = (start + 1) % n;
    if (this.#rule !== 'least-connections') return start;
    let best = start;
    let bestLoad = this.#load(start);
    for (let k = 1; k < n && bestLoad > 0; k++) {
      const i = (start + k) % n;
      const load = this.#load(i);
      if (load < bestLoad) {
        best = i;
        bestLoad = load;
      }
    }
    return best;
  }
}
