/*
 * lbuffer.c - runpod.buffer (a growable byte buffer userdata), runpod.base64
 * and runpod.hex (see lbuffer.h).
 *
 * Bindings only: the buffer is base/buf.c's struct rp_buf, the codecs are
 * base/codec.c's. A buffer's memory comes from the lua_State's own
 * allocator, so it counts against the VM's max_memory like any Lua string.
 * The userdata starts with the public struct runpod_buffer of runpod.h,
 * which C extension modules use to work on the bytes in place: its data,
 * len and cap are the struct rp_buf's first three fields (checked below),
 * so the ABI is the one of struct runpod_buffer whatever follows them.
 */
#include "lua/lbuffer.h"

#include <assert.h>
#include <lauxlib.h>
#include <stddef.h>
#include <string.h>

#include "base/buf.h"
#include "base/codec.h"
#include "base/rp.h"
#include "runpod.h"

#define RP_BUFFER_MT RUNPOD_BUFFER_MT
/* A buffer holds at most what a codec writes, so any buffer encodes. */
#define BUFFER_MAX RP_CODEC_MAX

struct lbuffer {
  unsigned int version;   /* RUNPOD_BUFFER_VERSION */
  struct rp_buf b;
};

/* The public layout (runpod.h) is a prefix of ours. */
static_assert(offsetof(struct lbuffer, b) + offsetof(struct rp_buf, data)
              == offsetof(struct runpod_buffer, data), "data offset");
static_assert(offsetof(struct lbuffer, b) + offsetof(struct rp_buf, len)
              == offsetof(struct runpod_buffer, len), "len offset");
static_assert(offsetof(struct lbuffer, b) + offsetof(struct rp_buf, cap)
              == offsetof(struct runpod_buffer, cap), "cap offset");
static_assert(sizeof(((struct rp_buf *)0)->data)
              == sizeof(((struct runpod_buffer *)0)->data), "data size");
static_assert(offsetof(struct lbuffer, version)
              == offsetof(struct runpod_buffer, version), "version offset");

static struct lbuffer *checkbuffer(lua_State *L, int i)
{
  return luaL_checkudata(L, i, RP_BUFFER_MT);
}

/* The bytes of a buffer; never NULL. Borrowed: valid until the buffer
 * grows or is collected. */
static const char *bytesof(const struct lbuffer *u)
{
  return u->b.data ? u->b.data : "";
}

/* The bytes of argument i, a string or a buffer; raises otherwise.
 * Borrowed: valid while the argument stays on the stack, unchanged. */
static const char *checkbytes(lua_State *L, int i, size_t *len)
{
  struct lbuffer *u = luaL_testudata(L, i, RP_BUFFER_MT);
  if (u) {
    *len = u->b.len;
    return bytesof(u);
  }
  if (lua_type(L, i) != LUA_TSTRING)
    luaL_typeerror(L, i, "string or runpod.Buffer");
  return lua_tolstring(L, i, len);
}

/* Pushes a new empty buffer. [-0, +1] */
static struct lbuffer *newbuffer(lua_State *L)
{
  void *ud;
  lua_Alloc f = lua_getallocf(L, &ud);
  struct lbuffer *u = lua_newuserdatauv(L, sizeof(*u), 0);
  /* A valid empty buffer before anything can fail. */
  u->version = RUNPOD_BUFFER_VERSION;
  rp_buf_init_alloc(&u->b, BUFFER_MAX, f, ud);
  luaL_setmetatable(L, RP_BUFFER_MT);
  return u;
}

/* Raises the error of a failed rp_buf_reserve. */
static int growerror(lua_State *L, int rc, size_t have, size_t extra)
{
  if (rc == RP_ETOOBIG)
    return luaL_error(L, "runpod.Buffer of %I + %I bytes would exceed the "
                      "%I-byte cap", (lua_Integer)have, (lua_Integer)extra,
                      (lua_Integer)BUFFER_MAX);
  return luaL_error(L, "not enough memory to grow a runpod.Buffer of %I "
                    "bytes by %I", (lua_Integer)have, (lua_Integer)extra);
}

/* Room for extra more bytes, or raises. Nothing is allocated for 0 bytes,
 * so an empty buffer costs no memory. */
static void reserve(lua_State *L, struct lbuffer *u, size_t extra)
{
  int rc = extra > 0 ? rp_buf_reserve(&u->b, extra) : RP_OK;
  if (rc != RP_OK)
    growerror(L, rc, u->b.len, extra);
}

/* Lua's string.sub rules: the 1-based start and end of s:sub(i, j) on a
 * string of len bytes, clipped to [1, len]; empty when *start > *end. */
