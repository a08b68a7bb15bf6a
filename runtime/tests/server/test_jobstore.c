/* test_jobstore.c - the job store: queue, take, done, stream, cancel,
 * stop, retention, re-queue and the long-poll waits. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "server/jobstore.h"
#include "base/rp.h"
#include "tests/check.h"

static struct rp_jobstore *fresh(long retain_ms, size_t retain_max,
                                 long requeue_ms)
{
  struct rp_jobstore_limits lim;
  struct rp_jobstore *js = NULL;
  rp_jobstore_default_limits(&lim);
  lim.retain_ms = retain_ms;
  lim.retain_max = retain_max;
  lim.requeue_after_ms = requeue_ms;
  if (rp_jobstore_new(&lim, &js) != RP_OK)
    return NULL;
  return js;
}

static void submit(struct rp_jobstore *js, const char *input, char *id)
{
  CHECK_INT(RP_OK, rp_jobstore_submit(js, input, strlen(input), "", 0, NULL,
                                      0, id));
}

/* The view of id, as text (static storage). */
static const char *view(struct rp_jobstore *js, const char *id)
{
  static char text[4096];
  struct rp_buf b = RP_BUF_INIT(4095);
  int rc = rp_jobstore_view(js, id, 0, &b);
  snprintf(text, sizeof(text), "%s", rc == RP_OK ? b.data : "(error)");
  rp_buf_free(&b);
  return text;
}

static int has(const char *hay, const char *needle)
{
  return strstr(hay, needle) != NULL;
}

static void submit_take_done(void)
{
  struct rp_jobstore *js = fresh(60000, 100, 0);
  struct rp_buf b = RP_BUF_INIT(1 << 20);
  char id[RP_JOBSTORE_ID_LEN + 1];
  char want[256];
  const char *extra = ",\"webhook\":\"http://x\"";
  const char *input = "{\"a\": [1, 2.50]}";
  CHECK_INT(RP_OK, rp_jobstore_submit(js, input, strlen(input), extra,
                                      strlen(extra), NULL, 0, id));
  CHECK_INT(36, strlen(id));
  CHECK(has(view(js, id), "\"status\":\"IN_QUEUE\""));
  CHECK_INT(1, rp_jobstore_take(js, "w1", 1, 0, 0, &b));
  snprintf(want, sizeof(want),
           "{\"id\":\"%s\",\"input\":{\"a\": [1, 2.50]},\"webhook\":"
           "\"http://x\"}", id);
  CHECK_STR(want, b.data);
  CHECK(has(view(js, id), "\"status\":\"IN_PROGRESS\""));
  CHECK_INT(RP_OK, rp_jobstore_done(js, "w1", id, 0, "{\"y\":1}", 7, NULL,
                                    0));
  CHECK(has(view(js, id), "\"status\":\"COMPLETED\""));
  CHECK(has(view(js, id), "\"output\":{\"y\":1}}"));
  CHECK(!has(view(js, id), "\"error\""));
  rp_buf_free(&b);
  rp_jobstore_free(js);
}

static void failed_job_keeps_error_text(void)
{
  struct rp_jobstore *js = fresh(60000, 100, 0);
  struct rp_buf b = RP_BUF_INIT(1 << 20);
  char id[RP_JOBSTORE_ID_LEN + 1];
  submit(js, "1", id);
  CHECK_INT(1, rp_jobstore_take(js, "w", 1, 0, 0, &b));
  CHECK_INT(RP_OK, rp_jobstore_done(js, "w", id, 0, NULL, 0, "\"boom\"", 6));
  CHECK(has(view(js, id), "\"status\":\"FAILED\""));
  CHECK(has(view(js, id), "\"error\":\"boom\"}"));
  rp_buf_free(&b);
  rp_jobstore_free(js);
}

static void unknown_ids_are_enoent(void)
{
  struct rp_jobstore *js = fresh(60000, 100, 0);
  struct rp_buf b = RP_BUF_INIT(1024);
  CHECK_INT(RP_JOBSTORE_ENOENT, rp_jobstore_view(js, "nope", 0, &b));
  CHECK_INT(RP_JOBSTORE_ENOENT, rp_jobstore_cancel(js, "nope", &b));
  CHECK_INT(RP_JOBSTORE_ENOENT,
            rp_jobstore_done(js, "w", "nope", 0, "1", 1, NULL, 0));
  CHECK_INT(RP_JOBSTORE_ENOENT,
            rp_jobstore_stream_append(js, "w", "nope", "1", 1));
  CHECK_INT(0, b.len);
  rp_buf_free(&b);
  rp_jobstore_free(js);
}

