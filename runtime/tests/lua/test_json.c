/*
 * test_json.c - the JSON codec (ljson.c): decoding, encoding, error
 * messages, stack effects, the Lua-facing functions and memory errors.
 */
#include <lauxlib.h>
#include <locale.h>
#include <lua.h>
#include <lualib.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lua/ljson.h"
#include "base/rp.h"
#include "tests/check.h"

#define BIG ((size_t)1 << 30)

static char text[65536];     /* the last JSON text or error message */
static size_t textlen;
static int last_rc;

static lua_State *newstate(void)
{
  lua_State *L = luaL_newstate();
  luaL_openlibs(L);
  lua_newtable(L);
  rp_json_register(L);
  lua_setglobal(L, "json");
  return L;
}

static void keep(const char *s, size_t n)
{
  if (n >= sizeof(text))
    n = sizeof(text) - 1;
  memcpy(text, s, n);
  text[n] = '\0';
  textlen = n;
}

/* Pushes the value of the Lua expression src (nil after printing the error
 * if it fails). */
static void eval(lua_State *L, const char *src)
{
  char chunk[4096];
  snprintf(chunk, sizeof(chunk), "return %s", src);
  if (luaL_dostring(L, chunk) != LUA_OK) {
    printf("  lua error: %s\n", lua_tostring(L, -1));
    lua_pop(L, 1);
    lua_pushnil(L);
  }
}

/* Whether the Lua expression src is true; prints the error if it fails. */
static int istrue(lua_State *L, const char *src)
{
  int ok;
  eval(L, src);
  ok = lua_toboolean(L, -1);
  lua_pop(L, 1);
  if (!ok)
    printf("  not true: %s\n", src);
  return ok;
}

/* Runs the Lua chunk src; returns 1 if it ran without error. */
static int run(lua_State *L, const char *src)
{
  if (luaL_dostring(L, src) != LUA_OK) {
    printf("  lua error: %s\n", lua_tostring(L, -1));
    lua_pop(L, 1);
    return 0;
  }
  return 1;
}

/* Encodes the value at idx as "output" with cap max; returns the JSON text
 * or the error message (rc in last_rc), checking the stack effect. */
static const char *encode_at(lua_State *L, int idx, size_t max)
{
  char err[512];
  int top = lua_gettop(L);
  size_t n;
  const char *s;
  last_rc = rp_json_encode(L, idx, "output", max, err, sizeof(err));
  if (last_rc == RP_OK) {
    CHECK_INT(top + 1, lua_gettop(L));
    CHECK_INT(LUA_TSTRING, lua_type(L, -1));
    s = lua_tolstring(L, -1, &n);
    keep(s, n);
    lua_pop(L, 1);
  } else {
    CHECK_INT(top, lua_gettop(L));
    keep(err, strlen(err));
  }
  return text;
}

/* Encodes the value of the Lua expression src. */
static const char *encode_lua(lua_State *L, const char *src)
{
  int top = lua_gettop(L);
  eval(L, src);
  encode_at(L, -1, BIG);
  lua_settop(L, top);
  return text;
}

/* Decodes s[0..n): on success leaves the value pushed and returns RP_OK;
 * otherwise returns the code with the message in text. Checks the stack
 * effect. */
static int decode_n(lua_State *L, const char *s, size_t n)
{
  char err[256];
  int top = lua_gettop(L);
  int rc = rp_json_decode(L, s, n, err, sizeof(err));
  if (rc == RP_OK) {
    CHECK_INT(top + 1, lua_gettop(L));
  } else {
    CHECK_INT(top, lua_gettop(L));
    keep(err, strlen(err));
  }
  last_rc = rc;
  return rc;
}

static int decode(lua_State *L, const char *s)
{
  return decode_n(L, s, strlen(s));
}

/* The error message decoding s gives ("(decoded)" if it decodes). */
static const char *decode_err(lua_State *L, const char *s)
{
  if (decode(L, s) == RP_OK) {
    lua_pop(L, 1);
    return "(decoded)";
  }
  CHECK_INT(RP_EJSON, last_rc);
  return text;
}

/* Decodes s and encodes the result again. */
static const char *reencode(lua_State *L, const char *s)
{
  if (decode(L, s) != RP_OK)
    return text;
  encode_at(L, -1, BIG);
  lua_pop(L, 1);
  return text;
}

/* Decodes s into the global v; returns 1 on success. */
static int decode_to_v(lua_State *L, const char *s)
{
  if (decode(L, s) != RP_OK) {
    printf("  decode failed: %s\n", text);
    return 0;
  }
  lua_setglobal(L, "v");
  return 1;
}

