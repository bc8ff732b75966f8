/*
 * nbio_shim.c - the Linux syscall shim of nbio-wasm (plain C Node-API, NAPI 8).
 *
 * Contract (the TypeScript side, host/native.ts, documents each function):
 *
 *  - Hot-path functions take int32/uint32 numbers and return one int32:
 *    n >= 0 is the result, n < 0 is a negated errno. They never throw for an
 *    errno and never allocate. A wrong argument *type* (a programming error)
 *    throws a TypeError.
 *  - Byte arguments are (buf, offset, len): `buf` is an ArrayBuffer (the hot
 *    case: WebAssembly.Memory.buffer) or any ArrayBufferView (offset relative
 *    to the view). offset + len must lie inside the buffer, else -EFAULT
 *    before any syscall. A detached ArrayBuffer (the old memory.buffer after
 *    memory.grow()) has no data and always gives -EFAULT, never a crash.
 *  - Binary records written or read in buffers are little-endian u32 pairs:
 *    epollWait stores (token, events), writev reads (offset, len).
 *  - Sockets are created non-blocking and close-on-exec; writes use
 *    MSG_NOSIGNAL, so a reset peer gives -EPIPE, not SIGPIPE.
 *  - watchStart puts a uv_poll_t (UV_READABLE) on an epoll fd in the calling
 *    thread's libuv loop and calls a JS callback through napi_make_callback
 *    whenever the epoll set has something ready. Watchers are tracked per
 *    Node-API env; an async cleanup hook closes the remaining ones when the
 *    env (a worker thread, or the main thread at exit) is torn down, and is
 *    removed only from the last uv_close callback, so Node waits for them.
 */
#define _GNU_SOURCE
#ifndef NAPI_VERSION
#define NAPI_VERSION 8
#endif

#include <node_api.h>
#include <uv.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_EVENTS 1024 /* epollWait batch limit (stack array) */
#define MAX_IOV 1024    /* writev records per call (Linux IOV_MAX) */
#define REC_SIZE 8      /* one (u32, u32) record */
#define SOURCE_MAX 28   /* bytes of a datagram's source kept: a sockaddr_in6 */

/* ------------------------------------------------------------------------ */
/* Small helpers: results, argument reading, buffers                        */
/* ------------------------------------------------------------------------ */

/* Turns a syscall's return value into n | -errno. */
static inline int32_t sys_result(long r) {
  return r < 0 ? -errno : (int32_t)r;
}

static napi_value ret_i32(napi_env env, int32_t v) {
  napi_value out;
  if (napi_create_int32(env, v, &out) != napi_ok) return NULL;
  return out;
}

/* Fetches exactly n arguments (missing ones read as undefined). */
static bool get_args(napi_env env, napi_callback_info info, size_t n,
                     napi_value *argv) {
  size_t argc = n;
  return napi_get_cb_info(env, info, &argc, argv, NULL, NULL) == napi_ok;
}

static bool type_error(napi_env env, const char *what) {
  napi_throw_type_error(env, NULL, what);
  return false;
}

static bool arg_i32(napi_env env, napi_value v, const char *msg, int32_t *out) {
  if (napi_get_value_int32(env, v, out) != napi_ok) return type_error(env, msg);
  return true;
}

static bool arg_u32(napi_env env, napi_value v, const char *msg, uint32_t *out) {
  if (napi_get_value_uint32(env, v, out) != napi_ok) return type_error(env, msg);
  return true;
}

static size_t typedarray_elem_size(napi_typedarray_type t) {
  switch (t) {
    case napi_int16_array:
    case napi_uint16_array: return 2;
    case napi_int32_array:
    case napi_uint32_array:
    case napi_float32_array: return 4;
    case napi_float64_array:
    case napi_bigint64_array:
    case napi_biguint64_array: return 8;
    default: return 1; /* 1-byte arrays; an unknown type errs on the short side */
  }
}

/*
 * Resolves an ArrayBuffer or ArrayBufferView to (data, byteLength). The
 * ArrayBuffer case is tried first since it is the hot one. A detached buffer
 * yields data == NULL. Throws a TypeError (returns false) for anything else,
 * including a bare SharedArrayBuffer, which Node-API on Node 20 rejects: pass
 * a Uint8Array over it instead.
 */
static bool get_bytes(napi_env env, napi_value v, uint8_t **data, size_t *len) {
  void *p = NULL;
  size_t n = 0;
  if (napi_get_arraybuffer_info(env, v, &p, &n) == napi_ok) {
    *data = p;
    *len = n;
    return true;
  }
  napi_typedarray_type type;
  if (napi_get_typedarray_info(env, v, &type, &n, &p, NULL, NULL) == napi_ok) {
    *data = p;
    *len = n * typedarray_elem_size(type);
    return true;
  }
  if (napi_get_dataview_info(env, v, &n, &p, NULL, NULL) == napi_ok) {
    *data = p;
    *len = n;
    return true;
  }
  return type_error(env,
                    "buf must be an ArrayBuffer or an ArrayBufferView "
                    "(wrap a SharedArrayBuffer in a Uint8Array)");
}

/* Checks [off, off + len) against a buffer: 0, or -EFAULT if outside or detached. */
static int32_t check_range(const uint8_t *data, size_t size, uint64_t off,
                           uint64_t len) {
  if (data == NULL || off > size || len > size - off) return -EFAULT;
  return 0;
}

static inline uint32_t load_u32le(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
         (uint32_t)p[3] << 24;
}

static inline void store_u32le(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
  p[2] = (uint8_t)(v >> 16);
  p[3] = (uint8_t)(v >> 24);
}

/*
 * Reads (buf, offset, len) arguments and resolves the byte range. Returns
 * false if a TypeError was thrown; otherwise *err is 0 or -EFAULT.
 */
