/* take.c - the job-take and job-stop long polls and handing taken jobs
 * to the executors (see serverless_int.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/log.h"
#include "base/rp.h"
#include "base/json.h"
#include "net/wire.h"
#include "worker/serverless_int.h"

/* The most of a job-take answer's size that the next take reserves room
 * for ahead. */
#define MAX_TAKE_HINT ((size_t)64 << 20)
/* RunPod's answer to 429: wait this long before the next take. */
#define TOO_MANY_S 5.0
/* A job-take answered after this long was held open by the server (a long
 * poll), as opposed to answered at once. */
#define HELD_POLL_S 0.25
/* The least time from one job-stop poll to the next, for a server that
 * answers at once. */
#define STOP_POLL_GAP_S 1.0

/* How long a stop asked for a job not yet known counts for it: the loop
 * hears of a job an executor took within a pass. */
#define STOP_MEMO_S 60.0

/* How deep a taken job may nest as the orchestrator reads it: well past
 * the codec's limit, so that the id of a job nested too deep is still
 * found and the job answered (its VM reports the nesting). */
#define TAKE_DEPTH (4 * RP_JSON_MAX_DEPTH)

/* One job of a job-take body, as the scanner found it: nothing is
 * decoded but its id. */
struct taken {
  const char *text;         /* the job's exact bytes */
  size_t len;
  int complete;             /* valid JSON (the scanner's grammar) */
  int has_id;
  int has_input;
  struct rp_json_span id;   /* the values of "id" and "input" */
  struct rp_json_span input;
  char **block;             /* the malloc'ed block text lies in, for the
                               executor to take over; NULL: copy text */
};

static void stop_job(struct state *s, const char *id, size_t id_len);

/* ---- reading the job server's JSON -----------------------------------
 * With the plain-C scanner (base/json.h), in place: a job's bytes go to
 * its executor as they came, and only its VM decodes them. */

/* Whether the JSON string key k decodes to name. */
static int key_is(struct rp_json_span k, const char *name)
{
  char key[RP_JSON_MAX_KEY];
  return rp_json_string(k, key, sizeof(key)) == RP_OK &&
         strcmp(key, name) == 0;
}

/* Reads the job object at p (its '{') up to end: its "id" and "input",
 * member by member, up to the first that is not valid JSON. Returns the
 * object's length when all of it is valid, else 0 (t keeps what was
 * read before). */
static size_t read_job(const char *p, const char *end, struct taken *t)
{
  const char *q = rp_json_skip_ws(p + 1, end);
  if (q < end && *q == '}')
    return (size_t)(q + 1 - p);
  for (;;) {
    struct rp_json_span k;
    struct rp_json_span v;
    if (q >= end || *q != '"' || !(k.n = rp_json_scan(q, (size_t)(end - q),
                                                       0)))
      return 0;
    k.p = q;
    q = rp_json_skip_ws(q + k.n, end);
    if (q >= end || *q != ':')
      return 0;
    v.p = rp_json_skip_ws(q + 1, end);
    v.n = rp_json_scan(v.p, (size_t)(end - v.p), TAKE_DEPTH - 1);
    if (!v.n)
      return 0;
    if (key_is(k, "id")) {          /* duplicates: the last one wins */
      t->id = v;
      t->has_id = 1;
    } else if (key_is(k, "input")) {
      t->input = v;
      t->has_input = 1;
    }
    q = rp_json_skip_ws(v.p + v.n, end);
    if (q < end && *q == ',')
      q = rp_json_skip_ws(q + 1, end);
    else if (q < end && *q == '}')
      return (size_t)(q + 1 - p);
    else
      return 0;
  }
}

/* The job's id, malloc'ed (*id, *len bytes, NUL-safe): a non-empty string
 * or an integer (in decimal). NULL when it has no usable one. */