static void test_scalars_roundtrip(void)
{
  lua_State *L = newstate();
  CHECK_INT(RP_OK, decode(L, "true"));
  CHECK_INT(LUA_TBOOLEAN, lua_type(L, -1));
  CHECK_INT(1, lua_toboolean(L, -1));
  lua_pop(L, 1);
  CHECK_INT(RP_OK, decode(L, "false"));
  CHECK_INT(LUA_TBOOLEAN, lua_type(L, -1));
  CHECK_INT(0, lua_toboolean(L, -1));
  lua_pop(L, 1);
  CHECK_INT(RP_OK, decode(L, "null"));
  CHECK_INT(LUA_TLIGHTUSERDATA, lua_type(L, -1));
  CHECK(lua_touserdata(L, -1) == NULL);
  lua_pop(L, 1);
  CHECK_INT(RP_OK, decode(L, " \t\r\n-12 \n"));
  CHECK(lua_isinteger(L, -1));
  CHECK_INT(-12, lua_tointeger(L, -1));
  lua_pop(L, 1);
  CHECK_STR("true", reencode(L, "true"));
  CHECK_STR("false", reencode(L, "false"));
  CHECK_STR("null", reencode(L, "null"));
  CHECK_STR("0", reencode(L, "0"));
  CHECK_STR("-12", reencode(L, " -12 "));
  CHECK_STR("1.5", reencode(L, "1.5"));
  CHECK_STR("\"hi\"", reencode(L, "\"hi\""));
  CHECK_STR("\"\"", reencode(L, "\"\""));
  lua_pushnil(L);
  CHECK_STR("null", encode_at(L, -1, BIG));
  lua_pop(L, 1);
  rp_json_pushnull(L);
  CHECK_STR("null", encode_at(L, -1, BIG));
  lua_pop(L, 1);
  lua_close(L);
}

static void test_exact_integers(void)
{
  static const struct { const char *s; long long v; } cases[] = {
    {"9007199254740993", 9007199254740993LL},
    {"9223372036854775807", INT64_MAX},
    {"-9223372036854775808", INT64_MIN},
    {"12345678901234567", 12345678901234567LL},
    {"-1", -1},
    {"0", 0},
  };
  lua_State *L = newstate();
  size_t i;
  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    CHECK_INT(RP_OK, decode(L, cases[i].s));
    CHECK(lua_isinteger(L, -1));
    CHECK_INT(cases[i].v, lua_tointeger(L, -1));
    CHECK_STR(cases[i].s, encode_at(L, -1, BIG));
    lua_pop(L, 1);
  }
  CHECK_STR("[9223372036854775807,-9223372036854775808]",
            encode_lua(L, "{math.maxinteger, math.mininteger}"));
  CHECK_STR("0", reencode(L, "-0"));
  lua_close(L);
}

static void test_big_integers_stay_exact(void)
{
  lua_State *L = newstate();
  static const char *const big[] = {
    "9223372036854775808", "18446744073709551615", "-9223372036854775809",
    "123456789012345678901234567890", "[18446744073709551615,1]",
    "{\"seed\":18446744073709551615}"
  };
  for (size_t i = 0; i < sizeof(big) / sizeof(big[0]); i++)
    CHECK_STR(big[i], reencode(L, big[i]));
  CHECK_INT(RP_OK, decode(L, "18446744073709551615"));
  CHECK_INT(LUA_TUSERDATA, lua_type(L, -1));
  CHECK(luaL_callmeta(L, -1, "__tostring"));
  CHECK_STR("18446744073709551615", lua_tostring(L, -1));
  lua_pop(L, 2);
  /* fractions and exponents stay floats */
  CHECK_STR("1.8446744073709552e+19", reencode(L, "18446744073709551615.0"));
  CHECK_STR("1e+20", reencode(L, "1e20"));
  lua_close(L);
}

static void test_floats(void)
{
  lua_State *L = newstate();
  CHECK_STR("0.1", encode_lua(L, "0.1"));
  CHECK_STR("1e+300", encode_lua(L, "1e300"));
  CHECK_STR("-0.0", encode_lua(L, "-0.0"));
  CHECK_STR("5.0", encode_lua(L, "5.0"));
  CHECK_STR("-5.0", encode_lua(L, "-5.0"));
  CHECK_STR("0.3333333333333333", encode_lua(L, "1/3"));
  CHECK_STR("0.30000000000000004", encode_lua(L, "0.1 + 0.2"));
  CHECK_STR("9007199254740992.0", encode_lua(L, "2.0^53"));
  CHECK_STR("1e+21", encode_lua(L, "1e21"));
  CHECK_STR("1e-07", encode_lua(L, "1e-7"));
  /* Not the shortest form "5e-324": 15 digits is the least tried. */
  CHECK_STR("4.94065645841247e-324", encode_lua(L, "5e-324"));
  CHECK_STR("1.7976931348623157e+308", encode_lua(L, "1.7976931348623157e308"));
  CHECK_INT(RP_OK, decode(L, "-0.0"));
  CHECK(!lua_isinteger(L, -1));
  CHECK(signbit(lua_tonumber(L, -1)));
  lua_pop(L, 1);
  CHECK(decode_to_v(L, "[5.0, 1E2, 2.5e-3, 0.1]"));
  CHECK(istrue(L, "math.type(v[1]) == 'float' and v[1] == 5"));
  CHECK(istrue(L, "math.type(v[2]) == 'float' and v[2] == 100"));
  CHECK(istrue(L, "v[3] == 0.0025 and v[4] == 0.1"));
  /* Found by spec/fuzz/fuzz_json.c: 1e316 decoded to inf, which then
   * could not be encoded back. */
  CHECK_STR("invalid JSON at byte 4: number out of range",
            decode_err(L, "[1, 1e316]"));
  CHECK_STR("invalid JSON at byte 0: number out of range",
            decode_err(L, "-1e400"));
  CHECK_STR("[5.0,100.0,0.0025]", reencode(L, "[5.0,1E2,2.5e-3]"));
  lua_close(L);
}

