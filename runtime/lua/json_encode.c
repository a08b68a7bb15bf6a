/* json_encode.c - Lua values to JSON text (see json.h). */
#include "lua/json.h"

#include <lauxlib.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "base/buf.h"
#include "base/json.h"
#include "base/rp.h"

#define BOX_MT RP_JSON_BODY_MT
#define SHOWN_PATH 200            /* longer paths are cut in the middle */
#define SHOWN_KEY 40              /* longer keys are cut in paths */
#define PATH_BUILD_MAX ((size_t)1 << 20)
#define SEEN_BITS 11              /* 2048 slots > 2 * RP_JSON_MAX_DEPTH */
#define SEEN_SLOTS ((size_t)1 << SEEN_BITS)
/* Stack slots a key snapshot leaves free for the levels below it, each of
 * which needs at most 8 (encode_value checks for them). */
#define SNAPSHOT_RESERVE (8 * RP_JSON_MAX_DEPTH + 16)

/* One step of the path from the root: how level i + 1 was reached. */
struct seg {
  int key;             /* stack index of the object key, or 0 */
  lua_Integer pos;     /* the array position (1-based) when key is 0 */
};

struct enc {
  lua_State *L;
  struct rp_buf *b;    /* the output, held by a userdata on the stack */
  int mt;              /* stack index of the array metatable */
  const char *what;    /* the root's name in messages */
  char *err;
  size_t errlen;
  struct rp_json_decpoint dp;
  /* 0 on the first pass, which calls no Lua code and so may walk objects
   * with lua_next; it gives up with RESTART at the first __tojson. 1 on
   * the second pass, which calls __tojson and walks each object through
   * a snapshot of its keys, since a __tojson may change any table on the
   * path (lua_next then raises or repeats and skips keys). */
  int hooks;
  /* The containers around the root in the document: 1 for a field of
   * rp_json_encode_fields (its object), 0 otherwise. The limit counts
   * them, so that no document passes RP_JSON_MAX_DEPTH, the depth a
   * reader (the codec, the job store) accepts. */
  int outer;
  struct seg path[RP_JSON_MAX_DEPTH];
  /* The tables on the path from the root, for cycle detection: open
   * addressing with linear probing. Tables leave in the reverse order
   * they entered, so clearing a slot never breaks a probe sequence:
   * every entry still present was added before the one removed. */
  const void *seen[SEEN_SLOTS];
  char shown[SHOWN_PATH + 16];
};

enum { PLAIN, ARRAY, HOOK };

/* Internal return of the first encoding pass: start again with hooks. */
#define RESTART 1

static int box_gc(lua_State *L)
{
  rp_buf_free(lua_touserdata(L, 1));
  return 0;
}

static int box_len(lua_State *L)
{
  struct rp_buf *b = lua_touserdata(L, 1);
  lua_pushinteger(L, (lua_Integer)b->len);
  return 1;
}

static int box_tostring(lua_State *L)
{
  struct rp_buf *b = lua_touserdata(L, 1);
  lua_pushlstring(L, b->data ? b->data : "", b->len);
  return 1;
}

/* Pushes a userdata holding an empty rp_buf capped at max; its __gc frees
 * the buffer, and freeing it earlier with rp_buf_free is fine. [-0, +1] */
static struct rp_buf *newbox(lua_State *L, size_t max)
{
  struct rp_buf *b;
  if (luaL_newmetatable(L, BOX_MT)) {
    lua_pushcfunction(L, box_gc);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, box_len);
    lua_setfield(L, -2, "__len");
    lua_pushcfunction(L, box_tostring);
    lua_setfield(L, -2, "__tostring");
  }
  lua_pop(L, 1);
  b = lua_newuserdatauv(L, sizeof(*b), 0);
  *b = (struct rp_buf)RP_BUF_INIT(max);
  luaL_setmetatable(L, BOX_MT);
  return b;
}

