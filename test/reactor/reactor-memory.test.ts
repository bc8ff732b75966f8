// The reactor under a memory limit it does not choose: its core module with
// a maximum imposed on the memory (as an embedder's store limits would), so
// that memory.grow fails. The write that needed the memory closes its
// connection (status 2, overflow); the reactor never traps and serves the
// others; freeing makes room again.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { GuestMemory } from '../../host/guest/memory.js';
import { EventKind } from '../../host/generated/abi.js';
import { CORE_MODULE_PATH, instantiateReactor } from '../../host/poller/reactor-loader.js';
import { CloseCause } from '../../host/guest/reactor.js';
import { readEvents } from './reactor-events.js';
import { FakeKernel } from './kernel/fake.js';
import { lowerSys } from './kernel/lower.js';
import { withMemoryMaximum } from './guest-compile.js';

const MAX_PAGES = 32; // 2 MiB: room for the batch and a little queue

describe('reactor memory under an embedder limit', () => {
  it('fails the write that needs memory it cannot get, and only that connection', () => {
    const module = new WebAssembly.Module(withMemoryMaximum(readFileSync(CORE_MODULE_PATH), MAX_PAGES));
    const kernel = new FakeKernel({ log: false });
    const mem = new GuestMemory();
    // No limit of its own (0): only the imposed maximum stops it.
    const r = instantiateReactor(lowerSys(kernel, mem), mem, { module });
    expect(r.init(4096, 0, 1, 1, 0, 0)).toBeGreaterThan(0);
    const lfd = kernel.listen();
    expect(r.addListener(lfd)).toBe(0);
    const slow = kernel.connectPeer(lfd, 0); // never reads
    const other = kernel.connectPeer(lfd);
    const events = (ret: number) => {
      mem.sync();
      return readEvents(mem.buffer, ret).map(({ kind, conn, status }) => ({ kind, conn, status }));
    };
    const opened = events(r.runOnce(0)).filter((e) => e.kind === EventKind.Opened).map((e) => e.conn);
    expect(opened).toHaveLength(2);
    const [hSlow, hOther] = opened;
    const write = (h: number, n: number): number => {
      const ptr = mem.alloc(1, n);
      if (ptr === 0) return r.close(h, CloseCause.WriteOverflow) === 0 ? -105 : -9;
      mem.u8.fill(7, ptr, ptr + n);
      return r.write(h, ptr, n);
    };
    // Queue on the slow connection until memory runs out.
    let queued = 0;
    let rc = 0;
    for (let i = 0; i < 100 && rc >= 0; i++) {
      rc = write(hSlow, 64 << 10);
      if (rc > 0) queued += rc;
    }
    expect(rc).toBe(-105); // ENOBUFS
    expect(queued).toBeGreaterThan(0);
    mem.sync();
    expect(mem.buffer.byteLength).toBeLessThanOrEqual(MAX_PAGES * 65536);
    const closed = events(r.takeEvents()).filter((e) => e.kind === EventKind.Closed);
    expect(closed).toEqual([{ kind: EventKind.Closed, conn: hSlow, status: CloseCause.WriteOverflow }]);
    // The freed queue makes room: the other connection is served, writes and all.
    expect(write(hOther, 64 << 10)).toBe(64 << 10);
    other.send('ping');
    expect(events(r.runOnce(0)).some((e) => e.kind === EventKind.Data && e.conn === hOther)).toBe(true);
    expect(other.received().length).toBe(64 << 10);
    expect(slow.closed).toBe(true);
    r.shutdown();
    r.takeEvents();
    expect(kernel.openFds()).toEqual([]);
  });
});
