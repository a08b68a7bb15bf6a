/* test_config.c - command-line parsing. */
#include <string.h>

#include "../config.h"
#include "check.h"

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
  CHECK_INT(1, a.api_concurrency);
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

int main(void)
{
  RUN(defaults);
  RUN(both_value_forms);
  RUN(unknown_kept_in_order);
  RUN(bad_values);
  return check_summary();
}
