/* test_wire.c - the protocol's URLs. */
#include <stdlib.h>

#include "net/wire.h"
#include "tests/check.h"

#define TAKE "http://h/v2/ep/job-take/$ID?gpu=x"
#define DONE "http://h/v2/ep/job-done/$RUNPOD_POD_ID/$ID?gpu=x"

static void check_url(const char *want, char *got, const char *file,
                      int line)
{
  if (!got || strcmp(want, got) != 0) {
    printf("  %s:%d: want \"%s\", got \"%s\"\n", file, line, want,
           got ? got : "(null)");
    check_failed_now = 1;
  }
  free(got);
}
#define URL(want, got) check_url((want), (got), __FILE__, __LINE__)

static void take(void)
{
  URL("http://h/v2/ep/job-take/w1?gpu=x&job_in_progress=0",
      rp_wire_take_url(TAKE, "w1", 1, 0));
  URL("http://h/v2/ep/job-take/w1?gpu=x&job_in_progress=1",
      rp_wire_take_url(TAKE, "w1", 1, 1));
  URL("http://h/v2/ep/job-take-batch/w1?gpu=x&batch_size=4&"
      "job_in_progress=1", rp_wire_take_url(TAKE, "w1", 4, 1));
}

static void take_without_query(void)
{
  URL("http://h/job-take/w1?job_in_progress=0",
      rp_wire_take_url("http://h/job-take/$ID", "w1", 1, 0));
  URL("http://h/job-take-batch/$RUNPOD_POD_ID-x?batch_size=2&"
      "job_in_progress=0", rp_wire_take_url("http://h/job-take/$ID", 
      "$RUNPOD_POD_ID-x", 2, 0));
}

static void stop(void)
{
  URL("http://h/v2/ep/job-stop/w1?gpu=x", rp_wire_stop_url(TAKE, "w1"));
  /* No /job-take/: no stop URL, never the take URL itself. */
  CHECK_INT(0, rp_wire_has_stop("http://h/v2/ep/take/$ID"));
  CHECK(!rp_wire_stop_url("http://h/v2/ep/take/$ID", "w1"));
  CHECK_INT(1, rp_wire_has_stop(TAKE));
}

static void done_and_stream(void)
{
  URL("http://h/v2/ep/job-done/w1/j1?gpu=x&isStream=false",
      rp_wire_done_url(DONE, "j1", 2, "w1", 0));
  URL("http://h/v2/ep/job-done/w1/j1?gpu=x&isStream=true",
      rp_wire_done_url(DONE, "j1", 2, "w1", 1));
  URL("http://h/v2/ep/job-done/w1/j1?gpu=x&isStream=false",
      rp_wire_stream_url(DONE, "j1", 2, "w1"));
  URL("http://h/done/j1?isStream=true",
      rp_wire_done_url("http://h/done/$ID", "j1", 2, "w1", 1));
}

/* An id is one path segment whatever its bytes. */
static void hostile_ids(void)
{
  static const struct { const char *id; size_t n; const char *want; } t[] = {
    { "../../x", 7, "..%2F..%2Fx" },
    { ".", 1, "%2E" },
    { "..", 2, "%2E%2E" },
    { "a.b", 3, "a.b" },
    { "h#frag", 6, "h%23frag" },
    { "a/b", 3, "a%2Fb" },
    { "q?isStream=true&gpu=evil", 24, "q%3FisStream%3Dtrue%26gpu%3Devil" },
    { "a b\r\n", 5, "a%20b%0D%0A" },
    { "a\0b", 3, "a%00b" },
    { "$ID%", 4, "%24ID%25" },
    { "\xc3\xa9", 2, "%C3%A9" },
  };
  for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
    char want[256];
    snprintf(want, sizeof(want), "http://h/v2/ep/job-done/w1/%s?gpu=x&"
             "isStream=false", t[i].want);
    URL(want, rp_wire_done_url(DONE, t[i].id, t[i].n, "w1", 0));
  }
}

static void ping(void)
{
  URL("http://h/ping/w1?gpu=x&runpod_version=1.0",
      rp_wire_ping_url("http://h/ping/$RUNPOD_POD_ID?gpu=x", "w1", "",
                       "1.0"));
  URL("http://h/ping/w1?job_id=a,b&runpod_version=1.0",
      rp_wire_ping_url("http://h/ping/$RUNPOD_POD_ID", "w1", "a,b", "1.0"));
}

static void replace(void)
{
  URL("xyzxyz", rp_wire_replace("$A$A", "$A", "xyz"));
  URL("none", rp_wire_replace("none", "$A", "xyz"));
  URL("", rp_wire_replace("", "$A", "xyz"));
}

/* A job-take answer that is one job to start as it is, and ones that are
 * not (for the job loop's checks). */
static void lone_job(void)
{
  static const char *const not_lone[] = {
    "", "[]", "{}", "{\"id\":\"a\"}", "{\"input\":1}",
    "{\"id\":\"\",\"input\":1}", "{\"id\":7,\"input\":1}",
    "[{\"id\":\"a\",\"input\":1}]",
  };
  const char *one = "{\"id\":\"a\\u0000b\",\"input\":{\"x\":1}}";
  char *id = NULL;
  size_t len = 0;
  CHECK_INT(1, rp_wire_lone_job(one, strlen(one), &id, &len));
  CHECK_INT(3, len);
  CHECK(id && memcmp(id, "a\0b", 3) == 0);
  free(id);
  for (size_t i = 0; i < sizeof(not_lone) / sizeof(not_lone[0]); i++) {
    CHECK_INT(0, rp_wire_lone_job(not_lone[i], strlen(not_lone[i]), &id,
                                  &len));
    CHECK(id == NULL);
  }
}

int main(void)
{
  RUN(take);
  RUN(hostile_ids);
  RUN(take_without_query);
  RUN(stop);
  RUN(done_and_stream);
  RUN(ping);
  RUN(replace);
  RUN(lone_job);
  return check_summary();
}
