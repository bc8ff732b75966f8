/**
 * The list of pollables one `epoll-wait` hands to wasi:io/poll, each with
 * a tag saying what its readiness means, and the indices poll returns.
 * Three growable arrays, reused by every wait (steady state allocates
 * nothing):
 *
 *   handles  i32 x cap   the pollables, in the order added
 *   tags     u32 x cap   the caller's tag of each
 *   ready    u32 x cap   poll's result: indices into handles
 */
import { poll } from "./io";

let handles: usize = 0;
let tags: usize = 0;
let ready: usize = 0;
let count: u32 = 0;
let cap: u32 = 0;
let readyCount: u32 = 0;

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
export function psClear(): void { count = 0; readyCount = 0; }

/** Pollables in the set. */
export function psCount(): u32 { return count; }

/** Adds pollable `p` (borrowed: the set never drops it) with `tag`. */
export function psAdd(p: i32, tag: u32): void {
  if (count == cap) grow();
  store<i32>(handles + (<usize>count << 2), p);
  store<u32>(tags + (<usize>count << 2), tag);
  count++;
}

/** Blocks until at least one pollable is ready (the set must not be
 *  empty); returns how many are. */
export function psPoll(): u32 {
  readyCount = poll(handles, count, ready);
  return readyCount;
}

/** The tag of the `i`-th ready pollable (i < the count psPoll returned). */
export function psReadyTag(i: u32): u32 {
  return load<u32>(tags + (<usize>load<u32>(ready + (<usize>i << 2)) << 2));
}
