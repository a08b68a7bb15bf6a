/* take.c - the job-take and job-stop long polls and handing taken jobs
 * to the executors (see serverless_int.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/log.h"
#include "base/rp.h"
#include "lua/ljson.h"
#include "net/wire.h"
#include "worker/serverless_int.h"

/* How long a job-take or job-stop long poll may be held by the server. */
#define POLL_TIMEOUT_MS 90000L
/* RunPod's answer to 429: wait this long before the next take. */
#define TOO_MANY_S 5.0
/* A job-take answered after this long was held open by the server (a long
 * poll), as opposed to answered at once. */
#define HELD_POLL_S 0.25
/* The least time from one job-stop poll to the next, for a server that
 * answers at once. */
#define STOP_POLL_GAP_S 1.0

/* What a taken job says about itself. */
struct job_fields {
  int is_table;             /* a JSON object (or array) */
  const char *id;           /* a string, or an integer as text; NULL: none */
  int input_absent;         /* no "input" */
  int input_null;           /* "input" is null (or absent) */
  char idbuf[32];
};

static void dispatch(struct state *s, const char *text);
static void stop_job(struct state *s, const char *id);

/* ---- the job server's JSON: the only use of the codec state --------
 * A taken job is decoded here into a Lua value on s->codec's stack and
 * read from there; nothing else in serverless mode sees the state. */

/* Decodes a job-take body and dispatches its job, or each job of a batch
 * (a JSON array). Returns RP_OK, or an error with the message in err. */
static int each_taken_job(struct state *s, const char *body, size_t len,
                          char *err, size_t errlen)
{
  lua_State *L = s->codec;
  int base = lua_gettop(L);
  if (rp_json_decode(L, body, len, err, errlen) != RP_OK)
    return RP_EJSON;
  if (lua_istable(L, -1) && lua_getmetatable(L, -1)) {
    lua_pop(L, 1);            /* an array: a batch */
    lua_Integer n = (lua_Integer)lua_rawlen(L, -1);
    for (lua_Integer i = 1; i <= n; i++) {
      lua_rawgeti(L, base + 1, i);
      dispatch(s, NULL);
      lua_settop(L, base + 1);
    }
  } else {
    dispatch(s, body);
  }
  lua_settop(L, base);
  return RP_OK;
}

/* Reads the fields of the job being dispatched. They stay valid until
 * each_taken_job() moves on. */
static void read_fields(struct state *s, struct job_fields *f)
{
  lua_State *L = s->codec;
  int top = lua_gettop(L);
  memset(f, 0, sizeof(*f));
  f->is_table = lua_istable(L, top);
  if (!f->is_table)
    return;
  if (lua_getfield(L, top, "id") == LUA_TSTRING) {
    f->id = lua_tostring(L, -1);
  } else if (lua_isinteger(L, -1)) {
    snprintf(f->idbuf, sizeof(f->idbuf), "%lld",
             (long long)lua_tointeger(L, -1));
    f->id = f->idbuf;
  }
  lua_getfield(L, top, "input");
  f->input_absent = lua_isnil(L, -1);
  f->input_null = f->input_absent || lua_islightuserdata(L, -1);
}

/* The JSON text of the job being dispatched, encoded again (a batch
 * element), or NULL after logging why not. Valid as read_fields()'. */
static const char *encode_job(struct state *s, const char *id)
{
  lua_State *L = s->codec;
  char err[256];
  int at = lua_gettop(L) - 2;   /* under read_fields()' id and input */
  if (rp_json_encode(L, at, "job", RP_MAX_RESPONSE_BYTES, err,
                     sizeof(err)) != RP_OK) {
    rp_log(RP_LOG_ERROR, id, "job-take: %s", err);
    return NULL;
  }
  return lua_tostring(L, -1);
}

/* Decodes a job-stop body and asks each job of its jobsToStop to stop. */
static void each_stop_id(struct state *s, const char *body, size_t len)
{
  lua_State *L = s->codec;
  int base = lua_gettop(L);
  char err[256];
  if (rp_json_decode(L, body, len, err, sizeof(err)) != RP_OK)
    return;
  if (lua_istable(L, -1) &&
      lua_getfield(L, -1, "jobsToStop") == LUA_TTABLE) {
    lua_Integer n = (lua_Integer)lua_rawlen(L, -1);
    for (lua_Integer i = 1; i <= n; i++) {
      lua_rawgeti(L, -1, i);
      if (lua_isstring(L, -1))
        stop_job(s, lua_tostring(L, -1));
      lua_pop(L, 1);
    }
  }
  lua_settop(L, base);
}

/* ---- taking jobs ---------------------------------------------------- */

