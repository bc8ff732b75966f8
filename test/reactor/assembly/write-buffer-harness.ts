// Test entry points around the real assembly/write-buffer.ts (compiled by
// test/reactor/guest-compile.ts, driven by test/reactor/guest-write-buffer.test.ts).
import {
  ADOPT_ROOM, WB_SIZE, chunkLen, chunkNext, chunkPtr, wbAppend, wbAppendAdopted, wbBytes,
  wbClear, wbConsume, wbGather, wbHead, wbInit,
} from "../../../assembly/write-buffer";
import { heapAlloc, heapFree, heapInUse, heapUsable } from "../../../assembly/heap";

export function alloc(n: usize): usize { return heapAlloc(n); }
export function free(p: usize): void { heapFree(p); }
export function memPages(): i32 { return memory.size(); }
export function inUse(): usize { return heapInUse(); }
export const adoptRoom: i32 = <i32>ADOPT_ROOM;

export function newQueue(): usize { const q = heapAlloc(WB_SIZE); wbInit(q); return q; }
export function append(q: usize, src: usize, len: u32): bool { return wbAppend(q, src, len); }
/** Adopts `len` bytes at `block + off` (off >= ADOPT_ROOM) of a block from `alloc`. */
export function appendAdopted(q: usize, block: usize, off: u32, len: u32): void {
  wbAppendAdopted(q, block + off, len, block, block + heapUsable(block));
}
export function bytes(q: usize): u32 { return wbBytes(q); }
export function consume(q: usize, n: u32): void { wbConsume(q, n); }
export function clear(q: usize): void { wbClear(q); }
export function gather(q: usize, iov: usize, max: i32): i32 { return wbGather(q, iov, max); }
export function tail(q: usize): usize { return <usize>load<u32>(q, 4); }

export function chunkCount(q: usize): i32 {
  let n = 0;
  for (let c = wbHead(q); c != 0; c = chunkNext(c)) n++;
  return n;
}

/** Concatenates every queued byte, walking the chunks, into `dest`. */
export function copyOut(q: usize, dest: usize): u32 {
  let off: u32 = 0;
  for (let c = wbHead(q); c != 0; c = chunkNext(c)) {
    const n = chunkLen(c);
    memory.copy(dest + off, chunkPtr(c), n);
    off += n;
  }
  return off;
}

/** Fills [p, p+n) with the byte sequence (seed + i) & 255. */
export function pattern(p: usize, n: u32, seed: u32): void {
  for (let i: u32 = 0; i < n; i++) store<u8>(p + i, <u8>(seed + i));
}

/** Allocator churn: `iters` rounds of alloc/free of varying sizes. */
export function churn(iters: i32, maxSize: u32): void {
  let x: u32 = 12345;
  for (let i = 0; i < iters; i++) {
    x = x * 1103515245 + 12345;
    const a = heapAlloc(<usize>((x >> 8) % maxSize + 1));
    const b = heapAlloc(<usize>((x >> 3) % 64 + 1));
    heapFree(a);
    heapFree(b);
  }
}
