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
 * How the memory is tiled with runs of pages, binned by size and merged
 * when freed, is heap-runs.ts; this file is what is allocated and when the
 * memory grows, within its limit, and which freed runs go back to the host.
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

import {
  HEADER, PAGE, PAGE_SHIFT, addRuns, dirtyFreePages, dirtyHi, dirtyLo, find, freePagesAtEnd, freeRun, holdRun,
  nextOf, pagesOf, reclaimRun, setLinks, startRuns, takeRun,
} from "./heap-runs";

/** The heap hands out whole pages of this size. */
export const HEAP_PAGE: usize = PAGE;
/** Bytes of each block before the pointer `heapAlloc` returns. */
export const HEAP_OVERHEAD: usize = HEADER;

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
/** Most Wasm pages the heap can address: the end of memory must fit a u32. */
const MAX_PAGES: i32 = 65535;
/** Largest memory size allowed, in Wasm pages. */
let limitPages: i32 = MAX_PAGES;

/** Bytes in used runs, headers included. */
let usedBytes: usize = 0;

/** Held runs not reported yet, reported ones, and ones the host has seen. */
let heldNew: usize = 0;
let heldReported: usize = 0;
let heldSeen: usize = 0;

function start(): void {
  started = true;
  startRuns();
}

/** Grows the memory so that a free run of `pages` pages exists. */
function grow(pages: u32): bool {
  const have = freePagesAtEnd();
  const needBytes = (<u64>(pages - have) << PAGE_SHIFT);
  const need = <i32>((needBytes + 0xffff) >> 16);
  const size = memory.size();
  if (<i64>size + <i64>need > <i64>limitPages) return false;
  let want = max(need, min(max(size >> 3, GROW_MIN), GROW_MAX));
  if (size + want > limitPages) want = need;
  if (memory.grow(want) < 0) {
    if (want == need || memory.grow(need) < 0) return false;
  }
  addRuns(<usize>memory.size() << 16);
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
  takeRun(r, pages);
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
  const merged = freeRun(r, pages);
  const dirty = dirtyHi(merged) - dirtyLo(merged);
  if (release && dirty >= releaseMin && dirtyFreePages() > retain) hold(merged);
}

/** Takes a free run out of its bin and onto the list of runs to report. */
function hold(r: usize): void {
  holdRun(r);
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
    reclaimRun(r);
  }
}

/** Bytes usable at `ptr`, a block from `heapAlloc`: at least what was asked, up to the end of its last page. */
export function heapUsable(ptr: usize): usize {
  if (isDefined(NBIO_WASI)) return load<usize>(ptr - HEADER);
  return (<usize>pagesOf(ptr - HEADER) << PAGE_SHIFT) - HEADER;
}

/** Bytes in use (allocated blocks with their headers, rounded to pages). */
export function heapInUse(): usize { return usedBytes; }
