// Fault injection, property-based: fast-check generates schedules of peers
// (connecting, sending, reading slowly, ending, resetting, failing) and host
// calls (writes, closes, ends, dials, polls) over the in-memory kernel, with
// one-shot faults (short reads and writes, EAGAIN, EINTR, ECONNRESET, EPIPE,
// accept and epoll-wait failures, stale and spurious readiness reports).
// Whatever the schedule, the invariants checked by test/reactor/fault/
// (host.ts as each event is dispatched, end-state.ts once a round settled)
// hold. A failure is shrunk to a minimal schedule and printed with the
// command replaying it.
//
//   NBIO_SEED=<seed>:<path> npx vitest run test/reactor/fault-injection.test.ts   replays one failure
//   NBIO_RUNS=<n>                                                          more (or fewer) schedules
//   npm run fuzz -- --minutes 10                                           runs for as long as asked
import fc from 'fast-check';
import { writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { assertProperty, checkProperty } from './fault/property.js';
import { runSchedule } from './fault/run.js';
import { schedules } from './fault/schedule.js';

/** Schedules per `npm test` run. */
const RUNS = Number(process.env.NBIO_RUNS ?? 2000);
/** `npm run fuzz`: generate for this long instead, and write a counterexample to NBIO_FUZZ_OUT. */
const FUZZ_MS = Number(process.env.NBIO_FUZZ_MS ?? 0);

let schedulesRun = 0;
const intact = fc.property(schedules, (s) => {
  schedulesRun++;
  runSchedule(s);
});

describe('fault injection: generated schedules against the reactor', () => {
  it(`keeps bytes intact and in order, closes every connection once, leaks nothing (${FUZZ_MS ? `${FUZZ_MS} ms of` : RUNS} schedules)`, () => {
    if (FUZZ_MS === 0) return assertProperty(intact, RUNS);
    const failure = checkProperty(intact, Number.MAX_SAFE_INTEGER, FUZZ_MS);
    console.log(`fuzz: ${schedulesRun} schedules (shrinking included)`);
    if (failure === undefined) return;
    writeFileSync(process.env.NBIO_FUZZ_OUT!, JSON.stringify(failure, null, 2) + '\n');
    throw new Error(`${failure.report}\n\nReplay: ${failure.replay}`);
  });

  it('stops growing its memory when the same schedule runs again and again', () => {
    assertProperty(fc.property(schedules, (s) => {
      const { memory, inUse } = runSchedule(s, 3);
      // The first round may grow the memory; repeating it must not, and
      // what is allocated once everything closed comes back to the same.
      if (memory.length < 3) return; // epoll-wait failed: the reactor stopped early
      expect(memory[2]).toBe(memory[1]);
      expect(inUse[2]).toBe(inUse[1]);
    }), Math.max(1, Math.floor(RUNS / 10)));
  });
});
