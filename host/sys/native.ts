/**
 * Typed loader for the native Linux shim (host/sys/native/*.c, shim.h).
 *
 * The addon is prebuilt for linux-x64 in the package
 * (host/sys/native/prebuilds/), or built by `npm install` from the C source
 * (node-gyp-build falls back to node-gyp, see host/sys/native/binding.gyp) into
 * host/sys/native/build/Release. The package root is found by walking up from
 * this module, so it works both as host/sys/native.ts (vitest) and as the
 * compiled dist/host/sys/native.js.
 *
 * Conventions shared by every hot-path function below:
 * - Arguments are plain numbers; results are int32: `n >= 0` is the result,
 *   `n < 0` is a negated errno (compare with `-ERRNO.EAGAIN` etc.). They never
 *   throw for an errno and never allocate. Passing a wrong *type* (a
 *   programming error) throws a TypeError.
 * - `buf` is an ArrayBuffer (hot case: `WebAssembly.Memory.buffer`) or any
 *   ArrayBufferView, in which case offsets are relative to the view. The shim
 *   only borrows the bytes for the duration of the call. If the range lies
 *   outside the buffer, or the buffer is detached (the old `memory.buffer`
 *   after `memory.grow()`), the result is `-EFAULT` and no syscall is made:
 *   re-read `memory.buffer` and retry. A bare SharedArrayBuffer throws a
 *   TypeError on Node 20; pass a Uint8Array over it.
 * - Records in buffers are 8 bytes, two little-endian u32s, with no
 *   alignment requirement.
 */
import { createRequire } from 'node:module';
import { constants as osConstants } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from './package-root.js';

/** Bytes or a view of bytes the shim reads from or writes into. */
export type ByteSource = ArrayBuffer | ArrayBufferView;

/** A socket address as returned by getsockname/getpeername. */
export interface SockAddr {
  /** 4 or 6 for IP sockets, 1 for a Unix socket. */
  family: 4 | 6 | 1;
  /**
   * Numeric address text (`127.0.0.1`, `::1`, `::ffff:127.0.0.1`, ...), or
   * for a Unix socket its path: '' when unnamed, '@name' for an abstract
   * name.
   */
  address: string;
  /** The port; 0 for a Unix socket. */
  port: number;
}

declare const watchHandleBrand: unique symbol;

/** Opaque handle of an event-loop watcher (see {@link NativeShim.watchStart}). */
export interface WatchHandle {
  readonly [watchHandleBrand]: true;
}

/** The functions of the native shim. */
export interface NativeShim {
  /**
   * `epoll_create1(EPOLL_CLOEXEC)`.
   * @returns the new epoll fd, or -errno.
   */
  epollCreate(): number;

  /**
   * `epoll_ctl(epfd, op, fd, { events, data.u64 = token })`.
   * @param op `EPOLL.CTL_ADD`, `EPOLL.CTL_MOD` or `EPOLL.CTL_DEL`.
   * @param events EPOLL* bits, read as uint32 (so `EPOLLIN | EPOLLET`, a
   *   negative int32 in JS, is fine).
   * @param token opaque uint32 reported back by {@link epollWait}; a negative
   *   int32 is taken modulo 2^32.
   * @returns 0, or -errno (-EEXIST, -ENOENT, -EBADF, ...).
   */
  epollCtl(epfd: number, op: number, fd: number, events: number, token: number): number;

  /**
   * `epoll_wait` into a stack array of at most 1024 events, then stores one
   * 8-byte record per event at `buf + offset`: u32 token, u32 events
   * (little-endian).
   * @param maxEvents clamped to 1024; `<= 0` gives -EINVAL. The range
   *   `offset + min(maxEvents, 1024) * 8` must fit in `buf`, else -EFAULT.
   * @param timeoutMs 0 polls, -1 blocks (never do that on a thread that
   *   runs a Node event loop), otherwise milliseconds.
   * @returns the number of records stored, or -errno. EINTR is retried when
   *   `timeoutMs` is 0 and reported as 0 events otherwise.
   */
  epollWait(epfd: number, buf: ByteSource, offset: number, maxEvents: number, timeoutMs: number): number;

  /**
   * `accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)`.
   * @returns the accepted fd (non-blocking, close-on-exec), or -errno
   *   (-EAGAIN when nothing is pending).
   */
  accept(fd: number): number;

