/**
 * `cabi_realloc`: where canonical-ABI lists that cross the boundary land.
 *
 * Three sources of memory, tried in order:
 *
 *  1. The landing zone. Right before calling an import that returns a list
 *     (`read`, `epoll-wait`; on WASI `input-stream.read`, `poll`) the sys
 *     implementation arms it with the exact destination the reactor wants
 *     (the batch data area, the ready array). The host's next
 *     `cabi_realloc(0, 0, align, n)` with n <= capacity gets that pointer,
 *     so bytes are written once, straight to their final place.
 *
 *  2. The per-call arena: small lists (export params such as `write`'s
 *     data, at most SMALL_MAX bytes) are bump-allocated. The arena is reset
 *     when every export returns (`endCall`; a WASI command's loop calls it
 *     after every batch), so it never holds anything across calls.
 *
 *  3. Large blocks: anything bigger comes from the heap, with a header
 *     linking it into the list of blocks handed out during the current
 *     call. `endCall` frees them, except a block the reactor adopted
 *     (`adoptLarge`) as a write-buffer chunk, which saves a copy; the
 *     header room then becomes the chunk header (ADOPT_ROOM bytes).
 *
 *   large block:
 *   base                 base+8            base+ADOPT_ROOM
 *   +------------+-------+-----------------+-----------------------------+
 *   | next u32   | size  |   (unused)      |  list bytes (returned ptr)  |
 *   +------------+-------+-----------------+-----------------------------+
 *
 * When the heap cannot provide the memory, `cabi_realloc` returns 0 (it
 * never traps): a host must then not write the list, and fails the call
 * that needed it (the Node host closes the connection being written to).
 *
 * Nothing here ever frees or reuses memory the host merely points at (the
 * zero-copy echo passes a pointer into the batch data area to `write`).
 */
import { heapAlloc, heapFree, heapReclaim } from "./heap";
import { ADOPT_ROOM } from "./write-buffer";

const ARENA_SIZE: usize = 64 << 10;
const SMALL_MAX: usize = 4096;
const LARGE_HEADER: usize = ADOPT_ROOM;

let arenaBase: usize = 0;
let arenaTop: usize = 0;

let landPtr: usize = 0;
let landCap: usize = 0;
let landArmed: bool = false;

/** Head of the singly linked list of large blocks of this call (bases). */
let largeHead: usize = 0;

/** Next request of the host lands at `ptr` (if it asks for <= cap bytes). */
export function armLanding(ptr: usize, cap: usize): void {
  landPtr = ptr; landCap = cap; landArmed = true;
}

export function disarmLanding(): void { landArmed = false; }

function allocLarge(size: usize): usize {
  if (size > 0xFFFF_0000) return 0;
  const base = heapAlloc(size + LARGE_HEADER);
  if (base == 0) return 0;
  store<u32>(base, <u32>largeHead);
  store<u32>(base, <u32>size, 4);
  largeHead = base;
  return base + LARGE_HEADER;
}

/** Canonical ABI realloc. `oldPtr` != 0 only when a host grows a list it is
 *  building; the new block then receives the old bytes. Returns 0 when the
 *  memory cannot be had. */
export function cabi_realloc(oldPtr: usize, oldSize: usize, align: usize, newSize: usize): usize {
  beginCall();
  if (oldPtr == 0 && landArmed && newSize <= landCap) {
    landArmed = false;
    return landPtr;
  }
  if (align == 0) align = 1;
  let p: usize;
  if (arenaBase == 0) { arenaBase = heapAlloc(ARENA_SIZE); arenaTop = arenaBase; }
  const aligned = (arenaTop + align - 1) & ~(align - 1);
  if (arenaBase != 0 && newSize <= SMALL_MAX && aligned + newSize <= arenaBase + ARENA_SIZE) {
    p = aligned;
    arenaTop = aligned + newSize;
  } else {
    p = allocLarge(newSize);
    if (p == 0) return 0;
  }
  if (oldPtr != 0 && oldSize != 0) memory.copy(p, oldPtr, min(oldSize, newSize));
  return p;
}

/** If [ptr, ptr+len) lies in a large block handed out during this call,
 *  unlinks it (so `endCall` keeps it) and returns its base, which the
 *  new owner must free with `heapFree`; its first ADOPT_ROOM bytes are
 *  free for the new owner's use. Otherwise returns 0. */
export function adoptLarge(ptr: usize, len: usize): usize {
  let prev: usize = 0;
  let b = largeHead;
  while (b != 0) {
    const start = b + LARGE_HEADER;
    const size = <usize>load<u32>(b, 4);
    if (ptr >= start && ptr + len <= start + size) {
      const next = <usize>load<u32>(b);
      if (prev == 0) largeHead = next; else store<u32>(prev, <u32>next);
      return b;
    }
    prev = b;
    b = <usize>load<u32>(b);
  }
  return 0;
}

/**
 * Called when every export (and `cabi_realloc`) is entered: memory the
 * host was told it may discard (`released` events of a list returned
 * before this call) is free for use again, since a host discards it, if at
 * all, before it calls in again.
 */
export function beginCall(): void {
  heapReclaim();
}

/** Called when every export returns: resets the arena, frees the large
 *  blocks nobody adopted, and disarms the landing zone. */
export function endCall(): void {
  arenaTop = arenaBase;
  landArmed = false;
  let b = largeHead;
  while (b != 0) {
    const next = <usize>load<u32>(b);
    heapFree(b, false); // staging for this call only: likely needed again at once
    b = next;
  }
  largeHead = 0;
}
