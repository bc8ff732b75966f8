/**
 * Connections (descriptors in the CONNECTING or OPEN state): their epoll
 * interest, writes and the flushing of their queue, the read loop, and how
 * they end.
 *
 * Interest. Level-triggered (the default), a connection asks for IN and
 * RDHUP while it reads, and for OUT only while bytes are queued.
 * Edge-triggered, it is registered once with IN, RDHUP and OUT (EPOLLET),
 * reads until the socket is empty, and only pausing or the end of the
 * peer's stream change the registration.
 *
 * Ending. Each direction ends on its own:
 *  - this side's: `end` and `close-write` shut this side (shutdown
 *    SHUT_WR, a FIN after the last queued byte) once the queue is empty,
 *    and reading goes on: the connection *lingers*, reporting what
 *    arrives, until the peer ends too. Closing it before that would reset
 *    it if input were left unread, and a reset drops what the kernel has
 *    not sent yet. (How long to linger is the host's to bound: it closes
 *    the connection when its time is up.) A UDP connection has no
 *    direction to shut: its `end` closes it once the queue is sent;
 *  - the peer's: a read of 0 bytes. The reactor reports `ended`, stops
 *    reading (an ended stream stays readable forever) and goes on
 *    flushing; writes are still taken until this side ends too.
 * Once both have ended the connection closes. Its `closed` status says
 * who ended first: CLOSE_CAUSE_PEER_ENDED when the peer did, else CLOSE_CAUSE_LOCAL.
 * `close`, errors and overflows close at once, discarding the queue; a
 * close by this side of a connection with nothing queued (a lingering
 * one, or one `shutdown` closes) first reads and drops what arrived, so
 * that it does not reset the connection (`discardInput`).
 */
import { EAGAIN, EBADF, ENOBUFS, EOPNOTSUPP, EPOLLERR, EPOLLHUP, EPOLLOUT, EPOLLRDHUP, EPOLL_CTL_ADD, EPOLL_CTL_MOD, INTEREST_READ, MAX_IOV, SHUT_WR } from "./constants";
import {
  CLOSE_CAUSE_LOCAL, CLOSE_CAUSE_PEER_ENDED, CLOSE_CAUSE_WRITE_OVERFLOW, EVENT_KIND_CLOSED, EVENT_KIND_DATA,
  EVENT_KIND_DRAINED, EVENT_KIND_ENDED, EVENT_KIND_OPENED, FAILED_CALL_CONNECT, FAILED_CALL_EPOLL_CTL,
  FAILED_CALL_NONE, FAILED_CALL_READ, FAILED_CALL_SHUTDOWN, FAILED_CALL_WRITE, FD_MASK, LIST_ALIGN,
  LIST_LEN_OFFSET, LIST_SIZE,
} from "./generated/abi";
import {
  FLAG_DATAGRAM, FLAG_ENDING, FLAG_OUT, FLAG_PARKED, FLAG_PEER_ENDED, FLAG_PEER_FIRST, FLAG_READ_PAUSED,
  FLAG_SHUT_WR, STATE_FREE, STATE_LISTENER, STATE_OPEN,
  ctHandle, ctOpen, ctRelease, ctSlot, slotFlags, slotQueue, slotSetFlags, slotSetState, slotState,
} from "./conn-table";
import {
  chunkLen, chunkPtr, wbAppend, wbAppendAdopted, wbBytes, wbConsume, wbGather, wbHead, wbIsEmpty,
} from "./write-buffer";
import { closeQueuedFiles, sendFileChunk } from "./file-sends";
import { evPush } from "./events";
import { countClosed, countRead, countWritten } from "./stats";
import { adoptLarge } from "./abi";
import { heapUsable } from "./heap";
import { room } from "./room";
import { batchCommit, batchFree, batchNext, resumeReads, setResumeReads } from "./batch";
import {
  edgeTriggered, epollFd, maxWriteBufferSize, noDelay, readBufferSize, readLimit, triggerBits,
} from "./settings";
import {
  sysClose, sysCloseGraceful, sysEpollCtl, sysRead, sysSetNoDelay, sysShutdown, sysSocketError, sysWrite,
  sysWritev,
} from "./sys";

