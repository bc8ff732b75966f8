/*
 * listen_connect.c - listening, connecting, addresses: listen, connect,
 * listenUnix, connectUnix, udpSocket, getsockname, getpeername.
 */
#include "shim.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

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
napi_value js_listen(napi_env env, napi_callback_info info) {
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
napi_value js_connect(napi_env env, napi_callback_info info) {
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
 * *err is 0, -EINVAL (empty) or -ENAMETOOLONG (its UTF-8 does not fit
 * sun_path).
 */
static bool make_sockaddr_un(napi_env env, napi_value v, struct sockaddr_un *sun,
                             socklen_t *len, int32_t *err) {
  char path[sizeof sun->sun_path + 1];
  size_t n;
  /* The length first: into a buffer too small, napi copies only the whole
   * characters that fit, which would name a shorter path. */
  if (napi_get_value_string_utf8(env, v, NULL, 0, &n) != napi_ok)
    return type_error(env, "path must be a string");
  memset(sun, 0, sizeof *sun);
  sun->sun_family = AF_UNIX;
  *err = 0;
  if (n >= sizeof sun->sun_path) { /* a pathname needs its NUL */
    *err = -ENAMETOOLONG;
    return true;
  }
  if (napi_get_value_string_utf8(env, v, path, sizeof path, &n) != napi_ok)
    return type_error(env, "path must be a string");
  if (n == 0 || (n == 1 && path[0] == '@')) {
    *err = -EINVAL;
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
napi_value js_listen_unix(napi_env env, napi_callback_info info) {
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
napi_value js_connect_unix(napi_env env, napi_callback_info info) {
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
napi_value js_udp_socket(napi_env env, napi_callback_info info) {
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
napi_value js_getsockname(napi_env env, napi_callback_info info) {
  return sockname(env, info, false);
}

/* getpeername(fd): { family, address, port } | -errno */
napi_value js_getpeername(napi_env env, napi_callback_info info) {
  return sockname(env, info, true);
}
