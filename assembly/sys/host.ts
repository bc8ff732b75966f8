/**
 * `sys` for the Node build: the imports of module "nbio:engine/sys@0.1.0"
 * (wit/nbio-engine.wit) at the canonical-ABI level, and thin wrappers that
 * turn every outcome into one i32: a value >= 0, or a negated errno. The
 * host (host/sys/linux.ts) implements them over the Linux shim.
 *
 * Lowered signatures (all i32 but send-file's offset):
 *
 *   epoll-create ()                               -> i32
 *   epoll-ctl    (epfd, op, fd, events, token)    -> i32
 *   epoll-wait   (epfd, max, timeout, retptr)     -> ()
 *   accept       (fd)                             -> i32
 *   read         (fd, maxLen, retptr)             -> ()
 *   write        (fd, ptr, len)                   -> i32
 *   writev       (fd, iovPtr, count)              -> i32
 *   send-file    (fd, fileFd, offset i64, count)  -> i32
 *   close        (fd)                             -> i32
 *   socket-error (fd)                             -> i32
 *   set-no-delay (fd, on)                         -> i32
 *   shutdown     (fd, how)                        -> i32
 *   recv-from    (fd, maxLen, retptr)             -> ()
 *   send-to      (fd, ptr, len, addrPtr, addrLen) -> i32
 *
 * Return areas of epoll-wait and read, static blocks: a `wait-result` and
 * a `read-result`, in the canonical-ABI layouts build/abi.mjs generates
 * from the WIT (at the time of writing, both 12 bytes, align 4):
 *
 *   0        1        4                8               12
 *   +--------+--------+----------------+----------------+
 *   | disc u8| (pad)  | ptr u32 / s32  | len u32        |
 *   +--------+--------+----------------+----------------+
 *   disc 0: ready/data list at ptr, len elements
 *   disc 1: error, negated errno at offset 4
 *
 * Return area of recv-from: a `recv-result` (generated layout too), whose
 * `datagram` case holds the data list, the source list and the full size.
 *
 * Before epoll-wait and read the wrapper arms the landing zone of
 * `cabi_realloc` (abi.ts) with the destination the reactor wants, so the
 * host writes the list straight there. If a host allocated somewhere else
 * anyway, the wrapper copies the list into the destination.
 */
import { armLanding, disarmLanding } from "../abi";
import { EINTR } from "../constants";
import {
  DATAGRAM_DATA_OFFSET, DATAGRAM_FULL_SIZE_OFFSET, DATAGRAM_SOURCE_OFFSET,
  LIST_LEN_OFFSET, LIST_PTR_OFFSET, READ_RESULT_ALIGN, READ_RESULT_DATA, READ_RESULT_PAYLOAD_OFFSET,
  READ_RESULT_SIZE, READY_SIZE, RECV_RESULT_ALIGN, RECV_RESULT_DATAGRAM, RECV_RESULT_PAYLOAD_OFFSET, RECV_RESULT_SIZE, WAIT_RESULT_ALIGN, WAIT_RESULT_PAYLOAD_OFFSET, WAIT_RESULT_READY, WAIT_RESULT_SIZE,
} from "../generated/abi";


// @ts-ignore: decorator
@external("nbio:engine/sys@0.1.0", "epoll-create")
declare function _epollCreate(): i32;
// @ts-ignore: decorator
@external("nbio:engine/sys@0.1.0", "epoll-ctl")
declare function _epollCtl(epfd: i32, op: i32, fd: i32, events: u32, token: u32): i32;
// @ts-ignore: decorator
@external("nbio:engine/sys@0.1.0", "epoll-wait")
declare function _epollWait(epfd: i32, max: u32, timeout: i32, ret: usize): void;
// @ts-ignore: decorator
@external("nbio:engine/sys@0.1.0", "accept")
declare function _accept(fd: i32): i32;
// @ts-ignore: decorator
@external("nbio:engine/sys@0.1.0", "read")
declare function _read(fd: i32, maxLen: u32, ret: usize): void;
// @ts-ignore: decorator
@external("nbio:engine/sys@0.1.0", "write")
declare function _write(fd: i32, ptr: usize, len: u32): i32;
// @ts-ignore: decorator
@external("nbio:engine/sys@0.1.0", "writev")
declare function _writev(fd: i32, iov: usize, count: u32): i32;
// @ts-ignore: decorator
@external("nbio:engine/sys@0.1.0", "send-file")
declare function _sendFile(fd: i32, fileFd: i32, offset: u64, count: u32): i32;
// @ts-ignore: decorator
@external("nbio:engine/sys@0.1.0", "close")
declare function _close(fd: i32): i32;
// @ts-ignore: decorator
@external("nbio:engine/sys@0.1.0", "socket-error")
declare function _socketError(fd: i32): i32;
// @ts-ignore: decorator
@external("nbio:engine/sys@0.1.0", "set-no-delay")
declare function _setNoDelay(fd: i32, on: i32): i32;
// @ts-ignore: decorator
@external("nbio:engine/sys@0.1.0", "shutdown")
declare function _shutdown(fd: i32, how: i32): i32;
// @ts-ignore: decorator
@external("nbio:engine/sys@0.1.0", "recv-from")
declare function _recvFrom(fd: i32, maxLen: u32, ret: usize): void;
// @ts-ignore: decorator
@external("nbio:engine/sys@0.1.0", "send-to")
declare function _sendTo(fd: i32, ptr: usize, len: u32, addr: usize, addrLen: u32): i32;

/** Most bytes of a datagram's source address kept (a sockaddr_in6). */
export const SOURCE_MAX: u32 = 28;

