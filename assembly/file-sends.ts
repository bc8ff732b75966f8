/**
 * Sending bytes of a file on a stream connection with `send-file`: from
 * the head of a write queue (a file chunk, write-buffer.ts) or at once
 * (file-writes.ts), and closing the files a closing connection still had
 * queued.
 */
import { EAGAIN, EIO } from "./constants";
import { chunkFileFd, chunkFileOffset, chunkIsFile, chunkLen, chunkNext, wbHead } from "./write-buffer";
import { countWritten } from "./stats";
import { sysClose, sysSendFile } from "./sys";

/** Most bytes one `send-file` call asks for. */
const MAX_SEND: u32 = 1 << 30;

/**
 * Sends what the socket `fd` takes of `len` bytes of `fileFd` from
 * `offset`, one `send-file` call at a time. Returns the bytes sent (fewer
 * than `len` when the socket filled), or -errno: -EIO when the file ended
 * first. Counts what it sent.
 */
export function sendFileBytes(fd: i32, fileFd: i32, offset: u64, len: u32): i64 {
  let sent: u32 = 0;
  while (sent < len) {
    const ask = min(len - sent, MAX_SEND);
    const n = sysSendFile(fd, fileFd, offset + <u64>sent, ask);
    if (n == -EAGAIN) break;
    if (n <= 0) return n == 0 ? -EIO : <i64>n;
    countWritten(<u32>n);
    sent += <u32>n;
    if (<u32>n < ask) break;
  }
  return <i64>sent;
}

/**
 * Sends the file chunk `c`, the head of its queue, as far as the socket
 * `fd` takes it, and closes its file once every byte is out. Returns the
 * bytes sent (the caller consumes them from the queue), or -errno.
 */
export function sendFileChunk(fd: i32, c: usize): i64 {
  const left = chunkLen(c);
  const n = sendFileBytes(fd, chunkFileFd(c), chunkFileOffset(c), left);
  if (n == <i64>left) sysClose(chunkFileFd(c));
  return n;
}

/** Closes the files queued in `q`: its connection closes (the queue is cleared next). */
export function closeQueuedFiles(q: usize): void {
  for (let c = wbHead(q); c != 0; c = chunkNext(c)) {
    if (chunkIsFile(c)) sysClose(chunkFileFd(c));
  }
}