/* The length of s[0..n) cut to at most 'at' bytes without splitting a
 * UTF-8 sequence. */
static size_t cutat(const char *s, size_t n, size_t at)
{
  if (n <= at)
    return n;
  while (at > 0 && ((unsigned char)s[at] & 0xc0) == 0x80)
    at--;
  return at;
}

static int isident(const char *s, size_t n)
{
  size_t i;
  if (n == 0 || n > SHOWN_KEY || (s[0] >= '0' && s[0] <= '9'))
    return 0;
  for (i = 0; i < n; i++) {
    char c = s[i];
    if (!((c >= '0' && c <= '9') || c == '_' || (c >= 'a' && c <= 'z') ||
          (c >= 'A' && c <= 'Z')))
      return 0;
  }
  return 1;
}

/* Appends a path step the way Lua writes it: .name, ["a b"], [3]. Makes no
 * Lua call that can raise. */
static void addseg(struct enc *e, struct rp_buf *pb, const struct seg *g)
{
  lua_State *L = e->L;
  char num[48];
  const char *s;
  size_t n;
  size_t shown;
  size_t i;
  if (!g->key) {
    rp_buf_printf(pb, "[%lld]", (long long)g->pos);
    return;
  }
  if (lua_type(L, g->key) == LUA_TNUMBER) {
    if (lua_isinteger(L, g->key))
      rp_json_format_int(num, lua_tointeger(L, g->key));
    else
      rp_json_format_double(num, sizeof(num), lua_tonumber(L, g->key), &e->dp);
    rp_buf_printf(pb, "[%s]", num);
    return;
  }
  s = lua_tolstring(L, g->key, &n);     /* a string: nothing is converted */
  if (isident(s, n)) {
    rp_buf_append(pb, ".", 1);
    rp_buf_append(pb, s, n);
    return;
  }
  shown = cutat(s, n, SHOWN_KEY);
  rp_buf_append(pb, "[\"", 2);
  for (i = 0; i < shown; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '"' || c == '\\')
      rp_buf_printf(pb, "\\%c", c);
    else if (c < 0x20 || c == 0x7f)
      rp_buf_printf(pb, "\\x%02x", c);
    else
      rp_buf_append(pb, s + i, 1);
  }
  rp_buf_puts(pb, shown < n ? "...\"]" : "\"]");
}

/* Formats the path of the value at level d into e->shown, cut in the
 * middle when longer than SHOWN_PATH bytes, and returns it. Must run
 * while the keys along the path are still on the stack. */
static const char *showpath(struct enc *e, int d)
{
  struct rp_buf pb = RP_BUF_INIT(PATH_BUILD_MAX);
  size_t head;
  size_t tail;
  int i;
  rp_buf_puts(&pb, e->what);
  for (i = 0; i < d; i++)
    addseg(e, &pb, &e->path[i]);
  if (!pb.data) {
    snprintf(e->shown, sizeof(e->shown), "%s", e->what);
  } else if (pb.len <= SHOWN_PATH) {
    memcpy(e->shown, pb.data, pb.len + 1);
  } else {
    head = cutat(pb.data, pb.len, SHOWN_PATH / 2);
    tail = pb.len - (SHOWN_PATH / 2 - 3);
    while (tail < pb.len && ((unsigned char)pb.data[tail] & 0xc0) == 0x80)
      tail++;
    snprintf(e->shown, sizeof(e->shown), "%.*s...%s", (int)head, pb.data,
             pb.data + tail);
  }
  rp_buf_free(&pb);
  return e->shown;
}

static int put(struct enc *e, const char *s, size_t n)
{
  return rp_buf_append(e->b, s, n);
}

/* Appends s[0..n) as a JSON string, escaped as base/json escapes. */
static int put_string(struct enc *e, const char *s, size_t n)
{
  return rp_json_put_string(e->b, s, n);
}

