/**
 * The reactor: nbio's worker loop over the `sys` imports. This file holds
 * the loop (`run-once`), listeners and the exports' operations; a
 * connection's I/O is in conns.ts, UDP sockets and their peers in
 * datagram.ts, the read area in batch.ts.
 *
 * Memory owned here (all allocated once by `reactorInit`):
 *
 *   readyBuf   MAX_READY x {u32 token, u32 events}   epoll-wait lands here
 *   data area  max(4 x readBufferSize, 256 KiB)      reads land here (batch.ts)
 *
 * Batch and backlog. `run-once` starts a batch: the previous list is
 * forgotten (events.ts compacts), the data area is reset. Reports are
 * processed from readyBuf[readyPos], at most MAX_REPORTS_PER_BATCH per
 * batch (the rest is backlog). Every read lands in the data area and
 * becomes a `data` event pointing there. Before a read, if less than a
 * whole read's room remains, the batch stops: readyPos stays on the
 * current report and `resumeReads` (batch.ts) keeps how many reads it
 * already had (its connect / flush steps are not repeated). `backlog()` =
 * readyCount - readyPos; while it is > 0, `run-once` processes the backlog
 * and does not call epoll-wait.
 *
 * Per ready report, in order: connect completion; OUT -> flush;
 * IN/PRI/ERR/HUP/RDHUP -> read loop. Hang-ups close a connection only via
 * the read loop (EOF or an error), so no tail data is lost; and a flush
 * that empties the queue of an ended stream shuts it (it lingers) rather
 * than closing it, unless the read loop already met the peer's end: the
 * input of the report is read before any graceful close.
 *
 * Listeners are level-triggered in both modes (an accept round is capped
 * at MAX_ACCEPTS_PER_REPORT); connections and UDP sockets follow the
 * `edge-triggered` setting (conns.ts).
 *
 * Paused reading (`pause-reading`): the connection's interest drops IN and
 * RDHUP (OUT stays while bytes are queued), so nothing is read. ERR and HUP
 * are reported whatever the interest and, level-triggered, would come back
 * at every poll: a paused connection that reports one is "parked", taken
 * out of the epoll set (a `parked` event tells the host, which bounds how
 * long it stays so), and put back by `resume-reading`, whose level-
 * triggered registration then reports the bytes still unread and the
 * hang-up, in that order, through the read loop.
 *
 * Memory (heap.ts) can run out: the reactor then fails what needed it (a
 * write closes its connection with the overflow cause, an accept pauses
 * its listener with ENOMEM, a new UDP peer's datagram is dropped) and
 * never traps. Events that must not be lost have room kept for them in
 * the event array (room.ts).
 */