/* Passes without checking anything when no locale with a decimal comma
 * is installed (to run it: localedef -i de_DE -f UTF-8 DIR/de_DE.UTF-8,
 * then LOCPATH=DIR). */
static void test_decimal_comma_locale(void)
{
  static const char *names[] = {
    "de_DE.UTF-8", "de_DE.utf8", "fr_FR.UTF-8", "fr_FR.utf8", "de_DE", NULL
  };
  lua_State *L;
  int i;
  for (i = 0; names[i]; i++) {
    if (setlocale(LC_NUMERIC, names[i]))
      break;
  }
  if (!names[i]) {
    printf("  (no locale with a decimal comma installed; nothing checked)\n");
    return;
  }
  L = newstate();
  CHECK_STR(",", localeconv()->decimal_point);
  CHECK_STR("[0.5,1.25e-05,3.0]", encode_lua(L, "{0.5, 1.25e-5, 3.0}"));
  CHECK_INT(RP_OK, decode(L, "0.5"));
  CHECK(lua_tonumber(L, -1) == 0.5);
  lua_pop(L, 1);
  CHECK_STR("{\"0.5\":1}", encode_lua(L, "{[0.5] = 1}"));
  setlocale(LC_NUMERIC, "C");
  lua_close(L);
}

static void test_string_escapes(void)
{
  static const char in[] =
    "\"q\\\"b\\\\s\\/b\\bf\\fn\\nr\\rt\\te\\u00e9A\\u0041z\\u0000!\"";
  static const char want[] = "q\"b\\s/b\bf\fn\nr\rt\te\xc3\xa9" "AAz\0!";
  lua_State *L = newstate();
  size_t n;
  const char *s;
  CHECK_INT(RP_OK, decode(L, in));
  s = lua_tolstring(L, -1, &n);
  CHECK_INT(sizeof(want) - 1, n);
  CHECK(memcmp(want, s, sizeof(want) - 1) == 0);
  lua_pop(L, 1);
  lua_pushlstring(L, "\x01\b\t\n\x0b\f\r\x1f\"\\/\x7f" "a\0b", 15);
  CHECK_STR("\"\\u0001\\b\\t\\n\\u000b\\f\\r\\u001f\\\"\\\\/\x7f" "a\\u0000b\"",
            encode_at(L, -1, BIG));
  lua_pop(L, 1);
  CHECK_STR("\"caf\xc3\xa9\"", reencode(L, "\"caf\\u00E9\""));
  CHECK_STR("\"\xe2\x82\xac\"", reencode(L, "\"\\u20ac\""));
  lua_close(L);
}

static void test_surrogate_pair(void)
{
  lua_State *L = newstate();
  CHECK_INT(RP_OK, decode(L, "\"\\ud83d\\ude00\""));
  CHECK_STR("\xf0\x9f\x98\x80", lua_tostring(L, -1));
  CHECK_STR("\"\xf0\x9f\x98\x80\"", encode_at(L, -1, BIG));
  lua_pop(L, 1);
  CHECK_INT(RP_OK, decode(L, "\"x\\uD83D\\uDE00y\""));
  CHECK_STR("x\xf0\x9f\x98\x80y", lua_tostring(L, -1));
  lua_pop(L, 1);
  lua_close(L);
}

static void test_invalid_u_escapes(void)
{
  lua_State *L = newstate();
  CHECK_STR("lone UTF-16 surrogate \\ud83d at byte 1",
            decode_err(L, "\"\\ud83d\""));
  CHECK_STR("lone UTF-16 surrogate \\ude00 at byte 3",
            decode_err(L, "\"ab\\ude00\""));
  CHECK_STR("lone UTF-16 surrogate \\ud83d at byte 1",
            decode_err(L, "\"\\ud83d\\u0041\""));
  CHECK_STR("lone UTF-16 surrogate \\ud83d at byte 1",
            decode_err(L, "\"\\ud83dxx\""));
  CHECK_STR("invalid \\u escape at byte 2", decode_err(L, "[\"\\u12g4\"]"));
  CHECK_STR("invalid \\u escape at byte 1", decode_err(L, "\"\\u12\""));
  CHECK_STR("invalid \\u escape at byte 1", decode_err(L, "\"\\u12"));
  lua_close(L);
}

static void test_raw_control_char(void)
{
  lua_State *L = newstate();
  CHECK_STR("invalid JSON at byte 2: unescaped control character in string",
            decode_err(L, "\"a\nb\""));
  CHECK_STR("invalid JSON at byte 5: unescaped control character in string",
            decode_err(L, "\"\\n\\t\x01\""));
  CHECK_STR("\"\x7f\"", reencode(L, "\"\x7f\""));
  lua_close(L);
}