static void range(lua_State *L, size_t len, size_t *start, size_t *end)
{
  lua_Integer i = luaL_checkinteger(L, 2);
  lua_Integer j = luaL_optinteger(L, 3, -1);
  lua_Integer n = (lua_Integer)len;
  if (i < 0)
    i = i < -n ? 1 : n + i + 1;
  else if (i == 0)
    i = 1;
  if (j > n)
    j = n;
  else if (j < 0)
    j = j < -n ? 0 : n + j + 1;
  *start = (size_t)i;
  *end = (size_t)j;
}

/* The 1-based position of a byte index (negative counts from the end),
 * or 0 when out of range. */
static size_t position(lua_Integer i, size_t len)
{
  lua_Integer n = (lua_Integer)len;
  if (i < 0)
    i += n + 1;
  return i >= 1 && i <= n ? (size_t)i : 0;
}

/* Module functions. */

/* new([capacity]) -> buffer */
static int buffer_new(lua_State *L)
{
  lua_Integer cap = luaL_optinteger(L, 1, 0);
  struct lbuffer *u;
  luaL_argcheck(L, cap >= 0 && (lua_Unsigned)cap <= BUFFER_MAX, 1,
                "capacity must be from 0 to 1073741824");
  u = newbuffer(L);
  reserve(L, u, (size_t)cap);
  return 1;
}

/* base64 and hex, for the functions below that work with either. */
struct codec {
  const char *name;
  int (*encoded_len)(size_t n, size_t *out);
  void (*encode)(const void *src, size_t n, char *dst);
  size_t (*decoded_max)(size_t n);
  /* decodes into dst, sets *out; RP_OK or RP_EINVAL with *pos */
  int (*decode)(const char *src, size_t n, unsigned char *dst, size_t *out,
                size_t *pos);
};

static size_t base64_max(size_t n)
{
  return n / 4 * 3;
}

static size_t hex_max(size_t n)
{
  return n / 2;
}

static int hex_decode_len(const char *src, size_t n, unsigned char *dst,
                          size_t *out, size_t *pos)
{
  *out = n / 2;
  return rp_hex_decode(src, n, dst, pos);
}

static const struct codec base64 = {
  "base64", rp_base64_encoded_len, rp_base64_encode, base64_max,
  rp_base64_decode
};
static const struct codec hex = {
  "hex", rp_hex_encoded_len, rp_hex_encode, hex_max, hex_decode_len
};

/* Pushes nil and "invalid <codec> at byte N"; returns 2. */
static int push_invalid(lua_State *L, const struct codec *c, size_t pos)
{
  luaL_pushfail(L);
  lua_pushfstring(L, "invalid %s at byte %I", c->name, (lua_Integer)pos);
  return 2;
}

/* Decodes argument 1 into a new buffer: pushes it, or nil and the
 * message. */
static int from_text(lua_State *L, const struct codec *c)
{
  size_t n;
  size_t out = 0;
  size_t pos = 0;
  const char *s = checkbytes(L, 1, &n);
  struct lbuffer *u = newbuffer(L);
  reserve(L, u, c->decoded_max(n));
  if (c->decode(s, n, (unsigned char *)u->b.data, &out, &pos) != RP_OK)
    return push_invalid(L, c, pos);
  rp_buf_set_len(&u->b, out);
  return 1;
}

static int buffer_from_base64(lua_State *L)
{
  return from_text(L, &base64);
}

static int buffer_from_hex(lua_State *L)
{
  return from_text(L, &hex);
}

/* is(value) -> whether value is a runpod.Buffer */
static int buffer_is(lua_State *L)
{
  lua_pushboolean(L, luaL_testudata(L, 1, RP_BUFFER_MT) != NULL);
  return 1;
}

/* encode(s_or_buf) -> string; raises past the 1 GiB cap. */
static int text_encode(lua_State *L, const struct codec *c)
{
  size_t n;
  size_t out;
  const char *s = checkbytes(L, 1, &n);
  luaL_Buffer lb;
  if (c->encoded_len(n, &out) != RP_OK)
    return luaL_error(L, "%s of %I bytes would exceed the %I-byte cap",
                      c->name, (lua_Integer)n, (lua_Integer)RP_CODEC_MAX);
  c->encode(s, n, luaL_buffinitsize(L, &lb, out));
  luaL_pushresultsize(&lb, out);
  return 1;
}

/* decode(s_or_buf) -> string | nil, "invalid <codec> at byte N" */
static int text_decode(lua_State *L, const struct codec *c)
{
  size_t n;
  size_t out = 0;
  size_t pos = 0;
  const char *s = checkbytes(L, 1, &n);
  luaL_Buffer lb;
  char *dst = luaL_buffinitsize(L, &lb, c->decoded_max(n));
  int rc = c->decode(s, n, (unsigned char *)dst, &out, &pos);
  luaL_pushresultsize(&lb, rc == RP_OK ? out : 0);
  if (rc != RP_OK)
    return push_invalid(L, c, pos);
  return 1;
}

