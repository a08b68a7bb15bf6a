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
      rp_wire_done_url(DONE, "j1", "w1", 0));
  URL("http://h/v2/ep/job-done/w1/j1?gpu=x&isStream=true",
      rp_wire_done_url(DONE, "j1", "w1", 1));
  URL("http://h/v2/ep/job-done/w1/j1?gpu=x&isStream=false",
      rp_wire_stream_url(DONE, "j1", "w1"));
  URL("http://h/done/j1?isStream=true",
      rp_wire_done_url("http://h/done/$ID", "j1", "w1", 1));
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

int main(void)
{
  RUN(take);
  RUN(take_without_query);
  RUN(stop);
  RUN(done_and_stream);
  RUN(ping);
  RUN(replace);
  return check_summary();
}