static char *job_id(const struct taken *t, size_t *len)
{
  char *id = NULL;
  long long n;
  *len = 0;
  if (!t->has_id)
    return NULL;
  if (rp_json_kind(t->id) == RP_JSON_STRING) {
    if (rp_json_string_dup(t->id, &id, len) == RP_OK && *len == 0) {
      free(id);
      id = NULL;
    }
  } else if (rp_json_integer(t->id, &n) == RP_OK && (id = malloc(24))) {
    *len = rp_json_format_int(id, n);
  }
  return id;
}

static void dispatch(struct state *s, const struct taken *t);

/* Dispatches each job of the batch (a JSON array) at p..end. A job that
 * is not valid JSON ends the walk: where the next one starts is unknown. */
static void each_batch_job(struct state *s, const char *p, const char *end)
{
  const char *q = rp_json_skip_ws(p + 1, end);
  if (q < end && *q == ']')
    return;
  while (q < end) {
    struct taken t;
    size_t n;
    memset(&t, 0, sizeof(t));
    t.text = q;
    if (*q == '{') {
      n = read_job(q, end, &t);
      t.complete = n > 0;
      t.len = n ? n : (size_t)(end - q);
      dispatch(s, &t);
    } else {
      n = rp_json_scan(q, (size_t)(end - q), TAKE_DEPTH - 1);
      rp_log(RP_LOG_ERROR, NULL, "job-take: a batch entry that is not a "
             "JSON object was skipped");
    }
    if (!n) {
      rp_log(RP_LOG_ERROR, NULL, "job-take: the batch is not valid JSON "
             "from byte %zu; the jobs after that point were skipped",
             (size_t)(q - p));
      return;
    }
    q = rp_json_skip_ws(q + n, end);
    if (q < end && *q == ',')
      q = rp_json_skip_ws(q + 1, end);
    else
      return;                       /* ']' or the end */
  }
}

/* rp_take_jobs; with block set, *block is the malloc'ed body, which a
 * job that is the whole answer takes over (*block is NULL then). */
static int take_jobs(struct state *s, const char *body, size_t len,
                     char **block)
{
  const char *end = body + len;
  const char *p = rp_json_skip_ws(body, end);
  struct taken t;
  size_t n;
  if (p < end && *p == '[') {
    each_batch_job(s, p, end);
    return RP_OK;
  }
  if (p >= end || *p != '{')
    return RP_EJSON;
  memset(&t, 0, sizeof(t));
  n = read_job(p, end, &t);
  t.text = p;
  t.len = (size_t)(end - p);
  t.complete = n > 0 && rp_json_skip_ws(p + n, end) == end;
  t.block = block;
  if (!t.complete && !t.has_id)
    return RP_EJSON;
  dispatch(s, &t);
  return RP_OK;
}

int rp_take_jobs(struct state *s, const char *body, size_t len)
{
  return take_jobs(s, body, len, NULL);
}

/* Asks each job of a job-stop body's "jobsToStop" to stop. */
static int stop_element(void *ud, struct rp_json_span el)
{
  char *id;
  size_t len;
  if (rp_json_kind(el) == RP_JSON_STRING &&
      rp_json_string_dup(el, &id, &len) == RP_OK) {
    stop_job(ud, id, len);
    free(id);
  }
  return 0;
}

static void each_stop_id(struct state *s, const char *body, size_t len)
{
  struct rp_json_span list;
  if (rp_json_member(body, len, "jobsToStop", &list) == 1 &&
      rp_json_kind(list) == RP_JSON_ARRAY)
    rp_json_each_element(list.p, list.n, stop_element, s);
}

/* ---- taking jobs ---------------------------------------------------- */

int rp_take_running(struct state *s)
{
  int n = 0;
  for (struct job *j = s->jobs; j; j = j->next)
    n += j->running;
  return n;
}

