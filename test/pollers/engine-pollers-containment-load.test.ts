// Worker pollers killed (process.exit in a handler) or failed (epoll_wait
// fails) at generated points of a running load (clients connecting,
// talking, pausing, ending; dials that open and dials that never connect;
// a stop that is plain, graceful, or graceful with a worker dying during
// it). Whatever the moment, once the engine stopped:
// - every connection whose onOpen ran, in any thread, got exactly one
//   onClose (paired by its ports; a dead worker's connections on the
//   engine's thread, those without a stand-in unnamed, with
//   ERR_NBIO_POLLER_FAILED);
// - each failure was reported once, on the engine's thread;
// - once every failure was noticed, new connections were served;
// - every dial settled, those that never connected by rejecting (their
//   poller failed, the engine stopped, or a graceful stop cancelled them);
// - stats() adds up, in sum and per poller, with nothing open;
// - the process has the same descriptors open as before.
// The schedules run in one child process (test/fixtures/containment-load.mjs)
// whose threads let the handlers make epoll_wait fail.
//
//   NBIO_CONTAINMENT_RUNS=<n>                      more (or fewer) schedules
//   NBIO_CONTAINMENT_SEED=<seed>[:<path>]          replays the failure a report names
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EngineStats } from '../../host/index.js';

/** Schedules per `npm test` run (about 0.25 s each on the 2-core test machine, more while other tests run). */
const RUNS = Number(process.env.NBIO_CONTAINMENT_RUNS ?? 80);

type Action =
  | { kind: 'connect' | 'dial' | 'dial-stuck' }
  | { kind: 'talk' | 'pause' | 'end'; client: number }
  | { kind: 'kill' | 'fail'; worker: number }
  | { kind: 'wait'; ms: number };

interface Schedule {
  pollers: number;
  balancing: 'round-robin' | 'least-connections';
  actions: Action[];
  end: 'stop' | 'graceful' | 'graceful-kill';
}

/** What the executor saw (test/fixtures/containment-load.mjs). */
interface Observed {
  connects: { tag: string; noticed: boolean }[];
  probes: string[];
  dials: { kind: string; outcome: string; code?: string }[];
  injected: number;
  allNoticed: boolean;
  errorsNoticed: boolean;
  stats: EngineStats;
  events: { thread: string; event: string; code?: string; key?: string }[];
  fds: { before: string[]; after: string[] };
}

const action: fc.Arbitrary<Action> = fc.oneof(
  { weight: 4, arbitrary: fc.constant({ kind: 'connect' as const }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('talk' as const), client: fc.nat(20) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('pause' as const), client: fc.nat(20) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('end' as const), client: fc.nat(20) }) },
  { weight: 2, arbitrary: fc.constantFrom({ kind: 'dial' as const }, { kind: 'dial-stuck' as const }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constantFrom('kill' as const, 'fail' as const), worker: fc.nat(3) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('wait' as const), ms: fc.integer({ min: 0, max: 30 }) }) },
);

const schedules: fc.Arbitrary<Schedule> = fc.record({
  pollers: fc.integer({ min: 2, max: 3 }),
  balancing: fc.constantFrom('round-robin' as const, 'least-connections' as const),
  actions: fc.array(action, { minLength: 1, maxLength: 14 }),
  end: fc.constantFrom('stop' as const, 'graceful' as const, 'graceful-kill' as const),
});

