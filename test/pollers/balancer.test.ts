// The balancer (host/pollers/balancer.ts) passes over a poller that failed, for
// every rule: round-robin gives its turn to the next poller that works,
// least-connections never picks it (a failed worker counts no load, which
// would make it the least loaded), hash gives its share to the next one.
import { describe, expect, it } from 'vitest';
import { Balancer } from '../../host/pollers/balancer.js';
import type { LoadBalancing } from '../../host/api/options.js';

/** Four pollers, poller 2 failed; `loads` as each one counts. */
function balancer(rule: LoadBalancing, loads = [3, 5, 0, 4]): Balancer {
  return new Balancer(rule, 4, (i) => loads[i], (i) => i !== 2);
}

describe('balancer', () => {
  it('round-robin: the failed poller\'s turn goes to the next one that works', () => {
    const b = balancer('round-robin');
    expect(Array.from({ length: 6 }, (_, fd) => b.pick(fd))).toEqual([0, 1, 3, 0, 1, 3]);
  });

  it('least-connections: the least loaded among those that work', () => {
    const b = balancer('least-connections');
    expect(Array.from({ length: 3 }, (_, fd) => b.pick(fd))).toEqual([0, 0, 0]);
    const even = balancer('least-connections', [1, 1, 0, 1]);
    expect(Array.from({ length: 3 }, (_, fd) => even.pick(fd))).toEqual([0, 1, 3]); // ties in turn
  });

  it('hash: the failed poller\'s descriptors go to the next one that works', () => {
    const b = balancer('hash');
    expect([8, 9, 10, 11, 14].map((fd) => b.pick(fd))).toEqual([0, 1, 3, 3, 3]);
  });

  it('with every poller working, as before', () => {
    const b = new Balancer('round-robin', 3, () => 0, () => true);
    expect(Array.from({ length: 4 }, (_, fd) => b.pick(fd))).toEqual([0, 1, 2, 0]);
  });
});