/* Whether the finished job j keeps its place until its result is
 * delivered. At concurrency 1 it does while any of its posts is left
 * (stream partials, then the result), as the Python SDK takes the next
 * job only once they are sent and as an executor that posts the result
 * itself does. Above that: when its result is the next post to go and
 * is RP_BIG_RESULT_BYTES or more (never held alongside the next job's
 * input), or it failed once and waits for a retry (a job server that
 * fails posts gets no more jobs than the concurrency: the Python SDK
 * takes none while a result is owed); not while stream partials before
 * it are still retrying (each has its own retry window): the slot would
 * be held for as long as all of them. */
static int holds_slot(const struct state *s, const struct job *j)
{
  const struct post *p = j->head;
  if (p && s->concurrency == 1)
    return 1;
  /* A try has failed: more tries made than the one under way, if any. */
  return p && p->kind == P_FINAL &&
         (p->len >= RP_BIG_RESULT_BYTES || p->attempts > (j->inflight ? 1 : 0));
}

int rp_take_free_slots(struct state *s, int running)
{
  int held = 0;
  for (const struct job *j = s->jobs; j; j = j->next)
    if (!j->running && holds_slot(s, j))
      held++;
  return s->concurrency - running - held - s->taking;
}

/* A job already taken is never dropped: with 'any' set, an executor
 * rebuilding its VM holds it until it is done. */
struct rp_executor *rp_take_pick_executor(struct state *s, int *index,
                                          int any)
{
  struct rp_executor *best = NULL;
  int best_ok = 0;
  for (int i = 0; i < s->nex; i++) {
    int ok = rp_executor_accepting(s->ex[i]);
    if (!ok && !any)
      continue;
    if (!best || ok > best_ok || (ok == best_ok &&
        rp_executor_load(s->ex[i]) < rp_executor_load(best))) {
      best = s->ex[i];
      best_ok = ok;
      *index = i;
    }
  }
  return best;
}

/* Submits the job id[0..id_len) (its JSON text text[0..len), or the
 * malloc'ed block it lies in when *block is set, which the executor takes
 * over) to the least loaded executor; its index in *index. Returns RP_OK,
 * or an error (logged, naming the job). */
static int submit(struct state *s, const char *id, size_t id_len,
                  const char *text, size_t len, char **block, int *index)
{
  struct rp_executor *e = rp_take_pick_executor(s, index, 1);
  int rc = RP_ENOMEM;
  if (e && block && *block) {
    char *b = *block;
    *block = NULL;                  /* the executor's from here on */
    rc = rp_executor_submit_block(e, id, id_len, b, (size_t)(text - b),
                                  len);
  } else if (e) {
    rc = rp_executor_submit(e, id, id_len, text, len);
  }
  if (rc != RP_OK)
    rp_log(RP_LOG_ERROR, id, "job-take: cannot start the job (%s)",
           e ? "out of memory" : "no executor free");
  return rc;
}

/* A copy of the job's text, for it to wait with; NULL when out of
 * memory. */
static char *copy_text(const struct taken *t)
{
  char *copy = malloc(t->len ? t->len : 1);
  if (copy)
    memcpy(copy, t->text, t->len);
  return copy;
}

/* The tracked job j waits for a place (its text in j->waiting): not
 * running, and while any job waits no executor takes one over it. */
static void wait_for_place(struct state *s, struct job *j)
{
  j->running = 0;
  if (s->out.direct)
    atomic_store(&s->direct.handoff, 0);
}

/* Hands the job to an executor and tracks it; when no place is free (the
 * server sent more jobs than were asked for), it is tracked as waiting
 * for one, a copy of its text kept: the Python SDK queues such jobs, and
 * runs no more at once than its concurrency. A failure is logged and the
 * job dropped. Takes ownership of id. */