static int put_number(struct enc *e, int idx, int d)
{
  char s[48];
  size_t n;
  lua_Number x;
  if (lua_isinteger(e->L, idx)) {
    n = rp_json_format_int(s, lua_tointeger(e->L, idx));
    return put(e, s, n);
  }
  x = lua_tonumber(e->L, idx);
  if (isnan(x))
    return rp_fail(RP_EJSON, e->err, e->errlen, "cannot encode NaN at %s",
                   showpath(e, d));
  if (isinf(x))
    return rp_fail(RP_EJSON, e->err, e->errlen, "cannot encode %s at %s",
                   x > 0 ? "inf" : "-inf", showpath(e, d));
  n = rp_json_format_double(s, sizeof(s), x, &e->dp);
  return put(e, s, n);
}

/* Appends the key at stack index key (of the table at stack index tbl, at
 * level d) as a JSON string: strings as is, numbers formatted. A number
 * key whose text is also a string key of the table ({[1] = a, ["1"] = b})
 * is an error: the object would name one member twice. Uses one stack
 * slot. */
static int put_key(struct enc *e, int tbl, int key, int d)
{
  lua_State *L = e->L;
  char s[56];
  size_t n;
  lua_Number x;
  const char *k;
  switch (lua_type(L, key)) {
  case LUA_TSTRING:
    k = lua_tolstring(L, key, &n);
    return put_string(e, k, n);
  case LUA_TNUMBER:
    s[0] = '"';
    if (lua_isinteger(L, key)) {
      n = 1 + rp_json_format_int(s + 1, lua_tointeger(L, key));
    } else {
      x = lua_tonumber(L, key);
      if (isinf(x))
        return rp_fail(RP_EJSON, e->err, e->errlen,
                       "cannot encode table key %s at %s",
                       x > 0 ? "inf" : "-inf", showpath(e, d));
      n = 1 + rp_json_format_double(s + 1, sizeof(s) - 2, x, &e->dp);
    }
    lua_pushlstring(L, s + 1, n - 1);
    if (lua_rawget(L, tbl) != LUA_TNIL) {
      lua_pop(L, 1);
      return rp_fail(RP_EJSON, e->err, e->errlen,
                     "cannot encode table with both %.*s and \"%.*s\" as "
                     "keys at %s", (int)(n - 1), s + 1, (int)(n - 1), s + 1,
                     showpath(e, d));
    }
    lua_pop(L, 1);
    s[n++] = '"';
    return put(e, s, n);
  default:
    return rp_fail(RP_EJSON, e->err, e->errlen,
                   "cannot encode table key of type %s at %s",
                   luaL_typename(L, key), showpath(e, d));
  }
}

/* Adds table p to e->seen; returns 0 if it is there already (a cycle),
 * else 1 with its slot in *slot. */
static int see(struct enc *e, const void *p, size_t *slot)
{
  size_t h = (size_t)(((uint64_t)(uintptr_t)p *
                       UINT64_C(0x9e3779b97f4a7c15)) >> (64 - SEEN_BITS));
  while (e->seen[h]) {
    if (e->seen[h] == p)
      return 0;
    h = (h + 1) & (SEEN_SLOTS - 1);
  }
  e->seen[h] = p;
  *slot = h;
  return 1;
}

/* Whether the keys of the table at idx are exactly 1..n. [-0, +0] */
static int issequence(lua_State *L, int idx, lua_Integer n)
{
  lua_Integer count = 0;
  lua_Integer k;
  if (n <= 0)
    return 0;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pop(L, 1);
    k = lua_isinteger(L, -1) ? lua_tointeger(L, -1) : 0;
    if (k < 1 || k > n) {
      lua_pop(L, 1);
      return 0;
    }
    count++;
  }
  return count == n;
}

/* Checks that every key of the table at idx, an array of length n (at
 * level d), is an index 1..n, so that encoding t[1..n] drops nothing.
 * [-0, +0] */