static void batch_take_is_fifo(void)
{
  struct rp_jobstore *js = fresh(60000, 100, 0);
  struct rp_buf b = RP_BUF_INIT(1 << 20);
  char id1[RP_JOBSTORE_ID_LEN + 1], id2[RP_JOBSTORE_ID_LEN + 1];
  char id3[RP_JOBSTORE_ID_LEN + 1];
  submit(js, "1", id1);
  submit(js, "2", id2);
  submit(js, "3", id3);
  CHECK_INT(2, rp_jobstore_take(js, "w", 2, 0, 1, &b));
  CHECK(b.data[0] == '[' && b.data[b.len - 1] == ']');
  CHECK(strstr(b.data, id1) && strstr(b.data, id2) && !strstr(b.data, id3));
  CHECK(strstr(b.data, id1) < strstr(b.data, id2));
  rp_buf_clear(&b);
  CHECK_INT(1, rp_jobstore_take(js, "w", 5, 0, 1, &b));
  CHECK(has(b.data, id3));
  rp_buf_clear(&b);
  CHECK_INT(0, rp_jobstore_take(js, "w", 5, 0, 1, &b));
  CHECK_INT(0, b.len);
  rp_buf_free(&b);
  rp_jobstore_free(js);
}

static void empty_take_waits_its_hold(void)
{
  struct rp_jobstore *js = fresh(60000, 100, 0);
  struct rp_buf b = RP_BUF_INIT(1024);
  long long t0 = rp_clock_now_ms();
  long long took;
  CHECK_INT(0, rp_jobstore_take(js, "w", 1, 150, 0, &b));
  took = rp_clock_now_ms() - t0;
  CHECK(took >= 145 && took < 2000);
  rp_buf_free(&b);
  rp_jobstore_free(js);
}

struct later {
  struct rp_jobstore *js;
  long delay_ms;
  char id[RP_JOBSTORE_ID_LEN + 1];
};

static void *submit_later(void *ud)
{
  struct later *l = ud;
  rp_jobstore_sleep(l->js, l->delay_ms);
  rp_jobstore_submit(l->js, "7", 1, "", 0, NULL, 0, l->id);
  return NULL;
}

static void take_wakes_on_submit(void)
{
  struct rp_jobstore *js = fresh(60000, 100, 0);
  struct rp_buf b = RP_BUF_INIT(1024);
  struct later l = { js, 100, "" };
  pthread_t t;
  long long t0 = rp_clock_now_ms();
  long long took;
  CHECK_INT(0, pthread_create(&t, NULL, submit_later, &l));
  CHECK_INT(1, rp_jobstore_take(js, "w", 1, 5000, 0, &b));
  took = rp_clock_now_ms() - t0;
  pthread_join(t, NULL);
  CHECK(took >= 90 && took < 2000);
  CHECK(has(b.data, l.id));
  rp_buf_free(&b);
  rp_jobstore_free(js);
}

static void *close_later(void *ud)
{
  struct later *l = ud;
  struct timespec ts = { 0, 100 * 1000000L };
  nanosleep(&ts, NULL);
  rp_jobstore_close(l->js);
  return NULL;
}

static void close_wakes_waiters(void)
{
  struct rp_jobstore *js = fresh(60000, 100, 0);
  struct rp_buf b = RP_BUF_INIT(1024);
  struct later l = { js, 0, "" };
  pthread_t t;
  long long t0 = rp_clock_now_ms();
  CHECK_INT(0, pthread_create(&t, NULL, close_later, &l));
  CHECK_INT(0, rp_jobstore_take(js, "w", 1, 10000, 0, &b));
  pthread_join(t, NULL);
  CHECK(rp_clock_now_ms() - t0 < 5000);
  CHECK_INT(-1, rp_jobstore_sleep(js, 10000));
  rp_buf_free(&b);
  rp_jobstore_free(js);
}

