/**
 * wasi:cli@0.2.12 (environment, stdout, stderr) at the canonical-ABI level,
 * for the command components.
 *
 *   get-arguments -> list<string>: RET [0] ptr, [4] count; each string is
 *   {u32 ptr, u32 len} of UTF-8, all allocated through cabi_realloc (the
 *   per-call arena, so valid until the next `endCall`).
 */
import { blockingWrite } from "./io";
import { RET } from "./ret";

// @ts-ignore: decorator
@external("wasi:cli/environment@0.2.12", "get-arguments")
declare function _getArguments(ret: usize): void;
// @ts-ignore: decorator
@external("wasi:cli/stdout@0.2.12", "get-stdout")
declare function _getStdout(): i32;
// @ts-ignore: decorator
@external("wasi:cli/stderr@0.2.12", "get-stderr")
declare function _getStderr(): i32;

let stdoutStream: i32 = 0;
let stderrStream: i32 = 0;

/**
 * The program's arguments (argv[0] is the program name) as an array of
 * {u32 ptr, u32 len} UTF-8 records; returns its address and stores the
 * count at `countOut`. The records and bytes live in the cabi_realloc arena:
 * use them before the next `endCall`.
 */
export function argumentsList(countOut: usize): usize {
  _getArguments(RET);
  store<u32>(countOut, load<u32>(RET, 4));
  return <usize>load<u32>(RET);
}

/** Writes `len` bytes at `ptr` to stdout, flushed. Returns 0 or < 0 if stdout is gone. */
export function writeStdout(ptr: usize, len: u32): i32 {
  if (stdoutStream == 0) stdoutStream = _getStdout();
  return blockingWrite(stdoutStream, ptr, len);
}

/** Writes `len` bytes at `ptr` to stderr, flushed. Returns 0 or < 0 if stderr is gone. */
export function writeStderr(ptr: usize, len: u32): i32 {
  if (stderrStream == 0) stderrStream = _getStderr();
  return blockingWrite(stderrStream, ptr, len);
}
