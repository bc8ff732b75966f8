/**
 * The `sys` functions the reactor calls, and the build-time choice of
 * their implementation:
 *
 *   sys/host.ts  imports nbio:engine/sys (wit/nbio-engine.wit); the Node
 *                host implements it over Linux. The default build.
 *   sys/wasi.ts  implemented inside the guest over wasi:sockets, wasi:io
 *                and wasi:clocks. Chosen by compiling with `--use NBIO_WASI=1`.
 *
 * `isDefined(NBIO_WASI)` is a compile-time constant, so each build
 * compiles one branch only, and only the imports that branch reaches.
 * Every function returns a value >= 0 or a negated errno.
 */
import * as host from "./sys/host";
import * as wasi from "./sys/wasi";

// @ts-ignore: decorator
@inline export function sysEpollCreate(): i32 {
  if (isDefined(NBIO_WASI)) return wasi.sysEpollCreate();
  return host.sysEpollCreate();
}

// @ts-ignore: decorator
@inline export function sysEpollCtl(epfd: i32, op: i32, fd: i32, events: u32, token: u32): i32 {
  if (isDefined(NBIO_WASI)) return wasi.sysEpollCtl(epfd, op, fd, events, token);
  return host.sysEpollCtl(epfd, op, fd, events, token);
}

/** Waits up to `timeout` ms for at most `max` reports, written to `dest`
 *  as {u32 token, u32 events}. The count or -errno. */
// @ts-ignore: decorator
@inline export function sysEpollWait(epfd: i32, dest: usize, max: u32, timeout: i32): i32 {
  if (isDefined(NBIO_WASI)) return wasi.sysEpollWait(epfd, dest, max, timeout);
  return host.sysEpollWait(epfd, dest, max, timeout);
}

// @ts-ignore: decorator
@inline export function sysAccept(fd: i32): i32 {
  if (isDefined(NBIO_WASI)) return wasi.sysAccept(fd);
  return host.sysAccept(fd);
}

/** Reads at most `maxLen` bytes into `dest`: the count (0: end of stream) or -errno. */
// @ts-ignore: decorator
@inline export function sysRead(fd: i32, dest: usize, maxLen: u32): i32 {
  if (isDefined(NBIO_WASI)) return wasi.sysRead(fd, dest, maxLen);
  return host.sysRead(fd, dest, maxLen);
}

// @ts-ignore: decorator
@inline export function sysWrite(fd: i32, ptr: usize, len: u32): i32 {
  if (isDefined(NBIO_WASI)) return wasi.sysWrite(fd, ptr, len);
  return host.sysWrite(fd, ptr, len);
}

// @ts-ignore: decorator
@inline export function sysWritev(fd: i32, iov: usize, count: u32): i32 {
  if (isDefined(NBIO_WASI)) return wasi.sysWritev(fd, iov, count);
  return host.sysWritev(fd, iov, count);
}

/** Sends at most `count` bytes of the file `fileFd` from `offset` to the
 *  socket `fd`: bytes sent (0: the file ended) or -errno (-EOPNOTSUPP on
 *  the WASI build). */
// @ts-ignore: decorator
@inline export function sysSendFile(fd: i32, fileFd: i32, offset: u64, count: u32): i32 {
  if (isDefined(NBIO_WASI)) return wasi.sysSendFile(fd, fileFd, offset, count);
  return host.sysSendFile(fd, fileFd, offset, count);
}

// @ts-ignore: decorator
@inline export function sysClose(fd: i32): i32 {
  if (isDefined(NBIO_WASI)) return wasi.sysClose(fd);
  return host.sysClose(fd);
}

/**
 * Closes a connection whose bytes should still reach the peer (closed by
 * this side with nothing queued, or ended by the peer). On Linux that is
 * `close`: the kernel keeps sending what it took. On WASI the runtime may
 * still be sending the last write itself, so the socket lingers until it
 * is done (sys/wasi.ts).
 */
// @ts-ignore: decorator
@inline export function sysCloseGraceful(fd: i32): i32 {
  if (isDefined(NBIO_WASI)) return wasi.sysCloseGraceful(fd);
  return host.sysClose(fd);
}

// @ts-ignore: decorator
@inline export function sysSocketError(fd: i32): i32 {
  if (isDefined(NBIO_WASI)) return wasi.sysSocketError(fd);
  return host.sysSocketError(fd);
}

// @ts-ignore: decorator
@inline export function sysSetNoDelay(fd: i32, on: bool): i32 {
  if (isDefined(NBIO_WASI)) return wasi.sysSetNoDelay(fd, on);
  return host.sysSetNoDelay(fd, on);
}

/** Shuts down part of a connection (`how` 1: this side's sending). 0 or -errno. */
// @ts-ignore: decorator
@inline export function sysShutdown(fd: i32, how: i32): i32 {
  if (isDefined(NBIO_WASI)) return wasi.sysShutdown(fd, how);
  return host.sysShutdown(fd, how);
}

/**
 * Receives one datagram: at most `maxLen` bytes land at `dest`; the
 * sender's address (at most SOURCE_MAX bytes) at `source`, its length at
 * `sourceLen` (u32). Returns the datagram's full size (more than `maxLen`
 * when it was cut) or -errno.
 */
// @ts-ignore: decorator
@inline export function sysRecvFrom(fd: i32, dest: usize, maxLen: u32, source: usize, sourceLen: usize): i32 {
  if (isDefined(NBIO_WASI)) return wasi.sysRecvFrom(fd, dest, maxLen, source, sourceLen);
  return host.sysRecvFrom(fd, dest, maxLen, source, sourceLen);
}

/** Sends one datagram to the address at `addr` (`addrLen` 0: the connected
 *  peer). Bytes sent (all of them) or -errno. */
// @ts-ignore: decorator
@inline export function sysSendTo(fd: i32, ptr: usize, len: u32, addr: usize, addrLen: u32): i32 {
  if (isDefined(NBIO_WASI)) return wasi.sysSendTo(fd, ptr, len, addr, addrLen);
  return host.sysSendTo(fd, ptr, len, addr, addrLen);
}
