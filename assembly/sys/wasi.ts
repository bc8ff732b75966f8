/**
 * `sys` for the WASI build: the same functions as sys/host.ts, implemented
 * inside the guest over wasi:sockets, wasi:io and wasi:clocks, so the
 * reactor runs unchanged on any WASI 0.2 runtime.
 *
 * Descriptors are slots of the guest-side table (wasi/fd-table.ts). The
 * epoll emulation keeps the interest list in those slots: `epoll-ctl` only
 * edits a slot (interest, token); `epoll-wait` (wasi/epoll-wait.ts) polls
 * (wasi:io/poll) the pollables the interest arms, fairly, and maps the
 * ready ones back to {token, events} reports.
 *
 * Outcomes map to errnos: a read of nothing is -EAGAIN, a closed input
 * stream is end of file (0), a failed one -ECONNRESET; a write the stream
 * cannot take now is -EAGAIN, to a closed stream -EPIPE, a failed one
 * -ECONNRESET. Socket error codes map through `errnoOf` (wasi/sockets.ts).
 *
 * Shutting and closing. wasmtime finishes a write the socket could not
 * take at once in a background task, and dropping the stream aborts it;
 * jco's shim holds it in a Node socket. So `shutdown(SHUT_WR)` flushes
 * the stream and sends the FIN (`tcp-socket.shutdown(send)`) once that
 * write is done, reading going on meanwhile; and a graceful close
 * (`sysCloseGraceful`) keeps the socket and its output stream
 * ("lingers") until that write is done, at most 30 s. Both wait in
 * wasi/linger.ts, which `epoll-wait` settles along with the rest. An
 * abortive close (`sysClose`) drops everything at once, children first:
 * pollables, streams, socket. (jco 1.35's shim implements
 * `tcp-socket.shutdown` by destroying the Node socket, so there a
 * shutdown closes the whole connection.)
 */
import {
  EAGAIN, EBADF, ECONNRESET, EEXIST, EINVAL, EMFILE, ENOENT, ENOTCONN, EOPNOTSUPP, EPIPE, EPOLL_CTL_ADD,
  EPOLL_CTL_DEL, SHUT_WR,
} from "../constants";
import { LIST_LEN_OFFSET, LIST_PTR_OFFSET, LIST_SIZE } from "../generated/abi";
import {
  EVENT_KIND_CONNECTING, EVENT_KIND_EPOLL, EVENT_KIND_LISTENER, EVENT_KIND_STREAM, fdOpen, fdRelease, fdSlot,
  slotInput, slotInputPollable, slotKind, slotOutput, slotOutputPollable, slotPendingError, slotReadSize,
  slotRegistered, slotSetInterest, slotSetOutputPollable, slotSetPendingError, slotSetReadSize, slotSetRegistered,
  slotSetSocket, slotSetStreams, slotSetToken, slotSocket, slotSocketPollable,
} from "../wasi/fd-table";
import {
  STREAM_CLOSED, checkWrite, dropInputStream, dropOutputStream, dropPollable, flush, readInto, write,
} from "../wasi/io";
import { accept, dropSocket } from "../wasi/sockets";
import { addLinger, cancelShutdown, dropLingers, settleLingers, shutWhenWritten } from "../wasi/linger";
import { epollWait, outputPollable } from "../wasi/epoll-wait";

/**
 * The smallest read request (see sysRead). wasmtime 49 allocates a buffer
 * of the size asked for on every read; at 1 KiB it comes from the C
 * allocator's per-thread cache. Measured at 50 connections x 64 B (user
 * space instructions per round trip, callgrind): 16.2k with 4 KiB, 12.4k
 * with 1 KiB; 256 and 512 B were no better.
 */
const READ_MIN: u32 = 1024;

/** Handles of accept results. */
const HANDLES: usize = memory.data(12, 4);
/** Whether the one epoll instance exists. */
let epollOpen = false;

function streamErrno(r: i32, closed: i32): i32 { return r == STREAM_CLOSED ? closed : -ECONNRESET; }

/** Drops every resource of a slot, children first, and frees the descriptor. */
function dropAll(fd: i32, s: usize): void {
  if (slotInputPollable(s) != 0) dropPollable(slotInputPollable(s));
  if (slotOutputPollable(s) != 0) dropPollable(slotOutputPollable(s));
  if (slotSocketPollable(s) != 0) dropPollable(slotSocketPollable(s));
  if (slotInput(s) != 0) dropInputStream(slotInput(s));
  if (slotOutput(s) != 0) dropOutputStream(slotOutput(s));
  if (slotSocket(s) != 0) dropSocket(slotSocket(s));
  fdRelease(fd);
}

// ---- sys ----

/** The epoll instance: there is one, since the interest list lives in the
 *  descriptor slots themselves (a second one gets -EMFILE). */