static void test_invalid_utf8_encode(void)
{
  lua_State *L = newstate();
  CHECK_STR("\"a\\ufffdb\"", encode_lua(L, "'a\\xffb'"));
  CHECK_STR("\"\\ufffd\\ufffdA\"", encode_lua(L, "'\\xe2\\x82A'"));
  CHECK_STR("\"\\ufffd\\ufffd\"", encode_lua(L, "'\\xc0\\xaf'"));
  CHECK_STR("\"\\ufffd\\ufffd\\ufffd\"", encode_lua(L, "'\\xed\\xa0\\x80'"));
  CHECK_STR("\"\\ufffd\\ufffd\\ufffd\\ufffd\"",
            encode_lua(L, "'\\xf4\\x90\\x80\\x80'"));
  CHECK_STR("\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf\"",
            encode_lua(L, "'\\u{e9}\\u{20ac}\\u{1f600}\\u{10ffff}'"));
  /* Decoding does not validate: the bytes come back as they were. */
  CHECK_INT(RP_OK, decode(L, "\"\xff\xfe\""));
  CHECK_STR("\xff\xfe", lua_tostring(L, -1));
  lua_pop(L, 1);
  lua_close(L);
}

static void test_null_in_containers(void)
{
  lua_State *L = newstate();
  CHECK(decode_to_v(L, "[null, 1, null]"));
  CHECK(istrue(L, "#v == 3 and v[1] == json.null and v[3] == json.null"));
  CHECK(decode_to_v(L, "{\"a\": null}"));
  CHECK(istrue(L, "v.a == json.null"));
  CHECK_STR("[null,1,null]", reencode(L, "[null, 1, null]"));
  CHECK_STR("{\"a\":null}", reencode(L, "{\"a\": null}"));
  CHECK_STR("[null]", encode_lua(L, "{json.null}"));
  CHECK_STR("[1,null,3]", encode_lua(L, "json.array({1, nil, 3})"));
  lua_close(L);
}

static void test_empty_array_and_object(void)
{
  lua_State *L = newstate();
  CHECK_STR("[]", reencode(L, "[]"));
  CHECK_STR("{}", reencode(L, "{}"));
  CHECK_STR("[[],{},[[]]]", reencode(L, "[ [ ] , { } , [[]] ]"));
  CHECK_STR("{\"a\":[]}", reencode(L, "{\"a\":[]}"));
  CHECK(decode_to_v(L, "[[], {}]"));
  CHECK(istrue(L, "getmetatable(v[1]) == json.array_mt"));
  CHECK(istrue(L, "getmetatable(v[2]) == nil and next(v[2]) == nil"));
  CHECK_STR("{}", encode_lua(L, "{}"));
  CHECK_STR("[]", encode_lua(L, "json.empty_array"));
  CHECK_STR("[]", encode_lua(L, "json.array()"));
  CHECK_STR("[]", encode_lua(L, "setmetatable({}, json.array_mt)"));
  lua_close(L);
}

static void test_nested(void)
{
  lua_State *L = newstate();
  CHECK_STR("{\"a\":[1,{\"b\":[[],[2.5,\"x\",true]]}]}",
            reencode(L, "{\"a\":[1,{\"b\":[[],[2.5,\"x\",true]]}]}"));
  CHECK_STR("[[[[1]]]]", reencode(L, "[[[[1]]]]"));
  CHECK_STR("{\"a\":[1,2]}", reencode(L, "  { \"a\" : [ 1 , 2 ] }  "));
  CHECK(decode_to_v(L, "{\"x\": {\"y\": [10, {\"z\": \"deep\"}]}, \"n\": 2}"));
  CHECK(istrue(L, "v.x.y[2].z == 'deep' and v.n == 2 and #v.x.y == 2"));
  lua_close(L);
}

static void test_duplicate_keys(void)
{
  lua_State *L = newstate();
  CHECK_STR("{\"a\":2}", reencode(L, "{\"a\":1,\"a\":2}"));
  CHECK_STR("{\"a\":[3]}", reencode(L, "{\"a\":{\"b\":1},\"a\":[3]}"));
  lua_close(L);
}

static void test_trailing_garbage(void)
{
  lua_State *L = newstate();
  CHECK_STR("trailing characters at byte 2", decode_err(L, "1 x"));
  CHECK_STR("trailing characters at byte 2", decode_err(L, "[]]"));
  CHECK_STR("trailing characters at byte 3", decode_err(L, "{} {}"));
  CHECK_STR("trailing characters at byte 4", decode_err(L, "nullx"));
  CHECK_STR("trailing characters at byte 3", decode_err(L, "\"a\"\"b\""));
  CHECK_INT(RP_EJSON, decode_n(L, "1\0", 2));
  CHECK_STR("trailing characters at byte 1", text);
  lua_close(L);
}

static void test_empty_input(void)
{
  lua_State *L = newstate();
  CHECK_STR("invalid JSON: empty input", decode_err(L, ""));
  CHECK_STR("invalid JSON: empty input", decode_err(L, " \n\t\r "));
  CHECK_INT(RP_EJSON, decode_n(L, NULL, 0));
  CHECK_STR("invalid JSON: empty input", text);
  lua_close(L);
}