static bool buf_range(napi_env env, napi_value *argv, uint8_t **p,
                      uint32_t *len, int32_t *err) {
  uint8_t *data;
  size_t size;
  uint32_t off;
  if (!get_bytes(env, argv[0], &data, &size) ||
      !arg_u32(env, argv[1], "offset must be a number", &off) ||
      !arg_u32(env, argv[2], "len must be a number", len))
    return false;
  *err = check_range(data, size, off, *len);
  *p = *err == 0 ? data + off : NULL;
  return true;
}

/* Reads (fd, buf, offset, len) arguments: as buf_range, after the fd. */
static bool fd_buf_range(napi_env env, napi_value *argv, int32_t *fd,
                         uint8_t **p, uint32_t *len, int32_t *err) {
  return arg_i32(env, argv[0], "fd must be a number", fd) &&
         buf_range(env, argv + 1, p, len, err);
}

/* ------------------------------------------------------------------------ */
/* epoll                                                                    */
/* ------------------------------------------------------------------------ */

/* epollCreate(): epfd | -errno */
static napi_value js_epoll_create(napi_env env, napi_callback_info info) {
  return ret_i32(env, sys_result(epoll_create1(EPOLL_CLOEXEC)));
}

/* epollCtl(epfd, op, fd, events, token): 0 | -errno; data.u64 = (u32)token */
static napi_value js_epoll_ctl(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  int32_t epfd, op, fd;
  uint32_t events, token;
  if (!get_args(env, info, 5, argv) ||
      !arg_i32(env, argv[0], "epfd must be a number", &epfd) ||
      !arg_i32(env, argv[1], "op must be a number", &op) ||
      !arg_i32(env, argv[2], "fd must be a number", &fd) ||
      !arg_u32(env, argv[3], "events must be a number", &events) ||
      !arg_u32(env, argv[4], "token must be a number", &token))
    return NULL;
  struct epoll_event ev = {.events = events, .data.u64 = token};
  return ret_i32(env, sys_result(epoll_ctl(epfd, op, fd, &ev)));
}

/*
 * epollWait(epfd, buf, offset, maxEvents, timeoutMs): n | -errno.
 * Stores n records (u32 token, u32 events) at buf + offset.
 */
static napi_value js_epoll_wait(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  int32_t epfd, max, timeout;
  uint32_t off;
  uint8_t *data;
  size_t size;
  if (!get_args(env, info, 5, argv) ||
      !arg_i32(env, argv[0], "epfd must be a number", &epfd) ||
      !get_bytes(env, argv[1], &data, &size) ||
      !arg_u32(env, argv[2], "offset must be a number", &off) ||
      !arg_i32(env, argv[3], "maxEvents must be a number", &max) ||
      !arg_i32(env, argv[4], "timeoutMs must be a number", &timeout))
    return NULL;
  if (max <= 0) return ret_i32(env, -EINVAL);
  if (max > MAX_EVENTS) max = MAX_EVENTS;
  int32_t err = check_range(data, size, off, (uint64_t)max * REC_SIZE);
  if (err) return ret_i32(env, err);

  struct epoll_event evs[MAX_EVENTS];
  int n;
  do {
    n = epoll_wait(epfd, evs, max, timeout);
  } while (n < 0 && errno == EINTR && timeout == 0);
  if (n < 0) return ret_i32(env, errno == EINTR ? 0 : -errno);

  uint8_t *out = data + off;
  for (int i = 0; i < n; i++, out += REC_SIZE) {
    store_u32le(out, (uint32_t)evs[i].data.u64);
    store_u32le(out + 4, evs[i].events);
  }
  return ret_i32(env, n);
}

/* ------------------------------------------------------------------------ */
/* Socket I/O                                                               */
/* ------------------------------------------------------------------------ */

/* accept(fd): new non-blocking, close-on-exec fd | -errno */
static napi_value js_accept(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int32_t fd;
  if (!get_args(env, info, 1, argv) ||
      !arg_i32(env, argv[0], "fd must be a number", &fd))
    return NULL;
  return ret_i32(env, sys_result(accept4(fd, NULL, NULL,
                                         SOCK_NONBLOCK | SOCK_CLOEXEC)));
}

/* read(fd, buf, offset, len): bytes read (0 = EOF) | -errno */
static napi_value js_read(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  int32_t fd, err;
  uint32_t len;
  uint8_t *p;
  if (!get_args(env, info, 4, argv) ||
      !fd_buf_range(env, argv, &fd, &p, &len, &err))
    return NULL;
  return ret_i32(env, err ? err : sys_result(read(fd, p, len)));
}

/* write(fd, buf, offset, len): bytes written | -errno */
static napi_value js_write(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  int32_t fd, err;
  uint32_t len;
  uint8_t *p;
  if (!get_args(env, info, 4, argv) ||
      !fd_buf_range(env, argv, &fd, &p, &len, &err))
    return NULL;
  return ret_i32(env, err ? err : sys_result(send(fd, p, len, MSG_NOSIGNAL)));
}

/*
 * writev(fd, buf, iovOffset, iovCount): bytes written | -errno.
 * Records (u32 offset, u32 len) at buf + iovOffset; offsets point into buf.
 */