static void stream_chunks_are_delivered_once(void)
{
  struct rp_jobstore *js = fresh(60000, 100, 0);
  struct rp_buf b = RP_BUF_INIT(1 << 20);
  char id[RP_JOBSTORE_ID_LEN + 1];
  submit(js, "1", id);
  CHECK_INT(1, rp_jobstore_take(js, "w", 1, 0, 0, &b));
  CHECK_INT(RP_OK, rp_jobstore_stream_append(js, "w", id, "\"a\"", 3));
  CHECK_INT(RP_OK, rp_jobstore_stream_append(js, "w", id, "{\"b\":2}", 7));
  rp_buf_clear(&b);
  CHECK_INT(RP_OK, rp_jobstore_stream_read(js, id, 0, &b));
  CHECK_STR("{\"status\":\"IN_PROGRESS\",\"stream\":[{\"output\":\"a\"},"
            "{\"output\":{\"b\":2}}]}", b.data);
  rp_buf_clear(&b);
  CHECK_INT(RP_OK, rp_jobstore_stream_read(js, id, 50, &b));
  CHECK_STR("{\"status\":\"IN_PROGRESS\",\"stream\":[]}", b.data);
  CHECK_INT(RP_OK, rp_jobstore_done(js, "w", id, 0, "[]", 2, NULL, 0));
  rp_buf_clear(&b);
  CHECK_INT(RP_OK, rp_jobstore_stream_read(js, id, 1000, &b));
  CHECK_STR("{\"status\":\"COMPLETED\",\"stream\":[]}", b.data);
  rp_buf_free(&b);
  rp_jobstore_free(js);
}

static void unstreamed_output_is_one_chunk(void)
{
  struct rp_jobstore *js = fresh(60000, 100, 0);
  struct rp_buf b = RP_BUF_INIT(1 << 20);
  char id[RP_JOBSTORE_ID_LEN + 1];
  submit(js, "1", id);
  CHECK_INT(1, rp_jobstore_take(js, "w", 1, 0, 0, &b));
  CHECK_INT(RP_OK, rp_jobstore_done(js, "w", id, 0, "42", 2, NULL, 0));
  rp_buf_clear(&b);
  CHECK_INT(RP_OK, rp_jobstore_stream_read(js, id, 0, &b));
  CHECK_STR("{\"status\":\"COMPLETED\",\"stream\":[{\"output\":42}]}", b.data);
  rp_buf_clear(&b);
  CHECK_INT(RP_OK, rp_jobstore_stream_read(js, id, 0, &b));
  CHECK_STR("{\"status\":\"COMPLETED\",\"stream\":[]}", b.data);
  rp_buf_free(&b);
  rp_jobstore_free(js);
}

static void cancel_queued_and_running(void)
{
  struct rp_jobstore *js = fresh(60000, 100, 0);
  struct rp_buf b = RP_BUF_INIT(1 << 20);
  char q[RP_JOBSTORE_ID_LEN + 1], r[RP_JOBSTORE_ID_LEN + 1];
  char want[128];
  submit(js, "1", r);
  submit(js, "2", q);
  CHECK_INT(1, rp_jobstore_take(js, "w1", 1, 0, 0, &b));
  rp_buf_clear(&b);
  CHECK_INT(RP_OK, rp_jobstore_cancel(js, q, &b));
  snprintf(want, sizeof(want), "{\"id\":\"%s\",\"status\":\"CANCELLED\"}", q);
  CHECK_STR(want, b.data);
  rp_buf_clear(&b);
  /* No stop for other workers, one for w1, then none again. */
  CHECK_INT(RP_OK, rp_jobstore_cancel(js, r, &b));
  rp_buf_clear(&b);
  CHECK_INT(0, rp_jobstore_stops(js, "w2", 0, &b));
  CHECK_INT(1, rp_jobstore_stops(js, "w1", 0, &b));
  snprintf(want, sizeof(want), "[\"%s\"]", r);
  CHECK_STR(want, b.data);
  rp_buf_clear(&b);
  CHECK_INT(0, rp_jobstore_stops(js, "w1", 20, &b));
  CHECK_INT(0, rp_jobstore_take(js, "w1", 1, 0, 0, &b));
  /* A late result is counted but changes nothing. */
  CHECK_INT(RP_OK, rp_jobstore_done(js, "w1", r, 0, "1", 1, NULL, 0));
  CHECK(has(view(js, r), "\"status\":\"CANCELLED\""));
  rp_buf_clear(&b);
  CHECK_INT(RP_OK, rp_jobstore_counters(js, &b));
  CHECK(has(b.data, "\"done\":1,\"progress\":0,\"stream\":0,\"late\":1"));
  rp_buf_free(&b);
  rp_jobstore_free(js);
}

static void progress_keeps_running(void)
{
  struct rp_jobstore *js = fresh(60000, 100, 0);
  struct rp_buf b = RP_BUF_INIT(1 << 20);
  char id[RP_JOBSTORE_ID_LEN + 1];
  submit(js, "1", id);
  CHECK_INT(1, rp_jobstore_take(js, "w", 1, 0, 0, &b));
  CHECK_INT(RP_OK, rp_jobstore_done(js, "w", id, 1, "0.5", 3, NULL, 0));
  CHECK(has(view(js, id), "\"status\":\"IN_PROGRESS\""));
  CHECK(has(view(js, id), "\"output\":0.5"));
  CHECK_INT(RP_OK, rp_jobstore_done(js, "w", id, 0, "1", 1, NULL, 0));
  CHECK_INT(RP_OK, rp_jobstore_done(js, "w", id, 0, "2", 1, NULL, 0));
  CHECK(has(view(js, id), "\"output\":1}"));
  rp_buf_clear(&b);
  CHECK_INT(RP_OK, rp_jobstore_counters(js, &b));
  CHECK(has(b.data, "\"done\":2,\"progress\":1"));
  rp_buf_free(&b);
  rp_jobstore_free(js);
}

