// The `data` views handed to onData (host/poller/data-views.ts): a view is handed
// out again for the same bytes, so a message allocates nothing, but never
// while it is one of the views delivered last (those are told apart when
// a handler kept one and writes it), and never once the memory grew.
import { describe, expect, it } from 'vitest';
import { DataViews, RECENT_VIEWS } from '../../host/poller/data-views.js';
import { GuestMemory } from '../../host/guest/memory.js';

function views(): { views: DataViews; memory: WebAssembly.Memory; mem: GuestMemory } {
  const memory = new WebAssembly.Memory({ initial: 1, maximum: 4 });
  const mem = new GuestMemory();
  mem.attach(memory, () => 0);
  return { views: new DataViews(mem), memory, mem };
}

describe('data views', () => {
  it('never hands out one of the last RECENT_VIEWS views again, and reuses the older ones', () => {
    const { views: dv } = views();
    const delivered: Uint8Array[] = [];
    for (let i = 0; i < 5 * (RECENT_VIEWS + 1); i++) {
      const view = dv.deliver(64, 8);
      expect(view.byteOffset).toBe(64);
      expect(view.byteLength).toBe(8);
      expect(delivered.slice(-RECENT_VIEWS)).not.toContain(view);
      delivered.push(view);
      dv.done();
    }
    // One address delivered over and over needs RECENT_VIEWS + 1 views, no more.
    expect(new Set(delivered).size).toBe(RECENT_VIEWS + 1);
  });

  it('hands out the same view for the same bytes when enough other views came between', () => {
    const { views: dv } = views();
    const first = Array.from({ length: 50 }, (_, i) => dv.deliver(i * 64, 64));
    const second = Array.from({ length: 50 }, (_, i) => dv.deliver(i * 64, 64));
    expect(second).toEqual(first);
    second.forEach((view, i) => expect(view).toBe(first[i]));
  });

  it('marks the view being delivered, and the recent ones, for the write path', () => {
    const { views: dv } = views();
    const view = dv.deliver(128, 16);
    expect(dv.current).toBe(view);
    expect([dv.currentPtr, dv.currentLen]).toEqual([128, 16]);
    dv.done();
    expect(dv.current).toBeUndefined();
    expect(dv.isRecent(view)).toBe(true);
    for (let i = 0; i < RECENT_VIEWS; i++) dv.deliver(1024 + i, 1);
    expect(dv.isRecent(view)).toBe(false);
  });

  it('makes a view of the right length when another length comes to the same address', () => {
    const { views: dv } = views();
    const short = dv.deliver(0, 4);
    for (let i = 0; i < RECENT_VIEWS; i++) dv.deliver(4096 + i, 1);
    const long = dv.deliver(0, 32);
    expect(long).not.toBe(short);
    expect(long.byteLength).toBe(32);
  });

  it('makes views on the grown memory, not on the buffer it detached', () => {
    const { views: dv, memory, mem } = views();
    const before = dv.deliver(0, 8);
    for (let i = 0; i < RECENT_VIEWS; i++) dv.deliver(4096 + i, 1);
    memory.grow(1);
    expect(before.byteLength).toBe(0);
    mem.sync();
    const after = dv.deliver(0, 8);
    expect(after.byteLength).toBe(8);
    expect(after.buffer).toBe(memory.buffer);
  });
});
