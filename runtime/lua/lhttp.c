/*
 * lhttp.c - runpod.core's HTTP client bindings (the C part of runpod.http).
 *
 *   http_request(method, url, headers, body, timeout, stream)
 *     -> status, headers, body | status, headers, handle | nil, message
 *   http_read(handle) -> next body bytes, or nil at the end; raises when
 *     the transfer failed mid-way
 *   http_download(url, path, timeout, connect_timeout, max_bytes,
 *                 allow_private, allow_cidrs, stall, low_speed)
 *     -> download | nil, message, false (download.h); the transfer runs
 *     on a thread of its own, so one job can run several at once
 *   download:poll() -> nil while it runs, then
 *     status, headers, bytes | nil, message, retry
 *   s3_presign(endpoint, bucket, key, region, access_key, secret_key,
 *              expires[, now]) -> url | nil, message (sigv4.h)
 *   sha256_hex(s) -> hex digest
 *
 * http_request's optional 7th and 8th arguments sign the request with AWS
 * SigV4: provider "aws:amz:<region>:s3" and "<access key>:<secret>".
 *
 * Inside runpod-worker, a job's coroutine yields to its executor while the
 * request is on the wire, so many jobs wait on HTTP at once; elsewhere
 * (plain lua5.4, code that cannot yield) the call blocks. The waiting and
 * the transfer are http.c's; this file only checks arguments and builds
 * results.
 */
#include "lua/lhttp.h"

#include <lauxlib.h>
#include <string.h>
#include <time.h>

#include "net/download.h"
#include "net/http.h"
#include "lua/host.h"
#include "lua/lclass.h"
#include "net/netguard.h"
#include "base/rp.h"
#include "net/sigv4.h"

#define RP_RESPONSE_MT "runpod.HttpStream"
#define RP_DOWNLOAD_MT "runpod.Download"
#define MAX_HEADERS 256

struct handle {
  struct rp_http *h;
};

struct dlhandle {
  struct rp_download *d;
};

static struct handle *checkhandle(lua_State *L, int i)
{
  struct handle *u = luaL_checkudata(L, i, RP_RESPONSE_MT);
  if (!u->h)
    luaL_error(L, "attempt to use a closed HTTP stream");
  return u;
}

static int handle_close(lua_State *L)
{
  struct handle *u = luaL_checkudata(L, 1, RP_RESPONSE_MT);
  rp_host_forget_http(L, u->h);
  rp_http_free(u->h);
  u->h = NULL;
  return 0;
}

/* Pushes the response headers as a table of lower-case names; repeated
 * names are joined with ", ". [-0, +1] */
static void push_headers(lua_State *L, const struct rp_http *h)
{
  const char *p = h->head.data ? h->head.data : "";
  lua_newtable(L);
  while (*p) {
    const char *eol = strstr(p, "\r\n");
    const char *colon;
    size_t len = eol ? (size_t)(eol - p) : strlen(p);
    colon = memchr(p, ':', len);
    if (colon && colon > p) {
      const char *v = colon + 1;
      const char *end = p + len;
      luaL_Buffer name;
      while (v < end && (*v == ' ' || *v == '\t'))
        v++;
      luaL_buffinit(L, &name);
      for (const char *c = p; c < colon; c++) {
        char ch = *c;
        luaL_addchar(&name, (ch >= 'A' && ch <= 'Z') ? (char)(ch + 32) : ch);
      }
      luaL_pushresult(&name);              /* t name */
      lua_pushvalue(L, -1);
      if (lua_rawget(L, -3) == LUA_TSTRING) {  /* t name old */
        lua_pushliteral(L, ", ");
        lua_pushlstring(L, v, (size_t)(end - v));
        lua_concat(L, 3);
      } else {
        lua_pop(L, 1);
        lua_pushlstring(L, v, (size_t)(end - v));
      }
      lua_rawset(L, -3);
    }
    p += len;
    if (eol)
      p += 2;
  }
}

