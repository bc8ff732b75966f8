/**
 * The runs of pages the heap (heap.ts) tiles its memory with: their
 * headers, the bins that find a free run by size, merging free neighbours,
 * and splitting a run to hand out its front. What is allocated, and how
 * far the memory may grow, is heap.ts's.
 *
 * Memory map:
 *
 *   0 ........ __heap_base      static data (memory.data)
 *   heapStart ........ heapEnd  runs of 4 KiB pages, in address order,
 *                               tiling the range exactly; heapEnd is the
 *                               end of linear memory
 *
 * A run is used (handed out), free (in a bin), or held (freed, waiting for
 * the host to discard its pages; neither used nor allocatable). Free runs
 * never touch each other: freeing merges neighbours. Run header, at the
 * run's first byte:
 *
 *   +0    +4     +8     +12    +16      +20      +24
 *   +-----+------+------+------+--------+--------+
 *   |info |left  |prev  |next  |dirtyLo |dirtyHi |      (free and held runs)
 *   +-----+------+------+------+--------+--------+
 *   |info |left  | payload (used runs: from +16) ...
 *   +-----+------+----------------------------------
 *
 *   info:  pages (bits 0..20) | FREE (bit 31) | LEFT_FREE (bit 30) | HELD (bit 29)
 *   left:  pages of the run on the left, valid while LEFT_FREE
 *   prev, next: links of the bin (free) or of a release list (held)
 *   dirtyLo, dirtyHi: pages [dirtyLo, dirtyHi) of the run may be resident;
 *          the others were never touched or were discarded
 *
 * Only a run's first page is ever written by the heap, so the host may
 * discard every other page of a held run.
 *
 * Bins: runs of 1..32 pages by exact size (bins 0..31); larger runs by
 * power of two (bin 32 + log2(pages) - 5). A bitmap says which bins are
 * non-empty.
 */

export const PAGE_SHIFT: u32 = 12;
/** Bytes of a page, the unit runs are made of. */
export const PAGE: usize = 1 << PAGE_SHIFT;
/** Bytes of a used run's header: its payload starts here. */
export const HEADER: usize = 16;

const PAGES_MASK: u32 = (1 << 21) - 1;
const FREE: u32 = 1 << 31;
const LEFT_FREE: u32 = 1 << 30;
const HELD: u32 = 1 << 29;

const EXACT_BINS: u32 = 32;
const BINS: u32 = 48;

let heapStart: usize = 0;
let heapEnd: usize = 0;

/** Left-neighbour info of the (virtual) run at heapEnd. */
let endLeftFree: bool = false;
let endLeftPages: u32 = 0;

const BIN_HEADS: usize = memory.data(<i32>(BINS * 4), 4);
let binMap: u64 = 0;

/** Pages of free runs that may be resident (sum of dirtyHi - dirtyLo). */
let dirtyFree: u32 = 0;

// ---- headers ----

@inline function info(r: usize): u32 { return load<u32>(r); }
@inline export function pagesOf(r: usize): u32 { return load<u32>(r) & PAGES_MASK; }
@inline function prevOf(r: usize): usize { return <usize>load<u32>(r, 8); }
@inline export function nextOf(r: usize): usize { return <usize>load<u32>(r, 12); }
@inline export function setLinks(r: usize, prev: usize, next: usize): void {
  store<u32>(r, <u32>prev, 8);
  store<u32>(r, <u32>next, 12);
}
@inline export function dirtyLo(r: usize): u32 { return load<u32>(r, 16); }
@inline export function dirtyHi(r: usize): u32 { return load<u32>(r, 20); }
@inline function setDirty(r: usize, lo: u32, hi: u32): void {
  store<u32>(r, lo, 16);
  store<u32>(r, hi, 20);
}
@inline function endOf(r: usize): usize { return r + (<usize>pagesOf(r) << PAGE_SHIFT); }

/** Records whether the run left of address `at` is free, and its size. */
function setLeft(at: usize, free: bool, pages: u32): void {
  if (at == heapEnd) {
    endLeftFree = free;
    endLeftPages = pages;
    return;
  }
  const i = info(at);
  store<u32>(at, free ? i | LEFT_FREE : i & ~LEFT_FREE);
  if (free) store<u32>(at, pages, 4);
}

// ---- bins ----

function binOf(pages: u32): u32 {
  if (pages <= EXACT_BINS) return pages - 1;
  return EXACT_BINS + (31 - clz<u32>(pages)) - 5;
}

function insert(r: usize): void {
  const b = binOf(pagesOf(r));
  const slot = BIN_HEADS + (<usize>b << 2);
  const head = <usize>load<u32>(slot);
  setLinks(r, 0, head);
  if (head != 0) store<u32>(head, <u32>r, 8);
  store<u32>(slot, <u32>r);
  binMap |= <u64>1 << b;
  dirtyFree += dirtyHi(r) - dirtyLo(r);
}

function remove(r: usize): void {
  const b = binOf(pagesOf(r));
  const prev = prevOf(r);
  const next = nextOf(r);
  if (prev != 0) store<u32>(prev, <u32>next, 12);
  else {
    store<u32>(BIN_HEADS + (<usize>b << 2), <u32>next);
    if (next == 0) binMap &= ~(<u64>1 << b);
  }
  if (next != 0) store<u32>(next, <u32>prev, 8);
  dirtyFree -= dirtyHi(r) - dirtyLo(r);
}