static void hand_to_executor(struct state *s, char *id, size_t id_len,
                             const struct taken *t)
{
  int index = 0;
  struct job *j = calloc(1, sizeof(*j));
  rp_log(RP_LOG_DEBUG, id, "Request ID added.");
  if (!j) {
    rp_log(RP_LOG_ERROR, id, "job-take: cannot start the job (out of "
           "memory)");
    free(id);
    return;
  }
  j->id = id;
  j->id_len = id_len;
  if (rp_take_free_slots(s, rp_take_running(s)) > 0) {
    if (submit(s, id, id_len, t->text, t->len, t->block, &index) == RP_OK) {
      rp_post_track_job(s, j, index, 0);
      return;
    }
  } else if ((j->waiting = copy_text(t)) != NULL) {
    j->waiting_len = t->len;
    rp_post_track_job(s, j, 0, 0);
    wait_for_place(s, j);
    rp_log(RP_LOG_DEBUG, id, "More jobs than places: it waits for one.");
    return;
  } else {
    rp_log(RP_LOG_ERROR, id, "job-take: cannot keep the job (out of "
           "memory)");
  }
  free(id);
  free(j);
}

int rp_take_run_again(struct state *s, struct job *j)
{
  if (!j->again)
    return 0;
  j->waiting = j->again;
  j->waiting_len = j->again_len;
  j->again = NULL;
  wait_for_place(s, j);
  j->finished = 0;
  j->stop_asked = 0;
  j->retry_at = 0;
  rp_backoff_reset(&j->backoff);
  if (j->owed) {
    j->owed = 0;
    atomic_fetch_sub(&s->direct.owed, 1);
  }
  if (!j->listed) {                 /* in progress again: in the pings */
    rp_heartbeat_add_job(s->heartbeat, j->id, j->id_len);
    j->listed = 1;
  }
  rp_log(RP_LOG_DEBUG, j->id, "Its last run is over: it waits for a place.");
  return 1;
}

int rp_take_hand_waiting(struct state *s, int *free_slots)
{
  for (;;) {
    struct job *oldest = NULL;
    char *block;
    int index = 0;
    int waiting = 0;
    for (struct job *j = s->jobs; j; j = j->next)
      if (j->waiting) {
        oldest = j;                 /* the list is newest first */
        waiting++;
      }
    if (!oldest || *free_slots <= 0)
      return waiting;
    block = oldest->waiting;
    oldest->waiting = NULL;
    if (oldest->stop_asked) {
      rp_log(RP_LOG_INFO, oldest->id, "Stopped on request before it "
             "started.");
      free(block);
      rp_post_remove_job(s, oldest);
      continue;
    }
    if (submit(s, oldest->id, oldest->id_len, block, oldest->waiting_len,
               &block, &index) != RP_OK) {
      free(block);
      rp_post_remove_job(s, oldest);
      continue;
    }
    oldest->executor = index;
    oldest->running = 1;
    (*free_slots)--;
  }
}

/* Checks a taken job and hands it to an executor. A job with a usable id
 * goes on even when it is not valid JSON, its VM cannot decode it or it
 * has no input: its VM answers it with a failed result, so it never stays
 * in progress. A null input is an input (the handler gets null, as in the
 * Python SDK). */
static void dispatch(struct state *s, const struct taken *t)
{
  size_t id_len;
  char *id = job_id(t, &id_len);
  struct job *j;
  if (!id) {
    if (t->complete)
      rp_log(RP_LOG_ERROR, NULL, "Job has missing field(s): id%s.",
             t->has_input ? "" : ", input");
    else
      rp_log(RP_LOG_ERROR, NULL, "job-take: a job that is not valid JSON "
             "and has no readable id was skipped");
    return;
  }
  j = rp_post_find_job(s, id, id_len);
  if (j && !j->waiting && !j->again && (j->finished || j->stop_asked)) {
    /* A new attempt (RunPod's /retry, a lease given again) while the
     * last run still ends: it runs once that run is gone. */
    if ((j->again = copy_text(t)) != NULL) {
      j->again_len = t->len;
      rp_log(RP_LOG_INFO, id, "Sent again while its last run ends: it runs "
             "again after it.");
    } else {
      rp_log(RP_LOG_ERROR, id, "job-take: cannot keep the job sent again "
             "(out of memory)");
    }
  } else if (j) {
    rp_log(RP_LOG_WARN, id, "job-take: job already in flight; skipped");
  }
  if (j) {
    free(id);
    return;
  }
  hand_to_executor(s, id, id_len, t);
}