  /**
   * `read(fd, buf + offset, len)`.
   * @returns bytes read (0 means end of stream), or -errno (-EAGAIN when
   *   nothing is buffered; -EFAULT for a bad range or detached buffer).
   */
  read(fd: number, buf: ByteSource, offset: number, len: number): number;

  /**
   * `send(fd, buf + offset, len, MSG_NOSIGNAL)`: sockets only (-ENOTSOCK
   * otherwise). A reset peer gives -EPIPE / -ECONNRESET, never SIGPIPE.
   * @returns bytes written (may be fewer than `len`), or -errno (-EAGAIN when
   *   the send buffer is full; -EFAULT for a bad range or detached buffer).
   */
  write(fd: number, buf: ByteSource, offset: number, len: number): number;

  /**
   * Gathering write: `sendmsg(fd, iov, MSG_NOSIGNAL)`. `iovCount` records of
   * 8 bytes at `buf + iovOffset`, each a little-endian (u32 offset, u32 len)
   * naming bytes in the SAME `buf` (the canonical-ABI layout of
   * `list<list<u8>>` in Wasm memory). Only the first 1024 records are used
   * per call; the caller loops on partial writes anyway.
   * @returns total bytes written, or -errno: -EFAULT if the record table or
   *   any record's range is outside `buf` (nothing is written then),
   *   -EINVAL for a negative `iovCount`.
   */
  writev(fd: number, buf: ByteSource, iovOffset: number, iovCount: number): number;

  /**
   * `sendfile(outFd, inFd, &offset, count)`: at most `count` bytes of the
   * file `inFd` from byte `offset`, straight from the page cache to the
   * socket `outFd`, not through user space. The file's own position is
   * neither used nor moved. A reset peer gives -EPIPE (Node ignores
   * SIGPIPE).
   * @param offset an integer, 0 <= offset < 2^53; negative gives -EINVAL.
   * @returns bytes sent (fewer than `count` when the socket buffer filled),
   *   0 when the file ends at `offset`, or -errno (-EAGAIN: the send buffer
   *   is full).
   */
  sendFile(outFd: number, inFd: number, offset: number, count: number): number;

  /**
   * Receives one datagram: `recvfrom(fd, buf + offset, len, MSG_TRUNC)`.
   * At `buf + sourceOffset` it stores the sender's address: a u32 length,
   * then the bytes of the `sockaddr` (at most 28; 32 bytes must fit).
   * @returns the datagram's full size (more than `len` when it was cut to
   *   fit), or -errno (-EAGAIN when none is waiting; -EFAULT for a bad
   *   range or detached buffer).
   */
  recvFrom(fd: number, buf: ByteSource, offset: number, len: number, sourceOffset: number): number;

  /**
   * Sends one datagram: `sendto(fd, buf + offset, len, MSG_NOSIGNAL)` to
   * the `sockaddr` of `addrLen` bytes at `buf + addrOffset` (as
   * {@link recvFrom} stores it), or to the connected peer when `addrLen`
   * is 0.
   * @returns bytes sent, or -errno (-EAGAIN when the send buffer is full,
   *   -EMSGSIZE when `len` is more than one datagram can carry).
   */
  sendTo(fd: number, buf: ByteSource, offset: number, len: number, addrOffset: number, addrLen: number): number;

  /**
   * `close(fd)`. An EINTR from close is reported as 0: Linux has released
   * the descriptor anyway, and retrying could close a reused fd.
   * Stop any watcher on an epoll fd (watchStop) before closing that fd.
   * @returns 0, or -errno.
   */
  close(fd: number): number;

  /**
   * `shutdown(fd, how)` with how 0 = SHUT_RD, 1 = SHUT_WR, 2 = SHUT_RDWR.
   * @returns 0, or -errno (-ENOTCONN if not connected).
   */
  shutdown(fd: number, how: number): number;

  /**
   * Reads and clears the socket's pending error (`getsockopt SO_ERROR`), e.g.
   * after EPOLLOUT on a connecting socket.
   * @returns 0 if none, -error (e.g. -ECONNREFUSED), or -errno if
   *   getsockopt itself failed.
   */
  socketError(fd: number): number;

  /**
   * Sets TCP_NODELAY (`on` non-zero enables it).
   * @returns 0, or -errno.
   */
  setNoDelay(fd: number, on: number): number;

