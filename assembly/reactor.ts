/**
 * The reactor: nbio's level-triggered worker loop, over the `sys` imports.
 *
 * Memory owned here (all allocated once by `reactorInit`):
 *
 *   readyBuf   MAX_READY x sys.ready                 epoll-wait lands here
 *   dataArea   max(4 x readBufferSize, 256 KiB)      read() lands here
 *   IOV        MAX_IOV x list<u8> {ptr, len}         writev scratch (static)
 *
 * Batch and backlog. `run-once` starts a batch: the previous list is
 * forgotten (events.ts compacts), the data area is reset. Reports are
 * processed from readyBuf[readyPos]. Every read lands at
 * dataArea + dataUsed and becomes a `data` event pointing there. Before a
 * read, if less than readBufferSize bytes of the data area remain, the
 * batch stops: readyPos stays on the current report and `resumeReads`
 * keeps how many reads it already had (its connect / flush steps are not
 * repeated). `backlog()` = readyCount - readyPos; while it is > 0,
 * `run-once` processes the backlog and does not call epoll-wait.
 *
 *   dataArea: [ data ev 1 | data ev 2 | ... | dataUsed -> free ... ] dataCap
 *
 * Per ready report, in order: connect completion; OUT -> flush;
 * IN/PRI/ERR/HUP/RDHUP -> read loop. Hang-ups close a connection only via
 * the read loop (EOF or an error), so no tail data is lost.
 *
 * Paused reading (`pause-reading`): the connection's interest drops IN and
 * RDHUP (OUT stays while bytes are queued), so nothing is read. ERR and HUP
 * are reported whatever the interest and, level-triggered, would come back
 * at every poll: a paused connection that reports one is "parked", taken
 * out of the epoll set, and put back by `resume-reading`, whose level-
 * triggered registration then reports the bytes still unread and the
 * hang-up, in that order, through the read loop.
 *
 * Memory (heap.ts) can run out: the reactor then fails what needed it (a
 * write closes its connection with the overflow cause, an accept pauses
 * its listener with ENOMEM) and never traps. Events that must not be lost
 * have room kept for them in the event array (`room`): a `closed` for
 * every live connection and a `listener-paused` for every listener, plus
 * two spare records; a batch that finds no room for an `opened`, `data`
 * or `drained` stops early and resumes at the next `run-once`.
 */
import {
  EAGAIN, EALREADY, EBADF, ECONNABORTED, EEXIST, EINTR, EINVAL, EMFILE, ENOBUFS, ENOMEM,
  EPOLLERR, EPOLLHUP, EPOLLOUT, EPOLL_CTL_ADD, EPOLL_CTL_DEL, EPOLL_CTL_MOD,
  INTEREST_LISTEN, INTEREST_READ, INTEREST_READ_WRITE,
  MAX_ACCEPTS_PER_REPORT, MAX_IOV, MAX_READY, READ_TRIGGER,
} from "./constants";
import {
  CLOSE_CAUSE_LOCAL, CLOSE_CAUSE_PEER_ENDED, CLOSE_CAUSE_WRITE_OVERFLOW,
  EVENT_KIND_CLOSED, EVENT_KIND_DATA, EVENT_KIND_DRAINED, EVENT_KIND_LISTENER_PAUSED, EVENT_KIND_OPENED,
  EVENT_KIND_POLL_FAILED, EVENT_KIND_RELEASED,
  FAILED_CALL_CONNECT, FAILED_CALL_EPOLL_CTL, FAILED_CALL_NONE, FAILED_CALL_READ, FAILED_CALL_WRITE,
  FD_MASK, LIST_LEN_OFFSET, LIST_SIZE, READY_EVENTS_OFFSET, READY_SIZE, READY_TOKEN_OFFSET,
} from "./generated/abi";
import {
  FLAG_ENDING, FLAG_OUT, FLAG_PARKED, FLAG_PAUSED, FLAG_READ_PAUSED, STATE_CONNECTING, STATE_FREE, STATE_LISTENER, STATE_OPEN,
  ctCapacity, ctEnsure, ctHandle, ctListeners, ctLiveConns, ctLookup, ctOpen, ctRelease, ctSlot,
  slotFlags, slotQueue, slotSetFlags, slotSetState, slotState,
} from "./conn-table";
import {
  chunkLen, chunkPtr, wbAppend, wbAppendAdopted, wbBytes, wbGather, wbHead, wbIsEmpty,
  wbConsume,
} from "./write-buffer";
import { evCompact, evEnsure, evPending, evPush, evReturn, evRoom } from "./events";
import { adoptLarge } from "./abi";
import {
  heapAlloc, heapInUse, heapNextRelease, heapReleaseFrom, heapReleaseLength, heapSetLimit, heapUsable,
} from "./heap";
import {
  countAccepted, countAdded, countClosed, countRead, countWritten, statsRecord,
} from "./stats";
import {
  sysAccept, sysClose, sysCloseGraceful, sysEpollCreate, sysEpollCtl, sysEpollWait, sysRead,
  sysSetNoDelay, sysSocketError, sysWrite, sysWritev,
} from "./sys";

