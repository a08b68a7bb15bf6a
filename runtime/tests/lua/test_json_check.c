/*
 * test_json_check.c - rp_json_check (base/json.h), the check the local
 * API server runs on a job before queueing it, against the codec that
 * decodes the job in the worker (lua/json.h): on every document here the
 * two agree, so that no accepted job can fail to decode later.
 */
#include <lauxlib.h>
#include <lua.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "base/rp.h"
#include "lua/json.h"
#include "tests/check.h"

static lua_State *L;

/* Whether the codec decodes s[0..n). */
static int decodes(const char *s, size_t n)
{
  char err[256];
  int top = lua_gettop(L);
  int rc = rp_json_decode(L, s, n, err, sizeof(err));
  lua_settop(L, top);
  return rc == RP_OK;
}

/* Checks that rp_json_check and the codec both accept s (want 1) or both
 * refuse it (want 0). */
static void agree(const char *s, size_t n, int want)
{
  char err[256];
  int checked = rp_json_check(s, n, err, sizeof(err)) == RP_OK;
  int decoded = decodes(s, n);
  if (checked != want || decoded != want)
    printf("  on %.60s%s\n", s, n > 60 ? "..." : "");
  CHECK_INT(want, checked);
  CHECK_INT(want, decoded);
}

static void agree_text(const char *s, int want)
{
  agree(s, strlen(s), want);
}

/* s = prefix, then 'open' n times, 'mid', 'close' n times, suffix.
 * Caller frees. */
static char *nested(const char *prefix, const char *open, int n,
                    const char *mid, const char *close, const char *suffix)
{
  size_t len = strlen(prefix) + strlen(mid) + strlen(suffix) +
               (size_t)n * (strlen(open) + strlen(close)) + 1;
  char *s = malloc(len);
  strcpy(s, prefix);
  for (int i = 0; i < n; i++)
    strcat(s, open);
  strcat(s, mid);
  for (int i = 0; i < n; i++)
    strcat(s, close);
  strcat(s, suffix);
  return s;
}

static void test_surrogates(void)
{
  agree_text("\"\\ud83d\\ude00\"", 1);
  agree_text("{\"input\":\"\\uD83D\\uDE00\\u00e9\\u0000\"}", 1);
  agree_text("\"\\ud83d\"", 0);
  agree_text("{\"input\":\"\\ud83d\"}", 0);
  agree_text("\"\\ude00\"", 0);
  agree_text("\"\\ud83dx\"", 0);
  agree_text("\"\\ud83d\\u0041\"", 0);
  agree_text("\"\\ud83d\\ud83d\"", 0);
  agree_text("\"\\ud83d\\", 0);
}

static void test_numbers(void)
{
  char big[512];
  agree_text("{\"input\":1e308}", 1);
  agree_text("-1.7976931348623157e308", 1);
  agree_text("1e-400", 1);
  agree_text("9223372036854775807", 1);
  agree_text("-9223372036854775808", 1);
  agree_text("{\"seed\":18446744073709551615}", 1);
  agree_text("{\"input\":1e400}", 0);
  agree_text("-1e400", 0);
  agree_text("1.8e308", 0);
  agree_text("[1, 2e999]", 0);
  /* Integers past int64 are kept exact, whatever their length; with a
   * fraction they read as doubles: 308 digits fit, 309 do not. */
  memset(big, '9', 309);
  big[309] = '\0';
  agree_text(big, 1);
  memset(big, '0', 400);
  big[0] = '1';
  big[400] = '\0';
  agree_text(big, 1);
  memset(big, '9', 308);
  strcpy(big + 308, ".5");
  agree_text(big, 1);
  memset(big, '9', 309);
  strcpy(big + 309, ".5");
  agree_text(big, 0);
  /* Exponents around the edge of the double range. */
  for (int e = 300; e <= 320; e++) {
    snprintf(big, sizeof(big), "[1.5e%d]", e);
    agree_text(big, e <= 308);
  }
}

static void test_depth(void)
{
  for (int n = RP_JSON_MAX_DEPTH - 2; n <= RP_JSON_MAX_DEPTH + 1; n++) {
    char *s = nested("", "[", n, "", "]", "");
    agree_text(s, n <= RP_JSON_MAX_DEPTH);
    free(s);
    /* a job: {"input": ...} is one level more */
    s = nested("{\"input\":", "{\"a\":", n - 1, "1", "}", "}");
    agree_text(s, n <= RP_JSON_MAX_DEPTH);
    free(s);
  }
}

static void test_grammar(void)
{
  agree_text("", 0);
  agree_text(" ", 0);
  agree_text("[1,]", 0);
  agree_text("01", 0);
  agree_text("-", 0);
  agree_text("1.", 0);
  agree_text("{\"a\" 1}", 0);
  agree_text("\"\x01\"", 0);
  agree_text("\"\\x\"", 0);
  agree_text("[1] x", 0);
  agree_text(" {\"a\":[true,false,null,-0.5e-3,\"\\/\"]} ", 1);
  agree("\"a\0b\"", 5, 0);
}

static void test_messages(void)
{
  char err[256];
  CHECK_INT(RP_EINVAL, rp_json_check("{\"input\":1e400}", 15, err,
                                    sizeof(err)));
  CHECK_STR("number out of range at byte 9", err);
  CHECK_INT(RP_EINVAL, rp_json_check("{\"x\":\"ab\\ud83d\"}", 16, err,
                                    sizeof(err)));
  CHECK_STR("lone UTF-16 surrogate in a \\u escape at byte 8", err);
  CHECK_INT(RP_EJSON, rp_json_check("[1,", 3, err, sizeof(err)));
  CHECK_STR("not valid JSON", err);
  {
    char *s = nested("{\"input\":", "[", RP_JSON_MAX_DEPTH, "", "]", "}");
    CHECK_INT(RP_EINVAL, rp_json_check(s, strlen(s), err, sizeof(err)));
    CHECK_STR("nesting deeper than 1000 at byte 1008", err);
    free(s);
  }
}

int main(void)
{
  L = luaL_newstate();
  RUN(test_surrogates);
  RUN(test_numbers);
  RUN(test_depth);
  RUN(test_grammar);
  RUN(test_messages);
  lua_close(L);
  return check_summary();
}