static int arraykeys(struct enc *e, int idx, lua_Integer n, int d)
{
  lua_State *L = e->L;
  lua_Integer k;
  int t;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pop(L, 1);
    k = lua_isinteger(L, -1) ? lua_tointeger(L, -1) : 0;
    if (k >= 1 && k <= n)
      continue;
    t = lua_type(L, -1);
    if (t != LUA_TSTRING && t != LUA_TNUMBER)
      return rp_fail(RP_EJSON, e->err, e->errlen,
                     "cannot encode table key of type %s at %s",
                     lua_typename(L, t), showpath(e, d));
    /* The key stays on the stack while showpath reads it. */
    e->path[d].key = lua_gettop(L);
    return rp_fail(RP_EJSON, e->err, e->errlen,
                   "cannot encode array member at %s (the array's length "
                   "is %lld)", showpath(e, d + 1), (long long)n);
  }
  return RP_OK;
}

/* Looks at the metatable of the value at idx. Returns HOOK with __tojson
 * pushed when hooks is set and there is one, else ARRAY when the metatable
 * (or its __metatable field) is the array metatable, else PLAIN. */
static int classify(struct enc *e, int idx, int hooks)
{
  lua_State *L = e->L;
  int kind = PLAIN;
  if (!lua_getmetatable(L, idx))
    return PLAIN;
  if (hooks) {
    lua_pushliteral(L, "__tojson");
    if (lua_rawget(L, -2) != LUA_TNIL) {
      lua_remove(L, -2);
      return HOOK;
    }
    lua_pop(L, 1);
  }
  if (lua_rawequal(L, -1, e->mt)) {
    kind = ARRAY;
  } else {
    lua_pushliteral(L, "__metatable");
    lua_rawget(L, -2);
    if (lua_rawequal(L, -1, e->mt))
      kind = ARRAY;
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  return kind;
}

static int encode_value(struct enc *e, int idx, int d, int hooks);

/* Calls the __tojson on top of the stack with the value at idx and
 * encodes its result in the value's place. */
static int call_hook(struct enc *e, int idx, int d)
{
  lua_State *L = e->L;
  const char *msg;
  int status;
  int rc;
  if (!e->hooks)
    return RESTART;
  lua_pushvalue(L, idx);
  status = lua_pcall(L, 1, 1, 0);
  if (status == LUA_ERRMEM)
    lua_error(L);             /* lua_error raises it as a memory error */
  if (status != LUA_OK) {
    msg = lua_isstring(L, -1) ? lua_tostring(L, -1) : "(no error message)";
    return rp_fail(RP_EJSON, e->err, e->errlen, "__tojson failed at %s: %s",
                   showpath(e, d), msg);
  }
  rc = encode_value(e, lua_gettop(L), d, 0);
  if (rc == RP_OK)
    lua_pop(L, 1);
  return rc;
}

/* The keys of an object on the second pass, taken before any of its
 * members is encoded (see snapshot). */
struct keys {
  int at;              /* stack index of the first key or of the key table;
                        * 0 on the first pass (lua_next) */
  int n;               /* keys on the stack, or -1: a table holds them */
  lua_Integer used;    /* keys handed out so far */
};

/* Pushes the keys of the table at idx and describes them in *k: the keys
 * themselves when the Lua stack has room for them and SNAPSHOT_RESERVE
 * more (no garbage), else one table holding them as a sequence. Calls no Lua code while it walks the
 * table. [-0, +n or +1] */
static void snapshot(lua_State *L, int idx, struct keys *k)
{
  int base = lua_gettop(L);
  lua_Integer i = 0;
  k->at = base + 1;
  k->n = 0;
  k->used = 0;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    /* stack: base | keys so far | key value */
    if (!lua_checkstack(L, SNAPSHOT_RESERVE)) {
      lua_settop(L, base);
      lua_newtable(L);
      lua_pushnil(L);
      while (lua_next(L, idx)) {
        lua_pop(L, 1);
        lua_pushvalue(L, -1);
        lua_rawseti(L, -3, ++i);
      }
      k->n = -1;
      return;
    }
    lua_pop(L, 1);
    lua_pushvalue(L, -1);
    k->n++;
  }
}

