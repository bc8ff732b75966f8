/**
 * `write-file`: bytes of a file for a stream connection, sent at once when
 * nothing is queued (file-sends.ts), otherwise queued as a file chunk in
 * order with written bytes (write-buffer.ts) and sent as the socket takes
 * them; each file's descriptor is closed once its bytes are sent, when the
 * connection closes, or at once when they are refused.
 */
import { EBADF, ENOBUFS } from "./constants";
import { CLOSE_CAUSE_WRITE_OVERFLOW, FAILED_CALL_NONE, FAILED_CALL_WRITE } from "./generated/abi";
import { FLAG_DATAGRAM, FLAG_ENDING, FLAG_SHUT_WR, STATE_OPEN, slotFlags, slotQueue, slotState } from "./conn-table";
import { wbAppendFile, wbBytes, wbIsEmpty } from "./write-buffer";
import { maxWriteBufferSize } from "./settings";
import { sysClose } from "./sys";
import { armOut, closeConn, fdOf } from "./conns";
import { sendFileBytes } from "./file-sends";

/** Most bytes a queue may count, file bytes included (its count is a u32). */
const MAX_QUEUED: u64 = 0xFFFF_0000;

/** `write-file` (the contract is in wit/nbio-engine.wit). */
export function connWriteFile(conn: u32, s: usize, fileFd: i32, offset: u64, len: u32): i32 {
  if ((slotFlags(s) & (FLAG_DATAGRAM | FLAG_ENDING | FLAG_SHUT_WR)) != 0) { sysClose(fileFd); return -EBADF; }
  const fd = fdOf(conn);
  const q = slotQueue(s);
  let sent: u32 = 0;
  if (slotState(s) == STATE_OPEN && wbIsEmpty(q)) {
    const n = sendFileBytes(fd, fileFd, offset, len);
    if (n < 0) {
      sysClose(fileFd);
      closeConn(fd, <i32>n, FAILED_CALL_WRITE);
      return <i32>n;
    }
    sent = <u32>n;
  }
  const rest = len - sent;
  if (rest == 0) { sysClose(fileFd); return <i32>len; }
  const limit = maxWriteBufferSize();
  const queued = <u64>wbBytes(q) + <u64>rest;
  if ((limit != 0 && queued > <u64>limit) || queued > MAX_QUEUED || !wbAppendFile(q, fileFd, offset + <u64>sent, rest)) {
    sysClose(fileFd);
    closeConn(fd, CLOSE_CAUSE_WRITE_OVERFLOW, FAILED_CALL_NONE);
    return -ENOBUFS;
  }
  return armOut(fd, s, len);
}