import { EAGAIN, EALREADY, EBADF, ECONNABORTED, EEXIST, EINTR, EINVAL, ENOMEM, EPOLLERR, EPOLLHUP, EPOLLOUT, EPOLL_CTL_ADD, EPOLL_CTL_MOD, INTEREST_LISTEN, MAX_ACCEPTS_PER_REPORT, MAX_READY, MAX_REPORTS_PER_BATCH, READ_TRIGGER } from "./constants";
import {
  CLOSE_CAUSE_LOCAL, CONN_ORIGIN_ACCEPTED, CONN_ORIGIN_ADDED, CONN_ORIGIN_COUNT, CONN_ORIGIN_DIALING, EVENT_KIND_ACCEPTED, EVENT_KIND_LISTENER_PAUSED, EVENT_KIND_OPENED,
  EVENT_KIND_POLL_FAILED, FAILED_CALL_NONE, PEER_BIT, READY_EVENTS_OFFSET, READY_SIZE, READY_TOKEN_OFFSET,
} from "./generated/abi";
import {
  FLAG_ACCEPTOR, FLAG_DATAGRAM, FLAG_NOT_TCP, FLAG_PAUSED, FLAG_PEER_ENDED, FLAG_READ_PAUSED,
  STATE_CONNECTING, STATE_FREE, STATE_LISTENER, STATE_OPEN,
  ctCapacity, ctEnsure, ctHandle, ctLiveConns, ctLookup, ctOpen, ctRelease, ctSlot,
  slotFlags, slotQueue, slotSetFlags, slotState,
} from "./conn-table";
import { wbBytes } from "./write-buffer";
import { connWriteFile } from "./file-writes";
import { evCompact, evPending, evPush, evReturn } from "./events";
import { countAccepted, countAdded, countDialed, statsRecord } from "./stats";
import { heapAlloc, heapInUse, heapSetLimit } from "./heap";
import { SPARE_EVENTS, announceReleases, room } from "./room";
import { batchInit, batchReset, resumeReads, setResumeReads } from "./batch";
import { configure, epollFd, setEpollFd } from "./settings";
import {
  closeConn, completeConnect, connEnd, connWrite, fdOf, flush, readLoop, registerConn, settleHangUp, tcpRefused,
} from "./conns";
import { connPause, connResume, park } from "./conn-pause";
import {
  addSocket, closePeer, closeSocket, dgramConnRead, dgramConnWrite, drainSocket, peerEnd, peerSetPaused,
  peerWrite, socketReport,
} from "./datagram";
import { peerCount, peerLookup, peerQueued } from "./udp-peers";
import { sysAccept, sysClose, sysEpollCreate, sysEpollCtl, sysEpollWait } from "./sys";

const MIN_DATA_AREA: u32 = 256 << 10;
const MAX_READ_BUFFER: u32 = 64 << 20;

// ---- state ----
let initialised: bool = false;

let readyBuf: usize = 0;
let readyCount: u32 = 0;
let readyPos: u32 = 0;

// ---- listeners ----

function pauseListener(lfd: i32, err: i32): void {
  const s = ctSlot(lfd);
  sysEpollCtl(epollFd(), EPOLL_CTL_MOD, lfd, 0, ctHandle(lfd));
  slotSetFlags(s, slotFlags(s) | FLAG_PAUSED);
  evPush(EVENT_KIND_LISTENER_PAUSED, 0, err, <u32>lfd, 0, 0);
}

/** Accepts what is pending on listener `lfd`: each connection is served
 *  here (`opened`), or, on an acceptor, handed to the host (`accepted`).
 *  The listener's slot is looked up again after each `ctEnsure`, which
 *  may move the table. */
function acceptLoop(lfd: i32): void {
  const acceptor = (slotFlags(ctSlot(lfd)) & FLAG_ACCEPTOR) != 0;
  for (let k = 0; k < MAX_ACCEPTS_PER_REPORT; k++) {
    // Room for the new connection's `opened` (or `accepted`) and, later, its `closed`.
    if (!room(SPARE_EVENTS + 1)) { pauseListener(lfd, -ENOMEM); return; }
    const nfd = sysAccept(lfd);
    if (nfd < 0) {
      if (nfd == -EAGAIN) return;
      if (nfd == -EINTR || nfd == -ECONNABORTED) continue;
      pauseListener(lfd, nfd); // EMFILE, ENFILE, ENOBUFS, ENOMEM, ...: no spinning
      return;
    }
    if (acceptor) { evPush(EVENT_KIND_ACCEPTED, 0, lfd, <u32>nfd, 0, 0); continue; }
    const e = ctEnsure(nfd);
    if (e < 0) { sysClose(nfd); pauseListener(lfd, e); return; }
    const s = ctSlot(lfd);
    const h = registerConn(nfd, STATE_OPEN, false, 0, (slotFlags(s) & FLAG_NOT_TCP) == 0);
    if (h < 0) { sysClose(nfd); continue; }
    // A listener whose first connection refused TCP_NODELAY is not TCP
    // (a Unix socket): its later connections are not asked again.
    if (tcpRefused) slotSetFlags(s, slotFlags(s) | FLAG_NOT_TCP);
    countAccepted();
    evPush(EVENT_KIND_OPENED, <u32>h, 0, <u32>lfd + 1, 0, 0);
  }
}