/** Static return areas of epoll-wait, read and recv-from. */
const WAIT_RET: usize = memory.data(<i32>WAIT_RESULT_SIZE, <i32>WAIT_RESULT_ALIGN);
const READ_RET: usize = memory.data(<i32>READ_RESULT_SIZE, <i32>READ_RESULT_ALIGN);
const RECV_RET: usize = memory.data(<i32>RECV_RESULT_SIZE, <i32>RECV_RESULT_ALIGN);

/** Decodes a `variant { list, error(s32) }` result at `ret` (the list case
 *  is `listCase`, the payload at `payload`): copies the list to `dest` if
 *  the host put it elsewhere. Returns the element count, or the negated errno. */
@inline function listResult(ret: usize, listCase: u8, payload: usize, dest: usize, elemSize: usize): i32 {
  if (load<u8>(ret) != listCase) return load<i32>(ret + payload);
  const ptr = <usize>load<u32>(ret + payload, LIST_PTR_OFFSET);
  const len = load<u32>(ret + payload, LIST_LEN_OFFSET);
  if (len != 0 && ptr != dest) memory.copy(dest, ptr, <usize>len * elemSize);
  return <i32>len;
}

export function sysEpollCreate(): i32 { return _epollCreate(); }

export function sysEpollCtl(epfd: i32, op: i32, fd: i32, events: u32, token: u32): i32 {
  return _epollCtl(epfd, op, fd, events, token);
}

/** Waits for at most `max` reports, written to `dest` (max `ready`
 *  records). Returns the count or -errno. */
export function sysEpollWait(epfd: i32, dest: usize, max: u32, timeout: i32): i32 {
  armLanding(dest, <usize>max * READY_SIZE);
  _epollWait(epfd, max, timeout, WAIT_RET);
  disarmLanding();
  return listResult(WAIT_RET, WAIT_RESULT_READY, WAIT_RESULT_PAYLOAD_OFFSET, dest, READY_SIZE);
}

/** Reads at most `maxLen` bytes into `dest`. Returns bytes read (0 = EOF)
 *  or -errno; EINTR is retried here. */
export function sysRead(fd: i32, dest: usize, maxLen: u32): i32 {
  let r: i32;
  do {
    armLanding(dest, <usize>maxLen);
    _read(fd, maxLen, READ_RET);
    disarmLanding();
    r = listResult(READ_RET, READ_RESULT_DATA, READ_RESULT_PAYLOAD_OFFSET, dest, 1);
  } while (r == -EINTR);
  return r;
}

/** Bytes the kernel took, or -errno (EINTR retried). */
export function sysWrite(fd: i32, ptr: usize, len: u32): i32 {
  let r: i32;
  do r = _write(fd, ptr, len); while (r == -EINTR);
  return r;
}

/** Gathering write of the `count` list<u8> records ({ptr, len}) at `iov`. */
export function sysWritev(fd: i32, iov: usize, count: u32): i32 {
  let r: i32;
  do r = _writev(fd, iov, count); while (r == -EINTR);
  return r;
}

export function sysAccept(fd: i32): i32 { return _accept(fd); }
export function sysClose(fd: i32): i32 { return _close(fd); }
export function sysSocketError(fd: i32): i32 { return _socketError(fd); }
export function sysSetNoDelay(fd: i32, on: bool): i32 { return _setNoDelay(fd, on ? 1 : 0); }
export function sysShutdown(fd: i32, how: i32): i32 { return _shutdown(fd, how); }

/** One datagram into `dest` (at most `maxLen` bytes) and its source address
 *  into `source` (at most SOURCE_MAX bytes; its length stored at
 *  `sourceLen`). Returns the full size, or -errno; EINTR is retried. */
export function sysRecvFrom(fd: i32, dest: usize, maxLen: u32, source: usize, sourceLen: usize): i32 {
  const d = RECV_RET + RECV_RESULT_PAYLOAD_OFFSET;
  do {
    armLanding(dest, <usize>maxLen);
    _recvFrom(fd, maxLen, RECV_RET);
    disarmLanding();
  } while (load<u8>(RECV_RET) != RECV_RESULT_DATAGRAM && load<i32>(d) == -EINTR);
  if (load<u8>(RECV_RET) != RECV_RESULT_DATAGRAM) return load<i32>(d);
  // The source first: a host that put it in the landing zone (at `dest`)
  // would otherwise see it overwritten by the data.
  const n = min(load<u32>(d + DATAGRAM_SOURCE_OFFSET, LIST_LEN_OFFSET), SOURCE_MAX);
  memory.copy(source, <usize>load<u32>(d + DATAGRAM_SOURCE_OFFSET, LIST_PTR_OFFSET), <usize>n);
  store<u32>(sourceLen, n);
  const ptr = <usize>load<u32>(d + DATAGRAM_DATA_OFFSET, LIST_PTR_OFFSET);
  const len = load<u32>(d + DATAGRAM_DATA_OFFSET, LIST_LEN_OFFSET);
  if (len != 0 && ptr != dest) memory.copy(dest, ptr, <usize>len);
  return load<i32>(d + DATAGRAM_FULL_SIZE_OFFSET);
}

/** One datagram to `addr` (addrLen 0: the connected peer); EINTR retried. */
export function sysSendTo(fd: i32, ptr: usize, len: u32, addr: usize, addrLen: u32): i32 {
  let r: i32;
  do r = _sendTo(fd, ptr, len, addr, addrLen); while (r == -EINTR);
  return r;
}

/** Bytes of a file sent to a socket by the kernel; EINTR retried. */
export function sysSendFile(fd: i32, fileFd: i32, offset: u64, count: u32): i32 {
  let r: i32;
  do r = _sendFile(fd, fileFd, offset, count); while (r == -EINTR);
  return r;
}
