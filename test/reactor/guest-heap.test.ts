// Unit and property tests of assembly/heap.ts, compiled into a harness
// module: blocks never overlap and keep their bytes, freed memory merges
// and is reused, large freed runs are released (and discarding them harms
// no live block), the limit holds, and running out returns 0, never traps.
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { assertProperty } from './fault/property.js';
import { compileHarnessBinary, withMemoryMaximum } from './guest-compile.js';

type U = number;
interface Heap {
  memory: WebAssembly.Memory;
  setLimit(bytes: U): void; alloc(n: U): U; free(p: U): void; usable(p: U): U; inUse(): U; memPages(): U;
  nextRelease(out: U): U; reported(): void; reclaim(): void; out(): U;
}

const PAGE = 4096;
const pagesFor = (n: number) => Math.ceil((n + 16) / PAGE) * PAGE;

let binary: Uint8Array<ArrayBuffer>;
let module: WebAssembly.Module;
beforeAll(async () => {
  binary = await compileHarnessBinary('heap-harness.ts');
  module = new WebAssembly.Module(binary);
});

function fresh(limit?: number, from = module): Heap {
  const h = new WebAssembly.Instance(from, {}).exports as unknown as Heap;
  if (limit !== undefined) h.setLimit(limit);
  return h;
}

interface Block { ptr: number; size: number; seed: number }

/** Marks a block: its first and last bytes, and one every 4 KiB, derive from `seed`. */
function mark(h: Heap, b: Block): void {
  const u8 = new Uint8Array(h.memory.buffer);
  for (const at of probes(b)) u8[b.ptr + at] = (b.seed + at) & 0xff;
}
function intact(h: Heap, b: Block): boolean {
  const u8 = new Uint8Array(h.memory.buffer);
  return probes(b).every((at) => u8[b.ptr + at] === ((b.seed + at) & 0xff));
}
function probes(b: Block): number[] {
  const at = [0, b.size - 1];
  for (let i = PAGE; i < b.size; i += PAGE) at.push(i);
  return at;
}

/** Takes every pending release as the host would: discard (zero) the pages, then hand back. */
function releaseAll(h: Heap): Array<[number, number]> {
  const ranges: Array<[number, number]> = [];
  const out = h.out();
  while (h.nextRelease(out)) {
    const dv = new DataView(h.memory.buffer);
    ranges.push([dv.getUint32(out, true), dv.getUint32(out + 4, true)]);
  }
  h.reported();
  for (const [from, len] of ranges) new Uint8Array(h.memory.buffer).fill(0, from, from + len);
  return ranges;
}

type Op = { kind: 'alloc'; size: number } | { kind: 'free'; pick: number } | { kind: 'cycle' };
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('alloc' as const), size: fc.oneof(fc.integer({ min: 1, max: 20_000 }), fc.integer({ min: 20_000, max: 3 << 20 })) }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('free' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'cycle' as const }) },
);

describe('guest heap', () => {
  it('keeps blocks apart and intact through allocs, frees and releases; frees everything; stays in its limit', () => {
    assertProperty(fc.property(fc.array(op, { maxLength: 120 }), fc.constantFrom(undefined, 8 << 20), (ops, limit) => {
      const h = fresh(limit);
      const live: Block[] = [];
      let seed = 1;
      for (const o of ops) {
        if (o.kind === 'alloc') {
          const ptr = h.alloc(o.size);
          if (ptr === 0) {
            // Only a limit refuses, and only when growing by the request would pass it.
            expect(limit).toBeDefined();
            expect(h.memPages() * 65536 + pagesFor(o.size)).toBeGreaterThan(limit!);
            continue;
          }
          expect(ptr % 16).toBe(0);
          expect(h.usable(ptr)).toBeGreaterThanOrEqual(o.size);
          for (const b of live) expect(ptr + o.size <= b.ptr || b.ptr + b.size <= ptr).toBe(true);
          const b = { ptr, size: o.size, seed: seed++ };
          mark(h, b);
          live.push(b);
        } else if (o.kind === 'free') {
          if (live.length === 0) continue;
          const [b] = live.splice(o.pick % live.length, 1);
          h.free(b.ptr);
        } else {
          for (const [from, len] of releaseAll(h)) {
            expect(from % PAGE).toBe(0);
            expect(len % PAGE).toBe(0);
            for (const b of live) expect(from + len <= b.ptr - 16 || b.ptr + b.size <= from).toBe(true);
          }
          h.reclaim();
        }
        if (limit !== undefined) expect(h.memPages() * 65536).toBeLessThanOrEqual(limit);
        expect(h.inUse()).toBe(live.reduce((n, b) => n + pagesFor(b.size), 0));
        for (const b of live) expect(intact(h, b)).toBe(true);
      }
      for (const b of live.splice(0)) h.free(b.ptr);
      releaseAll(h);
      h.reclaim();
      expect(h.inUse()).toBe(0);
      // Everything merged back: one block as large as all the memory fits without growing.
      const pages = h.memPages();
      expect(h.alloc(pages * 65536 - 2 * PAGE)).not.toBe(0);
      expect(h.memPages()).toBe(pages);
    }), 300);
  });

  it('gives back large freed runs once much freed memory is resident, and reuses them after reclaim', () => {
    const h = fresh();
    const blocks = Array.from({ length: 40 }, () => h.alloc(1 << 20));
    expect(blocks.every((p) => p !== 0)).toBe(true);
    for (const p of blocks) new Uint8Array(h.memory.buffer).fill(7, p, p + (1 << 20));
    const pages = h.memPages();
    for (const p of blocks) h.free(p);
    const released = releaseAll(h).reduce((n, [, len]) => n + len, 0);
    // All but the 8 MiB kept warm (and the pages holding headers) are given back.
    expect(released).toBeGreaterThan(30 << 20);
    // Held runs are not reused before reclaim...
    const before = h.alloc(16 << 20);
    expect(h.memPages()).toBeGreaterThan(pages);
    h.free(before);
    h.reclaim();
    // ... and are afterwards, without growing.
    const grown = h.memPages();
    const again = Array.from({ length: 40 }, () => h.alloc(1 << 20));
    expect(again.every((p) => p !== 0)).toBe(true);
    expect(h.memPages()).toBe(grown);
  });

  it('returns 0 instead of trapping when memory.grow fails under an embedder limit', () => {
    // 40 pages of 64 KiB: the harness's memory may not grow past 2.5 MiB.
    const h = fresh(undefined, new WebAssembly.Module(withMemoryMaximum(binary, 40)));
    const a = h.alloc(1 << 20);
    expect(a).not.toBe(0);
    expect(h.alloc(4 << 20)).toBe(0);
    expect(h.memPages()).toBeLessThanOrEqual(40);
    // Still usable: smaller requests fit, freeing makes room again.
    const b = h.alloc(512 << 10);
    expect(b).not.toBe(0);
    h.free(a);
    h.free(b);
    expect(h.alloc(2 << 20)).not.toBe(0);
  });
});
