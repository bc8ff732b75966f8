/**
 * Where a new connection of an engine is served: on this thread's poller,
 * or, with `pollers` > 1, on the poller the `loadBalancing` rule picks
 * (host/pollers/balancer.ts), a worker's connection seen here through a
 * stand-in `Conn` (host/pollers/remote-conns.ts).
 */
import type { Conn } from '../api/conn.js';
import type { LoadBalancing } from '../api/options.js';
import type { Poller } from '../poller/poller.js';
import type { Adoption } from '../poller/settings.js';
import { Balancer } from '../pollers/balancer.js';
import type { PollerGroup } from '../pollers/poller-group.js';

export class Placement {
  readonly #poller: Poller;
  readonly #workers: PollerGroup | undefined;
  /** Which poller a new connection goes to, with worker pollers. */
  readonly #balancer: Balancer | undefined;

  /** Places on `poller` alone, or on it and `workers` by the `rule`. */
  constructor(poller: Poller, workers?: { group: PollerGroup; rule: LoadBalancing; count: number }) {
    this.#poller = poller;
    if (workers === undefined) return;
    const { group, rule, count } = workers;
    this.#workers = group;
    this.#balancer = new Balancer(
      rule, count,
      (i) => (i === 0 ? poller.connCount : group.load(i - 1)),
      (i) => i === 0 || group.alive(i - 1),
    );
  }

  /**
   * Places a connection on a poller by the `loadBalancing` rule: an
   * accepted one (`how` undefined: opened there, nothing to return) or a
   * dialed or added one, resolving with its `Conn` (a stand-in when it
   * lands on a worker poller: see README, "Pollers").
   */
  place(fd: number, how: Adoption): Promise<Conn>;
  place(fd: number, how: undefined): void;
  place(fd: number, how: Adoption | undefined): Promise<Conn> | void {
    const poller = this.#poller;
    const workers = this.#workers;
    const i = this.#balancer?.pick(fd) ?? 0; // never a worker that failed
    if (how === undefined) {
      if (i === 0) return poller.adoptAccepted(fd);
      poller.disown(fd); // accepted by this thread's reactor, served by the worker's
      return workers!.accepted(i - 1, fd);
    }
    return i === 0 ? poller.adopt(fd, how) : workers!.adopt(i - 1, fd, how);
  }
}
