// Test entry points around the real assembly/heap.ts (compiled by
// test/reactor/guest-compile.ts, driven by test/reactor/guest-heap.test.ts).
import {
  heapAlloc, heapFree, heapInUse, heapNextRelease, heapReclaim, heapReleaseFrom, heapReleaseLength,
  heapReported, heapSetLimit, heapUsable,
} from "../../../assembly/heap";

export function setLimit(bytes: u32): void { heapSetLimit(<u64>bytes); }
export function alloc(n: u32): usize { return heapAlloc(<usize>n); }
export function free(p: usize): void { heapFree(p); }
export function usable(p: usize): usize { return heapUsable(p); }
export function inUse(): usize { return heapInUse(); }
export function memPages(): i32 { return memory.size(); }

/** The next run to release: writes its byte range to [out, out+8) and returns 1, or returns 0. */
export function nextRelease(out: usize): i32 {
  const run = heapNextRelease();
  if (run == 0) return 0;
  store<u32>(out, <u32>heapReleaseFrom(run));
  store<u32>(out, <u32>heapReleaseLength(run), 4);
  return 1;
}
export function reported(): void { heapReported(); }
export function reclaim(): void { heapReclaim(); }

/** A place for nextRelease's output. */
const OUT = memory.data(8, 4);
export function out(): usize { return OUT; }
