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

/* Reads 4 hex digits at p into *out; returns 0 if there are none. */
static int hex4(const char *p, const char *end, unsigned *out)
{
  unsigned v = 0;
  int i;
  if (end - p < 4)
    return 0;
  for (i = 0; i < 4; i++) {
    char c = p[i];
    v <<= 4;
    if (c >= '0' && c <= '9')
      v |= (unsigned)(c - '0');
    else if (c >= 'a' && c <= 'f')
      v |= (unsigned)(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F')
      v |= (unsigned)(c - 'A' + 10);
    else
      return 0;
  }
  *out = v;
  return 1;
}

/* Writes code point cp (not a surrogate, <= 0x10ffff) as UTF-8 into u[4];
 * returns the length. */
static size_t utf8enc(char *u, unsigned cp)
{
  if (cp < 0x80) {
    u[0] = (char)cp;
    return 1;
  }
  if (cp < 0x800) {
    u[0] = (char)(0xc0 | cp >> 6);
    u[1] = (char)(0x80 | (cp & 0x3f));
    return 2;
  }
  if (cp < 0x10000) {
    u[0] = (char)(0xe0 | cp >> 12);
    u[1] = (char)(0x80 | (cp >> 6 & 0x3f));
    u[2] = (char)(0x80 | (cp & 0x3f));
    return 3;
  }
  u[0] = (char)(0xf0 | cp >> 18);
  u[1] = (char)(0x80 | (cp >> 12 & 0x3f));
  u[2] = (char)(0x80 | (cp >> 6 & 0x3f));
  u[3] = (char)(0x80 | (cp & 0x3f));
  return 4;
}

/* Adds the escape at *pp (a backslash followed by at least one byte) to b
 * and moves *pp past it. A high surrogate must be followed by a \u low
 * surrogate; lone surrogates are errors. */
static int unescape(struct dec *d, luaL_Buffer *b, const char **pp)
{
  const char *p = *pp;
  const char *q;
  unsigned cp;
  unsigned lo;
  char u[4];
  switch (p[1]) {
  case '"':
  case '\\':
  case '/':
    luaL_addchar(b, p[1]);
    break;
  case 'b':
    luaL_addchar(b, '\b');
    break;
  case 'f':
    luaL_addchar(b, '\f');
    break;
  case 'n':
    luaL_addchar(b, '\n');
    break;
  case 'r':
    luaL_addchar(b, '\r');
    break;
  case 't':
    luaL_addchar(b, '\t');
    break;
  case 'u':
    if (!hex4(p + 2, d->end, &cp) || (cp >= 0xdc00 && cp <= 0xdfff))
      goto bad_u;
    q = p + 6;                          /* hex4 saw 4 digits after \u */
    if (cp >= 0xd800 && cp <= 0xdbff) {
      if (d->end - q < 6 || q[0] != '\\' || q[1] != 'u' ||
          !hex4(q + 2, d->end, &lo) || lo < 0xdc00 || lo > 0xdfff)
        goto bad_u;
      cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
      q += 6;
    }
    luaL_addlstring(b, u, utf8enc(u, cp));
    *pp = q;
    return RP_OK;
  default:
    return dfail(d, p, "invalid escape");
  }
  *pp = p + 2;
  return RP_OK;
bad_u:
  return rp_fail(RP_EJSON, d->err, d->errlen, "invalid \\u escape at byte %zu",
                 (size_t)(p - d->s));
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
  while (p < end && rp_json_byte_class[(unsigned char)*p] != 1)
    p++;
  if (p < end && *p == '"') {
    lua_pushlstring(d->L, run, (size_t)(p - run));
    d->p = p + 1;
    return RP_OK;
  }
  luaL_buffinit(d->L, &b);
  for (;;) {
    while (p < end && rp_json_byte_class[(unsigned char)*p] != 1)
      p++;
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

/* Pushes the number at d->p: an integer when it has no fraction or
 * exponent and fits int64, else a float. */
static int parse_number(struct dec *d)
{
  const char *start = d->p;
  const char *p = start;
  const char *end = d->end;
  int neg = *p == '-';
  int isfloat = 0;
  unsigned long long u = 0;
  unsigned long long limit;
  if (neg)
    p++;
  if (p == end || !isdigitc(*p))
    return dfail(d, p, "invalid number");
  if (*p == '0') {
    p++;
    if (p < end && isdigitc(*p))
      return dfail(d, p, "leading zero in number");
  } else {
    while (p < end && isdigitc(*p))
      p++;
  }
  if (p < end && *p == '.') {
    p++;
    if (p == end || !isdigitc(*p))
      return dfail(d, p, "invalid number");
    while (p < end && isdigitc(*p))
      p++;
    isfloat = 1;
  }
  if (p < end && (*p == 'e' || *p == 'E')) {
    p++;
    if (p < end && (*p == '+' || *p == '-'))
      p++;
    if (p == end || !isdigitc(*p))
      return dfail(d, p, "invalid number");
    while (p < end && isdigitc(*p))
      p++;
    isfloat = 1;
  }
  d->p = p;
  if (!isfloat) {
    const char *q;
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
  if (d->p < d->end && *d->p == ']') {
    d->p++;
    d->depth--;
    return RP_OK;
  }
  for (;;) {
    rc = parse_value(d);
    if (rc != RP_OK)
      return rc;
    lua_rawseti(L, -2, ++n);
    skipws(d);
    if (d->p == d->end)
      return dfail(d, d->p, "unexpected end of input");
    if (*d->p == ']')
      break;
    if (*d->p != ',')
      return dfail(d, d->p, "expected ',' or ']'");
    d->p++;
  }
  d->p++;
  d->depth--;
  return RP_OK;
}

static int parse_object(struct dec *d)
{
  lua_State *L = d->L;
  int rc = enter(d);
  if (rc != RP_OK)
    return rc;
  lua_createtable(L, 0, 0);
  skipws(d);
  if (d->p < d->end && *d->p == '}') {
    d->p++;
    d->depth--;
    return RP_OK;
  }
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
    skipws(d);
    if (d->p == d->end)
      return dfail(d, d->p, "unexpected end of input");
    if (*d->p == '}')
      break;
    if (*d->p != ',')
      return dfail(d, d->p, "expected ',' or '}'");
    d->p++;
    skipws(d);
  }
  d->p++;
  d->depth--;
  return RP_OK;
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