/* Waits (yielding inside the runtime) until h has headers (want_body 0)
 * or body bytes/the end (1), then calls k, which must start with
 * rp_host_wait_end. h belongs to a userdata on L's stack, which keeps it
 * alive while L is suspended. */
static int wait_then(lua_State *L, struct rp_http *h, int want_body,
                     lua_KContext ctx, lua_KFunction k)
{
  if (!rp_http_ready(h, want_body)) {
    if (rp_host_get(L) && lua_isyieldable(L))
      return rp_host_wait(L, &(struct rp_wait){ .kind = RP_WAIT_HTTP,
                          .http = h, .want_body = want_body }, ctx, k);
    while (!rp_http_ready(h, want_body))
      if (rp_http_step(h) != RP_OK)
        return luaL_error(L, "HTTP: the transfer could not be driven");
  }
  return k(L, LUA_OK, ctx);
}

/* The continuation of http_request: the handle is at index 7. */
static int request_k(lua_State *L, int status, lua_KContext ctx)
{
  struct handle *u = lua_touserdata(L, 7);
  struct rp_http *h = u->h;
  const char *err;
  (void)status;
  (void)ctx;
  rp_host_wait_end(L);
  err = rp_http_error(h);
  if (err && !(h->streaming && h->headers_done && h->status)) {
    luaL_pushfail(L);
    lua_pushfstring(L, "%s %s: %s", lua_tostring(L, 1), lua_tostring(L, 2),
                    err);
    return 2;
  }
  lua_pushinteger(L, h->status);
  push_headers(L, h);
  if (h->streaming) {
    lua_pushvalue(L, 7);
    return 3;
  }
  lua_pushlstring(L, h->resp.data ? h->resp.data : "", h->resp.len);
  rp_http_free(h);                          /* done: free it now */
  u->h = NULL;
  return 3;
}

static int core_http_request(lua_State *L)
{
  const char *method = luaL_checkstring(L, 1);
  const char *url = luaL_checkstring(L, 2);
  size_t body_len = 0;
  const char *body;
  const char *sigv4;
  const char *userpwd;
  lua_Number timeout = luaL_optnumber(L, 5, 60);
  int stream = lua_toboolean(L, 6);
  const char *lines[MAX_HEADERS];
  size_t n = 0;
  char err[256];
  struct handle *u;
  if (!lua_isnoneornil(L, 3))
    luaL_checktype(L, 3, LUA_TTABLE);
  body = luaL_optlstring(L, 4, NULL, &body_len);
  sigv4 = luaL_optstring(L, 7, NULL);
  userpwd = luaL_optstring(L, 8, "");
  luaL_argcheck(L, timeout >= 0 && timeout <= 86400, 5,
                "must be seconds from 0 to 86400");
  /* The signing strings stay alive as the handle's user values. */
  lua_settop(L, 8);
  u = lua_newuserdatauv(L, sizeof(*u), 2);  /* index 9 for now */
  u->h = NULL;
  luaL_setmetatable(L, RP_RESPONSE_MT);
  lua_insert(L, 7);                         /* 7 handle, 8 sigv4, 9 pwd */
  lua_setiuservalue(L, 7, 2);
  lua_setiuservalue(L, 7, 1);
  if (lua_istable(L, 3)) {
    /* "Name: value" lines, kept alive on the stack above index 7 */
    lua_pushnil(L);
    while (lua_next(L, 3)) {
      if (n >= MAX_HEADERS)
        return luaL_error(L, "too many request headers (most %d)",
                          MAX_HEADERS);
      if (lua_type(L, -2) != LUA_TSTRING || !lua_isstring(L, -1))
        return luaL_error(L, "request headers must map names to strings");
      luaL_checkstack(L, 3, "too many request headers");
      lines[n++] = lua_pushfstring(L, "%s: %s", lua_tostring(L, -2),
                                   lua_tostring(L, -1));
      lua_insert(L, -3);                    /* ... line key value */
      lua_pop(L, 1);                        /* ... line key */
    }
  }
  if (rp_http_new(&u->h, method, url, lines, n, body, body_len,
                  (long)(timeout * 1000), stream, err, sizeof(err))
      != RP_OK) {
    luaL_pushfail(L);
    lua_pushfstring(L, "%s %s: %s", method, url, err);
    return 2;
  }
  if (sigv4 && rp_http_sigv4(u->h, sigv4, userpwd) != RP_OK) {
    luaL_pushfail(L);
    lua_pushfstring(L, "%s %s: this libcurl cannot sign with AWS SigV4",
                    method, url);
    return 2;
  }
  lua_settop(L, 7);                         /* args 1..6, handle 7 */
  return wait_then(L, u->h, 0, 0, request_k);
}