const IOV: usize = memory.data(<i32>(<usize>MAX_IOV * LIST_SIZE), <i32>LIST_ALIGN);
/** Where `discardInput` reads what nobody will: at most DISCARD_READS reads of DISCARD_SIZE bytes. */
const DISCARD_SIZE: u32 = 16 << 10;
const DISCARD_READS: i32 = 64;
const DISCARD: usize = memory.data(<i32>DISCARD_SIZE);

@inline export function fdOf(handle: u32): i32 { return <i32>(handle & FD_MASK); }

/** The `closed` status of a connection both sides ended: who ended first. */
@inline function endStatus(s: usize): i32 {
  return (slotFlags(s) & FLAG_PEER_FIRST) != 0 ? CLOSE_CAUSE_PEER_ENDED : CLOSE_CAUSE_LOCAL;
}

/** Closes the connection on `fd` exactly once: frees its queue, bumps the
 *  generation, closes the descriptor, reports `closed`. A close by this
 *  side or after the peer's end lets bytes already taken by the system
 *  still reach the peer (and first drops unread input, see
 *  `discardInput`); the others (errors, overflow, host causes) are
 *  abortive. */
export function closeConn(fd: i32, status: i32, detail: u32): void {
  const s = ctSlot(fd);
  const st = slotState(s);
  if (st == STATE_FREE || st == STATE_LISTENER) return;
  const graceful = status == CLOSE_CAUSE_LOCAL || status == CLOSE_CAUSE_PEER_ENDED;
  const unread = (slotFlags(s) & (FLAG_PEER_ENDED | FLAG_DATAGRAM)) == 0;
  if (graceful && unread && st == STATE_OPEN && wbIsEmpty(slotQueue(s))) discardInput(fd);
  const h = ctHandle(fd);
  closeQueuedFiles(slotQueue(s));
  ctRelease(fd);
  if (graceful) sysCloseGraceful(fd);
  else sysClose(fd);
  evPush(EVENT_KIND_CLOSED, h, status, detail, 0, 0);
  countClosed(status);
}

/**
 * Reads and drops what the peer sent that nobody will read (at most
 * DISCARD_READS reads): closing a socket with unread input makes the
 * kernel reset the connection, and the reset drops what it has not sent
 * to the peer yet. Bytes arriving after the close still reset it.
 */
function discardInput(fd: i32): void {
  for (let i = 0; i < DISCARD_READS; i++) {
    const n = sysRead(fd, DISCARD, DISCARD_SIZE);
    if (n <= 0) return; // nothing more now, the end of the stream, or a failure: close anyway
    countRead(<u32>n);
  }
}

/** The epoll interest a connection's flags call for. */
export function interestOf(s: usize): u32 {
  const f = slotFlags(s);
  const read = (f & (FLAG_READ_PAUSED | FLAG_PEER_ENDED)) != 0 ? 0 : INTEREST_READ;
  return read | ((f & FLAG_OUT) != 0 ? EPOLLOUT : 0) | triggerBits();
}

/** Sets `flags` on the slot and registers the interest they call for
 *  (nothing while parked: `resume-reading` registers it). Closes the
 *  connection and returns -errno if epoll-ctl fails. */
export function setConnFlags(fd: i32, s: usize, flags: u16): i32 {
  slotSetFlags(s, flags);
  if ((flags & FLAG_PARKED) != 0) return 0;
  const r = sysEpollCtl(epollFd(), EPOLL_CTL_MOD, fd, interestOf(s), ctHandle(fd));
  if (r < 0) closeConn(fd, r, FAILED_CALL_EPOLL_CTL);
  return r;
}

/** Disarms EPOLLOUT once the queue is empty (level-triggered only: edge-
 *  triggered registers it for good). False if the conn closed. */