/** Registers listener `fd` (with `flags`); 0 or -errno. */
function addListener(fd: i32, flags: u16): i32 {
  if (epollFd() < 0 || fd < 0) return -EBADF;
  const e = ctEnsure(fd);
  if (e < 0) return e;
  if (!room(SPARE_EVENTS + 1)) return -ENOMEM;
  if (slotState(ctSlot(fd)) != STATE_FREE) return -EEXIST;
  const h = ctOpen(fd, STATE_LISTENER);
  const s = ctSlot(fd);
  slotSetFlags(s, flags);
  const r = (flags & FLAG_DATAGRAM) != 0 ? addSocket(fd, s) : sysEpollCtl(epollFd(), EPOLL_CTL_ADD, fd, INTEREST_LISTEN, h);
  if (r < 0) { ctRelease(fd); return r; }
  return 0;
}

/** The slot of listener `fd`, or 0. */
function listenerSlot(fd: i32): usize {
  if (epollFd() < 0 || fd < 0 || fd >= ctCapacity()) return 0;
  const s = ctSlot(fd);
  return slotState(s) == STATE_LISTENER ? s : 0;
}

// ---- the loop ----

/** Processes one ready report. False: the batch is full, resume it later. */
function processReport(token: u32, events: u32): bool {
  const s = ctLookup(token);
  if (s == 0) return true; // stale: closed earlier, maybe fd reused
  const fd = fdOf(token);
  const state = slotState(s);
  if (state == STATE_LISTENER) {
    const f = slotFlags(s);
    if ((f & FLAG_DATAGRAM) != 0) return socketReport(fd, s, events);
    if ((f & FLAG_PAUSED) == 0) acceptLoop(fd);
    return true;
  }
  if (resumeReads() == 0) {
    // Room for an `opened` (connect completed) and a `drained` (flushed).
    if (!room(2)) return false;
    if (state == STATE_CONNECTING) {
      if ((events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) == 0) return true;
      if (!completeConnect(fd, s, token)) return true;
    }
    if ((events & EPOLLOUT) != 0 && !flush(fd, s)) return true;
  }
  const f = slotFlags(s);
  if ((f & FLAG_READ_PAUSED) != 0) {
    if ((events & (EPOLLERR | EPOLLHUP)) == 0) return true;
    // Room for the `parked` event (or the `closed` one if parking fails).
    if (!room(1)) return false;
    park(fd, s, token);
    return true;
  }
  if ((f & FLAG_PEER_ENDED) != 0) {
    if ((events & (EPOLLERR | EPOLLHUP)) != 0) settleHangUp(fd, s);
    return true;
  }
  if ((events & READ_TRIGGER) == 0) return true;
  if ((f & FLAG_DATAGRAM) != 0) return dgramConnRead(fd, token);
  return readLoop(fd, s, token, events);
}

// ---- operations behind the exports ----

export function reactorInit(rbs: u32, maxWb: u32, reads: u32, nd: bool, maxMemory: u32, et: bool): i32 {
  if (initialised) return -EALREADY;
  if (rbs == 0 || rbs > MAX_READ_BUFFER || reads == 0) return -EINVAL;
  heapSetLimit(<u64>maxMemory);
  readyBuf = heapAlloc(<usize>MAX_READY * READY_SIZE);
  if (!batchInit(max(rbs << 2, MIN_DATA_AREA)) || readyBuf == 0 || ctEnsure(0) < 0 || !room(SPARE_EVENTS)) return -ENOMEM;
  const e = sysEpollCreate();
  if (e < 0) return e;
  initialised = true;
  setEpollFd(e);
  configure(rbs, maxWb, reads, nd, et);
  evCompact();
  return e;
}

export function reactorAddListener(fd: i32): i32 { return addListener(fd, 0); }

