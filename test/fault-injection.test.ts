// Fault injection, property-based: fast-check generates schedules of peers
// (connecting, sending, reading slowly, ending, resetting, failing) and host
// calls (writes, closes, ends, dials, polls) over the in-memory kernel, with
// one-shot faults (short reads and writes, EAGAIN, EINTR, ECONNRESET, EPIPE,
// accept and epoll-wait failures, stale and spurious readiness reports).
// Whatever the schedule, the invariants of test/fault/run.ts hold. A failure
// is shrunk to a minimal schedule and printed with the command replaying it.
//
//   NBIO_SEED=<seed>:<path> npx vitest run test/fault-injection.test.ts   replays one failure
//   NBIO_RUNS=<n>                                                          more (or fewer) schedules
//   npm run fuzz -- --minutes 10                                           runs for as long as asked
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { assertProperty } from './fault/property.js';
import { runSchedule } from './fault/run.js';
import { schedules } from './fault/schedule.js';

/** Schedules per `npm test` run. */
const RUNS = Number(process.env.NBIO_RUNS ?? 2000);

describe('fault injection: generated schedules against the reactor', () => {
  it(`keeps bytes intact and in order, closes every connection once, leaks nothing (${RUNS} schedules)`, () => {
    assertProperty(fc.property(schedules, (s) => {
      runSchedule(s);
    }), RUNS);
  });

  it('stops growing its memory when the same schedule runs again and again', () => {
    assertProperty(fc.property(schedules, (s) => {
      const memory = runSchedule(s, 3).memory;
      // The first round may grow the memory; repeating it must not.
      expect(memory[2]).toBe(memory[1]);
    }), Math.max(1, Math.floor(RUNS / 10)));
  });
});