function disarmOut(fd: i32, s: usize): bool {
  if ((slotFlags(s) & FLAG_OUT) == 0 || edgeTriggered()) return true;
  return setConnFlags(fd, s, slotFlags(s) & ~FLAG_OUT) >= 0;
}

/** Registers a freshly accepted or added descriptor as a connection in
 *  `state`, `connecting` or not. Returns its handle, or -errno (the slot
 *  is then free again; the fd is not closed here). `noDelay` is tried
 *  when `tcp` may be true (the caller learns the result's -EOPNOTSUPP
 *  through `tcpRefused`). */
export function registerConn(fd: i32, state: u8, connecting: bool, flags: u16, tcp: bool): i64 {
  const s = ctSlot(fd);
  if (slotState(s) != STATE_FREE) {
    // The table still names a connection on this descriptor number, so the
    // host closed that fd behind the reactor's back. Retire the stale entry
    // without closing the (new) descriptor.
    const old = ctHandle(fd);
    const wasConn = slotState(s) != STATE_LISTENER;
    ctRelease(fd);
    if (wasConn) { evPush(EVENT_KIND_CLOSED, old, -EBADF, FAILED_CALL_NONE, 0, 0); countClosed(-EBADF); }
  }
  const h = ctOpen(fd, state);
  // Edge-triggered, OUT is registered once and for all; level-triggered,
  // only while a connect is in progress (and later while bytes are queued).
  const out = connecting || edgeTriggered();
  slotSetFlags(s, flags | (out ? FLAG_OUT : 0));
  const r = sysEpollCtl(epollFd(), EPOLL_CTL_ADD, fd, interestOf(s), h);
  if (r < 0) { ctRelease(fd); return r; }
  tcpRefused = tcp && noDelay() && sysSetNoDelay(fd, true) == -EOPNOTSUPP;
  return <i64>h;
}

/** Whether the last `registerConn` found that the socket is not TCP
 *  (TCP_NODELAY refused): its listener need not try again. */
export let tcpRefused = false;

/**
 * Sends what is queued until the queue is empty or the kernel is full: a
 * stream gathers chunks into one writev (up to a file chunk, which the
 * kernel sends from its file); a datagram connection sends one record per
 * call. Returns 1 when the queue is empty, 0 when the kernel
 * took less, -1 when the connection was closed (a write failed).
 */
function sendQueued(fd: i32, s: usize): i32 {
  const q = slotQueue(s);
  const datagram = (slotFlags(s) & FLAG_DATAGRAM) != 0;
  while (!wbIsEmpty(q)) {
    let n: i32;
    let total: u32;
    const cnt = datagram ? 1 : wbGather(q, IOV, MAX_IOV);
    if (cnt == 0) {
      // A file chunk at the head: the kernel sends it (file-writes.ts).
      const c = wbHead(q);
      total = chunkLen(c);
      const sent = sendFileChunk(fd, c);
      if (sent < 0) { closeConn(fd, <i32>sent, FAILED_CALL_WRITE); return -1; }
      wbConsume(q, <u32>sent);
      if (<u32>sent < total) return 0;
      continue;
    } else if (cnt == 1) {
      const c = wbHead(q);
      total = chunkLen(c);
      n = sysWrite(fd, chunkPtr(c), total);
    } else {
      total = 0;
      for (let i = 0; i < cnt; i++) total += load<u32>(IOV + <usize>i * LIST_SIZE, LIST_LEN_OFFSET);
      n = sysWritev(fd, IOV, <u32>cnt);
    }
    if (n < 0) {
      if (n == -EAGAIN || (datagram && n == -ENOBUFS)) return 0;
      closeConn(fd, n, FAILED_CALL_WRITE);
      return -1;
    }
    countWritten(<u32>n);
    wbConsume(q, <u32>n);
    if (<u32>n < total) return 0;
  }
  return 1;
}