const MIN_DATA_AREA: u32 = 256 << 10;
const MAX_READ_BUFFER: u32 = 64 << 20;
/** Event records kept free beyond the ones reserved for closes and pauses. */
const SPARE_EVENTS: u32 = 2;

const IOV: usize = memory.data(<i32>(<usize>MAX_IOV * LIST_SIZE), 4);

// ---- configuration and state ----
let epfd: i32 = -1;
let initialised: bool = false;
let readBufferSize: u32 = 0;
let maxWriteBufferSize: u32 = 0;
let maxReads: u32 = 1;
let noDelay: bool = false;

let readyBuf: usize = 0;
let readyCount: u32 = 0;
let readyPos: u32 = 0;
let resumeReads: u32 = 0;

let dataArea: usize = 0;
let dataCap: u32 = 0;
let dataUsed: u32 = 0;

// ---- helpers ----

@inline function fdOf(handle: u32): i32 { return <i32>(handle & FD_MASK); }

/** Event records that must stay free: a `closed` per live connection, a
 *  `listener-paused` per listener. */
@inline function reserved(): u32 { return <u32>ctLiveConns() + <u32>ctListeners(); }

/** Makes sure `extra` events fit beside the reserved ones (growing the
 *  array if needed). False when the memory for that cannot be had. */
function room(extra: u32): bool { return evEnsure(reserved() + extra); }

/** Reports the runs the heap holds for the host to discard (`released`
 *  events), as many as fit beside the reserved records. */
function announceReleases(): void {
  while (evRoom() > reserved() + SPARE_EVENTS) {
    const run = heapNextRelease();
    if (run == 0) return;
    evPush(EVENT_KIND_RELEASED, <u32>heapReleaseFrom(run), 0, <u32>heapReleaseLength(run), 0, 0);
  }
}

/** Closes the connection on `fd` exactly once: frees its queue, bumps the
 *  generation, closes the descriptor, reports `closed`. A close by this
 *  side or after the peer's end lets bytes already taken by the system
 *  still reach the peer; the others (errors, overflow, host causes) are
 *  abortive. */
function closeConn(fd: i32, status: i32, detail: u32): void {
  const s = ctSlot(fd);
  const st = slotState(s);
  if (st == STATE_FREE || st == STATE_LISTENER) return;
  const h = ctHandle(fd);
  ctRelease(fd);
  if (status == CLOSE_CAUSE_LOCAL || status == CLOSE_CAUSE_PEER_ENDED) sysCloseGraceful(fd);
  else sysClose(fd);
  evPush(EVENT_KIND_CLOSED, h, status, detail, 0, 0);
  countClosed(status);
}

