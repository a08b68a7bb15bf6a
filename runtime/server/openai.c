/* openai.c - see openai.h. */
#include "server/openai.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/json.h"
#include "base/rp.h"
#include "server/bearer.h"

/* How long one wait on the job lasts before the client is looked at (and,
 * streaming, an SSE comment keeps the connection alive). */
#define HOLD_MS 1000
/* The longest route path passed on. */
#define MAX_ROUTE 1024

void rp_openai_reply_error(struct rp_httpd_response *res, int status,
                           const char *type, const char *code,
                           const char *msg)
{
  res->status = status;
  res->content_type = "application/json";
  rp_buf_clear(&res->body);
  rp_buf_puts(&res->body, "{\"error\":{\"message\":");
  rp_json_put_string(&res->body, msg, strlen(msg));
  rp_buf_puts(&res->body, ",\"type\":");
  rp_json_put_string(&res->body, type, strlen(type));
  rp_buf_puts(&res->body, ",\"param\":null,\"code\":");
  if (code)
    rp_json_put_string(&res->body, code, strlen(code));
  else
    rp_buf_puts(&res->body, "null");
  rp_buf_puts(&res->body, "}}");
}

/* The same with "code": null. */
static void reply_error(struct rp_httpd_response *res, int status,
                        const char *type, const char *msg)
{
  rp_openai_reply_error(res, status, type, NULL, msg);
}

void rp_openai_reply_invalid_url(const struct rp_httpd_request *req,
                                 struct rp_httpd_response *res)
{
  char msg[MAX_ROUTE + 64];
  snprintf(msg, sizeof(msg), "Invalid URL (%.16s %.*s)", req->method,
           MAX_ROUTE, req->path);
  reply_error(res, 404, "invalid_request_error", msg);
}

/* The JSON string v decoded. Caller owns the result (free()); NULL when v
 * is not a string, holds \u0000 or memory runs out. */
static char *decode_string(struct rp_json_span v)
{
  char *s;
  if (v.n < 2 || v.p[0] != '"')
    return NULL;
  s = malloc(v.n + 1);
  if (s && rp_json_string(v, s, v.n + 1) != RP_OK) {
    free(s);
    s = NULL;
  }
  return s;
}

/* An HTTP status named by an error: its integer "code" when that is one
 * (400..599), else "HTTP NNN" in its message, else 504 for a job that
 * timed out (the runtime's TimeoutError), else 500. */
static int error_status(struct rp_json_span obj, const char *message,
                        const char *type)
{
  struct rp_json_span v;
  long long code;
  const char *p = message;
  if (rp_json_member(obj.p, obj.n, "code", &v) == 1 &&
      rp_json_integer(v, &code) == RP_OK && code >= 400 && code <= 599)
    return (int)code;
  while (p && (p = strstr(p, "HTTP ")) != NULL) {
    int n = atoi(p + 5);
    if (n >= 400 && n <= 599)
      return n;
    p += 5;
  }
  return type && strcmp(type, "TimeoutError") == 0 ? 504 : 500;
}

/* Appends the OpenAI error object {"message","type","param","code"} for
 * a failed job's "error" value (a JSON string: the handler's error object
 * encoded, or the runtime's error JSON, or plain text) and returns the
 * status it names. */
static int put_job_error(struct rp_buf *out, struct rp_json_span err)
{
  char *text = decode_string(err);
  const char *msg = text ? text : "the job failed";
  struct rp_json_span obj = { msg, strlen(msg) };
  struct rp_json_span v;
  char *m = NULL;
  char *type = NULL;
  int status = 500;
  if (rp_json_member(obj.p, obj.n, "error", &v) == 1 && v.p[0] == '{')
    obj = v;                          /* {"error": {...}} */
  if (rp_json_member(obj.p, obj.n, "message", &v) == 1 ||
      rp_json_member(obj.p, obj.n, "error_message", &v) == 1)
    m = decode_string(v);
  if (rp_json_member(obj.p, obj.n, "type", &v) == 1 ||
      rp_json_member(obj.p, obj.n, "error_type", &v) == 1)
    type = decode_string(v);
  if (m)
    msg = m;
  status = error_status(obj, msg, type);
  rp_buf_puts(out, "{\"message\":");
  rp_json_put_string(out, msg, strlen(msg));
  rp_buf_puts(out, ",\"type\":");
  rp_json_put_string(out, type ? type : "worker_error",
                     strlen(type ? type : "worker_error"));
  rp_buf_printf(out, ",\"param\":null,\"code\":");
  if (rp_json_member(obj.p, obj.n, "code", &v) == 1)
    rp_buf_append(out, v.p, v.n);
  else
    rp_buf_puts(out, "null");
  rp_buf_puts(out, "}");
  free(text);
  free(m);
  free(type);
  return status;
}