/** Shuts this side of an ended connection whose queue is empty (its FIN),
 *  from where it lingers; closes it instead if the peer has ended too.
 *  False if it closed. */
function shutWrite(fd: i32, s: usize): bool {
  if ((slotFlags(s) & FLAG_PEER_ENDED) != 0) { closeConn(fd, endStatus(s), FAILED_CALL_NONE); return false; }
  const r = sysShutdown(fd, SHUT_WR);
  if (r < 0) { closeConn(fd, r, FAILED_CALL_SHUTDOWN); return false; }
  return true;
}

/** Writes queued bytes until the queue is empty or the kernel is full.
 *  Once it is empty: an ended connection is shut (a UDP one closed), and
 *  `drained` reported. Returns false if the connection closed. */
export function flush(fd: i32, s: usize): bool {
  if (wbIsEmpty(slotQueue(s))) return disarmOut(fd, s); // a spurious or connect-time OUT
  const r = sendQueued(fd, s);
  if (r <= 0) return r == 0;
  const f = slotFlags(s);
  if ((f & FLAG_ENDING) != 0) {
    closeConn(fd, endStatus(s), FAILED_CALL_NONE);
    return false;
  }
  if ((f & FLAG_SHUT_WR) != 0 && !shutWrite(fd, s)) return false;
  if (!disarmOut(fd, s)) return false;
  evPush(EVENT_KIND_DRAINED, ctHandle(fd), 0, 0, 0, 0);
  return true;
}

/** A connecting socket became writable or failed. False if it closed. */
export function completeConnect(fd: i32, s: usize, h: u32): bool {
  const err = sysSocketError(fd);
  if (err < 0) { closeConn(fd, err, FAILED_CALL_CONNECT); return false; }
  slotSetState(s, STATE_OPEN);
  if (wbIsEmpty(slotQueue(s))) {
    if (!disarmOut(fd, s)) return false;
    // Ended while it connected: its FIN goes now.
    if ((slotFlags(s) & FLAG_SHUT_WR) != 0 && !shutWrite(fd, s)) return false;
  }
  evPush(EVENT_KIND_OPENED, h, 0, 0, 0, 0);
  return true;
}

/** The peer ended its stream (a read of 0 bytes). */
function peerEnded(fd: i32, s: usize, h: u32): void {
  let f = slotFlags(s) | FLAG_PEER_ENDED;
  if ((f & FLAG_SHUT_WR) == 0) f |= FLAG_PEER_FIRST;
  evPush(EVENT_KIND_ENDED, h, 0, 0, 0, 0);
  if ((f & FLAG_SHUT_WR) != 0 && wbIsEmpty(slotQueue(s))) {
    slotSetFlags(s, f);
    closeConn(fd, endStatus(s), FAILED_CALL_NONE);
    return;
  }
  setConnFlags(fd, s, f); // no read interest from now on
}

/** An error or hang-up reported for a connection that reads no more (its
 *  peer ended): closes it with the pending error, if any. */
export function settleHangUp(fd: i32, s: usize): void {
  const e = sysSocketError(fd);
  if (e < 0) closeConn(fd, e, FAILED_CALL_READ);
  else closeConn(fd, endStatus(s), FAILED_CALL_NONE);
}

/** Reads until the socket is empty, the read limit is reached or the
 *  batch data area is full. False in the last case: the report must be
 *  resumed by the next run-once. */
