/**
 * UDP sockets, one datagram per read and per write, of two kinds:
 *
 *  - A socket serving peers (`add-datagram`, not connected): a LISTENER
 *    slot with FLAG_DATAGRAM. Each datagram is received with its source
 *    address (sys `recv-from`), which names a peer (udp-peers.ts): a
 *    virtual connection made, with an `opened` event carrying the address
 *    as its data, when the address's first datagram arrives. Peers write
 *    with `send-to`. A datagram the kernel cannot take now waits in the
 *    socket's write queue as one record, [u32 peer handle][payload], and
 *    is sent, in order, when the socket is writable again; each peer
 *    counts its own queued bytes (its `buffered-amount`, `drained` and
 *    `max-write-buffer-size`).
 *  - A connected socket (`add-datagram` connected): a connection slot
 *    (OPEN) with FLAG_DATAGRAM, driven like a stream (conns.ts), except
 *    that it reads here and each queued write is a record of its own.
 *
 * A datagram larger than `read-buffer-size` is cut to it and the `data`
 * event's status is its full size (0 when it fits). An empty datagram is an
 * empty `data` event, not an end of stream. A datagram larger than UDP
 * allows is refused with -EMSGSIZE and the connection stays open.
 */
import { EAGAIN, EBADF, EINTR, EMSGSIZE, ENOBUFS, EPOLLERR, EPOLLIN, EPOLLOUT, EPOLL_CTL_ADD, EPOLL_CTL_MOD } from "./constants";
import {
  CLOSE_CAUSE_LOCAL, CLOSE_CAUSE_WRITE_OVERFLOW, EVENT_KIND_CLOSED, EVENT_KIND_DATA, EVENT_KIND_DRAINED,
  EVENT_KIND_OPENED, FAILED_CALL_NONE, FAILED_CALL_RECV_FROM, FAILED_CALL_SEND_TO,
} from "./generated/abi";
import {
  FLAG_DRAINING, FLAG_ENDING, FLAG_OUT, ctHandle, ctRelease, ctSlot, slotFlags, slotQueue, slotSetFlags,
  slotState, STATE_FREE, STATE_OPEN,
} from "./conn-table";
import { chunkLen, chunkPtr, wbAppendRecord, wbBytes, wbConsume, wbHead, wbIsEmpty } from "./write-buffer";
import { evPush } from "./events";
import { countAccepted, countClosed, countRead, countWritten } from "./stats";
import { batchCommit, batchFree, batchNext, resumeReads, setResumeReads } from "./batch";
import { edgeTriggered, epollFd, maxWriteBufferSize, readBufferSize, readLimit, triggerBits } from "./settings";
import { sysClose, sysEpollCtl, sysRecvFrom, sysSendTo, sysWrite } from "./sys";
import { armOut, closeConn, fdOf } from "./conns";
import { room } from "./room";
import {
  MAX_ADDRESS, PEER_ENDING, PEER_PAUSED, peerAddress, peerAddressLength, peerAt, peerFind, peerFlags,
  peerHandle, peerLookup, peerOpen, peerQueued, peerRelease, peerSetFlags, peerSetQueued, peerSlots, peerSocket,
} from "./udp-peers";

/** The largest UDP payloads: over IPv4 and over IPv6 (without jumbograms). */
const MAX_DATAGRAM_V4: u32 = 65507;
const MAX_DATAGRAM_V6: u32 = 65527;
/** Linux address families (the first u16 of a socket address). */
const AF_INET6: u16 = 10;
/** Failed receives tolerated in one report before waiting for the next. */
const MAX_RECV_ERRORS: u32 = 8;

/** Where `recv-from` puts the source: {u32 length, MAX_ADDRESS bytes}. */
const SOURCE: usize = memory.data(<i32>(4 + MAX_ADDRESS), 4);

/** The largest datagram for a destination address (0: the connected peer). */
function maxDatagram(addr: usize, len: u32): u32 {
  return len != 0 && load<u16>(addr) != AF_INET6 ? MAX_DATAGRAM_V4 : MAX_DATAGRAM_V6;
}

/** The interest of a socket serving peers. */
@inline function socketInterest(s: usize): u32 {
  return EPOLLIN | ((slotFlags(s) & FLAG_OUT) != 0 ? EPOLLOUT : 0) | triggerBits();
}

function setSocketFlags(fd: i32, s: usize, flags: u16): void {
  slotSetFlags(s, flags);
  sysEpollCtl(epollFd(), EPOLL_CTL_MOD, fd, socketInterest(s), ctHandle(fd));
}

/** Closes a peer: its datagrams still queued are dropped (skipped when
 *  their turn comes). A draining socket closes with its last peer. */
export function closePeer(p: usize, status: i32, detail: u32): void {
  const h = peerHandle(p);
  const fd = peerSocket(p);
  peerRelease(p);
  evPush(EVENT_KIND_CLOSED, h, status, detail, 0, 0);
  countClosed(status);
  const s = ctSlot(fd);
  if ((slotFlags(s) & FLAG_DRAINING) != 0 && !hasPeers(fd)) closeSocket(fd);
}