static napi_value js_writev(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  int32_t fd, count;
  uint32_t iov_off;
  uint8_t *data;
  size_t size;
  if (!get_args(env, info, 4, argv) ||
      !arg_i32(env, argv[0], "fd must be a number", &fd) ||
      !get_bytes(env, argv[1], &data, &size) ||
      !arg_u32(env, argv[2], "iovOffset must be a number", &iov_off) ||
      !arg_i32(env, argv[3], "iovCount must be a number", &count))
    return NULL;
  if (count < 0) return ret_i32(env, -EINVAL);
  if (count > MAX_IOV) count = MAX_IOV;
  int32_t err = check_range(data, size, iov_off, (uint64_t)count * REC_SIZE);
  if (err) return ret_i32(env, err);

  struct iovec iov[MAX_IOV];
  const uint8_t *rec = data + iov_off;
  for (int32_t i = 0; i < count; i++, rec += REC_SIZE) {
    uint32_t off = load_u32le(rec), len = load_u32le(rec + 4);
    if (check_range(data, size, off, len)) return ret_i32(env, -EFAULT);
    iov[i].iov_base = data + off;
    iov[i].iov_len = len;
  }
  struct msghdr msg = {.msg_iov = iov, .msg_iovlen = (size_t)count};
  return ret_i32(env, sys_result(sendmsg(fd, &msg, MSG_NOSIGNAL)));
}

/*
 * recvFrom(fd, buf, offset, len, sourceOffset): the datagram's full size |
 * -errno. recvfrom(MSG_TRUNC): at most len bytes land at buf + offset, and
 * the result is the datagram's real size (more than len when it was cut).
 * At buf + sourceOffset: u32 length of the sender's address, then the
 * address itself (at most SOURCE_MAX bytes: 32 bytes are written to).
 */
static napi_value js_recv_from(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  int32_t fd, err;
  uint32_t len, src_off;
  uint8_t *p;
  if (!get_args(env, info, 5, argv) ||
      !fd_buf_range(env, argv, &fd, &p, &len, &err) ||
      !arg_u32(env, argv[4], "sourceOffset must be a number", &src_off))
    return NULL;
  if (err) return ret_i32(env, err);
  uint8_t *data;
  size_t size;
  if (!get_bytes(env, argv[1], &data, &size)) return NULL;
  err = check_range(data, size, src_off, 4 + SOURCE_MAX);
  if (err) return ret_i32(env, err);
  struct sockaddr_storage ss;
  socklen_t sslen = sizeof ss;
  ssize_t n = recvfrom(fd, p, len, MSG_TRUNC, (struct sockaddr *)&ss, &sslen);
  if (n < 0) return ret_i32(env, -errno);
  uint32_t kept = sslen < SOURCE_MAX ? (uint32_t)sslen : SOURCE_MAX;
  store_u32le(data + src_off, kept);
  memcpy(data + src_off + 4, &ss, kept);
  return ret_i32(env, (int32_t)n);
}

/*
 * sendTo(fd, buf, offset, len, addrOffset, addrLen): bytes sent | -errno.
 * sendto(MSG_NOSIGNAL) of one datagram to the address at buf + addrOffset
 * (addrLen bytes, a sockaddr as recvFrom stores it); addrLen 0 sends to
 * the connected peer.
 */
static napi_value js_send_to(napi_env env, napi_callback_info info) {
  napi_value argv[6];
  int32_t fd, err;
  uint32_t len, addr_off, addr_len;
  uint8_t *p;
  if (!get_args(env, info, 6, argv) ||
      !fd_buf_range(env, argv, &fd, &p, &len, &err) ||
      !arg_u32(env, argv[4], "addrOffset must be a number", &addr_off) ||
      !arg_u32(env, argv[5], "addrLen must be a number", &addr_len))
    return NULL;
  if (err) return ret_i32(env, err);
  uint8_t *data;
  size_t size;
  if (!get_bytes(env, argv[1], &data, &size)) return NULL;
  if (addr_len > sizeof(struct sockaddr_storage)) return ret_i32(env, -EINVAL);
  err = check_range(data, size, addr_off, addr_len);
  if (err) return ret_i32(env, err);
  struct sockaddr_storage ss;
  memcpy(&ss, data + addr_off, addr_len);
  ssize_t n = sendto(fd, p, len, MSG_NOSIGNAL,
                     addr_len ? (struct sockaddr *)&ss : NULL, addr_len);
  return ret_i32(env, sys_result(n));
}

/*
 * close(fd): 0 | -errno. Linux releases the descriptor even when close()
 * reports EINTR, and a retry could close a reused number, so EINTR is 0.
 */
static napi_value js_close(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int32_t fd;
  if (!get_args(env, info, 1, argv) ||
      !arg_i32(env, argv[0], "fd must be a number", &fd))
    return NULL;
  int r = close(fd);
  return ret_i32(env, r < 0 && errno != EINTR ? -errno : 0);
}

/* shutdown(fd, how): 0 | -errno (how: 0 = SHUT_RD, 1 = SHUT_WR, 2 = SHUT_RDWR) */
static napi_value js_shutdown(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int32_t fd, how;
  if (!get_args(env, info, 2, argv) ||
      !arg_i32(env, argv[0], "fd must be a number", &fd) ||
      !arg_i32(env, argv[1], "how must be a number", &how))
    return NULL;
  return ret_i32(env, sys_result(shutdown(fd, how)));
}

/* socketError(fd): pending SO_ERROR as 0 | -errno (also -errno if getsockopt fails) */
static napi_value js_socket_error(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int32_t fd;
  if (!get_args(env, info, 1, argv) ||
      !arg_i32(env, argv[0], "fd must be a number", &fd))
    return NULL;
  int so_error = 0;
  socklen_t len = sizeof so_error;
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &len) < 0)
    return ret_i32(env, -errno);
  return ret_i32(env, -so_error);
}

/* setNoDelay(fd, on): 0 | -errno */
static napi_value js_set_no_delay(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int32_t fd, on;
  if (!get_args(env, info, 2, argv) ||
      !arg_i32(env, argv[0], "fd must be a number", &fd) ||
      !arg_i32(env, argv[1], "on must be a number", &on))
    return NULL;
  int v = on != 0;
  return ret_i32(env, sys_result(setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &v,
                                            sizeof v)));
}

