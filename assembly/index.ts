/**
 * The component's core exports. AssemblyScript cannot spell export names
 * like "nbio:engine/engine@0.1.0#run-once", so each function is exported
 * as `engine$run_once` and build/wit-exports.mjs renames it after
 * compilation (`engine$` -> "nbio:engine/engine@0.1.0#", `_` -> `-`).
 *
 * Core signatures (all i32):
 *
 *   init            (rbs, maxWb, maxReads, noDelay, maxMemory, edgeTriggered) -> epfd | -errno
 *   add-listener    (fd)            -> 0 | -errno
 *   add-acceptor    (fd)            -> 0 | -errno
 *   resume-listener (fd)            -> 0 | -errno
 *   remove-listener (fd)            -> 0 | -errno
 *   add-conn        (fd, origin)    -> handle | -errno
 *   add-datagram    (fd, connected) -> handle | 0 | -errno
 *   run-once        (timeoutMs)     -> ptr to {u32 ptr, u32 len} list<event>
 *   backlog         ()              -> u32
 *   take-events     ()              -> ptr to {u32 ptr, u32 len}
 *   write           (conn, ptr, len)-> bytes | -errno
 *   write-file      (conn, fileFd, offset i64, len) -> len | -errno
 *   buffered-amount (conn)          -> u32
 *   close           (conn, cause)   -> 0 | -errno
 *   end             (conn)          -> 0 | -errno
 *   close-write     (conn)          -> 0 | -errno
 *   pause-reading   (conn)          -> 0 | -errno
 *   resume-reading  (conn)          -> 0 | -errno
 *   shutdown        ()              -> ()
 *   conn-count      ()              -> u32
 *   memory-in-use   ()              -> u32
 *   stats           ()              -> ptr to the stats record
 *
 * plus `memory` and `cabi_realloc`. Every export starts with `beginCall()`,
 * which lets the heap reuse memory the host has been told it may discard,
 * and ends with `endCall()`, which resets the per-call arena of
 * cabi_realloc and frees large list blocks that were not adopted.
 */
import { beginCall, endCall } from "./abi";
import {
  reactorAddAcceptor, reactorAddConn, reactorAddDatagram, reactorAddListener, reactorBacklog,
  reactorBufferedAmount, reactorClose, reactorConnCount, reactorEnd, reactorInit,
  reactorMemoryInUse, reactorPauseReading, reactorRemoveListener, reactorResumeListener, reactorResumeReading,
  reactorRunOnce, reactorShutdown, reactorStats, reactorTakeEvents, reactorWrite, reactorWriteFile,
} from "./reactor";

export { cabi_realloc } from "./abi";

export function engine$init(rbs: u32, maxWb: u32, reads: u32, noDelay: bool, maxMemory: u32, edgeTriggered: bool): i32 {
  beginCall(); const r = reactorInit(rbs, maxWb, reads, noDelay, maxMemory, edgeTriggered); endCall(); return r;
}
export function engine$add_listener(fd: i32): i32 {
  beginCall(); const r = reactorAddListener(fd); endCall(); return r;
}
export function engine$add_acceptor(fd: i32): i32 {
  beginCall(); const r = reactorAddAcceptor(fd); endCall(); return r;
}
export function engine$resume_listener(fd: i32): i32 {
  beginCall(); const r = reactorResumeListener(fd); endCall(); return r;
}
export function engine$remove_listener(fd: i32): i32 {
  beginCall(); const r = reactorRemoveListener(fd); endCall(); return r;
}
export function engine$add_conn(fd: i32, origin: u32): i32 {
  beginCall(); const r = reactorAddConn(fd, origin); endCall(); return r;
}
export function engine$add_datagram(fd: i32, connected: bool): i32 {
  beginCall(); const r = reactorAddDatagram(fd, connected); endCall(); return r;
}
export function engine$run_once(timeout: i32): usize {
  beginCall(); const r = reactorRunOnce(timeout); endCall(); return r;
}
export function engine$backlog(): u32 {
  beginCall(); const r = reactorBacklog(); endCall(); return r;
}
export function engine$take_events(): usize {
  beginCall(); const r = reactorTakeEvents(); endCall(); return r;
}
export function engine$write(conn: u32, ptr: usize, len: u32): i32 {
  beginCall(); const r = reactorWrite(conn, ptr, len); endCall(); return r;
}
export function engine$write_file(conn: u32, fileFd: i32, offset: u64, len: u32): i32 {
  beginCall(); const r = reactorWriteFile(conn, fileFd, offset, len); endCall(); return r;
}
export function engine$buffered_amount(conn: u32): u32 {
  beginCall(); const r = reactorBufferedAmount(conn); endCall(); return r;
}
export function engine$close(conn: u32, cause: i32): i32 {
  beginCall(); const r = reactorClose(conn, cause); endCall(); return r;
}
export function engine$end(conn: u32): i32 {
  beginCall(); const r = reactorEnd(conn); endCall(); return r;
}
/** The same as `end` inside the reactor: the two differ in what the host does (see the WIT). */
export function engine$close_write(conn: u32): i32 {
  beginCall(); const r = reactorEnd(conn); endCall(); return r;
}
export function engine$pause_reading(conn: u32): i32 {
  beginCall(); const r = reactorPauseReading(conn); endCall(); return r;
}
export function engine$resume_reading(conn: u32): i32 {
  beginCall(); const r = reactorResumeReading(conn); endCall(); return r;
}
export function engine$shutdown(): void {
  beginCall(); reactorShutdown(); endCall();
}
export function engine$conn_count(): u32 {
  beginCall(); const r = reactorConnCount(); endCall(); return r;
}
export function engine$memory_in_use(): u32 {
  beginCall(); const r = reactorMemoryInUse(); endCall(); return r;
}
export function engine$stats(): usize {
  beginCall(); const r = reactorStats(); endCall(); return r;
}
