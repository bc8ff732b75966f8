/**
 * wasi:io@0.2.12 (poll, streams, error) at the canonical-ABI level: the
 * core imports, and wrappers that return one i32 each.
 *
 * Handles are i32 resource indices, never 0. Stream wrappers return a
 * count or a status: STREAM_CLOSED when the stream is closed (end of
 * stream / the peer is gone), STREAM_FAILED when the last operation
 * failed (the `error` resource is dropped here: wasi:io 0.2 has no
 * portable way to tell one failure from another).
 *
 * Return-area layouts (RET, see ret.ts):
 *
 *   result<list<u8>, stream-error>  read
 *     [0] u8 disc   ok: [4] ptr, [8] len   err: [4] u8 stream-error disc
 *                                               (0 failed, 1 closed), [8] own<error>
 *   result<u64, stream-error>       check-write
 *     [0] u8 disc   ok: [8] u64            err: [8] u8 disc, [12] own<error>
 *   result<_, stream-error>         write, flush, blocking-write-and-flush
 *     [0] u8 disc                          err: [4] u8 disc, [8] own<error>
 *   list<u32>                       poll: [0] ptr, [4] len (via cabi_realloc)
 */
import { armLanding, disarmLanding } from "../abi";
import { RET } from "./ret";

// ---- wasi:io/poll ----
// @ts-ignore: decorator
@external("wasi:io/poll@0.2.12", "poll")
declare function _poll(list: usize, len: u32, ret: usize): void;
// @ts-ignore: decorator
@external("wasi:io/poll@0.2.12", "[method]pollable.block")
declare function _pollableBlock(p: i32): void;
// @ts-ignore: decorator
@external("wasi:io/poll@0.2.12", "[method]pollable.ready")
declare function _pollableReady(p: i32): i32;
// @ts-ignore: decorator
@external("wasi:io/poll@0.2.12", "[resource-drop]pollable")
export declare function dropPollable(p: i32): void;

// ---- wasi:io/error ----
// @ts-ignore: decorator
@external("wasi:io/error@0.2.12", "[resource-drop]error")
declare function _dropError(e: i32): void;

// ---- wasi:io/streams ----
// @ts-ignore: decorator
@external("wasi:io/streams@0.2.12", "[method]input-stream.read")
declare function _read(s: i32, len: u64, ret: usize): void;
// @ts-ignore: decorator
@external("wasi:io/streams@0.2.12", "[method]input-stream.subscribe")
export declare function subscribeInput(s: i32): i32;
// @ts-ignore: decorator
@external("wasi:io/streams@0.2.12", "[resource-drop]input-stream")
export declare function dropInputStream(s: i32): void;
// @ts-ignore: decorator
@external("wasi:io/streams@0.2.12", "[method]output-stream.check-write")
declare function _checkWrite(s: i32, ret: usize): void;
// @ts-ignore: decorator
@external("wasi:io/streams@0.2.12", "[method]output-stream.write")
declare function _write(s: i32, ptr: usize, len: u32, ret: usize): void;
// @ts-ignore: decorator
@external("wasi:io/streams@0.2.12", "[method]output-stream.blocking-write-and-flush")
declare function _blockingWriteAndFlush(s: i32, ptr: usize, len: u32, ret: usize): void;
// @ts-ignore: decorator
@external("wasi:io/streams@0.2.12", "[method]output-stream.flush")
declare function _flush(s: i32, ret: usize): void;
// @ts-ignore: decorator
@external("wasi:io/streams@0.2.12", "[method]output-stream.subscribe")
export declare function subscribeOutput(s: i32): i32;
// @ts-ignore: decorator
@external("wasi:io/streams@0.2.12", "[resource-drop]output-stream")
export declare function dropOutputStream(s: i32): void;

/** The stream is closed: no more bytes will come (read) or be taken (write). */
export const STREAM_CLOSED: i32 = -1;
/** The last operation failed; the stream is unusable. */
export const STREAM_FAILED: i32 = -2;

/** Most bytes `blockingWrite` hands over per call (the WASI limit). */
const BLOCKING_WRITE_MAX: u32 = 4096;

/** Decodes a stream-error variant at RET + `at`, dropping its error resource. */
function streamError(at: usize): i32 {
  if (load<u8>(RET + at) == 1) return STREAM_CLOSED;
  _dropError(load<i32>(RET + at, 4));
  return STREAM_FAILED;
}

/**
 * Blocks until at least one of the `count` pollables (i32 handles at
 * `list`) is ready; writes the indices of the ready ones to
 * `dest` (room for `count` u32) and returns how many. `count` must be > 0.
 */
export function poll(list: usize, count: u32, dest: usize): u32 {
  armLanding(dest, <usize>count << 2);
  _poll(list, count, RET);
  disarmLanding();
  const ptr = <usize>load<u32>(RET);
  const len = load<u32>(RET, 4);
  if (len != 0 && ptr != dest) memory.copy(dest, ptr, <usize>len << 2);
  return len;
}

/** Whether the pollable is ready now (never blocks). */
export function isReady(p: i32): bool { return _pollableReady(p) != 0; }

/** Blocks until the pollable is ready. */
export function block(p: i32): void { _pollableBlock(p); }

/**
 * Reads at most `maxLen` bytes (what is there now, without blocking) into
 * `dest`. Returns the count (0: nothing now), STREAM_CLOSED or
 * STREAM_FAILED.
 */
export function readInto(s: i32, dest: usize, maxLen: u32): i32 {
  armLanding(dest, <usize>maxLen);
  _read(s, <u64>maxLen, RET);
  disarmLanding();
  if (load<u8>(RET) != 0) return streamError(4);
  const ptr = <usize>load<u32>(RET, 4);
  const len = load<u32>(RET, 8);
  if (len != 0 && ptr != dest) memory.copy(dest, ptr, <usize>len);
  return <i32>len;
}

/** How many bytes `write` may take now (0: none, wait for the pollable),
 *  capped at i32's range, or STREAM_CLOSED / STREAM_FAILED. */
export function checkWrite(s: i32): i32 {
  _checkWrite(s, RET);
  if (load<u8>(RET) != 0) return streamError(8);
  const n = load<u64>(RET, 8);
  return n > <u64>i32.MAX_VALUE ? i32.MAX_VALUE : <i32>n;
}

/** Hands `len` bytes (at most what `checkWrite` permitted: more traps) to
 *  the stream. Returns 0, STREAM_CLOSED or STREAM_FAILED. */
export function write(s: i32, ptr: usize, len: u32): i32 {
  _write(s, ptr, len, RET);
  return load<u8>(RET) == 0 ? 0 : streamError(4);
}

/** Asks the stream to send what it buffered, without blocking. Returns 0,
 *  STREAM_CLOSED or STREAM_FAILED. */
export function flush(s: i32): i32 {
  _flush(s, RET);
  return load<u8>(RET) == 0 ? 0 : streamError(4);
}

/** Writes all `len` bytes and flushes, blocking (for stdout / stderr).
 *  Returns 0, STREAM_CLOSED or STREAM_FAILED. */
export function blockingWrite(s: i32, ptr: usize, len: u32): i32 {
  while (len != 0) {
    const n = min(len, BLOCKING_WRITE_MAX);
    _blockingWriteAndFlush(s, ptr, n, RET);
    if (load<u8>(RET) != 0) return streamError(4);
    ptr += n; len -= n;
  }
  return 0;
}