static void test_malformed_tokens(void)
{
  static const struct { const char *in; const char *msg; } cases[] = {
    {"[1,]", "invalid JSON at byte 3: expected value"},
    {"[1 2]", "invalid JSON at byte 3: expected ',' or ']'"},
    {"[1,2", "invalid JSON at byte 4: unexpected end of input"},
    {"[", "invalid JSON at byte 1: unexpected end of input"},
    {"{\"a\" 1}", "invalid JSON at byte 5: expected ':'"},
    {"{\"a\":1 \"b\":2}", "invalid JSON at byte 7: expected ',' or '}'"},
    {"{1:2}", "invalid JSON at byte 1: expected string key"},
    {"{\"a\":1,}", "invalid JSON at byte 7: expected string key"},
    {"{\"a\":", "invalid JSON at byte 5: unexpected end of input"},
    {"{\"a\"", "invalid JSON at byte 4: unexpected end of input"},
    {"{", "invalid JSON at byte 1: unexpected end of input"},
    {"\"abc", "invalid JSON at byte 0: unterminated string"},
    {"[\"ab\\", "invalid JSON at byte 1: unterminated string"},
    {"\"a\\x\"", "invalid JSON at byte 2: invalid escape"},
    {"tru", "invalid JSON at byte 0: invalid literal"},
    {"[nul]", "invalid JSON at byte 1: invalid literal"},
    {"fals", "invalid JSON at byte 0: invalid literal"},
    {"True", "invalid JSON at byte 0: expected value"},
    {"01", "invalid JSON at byte 1: leading zero in number"},
    {"-01", "invalid JSON at byte 2: leading zero in number"},
    {"-", "invalid JSON at byte 1: invalid number"},
    {"-a", "invalid JSON at byte 1: invalid number"},
    {"1.", "invalid JSON at byte 2: invalid number"},
    {"1.e5", "invalid JSON at byte 2: invalid number"},
    {"1e", "invalid JSON at byte 2: invalid number"},
    {"1e+", "invalid JSON at byte 3: invalid number"},
    {".5", "invalid JSON at byte 0: expected value"},
    {"+1", "invalid JSON at byte 0: expected value"},
    {"'a'", "invalid JSON at byte 0: expected value"},
    {"NaN", "invalid JSON at byte 0: expected value"},
    {"-Infinity", "invalid JSON at byte 1: invalid number"},
    {"0x10", "trailing characters at byte 1"},
    {"\x01", "invalid JSON at byte 0: expected value"},
  };
  lua_State *L = newstate();
  size_t i;
  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    const char *got = decode_err(L, cases[i].in);
    if (strcmp(cases[i].msg, got) != 0)
      printf("  input: %s\n", cases[i].in);
    CHECK_STR(cases[i].msg, got);
  }
  lua_close(L);
}

/* Writes n copies of open, then mid, then n copies of close into text. */
static const char *nest(int n, const char *open, const char *mid,
                        const char *close)
{
  static char s[16384];
  size_t len = 0;
  int i;
  for (i = 0; i < n; i++)
    len += (size_t)snprintf(s + len, sizeof(s) - len, "%s", open);
  len += (size_t)snprintf(s + len, sizeof(s) - len, "%s", mid);
  for (i = 0; i < n; i++)
    len += (size_t)snprintf(s + len, sizeof(s) - len, "%s", close);
  return s;
}

static void test_decode_depth(void)
{
  lua_State *L = newstate();
  const char *s = nest(1000, "[", "", "]");
  CHECK_STR(s, reencode(L, s));
  CHECK_STR("nesting deeper than 1000 at byte 1000",
            decode_err(L, nest(1001, "[", "", "]")));
  s = nest(1000, "{\"a\":", "1", "}");
  CHECK_STR(s, reencode(L, s));
  CHECK_STR("nesting deeper than 1000 at byte 5000",
            decode_err(L, nest(1001, "{\"a\":", "1", "}")));
  CHECK_STR("nesting deeper than 1000 at byte 1000",
            decode_err(L, nest(1001, "[", "", "")));
  lua_close(L);
}

static void test_encode_depth(void)
{
  lua_State *L = newstate();
  char want[256];
  size_t n;
  int i;
  CHECK(run(L, "t = {} for i = 2, 1000 do t = {a = t} end"));
  CHECK_STR(nest(999, "{\"a\":", "{}", "}"), encode_lua(L, "t"));
  /* One level more: the path output.a.a... (2006 bytes) is cut to its
   * first 100 bytes, "..." and its last 97. */
  n = (size_t)snprintf(want, sizeof(want), "%s",
                       "nesting deeper than 1000 at output");
  for (i = 0; i < 47; i++)
    n += (size_t)snprintf(want + n, sizeof(want) - n, ".a");
  n += (size_t)snprintf(want + n, sizeof(want) - n, "...a");
  for (i = 0; i < 48; i++)
    n += (size_t)snprintf(want + n, sizeof(want) - n, ".a");
  CHECK_STR(want, encode_lua(L, "{a = t}"));
  CHECK_INT(RP_EJSON, last_rc);
  CHECK(decode_to_v(L, nest(1000, "[", "", "]")));
  CHECK_STR(nest(1000, "[", "", "]"), encode_lua(L, "v"));
  encode_lua(L, "{v}");
  CHECK_INT(RP_EJSON, last_rc);
  CHECK(strncmp(text, "nesting deeper than 1000 at output[1][1][1]", 43) == 0);
  CHECK(strlen(text) <= 30 + 200);
  lua_close(L);
}