/** The epoll interest a connection's flags call for. */
function interestOf(s: usize): u32 {
  const f = slotFlags(s);
  return ((f & FLAG_READ_PAUSED) != 0 ? 0 : INTEREST_READ) | ((f & FLAG_OUT) != 0 ? EPOLLOUT : 0);
}

/** Sets `flags` on the slot and registers the interest they call for
 *  (nothing while parked: `resume-reading` registers it). Closes the
 *  connection and returns -errno if epoll-ctl fails. */
function setConnFlags(fd: i32, s: usize, flags: u8): i32 {
  slotSetFlags(s, flags);
  if ((flags & FLAG_PARKED) != 0) return 0;
  const r = sysEpollCtl(epfd, EPOLL_CTL_MOD, fd, interestOf(s), ctHandle(fd));
  if (r < 0) closeConn(fd, r, FAILED_CALL_EPOLL_CTL);
  return r;
}

/** Disarms EPOLLOUT once the queue is empty. False if the conn closed. */
function disarmOut(fd: i32, s: usize): bool {
  if ((slotFlags(s) & FLAG_OUT) == 0) return true;
  return setConnFlags(fd, s, slotFlags(s) & ~FLAG_OUT) >= 0;
}

/** A paused connection reported ERR or HUP: leaves the epoll set until resumed. */
function park(fd: i32, s: usize): void {
  const r = sysEpollCtl(epfd, EPOLL_CTL_DEL, fd, 0, 0);
  if (r < 0) { closeConn(fd, r, FAILED_CALL_EPOLL_CTL); return; }
  slotSetFlags(s, slotFlags(s) | FLAG_PARKED);
}

/** Writes queued bytes until the queue is empty or the kernel is full.
 *  Once it is empty: an ending connection is closed, any other reports
 *  `drained`. Returns false if the connection was closed. */
function flush(fd: i32, s: usize): bool {
  const q = slotQueue(s);
  if (wbIsEmpty(q)) return disarmOut(fd, s); // a spurious or connect-time OUT
  while (!wbIsEmpty(q)) {
    const cnt = wbGather(q, IOV, MAX_IOV);
    let total: u32 = 0;
    for (let i = 0; i < cnt; i++) total += load<u32>(IOV + <usize>i * LIST_SIZE, LIST_LEN_OFFSET);
    let n: i32;
    if (cnt == 1) {
      const c = wbHead(q);
      n = sysWrite(fd, chunkPtr(c), chunkLen(c));
    } else {
      n = sysWritev(fd, IOV, <u32>cnt);
    }
    if (n < 0) {
      if (n == -EAGAIN) return true;
      closeConn(fd, n, FAILED_CALL_WRITE);
      return false;
    }
    countWritten(<u32>n);
    wbConsume(q, <u32>n);
    if (<u32>n < total) return true; // kernel is full; OUT stays armed
  }
  if ((slotFlags(s) & FLAG_ENDING) != 0) {
    closeConn(fd, CLOSE_CAUSE_LOCAL, FAILED_CALL_NONE);
    return false;
  }
  if (!disarmOut(fd, s)) return false;
  evPush(EVENT_KIND_DRAINED, ctHandle(fd), 0, 0, 0, 0);
  return true;
}

function pauseListener(lfd: i32, err: i32): void {
  const s = ctSlot(lfd);
  sysEpollCtl(epfd, EPOLL_CTL_MOD, lfd, 0, ctHandle(lfd));
  slotSetFlags(s, slotFlags(s) | FLAG_PAUSED);
  evPush(EVENT_KIND_LISTENER_PAUSED, 0, err, <u32>lfd, 0, 0);
}

/** Registers a freshly accepted or added descriptor. Returns its handle,
 *  or -errno (the slot is then free again; the fd is not closed here). */
function registerConn(fd: i32, state: u8, interest: u32): i64 {
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
  const r = sysEpollCtl(epfd, EPOLL_CTL_ADD, fd, interest, h);
  if (r < 0) { ctRelease(fd); return r; }
  if (interest & EPOLLOUT) slotSetFlags(ctSlot(fd), FLAG_OUT);
  if (noDelay) sysSetNoDelay(fd, true);
  return <i64>h;
}

