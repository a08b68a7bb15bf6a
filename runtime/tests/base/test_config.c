/* test_config.c - command-line parsing and the reader of the
 * environment. */
#include <stdlib.h>
#include <string.h>

#include "base/args.h"
#include "base/log.h"
#include "base/settings.h"
#include "tests/check.h"

static int parse(struct rp_args *a, char **argv, int argc, char **rest,
                 char *err)
{
  return rp_args_parse(a, argc, argv, rest, err, 256);
}

static void defaults(void)
{
  struct rp_args a;
  char *rest[1];
  char err[256];
  CHECK_INT(0, parse(&a, NULL, 0, rest, err));
  CHECK_STR("localhost", a.api_host);
  CHECK_INT(8000, a.api_port);
  CHECK_INT(0, a.api_concurrency);
  CHECK(!a.test_input && !a.serve_api && !a.debugger);
  CHECK_INT(0, a.nrest);
}

static void both_value_forms(void)
{
  char *argv[] = { "--test_input", "{\"input\":1}", "--rp_api_port=9000",
                   "--rp_serve_api", "--rp_api_host", "0.0.0.0" };
  struct rp_args a;
  char *rest[6];
  char err[256];
  CHECK_INT(0, parse(&a, argv, 6, rest, err));
  CHECK_STR("{\"input\":1}", a.test_input);
  CHECK_INT(9000, a.api_port);
  CHECK_INT(1, a.serve_api);
  CHECK_STR("0.0.0.0", a.api_host);
}

static void unknown_kept_in_order(void)
{
  char *argv[] = { "--model", "x", "--rp_debugger", "-v", "--test_inputs" };
  struct rp_args a;
  char *rest[5];
  char err[256];
  CHECK_INT(0, parse(&a, argv, 5, rest, err));
  CHECK_INT(4, a.nrest);
  CHECK_STR("--model", rest[0]);
  CHECK_STR("x", rest[1]);
  CHECK_STR("-v", rest[2]);
  CHECK_STR("--test_inputs", rest[3]);
  CHECK_INT(1, a.debugger);
}

static void bad_values(void)
{
  char *no_value[] = { "--rp_log_level" };
  char *port[] = { "--rp_api_port", "http" };
  char *zero[] = { "--rp_api_concurrency=0" };
  char *flag_value[] = { "--rp_serve_api=yes" };
  struct rp_args a;
  char *rest[2];
  char err[256];
  CHECK_INT(-1, parse(&a, no_value, 1, rest, err));
  CHECK_STR("--rp_log_level needs a value", err);
  CHECK_INT(-1, parse(&a, port, 2, rest, err));
  CHECK_STR("invalid --rp_api_port 'http' (expected a whole number from 1 "
            "to 65535)", err);
  CHECK_INT(-1, parse(&a, zero, 1, rest, err));
  CHECK_STR("invalid --rp_api_concurrency '0' (expected a whole number "
            "from 1 to 1000000)", err);
  CHECK_INT(-1, parse(&a, flag_value, 1, rest, err));
  CHECK_STR("--rp_serve_api takes no value", err);
}

/* As argparse (allow_abbrev): a prefix of one flag's name is that flag;
 * a prefix of several is an error in argparse's words. */
static void abbreviations(void)
{
  char *argv[] = { "--rp_serve", "--rp_api_p=9000", "--test_in", "{}",
                   "--rp_api_h", "0.0.0.0", "--=x", "--" };
  char *ambiguous[] = { "--rp_api", "1" };
  char *ambiguous_value[] = { "--test=x" };
  struct rp_args a;
  char *rest[8];
  char err[256];
  CHECK_INT(0, parse(&a, argv, 8, rest, err));
  CHECK_INT(1, a.serve_api);
  CHECK_INT(9000, a.api_port);
  CHECK_STR("{}", a.test_input);
  CHECK_STR("0.0.0.0", a.api_host);
  CHECK_INT(2, a.nrest);
  CHECK_STR("--=x", rest[0]);
  CHECK_STR("--", rest[1]);
  CHECK_INT(-1, parse(&a, ambiguous, 2, rest, err));
  CHECK_STR("ambiguous option: --rp_api could match --rp_api_host, "
            "--rp_api_port, --rp_api_concurrency", err);
  CHECK_INT(-1, parse(&a, ambiguous_value, 1, rest, err));
  CHECK_STR("ambiguous option: --test could match --test_input, "
            "--test_output", err);
}

