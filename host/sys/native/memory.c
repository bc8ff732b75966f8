/*
 * memory.c - giving pages of a buffer back (discard) and counting
 * resident ones (resident).
 */
#include "shim.h"

#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

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
napi_value js_discard(napi_env env, napi_callback_info info) {
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
napi_value js_resident(napi_env env, napi_callback_info info) {
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