function acceptLoop(lfd: i32): void {
  for (let k = 0; k < MAX_ACCEPTS_PER_REPORT; k++) {
    // Room for the new connection's `opened` and, later, its `closed`.
    if (!room(SPARE_EVENTS + 1)) { pauseListener(lfd, -ENOMEM); return; }
    const nfd = sysAccept(lfd);
    if (nfd < 0) {
      if (nfd == -EAGAIN) return;
      if (nfd == -EINTR || nfd == -ECONNABORTED) continue;
      pauseListener(lfd, nfd); // EMFILE, ENFILE, ENOBUFS, ENOMEM, ...: no spinning
      return;
    }
    const e = ctEnsure(nfd);
    if (e < 0) { sysClose(nfd); pauseListener(lfd, e); return; }
    const h = registerConn(nfd, STATE_OPEN, INTEREST_READ);
    if (h < 0) { sysClose(nfd); continue; }
    countAccepted();
    evPush(EVENT_KIND_OPENED, <u32>h, 0, <u32>lfd + 1, 0, 0);
  }
}

/** A connecting socket became writable or failed. False if it closed. */
function completeConnect(fd: i32, s: usize, h: u32): bool {
  const err = sysSocketError(fd);
  if (err < 0) { closeConn(fd, err, FAILED_CALL_CONNECT); return false; }
  slotSetState(s, STATE_OPEN);
  if (wbIsEmpty(slotQueue(s)) && !disarmOut(fd, s)) return false;
  evPush(EVENT_KIND_OPENED, h, 0, 0, 0, 0);
  return true;
}

/** Reads up to maxReads times. False when the batch data area is full
 *  (the report must be resumed by the next run-once). */
