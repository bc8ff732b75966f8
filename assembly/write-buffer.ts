/**
 * Per-connection write queue: the bytes the kernel has not taken yet, in
 * order. A pure data structure over heap.ts: no syscalls, so
 * test/reactor/assembly/write-buffer-harness.ts exercises it on its own.
 *
 * Queue descriptor (12 bytes, embedded in a conn-table slot):
 *
 *   q+0        q+4        q+8
 *   +----------+----------+-----------+
 *   | head u32 | tail u32 | bytes u32 |      head = tail = 0 when empty
 *   +----------+----------+-----------+
 *
 * Chunk: one heap block. An inline chunk holds its bytes right after the
 * header; an adopted chunk is a block handed in whole (abi.ts `adoptLarge`)
 * whose header room (ADOPT_ROOM bytes) becomes the chunk header and whose
 * bytes stay where the host put them:
 *
 *   c+0   +4    +8     +12   +16   +20
 *   +-----+-----+------+-----+-----+----------------------+
 *   |next |data |start |end  |cap  | ... bytes            |
 *   +-----+-----+------+-----+-----+----------------------+
 *           unsent bytes: [data+start, data+end)
 *           cap: bytes available at data (appends fill [end, cap))
 *
 * A file chunk stands for bytes of a file the kernel sends itself
 * (`write-file`): its data field is 0, its start and end count the bytes
 * sent and to send, its cap equals its end (nothing is appended to it),
 * and after the header come the file's descriptor and the file offset of
 * its byte 0:
 *
 *   c+0   +4    +8     +12   +16   +20   +24
 *   +-----+-----+------+-----+-----+-----+-----------+
 *   |next |  0  |start |end  |end  |fd   |offset u64 |
 *   +-----+-----+------+-----+-----+-----+-----------+
 *
 * `wbGather` stops at a file chunk; the caller sends it and closes its
 * descriptor (the queue never does: it makes no system calls).
 *
 * Appends fill the tail chunk's spare room first, then start a chunk of at
 * least the rest, and at least min(max(queued, one page), 1 MiB), so small
 * writes coalesce and a deep queue uses few, large chunks (which the heap
 * gives back to the system when they are freed). A chunk's capacity is
 * its whole heap block, adopted ones included. `consume` frees every chunk as soon as it is fully
 * sent; `clear` frees them all. Nothing is cached, so an idle connection
 * holds no memory. Every byte entering or leaving a queue is counted in
 * stats.ts (the total queued, and its high-water mark).
 */
import { LIST_LEN_OFFSET, LIST_PTR_OFFSET, LIST_SIZE } from "./generated/abi";
import { HEAP_OVERHEAD, HEAP_PAGE, heapAlloc, heapFree } from "./heap";
import { countQueued, countUnqueued } from "./stats";

/** Bytes of a chunk header. */
export const CHUNK_HEADER: usize = 20;
/** Room a block must leave before its bytes to be adopted as a chunk. */
export const ADOPT_ROOM: usize = 32;
/** Chunk capacities that fill one page, and 256 pages (1 MiB). */
const MIN_CHUNK: u32 = <u32>HEAP_PAGE - <u32>HEAP_OVERHEAD - <u32>CHUNK_HEADER;
const MAX_COALESCE: u32 = 256 * <u32>HEAP_PAGE - <u32>HEAP_OVERHEAD - <u32>CHUNK_HEADER;

/** Bytes of a file chunk: the header, the file's descriptor, its offset. */
const FILE_CHUNK: usize = CHUNK_HEADER + 12;

/** Size in bytes of a queue descriptor. */
export const WB_SIZE: usize = 12;

@inline export function wbHead(q: usize): usize { return <usize>load<u32>(q); }
@inline export function wbBytes(q: usize): u32 { return load<u32>(q, 8); }
@inline export function wbIsEmpty(q: usize): bool { return load<u32>(q) == 0; }

@inline export function chunkNext(c: usize): usize { return <usize>load<u32>(c); }
@inline export function chunkPtr(c: usize): usize { return <usize>load<u32>(c, 4) + <usize>load<u32>(c, 8); }
@inline export function chunkLen(c: usize): u32 { return load<u32>(c, 12) - load<u32>(c, 8); }

/** Whether `c` is a file chunk (its bytes are in a file, not in memory). */
@inline export function chunkIsFile(c: usize): bool { return load<u32>(c, 4) == 0; }
/** A file chunk's descriptor. */
@inline export function chunkFileFd(c: usize): i32 { return load<i32>(c, 20); }
/** Where a file chunk's first unsent byte is in its file. */
@inline export function chunkFileOffset(c: usize): u64 { return load<u64>(c, 24) + <u64>load<u32>(c, 8); }

/** Makes `q` an empty queue (does not free: use `wbClear` for a live one). */
export function wbInit(q: usize): void {
  store<u32>(q, 0); store<u32>(q, 0, 4); store<u32>(q, 0, 8);
}

function link(q: usize, c: usize): void {
  const tail = <usize>load<u32>(q, 4);
  if (tail == 0) store<u32>(q, <u32>c); else store<u32>(tail, <u32>c);
  store<u32>(q, <u32>c, 4);
}

/** Writes the header of a new chunk `c`: no next chunk, its bytes [0, end)
 *  at `data` (0 for a file chunk), room for appends up to `cap`. */
@inline function setChunk(c: usize, data: usize, end: u32, cap: u32): void {
  store<u32>(c, 0);
  store<u32>(c, <u32>data, 4);
  store<u32>(c, 0, 8);
  store<u32>(c, end, 12);
  store<u32>(c, cap, 16);
}

/** Links the new chunk `c` at the tail of `q` and counts its `n` bytes as queued. */
@inline function enqueue(q: usize, c: usize, n: u32): void {
  link(q, c);
  store<u32>(q, load<u32>(q, 8) + n, 8);
  countQueued(n);
}

