/* json_decode.c - JSON text to Lua values (see json.h). */
#include "lua/json.h"

#include <lauxlib.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "base/rp.h"

static int isdigitc(char c)
{
  return c >= '0' && c <= '9';
}

struct dec {
  lua_State *L;
  const char *s;           /* the input, for byte offsets */
  const char *p;           /* the next byte to read */
  const char *end;
  int mt;                  /* stack index of the array metatable */
  int depth;               /* containers open */
  struct rp_json_decpoint dp;
  char *err;
  size_t errlen;
};

static int parse_value(struct dec *d);

static int dfail(struct dec *d, const char *at, const char *msg)
{
  return rp_fail(RP_EJSON, d->err, d->errlen, "invalid JSON at byte %zu: %s",
                 (size_t)(at - d->s), msg);
}

static void skipws(struct dec *d)
{
  const char *p = d->p;
  while (p < d->end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
    p++;
  d->p = p;
}

/* Steps into the container opening at d->p, checking the depth and making
 * room on the Lua stack for the table, a key, a value and a luaL_Buffer. */
static int enter(struct dec *d)
{
  if (d->depth >= RP_JSON_MAX_DEPTH)
    return rp_fail(RP_EJSON, d->err, d->errlen,
                   "nesting deeper than %d at byte %zu", RP_JSON_MAX_DEPTH,
                   (size_t)(d->p - d->s));
  if (!lua_checkstack(d->L, 8))
    return rp_fail(RP_EJSON, d->err, d->errlen,
                   "out of Lua stack at byte %zu", (size_t)(d->p - d->s));
  d->depth++;
  d->p++;
  return RP_OK;
}

/* Adds the escape at *pp (a backslash followed by at least one byte) to b
 * and moves *pp past it. A high surrogate must be followed by a \u low
 * surrogate; lone surrogates are errors ("lone UTF-16 surrogate"). */
static int unescape(struct dec *d, luaL_Buffer *b, const char **pp)
{
  const char *p = *pp;
  long cp;
  char u[4];
  if (p[1] != 'u') {
    int c = rp_json_unescape_char(p[1]);
    if (c < 0)
      return dfail(d, p, "invalid escape");
    luaL_addchar(b, (char)c);
    *pp = p + 2;
    return RP_OK;
  }
  /* The same rule as rp_json_check's, which the local API server applies
   * before it queues a job. */
  cp = rp_json_u_escape(p, d->end, pp);
  if (cp < 0) {
    long hi = rp_json_hex4(p + 2, d->end);
    if (hi >= 0xd800 && hi <= 0xdfff)
      return rp_fail(RP_EJSON, d->err, d->errlen, "lone UTF-16 surrogate "
                     "\\u%04lx at byte %zu", (unsigned long)hi,
                     (size_t)(p - d->s));
    return rp_fail(RP_EJSON, d->err, d->errlen, "invalid \\u escape at byte "
                   "%zu", (size_t)(p - d->s));
  }
  luaL_addlstring(b, u, rp_json_utf8_encode(u, (unsigned long)cp));
  return RP_OK;
}

/* Pushes the string whose opening quote is at d->p. A string without
 * escapes is pushed straight from the input; otherwise it is built in a
 * luaL_Buffer, which the caller's lua_settop discards on failure. */
static int parse_string(struct dec *d)
{
  const char *open = d->p;
  const char *p = open + 1;
  const char *run = p;
  const char *end = d->end;
  luaL_Buffer b;
  int rc;
  p = rp_json_skip_plain(p, end, 0);
  if (p < end && *p == '"') {
    lua_pushlstring(d->L, run, (size_t)(p - run));
    d->p = p + 1;
    return RP_OK;
  }
  luaL_buffinit(d->L, &b);
  for (;;) {
    p = rp_json_skip_plain(p, end, 0);
    luaL_addlstring(&b, run, (size_t)(p - run));
    if (p == end)
      return dfail(d, open, "unterminated string");
    if (*p == '"')
      break;
    if (*p != '\\')
      return dfail(d, p, "unescaped control character in string");
    if (end - p < 2)
      return dfail(d, open, "unterminated string");
    rc = unescape(d, &b, &p);
    if (rc != RP_OK)
      return rc;
    run = p;
  }
  luaL_pushresult(&b);
  d->p = p + 1;
  return RP_OK;
}

/* Pushes the float the JSON number s[0..n) denotes, read by strtod with
 * its '.' replaced by the C locale's decimal point. Returns 0, or -1
 * (nothing pushed) for a number beyond the double range, which no JSON
 * encoder could write back. */
static int pushfloat(struct dec *d, const char *s, size_t n)
{
  char small[64];
  char *t = small;
  size_t i;
  size_t j = 0;
  double x;
  if (n + d->dp.len > sizeof(small))
    t = lua_newuserdatauv(d->L, n + d->dp.len, 0);
  for (i = 0; i < n; i++) {
    if (s[i] == '.' && !d->dp.dot) {
      memcpy(t + j, d->dp.s, d->dp.len);
      j += d->dp.len;
    } else {
      t[j++] = s[i];
    }
  }
  t[j] = '\0';
  x = strtod(t, NULL);
  if (t != small)
    lua_pop(d->L, 1);
  if (isinf(x))
    return -1;
  lua_pushnumber(d->L, x);
  return 0;
}

/* Steps over the digits at p, at least one; NULL when there is none. */
static const char *digits(const char *p, const char *end)
{
  if (p == end || !isdigitc(*p))
    return NULL;
  while (p < end && isdigitc(*p))
    p++;
  return p;
}

/* Pushes the number at d->p: an integer when it has no fraction or
 * exponent and fits int64, a big integer when it has neither and does not
 * fit, else a float. */
static int parse_number(struct dec *d)
{
  const char *start = d->p;
  const char *p = start;
  const char *end = d->end;
  const char *q;
  int neg = *p == '-';
  int isfloat = 0;
  unsigned long long u = 0;
  unsigned long long limit;
  if (neg)
    p++;
  q = digits(p, end);
  if (!q)
    return dfail(d, p, "invalid number");
  if (*p == '0' && q - p > 1)
    return dfail(d, p + 1, "leading zero in number");
  p = q;
  if (p < end && *p == '.') {
    q = digits(p + 1, end);
    if (!q)
      return dfail(d, p + 1, "invalid number");
    p = q;
    isfloat = 1;
  }
  if (p < end && (*p == 'e' || *p == 'E')) {
    p++;
    if (p < end && (*p == '+' || *p == '-'))
      p++;
    q = digits(p, end);
    if (!q)
      return dfail(d, p, "invalid number");
    p = q;
    isfloat = 1;
  }
  d->p = p;
  if (!isfloat) {
    limit = neg ? (unsigned long long)INT64_MAX + 1 : INT64_MAX;
    for (q = start + neg; q < p; q++) {
      unsigned dig = (unsigned)(*q - '0');
      if (u > (limit - dig) / 10)
        break;
      u = u * 10 + dig;
    }
    if (q == p) {
      if (neg && u > 0)
        lua_pushinteger(d->L, -(lua_Integer)(u - 1) - 1);
      else
        lua_pushinteger(d->L, (lua_Integer)u);
      return RP_OK;
    }
  }
  if (!isfloat) {
    /* An integer beyond int64: kept exact, as its digits. */
    rp_json_pushbigint(d->L, start, (size_t)(p - start));
    return RP_OK;
  }
  if (pushfloat(d, start, (size_t)(p - start)) != 0)
    return dfail(d, start, "number out of range");
  return RP_OK;
}

static int parse_literal(struct dec *d, const char *word, size_t n)
{
  if ((size_t)(d->end - d->p) < n || memcmp(d->p, word, n) != 0)
    return dfail(d, d->p, "invalid literal");
  if (word[0] == 'n')
    rp_json_pushnull(d->L);
  else
    lua_pushboolean(d->L, word[0] == 't');
  d->p += n;
  return RP_OK;
}

/* Steps out of the container whose closing byte is at d->p. */
static int leave(struct dec *d)
{
  d->p++;
  d->depth--;
  return RP_OK;
}

/* After an entry of a container closed by 'close': returns 1 at the
 * closing byte, 0 after stepping past a ',', or an error ('expected'
 * when neither follows). */
static int next_entry(struct dec *d, char close, const char *expected)
{
  skipws(d);
  if (d->p == d->end)
    return dfail(d, d->p, "unexpected end of input");
  if (*d->p == close)
    return 1;
  if (*d->p != ',')
    return dfail(d, d->p, expected);
  d->p++;
  return 0;
}

static int parse_array(struct dec *d)
{
  lua_State *L = d->L;
  lua_Integer n = 0;
  int rc = enter(d);
  if (rc != RP_OK)
    return rc;
  lua_createtable(L, 0, 0);
  lua_pushvalue(L, d->mt);
  lua_setmetatable(L, -2);
  skipws(d);
  if (d->p < d->end && *d->p == ']')
    return leave(d);
  for (;;) {
    rc = parse_value(d);
    if (rc != RP_OK)
      return rc;
    lua_rawseti(L, -2, ++n);
    rc = next_entry(d, ']', "expected ',' or ']'");
    if (rc != 0)
      return rc > 0 ? leave(d) : rc;
  }
}

static int parse_object(struct dec *d)
{
  lua_State *L = d->L;
  int rc = enter(d);
  if (rc != RP_OK)
    return rc;
  lua_createtable(L, 0, 0);
  skipws(d);
  if (d->p < d->end && *d->p == '}')
    return leave(d);
  for (;;) {
    if (d->p == d->end)
      return dfail(d, d->p, "unexpected end of input");
    if (*d->p != '"')
      return dfail(d, d->p, "expected string key");
    rc = parse_string(d);
    if (rc != RP_OK)
      return rc;
    skipws(d);
    if (d->p == d->end)
      return dfail(d, d->p, "unexpected end of input");
    if (*d->p != ':')
      return dfail(d, d->p, "expected ':'");
    d->p++;
    rc = parse_value(d);
    if (rc != RP_OK)
      return rc;
    lua_rawset(L, -3);                  /* duplicate keys: the last wins */
    rc = next_entry(d, '}', "expected ',' or '}'");
    if (rc != 0)
      return rc > 0 ? leave(d) : rc;
    skipws(d);
  }
}

/* Pushes the value starting at or after d->p (after whitespace). On
 * failure it may leave partial results on the stack for the caller to
 * drop. */
static int parse_value(struct dec *d)
{
  skipws(d);
  if (d->p == d->end)
    return dfail(d, d->p, "unexpected end of input");
  switch (*d->p) {
  case '{':
    return parse_object(d);
  case '[':
    return parse_array(d);
  case '"':
    return parse_string(d);
  case 't':
    return parse_literal(d, "true", 4);
  case 'f':
    return parse_literal(d, "false", 5);
  case 'n':
    return parse_literal(d, "null", 4);
  default:
    if (*d->p == '-' || isdigitc(*d->p))
      return parse_number(d);
    return dfail(d, d->p, "expected value");
  }
}

int rp_json_decode(lua_State *L, const char *s, size_t len, char *err,
                   size_t errlen)
{
  struct dec d;
  int base = lua_gettop(L);
  int rc;
  if (!s)
    s = "";
  if (!lua_checkstack(L, 8))
    return rp_fail(RP_EJSON, err, errlen, "out of Lua stack");
  d.L = L;
  d.s = s;
  d.p = s;
  d.end = s + len;
  d.depth = 0;
  d.err = err;
  d.errlen = errlen;
  rp_json_decpoint_get(&d.dp);
  rp_json_pusharraymt(L);
  d.mt = base + 1;
  skipws(&d);
  if (d.p == d.end)
    rc = rp_fail(RP_EJSON, err, errlen, "invalid JSON: empty input");
  else
    rc = parse_value(&d);
  if (rc == RP_OK) {
    skipws(&d);
    if (d.p != d.end)
      rc = rp_fail(RP_EJSON, err, errlen, "trailing characters at byte %zu",
                   (size_t)(d.p - d.s));
  }
  if (rc != RP_OK) {
    lua_settop(L, base);         /* also closes an unfinished luaL_Buffer */
    return rc;
  }
  /* stack: base | array_mt | value */
  lua_replace(L, base + 1);
  return RP_OK;
}

void rp_json_pushnull(lua_State *L)
{
  lua_pushlightuserdata(L, NULL);
}

void rp_json_pusharraymt(lua_State *L)
{
  luaL_newmetatable(L, RP_JSON_ARRAY_MT);
}

/* ---- big integers ----------------------------------------------------
 * A full userdata holding the integer's decimal text (an optional '-',
 * then digits), NUL-terminated: its length is lua_rawlen() - 1. */

static const char *bigint_text(lua_State *L, int idx, size_t *n)
{
  const char *s = luaL_checkudata(L, idx, RP_JSON_BIGINT_MT);
  *n = lua_rawlen(L, idx) - 1;
  return s;
}

static int bigint_tostring(lua_State *L)
{
  size_t n;
  const char *s = bigint_text(L, 1, &n);
  lua_pushlstring(L, s, n);
  return 1;
}

static int bigint_eq(lua_State *L)
{
  size_t n1;
  size_t n2;
  const char *a = bigint_text(L, 1, &n1);
  const char *b = bigint_text(L, 2, &n2);
  lua_pushboolean(L, n1 == n2 && memcmp(a, b, n1) == 0);
  return 1;
}

/* Pushes the value at idx as a Lua number: a big integer as the nearest
 * float (its text holds no '.', so the locale does not matter). */
static void pushnumber(lua_State *L, int idx)
{
  if (luaL_testudata(L, idx, RP_JSON_BIGINT_MT)) {
    size_t n;
    lua_pushnumber(L, strtod(bigint_text(L, idx, &n), NULL));
  } else {
    lua_pushnumber(L, luaL_checknumber(L, idx));
  }
}

/* Arithmetic and comparisons: on floats, the big integer's nearest one. */
static int bigint_arith(lua_State *L, int op)
{
  pushnumber(L, 1);
  if (op != LUA_OPUNM)
    pushnumber(L, 2);
  lua_arith(L, op);
  return 1;
}

static int bigint_add(lua_State *L) { return bigint_arith(L, LUA_OPADD); }
static int bigint_sub(lua_State *L) { return bigint_arith(L, LUA_OPSUB); }
static int bigint_mul(lua_State *L) { return bigint_arith(L, LUA_OPMUL); }
static int bigint_div(lua_State *L) { return bigint_arith(L, LUA_OPDIV); }
static int bigint_mod(lua_State *L) { return bigint_arith(L, LUA_OPMOD); }
static int bigint_pow(lua_State *L) { return bigint_arith(L, LUA_OPPOW); }
static int bigint_idiv(lua_State *L) { return bigint_arith(L, LUA_OPIDIV); }
static int bigint_unm(lua_State *L) { return bigint_arith(L, LUA_OPUNM); }

static int bigint_compare(lua_State *L, int op)
{
  pushnumber(L, 1);
  pushnumber(L, 2);
  lua_pushboolean(L, lua_compare(L, -2, -1, op));
  return 1;
}

static int bigint_lt(lua_State *L) { return bigint_compare(L, LUA_OPLT); }
static int bigint_le(lua_State *L) { return bigint_compare(L, LUA_OPLE); }

/* a .. b: the big integer's text in place of it. */
static int bigint_concat(lua_State *L)
{
  for (int i = 1; i <= 2; i++) {
    if (luaL_testudata(L, i, RP_JSON_BIGINT_MT)) {
      lua_pushcfunction(L, bigint_tostring);
      lua_pushvalue(L, i);
      lua_call(L, 1, 1);
    } else {
      luaL_checkstring(L, i);
      lua_pushvalue(L, i);
    }
  }
  lua_concat(L, 2);
  return 1;
}

static const luaL_Reg bigint_meta[] = {
  {"__tostring", bigint_tostring},
  {"__eq", bigint_eq},
  {"__lt", bigint_lt},
  {"__le", bigint_le},
  {"__concat", bigint_concat},
  {"__add", bigint_add},
  {"__sub", bigint_sub},
  {"__mul", bigint_mul},
  {"__div", bigint_div},
  {"__mod", bigint_mod},
  {"__pow", bigint_pow},
  {"__idiv", bigint_idiv},
  {"__unm", bigint_unm},
  {NULL, NULL}
};

void rp_json_pushbigint(lua_State *L, const char *s, size_t n)
{
  char *u = lua_newuserdatauv(L, n + 1, 0);
  memcpy(u, s, n);
  u[n] = '\0';
  if (luaL_newmetatable(L, RP_JSON_BIGINT_MT)) {
    luaL_setfuncs(L, bigint_meta, 0);
    lua_pushliteral(L, "bigint");
    lua_setfield(L, -2, "__metatable");
  }
  lua_setmetatable(L, -2);
}
