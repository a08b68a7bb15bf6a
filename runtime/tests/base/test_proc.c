/* test_proc.c - supervised children: output lines, exits, stops, the
 * watcher, spawn errors. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "base/proc.h"
#include "base/rp.h"
#include "tests/check.h"

static char log_path[] = "/tmp/test_proc_XXXXXX";
static atomic_int watched;
static char watched_name[64];

static void on_exit_cb(void *ud, const char *name, const char *reason)
{
  (void)ud;
  (void)reason;
  snprintf(watched_name, sizeof(watched_name), "%s", name);
  atomic_fetch_add(&watched, 1);
}

static void nap(void)
{
  struct timespec ts = { 0, 20 * 1000000L };
  nanosleep(&ts, NULL);
}

/* Whether the log holds 'want', waiting up to 10 s for it. */
static int logged(const char *want)
{
  static char buf[65536];
  for (int i = 0; i < 500; i++) {
    FILE *f = fopen(log_path, "rb");
    size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
    if (f)
      fclose(f);
    buf[n] = '\0';
    if (strstr(buf, want))
      return 1;
    nap();
  }
  printf("  log lacks \"%s\":\n%s\n", want, buf);
  return 0;
}

/* Waits up to 10 s for child id to be reaped; fills *in. */
static void wait_end(int id, struct rp_proc_info *in)
{
  for (int i = 0; i < 500; i++) {
    rp_proc_info(id, in);
    if (!in->running)
      return;
    nap();
  }
}

static int spawn(const char *name, const char *script, const char *const *env,
                 const char *cwd, int *id)
{
  const char *argv[] = { "sh", "-c", script, NULL };
  struct rp_proc_spec s = { name, argv, env, 0, cwd, 10 };
  char err[256];
  return rp_proc_spawn(&s, id, err, sizeof(err));
}

static void lines_reach_the_log(void)
{
  struct rp_proc_info in;
  int id = -1;
  CHECK_INT(RP_OK, spawn("lines", "printf 'one\\ntwo'; echo err >&2", NULL,
                         NULL, &id));
  wait_end(id, &in);
  CHECK(logged("| [lines] one\n"));
  CHECK(logged("| [lines] two\n"));   /* the last piece, at EOF */
  CHECK(logged("| [lines] err\n"));
}

static void an_exit_is_reported(void)
{
  struct rp_proc_info in;
  int id = -1;
  int before = atomic_load(&watched);
  CHECK_INT(RP_OK, spawn("dies", "exit 3", NULL, NULL, &id));
  wait_end(id, &in);
  CHECK_INT(0, in.running);
  CHECK_STR("exited with code 3", in.reason);
  for (int i = 0; i < 500 && atomic_load(&watched) == before; i++)
    nap();
  CHECK_INT(before + 1, atomic_load(&watched));
  CHECK_STR("dies", watched_name);
  CHECK(logged("backend 'dies' (pid "));
  CHECK_INT(id, rp_proc_find("dies"));
}

static void env_and_cwd_are_passed(void)
{
  const char *env[] = { "RP_TEST_FOO=bar", NULL };
  struct rp_proc_info in;
  int id = -1;
  CHECK_INT(RP_OK, spawn("env", "echo \"$RP_TEST_FOO $(pwd)\"", env, "/",
                         &id));
  wait_end(id, &in);
  CHECK(logged("| [env] bar /\n"));
}

static void a_stop_sends_sigterm(void)
{
  struct rp_proc_info in;
  int id = -1;
  int before = atomic_load(&watched);
  CHECK_INT(RP_OK, spawn("term", "trap 'echo got term; exit 0' TERM; "
                         "echo up; while :; do sleep 0.05; done", NULL, NULL,
                         &id));
  CHECK(logged("| [term] up\n"));
  CHECK_INT(RP_OK, rp_proc_stop(id, 5));
  rp_proc_info(id, &in);
  CHECK_INT(0, in.running);
  CHECK_STR("exited with code 0", in.reason);
  CHECK(logged("| [term] got term\n"));
  CHECK_INT(before, atomic_load(&watched));   /* asked for: not watched */
}