static void test_encode_errors_name_path(void)
{
  lua_State *L = newstate();
  char want[128];
  CHECK_STR("cannot encode function at output.items[3].fn",
            encode_lua(L, "{items = {1, 2, {fn = print}}}"));
  CHECK_INT(RP_EJSON, last_rc);
  CHECK_STR("cannot encode thread at output.co",
            encode_lua(L, "{co = coroutine.create(print)}"));
  CHECK_STR("cannot encode NaN at output.score",
            encode_lua(L, "{score = 0/0}"));
  CHECK_STR("cannot encode inf at output.x[2]",
            encode_lua(L, "{x = {1, math.huge}}"));
  CHECK_STR("cannot encode -inf at output", encode_lua(L, "-math.huge"));
  CHECK_STR("cannot encode table cycle at output.self",
            encode_lua(L, "(function() local t = {} t.self = t "
                       "return t end)()"));
  CHECK_STR("cannot encode table cycle at output.b.c[1]",
            encode_lua(L, "(function() local a = {b = {}} a.b.c = {a} "
                       "return a end)()"));
  CHECK_STR("cannot encode table key of type boolean at output",
            encode_lua(L, "{[true] = 1}"));
  CHECK_STR("cannot encode table key of type table at output.x",
            encode_lua(L, "{x = {[{}] = 1}}"));
  CHECK_STR("cannot encode table key inf at output",
            encode_lua(L, "{[math.huge] = 1}"));
  CHECK_STR("cannot encode function at output[\"a b\"].f",
            encode_lua(L, "{['a b'] = {f = print}}"));
  CHECK_STR("cannot encode function at output[\"q\\\"\\\\\\x0a\"]",
            encode_lua(L, "{['q\"\\\\\\n'] = print}"));
  CHECK_STR("cannot encode function at output[\"1abc\"]",
            encode_lua(L, "{['1abc'] = print}"));
  CHECK_STR("cannot encode function at output[5]",
            encode_lua(L, "{[5] = print}"));
  CHECK_STR("cannot encode function at output[1.5]",
            encode_lua(L, "{[1.5] = print}"));
  snprintf(want, sizeof(want), "cannot encode function at output[\"%.40s...\"]",
           "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
  CHECK_STR(want, encode_lua(L, "{[string.rep('x', 50)] = print}"));
  CHECK_STR("cannot encode function at output", encode_lua(L, "print"));

  lua_newtable(L);
  lua_newuserdatauv(L, 16, 0);
  lua_setfield(L, -2, "u");
  CHECK_STR("cannot encode userdata at output.u", encode_at(L, -1, BIG));
  lua_pop(L, 1);
  lua_pushlightuserdata(L, &last_rc);
  CHECK_STR("cannot encode light userdata at output", encode_at(L, -1, BIG));
  lua_pop(L, 1);
  lua_close(L);
}

static void test_shared_table_is_not_a_cycle(void)
{
  lua_State *L = newstate();
  CHECK_STR("[[1],[1],{\"s\":[1]}]",
            encode_lua(L, "(function() local s = {1} "
                       "return {s, s, {s = s}} end)()"));
  eval(L, "(function() local s = {1} return {a = s, b = {s}} end)()");
  CHECK_INT(RP_OK, decode(L, encode_at(L, -1, BIG)));
  lua_setglobal(L, "v");
  lua_pop(L, 1);
  CHECK(istrue(L, "v.a[1] == 1 and v.b[1][1] == 1"));
  lua_close(L);
}

static void test_key_conversion(void)
{
  lua_State *L = newstate();
  CHECK_STR("[10,20,30]", encode_lua(L, "{10, 20, 30}"));
  CHECK_STR("[\"a\",\"b\"]", encode_lua(L, "{[2] = 'b', [1] = 'a'}"));
  CHECK_STR("{\"1.5\":true}", encode_lua(L, "{[1.5] = true}"));
  CHECK_STR("{\"-2\":0}", encode_lua(L, "{[-2] = 0}"));
  CHECK_STR("{\"0\":1}", encode_lua(L, "{[0] = 1}"));
  CHECK_STR("{\"9007199254740992\":1}", encode_lua(L, "{[2^53] = 1}"));
  CHECK_STR("{\"x\":\"y\"}", encode_lua(L, "{x = 'y'}"));
  CHECK(decode_to_v(L, encode_lua(L, "{[1] = 'a', [3] = 'c'}")));
  CHECK(istrue(L, "v['1'] == 'a' and v['3'] == 'c' and v[1] == nil"));
  CHECK(decode_to_v(L, encode_lua(L, "{[1] = 1, [2] = 2, [4] = 4}")));
  CHECK(istrue(L, "v['1'] == 1 and v['2'] == 2 and v['4'] == 4"));
  CHECK(decode_to_v(L, encode_lua(L, "{1, 2, x = 3}")));
  CHECK(istrue(L, "v['1'] == 1 and v['2'] == 2 and v.x == 3"));
  lua_close(L);
}

static void test_tojson(void)
{
  lua_State *L = newstate();
  CHECK_STR("\"hidden\"",
            encode_lua(L, "setmetatable({f = print}, "
                       "{__tojson = function(t) return 'hidden' end})"));
  CHECK_STR("{\"x\":[1,2]}",
            encode_lua(L, "{x = setmetatable({}, "
                       "{__tojson = function() return {1, 2} end})}"));
  CHECK_STR("[1]",
            encode_lua(L, "(function() local t = setmetatable({1}, {}) "
                       "getmetatable(t).__tojson = function(x) return x end "
                       "return t end)()"));
  CHECK(run(L, "inner = setmetatable({2}, "
            "{__tojson = function() return 'inner' end})"));
  CHECK_STR("[2]", encode_lua(L, "setmetatable({}, "
                              "{__tojson = function() return inner end})"));
  CHECK_STR("[\"inner\"]",
            encode_lua(L, "setmetatable({}, "
                       "{__tojson = function() return {inner} end})"));
  CHECK_STR("__tojson failed at output.x: boom",
            encode_lua(L, "{x = setmetatable({}, "
                       "{__tojson = function() error('boom', 0) end})}"));
  CHECK_INT(RP_EJSON, last_rc);
  CHECK_STR("cannot encode function at output.x",
            encode_lua(L, "{x = setmetatable({}, "
                       "{__tojson = function() return print end})}"));

  lua_newtable(L);
  lua_newuserdatauv(L, 4, 0);
  lua_newtable(L);
  eval(L, "function(u) return {kind = type(u)} end");
  lua_setfield(L, -2, "__tojson");
  lua_setmetatable(L, -2);
  lua_setfield(L, -2, "data");
  CHECK_STR("{\"data\":{\"kind\":\"userdata\"}}", encode_at(L, -1, BIG));
  lua_pop(L, 1);
  lua_close(L);
}

static void test_max_size(void)
{
  lua_State *L = newstate();
  lua_pushliteral(L, "abc");
  CHECK_STR("\"abc\"", encode_at(L, -1, 5));
  CHECK_INT(RP_OK, last_rc);
  CHECK_STR("encoded output exceeds 4 bytes", encode_at(L, -1, 4));
  CHECK_INT(RP_ETOOBIG, last_rc);
  lua_pop(L, 1);
  eval(L, "(function() local t = {} for i = 1, 1000 do t[i] = i end "
       "return t end)()");
  CHECK_STR("encoded output exceeds 100 bytes", encode_at(L, -1, 100));
  CHECK_INT(RP_ETOOBIG, last_rc);
  lua_pop(L, 1);
  lua_close(L);
}

static void test_stack_balance(void)
{
  lua_State *L = newstate();
  char err[128];
  int top;
  lua_pushinteger(L, 42);
  lua_pushliteral(L, "other");
  top = lua_gettop(L);
  CHECK_INT(RP_OK, rp_json_encode(L, -2, "output", BIG, err, sizeof(err)));
  CHECK_INT(top + 1, lua_gettop(L));
  CHECK_STR("42", lua_tostring(L, -1));
  CHECK_STR("other", lua_tostring(L, -2));
  lua_pop(L, 1);
  CHECK_INT(RP_OK, rp_json_encode(L, top, "output", BIG, NULL, 0));
  CHECK_STR("\"other\"", lua_tostring(L, -1));
  lua_pop(L, 1);
  lua_getglobal(L, "print");
  CHECK_INT(RP_EJSON, rp_json_encode(L, -1, NULL, BIG, NULL, 0));
  CHECK_INT(RP_EJSON, rp_json_encode(L, -1, NULL, BIG, err, sizeof(err)));
  CHECK_STR("cannot encode function at value", err);
  lua_pop(L, 1);
  CHECK_INT(RP_EJSON, rp_json_decode(L, "[", 1, NULL, 0));
  CHECK_INT(top, lua_gettop(L));
  /* A failure deep inside a long escaped string drops its luaL_Buffer. */
  memset(text, 'a', 5000);
  memcpy(text, "[{\"k\":\"\\n", 9);
  memcpy(text + 4990, "\\q\"}]", 6);
  CHECK_INT(RP_EJSON, decode(L, text));
  CHECK_STR("invalid JSON at byte 4990: invalid escape", text);
  CHECK_INT(top, lua_gettop(L));
  lua_settop(L, 0);
  lua_close(L);
}

static void test_lua_functions(void)
{
  lua_State *L = newstate();
  CHECK(run(L,
    "local t = assert(json.decode('[1,{\"a\":null}]'))\n"
    "assert(getmetatable(t) == json.array_mt)\n"
    "assert(t[2].a == json.null and type(json.null) == 'userdata')\n"
    "assert(json.encode(t) == '[1,{\"a\":null}]')\n"
    "local ok, cjson = pcall(require, 'cjson')\n"
    "if ok then assert(cjson.null == json.null) end\n"));
  CHECK(run(L,
    "local v, err = json.decode('[1,')\n"
    "assert(v == nil, 'value')\n"
    "assert(err == 'invalid JSON at byte 3: unexpected end of input', err)\n"
    "v, err = json.encode({f = print})\n"
    "assert(v == nil, 'value')\n"
    "assert(err == 'cannot encode function at value.f', err)\n"));
  CHECK(run(L,
    "local a = {1, 2}\n"
    "assert(json.array(a) == a and getmetatable(a) == json.array_mt)\n"
    "assert(json.encode(json.array()) == '[]')\n"
    "assert(json.encode(json.array({})) == '[]')\n"
    "assert(json.encode(json.empty_array) == '[]')\n"
    "assert(getmetatable(json.empty_array) == json.array_mt)\n"
    "local ok, e = pcall(function() json.empty_array[1] = 1 end)\n"
    "assert(not ok and e:find('cannot modify json.empty_array', 1, true), e)\n"
    "assert(next(json.empty_array) == nil)\n"
    "ok, e = pcall(setmetatable, json.empty_array, nil)\n"
    "assert(not ok and e:find('protected metatable', 1, true), e)\n"
    "ok, e = pcall(function() return json.array(json.empty_array) end)\n"
    "assert(not ok and e:find('protected metatable', 1, true), e)\n"));
  CHECK(run(L,
    "local function err(f) local ok, e = pcall(f) assert(not ok) return e end\n"
    "local e = err(function() return json.decode(nil) end)\n"
    "assert(e:find(\"bad argument #1 to 'decode' (string expected, got nil)\","
    " 1, true), e)\n"
    "e = err(function() return json.decode({}) end)\n"
    "assert(e:find(\"bad argument #1 to 'decode' \"\n"
    "  .. \"(string expected, got table)\", 1, true), e)\n"
    "e = err(function() return json.encode() end)\n"
    "assert(e:find(\"bad argument #1 to 'encode' (value expected)\","
    " 1, true), e)\n"
    "e = err(function() return json.array(5) end)\n"
    "assert(e:find(\"bad argument #1 to 'array' (table expected, got number)\","
    " 1, true), e)\n"));
  CHECK(istrue(L, "json.encode(nil) == 'null'"));
  CHECK(istrue(L, "json.decode('null') == json.null"));
  lua_close(L);
}

/* An allocator that refuses to grow memory once 'left' reaches 0. */
struct budget {
  long left;      /* allocations still allowed; < 0: no limit */
};

static void *budget_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
  struct budget *b = ud;
  if (nsize == 0) {
    free(ptr);
    return NULL;
  }
  if (b->left >= 0 && (!ptr || nsize > osize)) {
    if (b->left == 0)
      return NULL;
    b->left--;
  }
  return realloc(ptr, nsize);
}