export function sysEpollCreate(): i32 {
  if (epollOpen) return -EMFILE;
  const fd = fdOpen(EVENT_KIND_EPOLL);
  if (fd < 0) return -EMFILE;
  epollOpen = true;
  return fd;
}

export function sysEpollCtl(epfd: i32, op: i32, fd: i32, events: u32, token: u32): i32 {
  const ep = fdSlot(epfd);
  if (ep == 0 || slotKind(ep) != EVENT_KIND_EPOLL) return -EBADF;
  const s = fdSlot(fd);
  if (s == 0) return -EBADF;
  if (slotKind(s) == EVENT_KIND_EPOLL) return -EINVAL;
  if (op == EPOLL_CTL_ADD) {
    if (slotRegistered(s)) return -EEXIST;
    slotSetRegistered(s, true);
  } else if (!slotRegistered(s)) {
    return -ENOENT;
  } else if (op == EPOLL_CTL_DEL) {
    slotSetRegistered(s, false);
    slotSetInterest(s, 0);
    return 0;
  }
  slotSetInterest(s, events);
  slotSetToken(s, token);
  return 0;
}

/** Waits up to `timeout` ms (-1: no limit) for at most `max` reports,
 *  written to `dest` as `ready` records. Returns the count or -errno. */
export function sysEpollWait(epfd: i32, dest: usize, max: u32, timeout: i32): i32 {
  const ep = fdSlot(epfd);
  if (ep == 0 || slotKind(ep) != EVENT_KIND_EPOLL) return -EBADF;
  const n = epollWait(dest, max, timeout);
  settleLingers();
  return n;
}

/** Accepts one connection: its new descriptor, -EAGAIN, or -errno. */
export function sysAccept(fd: i32): i32 {
  const s = fdSlot(fd);
  if (s == 0) return -EBADF;
  if (slotKind(s) != EVENT_KIND_LISTENER) return -EINVAL;
  const r = accept(slotSocket(s), HANDLES);
  if (r < 0) return r;
  const nfd = fdOpen(EVENT_KIND_STREAM);
  if (nfd < 0) {
    dropInputStream(load<i32>(HANDLES, 4));
    dropOutputStream(load<i32>(HANDLES, 8));
    dropSocket(load<i32>(HANDLES));
    return -EMFILE;
  }
  const ns = fdSlot(nfd);
  slotSetSocket(ns, load<i32>(HANDLES));
  slotSetStreams(ns, load<i32>(HANDLES, 4), load<i32>(HANDLES, 8));
  return nfd;
}

/** The slot of a connected stream `fd` (> 0), or what reading or writing
 *  it gives instead: -EAGAIN while it connects, -EBADF, -EINVAL. */
function streamSlot(fd: i32): i64 {
  const s = fdSlot(fd);
  if (s == 0) return -EBADF;
  const kind = slotKind(s);
  if (kind == EVENT_KIND_CONNECTING) return -EAGAIN;
  if (kind != EVENT_KIND_STREAM) return -EINVAL;
  return <i64>s;
}

/**
 * Reads at most `maxLen` bytes into `dest`: the count, 0 at end of stream,
 * -EAGAIN when nothing is there, or -errno.
 *
 * A runtime may allocate (and clear) a buffer of the size a read asks for
 * (wasmtime 49 does, per call), so each stream asks for about what it got
 * last time (READ_MIN at least) and doubles the request while reads come
 * back full, up to `maxLen`: small messages cost a small buffer, a bulk
 * stream soon reads `maxLen` at a time.
 */
export function sysRead(fd: i32, dest: usize, maxLen: u32): i32 {
  const sl = streamSlot(fd);
  if (sl <= 0) return <i32>sl;
  const s = <usize>sl;
  const failed = slotPendingError(s);
  if (failed < 0) { slotSetPendingError(s, 0); return failed; }
  const input = slotInput(s);
  let want = min(max(slotReadSize(s), READ_MIN), maxLen);
  let total: u32 = 0;
  while (true) {
    const n = readInto(input, dest + <usize>total, want);
    if (n < 0) {
      const e = n == STREAM_CLOSED ? 0 : -ECONNRESET;
      if (total == 0) return e;
      // Report the bytes now, the end or the failure on the next read.
      if (e < 0) slotSetPendingError(s, e);
      break;
    }
    total += <u32>n;
    if (<u32>n < want || total == maxLen) break;
    want = min(want << 1, maxLen - total);
  }
  slotSetReadSize(s, max(total, READ_MIN));
  return total == 0 ? -EAGAIN : <i32>total;
}

/** Hands at most `len` bytes to the output stream: how many it took
 *  (it may take fewer), -EAGAIN when it takes none now, or -errno. */
export function sysWrite(fd: i32, ptr: usize, len: u32): i32 {
  const s = streamSlot(fd);
  if (s <= 0) return <i32>s;
  if (len == 0) return 0;
  const out = slotOutput(<usize>s);
  const permit = checkWrite(out);
  if (permit < 0) return streamErrno(permit, -EPIPE);
  if (permit == 0) return -EAGAIN;
  const n = min(len, <u32>permit);
  const r = write(out, ptr, n);
  return r < 0 ? streamErrno(r, -EPIPE) : <i32>n;
}

