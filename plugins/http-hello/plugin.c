/*
 * http-hello: a minimal HTTP/1.1 responder. Every request (headers up to
 * the blank line; bodies are not supported) gets "200 OK" with the body
 * given as config (default "Hello, world\n"). Keep-alive and pipelining
 * work; "Connection: close" in a request ends the connection after its
 * response; a request head over 8 KiB gets "431" and the connection ends.
 */
#define NBIO_PLUGIN_IMPLEMENTATION
#include "../sdk/c/nbio_plugin.h"

#include <stdlib.h>
#include <string.h>

#define MAX_HEAD 8192
#define MAX_CONNS 65536

typedef struct {
  nbio_conn_t conn;
  int used;
  char *in;            /* request bytes not answered yet */
  size_t in_len;
  char *out;           /* response bytes the connection did not take yet */
  size_t out_len;
  int end_after_out;   /* end() once out is written */
} session_t;

static session_t *sessions;
static uint32_t session_cap;
static char *body = "Hello, world\n";
static size_t body_len = 13;
static nbio_init_result_t init_result;

NBIO_PLUGIN_INIT nbio_init(uint8_t *config, size_t len) {
  init_result.is_err = 0;
  if (len > 0) {
    body = (char *)config; /* ours to keep: allocated with cabi_realloc */
    body_len = len;
  }
  return &init_result;
}

static session_t *session(uint32_t key) { return &sessions[key]; }

/* Writes what it can of s->out (then more from buf); keeps the rest, pausing reads. */
static void send_bytes(session_t *s, const char *buf, size_t len) {
  if (s->out_len == 0) {
    size_t n = nbio_conn_write(s->conn, buf, len);
    buf += n;
    len -= n;
    if (len == 0) return;
    nbio_conn_pause(s->conn);
  }
  s->out = realloc(s->out, s->out_len + len);
  memcpy(s->out + s->out_len, buf, len);
  s->out_len += len;
}

/* Appends text to buf at *at (stdio would import WASI). */
static void put(char *buf, size_t *at, const char *text) {
  size_t n = strlen(text);
  memcpy(buf + *at, text, n);
  *at += n;
}

static void put_size(char *buf, size_t *at, size_t v) {
  char digits[24];
  int n = 0;
  do digits[n++] = (char)('0' + v % 10); while ((v /= 10) != 0);
  while (n > 0) buf[(*at)++] = digits[--n];
}

static void respond(session_t *s, const char *status, int with_body, int close_after) {
  char head[256];
  size_t n = 0;
  put(head, &n, "HTTP/1.1 ");
  put(head, &n, status);
  put(head, &n, "\r\nContent-Type: text/plain\r\nContent-Length: ");
  put_size(head, &n, with_body ? body_len : 0);
  put(head, &n, close_after ? "\r\nConnection: close\r\n\r\n" : "\r\n\r\n");
  send_bytes(s, head, n);
  if (with_body) send_bytes(s, body, body_len);
  if (close_after) {
    if (s->out_len == 0) nbio_conn_end(s->conn);
    else s->end_after_out = 1;
  }
}

static char *find_head_end(char *p, size_t len) {
  for (size_t i = 3; i < len; i++) {
    if (p[i] == '\n' && p[i - 1] == '\r' && p[i - 2] == '\n' && p[i - 3] == '\r') return p + i + 1;
  }
  return NULL;
}

static int asks_to_close(const char *head, size_t len) {
  static const char token[] = "connection: close";
  size_t t = sizeof token - 1;
  for (size_t i = 0; i + t <= len; i++) {
    size_t k = 0;
    while (k < t && (head[i + k] | 0x20) == (token[k] | 0x20)) k++;
    if (k == t) return 1;
  }
  return 0;
}

NBIO_PLUGIN_ON_OPEN nbio_on_open(nbio_conn_t conn) {
  uint32_t key = 0;
  while (key < session_cap && sessions[key].used) key++;
  if (key == session_cap) {
    uint32_t cap = session_cap ? session_cap * 2 : 64;
    if (cap > MAX_CONNS) { nbio_conn_drop(conn); return 0xffffffff; }
    sessions = realloc(sessions, cap * sizeof(session_t));
    memset(sessions + session_cap, 0, (cap - session_cap) * sizeof(session_t));
    session_cap = cap;
  }
  session_t *s = session(key);
  memset(s, 0, sizeof *s);
  s->used = 1;
  s->conn = conn;
  return key;
}

NBIO_PLUGIN_ON_DATA nbio_on_data(uint32_t key, uint8_t *data, size_t len) {
  session_t *s = session(key);
  s->in = realloc(s->in, s->in_len + len);
  memcpy(s->in + s->in_len, data, len);
  s->in_len += len;
  free(data);
  char *end;
  while (!s->end_after_out && (end = find_head_end(s->in, s->in_len)) != NULL) {
    size_t head_len = (size_t)(end - s->in);
    respond(s, "200 OK", 1, asks_to_close(s->in, head_len));
    memmove(s->in, end, s->in_len - head_len);
    s->in_len -= head_len;
  }
  if (s->in_len > MAX_HEAD) {
    s->in_len = 0;
    respond(s, "431 Request Header Fields Too Large", 0, 1);
  }
}

NBIO_PLUGIN_ON_DRAIN nbio_on_drain(uint32_t key) {
  session_t *s = session(key);
  size_t n = nbio_conn_write(s->conn, s->out, s->out_len);
  memmove(s->out, s->out + n, s->out_len - n);
  s->out_len -= n;
  if (s->out_len > 0) return;
  if (s->end_after_out) nbio_conn_end(s->conn);
  else nbio_conn_resume(s->conn);
}

NBIO_PLUGIN_ON_CLOSE nbio_on_close(uint32_t key, uint8_t reason) {
  (void)reason;
  if (key >= session_cap) return;
  session_t *s = session(key);
  nbio_conn_drop(s->conn);
  free(s->in);
  free(s->out);
  memset(s, 0, sizeof *s);
}