static int call_encode(lua_State *L)
{
  char err[256];
  int rc = rp_json_encode(L, 1, "output", BIG, err, sizeof(err));
  lua_pushinteger(L, rc);
  return 1;
}

static int call_decode(lua_State *L)
{
  char err[256];
  size_t n;
  const char *s = lua_tolstring(L, 1, &n);
  int rc = rp_json_decode(L, s, n, err, sizeof(err));
  lua_pushinteger(L, rc);
  return 1;
}

/* Runs f(arg) with 0, 1, 2, ... allocations allowed until it returns
 * RP_OK; returns how many runs ended in a memory error. */
static int fail_until_ok(lua_State *L, struct budget *b, lua_CFunction f,
                         const char *arg)
{
  int memerrs = 0;
  long n;
  int status;
  for (n = 0; n < 100000; n++) {
    lua_pushcfunction(L, f);
    eval(L, arg);
    b->left = n;
    status = lua_pcall(L, 1, 1, 0);
    b->left = -1;
    if (status == LUA_ERRMEM) {
      memerrs++;
    } else {
      CHECK_INT(LUA_OK, status);
      CHECK_INT(RP_OK, lua_tointeger(L, -1));
      lua_pop(L, 1);
      break;
    }
    lua_pop(L, 1);
    lua_gc(L, LUA_GCCOLLECT);
  }
  return memerrs;
}

