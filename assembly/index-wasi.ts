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
 *   address-result (ADDRESS_RESULT_SIZE bytes, generated from the WIT):
 *   the `address` case's text is a static buffer, valid until the next call
 */
import { beginCall, endCall } from "./abi";
import {
  ADDRESS_RESULT_ADDRESS, ADDRESS_RESULT_ALIGN, ADDRESS_RESULT_ERROR, ADDRESS_RESULT_PAYLOAD_OFFSET,
  ADDRESS_RESULT_SIZE, LIST_LEN_OFFSET, LIST_PTR_OFFSET,
} from "./generated/abi";
import { MAX_ADDRESS_TEXT } from "./wasi/address";
import { netAddress, netDial, netListen } from "./wasi/net";

export * from "./index";
export { cabi_realloc } from "./abi";

const TEXT: usize = memory.data(<i32>MAX_ADDRESS_TEXT);
const RESULT: usize = memory.data(<i32>ADDRESS_RESULT_SIZE, <i32>ADDRESS_RESULT_ALIGN);

function addressResult(fd: i32, remote: bool): usize {
  const n = netAddress(fd, remote, TEXT);
  const payload = RESULT + ADDRESS_RESULT_PAYLOAD_OFFSET;
  if (n < 0) {
    store<u8>(RESULT, ADDRESS_RESULT_ERROR);
    store<i32>(payload, n);
  } else {
    store<u8>(RESULT, ADDRESS_RESULT_ADDRESS);
    store<u32>(payload, <u32>TEXT, LIST_PTR_OFFSET);
    store<u32>(payload, <u32>n, LIST_LEN_OFFSET);
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