/* base64.encode, base64.decode, hex.encode (lowercase), hex.decode */
static int base64_encode(lua_State *L)
{
  return text_encode(L, &base64);
}

static int base64_decode(lua_State *L)
{
  return text_decode(L, &base64);
}

static int hex_encode(lua_State *L)
{
  return text_encode(L, &hex);
}

static int hex_decode(lua_State *L)
{
  return text_decode(L, &hex);
}

/* Methods. */

/* buf:append(...) -> buf. Strings, numbers (as tostring shows them) and
 * buffers (buf itself included); every argument is checked before any
 * byte is appended. */
static int buffer_append(lua_State *L)
{
  struct lbuffer *u = checkbuffer(L, 1);
  int top = lua_gettop(L);
  size_t total = 0;
  size_t n;
  int i;
  for (i = 2; i <= top; i++) {
    struct lbuffer *src = luaL_testudata(L, i, RP_BUFFER_MT);
    int t = lua_type(L, i);
    if (src)
      n = src->b.len;
    else if (t == LUA_TSTRING || t == LUA_TNUMBER)
      lua_tolstring(L, i, &n);   /* a number becomes its string in place */
    else
      return luaL_typeerror(L, i, "string, number or runpod.Buffer");
    if (n > BUFFER_MAX - total)
      return growerror(L, RP_ETOOBIG, u->b.len, n);
    total += n;
  }
  reserve(L, u, total);
  for (i = 2; i <= top; i++) {
    struct lbuffer *src = luaL_testudata(L, i, RP_BUFFER_MT);
    const char *p;
    if (src) {
      /* Read after reserve: for buf:append(buf) the data has moved. */
      n = src->b.len;
      p = bytesof(src);
    } else {
      p = lua_tolstring(L, i, &n);
    }
    if (n > 0) {
      memcpy(u->b.data + u->b.len, p, n);
      rp_buf_set_len(&u->b, u->b.len + n);
    }
  }
  lua_settop(L, 1);
  return 1;
}

/* buf:reserve(n) -> buf: room for n more bytes without reallocating. */
static int buffer_reserve(lua_State *L)
{
  struct lbuffer *u = checkbuffer(L, 1);
  lua_Integer n = luaL_checkinteger(L, 2);
  luaL_argcheck(L, n >= 0 && (lua_Unsigned)n <= BUFFER_MAX, 2,
                "size must be from 0 to 1073741824");
  reserve(L, u, (size_t)n);
  lua_settop(L, 1);
  return 1;
}

static int buffer_len(lua_State *L)
{
  lua_pushinteger(L, (lua_Integer)checkbuffer(L, 1)->b.len);
  return 1;
}

static int buffer_capacity(lua_State *L)
{
  lua_pushinteger(L, (lua_Integer)checkbuffer(L, 1)->b.cap);
  return 1;
}

/* buf:sub(i[, j]) -> string, with string.sub's index rules */
static int buffer_sub(lua_State *L)
{
  struct lbuffer *u = checkbuffer(L, 1);
  size_t start;
  size_t end;
  range(L, u->b.len, &start, &end);
  if (start <= end)
    lua_pushlstring(L, bytesof(u) + start - 1, end - start + 1);
  else
    lua_pushliteral(L, "");
  return 1;
}

/* buf:slice(i[, j]) -> a new buffer with the bytes buf:sub(i, j) gives */
static int buffer_slice(lua_State *L)
{
  struct lbuffer *u = checkbuffer(L, 1);
  struct lbuffer *v;
  size_t start;
  size_t end;
  range(L, u->b.len, &start, &end);
  v = newbuffer(L);
  if (start <= end) {
    reserve(L, v, end - start + 1);
    memcpy(v->b.data, u->b.data + start - 1, end - start + 1);
    rp_buf_set_len(&v->b, end - start + 1);
  }
  return 1;
}

/* buf:clear() -> buf, empty, its memory kept for reuse */
static int buffer_clear(lua_State *L)
{
  rp_buf_clear(&checkbuffer(L, 1)->b);
  lua_settop(L, 1);
  return 1;
}

/* buf:tostring(), tostring(buf), buf's __tojson -> its bytes as a string */
static int buffer_tostring(lua_State *L)
{
  struct lbuffer *u = checkbuffer(L, 1);
  lua_pushlstring(L, bytesof(u), u->b.len);
  return 1;
}

