/**
 * The core exports of the WASI library component (world `reactor-wasi` in
 * wit/nbio-wasi.wit): the `engine` functions of index.ts, unchanged, plus
 * `nbio:engine/net`. Compiled with `--use NBIO_WASI=1`, so the reactor's
 * `sys` is sys/wasi.ts and the module imports only wasi:*.
 *
 * Core signatures of net (i32 unless noted):
 *
 *   listen         (ptr, len, backlog) -> fd | -errno
 *   dial           (ptr, len)          -> fd | -errno
 *   local-address  (fd)                -> ptr to address-result
 *   remote-address (fd)                -> ptr to address-result
 *
 *   address-result (12 bytes): [0] u8 disc; 0: [4] ptr, [8] len of the
 *   UTF-8 text (a static buffer, valid until the next call); 1: [4] s32
 */
import { beginCall, endCall } from "./abi";
import { MAX_ADDRESS_TEXT } from "./wasi/address";
import { netAddress, netDial, netListen } from "./wasi/net";

export * from "./index";
export { cabi_realloc } from "./abi";

const TEXT: usize = memory.data(<i32>MAX_ADDRESS_TEXT);
const RESULT: usize = memory.data(12, 4);

function addressResult(fd: i32, remote: bool): usize {
  const n = netAddress(fd, remote, TEXT);
  if (n < 0) {
    store<u8>(RESULT, 1);
    store<i32>(RESULT, n, 4);
  } else {
    store<u8>(RESULT, 0);
    store<u32>(RESULT, <u32>TEXT, 4);
    store<u32>(RESULT, <u32>n, 8);
  }
  return RESULT;
}

export function net$listen(ptr: usize, len: u32, backlog: u32): i32 {
  beginCall(); const r = netListen(ptr, len, backlog); endCall(); return r;
}
export function net$dial(ptr: usize, len: u32): i32 {
  beginCall(); const r = netDial(ptr, len); endCall(); return r;
}
export function net$local_address(fd: i32): usize {
  beginCall(); const r = addressResult(fd, false); endCall(); return r;
}
export function net$remote_address(fd: i32): usize {
  beginCall(); const r = addressResult(fd, true); endCall(); return r;
}