/* The Python SDK reads an empty --test_input as none given. */
static void empty_test_input(void)
{
  char *argv[] = { "--test_input", "" };
  char *eq[] = { "--test_input=" };
  struct rp_args a;
  char *rest[2];
  char err[256];
  CHECK_INT(0, parse(&a, argv, 2, rest, err));
  CHECK(a.test_input == NULL);
  CHECK_INT(0, parse(&a, eq, 1, rest, err));
  CHECK(a.test_input == NULL);
}

static void suggestions(void)
{
  CHECK_STR("--test_input", rp_args_suggest("--test-input", 0));
  CHECK_STR("--test_input", rp_args_suggest("--test-input={}", 0));
  CHECK_STR("--rp_api_port", rp_args_suggest("--rp_api_prt", 0));
  CHECK_STR("--rp_serve_api", rp_args_suggest("--rp-serve-api", 0));
  CHECK(!rp_args_suggest("--frobnicate", 0));
  CHECK(rp_args_suggest("--rp_zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz"
                        "zzzzzzzzzzzzzzzzzzzzzzzzzzzz", 1) != NULL);
  CHECK(rp_args_looks_ours("--test-input"));
  CHECK(rp_args_looks_ours("--rp-api-port=9000"));
  CHECK(rp_args_looks_ours("--testing"));
  CHECK(!rp_args_looks_ours("--model"));
  CHECK(!rp_args_looks_ours("-rp_api_port"));
  CHECK(!rp_args_looks_ours("rp_api_port"));
}

static void mistyped_message(void)
{
  char msg[256];
  CHECK_INT(1, rp_args_mistyped("--rp_api_prt=9000", msg, sizeof(msg)));
  CHECK_STR("unknown flag '--rp_api_prt=9000' (did you mean --rp_api_port?); "
            "left in the script's arg table", msg);
  CHECK_INT(0, rp_args_mistyped("--model", msg, sizeof(msg)));
}

static void usage_lists_every_flag(void)
{
  char buf[4096];
  const char *line;
  rp_args_usage(buf, sizeof(buf));
  CHECK(strstr(buf, "  --test_input JSON "));
  CHECK(strstr(buf, "  -h, --help "));
  CHECK(strstr(buf, "  --rp_api_concurrency N "));
  for (line = buf; *line;) {
    const char *nl = strchr(line, '\n');
    CHECK(nl != NULL);
    if (!nl)
      break;
    CHECK((size_t)(nl - line) <= 79);
    line = nl + 1;
  }
  rp_args_usage(buf, 40);       /* cut, still terminated */
  CHECK_INT(39, strlen(buf));
}

/* Unsets every variable of the list, so each test starts clean. */
static void clear_env(void)
{
  for (size_t i = 0; i < rp_env_count; i++)
    unsetenv(rp_env_list[i].name);
}

static void settings_defaults(void)
{
  struct rp_settings s;
  char msg[256];
  clear_env();
  setenv("RUNPOD_WEBHOOK_PING", "", 1);     /* empty counts as unset */
  rp_settings_read(&s);
  CHECK(!s.webhook_ping.text && !s.webhook_ping.set);
  CHECK(!s.job_timeout.set);
  CHECK(s.ping_interval.number == 10000);
  CHECK(s.fitness_timeout.number == 60);
  CHECK(s.api_idle_timeout.number == 30);
  CHECK(s.realtime_concurrency.number == 1);
  CHECK_INT(0, s.max_memory.size);
  CHECK_INT(0, rp_settings_problem(&s, 0, msg, sizeof(msg)));
}

static void settings_values(void)
{
  struct rp_settings s;
  clear_env();
  setenv("RUNPOD_JOB_TIMEOUT", "2.5", 1);
  setenv("RUNPOD_MAX_MEMORY", "64M", 1);
  setenv("RUNPOD_REALTIME_PORT", "9000", 1);
  setenv("RUNPOD_REAP_CHILDREN", "1", 1);
  setenv("RUNPOD_AI_API_KEY", "k", 1);
  rp_settings_read(&s);
  CHECK(s.job_timeout.set && s.job_timeout.number == 2.5);
  CHECK_INT((size_t)64 << 20, s.max_memory.size);
  CHECK(s.realtime_port.set && s.realtime_port.number == 9000);
  CHECK(s.reap_children.number == 1);
  CHECK_STR("k", s.ai_api_key.text);
  clear_env();
}