static int read_k(lua_State *L, int status, lua_KContext ctx)
{
  struct handle *u = lua_touserdata(L, 1);
  const char *p;
  const char *err;
  size_t len;
  (void)status;
  (void)ctx;
  rp_host_wait_end(L);
  if (!u->h)
    return luaL_error(L, "attempt to use a closed HTTP stream");
  rp_http_take(u->h, &p, &len);
  if (len > 0) {
    lua_pushlstring(L, p, len);
    return 1;
  }
  err = rp_http_error(u->h);
  if (err)
    return luaL_error(L, "HTTP stream failed: %s", err);
  lua_pushnil(L);
  return 1;
}

static int core_http_read(lua_State *L)
{
  struct handle *u = checkhandle(L, 1);
  lua_settop(L, 1);
  return wait_then(L, u->h, 1, 0, read_k);
}

static int download_close(lua_State *L)
{
  struct dlhandle *u = luaL_checkudata(L, 1, RP_DOWNLOAD_MT);
  if (u->d)
    rp_host_forget_http(L, u->d->h);
  rp_download_free(u->d);               /* removes an unfinished file */
  u->d = NULL;
  return 0;
}

/* download:poll() -> nil | status, headers, bytes | nil, message, retry */
static int download_poll(lua_State *L)
{
  struct dlhandle *u = luaL_checkudata(L, 1, RP_DOWNLOAD_MT);
  struct rp_download *d = u->d;
  char err[512];
  int retry = 0;
  if (!d)
    return luaL_error(L, "attempt to use a finished download");
  if (!rp_download_finished(d)) {
    lua_pushnil(L);
    return 1;
  }
  if (rp_download_end(d, &retry, err, sizeof(err)) != RP_OK) {
    rp_download_free(d);
    u->d = NULL;
    luaL_pushfail(L);
    lua_pushstring(L, err);
    lua_pushboolean(L, retry);
    return 3;
  }
  lua_pushinteger(L, d->h->status);
  push_headers(L, d->h);
  lua_pushinteger(L, (lua_Integer)d->h->written);
  rp_download_free(d);                  /* the file stays: it was kept */
  u->d = NULL;
  return 3;
}

