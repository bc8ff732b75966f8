/**
 * The list of pollables one `epoll-wait` hands to wasi:io/poll, each with
 * a tag saying what its readiness means, and the indices poll returns.
 * Three growable arrays, reused by every wait (steady state allocates
 * nothing):
 *
 *   handles  i32 x cap   the pollables, in the order added
 *   tags     u32 x cap   the caller's tag of each
 *   ready    u32 x cap   the tags of the pollables the last poll found ready
 *
 * The whole list can be polled (`psPoll`), or a part of it with one more
 * pollable (`psPollPart`, for the sweeps of wasi/epoll-wait.ts). There is
 * always room for one entry past the last (cap > count), where a part's
 * extra pollable is put while it is polled.
 */
import { poll } from "./io";

let handles: usize = 0;
let tags: usize = 0;
let ready: usize = 0;
let count: u32 = 0;
let cap: u32 = 0;

function grow(): void {
  const newCap = cap == 0 ? 256 : cap << 1;
  const h = heap.alloc(<usize>newCap << 2);
  const t = heap.alloc(<usize>newCap << 2);
  if (cap != 0) {
    memory.copy(h, handles, <usize>count << 2);
    memory.copy(t, tags, <usize>count << 2);
    heap.free(handles); heap.free(tags); heap.free(ready);
  }
  handles = h; tags = t;
  ready = heap.alloc(<usize>newCap << 2);
  cap = newCap;
}

/** Empties the set (keeps its memory). */
export function psClear(): void { count = 0; }

/** Pollables in the set. */
export function psCount(): u32 { return count; }

/** Adds pollable `p` (borrowed: the set never drops it) with `tag`. */
export function psAdd(p: i32, tag: u32): void {
  if (count + 1 >= cap) grow();
  store<i32>(handles + (<usize>count << 2), p);
  store<u32>(tags + (<usize>count << 2), tag);
  count++;
}

/** The tag of entry `i` (< psCount()). */
export function psTag(i: u32): u32 { return load<u32>(tags + (<usize>i << 2)); }

/** Replaces the first `n` ready indices (relative to entry `from`) by their tags. */
function tagReady(n: u32, from: u32): void {
  for (let i: u32 = 0; i < n; i++) {
    const at = ready + (<usize>i << 2);
    store<u32>(at, load<u32>(tags + (<usize>(from + load<u32>(at)) << 2)));
  }
}

/** Blocks until at least one pollable is ready (the set must not be
 *  empty); returns how many are (see `psReadyTag`). */
export function psPoll(): u32 {
  const n = poll(handles, count, ready);
  tagReady(n, 0);
  return n;
}

/**
 * Polls entries [`from`, `from + len`) and `extra` (tagged `extraTag`)
 * in one call, blocking until one of them is ready: with an always-ready
 * `extra` the call never blocks. Returns how many are ready (see
 * `psReadyTag`). Requires `from + len <= psCount()`.
 */
export function psPollPart(from: u32, len: u32, extra: i32, extraTag: u32): u32 {
  const end = <usize>(from + len) << 2;
  const keptHandle = load<i32>(handles + end);
  const keptTag = load<u32>(tags + end);
  store<i32>(handles + end, extra);
  store<u32>(tags + end, extraTag);
  const n = poll(handles + (<usize>from << 2), len + 1, ready);
  tagReady(n, from);
  store<i32>(handles + end, keptHandle);
  store<u32>(tags + end, keptTag);
  return n;
}

/** The tag of the `i`-th ready pollable of the last poll (i < its count). */
export function psReadyTag(i: u32): u32 { return load<u32>(ready + (<usize>i << 2)); }
