/*
 * nbio_plugin.h: the nbio:plugin world (wit/nbio-plugin.wit) for C.
 *
 * Build a plugin with Debian's clang, lld and wasi-libc
 * (apt-get install -y clang lld wasi-libc libclang-rt-14-dev-wasm32):
 *
 *   clang --target=wasm32-wasi --sysroot=/usr -O2 -mexec-model=reactor \
 *     -o plugin.core.wasm plugin.c
 *
 * (a reactor: its `_initialize` runs the constructors once, before init),
 * then make it a component (build/plugins.mjs does both). Use only the
 * parts of libc that import nothing from WASI (malloc, memcpy, string
 * functions): the engine refuses a plugin with WASI imports.
 *
 * Define NBIO_PLUGIN_IMPLEMENTATION in exactly one file before including
 * this header: it then defines cabi_realloc over malloc/realloc.
 *
 * Memory rules (canonical ABI): lists and strings the host passes in
 * (the `data` of on_data, the `config` of init, returned addresses) were
 * allocated with cabi_realloc, so with malloc: the plugin owns them and
 * frees them with free(). Strings the plugin passes to the host
 * (nbio_log) stay the plugin's.
 */
#ifndef NBIO_PLUGIN_H
#define NBIO_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#define NBIO_IMPORT(module, name) __attribute__((import_module(module), import_name(name)))
#define NBIO_EXPORT(name) __attribute__((export_name(name)))

/** A connection handle (`own<connection>`): an index in this instance's table. */
typedef uint32_t nbio_conn_t;

/** A string returned by the host, in memory from cabi_realloc: free(ptr) when done. */
typedef struct {
  char *ptr;
  size_t len;
} nbio_string_t;

/** `handler.close-reason`. */
enum nbio_close_reason {
  NBIO_CLOSE_LOCAL = 0,
  NBIO_CLOSE_PEER = 1,
  NBIO_CLOSE_TIMEOUT = 2,
  NBIO_CLOSE_ERROR = 3,
  NBIO_CLOSE_STOPPED = 4,
};

/** `host.level`. */
enum nbio_log_level { NBIO_LOG_DEBUG = 0, NBIO_LOG_INFO = 1, NBIO_LOG_WARN = 2, NBIO_LOG_ERROR = 3 };

/* ---- imports: contracts in wit/nbio-plugin.wit ---- */

/** Writes as much of data as the connection takes; returns that count (short: on-drain follows). */
NBIO_IMPORT("nbio:plugin/conn@0.1.0", "[method]connection.write")
uint32_t nbio_conn_write(nbio_conn_t conn, const void *data, size_t len);
NBIO_IMPORT("nbio:plugin/conn@0.1.0", "[method]connection.end")
void nbio_conn_end(nbio_conn_t conn);
NBIO_IMPORT("nbio:plugin/conn@0.1.0", "[method]connection.close")
void nbio_conn_close(nbio_conn_t conn);
NBIO_IMPORT("nbio:plugin/conn@0.1.0", "[method]connection.pause")
void nbio_conn_pause(nbio_conn_t conn);
NBIO_IMPORT("nbio:plugin/conn@0.1.0", "[method]connection.resume")
void nbio_conn_resume(nbio_conn_t conn);
NBIO_IMPORT("nbio:plugin/conn@0.1.0", "[method]connection.local-address")
void nbio_conn_local_address(nbio_conn_t conn, nbio_string_t *ret);
NBIO_IMPORT("nbio:plugin/conn@0.1.0", "[method]connection.remote-address")
void nbio_conn_remote_address(nbio_conn_t conn, nbio_string_t *ret);
/** Gives the handle back; closes the connection if it is still open. */
NBIO_IMPORT("nbio:plugin/conn@0.1.0", "[resource-drop]connection")
void nbio_conn_drop(nbio_conn_t conn);
NBIO_IMPORT("nbio:plugin/host@0.1.0", "log")
void nbio_log(uint32_t level, const char *message, size_t len);

/* ---- exports: a plugin defines these five functions ---- */

/** result<_, string> of init: is_err 0 for ok; else err_ptr/err_len is the message. */
typedef struct {
  uint8_t is_err;
  const char *err_ptr;
  size_t err_len;
} nbio_init_result_t;

#define NBIO_PLUGIN_INIT NBIO_EXPORT("nbio:plugin/handler@0.1.0#init") nbio_init_result_t *
#define NBIO_PLUGIN_ON_OPEN NBIO_EXPORT("nbio:plugin/handler@0.1.0#on-open") uint32_t
#define NBIO_PLUGIN_ON_DATA NBIO_EXPORT("nbio:plugin/handler@0.1.0#on-data") void
#define NBIO_PLUGIN_ON_DRAIN NBIO_EXPORT("nbio:plugin/handler@0.1.0#on-drain") void
#define NBIO_PLUGIN_ON_CLOSE NBIO_EXPORT("nbio:plugin/handler@0.1.0#on-close") void

/*
 *   NBIO_PLUGIN_INIT nbio_init(uint8_t *config, size_t len);
 *   NBIO_PLUGIN_ON_OPEN nbio_on_open(nbio_conn_t conn);          returns the key
 *   NBIO_PLUGIN_ON_DATA nbio_on_data(uint32_t key, uint8_t *data, size_t len);
 *   NBIO_PLUGIN_ON_DRAIN nbio_on_drain(uint32_t key);
 *   NBIO_PLUGIN_ON_CLOSE nbio_on_close(uint32_t key, uint8_t reason);
 */

#ifdef NBIO_PLUGIN_IMPLEMENTATION
#include <stdlib.h>

NBIO_EXPORT("cabi_realloc")
void *cabi_realloc(void *ptr, size_t old_size, size_t align, size_t new_size) {
  (void)old_size;
  (void)align; /* malloc's alignment (16) covers every canonical-ABI type */
  if (new_size == 0) return (void *)align;
  return realloc(ptr, new_size);
}
#endif

#endif