/**
 * Appends a copy of [src, src+len). Returns false, having queued nothing,
 * when the memory for it cannot be had.
 */
export function wbAppend(q: usize, src: usize, len: u32): bool {
  if (len == 0) return true;
  let rest = len;
  const tail = <usize>load<u32>(q, 4);
  let room: u32 = 0;
  if (tail != 0) room = load<u32>(tail, 16) - load<u32>(tail, 12);
  let c: usize = 0;
  if (rest > room) {
    // Allocate first, so that a failure leaves the queue as it was.
    const queued = load<u32>(q, 8);
    const want = <u64>max(rest - room, min(max(queued, MIN_CHUNK), MAX_COALESCE));
    // Round the block up to whole pages: the heap hands them out anyway.
    const block = (want + CHUNK_HEADER + HEAP_OVERHEAD + HEAP_PAGE - 1) & ~<u64>(HEAP_PAGE - 1);
    if (block > 0xFFFF_0000) return false;
    c = heapAlloc(<usize>block - HEAP_OVERHEAD);
    if (c == 0) return false;
    setChunk(c, c + CHUNK_HEADER, 0, <u32>(<usize>block - HEAP_OVERHEAD - CHUNK_HEADER));
  }
  if (room != 0) {
    const end = load<u32>(tail, 12);
    const n = min(room, rest);
    memory.copy(<usize>load<u32>(tail, 4) + end, src, n);
    store<u32>(tail, end + n, 12);
    src += n; rest -= n;
  }
  if (rest != 0) {
    memory.copy(c + CHUNK_HEADER, src, rest);
    store<u32>(c, rest, 12);
    link(q, c);
  }
  store<u32>(q, load<u32>(q, 8) + len, 8);
  countQueued(len);
  return true;
}

/**
 * Appends a copy of [src, src+len) as a record of its own: a chunk that is
 * never appended to, so it is gathered, sent and consumed whole (one
 * datagram). With `tagged`, the 4 bytes of `tag` come first in the chunk
 * (and count in `wbBytes`): a UDP socket's queue names each datagram's peer
 * that way. Returns false, having queued nothing, when the memory for it
 * cannot be had.
 */
export function wbAppendRecord(q: usize, src: usize, len: u32, tag: u32, tagged: bool): bool {
  const head: u32 = tagged ? 4 : 0;
  const n = head + len;
  const c = heapAlloc(CHUNK_HEADER + <usize>n);
  if (c == 0) return false;
  setChunk(c, c + CHUNK_HEADER, n, n); // cap == end: never appended to
  if (tagged) store<u32>(c + CHUNK_HEADER, tag);
  memory.copy(c + CHUNK_HEADER + <usize>head, src, len);
  enqueue(q, c, n);
  return true;
}

/**
 * Appends [ptr, ptr+len) without copying: the queue takes ownership of the
 * heap block `block`, which holds those bytes and leaves ADOPT_ROOM bytes
 * free at its start for the chunk header; the block is freed once its
 * bytes are sent or cleared. Bytes appended later may fill the rest of the
 * block (up to `blockEnd`).
 */
export function wbAppendAdopted(q: usize, ptr: usize, len: u32, block: usize, blockEnd: usize): void {
  if (len == 0) { heapFree(block); return; }
  setChunk(block, ptr, len, <u32>(blockEnd - ptr));
  enqueue(q, block, len);
}

/**
 * Appends a file chunk: `len` bytes of the file `fd` from `offset`. The
 * queue keeps `fd` until the caller consumes the chunk or clears the
 * queue; closing it is the caller's. Returns false, having queued
 * nothing, when the memory for it cannot be had.
 */
export function wbAppendFile(q: usize, fd: i32, offset: u64, len: u32): bool {
  const c = heapAlloc(FILE_CHUNK);
  if (c == 0) return false;
  setChunk(c, 0, len, len);
  store<i32>(c, fd, 20);
  store<u64>(c, offset, 24);
  enqueue(q, c, len);
  return true;
}

/** Writes up to `maxRecords` list<u8> records ({ptr, len}) for the queued
 *  chunks, in order, at `iov`, up to the first file chunk. Returns the
 *  record count. */
export function wbGather(q: usize, iov: usize, maxRecords: i32): i32 {
  let n = 0;
  let c = <usize>load<u32>(q);
  while (c != 0 && n < maxRecords && !chunkIsFile(c)) {
    store<u32>(iov, <u32>chunkPtr(c), LIST_PTR_OFFSET);
    store<u32>(iov, chunkLen(c), LIST_LEN_OFFSET);
    iov += LIST_SIZE; n++;
    c = <usize>load<u32>(c);
  }
  return n;
}

/** Drops the first `n` queued bytes (n <= wbBytes), freeing sent chunks. */
export function wbConsume(q: usize, n: u32): void {
  store<u32>(q, load<u32>(q, 8) - n, 8);
  countUnqueued(n);
  let c = <usize>load<u32>(q);
  while (n != 0 && c != 0) {
    const start = load<u32>(c, 8);
    const avail = load<u32>(c, 12) - start;
    if (n < avail) { store<u32>(c, start + n, 8); return; }
    n -= avail;
    const next = <usize>load<u32>(c);
    heapFree(c);
    c = next;
    store<u32>(q, <u32>c);
  }
  if (c == 0) store<u32>(q, 0, 4);
}

/** Frees every chunk; the queue is empty afterwards. */
export function wbClear(q: usize): void {
  countUnqueued(load<u32>(q, 8));
  let c = <usize>load<u32>(q);
  while (c != 0) {
    const next = <usize>load<u32>(c);
    heapFree(c);
    c = next;
  }
  wbInit(q);
}
