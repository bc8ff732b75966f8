/**
 * Pausing a connection's reading (`pause-reading`, `resume-reading`) and
 * parking a paused connection that hung up: see reactor.ts, "Paused
 * reading".
 */
import { EPOLL_CTL_ADD, EPOLL_CTL_DEL } from "./constants";
import { EVENT_KIND_PARKED, FAILED_CALL_EPOLL_CTL } from "./generated/abi";
import { FLAG_PARKED, FLAG_READ_PAUSED, slotFlags, slotSetFlags } from "./conn-table";
import { evPush } from "./events";
import { epollFd } from "./settings";
import { sysEpollCtl } from "./sys";
import { closeConn, fdOf, interestOf, setConnFlags } from "./conns";

/** A paused connection reported ERR or HUP: leaves the epoll set until
 *  resumed, and the host is told (a `parked` event; the caller made room). */
export function park(fd: i32, s: usize, conn: u32): void {
  const r = sysEpollCtl(epollFd(), EPOLL_CTL_DEL, fd, 0, 0);
  if (r < 0) { closeConn(fd, r, FAILED_CALL_EPOLL_CTL); return; }
  slotSetFlags(s, slotFlags(s) | FLAG_PARKED);
  evPush(EVENT_KIND_PARKED, conn, 0, 0, 0, 0);
}

/** `pause-reading`. */
export function connPause(conn: u32, s: usize): i32 {
  const f = slotFlags(s);
  if ((f & FLAG_READ_PAUSED) != 0) return 0;
  const r = setConnFlags(fdOf(conn), s, f | FLAG_READ_PAUSED);
  return r < 0 ? r : 0;
}

/** `resume-reading`. */
export function connResume(conn: u32, s: usize): i32 {
  const f = slotFlags(s);
  if ((f & FLAG_READ_PAUSED) == 0) return 0;
  const fd = fdOf(conn);
  if ((f & FLAG_PARKED) == 0) {
    const r = setConnFlags(fd, s, f & ~FLAG_READ_PAUSED);
    return r < 0 ? r : 0;
  }
  slotSetFlags(s, f & ~(FLAG_READ_PAUSED | FLAG_PARKED));
  const r = sysEpollCtl(epollFd(), EPOLL_CTL_ADD, fd, interestOf(s), conn);
  if (r < 0) { closeConn(fd, r, FAILED_CALL_EPOLL_CTL); return r; }
  return 0;
}