static void a_repeated_result_is_recognised(void)
{
  struct rp_jobstore *js = fresh(60000, 100, 0);
  struct rp_buf b = RP_BUF_INIT(1 << 20);
  char id[RP_JOBSTORE_ID_LEN + 1];
  char bad[RP_JOBSTORE_ID_LEN + 1];
  submit(js, "1", id);
  submit(js, "2", bad);
  CHECK_INT(2, rp_jobstore_take(js, "w", 2, 0, 1, &b));
  CHECK_INT(0, rp_jobstore_is_result(js, id, "[1]", 3, NULL, 0));
  CHECK_INT(RP_OK, rp_jobstore_done(js, "w", id, 0, "[1]", 3, NULL, 0));
  CHECK_INT(1, rp_jobstore_is_result(js, id, "[1]", 3, NULL, 0));
  CHECK_INT(0, rp_jobstore_is_result(js, id, "[2]", 3, NULL, 0));
  CHECK_INT(0, rp_jobstore_is_result(js, id, NULL, 0, NULL, 0));
  CHECK_INT(0, rp_jobstore_is_result(js, id, "[1]", 3, "\"x\"", 3));
  CHECK_INT(RP_OK, rp_jobstore_done(js, "w", bad, 0, NULL, 0, "\"x\"", 3));
  CHECK_INT(1, rp_jobstore_is_result(js, bad, NULL, 0, "\"x\"", 3));
  CHECK_INT(0, rp_jobstore_is_result(js, bad, NULL, 0, "\"y\"", 3));
  CHECK_INT(0, rp_jobstore_is_result(js, "nope", "[1]", 3, NULL, 0));
  rp_buf_free(&b);
  rp_jobstore_free(js);
}

static void a_cancelled_job_has_no_result_to_repeat(void)
{
  struct rp_jobstore *js = fresh(60000, 100, 0);
  struct rp_buf b = RP_BUF_INIT(1 << 20);
  char id[RP_JOBSTORE_ID_LEN + 1];
  submit(js, "1", id);
  CHECK_INT(RP_OK, rp_jobstore_cancel(js, id, &b));
  CHECK_INT(0, rp_jobstore_is_result(js, id, NULL, 0, NULL, 0));
  rp_buf_free(&b);
  rp_jobstore_free(js);
}

static void purge_cancels_the_queue(void)
{
  struct rp_jobstore *js = fresh(60000, 100, 0);
  struct rp_buf b = RP_BUF_INIT(1 << 20);
  struct rp_jobstore_health h;
  char a[RP_JOBSTORE_ID_LEN + 1], c[RP_JOBSTORE_ID_LEN + 1];
  submit(js, "1", a);
  submit(js, "2", c);
  submit(js, "3", c);
  CHECK_INT(1, rp_jobstore_take(js, "w", 1, 0, 0, &b));
  CHECK_INT(2, rp_jobstore_purge(js));
  CHECK(has(view(js, c), "\"status\":\"CANCELLED\""));
  rp_jobstore_health(js, &h);
  CHECK_INT(0, h.in_queue);
  CHECK_INT(1, h.in_progress);
  CHECK_INT(1, h.workers_running);
  rp_buf_free(&b);
  rp_jobstore_free(js);
}

static void retention_forgets_oldest(void)
{
  struct rp_jobstore *js = fresh(60000, 2, 0);
  struct rp_buf b = RP_BUF_INIT(1 << 20);
  char ids[3][RP_JOBSTORE_ID_LEN + 1];
  int i;
  for (i = 0; i < 3; i++) {
    submit(js, "1", ids[i]);
    CHECK_INT(1, rp_jobstore_take(js, "w", 1, 0, 0, &b));
    CHECK_INT(RP_OK, rp_jobstore_done(js, "w", ids[i], 0, "1", 1, NULL, 0));
  }
  rp_jobstore_upkeep(js);
  CHECK_STR("(error)", view(js, ids[0]));
  CHECK(has(view(js, ids[2]), "COMPLETED"));
  rp_buf_free(&b);
  rp_jobstore_free(js);

  js = fresh(50, 100, 0);
  submit(js, "1", ids[0]);
  CHECK_INT(RP_OK, rp_jobstore_cancel(js, ids[0], &b));
  rp_jobstore_upkeep(js);
  CHECK(has(view(js, ids[0]), "CANCELLED"));
  rp_jobstore_sleep(js, 80);
  rp_jobstore_upkeep(js);
  CHECK_STR("(error)", view(js, ids[0]));
  rp_buf_free(&b);
  rp_jobstore_free(js);
}