function hasPeers(fd: i32): bool {
  const n = peerSlots();
  for (let i: u32 = 0; i < n; i++) {
    const p = peerAt(i);
    if (p != 0 && peerSocket(p) == fd) return true;
  }
  return false;
}

/** Closes a socket serving peers, and every peer of it first (cause 0). */
export function closeSocket(fd: i32): void {
  const n = peerSlots();
  for (let i: u32 = 0; i < n; i++) {
    const p = peerAt(i);
    if (p == 0 || peerSocket(p) != fd) continue;
    const h = peerHandle(p);
    peerRelease(p);
    evPush(EVENT_KIND_CLOSED, h, CLOSE_CAUSE_LOCAL, FAILED_CALL_NONE, 0, 0);
    countClosed(CLOSE_CAUSE_LOCAL);
  }
  ctRelease(fd);
  sysClose(fd);
}

/** `remove-listener` of a socket serving peers: it makes no new peers and
 *  closes once its last peer closed (at once when it has none). */
export function drainSocket(fd: i32, s: usize): void {
  if (!hasPeers(fd)) { closeSocket(fd); return; }
  slotSetFlags(s, slotFlags(s) | FLAG_DRAINING);
}

/** Sends the socket's queued datagrams, in order, until the kernel is full. */
function flushSocket(fd: i32, s: usize): void {
  const q = slotQueue(s);
  // Each datagram sent may empty its peer's share (`drained`).
  while (!wbIsEmpty(q) && room(1)) {
    const c = wbHead(q);
    const rec = chunkPtr(c);
    const len = chunkLen(c) - 4;
    const p = peerLookup(load<u32>(rec));
    if (p == 0) { wbConsume(q, len + 4); continue; } // its peer closed meanwhile
    const n = sysSendTo(fd, rec + 4, len, peerAddress(p), peerAddressLength(p));
    if (n == -EAGAIN || n == -ENOBUFS) return; // OUT stays armed
    wbConsume(q, len + 4);
    peerSetQueued(p, peerQueued(p) - len);
    if (n >= 0) countWritten(<u32>n);
    if (n < 0) closePeer(p, n, FAILED_CALL_SEND_TO);
    else if (peerQueued(p) == 0) {
      if ((peerFlags(p) & PEER_ENDING) != 0) closePeer(p, CLOSE_CAUSE_LOCAL, FAILED_CALL_NONE);
      else evPush(EVENT_KIND_DRAINED, peerHandle(p), 0, 0, 0, 0);
    }
  }
  if (slotState(s) != STATE_FREE && wbIsEmpty(q) && !edgeTriggered()) setSocketFlags(fd, s, slotFlags(s) & ~FLAG_OUT);
}

/** A readiness report of a socket serving peers: flushes, then receives.
 *  False when the batch data area is full (resume it later). */
export function socketReport(fd: i32, s: usize, events: u32): bool {
  if (resumeReads() == 0 && (events & EPOLLOUT) != 0 && (slotFlags(s) & FLAG_OUT) != 0) {
    flushSocket(fd, s);
    if (slotState(s) == STATE_FREE) return true; // closed with its last peer
  }
  if ((events & (EPOLLIN | EPOLLERR)) == 0) return true;
  const rbs = readBufferSize();
  const limit = readLimit();
  let errors: u32 = 0;
  for (let i = resumeReads(); i < limit; i++) {
    // Room for a new peer's `opened` and its datagram's `data`.
    if (batchFree() < rbs + MAX_ADDRESS || !room(2)) { setResumeReads(i); return false; }
    const dest = batchNext();
    const size = sysRecvFrom(fd, dest, rbs, SOURCE + 4, SOURCE);
    if (size < 0) {
      if (size == -EAGAIN) return true;
      // An unconnected socket's errors (ICMP reports) concern no peer.
      if (size != -EINTR && ++errors > MAX_RECV_ERRORS) return true;
      continue;
    }
    const addrLen = load<u32>(SOURCE);
    let p = peerFind(fd, SOURCE + 4, addrLen);
    if (p == 0) {
      if ((slotFlags(s) & FLAG_DRAINING) != 0) continue; // no new peers
      p = peerOpen(fd, SOURCE + 4, addrLen);
      if (p == 0) continue; // the peer table is full: dropped
      const got = min(<u32>size, rbs);
      batchCommit(got);
      const a = batchNext();
      memory.copy(a, SOURCE + 4, <usize>addrLen);
      batchCommit(addrLen);
      evPush(EVENT_KIND_OPENED, peerHandle(p), 0, <u32>fd + 1, a, addrLen);
      countAccepted();
      countRead(got);
      evPush(EVENT_KIND_DATA, peerHandle(p), <u32>size > rbs ? size : 0, 0, dest, got);
      continue;
    }
    if ((peerFlags(p) & PEER_PAUSED) != 0) continue; // no flow control in UDP: dropped
    const got = min(<u32>size, rbs);
    batchCommit(got);
    countRead(got);
    evPush(EVENT_KIND_DATA, peerHandle(p), <u32>size > rbs ? size : 0, 0, dest, got);
  }
  return true;
}

/** Reads datagrams of a connected socket. False when the batch data area
 *  is full (resume it later). */