/** A free run of at least `pages` pages, or 0. */
export function find(pages: u32): usize {
  const b = binOf(pages);
  // Every run in a bin above `b` is large enough; so is every run in `b`
  // itself while bins are exact.
  const first = b < EXACT_BINS ? b : b + 1;
  const above = first < BINS ? binMap & (~<u64>0 << first) : 0;
  if (above != 0) return <usize>load<u32>(BIN_HEADS + (<usize>ctz<u64>(above) << 2));
  if (b < EXACT_BINS) return 0;
  for (let r = <usize>load<u32>(BIN_HEADS + (<usize>b << 2)); r != 0; r = nextOf(r)) {
    if (pagesOf(r) >= pages) return r;
  }
  return 0;
}

// ---- free runs ----

/** Makes [r, r + pages) a free run (merging free neighbours) and bins it.
 *  [lo, hi) are its possibly resident pages. Returns the merged run. */
function makeFree(r: usize, pages: u32, leftFree: bool, lo: u32, hi: u32): usize {
  if (leftFree) {
    const leftPages = load<u32>(r, 4);
    const l = r - (<usize>leftPages << PAGE_SHIFT);
    remove(l);
    const llo = dirtyLo(l);
    const lhi = dirtyHi(l);
    if (hi > lo) { lo += leftPages; hi += leftPages; }
    if (lhi > llo) {
      if (hi > lo) { lo = min(lo, llo); hi = max(hi, lhi); } else { lo = llo; hi = lhi; }
    }
    r = l;
    pages += leftPages;
  }
  const right = r + (<usize>pages << PAGE_SHIFT);
  if (right < heapEnd && (info(right) & FREE) != 0) {
    remove(right);
    const rlo = dirtyLo(right);
    const rhi = dirtyHi(right);
    if (rhi > rlo) {
      if (hi > lo) { hi = pages + rhi; } else { lo = pages + rlo; hi = pages + rhi; }
    }
    pages += pagesOf(right);
  }
  store<u32>(r, pages | FREE);
  setDirty(r, lo, hi);
  setLeft(r + (<usize>pages << PAGE_SHIFT), true, pages);
  insert(r);
  return r;
}

/** Starts tiling: runs from the first page past the static data to the end of the memory as it is. */
export function startRuns(): void {
  heapStart = (__heap_base + PAGE - 1) & ~(PAGE - 1);
  heapEnd = heapStart;
  const end = <usize>memory.size() << 16;
  if (end > heapStart) addRuns(end);
}

/** Adds [heapEnd, end) (fresh, untouched memory, the memory having grown) to the runs. */
export function addRuns(end: usize): void {
  const added = <u32>((end - heapEnd) >> PAGE_SHIFT);
  const at = heapEnd;
  const leftFree = endLeftFree;
  heapEnd = end;
  if (leftFree) {
    // Extend the free run that ended at the old end.
    const l = at - (<usize>endLeftPages << PAGE_SHIFT);
    remove(l);
    const pages = pagesOf(l) + added;
    store<u32>(l, pages | FREE);
    endLeftPages = pages;
    insert(l);
    return;
  }
  store<u32>(at, added | FREE);
  setDirty(at, 0, 1);
  setLeft(heapEnd, true, added);
  insert(at);
}

/** Pages of the free run that ends at the end of the memory; 0 if the last run is not free. */
export function freePagesAtEnd(): u32 { return endLeftFree ? endLeftPages : 0; }

/** Pages of free runs that may be resident. */
export function dirtyFreePages(): u32 { return dirtyFree; }

/**
 * Makes the first `pages` pages of the free run `r` (of at least that
 * many) a used run; the rest stays free, its first page now holding a
 * header.
 */
export function takeRun(r: usize, pages: u32): void {
  remove(r);
  const have = pagesOf(r);
  const lo = dirtyLo(r);
  const hi = dirtyHi(r);
  store<u32>(r, pages);
  if (have > pages) {
    const rest = r + (<usize>pages << PAGE_SHIFT);
    const restPages = have - pages;
    store<u32>(rest, restPages | FREE);
    const rlo = max(lo, pages);
    setDirty(rest, 0, hi > rlo ? hi - pages : 1);
    setLeft(rest + (<usize>restPages << PAGE_SHIFT), true, restPages);
    insert(rest);
  } else {
    setLeft(r + (<usize>pages << PAGE_SHIFT), false, 0);
  }
}

/** Frees the used run `r` of `pages` pages, all possibly resident; returns the free run it merged into. */
export function freeRun(r: usize, pages: u32): usize {
  return makeFree(r, pages, (info(r) & LEFT_FREE) != 0, 0, pages);
}

/** Takes the free run `r` out of its bin and marks it held (neither used nor allocatable); its links are the caller's. */
export function holdRun(r: usize): void {
  remove(r);
  store<u32>(r, pagesOf(r) | HELD);
  setLeft(endOf(r), false, 0);
}

/** Frees the held run `r` again, its pages past the header discarded (clean). */
export function reclaimRun(r: usize): void {
  makeFree(r, pagesOf(r), (info(r) & LEFT_FREE) != 0, 0, 1);
}