/* setLinger(fd, onoff, seconds): 0 | -errno */
static napi_value js_set_linger(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  int32_t fd, onoff, seconds;
  if (!get_args(env, info, 3, argv) ||
      !arg_i32(env, argv[0], "fd must be a number", &fd) ||
      !arg_i32(env, argv[1], "onoff must be a number", &onoff) ||
      !arg_i32(env, argv[2], "seconds must be a number", &seconds))
    return NULL;
  struct linger l = {.l_onoff = onoff != 0, .l_linger = seconds};
  return ret_i32(env, sys_result(setsockopt(fd, SOL_SOCKET, SO_LINGER, &l,
                                            sizeof l)));
}

/* setSockOpt(fd, level, name, value): 0 | -errno; an int option */
static napi_value js_set_sock_opt(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  int32_t fd, level, name, value;
  if (!get_args(env, info, 4, argv) ||
      !arg_i32(env, argv[0], "fd must be a number", &fd) ||
      !arg_i32(env, argv[1], "level must be a number", &level) ||
      !arg_i32(env, argv[2], "name must be a number", &name) ||
      !arg_i32(env, argv[3], "value must be a number", &value))
    return NULL;
  return ret_i32(env, sys_result(setsockopt(fd, level, name, &value,
                                            sizeof value)));
}

/*
 * getSockOpt(fd, level, name): the value | -errno; an int option (so a
 * negative value cannot be told from an error: only for options that are
 * never negative). SO_LINGER gives its seconds, or -1 when it is off.
 */
static napi_value js_get_sock_opt(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  int32_t fd, level, name;
  if (!get_args(env, info, 3, argv) ||
      !arg_i32(env, argv[0], "fd must be a number", &fd) ||
      !arg_i32(env, argv[1], "level must be a number", &level) ||
      !arg_i32(env, argv[2], "name must be a number", &name))
    return NULL;
  if (level == SOL_SOCKET && name == SO_LINGER) {
    struct linger l;
    socklen_t len = sizeof l;
    if (getsockopt(fd, level, name, &l, &len) < 0) return ret_i32(env, -errno);
    return ret_i32(env, l.l_onoff ? l.l_linger : -1);
  }
  int value = 0;
  socklen_t len = sizeof value;
  if (getsockopt(fd, level, name, &value, &len) < 0) return ret_i32(env, -errno);
  return ret_i32(env, value);
}

/* dup(fd): a new close-on-exec descriptor for the same socket | -errno */
static napi_value js_dup(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int32_t fd;
  if (!get_args(env, info, 1, argv) ||
      !arg_i32(env, argv[0], "fd must be a number", &fd))
    return NULL;
  return ret_i32(env, sys_result(fcntl(fd, F_DUPFD_CLOEXEC, 0)));
}

/* ------------------------------------------------------------------------ */
/* Memory: giving pages of a buffer back, counting resident ones            */
/* ------------------------------------------------------------------------ */

/*
 * Reads (buf, offset, len) arguments and narrows the range inward to whole
 * pages: [*start, *start + *bytes). Returns false if a TypeError was
 * thrown; otherwise *err is 0, -EFAULT (bad range, detached buffer), or 1
 * when no whole page lies inside.
 */
static bool page_args(napi_env env, napi_callback_info info, uint8_t **start,
                      size_t *bytes, int32_t *err) {
  napi_value argv[3];
  uint32_t len;
  uint8_t *p;
  if (!get_args(env, info, 3, argv) || !buf_range(env, argv, &p, &len, err))
    return false;
  if (*err) return true;
  uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
  uintptr_t lo = ((uintptr_t)p + page - 1) & ~(page - 1);
  uintptr_t hi = ((uintptr_t)p + len) & ~(page - 1);
  if (hi <= lo) {
    *err = 1;
    return true;
  }
  *start = (uint8_t *)lo;
  *bytes = hi - lo;
  return true;
}

/*
 * discard(buf, offset, len): 0 | -errno. madvise(MADV_DONTNEED) on the
 * whole pages inside [offset, offset + len) of buf: their memory goes back
 * to the system, and they read as zeros afterwards (private anonymous
 * memory, such as a WebAssembly memory). The caller promises nothing there
 * is needed any more.
 */
static napi_value js_discard(napi_env env, napi_callback_info info) {
  uint8_t *start;
  size_t bytes;
  int32_t err;
  if (!page_args(env, info, &start, &bytes, &err)) return NULL;
  if (err) return ret_i32(env, err < 0 ? err : 0);
  return ret_i32(env, sys_result(madvise(start, bytes, MADV_DONTNEED)));
}

/*
 * resident(buf, offset, len): bytes | -errno. How many bytes of the whole
 * pages inside [offset, offset + len) of buf are resident in memory
 * (mincore). Allocates a byte per page; not a hot-path call.
 */
static napi_value js_resident(napi_env env, napi_callback_info info) {
  uint8_t *start;
  size_t bytes;
  int32_t err;
  if (!page_args(env, info, &start, &bytes, &err)) return NULL;
  if (err) return ret_i32(env, err < 0 ? err : 0);
  size_t page = (size_t)sysconf(_SC_PAGESIZE), pages = bytes / page;
  unsigned char *vec = malloc(pages);
  if (vec == NULL) return ret_i32(env, -ENOMEM);
  if (mincore(start, bytes, vec) < 0) {
    int e = errno;
    free(vec);
    return ret_i32(env, -e);
  }
  double resident = 0;
  for (size_t i = 0; i < pages; i++) resident += vec[i] & 1;
  free(vec);
  napi_value out;
  if (napi_create_double(env, resident * (double)page, &out) != napi_ok) return NULL;
  return out;
}

/* ------------------------------------------------------------------------ */
/* Listening, connecting, addresses                                         */
/* ------------------------------------------------------------------------ */