export function readLoop(fd: i32, s: usize, h: u32, events: u32): bool {
  const rbs = readBufferSize();
  const limit = readLimit();
  // Edge-triggered, a short read still leaves an end of stream or an
  // error the report announced to be read: no later report will.
  const readToEnd = edgeTriggered() && (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0;
  let got = false;
  for (let i = resumeReads(); i < limit; i++) {
    if (batchFree() < rbs || !room(1)) { setResumeReads(i); return false; }
    const dest = batchNext();
    const n = sysRead(fd, dest, rbs);
    if (n > 0) {
      countRead(<u32>n);
      evPush(EVENT_KIND_DATA, h, 0, 0, dest, <u32>n);
      batchCommit(<u32>n);
      got = true;
      if (<u32>n < rbs && !readToEnd) return true; // drained
      continue;
    }
    if (n == 0) { peerEnded(fd, s, h); return true; }
    if (n == -EAGAIN) {
      // A hang-up or error report with nothing to read would fire forever
      // (level-triggered): settle it from the pending socket error.
      if (!got && (events & (EPOLLERR | EPOLLHUP)) != 0 && i == resumeReads()) {
        const e = sysSocketError(fd);
        if (e < 0) closeConn(fd, e, FAILED_CALL_READ);
        else closeConn(fd, CLOSE_CAUSE_PEER_ENDED, FAILED_CALL_NONE);
      }
      return true;
    }
    closeConn(fd, n, FAILED_CALL_READ);
    return true;
  }
  return true;
}

/** `write` on a stream connection (the reactor's `write` export). */
export function connWrite(conn: u32, s: usize, ptr: usize, len: u32): i32 {
  if ((slotFlags(s) & (FLAG_ENDING | FLAG_SHUT_WR)) != 0) return -EBADF;
  if (len == 0) return 0;
  const fd = fdOf(conn);
  const q = slotQueue(s);
  let off: u32 = 0;
  if (slotState(s) == STATE_OPEN && wbIsEmpty(q)) {
    const n = sysWrite(fd, ptr, len);
    if (n >= 0) {
      countWritten(<u32>n);
      if (<u32>n >= len) return <i32>len;
      off = <u32>n;
    } else if (n != -EAGAIN) {
      closeConn(fd, n, FAILED_CALL_WRITE);
      return n;
    }
  }
  const rest = len - off;
  const limit = maxWriteBufferSize();
  if (limit != 0 && <u64>wbBytes(q) + <u64>rest > <u64>limit) {
    closeConn(fd, CLOSE_CAUSE_WRITE_OVERFLOW, FAILED_CALL_NONE);
    return -ENOBUFS;
  }
  const src = ptr + <usize>off;
  const block = adoptLarge(src, <usize>rest);
  if (block != 0) {
    wbAppendAdopted(q, src, rest, block, block + heapUsable(block));
  } else if (!wbAppend(q, src, rest)) {
    // The memory to queue the rest cannot be had (maxMemory, or the
    // embedder's limit): fail this connection, not the reactor.
    closeConn(fd, CLOSE_CAUSE_WRITE_OVERFLOW, FAILED_CALL_NONE);
    return -ENOBUFS;
  }
  return armOut(fd, s, len);
}

/** Arms EPOLLOUT for a connection that just queued bytes; returns `len`,
 *  or -errno if it closed. */
export function armOut(fd: i32, s: usize, len: u32): i32 {
  if ((slotFlags(s) & FLAG_OUT) == 0) {
    const r = setConnFlags(fd, s, slotFlags(s) | FLAG_OUT);
    if (r < 0) return r;
  }
  return <i32>len;
}

/** `end` and `close-write`: this side ends. A stream is shut once the
 *  queue is empty (at once if it is) and lingers until the peer ends (see
 *  the file's doc); a UDP connection, which has no direction to shut,
 *  closes once the queue is empty. Again on an ended connection: nothing. */
export function connEnd(conn: u32, s: usize): void {
  const f = slotFlags(s);
  if ((f & (FLAG_ENDING | FLAG_SHUT_WR)) != 0) return;
  const fd = fdOf(conn);
  const empty = wbIsEmpty(slotQueue(s));
  if ((f & FLAG_DATAGRAM) != 0) {
    if (empty) closeConn(fd, endStatus(s), FAILED_CALL_NONE);
    else slotSetFlags(s, f | FLAG_ENDING);
    return;
  }
  slotSetFlags(s, f | FLAG_SHUT_WR);
  if (empty && slotState(s) == STATE_OPEN) shutWrite(fd, s);
}