void rp_take_done(struct state *s, struct rp_req *r)
{
  s->take = NULL;
  rp_take_answer(s, r, s->take_sent);
}

void rp_take_answer(struct state *s, struct rp_req *r, double sent)
{
  char what[CURL_ERROR_SIZE + 32];
  char *body;
  size_t len;
  int rc;
  double took = rp_clock_now() - sent;
  rp_req_describe(r, what, sizeof(what));
  /* As the Python SDK: 204 and 400 (FlashBoot) mean no job, 429 waits,
   * any other 2xx carries jobs, anything else is an error. */
  if (r->result != CURLE_OK || ((r->status < 200 || r->status > 299) &&
                                r->status != 400)) {
    double wait = r->status == 429 ? TOO_MANY_S
                  : rp_backoff_next(&s->take_backoff);
    rp_log(r->status == 429 ? RP_LOG_WARN : RP_LOG_ERROR, NULL,
           "Failed to get job: %s; retrying in %.1f s", what, wait);
    s->take_at = rp_clock_now() + wait;
    rp_req_free(r);
    return;
  }
  rp_backoff_reset(&s->take_backoff);
  if (r->status == 204 || r->status == 400 || r->resp.len == 0) {
    /* No job. A server that answers at once must not make us spin: the
     * polls are spaced by a growing gap, counted from when each was sent.
     * A poll the server held has waited already; the next one goes at
     * once, so a job queued meanwhile is taken without delay. */
    if (took >= HELD_POLL_S)
      rp_backoff_reset(&s->empty_backoff);
    else
      s->take_at = sent + rp_backoff_next(&s->empty_backoff);
    rp_log(RP_LOG_TRACE, NULL, "No job (HTTP %ld).", r->status);
    rp_req_free(r);
    return;
  }
  /* The answer's buffer itself goes to the executor of a lone job. */
  s->take_hint = r->resp.len < MAX_TAKE_HINT ? r->resp.len : MAX_TAKE_HINT;
  body = rp_buf_steal(&r->resp, &len);
  rp_req_free(r);
  rc = body ? take_jobs(s, body, len, &body) : RP_ENOMEM;
  free(body);
  if (rc != RP_OK) {
    rp_log(RP_LOG_ERROR, NULL, "job-take: the body is not JSON (no job "
           "object or batch array can be read in it); skipped");
    s->take_at = rp_clock_now() + rp_backoff_next(&s->empty_backoff);
    return;
  }
  rp_backoff_reset(&s->empty_backoff);
}

/* Sends a long poll to url (freed here; NULL when it could not be built)
 * as *slot, noting when in *sent; a request that cannot be built is tried
 * again RETRY_BUILD_S later (*at). Returns 0, or -1 for that. */
static int send_poll(struct state *s, char *url, enum kind kind,
                     struct rp_req **slot, double *at, double *sent)
{
  struct rp_req *r = url ? rp_req_new("GET", url, NULL, 0, s->api_key,
                                      RP_CONTENT_JSON, NULL,
                                      POLL_TIMEOUT_MS) : NULL;
  free(url);
  if (!r) {
    *at = rp_clock_now() + RETRY_BUILD_S;
    return -1;
  }
  r->kind = kind;
  *slot = r;
  *sent = rp_clock_now();
  curl_multi_add_handle(s->multi, r->easy);
  return 0;
}

void rp_take_start(struct state *s, int free_slots)
{
  if (send_poll(s, rp_wire_take_url(s->take_tmpl, s->worker_id, free_slots,
                                    s->njobs > 0),
                TAKE, &s->take, &s->take_at, &s->take_sent) != 0)
    return;
  /* Room for an answer the size of the last one, in one allocation (the
   * memory the last one's job just gave back) rather than grown step by
   * step into fresh pages. Only a hint: it may fail or be passed. */
  if (s->take_hint > 0)
    (void)rp_buf_reserve(&s->take->resp, s->take_hint);
  if (!s->first_take_logged) {
    s->first_take_logged = 1;
    rp_log(RP_LOG_INFO, NULL, "Ready: first job-take %.1f ms after start.",
           (s->take_sent - s->t0) * 1e3);
  }
}

