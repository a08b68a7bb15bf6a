/* job_server.c - see job_server.h. */
#include "worker/job_server.h"

#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/rp.h"
#include "net/wire.h"

/* How often a wait looks whether the worker is shutting down. */
#define CLOSED_LOOK_MS 100
/* The most an X-Request-ID header (a job id, percent-encoded) may hold. */
#define MAX_REQUEST_ID_BYTES ((size_t)16 * 1024 * 1024)

struct rp_req *rp_job_post_new(const struct rp_job_server *js, int stream,
                               const char *id, size_t id_len, int is_stream,
                               const char *body, size_t len,
                               int *url_failed)
{
  struct rp_buf enc = RP_BUF_INIT(MAX_REQUEST_ID_BYTES);
  const char *rid = id;
  struct rp_req *r = NULL;
  char *url = stream
    ? rp_wire_stream_url(js->stream_tmpl, id, id_len, js->worker_id)
    : rp_wire_done_url(js->done_tmpl, id, id_len, js->worker_id, is_stream);
  *url_failed = !url;
  if (!url)
    return NULL;
  /* Every post of a job and every attempt of it carries the job id as
   * X-Request-ID, as the Python SDK sends it, with the same body: a repeat
   * after an ambiguous time-out is recognisably the same delivery. An id
   * with a NUL byte goes percent-encoded, as in its URL, so that it is not
   * cut short into another job's. */
  if (memchr(id, '\0', id_len))
    rid = rp_wire_put_id(&enc, id, id_len) == RP_OK &&
          rp_buf_puts(&enc, "") == RP_OK ? enc.data : NULL;
  if (rid)
    r = rp_req_new("POST", url, NULL, 0, js->api_key, RP_CONTENT_FORM, rid,
                   js->post_timeout_ms);
  rp_buf_free(&enc);
  free(url);
  if (r) {
    /* Sent from the caller's bytes, as the executor encoded them. */
    curl_easy_setopt(r->easy, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(r->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
  }
  return r;
}

/* Moves the link's requests on; one that ends is finished and taken off
 * the multi handle, and *post_done set when it is post. */
static void pump(struct rp_job_link *l, const struct rp_req *post,
                 int *post_done)
{
  int running;
  int left;
  CURLMsg *m;
  curl_multi_perform(l->multi, &running);
  while ((m = curl_multi_info_read(l->multi, &left)) != NULL) {
    struct rp_req *r = NULL;
    CURLcode result = m->data.result;
    if (m->msg != CURLMSG_DONE)
      continue;
    curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
    rp_req_finish(r, result);
    curl_multi_remove_handle(l->multi, r->easy);
    if (r == post)
      *post_done = 1;
    else if (r == l->take)
      l->take_done = 1;
  }
}

/* Runs the link's requests until *done is set, or gives up (returns 0)
 * once *give_up is set. Returns 1 when done. */
static int wait_until(struct rp_job_link *l, const struct rp_req *post,
                      int *done, atomic_int *give_up)
{
  for (;;) {
    pump(l, post, done);
    if (*done)
      return 1;
    if (give_up && atomic_load(give_up))
      return 0;
    curl_multi_poll(l->multi, NULL, 0, CLOSED_LOOK_MS, NULL);
  }
}

static int ensure_multi(struct rp_job_link *l)
{
  if (!l->multi)
    l->multi = curl_multi_init();
  return l->multi ? RP_OK : RP_ENOMEM;
}

int rp_job_link_begin_take(struct rp_job_link *l,
                           const struct rp_job_server *js, int in_progress)
{
  char *url;
  if (l->take || ensure_multi(l) != RP_OK)
    return RP_ENOMEM;
  url = rp_wire_take_url(js->take_tmpl, js->worker_id, 1, in_progress);
  l->take = url ? rp_req_new("GET", url, NULL, 0, js->api_key,
                             RP_CONTENT_JSON, NULL, js->take_timeout_ms)
                : NULL;
  free(url);
  if (!l->take)
    return RP_ENOMEM;
  l->take_done = 0;
  l->take_sent = rp_clock_now();
  curl_multi_add_handle(l->multi, l->take->easy);
  return RP_OK;
}

int rp_job_link_post(struct rp_job_link *l, const struct rp_job_server *js,
                     const char *id, size_t id_len, int is_stream,
                     const char *body, size_t len, struct rp_req **failed,
                     double *sent)
{
  int url_failed;
  int done = 0;
  struct rp_req *r = ensure_multi(l) == RP_OK
    ? rp_job_post_new(js, 0, id, id_len, is_stream, body, len, &url_failed)
    : NULL;
  *failed = NULL;
  *sent = rp_clock_now();
  if (!r)
    return 0;
  curl_multi_add_handle(l->multi, r->easy);
  if (!wait_until(l, r, &done, js->exiting)) {
    curl_multi_remove_handle(l->multi, r->easy);
    rp_req_free(r);
    return 0;
  }
  if (r->result == CURLE_OK && r->status >= 200 && r->status < 300) {
    rp_req_free(r);
    return 1;
  }
  *failed = r;
  return 0;
}

struct rp_req *rp_job_link_end_take(struct rp_job_link *l,
                                    const struct rp_job_server *js,
                                    double *sent)
{
  struct rp_req *r = l->take;
  *sent = l->take_sent;
  if (!r)
    return NULL;
  if (!wait_until(l, NULL, &l->take_done, js->closed)) {
    curl_multi_remove_handle(l->multi, r->easy);
    rp_req_free(r);
    r = NULL;
  }
  l->take = NULL;
  return r;
}

void rp_job_link_free(struct rp_job_link *l)
{
  if (l->take) {
    curl_multi_remove_handle(l->multi, l->take->easy);
    rp_req_free(l->take);
    l->take = NULL;
  }
  if (l->multi)
    curl_multi_cleanup(l->multi);
  l->multi = NULL;
}
