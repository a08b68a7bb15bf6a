/* emu_log.c - the emulator's request log: one JSON line per worker
 * request, kept in a ring of log_max lines, each numbered by a seq that
 * never goes back (docs/emulator.md, "Control API"; emulator_int.h). */
#include "server/emulator_int.h"

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/buf.h"
#include "base/json.h"
#include "base/rp.h"

/* Writes the log line of a request into b, its seq left blank: 19
 * spaces at offset 7, for log_store. Returns RP_OK or b's error. */
static int log_line(struct rp_buf *b, const struct rp_httpd_request *req,
                    const struct rp_httpd_response *res,
                    enum rp_emu_fault_kind fault, long long started)
{
  static const char *const headers[] = {
    "Authorization", "Content-Type", "User-Agent", "X-Request-ID"
  };
  struct rp_buf q = RP_BUF_INIT(RP_EMU_LOG_BODY_MAX);
  size_t i;
  size_t blen = req->body_len;
  int rc;
  if (blen > RP_EMU_LOG_BODY_MAX)
    blen = RP_EMU_LOG_BODY_MAX;
  rc = rp_httpd_query(req, &q);
  if (rc == RP_OK)
    rc = rp_buf_printf(b, "{\"seq\":                   ,\"time\":%.6f,"
                       "\"ms\":%lld,\"method\":", rp_clock_wall(),
                       rp_clock_now_ms() - started);
  if (rc == RP_OK)
    rc = rp_json_put_string(b, req->method, strlen(req->method));
  if (rc == RP_OK)
    rc = rp_buf_puts(b, ",\"path\":");
  if (rc == RP_OK)
    rc = rp_json_put_string(b, req->path, strlen(req->path));
  if (rc == RP_OK)
    rc = rp_buf_puts(b, ",\"query\":");
  if (rc == RP_OK)
    rc = rp_json_put_string(b, q.data ? q.data : "", q.len);
  if (rc == RP_OK)
    rc = rp_buf_puts(b, ",\"headers\":{");
  for (i = 0; i < 4 && rc == RP_OK; i++) {
    const char *v = rp_httpd_header(req, headers[i]);
    rc = rp_buf_printf(b, "%s\"%s\":", i ? "," : "", headers[i]);
    if (rc == RP_OK && v)
      rc = rp_json_put_string(b, v, strlen(v));
    else if (rc == RP_OK)
      rc = rp_buf_puts(b, "null");
  }
  if (rc == RP_OK)
    rc = rp_buf_puts(b, "},\"body\":");
  if (rc == RP_OK)
    rc = rp_json_put_string(b, req->body, blen);
  if (rc == RP_OK)
    rc = rp_buf_printf(b, ",\"body_bytes\":%zu,\"status\":%d,"
                       "\"fault\":%s%s%s}",
                       req->body_len, res->status,
                       fault ? "\"" : "",
                       fault ? rp_emu_fault_names[fault] : "null",
                       fault ? "\"" : "");
  rp_buf_free(&q);
  return rc;
}

/* Numbers line and keeps it in the ring, in place of the oldest line
 * when the ring is full. Takes ownership of line. */
static void log_store(struct rp_emulator *e, char *line)
{
  /* The seq is patched in place, right-aligned in 19 columns: JSON allows
   * the leading spaces. */
  char num[24];
  size_t slot;
  pthread_mutex_lock(&e->mu);
  e->log_seq++;
  snprintf(num, sizeof(num), "%19llu", e->log_seq);
  memcpy(line + 7, num, 19);
  if (e->log_count < e->cfg.log_max) {
    slot = (e->log_head + e->log_count) % e->cfg.log_max;
    e->log_count++;
  } else {
    slot = e->log_head;
    free(e->log[slot]);
    e->log_head = (e->log_head + 1) % e->cfg.log_max;
  }
  e->log[slot] = line;
  pthread_mutex_unlock(&e->mu);
}

void rp_emu_log_request(struct rp_emulator *e,
                        const struct rp_httpd_request *req,
                        const struct rp_httpd_response *res,
                        enum rp_emu_fault_kind fault, long long started)
{
  struct rp_buf b = RP_BUF_INIT(RP_EMU_LOG_BODY_MAX * 8);
  char *line;
  if (e->cfg.log_max == 0)
    return;
  if (log_line(&b, req, res, fault, started) != RP_OK) {
    rp_buf_free(&b);
    return;
  }
  line = rp_buf_steal(&b, NULL);
  if (line)
    log_store(e, line);
}

void rp_emu_log_get(struct rp_emulator *e, const struct rp_httpd_request *req,
                    struct rp_httpd_response *res)
{
  long since;
  size_t i;
  if (rp_emu_arg_number(req, res, "since", 0, LONG_MAX, &since) != 0)
    return;
  res->status = 200;
  res->content_type = "application/x-ndjson";
  pthread_mutex_lock(&e->mu);
  for (i = 0; i < e->log_count; i++) {
    const char *line = e->log[(e->log_head + i) % e->cfg.log_max];
    if (strtoull(line + 7, NULL, 10) <= (unsigned long long)since)
      continue;
    if (rp_buf_puts(&res->body, line) != RP_OK ||
        rp_buf_puts(&res->body, "\n") != RP_OK)
      break;
  }
  pthread_mutex_unlock(&e->mu);
}

void rp_emu_log_clear(struct rp_emulator *e)
{
  size_t i;
  pthread_mutex_lock(&e->mu);
  for (i = 0; i < e->log_count; i++) {
    size_t slot = (e->log_head + i) % e->cfg.log_max;
    free(e->log[slot]);
    e->log[slot] = NULL;
  }
  e->log_head = 0;
  e->log_count = 0;
  pthread_mutex_unlock(&e->mu);
}