static int is_status(struct rp_json_span st, const char *name)
{
  size_t n = strlen(name);
  return st.n == n + 2 && memcmp(st.p + 1, name, n) == 0;
}

static int ended(struct rp_json_span st)
{
  return is_status(st, "COMPLETED") || is_status(st, "FAILED") ||
         is_status(st, "CANCELLED") || is_status(st, "TIMED_OUT");
}

/* ---- without "stream": the job's single output --------------------- */

struct first {
  struct rp_json_span el;
  int n;
};

static int count_element(void *ud, struct rp_json_span el)
{
  struct first *f = ud;
  if (f->n++ == 0)
    f->el = el;
  return 0;
}

/* Answers the ended job's view: its output (a list of one element, as a
 * generator handler's aggregate, gives that element), or its error. */
static void answer_view(struct rp_httpd_response *res,
                        const struct rp_buf *view)
{
  struct rp_json_span st, out, err;
  struct first f = { { NULL, 0 }, 0 };
  rp_json_member(view->data, view->len, "status", &st);
  if (rp_json_member(view->data, view->len, "error", &err) == 1) {
    struct rp_buf obj = RP_BUF_INIT(RP_HTTPD_MAX_RESPONSE);
    int status = put_job_error(&obj, err);
    res->status = status;
    rp_buf_clear(&res->body);
    rp_buf_puts(&res->body, "{\"error\":");
    rp_buf_append(&res->body, obj.data ? obj.data : "{}", obj.len);
    rp_buf_puts(&res->body, "}");
    rp_buf_free(&obj);
    return;
  }
  if (!is_status(st, "COMPLETED")) {
    char msg[64];
    snprintf(msg, sizeof(msg), "job %.*s", (int)(st.n - 2), st.p + 1);
    reply_error(res, is_status(st, "TIMED_OUT") ? 504 : 500, "worker_error",
                msg);
    return;
  }
  if (rp_json_member(view->data, view->len, "output", &out) != 1) {
    reply_error(res, 500, "worker_error", "the job returned no output");
    return;
  }
  if (out.p[0] == '[' &&
      rp_json_each_element(out.p, out.n, count_element, &f) == 0 && f.n == 1)
    out = f.el;
  res->status = 200;
  res->content_type = "application/json";
  rp_buf_clear(&res->body);
  rp_buf_append(&res->body, out.p, out.n);
}

/* Holds until job id ends (answering its view) or the client goes away
 * (cancelling it). */
static void wait_and_answer(struct rp_jobstore *js,
                            const struct rp_httpd_request *req,
                            struct rp_httpd_response *res, const char *id)
{
  struct rp_buf view = RP_BUF_INIT(RP_HTTPD_MAX_RESPONSE);
  struct rp_json_span st;
  int rc;
  for (int pass = 0;; pass++) {
    rp_buf_clear(&view);
    rc = rp_jobstore_view(js, id, pass ? HOLD_MS : 0, &view);
    if (rc != RP_OK) {
      reply_error(res, rc == RP_JOBSTORE_ENOENT ? 404 : 500, "worker_error",
                  rc == RP_JOBSTORE_ENOENT ? "job not found" : "out of memory");
      break;
    }
    if (rp_json_member(view.data, view.len, "status", &st) == 1 &&
        ended(st)) {
      answer_view(res, &view);
      break;
    }
    if (rp_httpd_client_gone(req) || rp_jobstore_sleep(js, 0) != 0) {
      rp_buf_clear(&view);
      rp_jobstore_cancel(js, id, &view);
      res->status = 0;                /* nobody to answer */
      break;
    }
  }
  rp_buf_free(&view);
}

/* ---- with "stream": server-sent events ----------------------------- */

struct sse {
  struct rp_jobstore *js;
  char id[RP_JOBSTORE_ID_LEN + 1];
  struct rp_buf out;        /* bytes not yet handed to the connection */
  size_t off;
  int ended;
  int partials;             /* partials written so far */
  char tail[4];             /* the last bytes of the stream so far */
  size_t tail_n;
};

/* Appends n bytes to the stream, keeping its last ones in s->tail. */
static void put(struct sse *s, const char *p, size_t n)
{
  size_t i;
  rp_buf_append(&s->out, p, n);
  for (i = n > sizeof(s->tail) ? n - sizeof(s->tail) : 0; i < n; i++) {
    if (s->tail_n == sizeof(s->tail)) {
      memmove(s->tail, s->tail + 1, sizeof(s->tail) - 1);
      s->tail_n--;
    }
    s->tail[s->tail_n++] = p[i];
  }
}

static void put_text(struct sse *s, const char *text)
{
  put(s, text, strlen(text));
}