static void silent_worker_job_is_requeued(void)
{
  struct rp_jobstore *js = fresh(60000, 100, 60);
  struct rp_buf b = RP_BUF_INIT(1 << 20);
  struct rp_jobstore_health h;
  char id[RP_JOBSTORE_ID_LEN + 1];
  submit(js, "1", id);
  CHECK_INT(1, rp_jobstore_take(js, "dead", 1, 0, 0, &b));
  /* A worker that keeps pinging keeps its job. */
  rp_jobstore_sleep(js, 40);
  rp_jobstore_touch(js, "dead", 0);
  rp_jobstore_sleep(js, 40);
  rp_jobstore_upkeep(js);
  CHECK(has(view(js, id), "IN_PROGRESS"));
  rp_jobstore_sleep(js, 80);
  rp_buf_clear(&b);
  CHECK_INT(1, rp_jobstore_take(js, "alive", 1, 1000, 0, &b));
  CHECK(has(b.data, id));
  rp_jobstore_health(js, &h);
  CHECK_INT(1, h.retried);
  rp_buf_clear(&b);
  CHECK_INT(RP_OK, rp_jobstore_counters(js, &b));
  CHECK(has(b.data, "\"retries\":1,\"worker\":\"alive\""));
  rp_buf_free(&b);
  rp_jobstore_free(js);
}

/* Worker ids come from URLs: the counters escape them as every JSON
 * string is escaped (base/json.h), bytes that are not UTF-8 included. */
static void counters_escape_worker_ids(void)
{
  struct rp_jobstore *js = fresh(60000, 100, 0);
  struct rp_buf b = RP_BUF_INIT(1 << 20);
  char id[RP_JOBSTORE_ID_LEN + 1];
  submit(js, "1", id);
  CHECK_INT(1, rp_jobstore_take(js, "w\"\\\n\xff", 1, 0, 0, &b));
  rp_buf_clear(&b);
  CHECK_INT(RP_OK, rp_jobstore_counters(js, &b));
  CHECK(has(b.data, "\"worker\":\"w\\\"\\\\\\n\\ufffd\"}"));
  rp_buf_free(&b);
  rp_jobstore_free(js);
}

static void execution_timeout_stops_job(void)
{
  struct rp_jobstore *js = fresh(60000, 100, 0);
  struct rp_buf b = RP_BUF_INIT(1 << 20);
  char id[RP_JOBSTORE_ID_LEN + 1];
  char want[64];
  CHECK_INT(RP_OK, rp_jobstore_submit(js, "1", 1, "", 0, NULL, 50, id));
  CHECK_INT(1, rp_jobstore_take(js, "w", 1, 0, 0, &b));
  rp_buf_clear(&b);
  rp_jobstore_sleep(js, 70);
  CHECK_INT(1, rp_jobstore_stops(js, "w", 1000, &b));
  snprintf(want, sizeof(want), "[\"%s\"]", id);
  CHECK_STR(want, b.data);
  CHECK(has(view(js, id), "TIMED_OUT"));
  rp_buf_free(&b);
  rp_jobstore_free(js);
}

/* /retry: a FAILED or TIMED_OUT job is queued again under its id, its
 * result and chunks gone and a stop not yet reported dropped; any other
 * job is refused. */
