/**
 * Numbers shared by the whole reactor: Linux errno values (always used
 * negated, "-errno"), EPOLL bits and ctl ops, the event kinds and
 * failed-call codes of wit/nbio-engine.wit, and the handle layout.
 *
 * Everything here is a compile-time constant: no memory, no code.
 */

// ---- errno (positive values; the reactor passes them around negated) ----
export const ENOENT: i32 = 2;
export const EINTR: i32 = 4;
export const EBADF: i32 = 9;
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
/** Most accepts per listener ready report (level-triggered: the rest comes next poll). */
export const MAX_ACCEPTS_PER_REPORT: i32 = 64;
/** Most chunks handed to one writev. */
export const MAX_IOV: i32 = 64;

// ---- engine.event-kind ----
export const KIND_OPENED: u8 = 0;
export const KIND_DATA: u8 = 1;
export const KIND_CLOSED: u8 = 2;
export const KIND_LISTENER_PAUSED: u8 = 3;
export const KIND_DRAINED: u8 = 4;
export const KIND_RELEASED: u8 = 5;
export const KIND_POLL_FAILED: u8 = 6;
export const KIND_ENDED: u8 = 7;
export const KIND_ACCEPTED: u8 = 8;

// ---- engine.failed-call ----
export const CALL_NONE: u32 = 0;
export const CALL_READ: u32 = 1;
export const CALL_WRITE: u32 = 2;
export const CALL_CONNECT: u32 = 3;
export const CALL_EPOLL_CTL: u32 = 4;
export const CALL_SHUTDOWN: u32 = 5;
export const CALL_SEND: u32 = 6;
export const CALL_RECV: u32 = 7;

// ---- sys.shutdown `how` ----
export const SHUT_WR: i32 = 1;

// ---- closed.status causes that are not errnos ----
export const CAUSE_LOCAL: i32 = 0;
export const CAUSE_PEER_ENDED: i32 = 1;
export const CAUSE_WRITE_OVERFLOW: i32 = 2;

// ---- handles ----
//
//   31  30          20 19                 0
//  +---+--------------+--------------------+
//  | 0 |  generation  |        fd          |   generation in 1..2047, never 0
//  +---+--------------+--------------------+
//
// Bit 31 stays clear so a handle is positive as an s32 (add-conn returns
// "handle > 0 or -errno"). The peers of a UDP socket (udp-peers.ts) have
// no descriptor of their own: their handles set bit 31 (PEER_BIT) and
// carry an index into the peer table where the fd would be. Peer handles
// only travel in events and as arguments, never as add-conn results.
export const FD_BITS: u32 = 20;
export const PEER_BIT: u32 = 0x8000_0000;
export const MAX_FDS: i32 = 1 << 20;
export const FD_MASK: u32 = (1 << 20) - 1;
export const GEN_MAX: u32 = (1 << 11) - 1;