/* lua_next for encode_object: pops a key and pushes the next member of
 * the table at idx as key and value, or pushes nothing at the end. With
 * a snapshot (k->at != 0) the members are those of the snapshot whose
 * value is not nil now. */
static int nextmember(lua_State *L, int idx, struct keys *k)
{
  if (!k->at)
    return lua_next(L, idx);
  lua_pop(L, 1);
  for (;;) {
    if (k->n >= 0) {
      if (k->used == k->n)
        return 0;
      lua_pushvalue(L, k->at + (int)k->used++);
    } else if (lua_rawgeti(L, k->at, ++k->used) == LUA_TNIL) {
      lua_pop(L, 1);
      return 0;
    }
    lua_pushvalue(L, -1);
    if (lua_rawget(L, idx) != LUA_TNIL)
      return 1;
    lua_pop(L, 2);
  }
}

/* Encodes the table at idx as an object. On the second pass its members
 * are the keys it has when the encoder reaches it, less those a __tojson
 * removes before their turn; keys a __tojson adds are left out. */
static int encode_object(struct enc *e, int idx, int d)
{
  lua_State *L = e->L;
  struct keys k = { 0, 0, 0 };
  int first = 1;
  int key;
  int rc = put(e, "{", 1);
  if (rc != RP_OK)
    return rc;
  if (e->hooks)
    snapshot(L, idx, &k);
  lua_pushnil(L);
  while (nextmember(L, idx, &k)) {
    /* stack: ... [snapshot] key value */
    key = lua_gettop(L) - 1;
    if (!first) {
      rc = put(e, ",", 1);
      if (rc != RP_OK)
        return rc;
    }
    first = 0;
    rc = put_key(e, idx, key, d);
    if (rc == RP_OK)
      rc = put(e, ":", 1);
    if (rc != RP_OK)
      return rc;
    e->path[d].key = key;
    rc = encode_value(e, key + 1, d + 1, 1);
    if (rc != RP_OK)
      return rc;
    lua_pop(L, 1);
  }
  if (k.at)
    lua_settop(L, k.at - 1);
  return put(e, "}", 1);
}

/* Encodes the table at idx, at level d (d steps below the root). */
static int encode_table(struct enc *e, int idx, int d, int isarray)
{
  lua_State *L = e->L;
  lua_Integer n;
  lua_Integer i;
  size_t slot;
  int rc = RP_OK;
  if (d + e->outer >= RP_JSON_MAX_DEPTH)
    return rp_fail(RP_EJSON, e->err, e->errlen, "nesting deeper than %d at %s",
                   RP_JSON_MAX_DEPTH, showpath(e, d));
  if (!see(e, lua_topointer(L, idx), &slot))
    return rp_fail(RP_EJSON, e->err, e->errlen,
                   "cannot encode table cycle at %s", showpath(e, d));
  n = (lua_Integer)lua_rawlen(L, idx);
  if (isarray)
    rc = arraykeys(e, idx, n, d);
  else
    isarray = issequence(L, idx, n);
  if (rc != RP_OK) {
    e->seen[slot] = NULL;
    return rc;
  }
  if (!isarray) {
    rc = encode_object(e, idx, d);
  } else {
    rc = put(e, "[", 1);
    for (i = 1; rc == RP_OK && i <= n; i++) {
      if (i > 1)
        rc = put(e, ",", 1);
      if (rc != RP_OK)
        break;
      lua_rawgeti(L, idx, i);
      e->path[d].key = 0;
      e->path[d].pos = i;
      rc = encode_value(e, lua_gettop(L), d + 1, 1);
      if (rc == RP_OK)
        lua_pop(L, 1);
    }
    if (rc == RP_OK)
      rc = put(e, "]", 1);
  }
  e->seen[slot] = NULL;
  return rc;
}

