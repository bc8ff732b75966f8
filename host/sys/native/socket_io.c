/*
 * socket_io.c - I/O and options on an open socket: accept, read, write,
 * writev, recvFrom, sendTo, close, shutdown, socketError, setNoDelay,
 * setLinger, setSockOpt, getSockOpt, dup.
 */
#include "shim.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define MAX_IOV 1024    /* writev records per call (Linux IOV_MAX) */
#define SOURCE_MAX 28   /* bytes of a datagram's source kept: a sockaddr_in6 */

/* accept(fd): new non-blocking, close-on-exec fd | -errno */
napi_value js_accept(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int32_t fd;
  if (!get_args(env, info, 1, argv) ||
      !arg_i32(env, argv[0], "fd must be a number", &fd))
    return NULL;
  return ret_i32(env, sys_result(accept4(fd, NULL, NULL,
                                         SOCK_NONBLOCK | SOCK_CLOEXEC)));
}

/* read(fd, buf, offset, len): bytes read (0 = EOF) | -errno */
napi_value js_read(napi_env env, napi_callback_info info) {
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
napi_value js_write(napi_env env, napi_callback_info info) {
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
napi_value js_writev(napi_env env, napi_callback_info info) {
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
 * sendFile(outFd, inFd, offset, count): bytes sent | -errno. sendfile(2)
 * of at most count bytes of the file inFd, from byte `offset` (a
 * non-negative integer below 2^53; the file's own position is neither used
 * nor moved), to the socket outFd. 0 when the file ends at `offset`.
 * sendfile has no MSG_NOSIGNAL: a reset peer gives -EPIPE only because
 * Node ignores SIGPIPE.
 */
napi_value js_send_file(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  int32_t out_fd, in_fd;
  int64_t offset;
  uint32_t count;
  if (!get_args(env, info, 4, argv) ||
      !arg_i32(env, argv[0], "outFd must be a number", &out_fd) ||
      !arg_i32(env, argv[1], "inFd must be a number", &in_fd) ||
      !arg_u32(env, argv[3], "count must be a number", &count))
    return NULL;
  if (napi_get_value_int64(env, argv[2], &offset) != napi_ok)
    return type_error(env, "offset must be a number"), NULL;
  if (offset < 0) return ret_i32(env, -EINVAL);
  off_t at = (off_t)offset;
  return ret_i32(env, sys_result(sendfile(out_fd, in_fd, &at, count)));
}

/*
 * recvFrom(fd, buf, offset, len, sourceOffset): the datagram's full size |
 * -errno. recvfrom(MSG_TRUNC): at most len bytes land at buf + offset, and
 * the result is the datagram's real size (more than len when it was cut).
 * At buf + sourceOffset: u32 length of the sender's address, then the
 * address itself (at most SOURCE_MAX bytes: 32 bytes are written to).
 */
napi_value js_recv_from(napi_env env, napi_callback_info info) {
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
napi_value js_send_to(napi_env env, napi_callback_info info) {
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
napi_value js_close(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int32_t fd;
  if (!get_args(env, info, 1, argv) ||
      !arg_i32(env, argv[0], "fd must be a number", &fd))
    return NULL;
  int r = close(fd);
  return ret_i32(env, r < 0 && errno != EINTR ? -errno : 0);
}

/* shutdown(fd, how): 0 | -errno (how: 0 = SHUT_RD, 1 = SHUT_WR, 2 = SHUT_RDWR) */
napi_value js_shutdown(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int32_t fd, how;
  if (!get_args(env, info, 2, argv) ||
      !arg_i32(env, argv[0], "fd must be a number", &fd) ||
      !arg_i32(env, argv[1], "how must be a number", &how))
    return NULL;
  return ret_i32(env, sys_result(shutdown(fd, how)));
}

/* socketError(fd): pending SO_ERROR as 0 | -errno (also -errno if getsockopt fails) */
napi_value js_socket_error(napi_env env, napi_callback_info info) {
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
napi_value js_set_no_delay(napi_env env, napi_callback_info info) {
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
napi_value js_set_linger(napi_env env, napi_callback_info info) {
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
napi_value js_set_sock_opt(napi_env env, napi_callback_info info) {
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
napi_value js_get_sock_opt(napi_env env, napi_callback_info info) {
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
napi_value js_dup(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int32_t fd;
  if (!get_args(env, info, 1, argv) ||
      !arg_i32(env, argv[0], "fd must be a number", &fd))
    return NULL;
  return ret_i32(env, sys_result(fcntl(fd, F_DUPFD_CLOEXEC, 0)));
}