static void test_memory_errors_do_not_leak(void)
{
  struct budget b = { -1 };
  lua_State *L = lua_newstate(budget_alloc, &b);
  luaL_openlibs(L);
  lua_newtable(L);
  rp_json_register(L);
  lua_setglobal(L, "json");
  CHECK(run(L, "big = {} for i = 1, 40 do big[i] = {s = ('x\\n'):rep(i), "
            "n = i / 3, a = json.array({i, true}), "
            "h = setmetatable({}, {__tojson = function() "
            "return {('y'):rep(i)} end})} end"));
  CHECK(run(L, "text = assert(json.encode(big))"));
  CHECK(fail_until_ok(L, &b, call_encode, "big") > 0);
  CHECK(fail_until_ok(L, &b, call_decode, "text") > 0);
  CHECK(fail_until_ok(L, &b, call_decode,
                      "'[\"' .. ('\\\\n'):rep(3000) .. '\", 1.5, 2]'") > 0);
  lua_close(L);
}

int main(void)
{
  RUN(test_scalars_roundtrip);
  RUN(test_exact_integers);
  RUN(test_big_integers_stay_exact);
  RUN(test_floats);
  RUN(test_decimal_comma_locale);
  RUN(test_string_escapes);
  RUN(test_surrogate_pair);
  RUN(test_invalid_u_escapes);
  RUN(test_raw_control_char);
  RUN(test_invalid_utf8_encode);
  RUN(test_null_in_containers);
  RUN(test_empty_array_and_object);
  RUN(test_nested);
  RUN(test_duplicate_keys);
  RUN(test_trailing_garbage);
  RUN(test_empty_input);
  RUN(test_malformed_tokens);
  RUN(test_decode_depth);
  RUN(test_encode_depth);
  RUN(test_encode_errors_name_path);
  RUN(test_shared_table_is_not_a_cycle);
  RUN(test_key_conversion);
  RUN(test_tojson);
  RUN(test_max_size);
  RUN(test_stack_balance);
  RUN(test_lua_functions);
  RUN(test_memory_errors_do_not_leak);
  return check_summary();
}
