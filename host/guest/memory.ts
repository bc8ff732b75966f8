/**
 * A WebAssembly guest's linear memory as the host reads and writes it: typed
 * views kept current across growth, and the result records of `sys` calls
 * written in their generated layout.
 */
import { DatagramLayout, ListLayout, ReadResultLayout, RecvResultLayout, WaitResultLayout } from '../generated/abi.js';

/** Bytes in a WebAssembly page. */
export const PAGE = 65536;

/** The canonical ABI's `cabi_realloc` export. */
type Realloc = (oldPtr: number, oldSize: number, align: number, newSize: number) => number;

/**
 * The host's window on the reactor's linear memory.
 *
 * Growing a Wasm memory detaches its old `ArrayBuffer`; views over a
 * detached buffer have length 0. The views here are refreshed lazily:
 * {@link GuestMemory.sync} re-reads `memory.buffer` only when the cached
 * view went stale, which costs one length check on the hot path instead of
 * a `memory.buffer` read per call.
 */
export class GuestMemory {
  /** The current `memory.buffer` (after {@link sync}). */
  buffer: ArrayBuffer = new ArrayBuffer(0);
  /** Byte view over {@link buffer}. */
  u8: Uint8Array = new Uint8Array(0);
  /** 32-bit view over {@link buffer}; index = byte address / 4. */
  i32: Int32Array = new Int32Array(0);
  #memory: WebAssembly.Memory | undefined;
  /** Buffers the memory had before it grew (detached now). */
  readonly #retired = new WeakSet<ArrayBufferLike>();
  #realloc: Realloc | undefined;

  /** Binds the instance's memory and `cabi_realloc` once it exists. */
  attach(memory: WebAssembly.Memory, realloc: Realloc): void {
    this.#memory = memory;
    this.#realloc = realloc;
    this.#refresh();
  }

  /** Makes {@link buffer}, {@link u8} and {@link i32} current if the memory grew. */
  sync(): void {
    if (this.u8.length !== 0) return;
    this.#retired.add(this.buffer);
    this.#refresh();
  }

  /**
   * Asks the reactor for `size` bytes (canonical ABI `cabi_realloc`), the
   * destination of a list the host hands to it. The memory belongs to the
   * reactor; it stays valid until the current export call returns. Returns
   * 0 when the reactor has no memory left for them: nothing may be written
   * then.
   */
  alloc(align: number, size: number): number {
    // An i32 from Wasm: addresses past 2 GiB arrive negative.
    const ptr = this.#realloc!(0, 0, align, size) >>> 0;
    this.sync();
    return ptr;
  }

  /**
   * Stores a `variant { list, error(s32) }` result of the kind `result`
   * describes at `ret`: a list of `count` elements at `ptr` when
   * `count >= 0`, else the error `count`.
   */
  storeListResult(ret: number, result: ListResult, ptr: number, count: number): void {
    this.sync();
    const payload = (ret + result.payload) >>> 2;
    if (count >= 0) {
      this.u8[ret] = result.list;
      this.i32[payload + ListLayout.ptr / 4] = ptr;
      this.i32[payload + ListLayout.len / 4] = count;
    } else {
      this.u8[ret] = result.error;
      this.i32[payload] = count;
    }
  }

  /**
   * Stores a `recv-result` at `ret`: when `size >= 0`, a datagram of
   * `size` bytes whose first `len` are at `data`, from the address of
   * `sourceLen` bytes at `source`; else the error `size`.
   */
  storeDatagramResult(ret: number, data: number, len: number, source: number, sourceLen: number, size: number): void {
    this.sync();
    const payload = ret + RecvResultLayout.payload;
    if (size < 0) {
      this.u8[ret] = RecvResultLayout.error;
      this.i32[payload >>> 2] = size;
      return;
    }
    this.u8[ret] = RecvResultLayout.datagram;
    const i32 = this.i32;
    i32[(payload + DatagramLayout.data + ListLayout.ptr) >>> 2] = data;
    i32[(payload + DatagramLayout.data + ListLayout.len) >>> 2] = len;
    i32[(payload + DatagramLayout.source + ListLayout.ptr) >>> 2] = source;
    i32[(payload + DatagramLayout.source + ListLayout.len) >>> 2] = sourceLen;
    i32[(payload + DatagramLayout.fullSize) >>> 2] = size;
  }

  /** The u32 at byte address `ptr` (4-aligned). */
  u32At(ptr: number): number {
    return this.i32[ptr >>> 2] >>> 0;
  }

  /** Whether `buffer` was this memory's buffer before the memory grew (its views are empty now). */
  isRetired(buffer: ArrayBufferLike): boolean {
    return this.#retired.has(buffer);
  }

  #refresh(): void {
    this.buffer = this.#memory!.buffer;
    this.u8 = new Uint8Array(this.buffer);
    this.i32 = new Int32Array(this.buffer);
  }
}

/**
 * A `variant { list, error(s32) }` result in reactor memory: the offset of
 * its payload and the discriminants of its cases (4-byte aligned, as the
 * generated layouts are).
 */
export interface ListResult {
  readonly payload: number;
  readonly list: number;
  readonly error: number;
}

/** `sys.wait-result`, the result of `epoll-wait`. */
export const WAIT_RESULT: ListResult = { payload: WaitResultLayout.payload, list: WaitResultLayout.ready, error: WaitResultLayout.error };

/** `sys.read-result`, the result of `read`. */
export const READ_RESULT: ListResult = { payload: ReadResultLayout.payload, list: ReadResultLayout.data, error: ReadResultLayout.error };