static void retry_requeues_failed_and_timed_out(void)
{
  struct rp_jobstore *js = fresh(60000, 100, 0);
  struct rp_buf b = RP_BUF_INIT(1 << 20);
  struct rp_jobstore_health h;
  char f[RP_JOBSTORE_ID_LEN + 1], t[RP_JOBSTORE_ID_LEN + 1];
  char c[RP_JOBSTORE_ID_LEN + 1], q[RP_JOBSTORE_ID_LEN + 1];
  char want[128];
  const char *st = NULL;
  submit(js, "1", f);
  CHECK_INT(RP_OK, rp_jobstore_submit(js, "2", 1, "", 0, NULL, 30, t));
  submit(js, "3", c);
  CHECK_INT(3, rp_jobstore_take(js, "w", 3, 0, 1, &b));
  rp_buf_clear(&b);
  CHECK_INT(RP_OK, rp_jobstore_stream_append(js, "w", f, "\"p\"", 3));
  CHECK_INT(RP_OK, rp_jobstore_done(js, "w", f, 0, NULL, 0, "\"boom\"", 6));
  CHECK_INT(RP_OK, rp_jobstore_done(js, "w", c, 0, "1", 1, NULL, 0));
  rp_jobstore_sleep(js, 50);
  rp_jobstore_upkeep(js);
  CHECK(has(view(js, t), "TIMED_OUT"));
  submit(js, "4", q);
  /* Refused: unknown, queued, completed. */
  CHECK_INT(RP_JOBSTORE_ENOENT, rp_jobstore_retry(js, "nope", &b, &st));
  CHECK_INT(RP_JOBSTORE_ESTATE, rp_jobstore_retry(js, q, &b, &st));
  CHECK_STR("IN_QUEUE", st);
  CHECK_INT(RP_JOBSTORE_ESTATE, rp_jobstore_retry(js, c, &b, &st));
  CHECK_STR("COMPLETED", st);
  CHECK_INT(0, (int)b.len);
  CHECK_INT(RP_OK, rp_jobstore_retry(js, f, &b, &st));
  snprintf(want, sizeof(want), "{\"id\":\"%s\",\"status\":\"IN_QUEUE\"}", f);
  CHECK_STR(want, b.data);
  rp_buf_clear(&b);
  CHECK(has(view(js, f), "\"status\":\"IN_QUEUE\""));
  CHECK(!has(view(js, f), "boom"));
  CHECK_INT(RP_OK, rp_jobstore_retry(js, t, &b, &st));
  rp_buf_clear(&b);
  /* The timed-out run's stop is not reported any more. */
  CHECK_INT(0, rp_jobstore_stops(js, "w", 0, &b));
  /* Queued last, in retry order, with their input. */
  CHECK_INT(3, rp_jobstore_take(js, "w2", 3, 0, 1, &b));
  snprintf(want, sizeof(want), "{\"id\":\"%s\",\"input\":4}", q);
  CHECK(has(b.data, want));
  CHECK(strstr(b.data, q) < strstr(b.data, f));
  CHECK(strstr(b.data, f) < strstr(b.data, t));
  rp_buf_clear(&b);
  /* No chunk of the failed run is left; the new run's result counts. */
  CHECK_INT(0, rp_jobstore_stream_read(js, f, 0, &b) == RP_OK &&
               has(b.data, "\"p\""));
  rp_buf_clear(&b);
  CHECK_INT(RP_OK, rp_jobstore_done(js, "w2", f, 0, "7", 1, NULL, 0));
  CHECK(has(view(js, f), "\"status\":\"COMPLETED\""));
  CHECK(has(view(js, f), "\"output\":7}"));
  rp_jobstore_health(js, &h);
  CHECK_INT(2, (int)h.retried);
  rp_buf_free(&b);
  rp_jobstore_free(js);
}

/* A ping that says status=unhealthy counts its worker as unhealthy, not
 * idle, until a ping that does not say it. */
static void an_unhealthy_ping_is_counted(void)
{
  struct rp_jobstore *js = fresh(60000, 100, 0);
  struct rp_jobstore_health h;
  rp_jobstore_touch(js, "w1", 0);
  rp_jobstore_touch(js, "w2", 1);
  rp_jobstore_health(js, &h);
  CHECK_INT(1, (int)h.workers_idle);
  CHECK_INT(1, (int)h.workers_unhealthy);
  rp_jobstore_touch(js, "w2", 0);
  rp_jobstore_health(js, &h);
  CHECK_INT(2, (int)h.workers_idle);
  CHECK_INT(0, (int)h.workers_unhealthy);
  rp_jobstore_free(js);
}

static void view_waits_for_the_end(void)
{
  struct rp_jobstore *js = fresh(60000, 100, 0);
  struct rp_buf b = RP_BUF_INIT(1 << 20);
  char id[RP_JOBSTORE_ID_LEN + 1];
  long long t0;
  submit(js, "1", id);
  t0 = rp_clock_now_ms();
  CHECK_INT(RP_OK, rp_jobstore_view(js, id, 100, &b));
  CHECK(rp_clock_now_ms() - t0 >= 95);
  CHECK(has(b.data, "IN_QUEUE"));
  rp_buf_free(&b);
  rp_jobstore_free(js);
}

