/*
 * module.c - module registration: the names the addon exports, and the
 * per-env state (shim_env) every env that loads it gets.
 */
#include "shim.h"

#include <stdlib.h>

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
    FN("sendFile", js_send_file),
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