/*
 * Builds a sockaddr from (family 4|6, numeric address string, port). Returns
 * false if a TypeError was thrown; otherwise *err is 0, -EAFNOSUPPORT (bad
 * family) or -EINVAL (address does not parse, port out of range).
 */
static bool make_sockaddr(napi_env env, napi_value *argv,
                          struct sockaddr_storage *ss, socklen_t *sslen,
                          int32_t *err) {
  int32_t family, port;
  char addr[64];
  size_t addrlen;
  if (!arg_i32(env, argv[0], "family must be a number", &family) ||
      !arg_i32(env, argv[2], "port must be a number", &port))
    return false;
  if (napi_get_value_string_utf8(env, argv[1], addr, sizeof addr, &addrlen) !=
      napi_ok)
    return type_error(env, "address must be a string");

  memset(ss, 0, sizeof *ss);
  *err = 0;
  if (family != 4 && family != 6) {
    *err = -EAFNOSUPPORT;
  } else if (port < 0 || port > 65535 || addrlen >= sizeof addr - 1) {
    *err = -EINVAL; /* a filled buffer may be a truncated string */
  } else if (family == 4) {
    struct sockaddr_in *sin = (struct sockaddr_in *)ss;
    sin->sin_family = AF_INET;
    sin->sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, addr, &sin->sin_addr) != 1) *err = -EINVAL;
    *sslen = sizeof *sin;
  } else {
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons((uint16_t)port);
    if (inet_pton(AF_INET6, addr, &sin6->sin6_addr) != 1) *err = -EINVAL;
    *sslen = sizeof *sin6;
  }
  return true;
}

/* Closes fd keeping errno, and returns -errno. */
static int32_t close_fail(int fd) {
  int e = errno;
  close(fd);
  return -e;
}

/*
 * listen(family, address, port, backlog, flags): listening fd | -errno.
 * flags: LISTEN_V6ONLY (IPV6_V6ONLY, family 6 only), LISTEN_REUSEPORT
 * (SO_REUSEPORT: several sockets share the port, the kernel spreads
 * incoming connections over them).
 */
#define LISTEN_V6ONLY 1
#define LISTEN_REUSEPORT 2
static napi_value js_listen(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  struct sockaddr_storage ss;
  socklen_t sslen = 0;
  int32_t backlog, flags, err;
  if (!get_args(env, info, 5, argv) ||
      !make_sockaddr(env, argv, &ss, &sslen, &err) ||
      !arg_i32(env, argv[3], "backlog must be a number", &backlog) ||
      !arg_i32(env, argv[4], "flags must be a number", &flags))
    return NULL;
  if (err) return ret_i32(env, err);

  int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return ret_i32(env, -errno);
  int one = 1, v6 = (flags & LISTEN_V6ONLY) != 0;
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
      ((flags & LISTEN_REUSEPORT) &&
       setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0) ||
      (ss.ss_family == AF_INET6 &&
       setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6, sizeof v6) < 0) ||
      bind(fd, (struct sockaddr *)&ss, sslen) < 0 || listen(fd, backlog) < 0)
    return ret_i32(env, close_fail(fd));
  return ret_i32(env, fd);
}

/*
 * connect(family, address, port): fd | -errno. The connection completes
 * asynchronously: wait for EPOLLOUT, then check socketError(fd).
 */
static napi_value js_connect(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  struct sockaddr_storage ss;
  socklen_t sslen = 0;
  int32_t err;
  if (!get_args(env, info, 3, argv) ||
      !make_sockaddr(env, argv, &ss, &sslen, &err))
    return NULL;
  if (err) return ret_i32(env, err);

  int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return ret_i32(env, -errno);
  /* EINTR also means "continues asynchronously" for connect(2). */
  if (connect(fd, (struct sockaddr *)&ss, sslen) < 0 && errno != EINPROGRESS &&
      errno != EINTR)
    return ret_i32(env, close_fail(fd));
  return ret_i32(env, fd);
}

/*
 * Builds a sockaddr_un from a path; '@name' is the Linux abstract name
 * "name" (no file). Returns false if a TypeError was thrown; otherwise
 * *err is 0, -EINVAL (empty) or -ENAMETOOLONG.
 */
static bool make_sockaddr_un(napi_env env, napi_value v, struct sockaddr_un *sun,
                             socklen_t *len, int32_t *err) {
  char path[sizeof sun->sun_path + 1];
  size_t n;
  if (napi_get_value_string_utf8(env, v, path, sizeof path, &n) != napi_ok)
    return type_error(env, "path must be a string");
  memset(sun, 0, sizeof *sun);
  sun->sun_family = AF_UNIX;
  *err = 0;
  if (n == 0 || (n == 1 && path[0] == '@')) {
    *err = -EINVAL;
  } else if (n >= sizeof sun->sun_path) { /* a pathname needs its NUL */
    *err = -ENAMETOOLONG;
  } else if (path[0] == '@') {
    memcpy(sun->sun_path + 1, path + 1, n - 1); /* sun_path[0] = 0: abstract */
    *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
  } else {
    memcpy(sun->sun_path, path, n);
    *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
  }
  return true;
}

/*
 * listenUnix(path, backlog): listening fd | -errno. A stream socket bound
 * to `path` ('@name': an abstract name). A path that exists gives
 * -EADDRINUSE, whether a server still listens there or not (the caller
 * tells them apart with connectUnix).
 */
static napi_value js_listen_unix(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  struct sockaddr_un sun;
  socklen_t len = 0;
  int32_t backlog, err;
  if (!get_args(env, info, 2, argv) ||
      !make_sockaddr_un(env, argv[0], &sun, &len, &err) ||
      !arg_i32(env, argv[1], "backlog must be a number", &backlog))
    return NULL;
  if (err) return ret_i32(env, err);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return ret_i32(env, -errno);
  if (bind(fd, (struct sockaddr *)&sun, len) < 0 || listen(fd, backlog) < 0)
    return ret_i32(env, close_fail(fd));
  return ret_i32(env, fd);
}