/* Whether the stream so far ends between events (a blank line: "\n\n",
 * "\r\r" or "\r\n\r\n"), or nothing is sent yet. A handler's raw chunks
 * may end inside an event (a backend's write cut short): nothing of ours
 * may be put into it. */
static int between_events(const struct sse *s)
{
  const char *t = s->tail;
  size_t n = s->tail_n;
  if (n == 0)
    return 1;
  return n >= 2 && ((t[n - 2] == '\n' && t[n - 1] == '\n') ||
                    (t[n - 2] == '\r' && t[n - 1] == '\r') ||
                    (n == 4 && memcmp(t, "\r\n\r\n", 4) == 0));
}

/* Ends an event the handler's chunks left open, before one of ours. */
static void end_event(struct sse *s)
{
  if (!between_events(s))
    put_text(s, "\n\n");
}

/* Appends one partial of a /stream answer: a string as its raw text (the
 * handler's SSE chunks), anything else as one "data:" event. */
static int put_partial(void *ud, struct rp_json_span el)
{
  struct sse *s = ud;
  struct rp_json_span v;
  char *text;
  if (rp_json_member(el.p, el.n, "output", &v) != 1)
    return 0;
  s->partials++;
  text = decode_string(v);
  if (text) {
    put_text(s, text);
    free(text);
    return 0;
  }
  end_event(s);
  put_text(s, "data: ");
  put(s, v.p, v.n);
  put_text(s, "\n\n");
  return 0;
}

/* Fills s->out from the job, waiting up to hold ms: new partials, a
 * failed job's error as a "data:" event, or (with keep_alive) a comment.
 * Returns -1 when the server is shutting down. */
static int refill(struct sse *s, long hold, int keep_alive)
{
  struct rp_buf poll = RP_BUF_INIT(RP_JOBSTORE_MAX_STREAM_BYTES * 2u);
  struct rp_json_span st, list, err;
  int rc;
  rp_buf_clear(&s->out);
  s->off = 0;
  if (rp_jobstore_sleep(s->js, 0) != 0) {
    rp_buf_free(&poll);
    return -1;
  }
  rc = rp_jobstore_stream_read(s->js, s->id, hold, &poll);
  if (rc != RP_OK ||
      rp_json_member(poll.data, poll.len, "status", &st) != 1) {
    s->ended = 1;
    rp_buf_free(&poll);
    return 0;
  }
  if (rp_json_member(poll.data, poll.len, "stream", &list) == 1)
    rp_json_each_element(list.p, list.n, put_partial, s);
  if (ended(st)) {
    s->ended = 1;
    if (!is_status(st, "COMPLETED")) {
      rp_buf_clear(&poll);
      end_event(s);
      if (rp_jobstore_view(s->js, s->id, 0, &poll) == RP_OK &&
          rp_json_member(poll.data, poll.len, "error", &err) == 1) {
        rp_buf_puts(&s->out, "data: {\"error\":");
        put_job_error(&s->out, err);
        rp_buf_puts(&s->out, "}\n\n");
      } else {
        rp_buf_printf(&s->out, "data: {\"error\":{\"message\":\"job %.*s\","
                      "\"type\":\"worker_error\",\"param\":null,"
                      "\"code\":null}}\n\n", (int)(st.n - 2), st.p + 1);
      }
    }
  } else if (s->out.len == 0 && keep_alive && between_events(s)) {
    /* Never inside an event a chunk left open: the client would read
     * the comment as part of the event's data. */
    put_text(s, ": keep-alive\n\n");
  }
  rp_buf_free(&poll);
  return 0;
}

static long sse_read(void *ud, char *buf, size_t max)
{
  struct sse *s = ud;
  size_t n;
  while (s->off >= s->out.len) {
    if (s->ended)
      return 0;
    if (refill(s, HOLD_MS, 1) != 0)
      return -1;
  }
  n = s->out.len - s->off;
  if (n > max)
    n = max;
  memcpy(buf, s->out.data + s->off, n);
  s->off += n;
  return (long)n;
}

/* The response is over: when the job has not ended, the client went
 * away, and the job is cancelled. */
static void sse_free(void *ud)
{
  struct sse *s = ud;
  if (!s->ended) {
    rp_buf_clear(&s->out);
    rp_jobstore_cancel(s->js, s->id, &s->out);
  }
  rp_buf_free(&s->out);
  free(s);
}

/* ---- the route ------------------------------------------------------ */

