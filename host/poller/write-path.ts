/**
 * The write path: bytes a handler writes staged into reactor memory and
 * queued by the reactor, with strings encoded in place and views written
 * back without a copy.
 */
import type { Chunk } from '../api/conn.js';
import { DataViews } from './data-views.js';
import { NbioError } from '../api/errors.js';
import type { GuestMemory } from '../guest/memory.js';
import { ERRNO } from '../sys/native.js';
import { CloseCause, type Reactor } from '../guest/reactor.js';

const encoder = new TextEncoder();

/** Largest single write: the bytes are staged in the reactor's 32-bit memory. */
const MAX_WRITE = 1 << 30;

/**
 * Moves bytes from JavaScript into the reactor's `write`: strings are
 * UTF-8-encoded and byte arrays copied into reactor memory, except bytes
 * that already are there (a `data` view being delivered, or a view on it),
 * which are passed by address without a copy.
 *
 * A `data` view is valid only while its `onData` runs: afterwards the same
 * memory holds newer bytes, so writing a kept view (or a view on it) throws
 * ERR_NBIO_STALE_VIEW instead of sending them (which views are told apart:
 * host/poller/data-views.ts). Growing a Wasm memory
 * detaches every view on it; the view being delivered is tracked by
 * identity, so writing it still sends the right bytes afterwards, while any
 * other view on the old memory is stale.
 *
 * When the reactor has no memory left to stage the bytes in (`maxMemory`),
 * the write fails like an overflow: the connection is closed with that
 * cause and -ENOBUFS returned.
 */
export class WritePath {
  readonly #mem: GuestMemory;
  readonly #reactor: Reactor;
  /** The `data` views handed to onData (host/poller/event-delivery.ts makes them here): the one being delivered, the recent ones. */
  readonly views: DataViews;

  constructor(mem: GuestMemory, reactor: Reactor) {
    this.#mem = mem;
    this.#reactor = reactor;
    this.views = new DataViews(mem);
  }

  /** Writes one chunk to connection `handle`; returns the reactor's result (>= 0, or a negated errno). */
  write(handle: number, data: Chunk): number {
    const len = checkSize(this.#length(data));
    if (len === 0) return 0;
    let ptr = this.#inReactor(data);
    if (ptr < 0) {
      ptr = this.#mem.alloc(1, len);
      if (ptr === 0) return this.#overflow(handle);
      this.#place(data, ptr, len);
    }
    return this.#reactor.write(handle, ptr, len);
  }

  /** Writes the chunks, in order, as one reactor write; same result as {@link write}. */
  writev(handle: number, chunks: readonly Chunk[]): number {
    if (!Array.isArray(chunks)) throw new NbioError('ERR_NBIO_INVALID_ARG', `writev() takes an array of chunks, got ${describe(chunks)}`);
    // Lengths and reactor-memory sources first: allocating may grow (and
    // detach) the memory those sources are views on.
    const lengths = chunks.map((chunk) => this.#length(chunk));
    const sources = chunks.map((chunk) => this.#inReactor(chunk));
    const total = checkSize(lengths.reduce((a, b) => a + b, 0));
    if (total === 0) return 0;
    const mem = this.#mem;
    const ptr = mem.alloc(1, total);
    if (ptr === 0) return this.#overflow(handle);
    let at = ptr;
    chunks.forEach((chunk, i) => {
      if (sources[i] >= 0) mem.u8.copyWithin(at, sources[i], sources[i] + lengths[i]);
      else this.#place(chunk, at, lengths[i]);
      at += lengths[i];
    });
    return this.#reactor.write(handle, ptr, total);
  }

  /** No reactor memory for the bytes: closes the connection as overflowing. */
  #overflow(handle: number): number {
    this.#reactor.close(handle, CloseCause.WriteOverflow);
    return -ERRNO.ENOBUFS;
  }

  /**
   * Byte length of a chunk. Throws ERR_NBIO_INVALID_ARG for anything but
   * bytes or a string, and ERR_NBIO_STALE_VIEW for a view of received data
   * that is no longer valid.
   */
  #length(data: Chunk): number {
    const views = this.views;
    if (views.current !== undefined && data === views.current) return views.currentLen;
    if (typeof data === 'string') return Buffer.byteLength(data);
    if (!(data instanceof Uint8Array)) {
      throw new NbioError('ERR_NBIO_INVALID_ARG', `write() takes a Uint8Array (or Buffer) or a string, got ${describe(data)}`);
    }
    if (this.#isStale(data)) {
      throw new NbioError(
        'ERR_NBIO_STALE_VIEW',
        'this view of received data is no longer valid: a data view (or a view on it) can be written only while its onData runs, ' +
          'and not after a write that grew the engine\'s memory; copy it (Buffer.from(data)) to keep it',
      );
    }
    return data.byteLength;
  }

  /**
   * Whether `view` is on reactor memory but is not the data being delivered
   * now (or a view on it): its bytes have been, or may be, replaced by
   * newer ones. Stale are: any such view outside an `onData`; one outside
   * the range of the data being delivered; one of the RECENT_VIEWS data
   * views delivered last (by identity); one on memory that has grown
   * since (it is empty). Not detectable: a kept view on an older delivery
   * that happens to cover bytes of the current one.
   */
  #isStale(view: Uint8Array): boolean {
    const mem = this.#mem;
    // A view on memory that has grown since is detached, so empty.
    if (view.byteLength === 0) return mem.isRetired(view.buffer);
    mem.sync();
    if (view.buffer !== mem.buffer) return false;
    const start = view.byteOffset;
    const { current, currentPtr, currentLen } = this.views;
    if (current === undefined || start < currentPtr || start + view.byteLength > currentPtr + currentLen) return true;
    return this.views.isRecent(view);
  }

  /** Where a chunk's bytes already are in reactor memory, or -1 (call {@link #length} first: it rejects stale views). */
  #inReactor(data: Chunk): number {
    const views = this.views;
    if (views.current !== undefined && data === views.current) return views.currentPtr;
    if (typeof data === 'string') return -1;
    this.#mem.sync();
    return data.buffer === this.#mem.buffer ? data.byteOffset : -1;
  }

  /** Copies (or UTF-8-encodes) a chunk from JavaScript into reactor memory at `ptr`. */
  #place(data: Chunk, ptr: number, len: number): void {
    const u8 = this.#mem.u8;
    if (typeof data === 'string') encoder.encodeInto(data, u8.subarray(ptr, ptr + len));
    else u8.set(data, ptr);
  }
}

function checkSize(len: number): number {
  if (len > MAX_WRITE) throw new NbioError('ERR_NBIO_INVALID_ARG', `a single write is limited to ${MAX_WRITE} bytes, got ${len}`);
  return len;
}

/** Names what a caller passed, for an error message. */
function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value !== 'object') return typeof value;
  return value.constructor?.name ?? 'an object';
}