function readLoop(fd: i32, h: u32, events: u32): bool {
  const rbs = readBufferSize;
  let got = false;
  for (let i = resumeReads; i < maxReads; i++) {
    if (dataCap - dataUsed < rbs || !room(1)) { resumeReads = i; return false; }
    const dest = dataArea + <usize>dataUsed;
    const n = sysRead(fd, dest, rbs);
    if (n > 0) {
      countRead(<u32>n);
      evPush(EVENT_KIND_DATA, h, 0, 0, dest, <u32>n);
      dataUsed += <u32>n;
      got = true;
      if (<u32>n < rbs) return true; // drained
      continue;
    }
    if (n == 0) { closeConn(fd, CLOSE_CAUSE_PEER_ENDED, FAILED_CALL_NONE); return true; }
    if (n == -EAGAIN) {
      // A hang-up or error report with nothing to read would fire forever
      // (level-triggered): settle it from the pending socket error.
      if (!got && (events & (EPOLLERR | EPOLLHUP)) != 0 && i == resumeReads) {
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

/** Processes one ready report. False: the batch is full, resume it later. */
function processReport(token: u32, events: u32): bool {
  const s = ctLookup(token);
  if (s == 0) return true; // stale: closed earlier, maybe fd reused
  const fd = fdOf(token);
  const state = slotState(s);
  if (state == STATE_LISTENER) {
    if ((slotFlags(s) & FLAG_PAUSED) == 0) acceptLoop(fd);
    return true;
  }
  if (resumeReads == 0) {
    // Room for an `opened` (connect completed) and a `drained` (flushed).
    if (!room(2)) return false;
    if (state == STATE_CONNECTING) {
      if ((events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) == 0) return true;
      if (!completeConnect(fd, s, token)) return true;
    }
    if ((events & EPOLLOUT) != 0 && !flush(fd, s)) return true;
  }
  if ((slotFlags(s) & FLAG_READ_PAUSED) != 0) {
    if ((events & (EPOLLERR | EPOLLHUP)) != 0) park(fd, s);
    return true;
  }
  if ((events & READ_TRIGGER) != 0) return readLoop(fd, token, events);
  return true;
}

// ---- operations behind the exports ----

export function reactorInit(rbs: u32, maxWb: u32, reads: u32, nd: bool, maxMemory: u32): i32 {
  if (initialised) return -EALREADY;
  if (rbs == 0 || rbs > MAX_READ_BUFFER || reads == 0) return -EINVAL;
  heapSetLimit(<u64>maxMemory);
  dataCap = max(rbs << 2, MIN_DATA_AREA);
  dataArea = heapAlloc(<usize>dataCap);
  readyBuf = heapAlloc(<usize>MAX_READY * READY_SIZE);
  if (dataArea == 0 || readyBuf == 0 || ctEnsure(0) < 0 || !room(SPARE_EVENTS)) return -ENOMEM;
  const e = sysEpollCreate();
  if (e < 0) return e;
  initialised = true;
  epfd = e;
  readBufferSize = rbs;
  maxWriteBufferSize = maxWb;
  maxReads = reads;
  noDelay = nd;
  evCompact();
  return e;
}

export function reactorAddListener(fd: i32): i32 {
  if (epfd < 0) return -EBADF;
  if (fd < 0) return -EBADF;
  const e = ctEnsure(fd);
  if (e < 0) return e;
  if (!room(SPARE_EVENTS + 1)) return -ENOMEM;
  if (slotState(ctSlot(fd)) != STATE_FREE) return -EEXIST;
  const h = ctOpen(fd, STATE_LISTENER);
  const r = sysEpollCtl(epfd, EPOLL_CTL_ADD, fd, INTEREST_LISTEN, h);
  if (r < 0) { ctRelease(fd); return r; }
  return 0;
}

export function reactorResumeListener(fd: i32): i32 {
  if (epfd < 0 || fd < 0 || fd >= ctCapacity()) return -EBADF;
  const s = ctSlot(fd);
  if (slotState(s) != STATE_LISTENER) return -EBADF;
  if ((slotFlags(s) & FLAG_PAUSED) == 0) return 0;
  const r = sysEpollCtl(epfd, EPOLL_CTL_MOD, fd, INTEREST_LISTEN, ctHandle(fd));
  if (r < 0) return r;
  slotSetFlags(s, slotFlags(s) & ~FLAG_PAUSED);
  return 0;
}

export function reactorAddConn(fd: i32, connecting: bool): i32 {
  if (fd < 0) return -EBADF;
  if (epfd < 0) { sysClose(fd); return -EBADF; }
  const e = ctEnsure(fd);
  if (e < 0) { sysClose(fd); return e; }
  if (!room(SPARE_EVENTS + 1)) { sysClose(fd); return -ENOMEM; }
  const st = slotState(ctSlot(fd));
  if (st == STATE_LISTENER) return -EEXIST; // the reactor's own listener: never close it
  const h = registerConn(fd, connecting ? STATE_CONNECTING : STATE_OPEN,
    connecting ? INTEREST_READ_WRITE : INTEREST_READ);
  if (h < 0) { sysClose(fd); return <i32>h; }
  countAdded(connecting);
  if (!connecting) evPush(EVENT_KIND_OPENED, <u32>h, 0, 0, 0, 0);
  return <i32>h;
}

export function reactorRunOnce(timeout: i32): usize {
  evCompact();
  dataUsed = 0;
  if (epfd < 0) return evReturn();
  if (readyPos >= readyCount) {
    const n = sysEpollWait(epfd, readyBuf, MAX_READY, evPending() != 0 ? 0 : timeout);
    // An interrupted wait is an empty one; any other failure is the host's to handle.
    if (n < 0 && n != -EINTR && room(1)) evPush(EVENT_KIND_POLL_FAILED, 0, n, 0, 0, 0);
    readyCount = n < 0 ? 0 : <u32>n;
    readyPos = 0;
    resumeReads = 0;
  }
  while (readyPos < readyCount) {
    const r = readyBuf + <usize>readyPos * READY_SIZE;
    if (!processReport(load<u32>(r, READY_TOKEN_OFFSET), load<u32>(r, READY_EVENTS_OFFSET))) break;
    readyPos++;
    resumeReads = 0;
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

export function reactorWrite(conn: u32, ptr: usize, len: u32): i32 {
  const s = ctLookup(conn);
  if (s == 0 || slotState(s) == STATE_LISTENER || (slotFlags(s) & FLAG_ENDING) != 0) return -EBADF;
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
  if (maxWriteBufferSize != 0 && <u64>wbBytes(q) + <u64>rest > <u64>maxWriteBufferSize) {
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
  if ((slotFlags(s) & FLAG_OUT) == 0) {
    const r = setConnFlags(fd, s, slotFlags(s) | FLAG_OUT);
    if (r < 0) return r;
  }
  return <i32>len;
}

export function reactorBufferedAmount(conn: u32): u32 {
  const s = ctLookup(conn);
  if (s == 0 || slotState(s) == STATE_LISTENER) return 0;
  return wbBytes(slotQueue(s));
}

export function reactorClose(conn: u32, cause: i32): i32 {
  const s = ctLookup(conn);
  if (s == 0 || slotState(s) == STATE_LISTENER) return -EBADF;
  closeConn(fdOf(conn), cause, FAILED_CALL_NONE);
  return 0;
}

export function reactorPauseReading(conn: u32): i32 {
  const s = ctLookup(conn);
  if (s == 0 || slotState(s) == STATE_LISTENER) return -EBADF;
  const f = slotFlags(s);
  if ((f & FLAG_READ_PAUSED) != 0) return 0;
  const r = setConnFlags(fdOf(conn), s, f | FLAG_READ_PAUSED);
  return r < 0 ? r : 0;
}

export function reactorResumeReading(conn: u32): i32 {
  const s = ctLookup(conn);
  if (s == 0 || slotState(s) == STATE_LISTENER) return -EBADF;
  const f = slotFlags(s);
  if ((f & FLAG_READ_PAUSED) == 0) return 0;
  const fd = fdOf(conn);
  if ((f & FLAG_PARKED) == 0) {
    const r = setConnFlags(fd, s, f & ~FLAG_READ_PAUSED);
    return r < 0 ? r : 0;
  }
  slotSetFlags(s, f & ~(FLAG_READ_PAUSED | FLAG_PARKED));
  const r = sysEpollCtl(epfd, EPOLL_CTL_ADD, fd, interestOf(s), conn);
  if (r < 0) { closeConn(fd, r, FAILED_CALL_EPOLL_CTL); return r; }
  return 0;
}

export function reactorEnd(conn: u32): i32 {
  const s = ctLookup(conn);
  if (s == 0 || slotState(s) == STATE_LISTENER) return -EBADF;
  if (wbIsEmpty(slotQueue(s))) {
    closeConn(fdOf(conn), CLOSE_CAUSE_LOCAL, FAILED_CALL_NONE);
  } else {
    slotSetFlags(s, slotFlags(s) | FLAG_ENDING);
  }
  return 0;
}

export function reactorShutdown(): void {
  evCompact();
  if (epfd < 0) return;
  const cap = ctCapacity();
  for (let fd = 0; fd < cap; fd++) {
    const st = slotState(ctSlot(fd));
    if (st == STATE_FREE) continue;
    if (st == STATE_LISTENER) { ctRelease(fd); sysClose(fd); }
    else closeConn(fd, CLOSE_CAUSE_LOCAL, FAILED_CALL_NONE);
  }
  sysClose(epfd);
  epfd = -1;
  readyCount = 0;
  readyPos = 0;
  resumeReads = 0;
}

export function reactorConnCount(): u32 { return <u32>ctLiveConns(); }

export function reactorMemoryInUse(): u32 { return <u32>heapInUse(); }

export function reactorStats(): usize {
  return statsRecord(<u32>ctLiveConns(), <u64>memory.size() << 16, <u64>heapInUse());
}
