/* wire.c - see wire.h. */
#include "net/wire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/json.h"
#include "base/rp.h"

#define MAX_URL ((size_t)64 * 1024)

char *rp_wire_replace(const char *s, const char *from, const char *to)
{
  struct rp_buf b = RP_BUF_INIT(MAX_URL);
  size_t flen = strlen(from);
  const char *p;
  int rc = RP_OK;
  while (rc == RP_OK && flen > 0 && (p = strstr(s, from)) != NULL) {
    rc = rp_buf_append(&b, s, (size_t)(p - s));
    if (rc == RP_OK)
      rc = rp_buf_puts(&b, to);
    s = p + flen;
  }
  if (rc == RP_OK)
    rc = rp_buf_puts(&b, s);
  if (rc != RP_OK) {
    rp_buf_free(&b);
    return NULL;
  }
  return rp_buf_steal(&b, NULL);
}

/* Appends "name=value" with '?' or '&' as the URL needs. Takes ownership
 * of url (freed, also on failure); returns the new string or NULL. */
static char *add_param(char *url, const char *name, const char *value)
{
  struct rp_buf b = RP_BUF_INIT(MAX_URL);
  int rc;
  if (!url)
    return NULL;
  rc = rp_buf_printf(&b, "%s%c%s=%s", url, strchr(url, '?') ? '&' : '?',
                     name, value);
  free(url);
  if (rc != RP_OK) {
    rp_buf_free(&b);
    return NULL;
  }
  return rp_buf_steal(&b, NULL);
}

/* tmpl with $RUNPOD_POD_ID = worker id, then $ID = id (as it is). */
static char *substitute(const char *tmpl, const char *id,
                        const char *worker_id)
{
  char *a = rp_wire_replace(tmpl, "$RUNPOD_POD_ID", worker_id);
  char *b = a ? rp_wire_replace(a, "$ID", id) : NULL;
  free(a);
  return b;
}

int rp_wire_put_id(struct rp_buf *b, const char *id, size_t n)
{
  static const char hex[] = "0123456789ABCDEF";
  size_t dots = 0;
  int rc = RP_OK;
  while (dots < n && id[dots] == '.')
    dots++;
  for (size_t i = 0; i < n && rc == RP_OK; i++) {
    unsigned char c = (unsigned char)id[i];
    char esc[3] = { '%', hex[c >> 4], hex[c & 15] };
    /* '.' stays, except in an id of dots only: "." and ".." would be
     * read as dot segments of the path. */
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
        (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '~' ||
        (c == '.' && dots < n))
      rc = rp_buf_append(b, (const char *)&c, 1);
    else
      rc = rp_buf_append(b, esc, 3);
  }
  return rc;
}

/* The job-done or job-stream URL: tmpl with $RUNPOD_POD_ID = worker id,
 * then $ID = the id as one path segment, then "isStream=...". */
static char *job_url(const char *tmpl, const char *id, size_t id_len,
                     const char *worker_id, int is_stream)
{
  struct rp_buf seg = RP_BUF_INIT(MAX_URL);
  char *url = NULL;
  if (rp_wire_put_id(&seg, id, id_len) == RP_OK &&
      rp_buf_puts(&seg, "") == RP_OK)
    url = substitute(tmpl, seg.data, worker_id);
  rp_buf_free(&seg);
  return add_param(url, "isStream", is_stream ? "true" : "false");
}

char *rp_wire_take_url(const char *tmpl, const char *worker_id,
                       int batch, int in_progress)
{
  char *url = substitute(tmpl, worker_id, worker_id);
  char n[24];
  if (url && batch > 1) {
    char *batched = rp_wire_replace(url, "/job-take/", "/job-take-batch/");
    free(url);
    snprintf(n, sizeof(n), "%d", batch);
    url = add_param(batched, "batch_size", n);
  }
  return add_param(url, "job_in_progress", in_progress ? "1" : "0");
}

