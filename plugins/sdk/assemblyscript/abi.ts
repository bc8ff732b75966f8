/**
 * The canonical-ABI plumbing of a plugin: `cabi_realloc`, where the host
 * puts the lists and strings it passes in (the `config` of `init`, the
 * `data` of `on-data`, returned addresses), and the per-call arena behind it.
 *
 * Small requests are bump-allocated from an arena that is reset when each
 * export returns (`endCall`); bigger ones come from the heap and are freed
 * then. So nothing the host passed in outlives the call it came with: a
 * plugin copies what it keeps (`Bytes.toUint8Array`).
 */

const ARENA_SIZE: usize = 64 << 10;
const LARGE_HEADER: usize = 8;

let arenaBase: usize = 0;
let arenaTop: usize = 0;
/** Heap blocks handed out during this call (bases, linked through their first word). */
let largeHead: usize = 0;

/** Canonical ABI realloc. `oldPtr` != 0 only when the host grows a list it is building. */
export function cabi_realloc(oldPtr: usize, oldSize: usize, align: usize, newSize: usize): usize {
  if (align == 0) align = 1;
  if (arenaBase == 0) {
    arenaBase = heap.alloc(ARENA_SIZE);
    arenaTop = arenaBase;
  }
  let p = (arenaTop + align - 1) & ~(align - 1);
  if (p + newSize <= arenaBase + ARENA_SIZE) {
    arenaTop = p + newSize;
  } else {
    const base = heap.alloc(newSize + LARGE_HEADER + align);
    store<u32>(base, <u32>largeHead);
    largeHead = base;
    p = (base + LARGE_HEADER + align - 1) & ~(align - 1);
  }
  if (oldPtr != 0 && oldSize != 0) memory.copy(p, oldPtr, min(oldSize, newSize));
  return p;
}

/** Called as every export returns: resets the arena and frees this call's heap blocks. */
export function endCall(): void {
  arenaTop = arenaBase;
  let b = largeHead;
  while (b != 0) {
    const next = <usize>load<u32>(b);
    heap.free(b);
    b = next;
  }
  largeHead = 0;
}
