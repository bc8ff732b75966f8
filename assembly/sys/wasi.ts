/**
 * `sys` for the WASI build: the same functions as sys/host.ts, implemented
 * inside the guest over wasi:sockets, wasi:io and wasi:clocks, so the
 * reactor runs unchanged on any WASI 0.2 runtime.
 *
 * Descriptors are slots of the guest-side table (wasi/fd-table.ts). The
 * epoll emulation keeps the interest list in those slots:
 *
 *  - `epoll-ctl` only edits a slot (interest, token);
 *  - `epoll-wait` polls (wasi:io/poll) exactly the pollables the interest
 *    arms, plus a monotonic-clock pollable for the time-out, and maps the
 *    ready indices back to {token, events} reports:
 *      listener   IN  -> the socket's pollable (a connection is pending)
 *      connecting OUT -> the socket's pollable (the connect finished;
 *                        finish-connect runs here: OUT on success,
 *                        OUT|ERR|HUP with the error kept for socket-error)
 *      stream     IN  -> the input stream's pollable
 *      stream     OUT -> the output stream's pollable, asked without
 *                        blocking (`pollable.ready`), see WRITE_RETRY_NS
 *    Pollables are level-like (ready until consumed), so this behaves as
 *    level-triggered epoll. There are no RDHUP/ERR/HUP bits for streams:
 *    an end of stream or an error shows on the next read or write.
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
  EAGAIN, EBADF, ECONNRESET, EEXIST, EINVAL, EMFILE, ENOENT, ENOTCONN, EOPNOTSUPP, EPIPE,
  EPOLLERR, EPOLLHUP, EPOLLIN, EPOLLOUT, EPOLL_CTL_ADD, EPOLL_CTL_DEL, SHUT_WR,
} from "../constants";
import {
  LIST_LEN_OFFSET, LIST_PTR_OFFSET, LIST_SIZE, READY_EVENTS_OFFSET, READY_SIZE, READY_TOKEN_OFFSET,
} from "../generated/abi";
import {
  FIRST_FD, EVENT_KIND_CONNECTING, EVENT_KIND_EPOLL, EVENT_KIND_LISTENER, EVENT_KIND_STREAM,
  fdHighWater, fdOpen, fdRelease, fdSlot, fdSlotAt,
  slotInput, slotInputPollable, slotInterest, slotKind, slotOutput, slotOutputPollable,
  slotPendingError, slotReadSize, slotReadyBits, slotRegistered, slotSetInputPollable, slotSetInterest, slotSetKind,
  slotSetOutputPollable, slotSetPendingError, slotSetReadSize, slotSetReadyBits, slotSetRegistered, slotSetSocket,
  slotSetSocketPollable, slotSetStreams, slotSetToken, slotSocket, slotSocketPollable, slotToken,
} from "../wasi/fd-table";
import {
  STREAM_CLOSED, checkWrite, dropInputStream, dropOutputStream, dropPollable, flush, isReady, readInto,
  subscribeInput, subscribeOutput, write,
} from "../wasi/io";
import { subscribeDuration } from "../wasi/clocks";
import { accept, dropSocket, finishConnect, subscribeSocket } from "../wasi/sockets";
import { addLinger, cancelShutdown, dropLingers, lingering, settleLingers, shutWhenWritten } from "../wasi/linger";
import { psAdd, psClear, psCount, psPoll, psReadyTag } from "../wasi/poll-set";

/**
 * How soon a stream that cannot take a write now is asked again. Its
 * output pollable is never put in the blocking poll list: under wasmtime
 * (seen with wasmtime-py 49), a poll whose list held the output pollable
 * of a stream whose peer had stopped reading stopped returning at all,
 * even when other sockets became ready. So `epoll-wait` asks
 * `pollable.ready` (non-blocking) for each such stream and, while one is
 * pending, waits at most this long.
 */
const WRITE_RETRY_NS: u64 = 1_000_000;
/** The smallest read request (see sysRead). */
const READ_MIN: u32 = 4096;
/** Wait used for "no limit" when nothing at all is armed. */
const IDLE_NS: u64 = 3_600_000_000_000;

// Tags of poll-set entries: what a ready pollable means.
const TAG_IN: u32 = 0;
const TAG_CONNECT: u32 = 1;
const TAG_CLOCK: u32 = 0xffff_ffff;

// Scratch bits of a slot during epoll-wait.
const READY_IN: u32 = 1;
const READY_OUT: u32 = 2;
const READY_CONNECT: u32 = 4;

/** Descriptors with at least one ready pollable in this wait, in order. */
let touched: usize = 0;
let touchedCount: u32 = 0;
let touchedCap: u32 = 0;
/** Handles of accept / finish-connect results. */
const HANDLES: usize = memory.data(12, 4);
/** An always-ready pollable (a clock that already fired), for time-out 0. */
let readyNow: i32 = 0;
/** Whether the one epoll instance exists. */
let epollOpen = false;

function streamErrno(r: i32, closed: i32): i32 { return r == STREAM_CLOSED ? closed : -ECONNRESET; }