/*
 * connectUnix(path): fd | -errno. A non-blocking stream connect, which on
 * a Unix socket completes at once: -ECONNREFUSED when nothing listens
 * there, -ENOENT when there is no such file, -EAGAIN when the server's
 * accept queue is full.
 */
static napi_value js_connect_unix(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  struct sockaddr_un sun;
  socklen_t len = 0;
  int32_t err;
  if (!get_args(env, info, 1, argv) ||
      !make_sockaddr_un(env, argv[0], &sun, &len, &err))
    return NULL;
  if (err) return ret_i32(env, err);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return ret_i32(env, -errno);
  if (connect(fd, (struct sockaddr *)&sun, len) < 0)
    return ret_i32(env, close_fail(fd));
  return ret_i32(env, fd);
}

/*
 * udpSocket(family, address, port, flags, connect): fd | -errno. A
 * non-blocking UDP socket, bound to the address (`connect` 0; flags as for
 * listen: LISTEN_V6ONLY, LISTEN_REUSEPORT) or connected to it (`connect`
 * 1: it then sends to and receives from that peer only; the kernel picks
 * the local address).
 */
static napi_value js_udp_socket(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  struct sockaddr_storage ss;
  socklen_t sslen = 0;
  int32_t flags, conn, err;
  if (!get_args(env, info, 5, argv) ||
      !make_sockaddr(env, argv, &ss, &sslen, &err) ||
      !arg_i32(env, argv[3], "flags must be a number", &flags) ||
      !arg_i32(env, argv[4], "connect must be a number", &conn))
    return NULL;
  if (err) return ret_i32(env, err);
  int fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return ret_i32(env, -errno);
  int one = 1, v6 = (flags & LISTEN_V6ONLY) != 0;
  if (conn) {
    if (connect(fd, (struct sockaddr *)&ss, sslen) < 0)
      return ret_i32(env, close_fail(fd));
    return ret_i32(env, fd);
  }
  if (((flags & LISTEN_REUSEPORT) &&
       setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0) ||
      (ss.ss_family == AF_INET6 &&
       setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6, sizeof v6) < 0) ||
      bind(fd, (struct sockaddr *)&ss, sslen) < 0)
    return ret_i32(env, close_fail(fd));
  return ret_i32(env, fd);
}

/*
 * A Unix socket address as { family: 1, address, port: 0 }: the path, ''
 * for an unnamed socket, '@name' for an abstract name.
 */
static napi_value unix_to_js(napi_env env, const struct sockaddr_un *sun,
                             socklen_t sslen) {
  size_t off = offsetof(struct sockaddr_un, sun_path);
  size_t n = sslen > off ? sslen - off : 0;
  char text[sizeof sun->sun_path + 1];
  if (n > 0 && sun->sun_path[0] == '\0') { /* abstract: '@' + the name */
    text[0] = '@';
    memcpy(text + 1, sun->sun_path + 1, n - 1);
    text[n] = '\0';
  } else {
    n = strnlen(sun->sun_path, n);
    memcpy(text, sun->sun_path, n);
    text[n] = '\0';
  }
  napi_value obj, vfamily, vaddr, vport;
  if (napi_create_object(env, &obj) != napi_ok ||
      napi_create_int32(env, 1, &vfamily) != napi_ok ||
      napi_create_string_utf8(env, text, n, &vaddr) != napi_ok ||
      napi_create_int32(env, 0, &vport) != napi_ok ||
      napi_set_named_property(env, obj, "family", vfamily) != napi_ok ||
      napi_set_named_property(env, obj, "address", vaddr) != napi_ok ||
      napi_set_named_property(env, obj, "port", vport) != napi_ok)
    return NULL;
  return obj;
}

/* Converts a sockaddr to { family, address, port }, or -EAFNOSUPPORT. */
static napi_value sockaddr_to_js(napi_env env, const struct sockaddr_storage *ss,
                                 socklen_t sslen) {
  char text[INET6_ADDRSTRLEN];
  int family;
  uint16_t port;
  if (ss->ss_family == AF_INET) {
    const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
    inet_ntop(AF_INET, &sin->sin_addr, text, sizeof text);
    family = 4;
    port = ntohs(sin->sin_port);
  } else if (ss->ss_family == AF_INET6) {
    const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;
    inet_ntop(AF_INET6, &sin6->sin6_addr, text, sizeof text);
    family = 6;
    port = ntohs(sin6->sin6_port);
  } else if (ss->ss_family == AF_UNIX) {
    return unix_to_js(env, (const struct sockaddr_un *)ss, sslen);
  } else {
    return ret_i32(env, -EAFNOSUPPORT);
  }
  napi_value obj, vfamily, vaddr, vport;
  if (napi_create_object(env, &obj) != napi_ok ||
      napi_create_int32(env, family, &vfamily) != napi_ok ||
      napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &vaddr) != napi_ok ||
      napi_create_int32(env, port, &vport) != napi_ok ||
      napi_set_named_property(env, obj, "family", vfamily) != napi_ok ||
      napi_set_named_property(env, obj, "address", vaddr) != napi_ok ||
      napi_set_named_property(env, obj, "port", vport) != napi_ok)
    return NULL;
  return obj;
}

static napi_value sockname(napi_env env, napi_callback_info info, bool peer) {
  napi_value argv[1];
  int32_t fd;
  if (!get_args(env, info, 1, argv) ||
      !arg_i32(env, argv[0], "fd must be a number", &fd))
    return NULL;
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  memset(&ss, 0, sizeof ss);
  int r = peer ? getpeername(fd, (struct sockaddr *)&ss, &len)
               : getsockname(fd, (struct sockaddr *)&ss, &len);
  if (r < 0) return ret_i32(env, -errno);
  return sockaddr_to_js(env, &ss, len);
}

