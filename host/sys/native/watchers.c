/*
 * watchers.c - event-loop watchers: watchStart, watchStop, watchRef. A
 * uv_poll_t on an epoll fd in the calling thread's libuv loop, closed by
 * watchStop or, at the latest, when its env is torn down.
 */
#include "shim.h"

#include <stdlib.h>
#include <uv.h>

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
napi_value js_watch_start(napi_env env, napi_callback_info info) {
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
napi_value js_watch_stop(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  watcher *w;
  if (!get_args(env, info, 1, argv) || !get_watcher(env, argv[0], &w))
    return NULL;
  watcher_close(w);
  return NULL;
}

/* watchRef(handle, ref): undefined; uv_ref / uv_unref */
napi_value js_watch_ref(napi_env env, napi_callback_info info) {
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
