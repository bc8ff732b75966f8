// The stats board (host/poller/stats-board.ts) between two threads: a worker
// publishes records as fast as it can, each one whole (every figure equal
// to its number, its closed list as long as the number says, each entry
// naming the number), while this thread reads; every read is one whole
// record, never parts of two, and the last read is the last record
// published. (x86 orders plain accesses strongly enough for this to hold
// even without Atomics; the board relies on Atomics for every word so
// that it holds under the JavaScript memory model on any machine.)
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { StatsBoard } from '../../host/poller/stats-board.js';
import type { ReactorStats } from '../../host/api/stats.js';

const PUBLISHES = 100_000;

/** The writer: fills a record in a memory of its own and publishes it, PUBLISHES times, then sets `done`. */
const WRITER = `
  const { workerData } = require('node:worker_threads');
  (async () => {
    const { StatsBoard } = await import(${JSON.stringify(new URL('../../dist/host/poller/stats-board.js', import.meta.url).href)});
    const { ReactorStatsLayout: R, ClosedCountLayout: C, ListLayout: L } =
      await import(${JSON.stringify(new URL('../../dist/host/generated/abi.js', import.meta.url).href)});
    const board = new StatsBoard(workerData.board);
    const done = new Int32Array(workerData.done);
    const memory = new Int32Array(1024);
    const view = new DataView(memory.buffer);
    const RECORD = 64, LIST = 512;
    const u64 = (at, n) => { view.setUint32(at, n, true); view.setUint32(at + 4, 0, true); };
    for (let n = 1; n <= ${PUBLISHES}; n++) {
      view.setUint32(RECORD + R.connections, n, true);
      for (const field of ['accepted', 'dialed', 'added', 'closedOther', 'bytesRead', 'bytesWritten', 'queued', 'queuedMax', 'memorySize', 'memoryInUse']) {
        u64(RECORD + R[field], n);
      }
      const entries = (n % 8) + 1;
      for (let e = 0; e < entries; e++) {
        view.setInt32(LIST + e * C.size + C.status, -n, true);
        u64(LIST + e * C.size + C.count, n);
      }
      view.setUint32(RECORD + R.closed + L.ptr, LIST, true);
      view.setUint32(RECORD + R.closed + L.len, entries, true);
      board.publish(1, memory, RECORD);
    }
    Atomics.store(done, 0, 1);
  })();
`;

/** Whether `r` is one whole record: every figure is its number. */
function whole(r: Readonly<ReactorStats>): boolean {
  const n = r.connections;
  const figures = [r.accepted, r.dialed, r.added, r.closedOther, r.bytesRead, r.bytesWritten, r.queued, r.queuedMax, r.memorySize, r.memoryInUse];
  return figures.every((f) => f === n)
    && r.closed.length === (n % 8) + 1
    && r.closed.every((e) => e.status === -n && e.count === n);
}

describe('stats board', () => {
  it('a read racing a writer in another thread is one whole record, and the last one once it stopped', async () => {
    const board = new StatsBoard(2);
    const done = new Int32Array(new SharedArrayBuffer(4));
    const worker = new Worker(WRITER, { eval: true, workerData: { board: board.buffer, done: done.buffer } });
    const exited = new Promise((resolve) => worker.once('exit', resolve));
    let reads = 0;
    let torn = 0;
    let last = 0;
    let backwards = 0;
    try {
      // Reads until the writer is done (or 20 s passed), keeping the event loop free now and then.
      const bound = Date.now() + 20_000;
      while (Atomics.load(done, 0) === 0 && Date.now() < bound) {
        for (let i = 0; i < 1000; i++) {
          const r = board.read(1);
          reads++;
          if (r.connections === 0) continue; // nothing published yet: a zeroed record
          if (!whole(r)) torn++;
          if (r.connections < last) backwards++;
          last = r.connections;
        }
        await new Promise((resolve) => setImmediate(resolve));
      }
    } finally {
      await exited;
    }
    expect(Atomics.load(done, 0)).toBe(1);
    expect({ torn, backwards }).toEqual({ torn: 0, backwards: 0 });
    expect(reads).toBeGreaterThan(0);
    const final = board.read(1);
    expect(final.connections).toBe(PUBLISHES);
    expect(whole(final)).toBe(true);
    expect(board.read(0).connections).toBe(0); // another slot: untouched
  });
});