int rp_take_running(struct state *s)
{
  int n = 0;
  for (struct job *j = s->jobs; j; j = j->next)
    n += j->running;
  return n;
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

/* Whether the job may start: it has an id and an input, and is not in
 * flight already (each refusal logged). */
static int check_job(struct state *s, const struct job_fields *f)
{
  if (!f->is_table) {
    rp_log(RP_LOG_ERROR, NULL, "job-take: a job that is not a JSON object "
           "was skipped");
    return 0;
  }
  if (!f->id || f->input_null) {
    rp_log(RP_LOG_ERROR, f->id, "Job has missing field(s): %s%s%s.",
           f->id ? "" : "id", !f->id && f->input_absent ? ", " : "",
           f->input_null ? "input" : "");
    return 0;
  }
  if (rp_post_find_job(s, f->id)) {
    rp_log(RP_LOG_WARN, f->id, "job-take: job already in flight; skipped");
    return 0;
  }
  return 1;
}

/* Submits the job (its JSON text) to the least loaded executor and
 * tracks it; a failure is logged and the job dropped. */
static void hand_to_executor(struct state *s, const char *id,
                             const char *text)
{
  int index = 0;
  struct rp_executor *e = rp_take_pick_executor(s, &index, 1);
  struct job *j;
  rp_log(RP_LOG_DEBUG, id, "Request ID added.");
  j = calloc(1, sizeof(*j));
  if (j)
    j->id = strdup(id);
  if (!e || !j || !j->id || rp_executor_submit(e, id, text) != RP_OK) {
    rp_log(RP_LOG_ERROR, id, "job-take: cannot start the job (%s)",
           e ? "out of memory" : "no executor free");
    if (j)
      free(j->id);
    free(j);
    return;
  }
  rp_post_track_job(s, j, index);
}

/* Checks the job being decoded and hands it to an executor. text is its
 * JSON, or NULL to encode it again (a batch element). */
static void dispatch(struct state *s, const char *text)
{
  struct job_fields f;
  read_fields(s, &f);
  if (!check_job(s, &f))
    return;
  if (!text && !(text = encode_job(s, f.id)))
    return;
  hand_to_executor(s, f.id, text);
}

void rp_take_done(struct state *s, struct rp_req *r)
{
  char what[CURL_ERROR_SIZE + 32];
  char err[256];
  double took = rp_clock_now() - s->take_sent;
  s->take = NULL;
  rp_req_describe(r, what, sizeof(what));
  if (r->result != CURLE_OK || (r->status != 200 && r->status != 204 &&
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
  if (r->status != 200 || r->resp.len == 0) {
    /* No job. A server that answers at once must not make us spin: the
     * polls are spaced by a growing gap, counted from when each was sent.
     * A poll the server held has waited already; the next one goes at
     * once, so a job queued meanwhile is taken without delay. */
    if (took >= HELD_POLL_S)
      rp_backoff_reset(&s->empty_backoff);
    else
      s->take_at = s->take_sent + rp_backoff_next(&s->empty_backoff);
    rp_log(RP_LOG_TRACE, NULL, "No job (HTTP %ld).", r->status);
    rp_req_free(r);
    return;
  }
  if (each_taken_job(s, r->resp.data, r->resp.len, err, sizeof(err))
      != RP_OK) {
    rp_log(RP_LOG_ERROR, NULL, "job-take: the body is not JSON (%s); "
           "skipped", err);
    s->take_at = rp_clock_now() + rp_backoff_next(&s->empty_backoff);
    rp_req_free(r);
    return;
  }
  rp_backoff_reset(&s->empty_backoff);
  rp_req_free(r);
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
  if (!s->first_take_logged) {
    s->first_take_logged = 1;
    rp_log(RP_LOG_INFO, NULL, "Ready: first job-take %.1f ms after start.",
           (s->take_sent - s->t0) * 1e3);
  }
  /* The modifier answers before the next take. */
  if (s->has_modifier)
    rp_executor_ask_concurrency(s->ex[0], s->concurrency);
}

/* ---- stopping jobs --------------------------------------------------- */

static void stop_job(struct state *s, const char *id)
{
  struct job *j = rp_post_find_job(s, id);
  if (j && j->running && !j->stop_asked) {
    rp_log(RP_LOG_INFO, j->id, "Stop requested.");
    j->stop_asked = rp_clock_now();
    rp_executor_stop_job(s->ex[j->executor], j->id);
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
  if (r->status == 200)
    each_stop_id(s, r->resp.data, r->resp.len);
  rp_req_free(r);
}

void rp_take_start_stop_poll(struct state *s)
{
  send_poll(s, rp_wire_stop_url(s->take_tmpl, s->worker_id), STOP,
            &s->stop, &s->stop_at, &s->stop_sent);
}
