/**
 * Per-connection write queue: the bytes the kernel has not taken yet, in
 * order. A pure data structure over `heap.alloc`/`heap.free`: no syscalls,
 * so test/assembly/write-buffer-harness.ts exercises it on its own.
 *
 * Queue descriptor (12 bytes, embedded in a conn-table slot):
 *
 *   q+0        q+4        q+8
 *   +----------+----------+-----------+
 *   | head u32 | tail u32 | bytes u32 |      head = tail = 0 when empty
 *   +----------+----------+-----------+
 *
 * Chunk (one heap block; `data` points just past the header for an inline
 * chunk, or into an adopted block, which `owned` names for freeing):
 *
 *   c+0   +4    +8     +12   +16   +20     +24
 *   +-----+-----+------+-----+-----+-------+----------------------+
 *   |next |data |start |end  |cap  |owned  | inline bytes (cap)   |
 *   +-----+-----+------+-----+-----+-------+----------------------+
 *           unsent bytes: [data+start, data+end)
 *           cap: bytes available at data (== end for adopted chunks, so
 *                they are never appended to)
 *
 * Appends fill the tail chunk's spare room first, then start a chunk of at
 * least the rest, and at least min(max(queued, 4 KiB), 64 KiB), so small
 * writes coalesce and a streaming queue uses few, larger chunks.
 * `consume` frees every chunk as soon as it is fully sent; `clear` frees
 * them all. Nothing is cached, so an idle connection holds no memory.
 */

const CHUNK_HEADER: usize = 24;
const MIN_CHUNK: u32 = 4 << 10;
const MAX_COALESCE: u32 = 64 << 10;

/** Size in bytes of a queue descriptor. */
export const WB_SIZE: usize = 12;

@inline export function wbHead(q: usize): usize { return <usize>load<u32>(q); }
@inline export function wbBytes(q: usize): u32 { return load<u32>(q, 8); }
@inline export function wbIsEmpty(q: usize): bool { return load<u32>(q) == 0; }

@inline export function chunkNext(c: usize): usize { return <usize>load<u32>(c); }
@inline export function chunkPtr(c: usize): usize { return <usize>load<u32>(c, 4) + <usize>load<u32>(c, 8); }
@inline export function chunkLen(c: usize): u32 { return load<u32>(c, 12) - load<u32>(c, 8); }

/** Makes `q` an empty queue (does not free: use `wbClear` for a live one). */
export function wbInit(q: usize): void {
  store<u32>(q, 0); store<u32>(q, 0, 4); store<u32>(q, 0, 8);
}

function link(q: usize, c: usize): void {
  const tail = <usize>load<u32>(q, 4);
  if (tail == 0) store<u32>(q, <u32>c); else store<u32>(tail, <u32>c);
  store<u32>(q, <u32>c, 4);
}

function freeChunk(c: usize): void {
  const owned = <usize>load<u32>(c, 20);
  if (owned != 0) heap.free(owned);
  heap.free(c);
}

/** Appends a copy of [src, src+len). */
export function wbAppend(q: usize, src: usize, len: u32): void {
  if (len == 0) return;
  let rest = len;
  const tail = <usize>load<u32>(q, 4);
  if (tail != 0) {
    const end = load<u32>(tail, 12);
    const room = load<u32>(tail, 16) - end;
    if (room != 0) {
      const n = min(room, rest);
      memory.copy(<usize>load<u32>(tail, 4) + end, src, n);
      store<u32>(tail, end + n, 12);
      src += n; rest -= n;
    }
  }
  if (rest != 0) {
    const queued = load<u32>(q, 8);
    const cap = max(rest, min(max(queued, MIN_CHUNK), MAX_COALESCE));
    const c = heap.alloc(CHUNK_HEADER + cap);
    store<u32>(c, 0);
    store<u32>(c, <u32>(c + CHUNK_HEADER), 4);
    store<u32>(c, 0, 8);
    store<u32>(c, rest, 12);
    store<u32>(c, cap, 16);
    store<u32>(c, 0, 20);
    memory.copy(c + CHUNK_HEADER, src, rest);
    link(q, c);
  }
  store<u32>(q, load<u32>(q, 8) + len, 8);
}

/**
 * Appends a copy of [src, src+len) as a record of its own: a chunk that is
 * never appended to, so it is gathered, sent and consumed whole (one
 * datagram). With `tagged`, the 4 bytes of `tag` come first in the chunk
 * (and count in `wbBytes`): a UDP socket's queue names each datagram's peer
 * that way.
 */
export function wbAppendRecord(q: usize, src: usize, len: u32, tag: u32, tagged: bool): void {
  const head: u32 = tagged ? 4 : 0;
  const n = head + len;
  const c = heap.alloc(CHUNK_HEADER + <usize>n);
  store<u32>(c, 0);
  store<u32>(c, <u32>(c + CHUNK_HEADER), 4);
  store<u32>(c, 0, 8);
  store<u32>(c, n, 12);
  store<u32>(c, n, 16); // cap == end: never appended to
  store<u32>(c, 0, 20);
  if (tagged) store<u32>(c + CHUNK_HEADER, tag);
  memory.copy(c + CHUNK_HEADER + <usize>head, src, len);
  link(q, c);
  store<u32>(q, load<u32>(q, 8) + n, 8);
}

/** Appends [ptr, ptr+len) without copying: the queue takes ownership of the
 *  heap block `block` (freed once the bytes are sent or cleared). */
export function wbAppendAdopted(q: usize, ptr: usize, len: u32, block: usize): void {
  if (len == 0) { heap.free(block); return; }
  const c = heap.alloc(CHUNK_HEADER);
  store<u32>(c, 0);
  store<u32>(c, <u32>ptr, 4);
  store<u32>(c, 0, 8);
  store<u32>(c, len, 12);
  store<u32>(c, len, 16); // cap == end: no room, never appended to
  store<u32>(c, <u32>block, 20);
  link(q, c);
  store<u32>(q, load<u32>(q, 8) + len, 8);
}

/** Writes up to `maxRecords` {u32 ptr, u32 len} records for the queued
 *  chunks, in order, at `iov`. Returns the record count. */
export function wbGather(q: usize, iov: usize, maxRecords: i32): i32 {
  let n = 0;
  let c = <usize>load<u32>(q);
  while (c != 0 && n < maxRecords) {
    store<u32>(iov, <u32>chunkPtr(c));
    store<u32>(iov, chunkLen(c), 4);
    iov += 8; n++;
    c = <usize>load<u32>(c);
  }
  return n;
}

/** Drops the first `n` queued bytes (n <= wbBytes), freeing sent chunks. */
export function wbConsume(q: usize, n: u32): void {
  store<u32>(q, load<u32>(q, 8) - n, 8);
  let c = <usize>load<u32>(q);
  while (n != 0 && c != 0) {
    const start = load<u32>(c, 8);
    const avail = load<u32>(c, 12) - start;
    if (n < avail) { store<u32>(c, start + n, 8); return; }
    n -= avail;
    const next = <usize>load<u32>(c);
    freeChunk(c);
    c = next;
    store<u32>(q, <u32>c);
  }
  if (c == 0) store<u32>(q, 0, 4);
}

/** Frees every chunk; the queue is empty afterwards. */
export function wbClear(q: usize): void {
  let c = <usize>load<u32>(q);
  while (c != 0) {
    const next = <usize>load<u32>(c);
    freeChunk(c);
    c = next;
  }
  wbInit(q);
}