/* buf:byte([i]) -> the byte at i (default 1; negative counts from the
 * end), or nil when i is out of range, like string.byte */
static int buffer_byte(lua_State *L)
{
  struct lbuffer *u = checkbuffer(L, 1);
  size_t k = position(luaL_optinteger(L, 2, 1), u->b.len);
  if (k == 0)
    lua_pushnil(L);
  else
    lua_pushinteger(L, (unsigned char)u->b.data[k - 1]);
  return 1;
}

/* buf:set_byte(i, v) -> buf; i must be within the buffer, v in [0, 255] */
static int buffer_set_byte(lua_State *L)
{
  struct lbuffer *u = checkbuffer(L, 1);
  size_t k = position(luaL_checkinteger(L, 2), u->b.len);
  lua_Integer v = luaL_checkinteger(L, 3);
  luaL_argcheck(L, k != 0, 2, "index out of range");
  luaL_argcheck(L, v >= 0 && v <= 255, 3, "value out of range");
  u->b.data[k - 1] = (char)v;
  lua_settop(L, 1);
  return 1;
}

/* Metamethods. */

/* The bytes of an operand of '..': a buffer, a string or a number. */
static const char *concatbytes(lua_State *L, int i, size_t *len)
{
  struct lbuffer *u = luaL_testudata(L, i, RP_BUFFER_MT);
  if (u) {
    *len = u->b.len;
    return bytesof(u);
  }
  if (lua_type(L, i) == LUA_TSTRING || lua_type(L, i) == LUA_TNUMBER)
    return lua_tolstring(L, i, len);   /* i is our copy of the operand */
  luaL_error(L, "attempt to concatenate a %s value with a runpod.Buffer",
             luaL_typename(L, i));
  return NULL;
}

/* a .. b, either one a buffer -> string */
static int buffer_concat(lua_State *L)
{
  size_t na;
  size_t nb;
  const char *a = concatbytes(L, 1, &na);
  const char *b = concatbytes(L, 2, &nb);
  luaL_Buffer lb;
  luaL_buffinit(L, &lb);
  luaL_addlstring(&lb, a, na);
  luaL_addlstring(&lb, b, nb);
  luaL_pushresult(&lb);
  return 1;
}

/* a == b: both buffers with the same bytes */
static int buffer_eq(lua_State *L)
{
  struct lbuffer *a = luaL_testudata(L, 1, RP_BUFFER_MT);
  struct lbuffer *b = luaL_testudata(L, 2, RP_BUFFER_MT);
  lua_pushboolean(L, a && b && a->b.len == b->b.len &&
                  memcmp(bytesof(a), bytesof(b), a->b.len) == 0);
  return 1;
}

/* Idempotent; the buffer reads as empty afterwards. */
static int buffer_gc(lua_State *L)
{
  rp_buf_free(&checkbuffer(L, 1)->b);
  return 0;
}

static const luaL_Reg buffer_functions[] = {
  {"from_base64", buffer_from_base64},
  {"from_hex", buffer_from_hex},
  {"is", buffer_is},
  {"new", buffer_new},
  {NULL, NULL}
};

static const luaL_Reg base64_functions[] = {
  {"decode", base64_decode},
  {"encode", base64_encode},
  {NULL, NULL}
};

static const luaL_Reg hex_functions[] = {
  {"decode", hex_decode},
  {"encode", hex_encode},
  {NULL, NULL}
};

static const luaL_Reg buffer_methods[] = {
  {"append", buffer_append},
  {"byte", buffer_byte},
  {"capacity", buffer_capacity},
  {"clear", buffer_clear},
  {"len", buffer_len},
  {"reserve", buffer_reserve},
  {"set_byte", buffer_set_byte},
  {"slice", buffer_slice},
  {"sub", buffer_sub},
  {"tostring", buffer_tostring},
  {NULL, NULL}
};

static const luaL_Reg buffer_meta[] = {
  {"__concat", buffer_concat},
  {"__eq", buffer_eq},
  {"__gc", buffer_gc},
  {"__len", buffer_len},
  {"__tojson", buffer_tostring},
  {"__tostring", buffer_tostring},
  {NULL, NULL}
};

void rp_lbuffer_register(lua_State *L)
{
  luaL_newmetatable(L, RP_BUFFER_MT);
  luaL_setfuncs(L, buffer_meta, 0);
  luaL_newlib(L, buffer_methods);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
  luaL_newlib(L, buffer_functions);
  lua_setfield(L, -2, "buffer");
  luaL_newlib(L, base64_functions);
  lua_setfield(L, -2, "base64");
  luaL_newlib(L, hex_functions);
  lua_setfield(L, -2, "hex");
}
