// The first reads of a batch made in one `read-each` call (assembly/pre-read.ts),
// against the in-memory kernel: which connections it reads, in what order the
// events come, a budget that cuts the list, a failing read, an end of stream in
// the middle of the list, and a descriptor reported twice.
import { describe, expect, it } from 'vitest';
import { EventKind } from '../../host/generated/abi.js';
import { GuestMemory } from '../../host/guest/memory.js';
import { instantiateReactor } from '../../host/poller/reactor-loader.js';
import { readEvents } from './reactor-events.js';
import { ECONNRESET, EPOLLIN } from './kernel/linux-numbers.js';
import { FakeKernel, type Peer } from './kernel/fake.js';
import { lowerSys } from './kernel/lower.js';
import { reactorOverFake } from './kernel/reactor-over-fake.js';

const { Data, Ended, Closed, Opened } = EventKind;
const handleOf = (p: Peer) => (1 << 20) | p.fd!;
const readEachCalls = (kernel: FakeKernel) => kernel.calls.filter((c) => c.startsWith('readEach('));
const readCalls = (kernel: FakeKernel) => kernel.calls.filter((c) => c.startsWith('read('));

/** `n` peers connected to a reactor over the fake kernel (read buffer 64 bytes), all opened. */
function peers(n: number) {
  const h = reactorOverFake();
  const ps = Array.from({ length: n }, () => h.kernel.connectPeer(h.lfd));
  expect(h.poll().map((e) => e.kind)).toEqual(ps.map(() => Opened));
  return { ...h, ps };
}

describe('reactor: the reads of a batch in one read-each', () => {
  it('reads every ready connection in one call, in report order, and reports their data in that order', () => {
    const { kernel, poll, ps } = peers(3);
    ps.forEach((p, i) => p.send(`from ${i}`));
    kernel.calls.length = 0;
    expect(poll().map((e) => e.data)).toEqual(['from 0', 'from 1', 'from 2']);
    expect(readEachCalls(kernel)).toEqual([`readEach([${ps.map((p) => p.fd).join(' ')}], 64, 262144) -> [6B 6B 6B]`]);
    expect(readCalls(kernel)).toEqual([]);
  });

  it('gives the same events, in the same order, as reads one by one: data, an end of stream in the middle, a failed read', () => {
    const { kernel, poll, ps } = peers(4);
    const [a, b, c, d] = ps;
    a.send('alpha');
    b.end(); // end of stream in the middle of the list
    c.send('gamma');
    d.send('delta');
    kernel.inject({ call: 'read', fd: d.fd, errno: -ECONNRESET }); // d's read fails
    kernel.calls.length = 0;
    expect(poll().map((e) => [e.kind, e.status, e.data])).toEqual([
      [Data, 0, 'alpha'],
      [Ended, 0, ''],
      [Data, 0, 'gamma'],
      [Closed, -ECONNRESET, ''],
    ]);
    expect(readEachCalls(kernel)).toEqual([`readEach([${[a, b, c, d].map((p) => p.fd).join(' ')}], 64, 262144) -> [5B 0B 5B ${-ECONNRESET}]`]);
    // The failed connection was closed as a failed read; the ended one stays open for writing.
    expect(d.isReset).toBe(true);
    expect(b.engineEnded).toBe(false);
  });

  it('a full read goes on with ordinary reads, and the bytes keep their order', () => {
    const { kernel, poll, ps } = peers(2);
    const [a, b] = ps;
    a.send('x'.repeat(64) + 'tail-a'); // a full first read, then the rest
    b.send('b');
    kernel.calls.length = 0;
    expect(poll().map((e) => e.data)).toEqual(['x'.repeat(64), 'tail-a', 'b']);
    expect(readEachCalls(kernel)).toHaveLength(1);
    expect(readCalls(kernel)).toEqual([`read(${a.fd}, 64) -> 6B`]);
  });

  it('a budget that cuts the list: the rest are read by the next run-once, nothing is lost or reordered', () => {
    // A 64 KiB read buffer: the batch's data area (256 KiB) holds four full reads.
    const kernel = new FakeKernel();
    const mem = new GuestMemory();
    const r = instantiateReactor(lowerSys(kernel, mem), mem);
    expect(r.init(65536, 0, 3, 1, 0, 0)).toBeGreaterThanOrEqual(0);
    const lfd = kernel.listen();
    expect(r.addListener(lfd)).toBe(0);
    const poll = () => {
      const ret = r.runOnce(0);
      mem.sync();
      return readEvents(mem.buffer, ret).map((e) => ({ conn: e.conn, kind: e.kind, len: e.data.length, first: e.data[0] }));
    };
    const ps = Array.from({ length: 5 }, () => kernel.connectPeer(lfd));
    expect(poll().map((e) => e.kind)).toEqual(ps.map(() => Opened));
    ps.forEach((p, i) => p.send(new Uint8Array(65536 + 10).fill(i + 1)));
    kernel.calls.length = 0;

    const first = poll();
    expect(readEachCalls(kernel)).toEqual([`readEach([${ps.map((p) => p.fd).join(' ')}], 65536, 262144) -> [65536B 65536B 65536B 65536B]`]);
    expect(first).toEqual(ps.slice(0, 4).map((p, i) => ({ conn: handleOf(p), kind: Data, len: 65536, first: i + 1 })));
    expect(r.backlog()).toBe(1); // the fifth report waits for the next run-once
    const got = new Map<number, number>();
    const count = (evs: ReturnType<typeof poll>) => evs.forEach((e) => got.set(e.conn, (got.get(e.conn) ?? 0) + e.len));
    count(first);
    for (let i = 0; i < 4; i++) count(poll());
    for (const p of ps) expect(got.get(handleOf(p))).toBe(65536 + 10);
    expect(ps.every((p) => p.unread === 0)).toBe(true);
  });

  it('a descriptor reported twice in one wait is read once up front, its second report after the first one\'s read loop', () => {
    const { kernel, poll, ps } = peers(2);
    const [a, b] = ps;
    a.send('y'.repeat(64 * 3 + 5));
    b.send('b');
    kernel.report(handleOf(a), EPOLLIN);
    kernel.calls.length = 0;
    const evs = poll();
    expect(evs.map((e) => e.data).join('')).toBe('y'.repeat(64 * 3 + 5) + 'b');
    // The injected report comes first: the list stops at a's second report, read by ordinary reads.
    expect(readEachCalls(kernel)).toEqual([`readEach([${a.fd}], 64, 262144) -> [64B]`]);
  });

  it('a paused connection is left out, and the failed read of one connection closes it as a read failure', () => {
    const { kernel, r, poll, ps } = peers(2);
    const [a, b] = ps;
    expect(r.pauseReading(handleOf(a))).toBe(0);
    a.send('waits');
    b.send('goes');
    kernel.calls.length = 0;
    expect(poll().map((e) => e.data)).toEqual(['goes']);
    expect(readEachCalls(kernel)).toEqual([`readEach([${b.fd}], 64, 262144) -> [4B]`]);
    kernel.inject({ call: 'read', fd: b.fd, errno: -ECONNRESET });
    b.send('lost');
    expect(poll().map((e) => [e.kind, e.status])).toEqual([[Closed, -ECONNRESET]]);
    expect(r.resumeReading(handleOf(a))).toBe(0);
    expect(poll().map((e) => e.data)).toEqual(['waits']);
  });
});