export function dgramConnRead(fd: i32, h: u32): bool {
  const rbs = readBufferSize();
  const limit = readLimit();
  for (let i = resumeReads(); i < limit; i++) {
    if (batchFree() < rbs || !room(1)) { setResumeReads(i); return false; }
    const dest = batchNext();
    const size = sysRecvFrom(fd, dest, rbs, SOURCE + 4, SOURCE);
    if (size < 0) {
      if (size == -EAGAIN) return true;
      if (size == -EINTR) continue;
      closeConn(fd, size, FAILED_CALL_RECV_FROM); // ECONNREFUSED: the peer's port is closed
      return true;
    }
    const got = min(<u32>size, rbs);
    batchCommit(got);
    countRead(got);
    evPush(EVENT_KIND_DATA, h, <u32>size > rbs ? size : 0, 0, dest, got);
  }
  return true;
}

/** `write` to a connected UDP socket: one datagram. */
export function dgramConnWrite(conn: u32, s: usize, ptr: usize, len: u32): i32 {
  if ((slotFlags(s) & FLAG_ENDING) != 0) return -EBADF;
  if (len > MAX_DATAGRAM_V6) return -EMSGSIZE;
  const fd = fdOf(conn);
  const q = slotQueue(s);
  if (slotState(s) == STATE_OPEN && wbIsEmpty(q)) {
    const n = sysWrite(fd, ptr, len);
    if (n >= 0) { countWritten(<u32>n); return <i32>len; }
    if (n == -EMSGSIZE) return n;
    if (n != -EAGAIN && n != -ENOBUFS) { closeConn(fd, n, FAILED_CALL_SEND_TO); return n; }
  }
  const limit = maxWriteBufferSize();
  if (limit != 0 && <u64>wbBytes(q) + <u64>len > <u64>limit) {
    closeConn(fd, CLOSE_CAUSE_WRITE_OVERFLOW, FAILED_CALL_NONE);
    return -ENOBUFS;
  }
  if (!wbAppendRecord(q, ptr, len, 0, false)) {
    closeConn(fd, CLOSE_CAUSE_WRITE_OVERFLOW, FAILED_CALL_NONE); // the memory to queue it cannot be had
    return -ENOBUFS;
  }
  return armOut(fd, s, len);
}

/** `write` to a peer: one datagram to its address. */
export function peerWrite(handle: u32, ptr: usize, len: u32): i32 {
  const p = peerLookup(handle);
  if (p == 0 || (peerFlags(p) & PEER_ENDING) != 0) return -EBADF;
  const addr = peerAddress(p);
  const addrLen = peerAddressLength(p);
  if (len > maxDatagram(addr, addrLen)) return -EMSGSIZE;
  const fd = peerSocket(p);
  const s = ctSlot(fd);
  const q = slotQueue(s);
  if (wbIsEmpty(q)) {
    const n = sysSendTo(fd, ptr, len, addr, addrLen);
    if (n >= 0) { countWritten(<u32>n); return <i32>len; }
    if (n == -EMSGSIZE) return n;
    if (n != -EAGAIN && n != -ENOBUFS) { closePeer(p, n, FAILED_CALL_SEND_TO); return n; }
  }
  const limit = maxWriteBufferSize();
  if (limit != 0 && <u64>peerQueued(p) + <u64>len > <u64>limit) {
    closePeer(p, CLOSE_CAUSE_WRITE_OVERFLOW, FAILED_CALL_NONE);
    return -ENOBUFS;
  }
  if (!wbAppendRecord(q, ptr, len, handle, true)) {
    closePeer(p, CLOSE_CAUSE_WRITE_OVERFLOW, FAILED_CALL_NONE); // the memory to queue it cannot be had
    return -ENOBUFS;
  }
  peerSetQueued(p, peerQueued(p) + len);
  if ((slotFlags(s) & FLAG_OUT) == 0) setSocketFlags(fd, s, slotFlags(s) | FLAG_OUT);
  return <i32>len;
}

/** `end` of a peer: closes once its queued datagrams are sent. */
export function peerEnd(p: usize): void {
  if (peerQueued(p) == 0) closePeer(p, CLOSE_CAUSE_LOCAL, FAILED_CALL_NONE);
  else peerSetFlags(p, peerFlags(p) | PEER_ENDING);
}

/** `pause-reading` / `resume-reading` of a peer: a paused peer's datagrams
 *  are dropped (the socket goes on reading for the other peers). */
export function peerSetPaused(p: usize, paused: bool): void {
  peerSetFlags(p, paused ? peerFlags(p) | PEER_PAUSED : peerFlags(p) & ~PEER_PAUSED);
}

/** Registers the socket serving peers in slot `s` (a LISTENER with
 *  FLAG_DATAGRAM); 0 or -errno. Edge-triggered, OUT is registered for good. */
export function addSocket(fd: i32, s: usize): i32 {
  if (edgeTriggered()) slotSetFlags(s, slotFlags(s) | FLAG_OUT);
  return sysEpollCtl(epollFd(), EPOLL_CTL_ADD, fd, socketInterest(s), ctHandle(fd));
}
