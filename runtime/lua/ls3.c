/*
 * ls3.c - runpod.core's bindings for parts of an S3 multipart upload (the
 * C part of runpod.upload's multipart path; the work is s3part.c's).
 *
 *   s3_put_part(url, path, offset, len, provider, userpwd, stall, timeout)
 *     -> part | nil, message
 *   part:poll() -> nil while it runs, then
 *     status, etag, body | nil, message, retry
 *   part:close() stops it (waiting for its thread, a second at most)
 *
 * Each part runs on a thread of its own; lua/runpod/upload.lua polls
 * them, sleeping between polls (which yields inside runpod-worker).
 */
#include "lua/ls3.h"

#include <lauxlib.h>
#include <string.h>
#include <strings.h>

#include "base/rp.h"
#include "net/s3part.h"
#include "lua/lclass.h"

#define RP_S3PART_MT "runpod.S3Part"

struct part {
  struct rp_s3part *p;
};

/* Pushes the value of the response's ETag header, or nil. [-0, +1] */
static void push_etag(lua_State *L, const struct rp_http *h)
{
  const char *p = h->head.data ? h->head.data : "";
  while (*p) {
    const char *eol = strstr(p, "\r\n");
    size_t len = eol ? (size_t)(eol - p) : strlen(p);
    if (len > 5 && strncasecmp(p, "etag:", 5) == 0) {
      const char *v = p + 5;
      const char *end = p + len;
      while (v < end && (*v == ' ' || *v == '\t'))
        v++;
      while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
      lua_pushlstring(L, v, (size_t)(end - v));
      return;
    }
    p += len;
    if (eol)
      p += 2;
  }
  lua_pushnil(L);
}

static int s3_put_part(lua_State *L)
{
  struct rp_s3part_opts o;
  lua_Integer offset = luaL_checkinteger(L, 3);
  lua_Integer len = luaL_checkinteger(L, 4);
  lua_Number stall = luaL_optnumber(L, 7, 0);
  lua_Number timeout = luaL_optnumber(L, 8, 0);
  struct part *u;
  char err[512];
  o.url = luaL_checkstring(L, 1);
  o.path = luaL_checkstring(L, 2);
  o.provider = luaL_checkstring(L, 5);
  o.userpwd = luaL_checkstring(L, 6);
  luaL_argcheck(L, offset >= 0, 3, "must be >= 0");
  luaL_argcheck(L, len > 0 && (size_t)len <= RP_S3PART_MAX, 4,
                "must be 1 byte to 5 GiB");
  luaL_argcheck(L, stall >= 0 && stall <= 86400, 7,
                "must be seconds from 0 to 86400");
  luaL_argcheck(L, timeout >= 0 && timeout <= 86400, 8,
                "must be seconds from 0 to 86400");
  o.offset = (long long)offset;
  o.len = (size_t)len;
  o.stall_s = (long)stall + (stall > (lua_Number)(long)stall);
  o.timeout_ms = (long)(timeout * 1000);
  u = lua_newuserdatauv(L, sizeof(*u), 0);
  u->p = NULL;
  luaL_setmetatable(L, RP_S3PART_MT);
  if (rp_s3part_start(&u->p, &o, err, sizeof(err)) != RP_OK) {
    luaL_pushfail(L);
    lua_pushstring(L, err);
    return 2;
  }
  return 1;
}

static int part_poll(lua_State *L)
{
  struct part *u = luaL_checkudata(L, 1, RP_S3PART_MT);
  struct rp_http *h = NULL;
  char err[512];
  if (!u->p)
    return luaL_error(L, "attempt to use a finished upload part");
  if (!rp_s3part_finished(u->p)) {
    lua_pushnil(L);
    return 1;
  }
  if (rp_s3part_result(u->p, &h, err, sizeof(err)) != RP_OK) {
    luaL_pushfail(L);
    lua_pushstring(L, err);
    lua_pushboolean(L, 0);
  } else if (rp_http_error(h)) {
    luaL_pushfail(L);
    lua_pushstring(L, rp_http_error(h));
    lua_pushboolean(L, 1);
  } else {
    lua_pushinteger(L, h->status);
    push_etag(L, h);
    lua_pushlstring(L, h->resp.data ? h->resp.data : "", h->resp.len);
  }
  rp_s3part_free(u->p);
  u->p = NULL;
  return 3;
}

static int part_gc(lua_State *L)
{
  struct part *u = luaL_checkudata(L, 1, RP_S3PART_MT);
  rp_s3part_free(u->p);
  u->p = NULL;
  return 0;
}

static const luaL_Reg s3_functions[] = {
  {"s3_put_part", s3_put_part},
  {NULL, NULL}
};

static const luaL_Reg part_methods[] = {
  {"close", part_gc},
  {"poll", part_poll},
  {NULL, NULL}
};

static const luaL_Reg part_meta[] = {
  {"__close", part_gc},
  {"__gc", part_gc},
  {NULL, NULL}
};

void rp_ls3_register(lua_State *L)
{
  rp_lclass_register(L, RP_S3PART_MT, part_meta, part_methods);
  luaL_setfuncs(L, s3_functions, 0);
}
