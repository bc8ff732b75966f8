/*
 * epoll.c - epollCreate, epollCtl, epollWait: the epoll instance the
 * reactor polls.
 */
#include "shim.h"

#include <sys/epoll.h>

#define MAX_EVENTS 1024 /* epollWait batch limit (stack array) */

/* epollCreate(): epfd | -errno */
napi_value js_epoll_create(napi_env env, napi_callback_info info) {
  return ret_i32(env, sys_result(epoll_create1(EPOLL_CLOEXEC)));
}

/* epollCtl(epfd, op, fd, events, token): 0 | -errno; data.u64 = (u32)token */
napi_value js_epoll_ctl(napi_env env, napi_callback_info info) {
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
napi_value js_epoll_wait(napi_env env, napi_callback_info info) {
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