/* RUNPOD_ENDPOINT_SECRET is the key only when RUNPOD_AI_API_KEY is unset
 * or empty. */
static void settings_endpoint_secret(void)
{
  struct rp_settings s;
  clear_env();
  setenv("RUNPOD_ENDPOINT_SECRET", "secret", 1);
  rp_settings_read(&s);
  CHECK_STR("secret", s.ai_api_key.text);
  setenv("RUNPOD_AI_API_KEY", "", 1);
  rp_settings_read(&s);
  CHECK_STR("secret", s.ai_api_key.text);
  setenv("RUNPOD_AI_API_KEY", "k", 1);
  rp_settings_read(&s);
  CHECK_STR("k", s.ai_api_key.text);
  clear_env();
}

static void settings_bad_numbers_warn_once(void)
{
  struct rp_settings s;
  char msg[256];
  clear_env();
  setenv("RUNPOD_WORKER_THREADS", "abc", 1);
  setenv("RUNPOD_JOB_TIMEOUT", "-5", 1);
  setenv("RUNPOD_PING_INTERVAL", "nan", 1);
  rp_settings_read(&s);
  CHECK(!s.job_timeout.set && s.job_timeout.bad);
  CHECK(s.job_timeout.number == 0);
  CHECK(s.worker_threads.number == 1);
  CHECK(s.ping_interval.number == 10000);
  CHECK_INT(RP_LOG_WARN, rp_settings_problem(&s, 0, msg, sizeof(msg)));
  CHECK_STR("ignoring RUNPOD_PING_INTERVAL='nan' (expected a number from 1 "
            "to 3.6e+06); using 10000", msg);
  CHECK_INT(RP_LOG_WARN, rp_settings_problem(&s, 1, msg, sizeof(msg)));
  CHECK_STR("ignoring RUNPOD_WORKER_THREADS='abc' (expected a number from 1 "
            "to 256); using start's worker_threads, else 1", msg);
  CHECK_INT(RP_LOG_WARN, rp_settings_problem(&s, 2, msg, sizeof(msg)));
  CHECK_STR("ignoring RUNPOD_JOB_TIMEOUT='-5' (expected a number from 0 to "
            "1e+09); using start's timeout, else off", msg);
  CHECK_INT(0, rp_settings_problem(&s, 3, msg, sizeof(msg)));
  clear_env();
}

static void settings_fatal(void)
{
  struct rp_settings s;
  char msg[256];
  clear_env();
  setenv("RUNPOD_MAX_MEMORY", "lots", 1);
  setenv("RUNPOD_REALTIME_PORT", "70000", 1);
  setenv("RUNPOD_REAP_CHILDREN", "maybe", 1);
  rp_settings_read(&s);
  CHECK_INT(RP_LOG_ERROR, rp_settings_problem(&s, 0, msg, sizeof(msg)));
  CHECK_STR("invalid RUNPOD_MAX_MEMORY 'lots' (expected bytes, e.g. "
            "67108864 or 64M)", msg);
  CHECK_INT(RP_LOG_ERROR, rp_settings_problem(&s, 1, msg, sizeof(msg)));
  CHECK_STR("invalid RUNPOD_REALTIME_PORT '70000' (expected an integer in "
            "0..65535)", msg);
  CHECK(!s.realtime_port.set);
  CHECK_INT(RP_LOG_WARN, rp_settings_problem(&s, 2, msg, sizeof(msg)));
  CHECK_STR("ignoring RUNPOD_REAP_CHILDREN='maybe' (expected true or "
            "false)", msg);
  CHECK(s.reap_children.number == 0);
  clear_env();
}

