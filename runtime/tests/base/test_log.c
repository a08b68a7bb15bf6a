/* test_log.c - the logger's line formats, levels, truncation and env. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "tests/check.h"

/* Runs fn with the logger writing into a pipe; returns what was written
 * (static storage, overwritten by the next call). */
static const char *capture(void (*fn)(void))
{
  static char out[16384];
  int fds[2];
  ssize_t n;
  size_t len = 0;
  if (pipe(fds) != 0)
    return "";
  rp_log_set_fd(fds[1]);
  fn();
  close(fds[1]);
  while (len < sizeof(out) - 1 &&
         (n = read(fds[0], out + len, sizeof(out) - 1 - len)) > 0)
    len += (size_t)n;
  close(fds[0]);
  out[len] = '\0';
  rp_log_set_fd(1);
  return out;
}

static void write_plain(void)
{
  rp_log(RP_LOG_INFO, "job-1", "hello %d", 42);
  rp_log(RP_LOG_ERROR, NULL, "no job");
  rp_log(RP_LOG_DEBUG, "job-1", "hidden");
}

static void plain_lines(void)
{
  rp_log_set_level(RP_LOG_INFO);
  rp_log_set_json(0);
  CHECK_STR("INFO   | job-1 | hello 42\nERROR  | no job\n",
            capture(write_plain));
}

static void write_empty_id(void)
{
  rp_log(RP_LOG_INFO, "", "x");
}

/* Python's logger drops an empty job id from a text line ("if job_id")
 * and keeps it in a JSON one. */
static void empty_id(void)
{
  rp_log_set_level(RP_LOG_INFO);
  rp_log_set_json(0);
  CHECK_STR("INFO   | x\n", capture(write_empty_id));
  rp_log_set_json(1);
  CHECK_STR("{\"requestId\": \"\", \"message\": \"x\", \"level\": "
            "\"INFO\"}\n", capture(write_empty_id));
  rp_log_set_json(0);
}

static void write_json(void)
{
  rp_log(RP_LOG_WARN, "job-\"2\"", "line\nbreak\t\x01");
  rp_log(RP_LOG_INFO, NULL, "x");
}

static void json_lines(void)
{
  rp_log_set_level(RP_LOG_INFO);
  rp_log_set_json(1);
  CHECK_STR("{\"requestId\": \"job-\\\"2\\\"\", \"message\": "
            "\"line\\nbreak\\t\\u0001\", \"level\": \"WARN\"}\n"
            "{\"requestId\": null, \"message\": \"x\", \"level\": "
            "\"INFO\"}\n", capture(write_json));
  rp_log_set_json(0);
}

static void write_bytes(void)
{
  rp_log(RP_LOG_INFO, "j\xff", "\b\f\x7f caf\xc3\xa9 \xc3");
}

/* The log escapes as the JSON codec does: short forms for \b and \f, 0x7f
 * as it is, and \ufffd for a byte that starts no valid UTF-8, so that
 * every line is valid JSON. */
static void json_escapes_as_the_codec(void)
{
  rp_log_set_level(RP_LOG_INFO);
  rp_log_set_json(1);
  CHECK_STR("{\"requestId\": \"j\\ufffd\", \"message\": "
            "\"\\b\\f\x7f caf\xc3\xa9 \\ufffd\", \"level\": \"INFO\"}\n",
            capture(write_bytes));
  rp_log_set_json(0);
}

static void write_long(void)
{
  static char msg[5000];
  memset(msg, 'a', 2500);
  memset(msg + 2500, 'b', 2500);
  rp_log_write(RP_LOG_INFO, NULL, msg, sizeof(msg));
}

static void truncation(void)
{
  const char *out;
  rp_log_set_level(RP_LOG_INFO);
  out = capture(write_long);
  CHECK_INT(9 + 2048 + 34 + 2048 + 1, strlen(out));
  CHECK(strstr(out, "a\\n...TRUNCATED 904 CHARACTERS...\\nb") != NULL);
  CHECK(strncmp(out, "INFO   | aaaa", 13) == 0);
}

static void write_forged(void)
{
  rp_log(RP_LOG_INFO, "j\r\nERROR  | forged", "a\nINFO   | b\r\x1b[2J\t"
         "\x7f\xc2\x85\xc2\xa0\xff caf\xc3\xa9 \\n");
}

/* A plain record is one line whatever its id and message hold: line
 * breaks, terminal escapes, DEL, C1 controls and invalid UTF-8 are
 * escaped; tab and valid UTF-8 (U+00A0 too) stay. */
static void plain_escapes(void)
{
  rp_log_set_level(RP_LOG_INFO);
  rp_log_set_json(0);
  CHECK_STR("INFO   | j\\r\\nERROR  | forged | a\\nINFO   | b\\r\\x1b[2J\t"
            "\\x7f\\u0085\xc2\xa0\\xff caf\xc3\xa9 \\n\n",
            capture(write_forged));
}

static void levels(void)
{
  CHECK_INT(RP_LOG_TRACE, rp_log_parse_level("trace"));
  CHECK_INT(RP_LOG_WARN, rp_log_parse_level("WARN"));
  CHECK_INT(RP_LOG_NOTSET, rp_log_parse_level("NotSet"));
  CHECK_INT(-1, rp_log_parse_level("WARNING"));
  CHECK_INT(-1, rp_log_parse_level(""));
  rp_log_set_level(RP_LOG_NOTSET);
  CHECK(!rp_log_enabled(RP_LOG_ERROR));
  rp_log_set_level(RP_LOG_WARN);
  CHECK(rp_log_enabled(RP_LOG_ERROR));
  CHECK(!rp_log_enabled(RP_LOG_INFO));
  rp_log_set_level(RP_LOG_INFO);
}

int main(void)
{
  RUN(plain_lines);
  RUN(empty_id);
  RUN(json_lines);
  RUN(json_escapes_as_the_codec);
  RUN(truncation);
  RUN(plain_escapes);
  RUN(levels);
  return check_summary();
}
