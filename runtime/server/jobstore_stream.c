/* jobstore_stream.c - the channels between a running job's worker and
 * the rest of the store: stream chunks (posted by the worker, long-polled
 * by /stream) and stop reports (long-polled by the worker's job-stop). */
#include "server/jobstore_int.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"

int rp_jobstore_stream_append(struct rp_jobstore *js, const char *worker,
                              const char *id, const char *data, size_t len)
{
  long long now = rp_jobstore_lock(js);
  struct chunk *c;
  struct job *j;
  struct job *woken = NULL;
  int rc = RP_OK;
  rp_jobstore_seen(js, worker, now);
  j = rp_jobstore_find_taken(js, id);
  if (!j) {
    rc = RP_JOBSTORE_ENOENT;
    goto out;
  }
  j->stream_posts++;
  if (rp_jobstore_terminal(j)) {
    j->late_posts++;
    goto out;
  }
  if (len > js->lim.max_stream_bytes ||
      j->chunk_bytes > js->lim.max_stream_bytes - len) {
    rc = RP_ETOOBIG;
    goto out;
  }
  c = malloc(sizeof(*c) + len + 1);
  if (!c) {
    rc = RP_ENOMEM;
    goto out;
  }
  c->next = NULL;
  c->len = len;
  memcpy(c->data, data, len);
  c->data[len] = '\0';
  if (j->chunks_tail)
    j->chunks_tail->next = c;
  else
    j->chunks = c;
  j->chunks_tail = c;
  j->chunk_bytes += len;
  /* A reader busy writing the last chunks out waits on nothing: no
   * wake-up is due. */
  if (j->waiters > 0) {
    j->waiters++;
    woken = j;
  }
out:
  pthread_mutex_unlock(&js->mu);
  if (woken)
    rp_jobstore_wake_unlocked(js, woken);
  return rc;
}

int rp_jobstore_stream_read(struct rp_jobstore *js, const char *id,
                            long wait_ms, struct rp_buf *out)
{
  long long now = rp_jobstore_lock(js);
  long long deadline = now + (wait_ms > 0 ? wait_ms : 0);
  size_t mark = out->len;
  int with_output;
  struct chunk *c;
  struct job *j = rp_jobstore_find(js, id);
  int rc = RP_OK;
  if (!j) {
    rc = RP_JOBSTORE_ENOENT;
    goto out;
  }
  while (!j->chunks && !rp_jobstore_terminal(j)) {
    int w = rp_jobstore_wait_job(js, j, deadline);
    if (w == -2) {
      rc = RP_JOBSTORE_ENOENT;
      goto out;
    }
    if (w != 0)
      break;
  }
  with_output = rp_jobstore_terminal(j) && j->stream_posts == 0 && j->output &&
                !j->output_streamed;
  rc = rp_buf_printf(out, "{\"status\":\"%s\",\"stream\":[",
                     rp_jobstore_status_name(j->status));
  for (c = j->chunks; c && rc == RP_OK; c = c->next) {
    rc = rp_buf_puts(out, c == j->chunks ? "{\"output\":" : ",{\"output\":");
    if (rc == RP_OK)
      rc = rp_buf_append(out, c->data, c->len);
    if (rc == RP_OK)
      rc = rp_buf_puts(out, "}");
  }
  if (rc == RP_OK && with_output) {
    rc = rp_buf_puts(out, "{\"output\":");
    if (rc == RP_OK)
      rc = rp_buf_append(out, j->output, j->output_len);
    if (rc == RP_OK)
      rc = rp_buf_puts(out, "}");
  }
  if (rc == RP_OK)
    rc = rp_buf_puts(out, "]");
  /* A failed job says why, as the Python SDK's StreamOutput does. */
  if (rc == RP_OK && rp_jobstore_terminal(j) && j->error) {
    rc = rp_buf_puts(out, ",\"error\":");
    if (rc == RP_OK)
      rc = rp_buf_append(out, j->error, j->error_len);
  }
  if (rc == RP_OK)
    rc = rp_buf_puts(out, "}");
  if (rc != RP_OK) {
    out->len = mark;                 /* nothing delivered */
    if (out->data)
      out->data[mark] = '\0';
    goto out;
  }
  rp_jobstore_free_chunks(j);
  if (with_output)
    j->output_streamed = 1;
out:
  pthread_mutex_unlock(&js->mu);
  return rc;
}

/* Does a job of 'worker' wait to be reported by job-stop? */
static int has_stop(struct rp_jobstore *js, const char *worker)
{
  struct job *j;
  if (js->stops_pending == 0)
    return 0;
  for (j = js->lists[ON_FINISHED].head; j; j = j->next)
    if (j->stop_pending && strcmp(j->worker, worker) == 0)
      return 1;
  return 0;
}

int rp_jobstore_stops(struct rp_jobstore *js, const char *worker,
                      long wait_ms, struct rp_buf *out)
{
  long long now = rp_jobstore_lock(js);
  long long deadline = now + (wait_ms > 0 ? wait_ms : 0);
  size_t mark = out->len;
  struct job *j;
  int n = 0;
  int rc = RP_OK;
  rp_jobstore_seen(js, worker, now);
  while (!has_stop(js, worker)) {
    if (rp_jobstore_wait(js, &js->cv_stop, deadline) != 0)
      break;
  }
  if (!has_stop(js, worker))
    goto out;
  rc = rp_buf_puts(out, "[");
  for (j = js->lists[ON_FINISHED].head; j && rc == RP_OK; j = j->next) {
    if (!j->stop_pending || strcmp(j->worker, worker) != 0)
      continue;
    const char *wid = rp_jobstore_worker_id_of(j);
    if (n > 0)
      rc = rp_buf_puts(out, ",");
    if (rc == RP_OK)
      rc = rp_json_put_string(out, wid, strlen(wid));
    n++;
  }
  if (rc == RP_OK)
    rc = rp_buf_puts(out, "]");
  if (rc != RP_OK) {
    out->len = mark;
    if (out->data)
      out->data[mark] = '\0';
    n = 0;
    goto out;
  }
  for (j = js->lists[ON_FINISHED].head; j; j = j->next) {
    if (j->stop_pending && strcmp(j->worker, worker) == 0) {
      j->stop_pending = 0;
      js->stops_pending--;
    }
  }
out:
  pthread_mutex_unlock(&js->mu);
  return rc != RP_OK ? rc : n;
}
