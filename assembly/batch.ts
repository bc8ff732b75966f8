/**
 * The batch data area: where the reads of one `run-once` land, each
 * becoming a `data` event that points there, valid until the next
 * `run-once` (events.ts). Allocated once by `init`.
 *
 *   area: [ data ev 1 | data ev 2 | ... | used -> free ... ] cap
 *
 * Before a read the caller checks that a whole read fits (`batchFree`);
 * if not, the batch stops on the current readiness report and keeps in
 * `resumeReads` how many reads that report already had, so the next
 * `run-once` resumes it (reactor.ts, `backlog`).
 */
import { heapAlloc } from "./heap";

let area: usize = 0;
let cap: u32 = 0;
let used: u32 = 0;
let resume: u32 = 0;

/** Allocates the area: `size` bytes. False when the memory cannot be had. */
export function batchInit(size: u32): bool {
  area = heapAlloc(<usize>size);
  cap = area == 0 ? 0 : size;
  return area != 0;
}

/** Starts a batch: the area is empty again. */
export function batchReset(): void { used = 0; }

/** Bytes still free. */
@inline export function batchFree(): u32 { return cap - used; }

/** Where the next read lands. */
@inline export function batchNext(): usize { return area + <usize>used; }

/** Keeps `n` bytes written at `batchNext()`. */
@inline export function batchCommit(n: u32): void { used += n; }

/** Reads the interrupted report already had (0: none interrupted). */
@inline export function resumeReads(): u32 { return resume; }

export function setResumeReads(n: u32): void { resume = n; }