/* ---- stopping jobs --------------------------------------------------- */

static void stop_job(struct state *s, const char *id, size_t id_len)
{
  struct job *j = rp_post_find_job(s, id, id_len);
  if (j && j->waiting) {
    rp_log(RP_LOG_INFO, j->id, "Stopped on request before it started.");
    rp_post_remove_job(s, j);
    return;
  }
  if (!j && s->out.direct) {
    rp_take_stop_unknown(s, id, id_len);  /* one an executor took */
    return;
  }
  if (j && j->again) {                    /* the run sent again */
    rp_log(RP_LOG_INFO, j->id, "Stopped on request before it started.");
    free(j->again);
    j->again = NULL;
    return;
  }
  if (j && j->running && !j->stop_asked) {
    rp_log(RP_LOG_INFO, j->id, "Stop requested.");
    j->stop_asked = rp_clock_now();
    rp_executor_stop_job(s->ex[j->executor], j->id, j->id_len);
  }
}

void rp_take_stop_done(struct state *s, struct rp_req *r)
{
  s->stop = NULL;
  if (r->result != CURLE_OK || (r->status != 200 && r->status != 204)) {
    char what[CURL_ERROR_SIZE + 32];
    double wait = rp_backoff_next(&s->stop_backoff);
    rp_log(RP_LOG_DEBUG, NULL, "job-stop: %s; retrying in %.1f s",
           rp_req_describe(r, what, sizeof(what)), wait);
    s->stop_at = rp_clock_now() + wait;
    rp_req_free(r);
    return;
  }
  rp_backoff_reset(&s->stop_backoff);
  /* At most one poll per STOP_POLL_GAP_S, counted from when it was sent,
   * for a server that does not hold it; a held poll is followed at once. */
  s->stop_at = s->stop_sent + STOP_POLL_GAP_S;
  /* The jobs executors took meanwhile become known first. */
  if (r->status == 200 && s->out.direct)
    rp_serverless_handle_outbox(s);
  if (r->status == 200)
    each_stop_id(s, r->resp.data, r->resp.len);
  rp_req_free(r);
}

void rp_take_stop_unknown(struct state *s, const char *id, size_t id_len)
{
  struct stop_memo *m = &s->stop_memo[s->stop_memo_next];
  char *copy = malloc(id_len + 1);
  for (int i = 0; i < s->nex; i++)
    rp_executor_stop_job(s->ex[i], id, id_len);
  if (!copy)
    return;
  memcpy(copy, id, id_len);
  copy[id_len] = '\0';
  free(m->id);
  m->id = copy;
  m->id_len = id_len;
  m->at = rp_clock_now();
  s->stop_memo_next = (s->stop_memo_next + 1) % STOP_MEMO;
}

double rp_take_stop_asked(struct state *s, const char *id, size_t id_len)
{
  double now = rp_clock_now();
  for (int i = 0; i < STOP_MEMO; i++) {
    struct stop_memo *m = &s->stop_memo[i];
    double at = m->at;
    if (!m->id || m->id_len != id_len || memcmp(m->id, id, id_len) != 0)
      continue;
    free(m->id);
    m->id = NULL;
    return now - at <= STOP_MEMO_S ? at : 0;
  }
  return 0;
}

void rp_take_forget_stops(struct state *s)
{
  for (int i = 0; i < STOP_MEMO; i++) {
    free(s->stop_memo[i].id);
    s->stop_memo[i].id = NULL;
  }
}

void rp_take_start_stop_poll(struct state *s)
{
  send_poll(s, rp_wire_stop_url(s->take_tmpl, s->worker_id), STOP,
            &s->stop, &s->stop_at, &s->stop_sent);
}