export function reactorAddAcceptor(fd: i32): i32 { return addListener(fd, FLAG_ACCEPTOR); }

export function reactorResumeListener(fd: i32): i32 {
  const s = listenerSlot(fd);
  if (s == 0 || (slotFlags(s) & FLAG_DATAGRAM) != 0) return -EBADF;
  if ((slotFlags(s) & FLAG_PAUSED) == 0) return 0;
  const r = sysEpollCtl(epollFd(), EPOLL_CTL_MOD, fd, INTEREST_LISTEN, ctHandle(fd));
  if (r < 0) return r;
  slotSetFlags(s, slotFlags(s) & ~FLAG_PAUSED);
  return 0;
}

export function reactorRemoveListener(fd: i32): i32 {
  const s = listenerSlot(fd);
  if (s == 0) return -EBADF;
  if ((slotFlags(s) & FLAG_DATAGRAM) != 0) { drainSocket(fd, s); return 0; }
  ctRelease(fd);
  sysClose(fd);
  return 0;
}

/** Checks that descriptor `fd` can be added as a connection: 0, or -errno (`fd` closed). */
function admit(fd: i32): i32 {
  if (fd < 0) return -EBADF;
  if (epollFd() < 0) { sysClose(fd); return -EBADF; }
  const e = ctEnsure(fd);
  if (e < 0) { sysClose(fd); return e; }
  if (!room(SPARE_EVENTS + 1)) { sysClose(fd); return -ENOMEM; }
  return 0;
}

/** `add-conn`: `origin` is a `conn-origin` (-22, EINVAL, for any other number; `fd` closed). */
export function reactorAddConn(fd: i32, origin: u32): i32 {
  if (origin >= CONN_ORIGIN_COUNT) { if (fd >= 0) sysClose(fd); return -EINVAL; }
  const e = admit(fd);
  if (e < 0) return e;
  const st = slotState(ctSlot(fd));
  if (st == STATE_LISTENER) return -EEXIST; // the reactor's own listener: never close it
  const connecting = origin == <u32>CONN_ORIGIN_DIALING;
  const h = registerConn(fd, connecting ? STATE_CONNECTING : STATE_OPEN, connecting, 0, true);
  if (h < 0) { sysClose(fd); return <i32>h; }
  if (origin == <u32>CONN_ORIGIN_ADDED) countAdded();
  else if (origin == <u32>CONN_ORIGIN_ACCEPTED) countAccepted();
  else countDialed();
  if (!connecting) evPush(EVENT_KIND_OPENED, <u32>h, 0, 0, 0, 0);
  return <i32>h;
}

export function reactorAddDatagram(fd: i32, connected: bool): i32 {
  if (!connected) return addListener(fd, FLAG_DATAGRAM);
  const e = admit(fd);
  if (e < 0) return e;
  if (slotState(ctSlot(fd)) == STATE_LISTENER) return -EEXIST;
  const h = registerConn(fd, STATE_OPEN, false, FLAG_DATAGRAM, false);
  if (h < 0) { sysClose(fd); return <i32>h; }
  countDialed();
  evPush(EVENT_KIND_OPENED, <u32>h, 0, 0, 0, 0);
  return <i32>h;
}

export function reactorRunOnce(timeout: i32): usize {
  evCompact();
  batchReset();
  if (epollFd() < 0) return evReturn();
  if (readyPos >= readyCount) {
    const n = sysEpollWait(epollFd(), readyBuf, MAX_READY, evPending() != 0 ? 0 : timeout);
    // An interrupted wait is an empty one; any other failure is the host's to handle.
    if (n < 0 && n != -EINTR && room(1)) evPush(EVENT_KIND_POLL_FAILED, 0, n, 0, 0, 0);
    readyCount = n < 0 ? 0 : <u32>n;
    readyPos = 0;
    setResumeReads(0);
  }
  const stop = min(readyCount, readyPos + MAX_REPORTS_PER_BATCH);
  while (readyPos < stop) {
    const r = readyBuf + <usize>readyPos * READY_SIZE;
    if (!processReport(load<u32>(r, READY_TOKEN_OFFSET), load<u32>(r, READY_EVENTS_OFFSET))) break;
    readyPos++;
    setResumeReads(0);
  }
  announceReleases();
  return evReturn();
}