static void limits_are_enforced(void)
{
  struct rp_jobstore_limits lim;
  struct rp_jobstore *js = NULL;
  struct rp_buf b = RP_BUF_INIT(1 << 20);
  struct rp_buf small = RP_BUF_INIT(10);
  char id[RP_JOBSTORE_ID_LEN + 1];
  rp_jobstore_default_limits(&lim);
  lim.max_jobs = 1;
  lim.max_stream_bytes = 4;
  CHECK_INT(RP_OK, rp_jobstore_new(&lim, &js));
  submit(js, "1", id);
  CHECK_INT(RP_ETOOBIG, rp_jobstore_submit(js, "1", 1, "", 0, NULL, 0, id));
  /* A take that cannot fit its answer leaves the job queued. */
  CHECK_INT(RP_ETOOBIG, rp_jobstore_take(js, "w", 1, 0, 0, &small));
  CHECK_INT(1, rp_jobstore_take(js, "w", 1, 0, 0, &b));
  CHECK(has(b.data, id));
  CHECK_INT(RP_OK, rp_jobstore_stream_append(js, "w", id, "123", 3));
  CHECK_INT(RP_ETOOBIG, rp_jobstore_stream_append(js, "w", id, "12", 2));
  rp_buf_free(&b);
  rp_buf_free(&small);
  rp_jobstore_free(js);
}

/* What the notify hook was called with, in order. */
struct notes {
  int n;
  int stop[8];
};

static void note(void *ud, int stop)
{
  struct notes *t = ud;
  if (t->n < 8)
    t->stop[t->n] = stop;
  t->n++;
}

/* The hook says whether a taker is told of a queued job or of a stop: a
 * taker with no room for a job waits for the stops alone. */
static void notify_says_queued_or_stop(void)
{
  struct rp_jobstore *js = fresh(60000, 100, 0);
  struct rp_buf b = RP_BUF_INIT(1 << 20);
  char id[RP_JOBSTORE_ID_LEN + 1];
  struct notes t = { 0, { 0 } };
  rp_jobstore_set_notify(js, note, &t);
  submit(js, "1", id);
  CHECK_INT(1, t.n);
  CHECK_INT(0, t.stop[0]);
  CHECK_INT(1, rp_jobstore_take(js, "w", 1, 0, 0, &b));
  CHECK_INT(RP_OK, rp_jobstore_stream_append(js, "w", id, "1", 1));
  CHECK_INT(1, t.n);
  rp_buf_clear(&b);
  CHECK_INT(RP_OK, rp_jobstore_cancel(js, id, &b));
  CHECK_INT(2, t.n);
  CHECK_INT(1, t.stop[1]);
  rp_buf_free(&b);
  rp_jobstore_free(js);
}

struct reader {
  struct rp_jobstore *js;
  const char *id;
  struct rp_buf out;
  int rc;
};

static void *read_stream(void *ud)
{
  struct reader *r = ud;
  r->rc = rp_jobstore_stream_read(r->js, r->id, 10000, &r->out);
  return NULL;
}

/* A reader waiting on the job gets a chunk appended meanwhile (woken
 * after the store's lock is released), and the job outlives the wait. */
static void a_waiting_reader_gets_the_chunk(void)
{
  struct rp_jobstore *js = fresh(60000, 100, 0);
  struct rp_buf b = RP_BUF_INIT(1 << 20);
  char id[RP_JOBSTORE_ID_LEN + 1];
  struct reader r;
  pthread_t t;
  submit(js, "1", id);
  CHECK_INT(1, rp_jobstore_take(js, "w", 1, 0, 0, &b));
  r.js = js;
  r.id = id;
  r.out = (struct rp_buf)RP_BUF_INIT(1 << 20);
  r.rc = -1;
  CHECK_INT(0, pthread_create(&t, NULL, read_stream, &r));
  /* The reader is most likely waiting by then (the wake-up is what this
   * tests); if it is not, it finds the chunk at once: the same answer. */
  rp_jobstore_sleep(js, 50);
  CHECK_INT(RP_OK, rp_jobstore_stream_append(js, "w", id, "\"x\"", 3));
  pthread_join(t, NULL);
  CHECK_INT(RP_OK, r.rc);
  CHECK_STR("{\"status\":\"IN_PROGRESS\",\"stream\":[{\"output\":\"x\"}]}",
            r.out.data);
  rp_buf_free(&r.out);
  rp_buf_free(&b);
  rp_jobstore_free(js);
}

/* A job a caller named: the worker sees the name (escaped) in its
 * job-take object and its stop list and posts under it; the store's
 * routes know the job by the store's id; the name is refused while a job
 * that has not ended holds it, and is free again afterwards. */
