/**
 * The reactor's heap: every block of memory the reactor allocates (the
 * connection table, the batch, the event array, write buffers, lists the
 * host hands in) comes from here. It replaces AssemblyScript's allocator
 * for three reasons:
 *
 *  - it never traps: when the memory cannot grow (the budget set by
 *    `heapSetLimit`, or a limit the embedder imposes on `memory.grow`),
 *    `heapAlloc` returns 0 and the caller fails one connection instead;
 *  - it stays inside its budget: it grows the memory only by what it
 *    needs (in steps, never past the limit);
 *  - it gives memory back: large freed runs are "held" and reported
 *    (`heapNextRelease`), so that the host can discard their pages
 *    (madvise MADV_DONTNEED); Wasm memory itself never shrinks.
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
 *
 * WASI builds (`--use NBIO_WASI=1`) are different: their command
 * components run AssemblyScript handlers whose objects live in the
 * runtime's collected heap, and two allocators cannot share one linear
 * memory. There every function below delegates to the runtime's allocator
 * (`heap.alloc`/`heap.free`, with a 16-byte header keeping the size): no
 * limit of its own (`heapSetLimit` does nothing; cap the memory with the
 * runtime's limits), nothing held for release, and a `memory.grow` the
 * runtime refuses traps, as the runtime's allocator does.
 */

const PAGE_SHIFT: u32 = 12;
/** The heap hands out whole pages of this size. */
export const HEAP_PAGE: usize = 1 << PAGE_SHIFT;
const PAGE: usize = HEAP_PAGE;
/** Bytes of each block before the pointer `heapAlloc` returns. */
export const HEAP_OVERHEAD: usize = 16;
const HEADER: usize = HEAP_OVERHEAD;

const PAGES_MASK: u32 = (1 << 21) - 1;
const FREE: u32 = 1 << 31;
const LEFT_FREE: u32 = 1 << 30;
const HELD: u32 = 1 << 29;

const EXACT_BINS: u32 = 32;
const BINS: u32 = 48;

/** Wasm pages (64 KiB) the memory grows by at least, when it must grow. */
const GROW_MIN: i32 = 16;
/** ... and at most, unless one allocation needs more. */
const GROW_MAX: i32 = 1024;

/**
 * Freed runs with at least `releaseMin` possibly resident pages are given
 * back once more than `retain` freed pages may be resident in all: 1 MiB
 * and 8 MiB, or less for a small memory limit (1/64 and 1/16 of it).
 */
let releaseMin: u32 = 256;
let retain: u32 = 2048;

let started: bool = false;
let heapStart: usize = 0;
let heapEnd: usize = 0;
/** Most Wasm pages the heap can address: heapEnd must fit a u32. */
const MAX_PAGES: i32 = 65535;
/** Largest memory size allowed, in Wasm pages. */
let limitPages: i32 = MAX_PAGES;

/** Left-neighbour info of the (virtual) run at heapEnd. */
let endLeftFree: bool = false;
let endLeftPages: u32 = 0;

const BIN_HEADS: usize = memory.data(<i32>(BINS * 4), 4);
let binMap: u64 = 0;

/** Pages of free runs that may be resident (sum of dirtyHi - dirtyLo). */
let dirtyFree: u32 = 0;
/** Bytes in used runs, headers included. */
let usedBytes: usize = 0;

/** Held runs not reported yet, reported ones, and ones the host has seen. */
let heldNew: usize = 0;
let heldReported: usize = 0;
let heldSeen: usize = 0;

// ---- headers ----