/* getsockname(fd): { family, address, port } | -errno */
static napi_value js_getsockname(napi_env env, napi_callback_info info) {
  return sockname(env, info, false);
}

/* getpeername(fd): { family, address, port } | -errno */
static napi_value js_getpeername(napi_env env, napi_callback_info info) {
  return sockname(env, info, true);
}

/* ------------------------------------------------------------------------ */
/* Event-loop watchers (uv_poll_t on an epoll fd)                           */
/* ------------------------------------------------------------------------ */

typedef struct watcher watcher;

/* Per-env state (napi instance data): the live watchers of this thread. */
typedef struct {
  watcher *head;                        /* every watcher not yet uv-closed */
  napi_async_cleanup_hook_handle hook;  /* set while head != NULL */
} shim_env;

/*
 * A watcher is freed when both owners let go: libuv (its close callback ran)
 * and JS (the handle object was finalized). Either may come first.
 */
struct watcher {
  uv_poll_t poll;
  napi_env env;
  shim_env *owner;
  napi_ref callback;
  napi_async_context async_ctx;
  watcher *prev, *next;
  bool linked;    /* in owner's list */
  bool closing;   /* uv_close requested: no more callbacks */
  bool uv_closed; /* close callback ran */
  bool js_alive;  /* the handle object still exists */
};

static const napi_type_tag kWatcherTag = {0x6e62696f77617463ULL,
                                          0x68e3a1c25b0f4d17ULL};

static void watcher_unlink(watcher *w) {
  if (!w->linked) return;
  if (w->prev) w->prev->next = w->next;
  else w->owner->head = w->next;
  if (w->next) w->next->prev = w->prev;
  w->prev = w->next = NULL;
  w->linked = false;
}

static void on_watcher_closed(uv_handle_t *h) {
  watcher *w = h->data;
  shim_env *se = w->owner;
  napi_env env = w->env;
  napi_handle_scope scope;
  bool scoped = napi_open_handle_scope(env, &scope) == napi_ok;
  if (w->callback) napi_delete_reference(env, w->callback);
  if (w->async_ctx) napi_async_destroy(env, w->async_ctx);
  if (scoped) napi_close_handle_scope(env, scope);
  w->callback = NULL;
  w->async_ctx = NULL;
  watcher_unlink(w);
  w->uv_closed = true;
  if (!w->js_alive) free(w);
  /* Last watcher gone: drop the teardown hook (at teardown this tells Node
   * the hook has finished). */
  if (se->head == NULL && se->hook != NULL) {
    napi_async_cleanup_hook_handle hook = se->hook;
    se->hook = NULL;
    napi_remove_async_cleanup_hook(hook);
  }
}

static void watcher_close(watcher *w) {
  if (w->closing) return;
  w->closing = true;
  uv_poll_stop(&w->poll);
  uv_close((uv_handle_t *)&w->poll, on_watcher_closed);
}

/* Env teardown (worker exit/terminate, main-thread exit): close what is left. */
static void on_env_teardown(napi_async_cleanup_hook_handle hook, void *arg) {
  shim_env *se = arg;
  if (se->head == NULL) { /* nothing left to wait for */
    se->hook = NULL;
    napi_remove_async_cleanup_hook(hook);
    return;
  }
  for (watcher *w = se->head; w != NULL; w = w->next) watcher_close(w);
}

/* The JS handle object was garbage-collected (or the env is going away). */
static void on_handle_finalized(napi_env env, void *data, void *hint) {
  watcher *w = data;
  w->js_alive = false;
  if (w->uv_closed) free(w);
}

static void on_poll(uv_poll_t *h, int status, int events) {
  watcher *w = h->data;
  if (w->closing) return;
  napi_env env = w->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value cb, global, arg;
  /* status < 0: libuv reported an error on the descriptor (POLLERR) and has
   * stopped the handle; the callback gets the negated errno, and no further
   * callbacks come. Otherwise it is called with no argument. */
  size_t argc = status < 0 ? 1 : 0;
  if (napi_get_reference_value(env, w->callback, &cb) == napi_ok && cb != NULL &&
      napi_get_global(env, &global) == napi_ok &&
      (argc == 0 || napi_create_int32(env, status, &arg) == napi_ok) &&
      napi_make_callback(env, w->async_ctx, global, cb, argc, &arg, NULL) ==
          napi_pending_exception) {
    bool pending = false;
    napi_value exc;
    if (napi_is_exception_pending(env, &pending) == napi_ok && pending &&
        napi_get_and_clear_last_exception(env, &exc) == napi_ok)
      napi_fatal_exception(env, exc); /* -> process 'uncaughtException' */
  }
  napi_close_handle_scope(env, scope);
}

/* Throws an Error for a libuv failure, with code "EBADF" etc. */
static napi_value throw_uv(napi_env env, int uverr) {
  napi_throw_error(env, uv_err_name(uverr), uv_strerror(uverr));
  return NULL;
}

/* Throws a generic Error unless a napi call already left one pending. */
static napi_value throw_napi_failure(napi_env env) {
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (!pending) napi_throw_error(env, NULL, "nbio_shim: Node-API call failed");
  return NULL;
}

/* Looks up the watcher behind a handle object, or throws a TypeError. */
static bool get_watcher(napi_env env, napi_value v, watcher **out) {
  bool ok = false;
  void *p = NULL;
  if (napi_check_object_type_tag(env, v, &kWatcherTag, &ok) != napi_ok || !ok ||
      napi_unwrap(env, v, &p) != napi_ok || p == NULL)
    return type_error(env, "handle must be a handle returned by watchStart");
  *out = p;
  return true;
}