static void a_named_job_goes_by_its_name(void)
{
  struct rp_jobstore *js = fresh(60000, 100, 0);
  struct rp_buf b = RP_BUF_INIT(1 << 20);
  char id[RP_JOBSTORE_ID_LEN + 1];
  char other[RP_JOBSTORE_ID_LEN + 1];
  const char *name = "req \"7\"/x";
  CHECK_INT(RP_OK, rp_jobstore_submit_as(js, name, "1", 1, "", 0, NULL, 0,
                                         id));
  CHECK_INT(RP_JOBSTORE_EEXIST, rp_jobstore_submit_as(js, name, "2", 1, "",
                                                      0, NULL, 0, other));
  /* nor may a name be another job's store id */
  CHECK_INT(RP_JOBSTORE_EEXIST, rp_jobstore_submit_as(js, id, "2", 1, "",
                                                      0, NULL, 0, other));
  CHECK_INT(1, rp_jobstore_take(js, "w1", 1, 0, 0, &b));
  CHECK_STR("{\"id\":\"req \\\"7\\\"/x\",\"input\":1}", b.data);
  rp_buf_clear(&b);
  /* the worker does not know the store's id */
  CHECK_INT(RP_JOBSTORE_ENOENT, rp_jobstore_done(js, "w1", id, 0, "5", 1,
                                                 NULL, 0));
  CHECK_INT(RP_OK, rp_jobstore_stream_append(js, "w1", name, "{}", 2));
  CHECK(has(view(js, id), "\"status\":\"IN_PROGRESS\""));
  CHECK_INT(RP_OK, rp_jobstore_cancel(js, id, &b));
  rp_buf_clear(&b);
  CHECK_INT(1, rp_jobstore_stops(js, "w1", 0, &b));
  CHECK_STR("[\"req \\\"7\\\"/x\"]", b.data);
  rp_buf_clear(&b);
  /* cancelled: the worker may still run it, so the name stays taken */
  CHECK_INT(RP_OK, rp_jobstore_done(js, "w1", name, 0, "5", 1, NULL, 0));
  CHECK(has(view(js, id), "\"status\":\"CANCELLED\""));
  CHECK_INT(RP_JOBSTORE_EEXIST, rp_jobstore_submit_as(js, name, "3", 1, "",
                                                      0, NULL, 0, other));
  /* a name whose job's result was delivered is free again, but only once:
   * a queued job under it holds it (an ended one listed first does not
   * hide it) */
  CHECK_INT(RP_OK, rp_jobstore_submit_as(js, "n2", "3", 1, "", 0, NULL, 0,
                                         other));
  CHECK_INT(1, rp_jobstore_take(js, "w1", 1, 0, 0, &b));
  rp_buf_clear(&b);
  CHECK_INT(RP_OK, rp_jobstore_done(js, "w1", "n2", 0, "6", 1, NULL, 0));
  CHECK(has(view(js, other), "\"output\":6"));
  CHECK_INT(RP_OK, rp_jobstore_submit_as(js, "n2", "4", 1, "", 0, NULL, 0,
                                         id));
  CHECK_INT(RP_JOBSTORE_EEXIST, rp_jobstore_submit_as(js, "n2", "5", 1, "",
                                                      0, NULL, 0, other));
  CHECK_INT(1, rp_jobstore_take(js, "w1", 1, 0, 0, &b));
  CHECK(has(b.data, "\"input\":4"));
  CHECK_INT(RP_OK, rp_jobstore_done(js, "w1", "n2", 0, "7", 1, NULL, 0));
  CHECK(has(view(js, id), "\"output\":7"));
  rp_buf_free(&b);
  rp_jobstore_free(js);
}

int main(void)
{
  RUN(submit_take_done);
  RUN(failed_job_keeps_error_text);
  RUN(unknown_ids_are_enoent);
  RUN(batch_take_is_fifo);
  RUN(empty_take_waits_its_hold);
  RUN(take_wakes_on_submit);
  RUN(close_wakes_waiters);
  RUN(stream_chunks_are_delivered_once);
  RUN(unstreamed_output_is_one_chunk);
  RUN(cancel_queued_and_running);
  RUN(progress_keeps_running);
  RUN(a_repeated_result_is_recognised);
  RUN(a_cancelled_job_has_no_result_to_repeat);
  RUN(purge_cancels_the_queue);
  RUN(retention_forgets_oldest);
  RUN(silent_worker_job_is_requeued);
  RUN(counters_escape_worker_ids);
  RUN(execution_timeout_stops_job);
  RUN(retry_requeues_failed_and_timed_out);
  RUN(an_unhealthy_ping_is_counted);
  RUN(view_waits_for_the_end);
  RUN(limits_are_enforced);
  RUN(notify_says_queued_or_stop);
  RUN(a_waiting_reader_gets_the_chunk);
  RUN(a_named_job_goes_by_its_name);
  return check_summary();
}