/* Appends the value at idx (absolute), at level d; hooks says whether its
 * __tojson may be called. On failure the stack may hold leftovers that
 * rp_json_encode drops. */
static int encode_value(struct enc *e, int idx, int d, int hooks)
{
  lua_State *L = e->L;
  int t = lua_type(L, idx);
  size_t n;
  const char *s;
  int kind;
  switch (t) {
  case LUA_TNIL:
    return put(e, "null", 4);
  case LUA_TBOOLEAN:
    return lua_toboolean(L, idx) ? put(e, "true", 4) : put(e, "false", 5);
  case LUA_TNUMBER:
    return put_number(e, idx, d);
  case LUA_TSTRING:
    s = lua_tolstring(L, idx, &n);
    return put_string(e, s, n);
  case LUA_TLIGHTUSERDATA:
    if (!lua_touserdata(L, idx))
      return put(e, "null", 4);
    return rp_fail(RP_EJSON, e->err, e->errlen,
                   "cannot encode light userdata at %s", showpath(e, d));
  case LUA_TUSERDATA:
    if (luaL_testudata(L, idx, RP_JSON_BIGINT_MT))
      return put(e, lua_touserdata(L, idx), lua_rawlen(L, idx) - 1);
    /* fall through */
  case LUA_TTABLE:
    if (!lua_checkstack(L, 8))
      return rp_fail(RP_EJSON, e->err, e->errlen, "out of Lua stack at %s",
                     showpath(e, d));
    kind = classify(e, idx, hooks);
    if (kind == HOOK)
      return call_hook(e, idx, d);
    if (t == LUA_TTABLE)
      return encode_table(e, idx, d, kind == ARRAY);
    break;
  default:
    break;
  }
  return rp_fail(RP_EJSON, e->err, e->errlen, "cannot encode %s at %s",
                 lua_typename(L, t), showpath(e, d));
}

/* Sets up e to write into the box b, with the array metatable at stack
 * index mt. */
static void enc_init(struct enc *e, lua_State *L, struct rp_buf *b, int mt,
                     char *err, size_t errlen)
{
  e->L = L;
  e->b = b;
  e->mt = mt;
  e->what = "value";
  e->err = err;
  e->errlen = errlen;
  e->hooks = 0;
  e->outer = 0;
  rp_json_decpoint_get(&e->dp);
}

/* Appends the value at idx, named e->what, to the output: a first pass
 * without hooks, and a second one with them from where it started when a
 * __tojson is found (nothing has run yet then). top: the stack top to go
 * back to. */
static int encode_root(struct enc *e, int idx, int top)
{
  size_t mark = e->b->len;
  int rc;
  e->hooks = 0;
  memset(e->seen, 0, sizeof(e->seen));
  rc = encode_value(e, idx, 0, 1);
  if (rc == RESTART) {
    lua_settop(e->L, top);
    rp_buf_set_len(e->b, mark);
    memset(e->seen, 0, sizeof(e->seen));
    e->hooks = 1;
    rc = encode_value(e, idx, 0, 1);
  }
  return rc;
}

/* The message of a failed encoding whose code is rc. */
static int encode_failed(struct enc *e, int rc, size_t max)
{
  if (rc == RP_ETOOBIG)
    rp_fail(rc, e->err, e->errlen, "encoded %s exceeds %zu bytes", e->what,
            max);
  else if (rc == RP_ENOMEM)
    rp_fail(rc, e->err, e->errlen, "out of memory encoding %s", e->what);
  return rc;
}

