// What a generated schedule is made of, and the fast-check arbitraries that
// generate (and shrink) them. test/reactor/fault/run.ts executes a schedule.
import fc from 'fast-check';
import { EAGAIN, ECONNABORTED, ECONNRESET, EHOSTUNREACH, EINTR, EMFILE, ENFILE, EPIPE, ETIMEDOUT, EPOLLERR, EPOLLHUP, EPOLLIN, EPOLLOUT, EPOLLPRI, EPOLLRDHUP, EINVAL, EBADF } from '../kernel/linux-numbers.js';

/** Reactor settings of one schedule. */
export interface Config {
  readBufferSize: number;
  maxWriteBufferSize: number;
  maxReads: number;
  /** The reactor's memory limit: mostly the default, sometimes tight enough that writes and accepts fail. */
  maxMemory: number;
}

/**
 * One step. `peer` picks one of the peers created so far (modulo their
 * number); a step that does not apply to the peer it picks (writing to a
 * connection not open yet, say) does nothing.
 */
export type Action =
  /** A peer connects to the listener; the kernel takes `capacity` bytes from the engine before EAGAIN. */
  | { kind: 'connect'; capacity: number }
  /** The host dials (add-conn, connecting). */
  | { kind: 'dial'; capacity: number }
  /** A dial in progress completes, or fails late with `errno`. */
  | { kind: 'establish'; peer: number }
  | { kind: 'refuse'; peer: number; errno: number }
  /** The peer sends `len` bytes, reads `n` more bytes, ends, resets, or its connection fails. */
  | { kind: 'send'; peer: number; len: number }
  | { kind: 'drain'; peer: number; n: number }
  | { kind: 'end'; peer: number }
  | { kind: 'reset'; peer: number }
  | { kind: 'fail'; peer: number; errno: number }
  /** The host writes `len` bytes, closes, or ends the peer's connection. */
  | { kind: 'write'; peer: number; len: number }
  | { kind: 'close'; peer: number }
  | { kind: 'shut'; peer: number }
  /** The linger time-out of a connection the host ended passes: the host closes it (cause local), as its timer would. */
  | { kind: 'expire'; peer: number }
  /** The host polls (run-once until no backlog), or takes pending events. */
  | { kind: 'poll' }
  | { kind: 'take' }
  /** The host re-arms paused listeners (after its back-off). */
  | { kind: 'resume' }
  /** The next call of that kind (on the peer's socket for read/write) fails or is short. */
  | { kind: 'fault'; call: 'read' | 'write'; peer: number; errno?: number; limit?: number }
  | { kind: 'fault'; call: 'accept'; errno: number }
  | { kind: 'fault'; call: 'epoll-wait'; errno: number }
  /**
   * The next epoll-wait also reports `events` for the peer's connection's
   * handle: a stale report if it closed (its descriptor maybe reused since),
   * a spurious wake-up if it is live (then only IN, PRI and, once
   * connected, OUT are kept: Linux never reports a hang-up, an error or a
   * completed connect that is not there).
   */
  | { kind: 'report'; peer: number; events: number };

/** A generated schedule: settings and steps. */
export interface Schedule {
  config: Config;
  actions: Action[];
}

const peer = fc.nat({ max: 31 });
const capacity = fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 64 }), fc.constant(1 << 20));

/** Steps, weighted so that most schedules keep connections busy. */
const action: fc.Arbitrary<Action> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('connect' as const), capacity }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('dial' as const), capacity }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('establish' as const), peer }) },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('refuse' as const), peer, errno: fc.constantFrom(-111, -ETIMEDOUT, -EHOSTUNREACH) }),
  },
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('send' as const), peer, len: fc.integer({ min: 1, max: 120 }) }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('drain' as const), peer, n: fc.integer({ min: 0, max: 400 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('end' as const), peer }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('reset' as const), peer }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('fail' as const), peer, errno: fc.constantFrom(-ETIMEDOUT, -EHOSTUNREACH) }) },
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('write' as const),
      peer,
      // Mostly small writes (they coalesce), some above the 4 KiB chunk
      // size, a few large enough that freeing them gives memory back.
      len: fc.oneof(
        { weight: 8, arbitrary: fc.integer({ min: 1, max: 300 }) },
        { weight: 2, arbitrary: fc.integer({ min: 4000, max: 9000 }) },
        { weight: 1, arbitrary: fc.integer({ min: 16 << 10, max: 96 << 10 }) },
      ),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('close' as const), peer }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('shut' as const), peer }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('expire' as const), peer }) },
  { weight: 8, arbitrary: fc.constant({ kind: 'poll' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'take' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'resume' as const }) },
  {
    weight: 4,
    arbitrary: fc.oneof(
      fc.record({ kind: fc.constant('fault' as const), call: fc.constant('read' as const), peer, errno: fc.constantFrom(-EAGAIN, -EINTR, -ECONNRESET) }),
      fc.record({ kind: fc.constant('fault' as const), call: fc.constant('read' as const), peer, limit: fc.integer({ min: 1, max: 8 }) }),
      fc.record({
        kind: fc.constant('fault' as const),
        call: fc.constant('write' as const),
        peer,
        errno: fc.constantFrom(-EAGAIN, -EINTR, -ECONNRESET, -EPIPE),
      }),
      fc.record({ kind: fc.constant('fault' as const), call: fc.constant('write' as const), peer, limit: fc.integer({ min: 1, max: 8 }) }),
    ),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('fault' as const),
      call: fc.constant('accept' as const),
      errno: fc.constantFrom(-EMFILE, -ENFILE, -ECONNABORTED, -EINTR),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('fault' as const),
      call: fc.constant('epoll-wait' as const),
      errno: fc.constantFrom(-EINTR, -EINTR, -EBADF, -EINVAL),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('report' as const),
      peer,
      events: fc.constantFrom(EPOLLIN, EPOLLOUT, EPOLLPRI, EPOLLIN | EPOLLOUT, EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR),
    }),
  },
);

/** Schedules of up to 160 steps, with small read buffers so reads split and batches fill. */
export const schedules: fc.Arbitrary<Schedule> = fc.record({
  config: fc.record({
    readBufferSize: fc.oneof(fc.integer({ min: 1, max: 64 }), fc.constant(65536)),
    maxWriteBufferSize: fc.constantFrom(0, 256, 4096),
    maxReads: fc.integer({ min: 1, max: 3 }),
    maxMemory: fc.oneof({ weight: 4, arbitrary: fc.constant(0xf000_0000) }, { weight: 1, arbitrary: fc.constantFrom(576 << 10, 1 << 20) }),
  }),
  actions: fc.array(action, { minLength: 1, maxLength: 160, size: 'max' }),
});