/** Writes the `count` list<u8> records ({ptr, len}) at `iov` in order: the total
 *  taken (possibly short), -EAGAIN when nothing was, or -errno. */
export function sysWritev(fd: i32, iov: usize, count: u32): i32 {
  let total: u32 = 0;
  for (let i: u32 = 0; i < count; i++) {
    const rec = iov + <usize>i * LIST_SIZE;
    const ptr = <usize>load<u32>(rec, LIST_PTR_OFFSET);
    const len = load<u32>(rec, LIST_LEN_OFFSET);
    let off: u32 = 0;
    while (off < len) {
      const n = sysWrite(fd, ptr + <usize>off, len - off);
      if (n <= 0) return total != 0 ? <i32>total : n;
      off += <u32>n;
      total += <u32>n;
    }
  }
  return <i32>total;
}

/** Closes `fd` abortively: every resource is dropped now (a write the
 *  runtime still finishes in the background is abandoned). Closing the
 *  epoll descriptor also drops the lingering sockets: nothing would poll
 *  them any more. */
export function sysClose(fd: i32): i32 {
  const s = fdSlot(fd);
  if (s == 0) return -EBADF;
  if (slotKind(s) == EVENT_KIND_EPOLL) {
    dropLingers();
    epollOpen = false;
  }
  cancelShutdown(fd);
  dropAll(fd, s);
  return 0;
}

/**
 * Closes `fd` gracefully: like `sysClose`, except that a stream whose last
 * write the runtime is still sending keeps its socket and output stream
 * until that write is done (at most 30 s, wasi/linger.ts). The descriptor is free at
 * once either way.
 */
export function sysCloseGraceful(fd: i32): i32 {
  const s = fdSlot(fd);
  if (s == 0) return -EBADF;
  cancelShutdown(fd);
  const out = slotOutput(s);
  if (slotKind(s) != EVENT_KIND_STREAM || flush(out) < 0 || checkWrite(out) != 0) return sysClose(fd);
  const pollable = outputPollable(s);
  slotSetOutputPollable(s, 0);
  if (slotInputPollable(s) != 0) dropPollable(slotInputPollable(s));
  if (slotSocketPollable(s) != 0) dropPollable(slotSocketPollable(s));
  dropInputStream(slotInput(s));
  addLinger(slotSocket(s), out, pollable);
  fdRelease(fd);
  return 0;
}

/** The error of a failed connect (once), else 0. */
export function sysSocketError(fd: i32): i32 {
  const s = fdSlot(fd);
  if (s == 0) return -EBADF;
  const e = slotPendingError(s);
  slotSetPendingError(s, 0);
  return e;
}

/** wasi:sockets 0.2 has no TCP_NODELAY: -EOPNOTSUPP. */
export function sysSetNoDelay(fd: i32, on: bool): i32 {
  return fdSlot(fd) == 0 ? -EBADF : -EOPNOTSUPP;
}

/**
 * Shuts the sending side of a connected stream (`how` SHUT_WR, the only
 * one: -EOPNOTSUPP for others): the stream is flushed and the FIN goes
 * once the runtime has written everything (at once if it has, else from
 * `epoll-wait`, see wasi/linger.ts); reading goes on. 0, -ENOTCONN for a
 * descriptor that is no connected stream, or the failure of the flush.
 */
export function sysShutdown(fd: i32, how: i32): i32 {
  const s = fdSlot(fd);
  if (s == 0) return -EBADF;
  if (slotKind(s) != EVENT_KIND_STREAM) return -ENOTCONN;
  if (how != SHUT_WR) return -EOPNOTSUPP;
  const r = flush(slotOutput(s));
  if (r < 0) return streamErrno(r, -EPIPE);
  return shutWhenWritten(fd, slotSocket(s), outputPollable(s));
}

/** Not on the WASI build (UDP is Node-only): -EOPNOTSUPP. */
export function sysRecvFrom(fd: i32, dest: usize, maxLen: u32, source: usize, sourceLen: usize): i32 {
  return fdSlot(fd) == 0 ? -EBADF : -EOPNOTSUPP;
}

/** Not on the WASI build (UDP is Node-only): -EOPNOTSUPP. */
export function sysSendTo(fd: i32, ptr: usize, len: u32, addr: usize, addrLen: u32): i32 {
  return fdSlot(fd) == 0 ? -EBADF : -EOPNOTSUPP;
}

/** Not on the WASI build (wasi:sockets has no sendfile): -EOPNOTSUPP. */
export function sysSendFile(fd: i32, fileFd: i32, offset: u64, count: u32): i32 {
  return fdSlot(fd) == 0 ? -EBADF : -EOPNOTSUPP;
}