@inline function info(r: usize): u32 { return load<u32>(r); }
@inline function pagesOf(r: usize): u32 { return load<u32>(r) & PAGES_MASK; }
@inline function prevOf(r: usize): usize { return <usize>load<u32>(r, 8); }
@inline function nextOf(r: usize): usize { return <usize>load<u32>(r, 12); }
@inline function setLinks(r: usize, prev: usize, next: usize): void {
  store<u32>(r, <u32>prev, 8);
  store<u32>(r, <u32>next, 12);
}
@inline function dirtyLo(r: usize): u32 { return load<u32>(r, 16); }
@inline function dirtyHi(r: usize): u32 { return load<u32>(r, 20); }
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
function find(pages: u32): usize {
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

function start(): void {
  started = true;
  heapStart = (__heap_base + PAGE - 1) & ~(PAGE - 1);
  heapEnd = heapStart;
  const end = <usize>memory.size() << 16;
  if (end > heapStart) addMemory(end);
}

/** Adds [heapEnd, end) (fresh, untouched memory) to the heap. */
function addMemory(end: usize): void {
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

/** Grows the memory so that a free run of `pages` pages exists. */
function grow(pages: u32): bool {
  const have = endLeftFree ? endLeftPages : 0;
  const needBytes = (<u64>(pages - have) << PAGE_SHIFT);
  const need = <i32>((needBytes + 0xffff) >> 16);
  const size = memory.size();
  if (<i64>size + <i64>need > <i64>limitPages) return false;
  let want = max(need, min(max(size >> 3, GROW_MIN), GROW_MAX));
  if (size + want > limitPages) want = need;
  if (memory.grow(want) < 0) {
    if (want == need || memory.grow(need) < 0) return false;
  }
  addMemory(<usize>memory.size() << 16);
  return true;
}

// ---- the API ----

/** Caps the linear memory at `bytes` (rounded down to 64 KiB pages; 0: as
 *  much as wasm32 allows). */
export function heapSetLimit(bytes: u64): void {
  if (isDefined(NBIO_WASI)) return;
  limitPages = bytes == 0 ? MAX_PAGES : <i32>min<u64>(bytes >> 16, <u64>MAX_PAGES);
  const pages = <u32>(<u64>limitPages << 4);
  releaseMin = clamp(pages >> 6, 4, 256);
  retain = clamp(pages >> 4, 16, 2048);
}

@inline function clamp(x: u32, lo: u32, hi: u32): u32 { return max(lo, min(x, hi)); }

/**
 * Allocates `size` bytes (16-byte aligned, not zeroed). Returns 0 when the
 * memory cannot hold them: the limit would be passed, or `memory.grow`
 * failed. Never traps.
 */
export function heapAlloc(size: usize): usize {
  if (isDefined(NBIO_WASI)) {
    const block = heap.alloc(size + HEADER);
    store<usize>(block, size);
    usedBytes += size + HEADER;
    return block + HEADER;
  }
  if (!started) start();
  const bytes = <u64>size + <u64>HEADER + <u64>(PAGE - 1);
  if (bytes > 0xFFFF_F000) return 0;
  const pages = <u32>(bytes >> PAGE_SHIFT);
  let r = find(pages);
  if (r == 0) {
    if (!grow(pages)) return 0;
    r = find(pages);
    if (r == 0) return 0;
  }
  remove(r);
  const have = pagesOf(r);
  const lo = dirtyLo(r);
  const hi = dirtyHi(r);
  store<u32>(r, pages);
  if (have > pages) {
    // The rest stays free; its first page now holds a header.
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
  usedBytes += <usize>pages << PAGE_SHIFT;
  return r + HEADER;
}

/**
 * Frees a block from `heapAlloc` (0 is ignored). With `release`, a large
 * run freed while much freed memory may be resident is held instead, for
 * the host to discard its pages (see `heapNextRelease`); it becomes
 * allocatable again after `heapReclaim`. Blocks that live only for one
 * call (staging for a write) are freed without `release`: they are likely
 * needed again at once, and holding them would make the memory grow.
 */
export function heapFree(ptr: usize, release: bool = true): void {
  if (ptr == 0) return;
  if (isDefined(NBIO_WASI)) {
    usedBytes -= load<usize>(ptr - HEADER) + HEADER;
    heap.free(ptr - HEADER);
    return;
  }
  const r = ptr - HEADER;
  const pages = pagesOf(r);
  usedBytes -= <usize>pages << PAGE_SHIFT;
  const merged = makeFree(r, pages, (info(r) & LEFT_FREE) != 0, 0, pages);
  const dirty = dirtyHi(merged) - dirtyLo(merged);
  if (release && dirty >= releaseMin && dirtyFree > retain) hold(merged);
}

/** Takes a free run out of its bin and onto the list of runs to report. */
function hold(r: usize): void {
  remove(r);
  store<u32>(r, pagesOf(r) | HELD);
  setLeft(endOf(r), false, 0);
  setLinks(r, 0, heldNew);
  heldNew = r;
}

/**
 * The next held run not reported yet, or 0. Its pages from
 * `heapReleaseFrom(run)` on, `heapReleaseLength(run)` bytes, will not be
 * read or written until `heapReclaim` after the host has seen them (see
 * `heapReported`), so the host may discard them.
 */
export function heapNextRelease(): usize {
  if (isDefined(NBIO_WASI)) return 0;
  const r = heldNew;
  if (r == 0) return 0;
  heldNew = nextOf(r);
  setLinks(r, 0, heldReported);
  heldReported = r;
  return r;
}

/** First byte of a held run the host may discard (its header page stays). */
export function heapReleaseFrom(run: usize): usize {
  return run + (<usize>max<u32>(dirtyLo(run), 1) << PAGE_SHIFT);
}

/** Bytes of a held run the host may discard, from `heapReleaseFrom`. */
export function heapReleaseLength(run: usize): usize {
  const from = max<u32>(dirtyLo(run), 1);
  const to = dirtyHi(run);
  return to > from ? <usize>(to - from) << PAGE_SHIFT : 0;
}

/** The runs reported so far are in the host's hands (a list was returned). */
export function heapReported(): void {
  if (isDefined(NBIO_WASI)) return;
  while (heldReported != 0) {
    const r = heldReported;
    heldReported = nextOf(r);
    setLinks(r, 0, heldSeen);
    heldSeen = r;
  }
}

/** The host is done with the runs it has seen: they become free (and clean) again. */
export function heapReclaim(): void {
  if (isDefined(NBIO_WASI)) return;
  while (heldSeen != 0) {
    const r = heldSeen;
    heldSeen = nextOf(r);
    const pages = pagesOf(r);
    makeFree(r, pages, (info(r) & LEFT_FREE) != 0, 0, 1);
  }
}

/** Bytes usable at `ptr`, a block from `heapAlloc`: at least what was asked, up to the end of its last page. */
export function heapUsable(ptr: usize): usize {
  if (isDefined(NBIO_WASI)) return load<usize>(ptr - HEADER);
  return (<usize>pagesOf(ptr - HEADER) << PAGE_SHIFT) - HEADER;
}

/** Bytes in use (allocated blocks with their headers, rounded to pages). */
export function heapInUse(): usize { return usedBytes; }