/** The invariants of the file's doc, over what one schedule's run observed. */
function check(o: Observed): void {
  expect(o.fds.after).toEqual(o.fds.before);

  // Each onOpen has one onClose: by key where the closing side knows it, else (a dead worker's, on the engine's thread) unnamed.
  const opens = new Map<string, number>();
  const closes = new Map<string, number>();
  let unnamed = 0;
  for (const e of o.events) {
    if (e.event === 'open') opens.set(e.key!, (opens.get(e.key!) ?? 0) + 1);
    if (e.event !== 'close') continue;
    if (e.key !== undefined) closes.set(e.key, (closes.get(e.key) ?? 0) + 1);
    else {
      unnamed++;
      expect(e).toMatchObject({ thread: 'main', code: 'ERR_NBIO_POLLER_FAILED' });
    }
  }
  let owed = 0;
  for (const [key, n] of opens) {
    const closed = closes.get(key) ?? 0;
    expect(closed, `connection ${key}: ${n} onOpen, ${closed} onClose`).toBeLessThanOrEqual(n);
    owed += n - closed;
  }
  for (const key of closes.keys()) expect(opens.has(key), `onClose without onOpen for ${key}`).toBe(true);
  expect(unnamed, 'onClose owed for connections lost with a worker').toBe(owed);

  // Each failure reported once, on the engine's thread.
  const errors = o.events.filter((e) => e.event === 'error');
  expect(errors.every((e) => e.thread === 'main' && e.code === 'ERR_NBIO_POLLER_FAILED')).toBe(true);
  expect(errors.length).toBe(o.injected);
  if (o.injected === 0) expect(o.events.some((e) => e.code === 'ERR_NBIO_POLLER_FAILED')).toBe(false);

  // Served once the failures were noticed.
  expect(o.allNoticed).toBe(true);
  for (const tag of o.probes) expect(tag).toMatch(/^(main|wrk\d):$/);
  for (const c of o.connects) if (c.noticed) expect(c.tag).toMatch(/^(main|wrk\d):$/);

  // Dials settle; those that never connect reject: their poller failed, the engine stopped, or a graceful stop cancelled them.
  for (const d of o.dials) {
    if (d.kind === 'dial-stuck') expect(d.outcome).toBe('rejected');
    if (d.outcome === 'rejected') expect(d.code).toMatch(/^ERR_NBIO_(POLLER_FAILED|NOT_RUNNING|CLOSED)$/);
  }

  // Figures add up, with nothing open.
  for (const s of [o.stats, ...o.stats.pollers!]) {
    expect(s.connections).toBe(0);
    expect(s.accepted + s.dialed + s.added - s.closed).toBe(0);
  }
}

/** `NBIO_CONTAINMENT_SEED=<seed>[:<path>]`: replays one run. */
function replay(): { seed: number; path?: string } | undefined {
  const value = process.env.NBIO_CONTAINMENT_SEED;
  if (value === undefined || value === '') return undefined;
  const [seed, path] = value.split(':', 2);
  return { seed: Number(seed), path: path || undefined };
}

describe('pollers: failure containment under a generated load', () => {
  let child: ChildProcess;
  let pending: ((answer: { observed?: Observed; error?: string }) => void) | undefined;

  beforeAll(() => {
    const preload = fileURLToPath(new URL('../fixtures/writable-native.cjs', import.meta.url));
    child = fork(fileURLToPath(new URL('../fixtures/containment-load.mjs', import.meta.url)), {
      execArgv: ['--require', preload],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    child.on('message', (answer) => pending?.(answer as { observed?: Observed; error?: string }));
  });

  afterAll(() => {
    child.kill();
  });

  /** Runs one schedule in the child; what it observed. */
  function run(schedule: Schedule): Promise<Observed> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the schedule did not finish within 60 s')), 60_000);
      pending = (answer) => {
        clearTimeout(timer);
        pending = undefined;
        if (answer.error !== undefined) reject(new Error(answer.error));
        else resolve(answer.observed!);
      };
      child.send(schedule);
    });
  }

  it(`contains every failure whole, at any point of the load (${RUNS} schedules)`, async () => {
    const again = replay();
    await fc.assert(
      fc.asyncProperty(schedules, async (schedule) => check(await run(schedule))),
      { numRuns: again ? 1 : RUNS, ...again, interruptAfterTimeLimit: 150_000 },
    );
  }, 180_000);
});