static void settings_log(void)
{
  struct rp_settings s;
  char msg[256];
  clear_env();
  setenv("RUNPOD_DEBUG_LEVEL", "debug", 1);
  rp_settings_read(&s);
  rp_settings_apply_log(&s);
  CHECK_INT(RP_LOG_DEBUG, rp_log_get_level());
  setenv("RUNPOD_LOG_LEVEL", "error", 1);
  setenv("RUNPOD_DEBUG_LEVEL", "chatty", 1);   /* unused: no complaint */
  rp_settings_read(&s);
  rp_settings_apply_log(&s);
  CHECK_INT(RP_LOG_ERROR, rp_log_get_level());
  CHECK_INT(0, rp_settings_problem(&s, 0, msg, sizeof(msg)));
  setenv("RUNPOD_LOG_LEVEL", "chatty", 1);
  setenv("RUNPOD_LOG_STREAM", "pipe", 1);
  rp_settings_read(&s);
  CHECK_INT(RP_LOG_ERROR, rp_settings_problem(&s, 0, msg, sizeof(msg)));
  CHECK_STR("invalid RUNPOD_LOG_LEVEL 'chatty' (expected NOTSET, TRACE, "
            "DEBUG, INFO, WARN or ERROR)", msg);
  CHECK_INT(RP_LOG_ERROR, rp_settings_problem(&s, 1, msg, sizeof(msg)));
  CHECK_STR("invalid RUNPOD_LOG_STREAM 'pipe' (expected stdout or stderr)",
            msg);
  clear_env();
  rp_log_set_level(RP_LOG_INFO);
  rp_log_set_fd(1);
}

/* RUNPOD_DEBUG=true means DEBUG, as in the Python SDK, but only when no
 * level is named by RUNPOD_LOG_LEVEL or RUNPOD_DEBUG_LEVEL. */
static void settings_debug_switch(void)
{
  static const char *const on[] = { "true", "1", "yes", "TRUE" };
  struct rp_settings s;
  char msg[256];
  for (size_t i = 0; i < sizeof(on) / sizeof(on[0]); i++) {
    clear_env();
    rp_log_set_level(RP_LOG_INFO);
    setenv("RUNPOD_DEBUG", on[i], 1);
    rp_settings_read(&s);
    rp_settings_apply_log(&s);
    CHECK_INT(RP_LOG_DEBUG, rp_log_get_level());
    CHECK_INT(0, rp_settings_problem(&s, 0, msg, sizeof(msg)));
  }
  rp_log_set_level(RP_LOG_INFO);
  setenv("RUNPOD_DEBUG_LEVEL", "warn", 1);
  rp_settings_read(&s);
  rp_settings_apply_log(&s);
  CHECK_INT(RP_LOG_WARN, rp_log_get_level());
  unsetenv("RUNPOD_DEBUG_LEVEL");
  setenv("RUNPOD_LOG_LEVEL", "error", 1);
  setenv("RUNPOD_DEBUG", "maybe", 1);          /* unused: no complaint */
  rp_settings_read(&s);
  rp_settings_apply_log(&s);
  CHECK_INT(RP_LOG_ERROR, rp_log_get_level());
  CHECK_INT(0, rp_settings_problem(&s, 0, msg, sizeof(msg)));
  clear_env();
  rp_log_set_level(RP_LOG_INFO);
  setenv("RUNPOD_DEBUG", "false", 1);
  rp_settings_read(&s);
  rp_settings_apply_log(&s);
  CHECK_INT(RP_LOG_INFO, rp_log_get_level());
  setenv("RUNPOD_DEBUG", "maybe", 1);
  rp_settings_read(&s);
  rp_settings_apply_log(&s);
  CHECK_INT(RP_LOG_INFO, rp_log_get_level());
  CHECK_INT(RP_LOG_WARN, rp_settings_problem(&s, 0, msg, sizeof(msg)));
  CHECK_STR("ignoring RUNPOD_DEBUG='maybe' (expected true or false)", msg);
  clear_env();
  rp_log_set_level(RP_LOG_INFO);
}

static void settings_plain(void)
{
  char out[8];
  rp_settings_plain("`a` b", out, sizeof(out));
  CHECK_STR("a b", out);
  rp_settings_plain("`abcdefghij`", out, sizeof(out));
  CHECK_STR("abcdefg", out);
}

int main(void)
{
  RUN(defaults);
  RUN(both_value_forms);
  RUN(unknown_kept_in_order);
  RUN(bad_values);
  RUN(abbreviations);
  RUN(empty_test_input);
  RUN(suggestions);
  RUN(mistyped_message);
  RUN(usage_lists_every_flag);
  RUN(settings_defaults);
  RUN(settings_values);
  RUN(settings_endpoint_secret);
  RUN(settings_bad_numbers_warn_once);
  RUN(settings_fatal);
  RUN(settings_log);
  RUN(settings_debug_switch);
  RUN(settings_plain);
  return check_summary();
}
