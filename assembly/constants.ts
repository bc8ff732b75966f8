/**
 * Numbers of the Linux ABI the whole reactor uses: errno values (always
 * used negated, "-errno"), EPOLL bits and ctl ops; and the reactor's own
 * limits. The numbers of the engine interface (event kinds, failed calls,
 * close causes, record layouts, the handle layout) are generated from the
 * WIT into generated/abi.ts (build/abi.mjs).
 *
 * Everything here is a compile-time constant: no memory, no code.
 */

// ---- errno (positive values; the reactor passes them around negated) ----
export const ENOENT: i32 = 2;
export const EINTR: i32 = 4;
export const EBADF: i32 = 9;
export const EIO: i32 = 5;
export const EAGAIN: i32 = 11;
export const ENOMEM: i32 = 12;
export const EEXIST: i32 = 17;
export const EINVAL: i32 = 22;
export const ENFILE: i32 = 23;
export const EMFILE: i32 = 24;
export const EPIPE: i32 = 32;
export const EOPNOTSUPP: i32 = 95;
export const EALREADY: i32 = 114;
export const ECONNABORTED: i32 = 103;
export const ECONNRESET: i32 = 104;
export const ENOBUFS: i32 = 105;
export const ENOTCONN: i32 = 107;
export const EMSGSIZE: i32 = 90;

// ---- epoll ----
export const EPOLLIN: u32 = 0x001;
export const EPOLLPRI: u32 = 0x002;
export const EPOLLOUT: u32 = 0x004;
export const EPOLLERR: u32 = 0x008;
export const EPOLLHUP: u32 = 0x010;
export const EPOLLRDHUP: u32 = 0x2000;
export const EPOLLET: u32 = 0x8000_0000;

export const EPOLL_CTL_ADD: i32 = 1;
export const EPOLL_CTL_DEL: i32 = 2;
export const EPOLL_CTL_MOD: i32 = 3;

/** Interest of an idle connection (level-triggered). */
export const INTEREST_READ: u32 = EPOLLIN | EPOLLRDHUP;
/** Interest while bytes are queued, or while a connect is in progress. */
export const INTEREST_READ_WRITE: u32 = EPOLLIN | EPOLLRDHUP | EPOLLOUT;
/** Interest of a listening socket (level-triggered in both modes: an accept
 *  round is capped, so what is left must be reported again). */
export const INTEREST_LISTEN: u32 = EPOLLIN;
/** Bits of a ready report that start the read loop. */
export const READ_TRIGGER: u32 = EPOLLIN | EPOLLPRI | EPOLLERR | EPOLLHUP | EPOLLRDHUP;

/** Most ready reports fetched by one epoll-wait. */
export const MAX_READY: u32 = 1024;
/** Most ready reports one `run-once` processes: the host dispatches their
 *  events (the echoes go out) before the rest of the poll is read, so a
 *  large poll does not hold every reply back until its last read. */
export const MAX_REPORTS_PER_BATCH: u32 = 64;
/** Most accepts per listener ready report (level-triggered: the rest comes next poll). */
export const MAX_ACCEPTS_PER_REPORT: i32 = 64;
/** Most chunks handed to one writev. */
export const MAX_IOV: i32 = 64;

// ---- sys.shutdown `how` ----
export const SHUT_WR: i32 = 1;