function inputPollable(s: usize): i32 {
  let p = slotInputPollable(s);
  if (p == 0) { p = subscribeInput(slotInput(s)); slotSetInputPollable(s, p); }
  return p;
}

function outputPollable(s: usize): i32 {
  let p = slotOutputPollable(s);
  if (p == 0) { p = subscribeOutput(slotOutput(s)); slotSetOutputPollable(s, p); }
  return p;
}

function socketPollable(s: usize): i32 {
  let p = slotSocketPollable(s);
  if (p == 0) { p = subscribeSocket(slotSocket(s)); slotSetSocketPollable(s, p); }
  return p;
}

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

/** Makes room for `n` touched descriptors (at most one per descriptor). */
function reserveTouched(n: u32): void {
  if (n <= touchedCap) return;
  if (touched != 0) heap.free(touched);
  touchedCap = max(n, touchedCap << 1);
  touched = heap.alloc(<usize>touchedCap << 2);
}

function markTouched(fd: i32, s: usize, bit: u32): void {
  const bits = slotReadyBits(s);
  if (bits == 0) {
    store<i32>(touched + (<usize>touchedCount << 2), fd);
    touchedCount++;
  }
  slotSetReadyBits(s, bits | bit);
}

/** The events to report for a slot with ready `bits`, or 0 (nothing to say). */
function eventsOf(s: usize, bits: u32): u32 {
  if ((bits & READY_CONNECT) != 0) {
    const r = finishConnect(slotSocket(s), HANDLES);
    if (r == -EAGAIN) return 0;
    if (r < 0) {
      slotSetPendingError(s, r);
      return EPOLLOUT | EPOLLERR | EPOLLHUP;
    }
    slotSetStreams(s, load<i32>(HANDLES), load<i32>(HANDLES, 4));
    slotSetKind(s, EVENT_KIND_STREAM);
    return EPOLLOUT;
  }
  let ev: u32 = 0;
  if ((bits & READY_IN) != 0) ev |= EPOLLIN;
  if ((bits & READY_OUT) != 0) ev |= EPOLLOUT;
  return ev;
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
  psClear();
  const high = fdHighWater();
  reserveTouched(<u32>high);
  touchedCount = 0;
  // Output readiness is asked without blocking (see WRITE_RETRY_NS): a
  // stream whose last write is still being sent is polled again soon.
  let writableNow = false;
  let writePending = false;
  for (let fd = FIRST_FD; fd < high; fd++) {
    const s = fdSlotAt(fd);
    if (!slotRegistered(s)) continue;
    const interest = slotInterest(s);
    const kind = slotKind(s);
    if (kind == EVENT_KIND_STREAM) {
      if ((interest & EPOLLIN) != 0) psAdd(inputPollable(s), (<u32>fd << 2) | TAG_IN);
      if ((interest & EPOLLOUT) != 0) {
        if (isReady(outputPollable(s))) { markTouched(fd, s, READY_OUT); writableNow = true; }
        else writePending = true;
      }
    } else if (kind == EVENT_KIND_LISTENER) {
      if ((interest & EPOLLIN) != 0) psAdd(socketPollable(s), (<u32>fd << 2) | TAG_IN);
    } else if (kind == EVENT_KIND_CONNECTING) {
      if ((interest & EPOLLOUT) != 0) psAdd(socketPollable(s), (<u32>fd << 2) | TAG_CONNECT);
    }
  }
  // The time-out, as one more pollable (poll itself has none).
  let ns: u64 = timeout < 0 ? IDLE_NS : <u64>timeout * 1_000_000;
  if (writableNow) ns = 0;
  if (writePending || lingering() != 0) ns = min(ns, WRITE_RETRY_NS);
  let clock: i32 = 0;
  if (ns == 0) {
    if (readyNow == 0) readyNow = subscribeDuration(0);
    psAdd(readyNow, TAG_CLOCK);
  } else if (timeout >= 0 || psCount() == 0 || ns < IDLE_NS) {
    clock = subscribeDuration(ns);
    psAdd(clock, TAG_CLOCK);
  }

  const ready = psPoll();
  if (clock != 0) dropPollable(clock);

  for (let i: u32 = 0; i < ready; i++) {
    const tag = psReadyTag(i);
    if (tag == TAG_CLOCK) continue;
    const fd = <i32>(tag >> 2);
    markTouched(fd, fdSlotAt(fd), (tag & 3) == TAG_IN ? READY_IN : READY_CONNECT);
  }
  let n: u32 = 0;
  for (let i: u32 = 0; i < touchedCount; i++) {
    const fd = load<i32>(touched + (<usize>i << 2));
    const s = fdSlotAt(fd);
    const bits = slotReadyBits(s);
    slotSetReadyBits(s, 0);
    const ev = eventsOf(s, bits) & (slotInterest(s) | EPOLLERR | EPOLLHUP);
    if (ev == 0 || n >= max) continue;
    const r = dest + <usize>n * READY_SIZE;
    store<u32>(r, slotToken(s), READY_TOKEN_OFFSET);
    store<u32>(r, ev, READY_EVENTS_OFFSET);
    n++;
  }
  settleLingers();
  return <i32>n;
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
