/**
 * The exports of the plugin world (`nbio:plugin/handler`), forwarding to the
 * registered {@link Plugin}. A plugin's entry file re-exports this module.
 * AssemblyScript cannot spell "nbio:plugin/handler@0.1.0#on-data", so each
 * function is exported as `handler$on_data` and renamed by the build.
 *
 * Connections are keyed by their handle: `on-open` returns it as the key.
 */
import { cabi_realloc, endCall } from "./abi";
import { Bytes, CloseReason, Connection } from "./connection";
import { registered } from "./plugin";

export { cabi_realloc };

const conns = new Map<u32, Connection>();
/** The view handed to `onData`, reused for every call. */
const view = new Bytes();
/** Return area of `init`: result<_, string> = {u8 tag, u32 ptr, u32 len}. */
const INIT_RET: usize = memory.data(12, 4);
/** The error message `init` returned, kept alive until the next call. */
let initError: ArrayBuffer | null = null;

export function handler$init(ptr: usize, len: u32): usize {
  const err = registered().init(new Bytes(ptr, <i32>len));
  if (err == null) {
    store<u32>(INIT_RET, 0);
  } else {
    const utf8 = String.UTF8.encode(err);
    initError = utf8;
    store<u32>(INIT_RET, 1);
    store<u32>(INIT_RET, <u32>changetype<usize>(utf8), 4);
    store<u32>(INIT_RET, <u32>utf8.byteLength, 8);
  }
  endCall();
  return INIT_RET;
}

export function handler$on_open(handle: u32): u32 {
  const conn = new Connection(handle);
  conns.set(handle, conn);
  registered().onOpen(conn);
  endCall();
  return handle;
}

export function handler$on_data(key: u32, ptr: usize, len: u32): void {
  view.ptr = ptr;
  view.length = <i32>len;
  registered().onData(conns.get(key), view);
  endCall();
}

export function handler$on_drain(key: u32): void {
  const conn = conns.get(key);
  if (conn.flush()) registered().onDrain(conn);
  endCall();
}

export function handler$on_close(key: u32, reason: u8): void {
  const conn = conns.get(key);
  conns.delete(key);
  registered().onClose(conn, <CloseReason>reason);
  conn.drop();
  endCall();
}
