// Unit tests of assembly/write-buffer.ts, compiled into a harness module.
import { beforeAll, describe, expect, it } from 'vitest';
import { compileHarness } from './guest-compile.js';

type U = number;
interface WB {
  memory: WebAssembly.Memory;
  alloc(n: U): U; free(p: U): void; memPages(): U;
  newQueue(): U; append(q: U, src: U, len: U): void; appendAdopted(q: U, block: U, off: U, len: U): void;
  bytes(q: U): U; consume(q: U, n: U): void; clear(q: U): void; gather(q: U, iov: U, max: U): U;
  tail(q: U): U; chunkCount(q: U): U; copyOut(q: U, dest: U): U; pattern(p: U, n: U, seed: U): void;
  churn(iters: U, maxSize: U): void;
  adoptRoom: WebAssembly.Global;
}

let wb: WB;
beforeAll(async () => {
  wb = (await compileHarness('write-buffer-harness.ts')).exports as unknown as WB;
});

const mem = () => new Uint8Array(wb.memory.buffer);
const u32 = (p: number) => new DataView(wb.memory.buffer).getUint32(p, true);

/** Puts `data` into guest memory (a fresh block), calls fn, frees the block. */
function withBytes<T>(data: Uint8Array, fn: (p: number) => T): T {
  const p = wb.alloc(Math.max(1, data.length));
  mem().set(data, p);
  try { return fn(p); } finally { wb.free(p); }
}
function appendBytes(q: number, data: Uint8Array) { withBytes(data, (p) => wb.append(q, p, data.length)); }
function contents(q: number): Uint8Array {
  const n = wb.bytes(q) >>> 0;
  const dest = wb.alloc(Math.max(1, n));
  const got = wb.copyOut(q, dest) >>> 0;
  const out = mem().slice(dest, dest + got);
  wb.free(dest);
  expect(got).toBe(n);
  return out;
}
/** Byte equality that stays fast for MiB-sized arrays (toEqual is not). */
function expectSame(got: Uint8Array, want: Uint8Array) {
  expect(got.length).toBe(want.length);
  if (!Buffer.from(got.buffer, got.byteOffset, got.length).equals(Buffer.from(want.buffer, want.byteOffset, want.length))) {
    let i = 0; while (got[i] === want[i]) i++;
    expect({ firstDiff: i, got: got[i] }).toEqual({ firstDiff: i, got: want[i] });
  }
}
function seq(n: number, seed: number) {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (seed + i) & 255;
  return b;
}
function concat(parts: Uint8Array[]) {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0; for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

describe('guest write buffer', () => {
  it('starts empty and ignores empty appends', () => {
    const q = wb.newQueue();
    expect(wb.bytes(q)).toBe(0);
    expect(wb.chunkCount(q)).toBe(0);
    appendBytes(q, new Uint8Array(0));
    expect(wb.bytes(q)).toBe(0);
    expect(wb.chunkCount(q)).toBe(0);
  });

  it('keeps appends in order and coalesces small ones into one chunk', () => {
    const q = wb.newQueue();
    const parts = [seq(10, 1), seq(100, 50), seq(1, 7), seq(3000, 9)];
    for (const p of parts) appendBytes(q, p);
    expect(wb.bytes(q)).toBe(3111);
    expect(wb.chunkCount(q)).toBe(1);
    expectSame(contents(q), concat(parts));
    wb.clear(q);
  });

  it('consumes partially across chunk boundaries', () => {
    const q = wb.newQueue();
    const parts = [seq(5000, 3), seq(70_000, 11), seq(20, 200), seq(9000, 77)];
    for (const p of parts) appendBytes(q, p);
    const all = concat(parts);
    expect(wb.bytes(q)).toBe(all.length);
    expect(wb.chunkCount(q)).toBeGreaterThan(1);
    let off = 0;
    for (const step of [1, 4095, 3, 904, 60_000, 9_997, 1, 9_019]) {
      wb.consume(q, step);
      off += step;
      expect(wb.bytes(q)).toBe(all.length - off);
      expectSame(contents(q), all.subarray(off));
    }
    expect(off).toBe(all.length);
    expect(wb.chunkCount(q)).toBe(0);
    expect(wb.tail(q)).toBe(0);
    // usable again after draining
    appendBytes(q, seq(10, 1));
    expectSame(contents(q), seq(10, 1));
    wb.clear(q);
  });

  it('gathers {ptr,len} records in order, bounded by max', () => {
    const q = wb.newQueue();
    const parts = [seq(70_000, 1), seq(70_000, 2), seq(70_000, 3)];
    for (const p of parts) appendBytes(q, p);
    wb.consume(q, 100);
    const iov = wb.alloc(8 * 8);
    const n = wb.gather(q, iov, 8);
    expect(n).toBe(wb.chunkCount(q));
    let total = 0;
    const got: Uint8Array[] = [];
    for (let i = 0; i < n; i++) {
      const p = u32(iov + 8 * i), l = u32(iov + 8 * i + 4);
      total += l;
      got.push(mem().slice(p, p + l));
    }
    expect(total).toBe(wb.bytes(q));
    expectSame(concat(got), concat(parts).subarray(100));
    expect(wb.gather(q, iov, 1)).toBe(1);
    wb.free(iov);
    wb.clear(q);
  });

  it('takes a large append whole, in one chunk', () => {
    const q = wb.newQueue();
    appendBytes(q, seq(10, 0));
    const big = seq(4 << 20, 5);
    appendBytes(q, big);
    expect(wb.bytes(q)).toBe(10 + big.length);
    expect(wb.chunkCount(q)).toBe(2);
    expectSame(contents(q), concat([seq(10, 0), big]));
    wb.consume(q, 10 + (1 << 20));
    expectSame(contents(q), big.subarray(1 << 20));
    wb.clear(q);
    expect(wb.bytes(q)).toBe(0);
  });

  it('adopts a foreign block without copying and frees it when sent', () => {
    const q = wb.newQueue();
    appendBytes(q, seq(3, 100));
    const block = wb.alloc(100_000);
    wb.pattern(block, 100_000, 9);
    wb.appendAdopted(q, block, 1000, 99_000);
    appendBytes(q, seq(7, 42)); // fills the rest of the adopted block's last page
    expect(wb.bytes(q)).toBe(3 + 99_000 + 7);
    const iov = wb.alloc(64);
    expect(wb.gather(q, iov, 8)).toBe(2);
    expect(u32(iov + 8)).toBe(block + 1000); // zero copy
    expect(u32(iov + 12)).toBe(99_007);
    wb.free(iov);
    expectSame(contents(q), concat([seq(3, 100), seq(100_000, 9).subarray(1000), seq(7, 42)]));
    wb.consume(q, 3 + 99_000);
    expectSame(contents(q), seq(7, 42));
    wb.clear(q);
  });

  it('frees everything: memory stays flat over many append/consume/clear cycles', () => {
    const q = wb.newQueue();
    const src = wb.alloc(300_000);
    const cycle = (i: number) => {
      const sizes = [1 + (i % 97), 4096, 65_536 + (i % 13), 200_000 + (i % 7)];
      for (const s of sizes) wb.append(q, src, s);
      if (i % 3 === 0) {
        const block = wb.alloc(150_000);
        wb.appendAdopted(q, block, wb.adoptRoom.value, 149_000);
      }
      if (i % 2 === 0) wb.consume(q, wb.bytes(q) >>> 0);
      else { wb.consume(q, 12_345); wb.clear(q); }
      expect(wb.bytes(q)).toBe(0);
    };
    for (let i = 0; i < 200; i++) cycle(i); // warm up: reach steady state
    const pages = wb.memPages();
    for (let i = 0; i < 3000; i++) cycle(i);
    expect(wb.memPages()).toBe(pages);
    wb.free(src);
  });

  it('the heap really frees (no growth over 100k alloc/free)', () => {
    wb.churn(1000, 1 << 20);
    const pages = wb.memPages();
    wb.churn(100_000, 1 << 20);
    expect(wb.memPages()).toBe(pages);
  });
});
