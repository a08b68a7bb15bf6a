/* test_alloc.c - the capped Lua allocator and size parsing; buf.c. */
#include <lauxlib.h>
#include <lualib.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/rp.h"
#include "tests/check.h"

static void cap_refuses_and_state_survives(void)
{
  struct rp_alloc a = { 0, 0, 0, 0 };
  lua_State *L = lua_newstate(rp_alloc_fn, &a);
  int rc;
  luaL_openlibs(L);
  a.cap = a.used + 256 * 1024;
  rc = luaL_loadstring(L, "local t = {} for i = 1, 1e7 do t[i] = i end");
  CHECK_INT(LUA_OK, rc);
  rc = lua_pcall(L, 0, 0, 0);
  CHECK_INT(LUA_ERRMEM, rc);
  CHECK_STR("not enough memory", lua_tostring(L, -1));
  CHECK_INT(1, a.exceeded);
  CHECK(a.used <= a.cap);
  lua_pop(L, 1);
  lua_gc(L, LUA_GCCOLLECT);
  a.exceeded = 0;
  CHECK_INT(LUA_OK, luaL_dostring(L, "x = ('a'):rep(1000)"));
  CHECK_INT(0, a.exceeded);
  lua_close(L);
  CHECK_INT(0, a.used);
}

static void no_cap_counts_usage(void)
{
  struct rp_alloc a = { 0, 0, 0, 0 };
  lua_State *L = lua_newstate(rp_alloc_fn, &a);
  size_t before = a.used;
  CHECK(before > 0);
  CHECK_INT(LUA_OK, luaL_dostring(L, "x = {} for i = 1, 1000 do x[i] = i end"));
  CHECK(a.used > before);
  CHECK(a.peak >= a.used);
  lua_close(L);
  CHECK_INT(0, a.used);
}

static void parse_size(void)
{
  size_t v = 1;
  CHECK_INT(0, rp_alloc_parse_size("0", &v));
  CHECK_INT(0, v);
  CHECK_INT(0, rp_alloc_parse_size("1234", &v));
  CHECK_INT(1234, v);
  CHECK_INT(0, rp_alloc_parse_size("64M", &v));
  CHECK_INT(64 * 1024 * 1024, v);
  CHECK_INT(0, rp_alloc_parse_size("2GiB", &v));
  CHECK_INT(2LL * 1024 * 1024 * 1024, v);
  CHECK_INT(0, rp_alloc_parse_size("512kb", &v));
  CHECK_INT(512 * 1024, v);
  CHECK_INT(-1, rp_alloc_parse_size("", &v));
  CHECK_INT(-1, rp_alloc_parse_size("-1", &v));
  CHECK_INT(-1, rp_alloc_parse_size("12X", &v));
  CHECK_INT(-1, rp_alloc_parse_size("99999999999999999999G", &v));
}

static void buf_caps_and_grows(void)
{
  struct rp_buf b = RP_BUF_INIT(10);
  CHECK_INT(RP_OK, rp_buf_puts(&b, "hello"));
  CHECK_INT(RP_OK, rp_buf_printf(&b, "%d", 1234));
  CHECK_STR("hello1234", b.data);
  CHECK_INT(RP_ETOOBIG, rp_buf_puts(&b, "xx"));
  CHECK_INT(9, b.len);
  CHECK_INT(RP_ETOOBIG, rp_buf_reserve(&b, SIZE_MAX));
  rp_buf_clear(&b);
  CHECK_INT(0, b.len);
  CHECK_STR("", b.data);
  rp_buf_free(&b);
  rp_buf_free(NULL);
  CHECK(b.data == NULL);
}

static void buf_steal(void)
{
  struct rp_buf b = RP_BUF_INIT(100);
  size_t n = 99;
  char *p = rp_buf_steal(&b, &n);
  CHECK(p != NULL);
  CHECK_INT(0, n);
  free(p);
  rp_buf_append(&b, "abc", 3);
  p = rp_buf_steal(&b, &n);
  CHECK_STR("abc", p);
  CHECK_INT(3, n);
  CHECK(b.data == NULL);
  free(p);
}

int main(void)
{
  RUN(cap_refuses_and_state_survives);
  RUN(no_cap_counts_usage);
  RUN(parse_size);
  RUN(buf_caps_and_grows);
  RUN(buf_steal);
  return check_summary();
}