int rp_json_encode(lua_State *L, int idx, const char *what, size_t max,
                   char *err, size_t errlen)
{
  struct enc e;
  int base = lua_gettop(L);
  int rc;
  idx = lua_absindex(L, idx);
  if (!lua_checkstack(L, 8))
    return rp_fail(RP_EJSON, err, errlen, "out of Lua stack");
  rp_json_pusharraymt(L);
  /* stack: base | array_mt | box */
  enc_init(&e, L, newbox(L, max), base + 1, err, errlen);
  e.what = what ? what : "value";
  rc = encode_root(&e, idx, base + 2);
  if (rc == RP_OK)
    lua_pushlstring(L, e.b->data, e.b->len);
  rp_buf_free(e.b);
  if (rc == RP_OK) {
    lua_replace(L, base + 1);
    lua_settop(L, base + 1);
    return RP_OK;
  }
  lua_settop(L, base);
  return encode_failed(&e, rc, max);
}

int rp_json_encode_fields(lua_State *L, int idx, const char *const *keys,
                          size_t max, char *err, size_t errlen)
{
  struct enc e;
  int base = lua_gettop(L);
  int rc;
  int first = 1;
  idx = lua_absindex(L, idx);
  if (!lua_checkstack(L, 10))
    return rp_fail(RP_EJSON, err, errlen, "out of Lua stack");
  rp_json_pusharraymt(L);
  /* stack: base | array_mt | box */
  enc_init(&e, L, newbox(L, max), base + 1, err, errlen);
  /* The body is the state's, as a string would be: charged to its memory
   * cap (runpod-worker's max_memory) through its allocator. */
  {
    void *ud;
    lua_Alloc f = lua_getallocf(L, &ud);
    rp_buf_init_alloc(e.b, max, (rp_buf_alloc)f, ud);
  }
  rc = put(&e, "{", 1);
  e.outer = 1;
  for (size_t k = 0; keys[k] && rc == RP_OK; k++) {
    if (lua_getfield(L, idx, keys[k]) != LUA_TNIL) {
      if (!first)
        rc = put(&e, ",", 1);
      if (rc == RP_OK)
        rc = put_string(&e, keys[k], strlen(keys[k]));
      if (rc == RP_OK)
        rc = put(&e, ":", 1);
      e.what = keys[k];
      if (rc == RP_OK)
        rc = encode_root(&e, base + 3, base + 3);
      first = 0;
    }
    lua_settop(L, base + 2);
  }
  if (rc == RP_OK)
    rc = put(&e, "}", 1);
  if (rc == RP_OK) {
    lua_replace(L, base + 1);
    return RP_OK;
  }
  rp_buf_free(e.b);
  lua_settop(L, base);
  return encode_failed(&e, rc, max);
}

/* What rp_json_pencode hands to encode_call. */
struct pencode {
  const char *what;
  size_t max;
  char *err;
  size_t errlen;
  int rc;
};

/* lua_CFunction: [pencode, value] -> json, or nothing with a->rc set. */
static int encode_call(lua_State *L)
{
  struct pencode *a = lua_touserdata(L, 1);
  a->rc = rp_json_encode(L, 2, a->what, a->max, a->err, a->errlen);
  return a->rc == RP_OK ? 1 : 0;
}

int rp_json_pencode(lua_State *L, int idx, const char *what, size_t max,
                    char *err, size_t errlen)
{
  struct pencode a = { what ? what : "value", max, err, errlen, RP_OK };
  int status;
  idx = lua_absindex(L, idx);
  if (!lua_checkstack(L, 3))
    return rp_fail(RP_EJSON, err, errlen, "out of Lua stack");
  lua_pushcfunction(L, encode_call);
  lua_pushlightuserdata(L, &a);
  lua_pushvalue(L, idx);
  status = lua_pcall(L, 2, 1, 0);
  if (status == LUA_OK && a.rc == RP_OK)
    return RP_OK;
  if (status == LUA_ERRMEM)
    a.rc = rp_fail(RP_ENOMEM, err, errlen, "out of memory encoding %s",
                   a.what);
  else if (status != LUA_OK)
    a.rc = rp_fail(RP_ELUA, err, errlen, "cannot encode %s: %s", a.what,
                   lua_isstring(L, -1) ? lua_tostring(L, -1) : "error");
  lua_pop(L, 1);
  return a.rc;
}