void rp_openai_route(struct rp_jobstore *js, const char *bearer,
                     const struct rp_httpd_request *req,
                     struct rp_httpd_response *res, char **seg, int nseg)
{
  const char *auth = rp_httpd_header(req, "Authorization");
  struct rp_buf input = RP_BUF_INIT(RP_HTTPD_MAX_BODY + MAX_ROUTE + 64);
  char route[MAX_ROUTE];
  char id[RP_JOBSTORE_ID_LEN + 1];
  char why[128];
  char msg[192];
  struct rp_json_span v;
  size_t len = 0;
  size_t bad;
  int post = strcmp(req->method, "POST") == 0;
  int stream = 0;
  int rc;
  if (bearer && !rp_bearer_is(auth, bearer)) {
    rp_openai_reply_error(res, 401, "invalid_request_error",
                          "invalid_api_key", "unauthorized");
    return;
  }
  /* RunPod passes on GET and POST under /openai/v1/ only. */
  if (nseg < 3 || strcmp(seg[1], "v1") != 0 ||
      (!post && strcmp(req->method, "GET") != 0)) {
    rp_openai_reply_invalid_url(req, res);
    return;
  }
  for (int i = 1; i < nseg; i++) {
    int n = snprintf(route + len, sizeof(route) - len, "/%s", seg[i]);
    if (n < 0 || (size_t)n >= sizeof(route) - len) {
      rp_openai_reply_invalid_url(req, res);
      return;
    }
    len += (size_t)n;
  }
  /* JSON is UTF-8: a Python worker (worker-vllm) cannot decode a job
   * that is not, and would drop it while the client's request waits. */
  if (post && (bad = rp_json_utf8_bad(req->body, req->body_len)) <
              req->body_len) {
    snprintf(msg, sizeof(msg), "invalid JSON body (invalid UTF-8 at byte "
             "%zu)", bad);
    reply_error(res, 400, "invalid_request_error", msg);
    return;
  }
  if (post && (req->body_len == 0 || !rp_json_valid(req->body,
                                                    req->body_len) ||
               *rp_json_skip_ws(req->body, req->body + req->body_len) !=
               '{')) {
    reply_error(res, 400, "invalid_request_error",
                "the body must be JSON (an object)");
    return;
  }
  /* What the worker's codec refuses (a lone surrogate, 1e400) would fail
   * the job after it was queued: refused here, as /run does. */
  if (post && rp_json_check(req->body, req->body_len, why, sizeof(why)) !=
              RP_OK) {
    snprintf(msg, sizeof(msg), "invalid JSON body (%s)", why);
    reply_error(res, 400, "invalid_request_error", msg);
    return;
  }
  if (post && rp_json_member(req->body, req->body_len, "stream", &v) == 1)
    rp_json_bool(v, &stream);
  rp_buf_puts(&input, "{\"openai_route\":");
  rp_json_put_string(&input, route, len);
  if (post) {
    rp_buf_puts(&input, ",\"openai_input\":");
    rp_buf_append(&input, req->body, req->body_len);
  }
  rc = rp_buf_puts(&input, "}");
  if (rc == RP_OK)
    rc = rp_jobstore_submit(js, input.data, input.len, "", 0, NULL, 0,
                            id);
  rp_buf_free(&input);
  if (rc == RP_ETOOBIG) {
    reply_error(res, 429, "rate_limit_error", "queue full");
    return;
  }
  if (rc != RP_OK) {
    reply_error(res, 500, "worker_error", "out of memory");
    return;
  }
  if (!stream) {
    wait_and_answer(js, req, res, id);
    return;
  }
  struct sse *s = calloc(1, sizeof(*s));
  if (!s) {
    rp_buf_clear(&input);
    rp_jobstore_cancel(js, id, &input);
    rp_buf_free(&input);
    reply_error(res, 500, "worker_error", "out of memory");
    return;
  }
  s->js = js;
  memcpy(s->id, id, sizeof(s->id));
  s->out = (struct rp_buf)RP_BUF_INIT(RP_JOBSTORE_MAX_STREAM_BYTES * 2u);
  /* The status goes out with the first bytes: hold until the first
   * partial, so that a job failing before it answers its own status (as
   * the OpenAI API does), not 200 and an error event. */
  for (int pass = 0; s->out.len == 0 && !s->ended; pass++) {
    if (refill(s, pass ? HOLD_MS : 0, 0) != 0 ||
        (s->out.len == 0 && !s->ended && rp_httpd_client_gone(req))) {
      sse_free(s);                    /* cancels the job */
      res->status = 0;
      return;
    }
  }
  if (s->ended && s->partials == 0) {
    struct rp_buf view = RP_BUF_INIT(RP_HTTPD_MAX_RESPONSE);
    if (rp_jobstore_view(js, id, 0, &view) == RP_OK)
      answer_view(res, &view);
    else
      reply_error(res, 500, "worker_error", "the job was lost");
    rp_buf_free(&view);
    sse_free(s);
    return;
  }
  res->status = 200;
  res->content_type = "text/event-stream";
  res->stream = sse_read;
  res->stream_free = sse_free;
  res->stream_ud = s;
}