  /**
   * Sets SO_LINGER. `(1, 0)` makes a later close() send a reset.
   * @returns 0, or -errno.
   */
  setLinger(fd: number, onoff: number, seconds: number): number;

  /**
   * `setsockopt(fd, level, name, &value, sizeof(int))` (see {@link SOCKOPT}).
   * @returns 0, or -errno.
   */
  setSockOpt(fd: number, level: number, name: number, value: number): number;

  /**
   * `getsockopt` of an int option (see {@link SOCKOPT}); SO_LINGER gives
   * its seconds, or -1 when lingering is off.
   * @returns the value, or -errno.
   */
  getSockOpt(fd: number, level: number, name: number): number;

  /**
   * `fcntl(fd, F_DUPFD_CLOEXEC, 0)`: a second descriptor for the same
   * socket (same file status flags, so still non-blocking if it was).
   * @returns the new descriptor, or -errno.
   */
  dup(fd: number): number;

  /**
   * Creates a listening TCP socket: socket(AF_INET or AF_INET6,
   * SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC), SO_REUSEADDR, then per
   * `flags` ({@link LISTEN}): IPV6_V6ONLY (family 6 only) and SO_REUSEPORT
   * (several sockets share the port; the kernel spreads connections over
   * them), bind, listen. No DNS: `address` must be a numeric IPv4/IPv6
   * literal (no `%scope`). Port 0 picks a free port; read it back with
   * {@link getsockname}.
   * @returns the listening fd, or -errno: -EINVAL if the address does not
   *   parse or the port is outside 0..65535, -EAFNOSUPPORT if family is not 4
   *   or 6, else the failing syscall's errno (the socket is closed then).
   */
  listen(family: 4 | 6, address: string, port: number, backlog: number, flags: number): number;

  /**
   * Starts a non-blocking TCP connect (socket NONBLOCK | CLOEXEC, then
   * connect). In progress counts as success: register the fd for EPOLLOUT,
   * then check {@link socketError}. Address rules as for {@link listen}.
   * @returns the socket fd, or -errno (the socket is closed then).
   */
  connect(family: 4 | 6, address: string, port: number): number;

  /**
   * Creates a listening Unix stream socket (non-blocking, close-on-exec)
   * bound to `path`; `'@name'` is the Linux abstract name `name` (no file).
   * @returns the listening fd, or -errno: -EADDRINUSE when the path exists
   *   (a live server, or a stale file: tell them apart with
   *   {@link connectUnix}), -ENAMETOOLONG past 107 bytes, -EINVAL for ''.
   */
  listenUnix(path: string, backlog: number): number;

  /**
   * Connects a non-blocking Unix stream socket to `path` (`'@name'`:
   * abstract), which completes at once.
   * @returns the connected fd, or -errno: -ECONNREFUSED when nothing
   *   listens there, -ENOENT when there is no such file, -EAGAIN when the
   *   server's accept queue is full.
   */
  connectUnix(path: string): number;

  /**
   * Creates a non-blocking UDP socket for `address` (numeric, as for
   * {@link listen}): with `connect` 0, bound to it (`flags` as for listen:
   * V6ONLY, REUSEPORT); with `connect` 1, connected to it (it then sends to
   * and hears from that peer only).
   * @returns the fd, or -errno.
   */
  udpSocket(family: 4 | 6, address: string, port: number, flags: number, connect: 0 | 1): number;

  /**
   * Local address of a socket. Allocates (not a hot-path call).
   * @returns the address, or -errno (-EAFNOSUPPORT for non-IP sockets).
   */
  getsockname(fd: number): SockAddr | number;

  /**
   * Peer address of a connected socket. Allocates.
   * @returns the address, or -errno (-ENOTCONN if not connected).
   */
  getpeername(fd: number): SockAddr | number;

  /**
   * `madvise(MADV_DONTNEED)` on the whole pages inside `[offset, offset +
   * len)` of `buf`: their memory goes back to the system and they read as
   * zeros afterwards (for private anonymous memory such as a WebAssembly
   * memory). The caller promises nothing there is needed any more.
   * @returns 0 (also when no whole page lies inside), or -errno (-EFAULT
   *   for a bad range or detached buffer).
   */
  discard(buf: ByteSource, offset: number, len: number): number;