int rp_wire_lone_job(const char *text, size_t len, char **id,
                     size_t *id_len)
{
  struct rp_json_span v;
  *id = NULL;
  *id_len = 0;
  if (rp_json_member(text, len, "input", &v) != 1 ||
      rp_json_member(text, len, "id", &v) != 1 ||
      rp_json_kind(v) != RP_JSON_STRING ||
      rp_json_string_dup(v, id, id_len) != RP_OK)
    return 0;
  if (*id_len == 0) {
    free(*id);
    *id = NULL;
    return 0;
  }
  return 1;
}

int rp_wire_has_stop(const char *tmpl)
{
  return strstr(tmpl, "/job-take/") != NULL;
}

char *rp_wire_stop_url(const char *tmpl, const char *worker_id)
{
  char *url = rp_wire_has_stop(tmpl) ? substitute(tmpl, worker_id,
                                                  worker_id) : NULL;
  char *stop = url ? rp_wire_replace(url, "/job-take/", "/job-stop/") : NULL;
  free(url);
  return stop;
}

char *rp_wire_done_url(const char *tmpl, const char *job_id,
                       size_t id_len, const char *worker_id, int is_stream)
{
  return job_url(tmpl, job_id, id_len, worker_id, is_stream);
}

char *rp_wire_stream_url(const char *tmpl, const char *job_id,
                         size_t id_len, const char *worker_id)
{
  return job_url(tmpl, job_id, id_len, worker_id, 0);
}

char *rp_wire_ping_url(const char *tmpl, const char *worker_id,
                       const char *job_ids, const char *version)
{
  char *url = rp_wire_replace(tmpl, "$RUNPOD_POD_ID", worker_id);
  if (job_ids && *job_ids)
    url = add_param(url, "job_id", job_ids);
  return add_param(url, "runpod_version", version);
}

/* Appends s[0..n) form-encoded: unreserved bytes as they are, space as
 * '+', everything else %XX. */
static int put_encoded(struct rp_buf *b, const char *s, size_t n)
{
  static const char hex[] = "0123456789ABCDEF";
  int rc = RP_OK;
  for (size_t i = 0; i < n && rc == RP_OK; i++) {
    unsigned char c = (unsigned char)s[i];
    char esc[3] = { '%', hex[c >> 4], hex[c & 15] };
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
        (c >= '0' && c <= '9') || strchr("-._~", c))
      rc = rp_buf_append(b, (const char *)&c, 1);
    else if (c == ' ')
      rc = rp_buf_append(b, "+", 1);
    else
      rc = rp_buf_append(b, esc, 3);
  }
  return rc;
}

/* The byte length of the first 'chars' UTF-8 characters of s. */
static size_t utf8_prefix(const char *s, size_t chars)
{
  size_t i = 0;
  while (s[i] && chars > 0) {
    i++;
    while (((unsigned char)s[i] & 0xC0) == 0x80)
      i++;
    chars--;
  }
  return i;
}

char *rp_wire_unhealthy_url(const char *tmpl, const char *worker_id,
                            const char *check, const char *reason,
                            const char *version)
{
  struct rp_buf b = RP_BUF_INIT(MAX_URL);
  char *url = rp_wire_replace(tmpl, "$RUNPOD_POD_ID", worker_id);
  int rc = url ? rp_buf_printf(&b, "%s%cstatus=unhealthy&check=", url,
                               strchr(url, '?') ? '&' : '?')
               : RP_ENOMEM;
  free(url);
  if (rc == RP_OK)
    rc = put_encoded(&b, check, strlen(check));
  if (rc == RP_OK)
    rc = rp_buf_puts(&b, "&reason=");
  if (rc == RP_OK)
    rc = put_encoded(&b, reason, utf8_prefix(reason, 256));
  if (rc == RP_OK)
    rc = rp_buf_puts(&b, "&runpod_version=");
  if (rc == RP_OK)
    rc = put_encoded(&b, version, strlen(version));
  if (rc != RP_OK) {
    rp_buf_free(&b);
    return NULL;
  }
  return rp_buf_steal(&b, NULL);
}
