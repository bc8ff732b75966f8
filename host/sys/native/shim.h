/*
 * shim.h - what the files of nbio-wasm's Linux syscall shim (plain C
 * Node-API, NAPI 8) share: the helpers that read arguments and return
 * results, the prototypes of the exported functions, and the per-env state.
 * Internal: nothing here is visible outside the addon. Every .c file of the
 * shim includes this header first (it sets _GNU_SOURCE). One file per
 * concern:
 *
 *   epoll.c           epollCreate, epollCtl, epollWait
 *   socket_io.c       I/O and options on a socket: accept, read, write,
 *                     writev, sendFile, recvFrom, sendTo, close, shutdown,
 *                     socketError, setNoDelay, setLinger, setSockOpt,
 *                     getSockOpt, dup
 *   memory.c          discard, resident
 *   listen_connect.c  listen, connect, listenUnix, connectUnix, udpSocket,
 *                     getsockname, getpeername
 *   watchers.c        watchStart, watchStop, watchRef (uv_poll_t)
 *   module.c          registration: the exported names, per-env state
 *
 * Contract (the TypeScript side, host/sys/native.ts, documents each function):
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
#ifndef NBIO_SHIM_H
#define NBIO_SHIM_H

#define _GNU_SOURCE
#ifndef NAPI_VERSION
#define NAPI_VERSION 8
#endif

#include <node_api.h>

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define REC_SIZE 8 /* one (u32, u32) record */

/* Turns a syscall's return value into n | -errno. */
static inline int32_t sys_result(long r) {
  return r < 0 ? -errno : (int32_t)r;
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

/* ---- Results, argument reading, buffers ---- */

/* Every exported function runs these on its hot path: static inline, so the
 * compiler can inline them into each file's callers instead of calling
 * across files. */

/* v as a JS number; NULL (undefined to JS) if Node-API fails. */
static inline napi_value ret_i32(napi_env env, int32_t v) {
  napi_value out;
  if (napi_create_int32(env, v, &out) != napi_ok) return NULL;
  return out;
}

/* Fetches exactly n arguments (missing ones read as undefined). */
static inline bool get_args(napi_env env, napi_callback_info info,
                            size_t n, napi_value *argv) {
  size_t argc = n;
  return napi_get_cb_info(env, info, &argc, argv, NULL, NULL) == napi_ok;
}

/* Throws a TypeError with the message `what`; returns false. */
static inline bool type_error(napi_env env, const char *what) {
  napi_throw_type_error(env, NULL, what);
  return false;
}

/* Reads an int32 / uint32 argument, or throws a TypeError(msg). */
static inline bool arg_i32(napi_env env, napi_value v, const char *msg,
                           int32_t *out) {
  if (napi_get_value_int32(env, v, out) != napi_ok) return type_error(env, msg);
  return true;
}

static inline bool arg_u32(napi_env env, napi_value v, const char *msg,
                           uint32_t *out) {
  if (napi_get_value_uint32(env, v, out) != napi_ok) return type_error(env, msg);
  return true;
}

static inline size_t typedarray_elem_size(napi_typedarray_type t) {
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
static inline bool get_bytes(napi_env env, napi_value v, uint8_t **data,
                             size_t *len) {
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
static inline int32_t check_range(const uint8_t *data, size_t size,
                                  uint64_t off, uint64_t len) {
  if (data == NULL || off > size || len > size - off) return -EFAULT;
  return 0;
}

/*
 * Reads (buf, offset, len) arguments and resolves the byte range. Returns
 * false if a TypeError was thrown; otherwise *err is 0 or -EFAULT.
 */
static inline bool buf_range(napi_env env, napi_value *argv, uint8_t **p,
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
static inline bool fd_buf_range(napi_env env, napi_value *argv, int32_t *fd,
                                uint8_t **p, uint32_t *len, int32_t *err) {
  return arg_i32(env, argv[0], "fd must be a number", fd) &&
         buf_range(env, argv + 1, p, len, err);
}

/* ---- The exported functions, registered by module.c ---- */

/* The addon exports only its module registration: these are hidden, so
 * none can bind to a same-named symbol of the process. */
#pragma GCC visibility push(hidden)

/* epoll.c */
napi_value js_epoll_create(napi_env env, napi_callback_info info);
napi_value js_epoll_ctl(napi_env env, napi_callback_info info);
napi_value js_epoll_wait(napi_env env, napi_callback_info info);

/* socket_io.c */
napi_value js_accept(napi_env env, napi_callback_info info);
napi_value js_read(napi_env env, napi_callback_info info);
napi_value js_write(napi_env env, napi_callback_info info);
napi_value js_writev(napi_env env, napi_callback_info info);
napi_value js_send_file(napi_env env, napi_callback_info info);
napi_value js_recv_from(napi_env env, napi_callback_info info);
napi_value js_send_to(napi_env env, napi_callback_info info);
napi_value js_close(napi_env env, napi_callback_info info);
napi_value js_shutdown(napi_env env, napi_callback_info info);
napi_value js_socket_error(napi_env env, napi_callback_info info);
napi_value js_set_no_delay(napi_env env, napi_callback_info info);
napi_value js_set_linger(napi_env env, napi_callback_info info);
napi_value js_set_sock_opt(napi_env env, napi_callback_info info);
napi_value js_get_sock_opt(napi_env env, napi_callback_info info);
napi_value js_dup(napi_env env, napi_callback_info info);

/* memory.c */
napi_value js_discard(napi_env env, napi_callback_info info);
napi_value js_resident(napi_env env, napi_callback_info info);

/* listen_connect.c */
napi_value js_listen(napi_env env, napi_callback_info info);
napi_value js_connect(napi_env env, napi_callback_info info);
napi_value js_listen_unix(napi_env env, napi_callback_info info);
napi_value js_connect_unix(napi_env env, napi_callback_info info);
napi_value js_udp_socket(napi_env env, napi_callback_info info);
napi_value js_getsockname(napi_env env, napi_callback_info info);
napi_value js_getpeername(napi_env env, napi_callback_info info);

/* watchers.c */
napi_value js_watch_start(napi_env env, napi_callback_info info);
napi_value js_watch_stop(napi_env env, napi_callback_info info);
napi_value js_watch_ref(napi_env env, napi_callback_info info);

#pragma GCC visibility pop

/* ---- Per-env state: module.c creates it, watchers.c keeps its list ---- */

typedef struct watcher watcher;

/* Per-env state (napi instance data): the live watchers of this thread. */
typedef struct {
  watcher *head;                        /* every watcher not yet uv-closed */
  napi_async_cleanup_hook_handle hook;  /* set while head != NULL */
} shim_env;

#endif /* NBIO_SHIM_H */