/* watchStart(epfd, callback): handle object; throws Error(code) if libuv fails */
static napi_value js_watch_start(napi_env env, napi_callback_info info) {
  napi_value argv[2], handle, name;
  int32_t epfd;
  napi_valuetype t;
  shim_env *se = NULL;
  uv_loop_t *loop = NULL;
  if (!get_args(env, info, 2, argv) ||
      !arg_i32(env, argv[0], "epfd must be a number", &epfd))
    return NULL;
  if (napi_typeof(env, argv[1], &t) != napi_ok || t != napi_function) {
    type_error(env, "callback must be a function");
    return NULL;
  }
  if (napi_get_instance_data(env, (void **)&se) != napi_ok || se == NULL ||
      napi_get_uv_event_loop(env, &loop) != napi_ok)
    return throw_napi_failure(env);
  if (epfd < 0) return throw_uv(env, UV_EBADF);

  watcher *w = calloc(1, sizeof *w);
  if (w == NULL) return throw_uv(env, UV_ENOMEM);
  w->env = env;
  w->owner = se;
  int rc = uv_poll_init(loop, &w->poll, epfd);
  if (rc != 0) {
    free(w);
    return throw_uv(env, rc);
  }
  w->poll.data = w;

  /* Listed (and covered by the teardown hook) before anything else can fail,
   * so even a failed start's uv_close completes before the env goes away.
   * From here on, failures go through watcher_close, which frees the rest. */
  w->next = se->head;
  if (se->head) se->head->prev = w;
  se->head = w;
  w->linked = true;
  if (se->hook == NULL &&
      napi_add_async_cleanup_hook(env, on_env_teardown, se, &se->hook) != napi_ok) {
    se->hook = NULL;
    watcher_close(w);
    return throw_napi_failure(env);
  }

  if (napi_create_reference(env, argv[1], 1, &w->callback) != napi_ok ||
      napi_create_string_utf8(env, "nbio:watch", NAPI_AUTO_LENGTH, &name) !=
          napi_ok ||
      napi_async_init(env, NULL, name, &w->async_ctx) != napi_ok ||
      napi_create_object(env, &handle) != napi_ok ||
      napi_type_tag_object(env, handle, &kWatcherTag) != napi_ok ||
      napi_wrap(env, handle, w, on_handle_finalized, NULL, NULL) != napi_ok) {
    watcher_close(w);
    return throw_napi_failure(env);
  }
  w->js_alive = true;

  rc = uv_poll_start(&w->poll, UV_READABLE, on_poll);
  if (rc != 0) {
    watcher_close(w);
    return throw_uv(env, rc);
  }
  return handle;
}

/* watchStop(handle): undefined; idempotent, safe inside the callback */
static napi_value js_watch_stop(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  watcher *w;
  if (!get_args(env, info, 1, argv) || !get_watcher(env, argv[0], &w))
    return NULL;
  watcher_close(w);
  return NULL;
}

/* watchRef(handle, ref): undefined; uv_ref / uv_unref */
static napi_value js_watch_ref(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  watcher *w;
  bool ref;
  if (!get_args(env, info, 2, argv) || !get_watcher(env, argv[0], &w))
    return NULL;
  if (napi_get_value_bool(env, argv[1], &ref) != napi_ok) {
    type_error(env, "ref must be a boolean");
    return NULL;
  }
  if (!w->closing) {
    if (ref) uv_ref((uv_handle_t *)&w->poll);
    else uv_unref((uv_handle_t *)&w->poll);
  }
  return NULL;
}

/* ------------------------------------------------------------------------ */
/* Module registration                                                      */
/* ------------------------------------------------------------------------ */

static void on_env_data_finalized(napi_env env, void *data, void *hint) {
  free(data);
}

#define FN(name, cb) {name, NULL, cb, NULL, NULL, NULL, napi_enumerable, NULL}

static const napi_property_descriptor kExports[] = {
    FN("epollCreate", js_epoll_create),
    FN("epollCtl", js_epoll_ctl),
    FN("epollWait", js_epoll_wait),
    FN("accept", js_accept),
    FN("read", js_read),
    FN("write", js_write),
    FN("writev", js_writev),
    FN("close", js_close),
    FN("shutdown", js_shutdown),
    FN("socketError", js_socket_error),
    FN("setNoDelay", js_set_no_delay),
    FN("setLinger", js_set_linger),
    FN("setSockOpt", js_set_sock_opt),
    FN("getSockOpt", js_get_sock_opt),
    FN("dup", js_dup),
    FN("recvFrom", js_recv_from),
    FN("sendTo", js_send_to),
    FN("listen", js_listen),
    FN("connect", js_connect),
    FN("listenUnix", js_listen_unix),
    FN("connectUnix", js_connect_unix),
    FN("udpSocket", js_udp_socket),
    FN("getsockname", js_getsockname),
    FN("getpeername", js_getpeername),
    FN("discard", js_discard),
    FN("resident", js_resident),
    FN("watchStart", js_watch_start),
    FN("watchStop", js_watch_stop),
    FN("watchRef", js_watch_ref),
};

NAPI_MODULE_INIT() {
  shim_env *se = NULL;
  if (napi_get_instance_data(env, (void **)&se) != napi_ok || se == NULL) {
    se = calloc(1, sizeof *se);
    if (se == NULL ||
        napi_set_instance_data(env, se, on_env_data_finalized, NULL) != napi_ok) {
      free(se);
      napi_throw_error(env, NULL, "nbio_shim: cannot set instance data");
      return NULL;
    }
  }
  if (napi_define_properties(env, exports, sizeof kExports / sizeof kExports[0],
                             kExports) != napi_ok)
    return NULL;
  return exports;
}
