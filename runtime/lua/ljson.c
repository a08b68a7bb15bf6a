/* ljson.c - the runpod.json functions (see ljson.h); the codec itself is
 * json_decode.c and json_encode.c. */
#include "lua/ljson.h"

#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/buf.h"
#include "base/rp.h"
#include "lua/json.h"

/* What json.encode builds at most; job results get their own cap from
 * their caller. */
#define ENCODE_MAX ((size_t)1 << 30)
#define EMPTY_MT "runpod.json.empty_array"

static int json_array(lua_State *L)
{
  if (lua_isnoneornil(L, 1)) {
    lua_settop(L, 0);
    lua_newtable(L);
  } else {
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_argcheck(L, luaL_getmetafield(L, 1, "__metatable") == LUA_TNIL, 1,
                  "cannot change a protected metatable");
    lua_settop(L, 1);
  }
  rp_json_pusharraymt(L);
  lua_setmetatable(L, 1);
  return 1;
}

static int json_decode(lua_State *L)
{
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  char err[256];
  if (rp_json_decode(L, s, len, err, sizeof(err)) != RP_OK) {
    luaL_pushfail(L);
    lua_pushstring(L, err);
    return 2;
  }
  return 1;
}

static int json_encode(lua_State *L)
{
  char err[512];
  luaL_checkany(L, 1);
  if (rp_json_pencode(L, 1, "value", ENCODE_MAX, err, sizeof(err)) != RP_OK) {
    luaL_pushfail(L);
    lua_pushstring(L, err);
    return 2;
  }
  return 1;
}

/* json.bigint(text): the big integer with this decimal text ('-'?, then
 * digits without a leading zero), which encodes verbatim. */
static int json_bigint(lua_State *L)
{
  size_t n;
  const char *s = luaL_checklstring(L, 1, &n);
  size_t i = s[0] == '-';
  int ok = n > i && (s[i] != '0' || n == i + 1);
  for (size_t k = i; ok && k < n; k++)
    ok = s[k] >= '0' && s[k] <= '9';
  luaL_argcheck(L, ok, 1, "a decimal integer expected");
  rp_json_pushbigint(L, s, n);
  return 1;
}

/* tonumber(v [, base]) in place of Lua's (upvalue 1): the same, except
 * that a big integer gives its nearest float, as its arithmetic does. */
static int json_tonumber(lua_State *L)
{
  if (lua_gettop(L) == 1 && luaL_testudata(L, 1, RP_JSON_BIGINT_MT)) {
    lua_pushnumber(L, strtod(lua_touserdata(L, 1), NULL));
    return 1;
  }
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
  return lua_gettop(L);
}

/* Makes the global tonumber read big integers, once per state: a handler
 * reads a decoded seed with tonumber(seed) as it would any number. */
static void wrap_tonumber(lua_State *L)
{
  lua_getglobal(L, "tonumber");
  if (lua_tocfunction(L, -1) != json_tonumber &&
      lua_type(L, -1) == LUA_TFUNCTION) {
    lua_pushcclosure(L, json_tonumber, 1);
    lua_setglobal(L, "tonumber");
  } else {
    lua_pop(L, 1);
  }
}

/* What encode_fields hands to fields_call. */
struct fields {
  const char *keys[9];
  size_t max;
  int buffer;              /* keep the body userdata, no Lua string */
  char err[512];
  int rc;
};

/* lua_CFunction: [fields, table] -> body, or nothing with a->rc set. */
static int fields_call(lua_State *L)
{
  struct fields *a = lua_touserdata(L, 1);
  a->rc = rp_json_encode_fields(L, 2, a->keys, a->max, a->err,
                                sizeof(a->err));
  if (a->rc == RP_OK && !a->buffer) {
    struct rp_buf *b = lua_touserdata(L, -1);
    lua_pushlstring(L, b->data ? b->data : "", b->len);
    rp_buf_free(b);
  }
  return a->rc == RP_OK ? 1 : 0;
}

int rp_json_lua_encode_fields(lua_State *L)
{
  struct fields a;
  lua_Integer max = luaL_checkinteger(L, 3);
  int buffer = lua_toboolean(L, 4);
  lua_Integer n;
  int status;
  luaL_checktype(L, 1, LUA_TTABLE);
  luaL_checktype(L, 2, LUA_TTABLE);
  n = (lua_Integer)lua_rawlen(L, 2);
  luaL_argcheck(L, n <= 8, 2, "at most 8 keys");
  luaL_argcheck(L, max > 0, 3, "must be positive");
  for (lua_Integer i = 1; i <= n; i++) {
    lua_rawgeti(L, 2, i);
    a.keys[i - 1] = luaL_checkstring(L, -1);  /* held by the keys table */
    lua_pop(L, 1);
  }
  a.keys[n] = NULL;
  a.max = (size_t)max;
  a.buffer = buffer;
  a.rc = RP_OK;
  lua_settop(L, 2);
  lua_pushcfunction(L, fields_call);
  lua_pushlightuserdata(L, &a);
  lua_pushvalue(L, 1);
  status = lua_pcall(L, 2, 1, 0);
  if (status == LUA_OK && a.rc == RP_OK)
    return 1;
  if (status == LUA_ERRMEM)       /* the text did not fit as a string */
    snprintf(a.err, sizeof(a.err), "out of memory encoding %s",
             n > 0 ? a.keys[0] : "value");
  else if (status != LUA_OK)
    snprintf(a.err, sizeof(a.err), "%s", lua_isstring(L, -1)
             ? lua_tostring(L, -1) : "cannot encode the value");
  luaL_pushfail(L);
  lua_pushstring(L, a.err);
  return 2;
}

static int empty_newindex(lua_State *L)
{
  return luaL_error(L, "cannot modify json.empty_array (it is read-only; "
                    "json.array() makes a new array)");
}

/* Pushes a new empty table whose metatable refuses new keys and shows
 * itself to getmetatable() as the array metatable. [-0, +1] */
static void pushemptyarray(lua_State *L)
{
  lua_newtable(L);
  if (luaL_newmetatable(L, EMPTY_MT)) {
    lua_pushcfunction(L, empty_newindex);
    lua_setfield(L, -2, "__newindex");
    rp_json_pusharraymt(L);
    lua_setfield(L, -2, "__metatable");
  }
  lua_setmetatable(L, -2);
}

static const luaL_Reg json_functions[] = {
  {"array", json_array},
  {"bigint", json_bigint},
  {"decode", json_decode},
  {"encode", json_encode},
  {NULL, NULL}
};

void rp_json_register(lua_State *L)
{
  luaL_setfuncs(L, json_functions, 0);
  rp_json_pushnull(L);
  lua_setfield(L, -2, "null");
  rp_json_pusharraymt(L);
  lua_setfield(L, -2, "array_mt");
  pushemptyarray(L);
  lua_setfield(L, -2, "empty_array");
  wrap_tonumber(L);
}