  /**
   * Bytes of the whole pages inside `[offset, offset + len)` of `buf` that
   * are resident in memory (`mincore`). Allocates; not for hot paths.
   * @returns the byte count, or -errno.
   */
  resident(buf: ByteSource, offset: number, len: number): number;

  /**
   * Watches an epoll fd on the CALLING thread's libuv loop (main thread or a
   * worker_thread): a `uv_poll_t` for readability, which means "the epoll set
   * has something ready". `callback` then runs like any libuv callback
   * (process.nextTick and microtasks drain after it; async context of its
   * own). It is level-triggered: it fires again on the next loop turn while
   * anything stays ready, so drain with epollWait(timeout 0). It is called
   * with no argument, except once if libuv reports an error on the
   * descriptor (POLLERR): then with the negated errno (e.g. -9, EBADF), and
   * the watcher has stopped for good. If it throws, the error goes to
   * process 'uncaughtException' (or the Worker's 'error').
   * The watcher is ref'd (keeps the event loop alive) until watchRef(h,
   * false) or watchStop(h). Watchers still running when the thread's
   * environment is torn down (worker exit or terminate, process exit) are
   * closed automatically.
   * @throws TypeError for bad arguments; an Error with `code` (e.g. 'EBADF',
   *   'EPERM') if libuv cannot watch `epfd`.
   */
  watchStart(epfd: number, callback: (status?: number) => void): WatchHandle;

  /**
   * Stops and closes a watcher: no callback runs after this returns.
   * Idempotent, and safe to call from inside its own callback. Memory is
   * released once libuv has closed the handle and the handle object is
   * garbage.
   */
  watchStop(handle: WatchHandle): void;

  /**
   * `uv_ref` (`true`) or `uv_unref` (`false`): whether the watcher keeps the
   * event loop (and so the process or worker) alive. An unref'd watcher still
   * delivers callbacks while something else keeps the loop running. No-op
   * after watchStop.
   */
  watchRef(handle: WatchHandle, ref: boolean): void;
}

/** Linux epoll constants (same values on every Linux architecture). */
export const EPOLL = {
  CTL_ADD: 1,
  CTL_DEL: 2,
  CTL_MOD: 3,
  IN: 0x001,
  OUT: 0x004,
  ERR: 0x008,
  HUP: 0x010,
  RDHUP: 0x2000,
  ET: 0x80000000,
} as const;

/** Levels and names of the int socket options the engine sets (Linux values). */
export const SOCKOPT = {
  SOL_SOCKET: 1,
  SO_SNDBUF: 7,
  SO_RCVBUF: 8,
  SO_KEEPALIVE: 9,
  SO_LINGER: 13,
  IPPROTO_TCP: 6,
  TCP_NODELAY: 1,
  TCP_KEEPIDLE: 4,
} as const;

/** `flags` bits of {@link NativeShim.listen}. */
export const LISTEN = {
  V6ONLY: 1,
  REUSEPORT: 2,
} as const;

/** errno numbers of this platform (positive; results carry them negated). */
export const ERRNO = osConstants.errno;

/** Where the addon is looked for: its sources, the node-gyp build beside them, and prebuilds/ (packages). */
const addonDir = join(packageRoot, 'host', 'sys', 'native');

/**
 * Absolute path of the addon this process loads: a local build
 * (host/sys/native/build/Release, made by `npm install` from a source checkout
 * or on a platform without a prebuild) or the prebuilt one shipped in the
 * package (host/sys/native/prebuilds/<platform>-<arch>/), found by node-gyp-build.
 */
export const addonPath: string = resolveAddon();

function resolveAddon(): string {
  const nodeGypBuild = createRequire(import.meta.url)('node-gyp-build') as { resolve(dir: string): string };
  try {
    return nodeGypBuild.resolve(addonDir);
  } catch (err) {
    throw new Error(
      `nbio-wasm: no native shim for this platform in ${addonDir} (${(err as Error).message.split('\n')[0]}); ` +
        'reinstall the package so that it is built from source (a C compiler, make and python3 are needed)',
    );
  }
}

function load(): NativeShim {
  return createRequire(import.meta.url)(addonPath) as NativeShim;
}

/** The loaded native shim (one instance per thread; the addon is context-aware). */
export const native: NativeShim = load();