static int core_http_download(lua_State *L)
{
  const char *url = luaL_checkstring(L, 1);
  const char *path = luaL_checkstring(L, 2);
  lua_Number timeout = luaL_checknumber(L, 3);
  lua_Number connect = luaL_checknumber(L, 4);
  lua_Integer max_bytes = luaL_checkinteger(L, 5);
  int allow_all = lua_toboolean(L, 6);
  const char *cidrs = luaL_optstring(L, 7, NULL);
  lua_Number stall = luaL_optnumber(L, 8, 0);
  lua_Integer low_speed = luaL_optinteger(L, 9, 1);
  struct rp_download_opts o;
  struct rp_netguard g;
  struct dlhandle *u;
  char err[512];
  luaL_argcheck(L, timeout >= 0 && timeout <= 86400, 3,
                "must be seconds from 0 to 86400");
  luaL_argcheck(L, connect >= 0 && connect <= 86400, 4,
                "must be seconds from 0 to 86400");
  luaL_argcheck(L, max_bytes > 0, 5, "must be > 0");
  luaL_argcheck(L, stall >= 0 && stall <= 86400, 8,
                "must be seconds from 0 to 86400");
  luaL_argcheck(L, low_speed >= 0, 9, "must be >= 0");
  lua_settop(L, 9);
  u = lua_newuserdatauv(L, sizeof(*u), 0);  /* index 10 */
  u->d = NULL;
  luaL_setmetatable(L, RP_DOWNLOAD_MT);
  if (rp_netguard_init(&g, allow_all, cidrs, err, sizeof(err)) != RP_OK) {
    luaL_pushfail(L);
    lua_pushfstring(L, "RUNPOD_DOWNLOAD_ALLOW_CIDRS: %s", err);
    lua_pushboolean(L, 0);
    return 3;
  }
  o.timeout_ms = (long)(timeout * 1000);
  o.connect_timeout_ms = (long)(connect * 1000);
  /* libcurl counts the stall in whole seconds; round a fraction up. */
  o.stall_s = (long)stall + (stall > (lua_Number)(long)stall);
  o.low_speed = (long)low_speed;
  o.max_bytes = (long long)max_bytes;
  o.guard = &g;
  if (rp_download_new(&u->d, url, path, &o, err, sizeof(err)) != RP_OK ||
      rp_download_spawn(u->d, err, sizeof(err)) != RP_OK) {
    rp_download_free(u->d);
    u->d = NULL;
    luaL_pushfail(L);
    lua_pushstring(L, err);
    lua_pushboolean(L, 0);
    return 3;
  }
  return 1;
}

static int core_s3_presign(lua_State *L)
{
  struct rp_sigv4_request r;
  char url[8192];
  char err[256];
  r.method = "GET";
  r.endpoint = luaL_checkstring(L, 1);
  r.bucket = luaL_checkstring(L, 2);
  r.key = luaL_checkstring(L, 3);
  r.region = luaL_checkstring(L, 4);
  r.access_key = luaL_checkstring(L, 5);
  r.secret_key = luaL_checkstring(L, 6);
  r.expires = (long)luaL_checkinteger(L, 7);
  r.now = (time_t)luaL_optinteger(L, 8, (lua_Integer)time(NULL));
  if (rp_sigv4_presign(&r, url, sizeof(url), err, sizeof(err)) != RP_OK) {
    luaL_pushfail(L);
    lua_pushstring(L, err);
    return 2;
  }
  lua_pushstring(L, url);
  return 1;
}

/* sha256_hex(s) -> the SHA-256 of s in hex */
static int core_sha256_hex(lua_State *L)
{
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  char hex[65];
  rp_sigv4_sha256_hex(s, len, hex);
  lua_pushstring(L, hex);
  return 1;
}

static const luaL_Reg http_functions[] = {
  {"http_download", core_http_download},
  {"http_read", core_http_read},
  {"http_request", core_http_request},
  {"s3_presign", core_s3_presign},
  {"sha256_hex", core_sha256_hex},
  {NULL, NULL}
};

static const luaL_Reg handle_meta[] = {
  {"__close", handle_close},
  {"__gc", handle_close},
  {NULL, NULL}
};

static const luaL_Reg download_methods[] = {
  {"poll", download_poll},
  {NULL, NULL}
};

static const luaL_Reg download_meta[] = {
  {"__close", download_close},
  {"__gc", download_close},
  {NULL, NULL}
};

void rp_lhttp_register(lua_State *L)
{
  rp_lclass_register(L, RP_RESPONSE_MT, handle_meta, NULL);
  rp_lclass_register(L, RP_DOWNLOAD_MT, download_meta, download_methods);
  luaL_setfuncs(L, http_functions, 0);
}