static void a_stop_ends_in_sigkill(void)
{
  struct rp_proc_info in;
  int id = -1;
  CHECK_INT(RP_OK, spawn("deaf", "trap '' TERM; echo up; "
                         "while :; do sleep 0.05; done", NULL, NULL, &id));
  CHECK(logged("| [deaf] up\n"));
  CHECK_INT(RP_OK, rp_proc_stop(id, 0.2));
  rp_proc_info(id, &in);
  CHECK(strncmp(in.reason, "killed by signal 9", 18) == 0);
}

/* rp_proc_term_all_async, as a signal handler calls it: every child gets
 * SIGTERM at once, and one that ignores it SIGKILL after its stop
 * timeout, with nobody waiting. */
static void a_signal_stops_every_child(void)
{
  const char *deaf[] = { "sh", "-c", "trap '' TERM; echo up; "
                         "while :; do sleep 0.05; done", NULL };
  struct rp_proc_spec s = { "deaf2", deaf, NULL, 0, NULL, 0.2 };
  struct rp_proc_info in;
  char err[256];
  int id_term = -1, id_deaf = -1;
  int before = atomic_load(&watched);
  CHECK_INT(RP_OK, spawn("term2", "trap 'echo got term; exit 0' TERM; "
                         "echo up; while :; do sleep 0.05; done", NULL, NULL,
                         &id_term));
  CHECK_INT(RP_OK, rp_proc_spawn(&s, &id_deaf, err, sizeof(err)));
  CHECK(logged("| [term2] up\n"));
  CHECK(logged("| [deaf2] up\n"));
  rp_proc_term_all_async();
  wait_end(id_term, &in);
  CHECK_STR("exited with code 0", in.reason);
  CHECK_INT(1, in.stopping);
  CHECK(logged("| [term2] got term\n"));
  wait_end(id_deaf, &in);
  CHECK(strncmp(in.reason, "killed by signal 9", 18) == 0);
  CHECK_INT(before, atomic_load(&watched));   /* asked for: not watched */
}

static void spawn_errors_are_clear(void)
{
  const char *argv[] = { "/nonexistent/server", "--port", "1", NULL };
  const char *sh[] = { "sh", "-c", "sleep 5", NULL };
  struct rp_proc_spec s = { "none", argv, NULL, 0, NULL, 1 };
  char err[256];
  int id = -1;
  CHECK_INT(RP_EINVAL, rp_proc_spawn(&s, &id, err, sizeof(err)));
  CHECK_STR("cannot run /nonexistent/server: No such file or directory",
            err);
  s.argv = sh;
  s.name = "twice";
  CHECK_INT(RP_OK, rp_proc_spawn(&s, &id, err, sizeof(err)));
  CHECK_INT(RP_EINVAL, rp_proc_spawn(&s, &id, err, sizeof(err)));
  CHECK(strstr(err, "backend 'twice' runs already") != NULL);
  CHECK_INT(1, rp_proc_same_argv(id, sh));
  CHECK_INT(0, rp_proc_same_argv(id, argv));
  CHECK_INT(-1, rp_proc_find("never"));
}

int main(void)
{
  int fd = mkstemp(log_path);
  if (fd < 0)
    return 1;
  rp_log_set_fd(fd);
  rp_proc_watch(on_exit_cb, NULL);
  RUN(lines_reach_the_log);
  RUN(an_exit_is_reported);
  RUN(env_and_cwd_are_passed);
  RUN(a_stop_sends_sigterm);
  RUN(a_stop_ends_in_sigkill);
  RUN(a_signal_stops_every_child);
  RUN(spawn_errors_are_clear);
  rp_proc_shutdown();               /* stops "twice", frees the table */
  rp_proc_watch(NULL, NULL);
  rp_log_set_fd(1);
  close(fd);
  unlink(log_path);
  return check_summary();
}
