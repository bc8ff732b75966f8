// Executes a generated schedule (test/reactor/fault/schedule.ts) on a
// fault-injection host (host.ts), action by action (actions.ts), round after
// round; checks the end state of each round (end-state.ts) and what shutting
// the reactor down leaves. A broken invariant throws an Error saying which
// and where.
import { applyAction } from './actions.js';
import { checkEnd, check } from './end-state.js';
import { Host } from './host.js';
import type { Schedule } from './schedule.js';

/** Outcome of one run, for properties that look at more than one run. */
export interface RunResult {
  /** Linear memory of the reactor after each round, in bytes. */
  memory: number[];
  /** Bytes the reactor had allocated after each round (`memory-in-use`). */
  inUse: number[];
  conns: number;
  /** Writes refused for lack of memory or over maxWriteBufferSize; bytes released. */
  overflows: number;
  released: number;
}

/**
 * Runs `schedule` `rounds` times on one reactor (each round on new peers,
 * after everything of the previous one closed), then shuts the reactor
 * down. Throws a {@link Violation} at the first broken invariant.
 */
export function runSchedule(schedule: Schedule, rounds = 1): RunResult {
  const host = new Host(schedule);
  const memory: number[] = [];
  const inUse: number[] = [];
  let conns = 0;
  for (let round = 0; round < rounds && !host.failed; round++) {
    host.slots = [];
    host.conns = new Map();
    for (const a of schedule.actions) {
      applyAction(host, a);
      if (host.failed) break;
    }
    host.settle();
    checkEnd(host);
    conns += host.conns.size;
    host.mem.sync();
    memory.push(host.mem.buffer.byteLength);
    inUse.push(host.r.memoryInUse());
  }
  host.r.shutdown();
  const closedAtShutdown = host.take();
  check(host.failed || closedAtShutdown === 0, `shutdown reported ${closedAtShutdown} events after everything closed`);
  check(host.kernel.openFds().length === 0, `descriptors left open after shutdown: ${host.kernel.openFds().join(' ')}`);
  return { memory, inUse, conns, overflows: host.overflows, released: host.released };
}