export function reactorBacklog(): u32 { return readyCount - readyPos; }

export function reactorTakeEvents(): usize {
  evCompact();
  announceReleases();
  return evReturn();
}

/** The slot of a live connection handle (not a listener), or 0. */
@inline function connSlot(conn: u32): usize {
  const s = ctLookup(conn);
  return s != 0 && slotState(s) != STATE_LISTENER ? s : 0;
}

export function reactorWrite(conn: u32, ptr: usize, len: u32): i32 {
  const s = connSlot(conn);
  if (s == 0) return (conn & PEER_BIT) != 0 ? peerWrite(conn, ptr, len) : -EBADF;
  if ((slotFlags(s) & FLAG_DATAGRAM) != 0) return dgramConnWrite(conn, s, ptr, len);
  return connWrite(conn, s, ptr, len);
}

export function reactorWriteFile(conn: u32, fileFd: i32, offset: u64, len: u32): i32 {
  const s = connSlot(conn);
  if (s == 0) { sysClose(fileFd); return -EBADF; }
  return connWriteFile(conn, s, fileFd, offset, len);
}

export function reactorBufferedAmount(conn: u32): u32 {
  const s = connSlot(conn);
  if (s != 0) return wbBytes(slotQueue(s));
  const p = peerLookup(conn);
  return p != 0 ? peerQueued(p) : 0;
}

export function reactorClose(conn: u32, cause: i32): i32 {
  const s = connSlot(conn);
  if (s != 0) { closeConn(fdOf(conn), cause, FAILED_CALL_NONE); return 0; }
  const p = peerLookup(conn);
  if (p == 0) return -EBADF;
  closePeer(p, cause, FAILED_CALL_NONE);
  return 0;
}

export function reactorEnd(conn: u32): i32 {
  const s = connSlot(conn);
  if (s != 0) { connEnd(conn, s); return 0; }
  const p = peerLookup(conn);
  if (p == 0) return -EBADF;
  peerEnd(p);
  return 0;
}

export function reactorPauseReading(conn: u32): i32 {
  const s = connSlot(conn);
  if (s != 0) return connPause(conn, s);
  const p = peerLookup(conn);
  if (p == 0) return -EBADF;
  peerSetPaused(p, true);
  return 0;
}

export function reactorResumeReading(conn: u32): i32 {
  const s = connSlot(conn);
  if (s != 0) return connResume(conn, s);
  const p = peerLookup(conn);
  if (p == 0) return -EBADF;
  peerSetPaused(p, false);
  return 0;
}

export function reactorShutdown(): void {
  evCompact();
  if (epollFd() < 0) return;
  const cap = ctCapacity();
  for (let fd = 0; fd < cap; fd++) {
    const s = ctSlot(fd);
    const st = slotState(s);
    if (st == STATE_FREE) continue;
    if (st != STATE_LISTENER) closeConn(fd, CLOSE_CAUSE_LOCAL, FAILED_CALL_NONE);
    else if ((slotFlags(s) & FLAG_DATAGRAM) != 0) closeSocket(fd);
    else { ctRelease(fd); sysClose(fd); }
  }
  sysClose(epollFd());
  setEpollFd(-1);
  readyCount = 0;
  readyPos = 0;
  setResumeReads(0);
}

export function reactorConnCount(): u32 { return <u32>ctLiveConns() + peerCount(); }

export function reactorMemoryInUse(): u32 { return <u32>heapInUse(); }

export function reactorStats(): usize {
  return statsRecord(reactorConnCount(), <u64>memory.size() << 16, <u64>heapInUse());
}
