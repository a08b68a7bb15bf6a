/*
 * spec/fuzz/fuzz_json.c - libFuzzer target: the job-take body -> Lua value
 * path (rp_json_decode) and back (rp_json_encode). Whatever the bytes,
 * decoding must not crash or leak; what decodes must encode, and from the
 * second round on, decode + encode must give back text of the same
 * length (the first round may replace invalid UTF-8 by U+FFFD escapes;
 * member order is lua_next's, so only lengths are compared).
 */
#include <lauxlib.h>
#include <lualib.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lua/json.h"
#include "base/rp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static lua_State *L;
  char err[512];
  size_t n1;
  size_t n2;
  const char *s1;
  const char *s2;
  if (!L)
    L = luaL_newstate();
  lua_settop(L, 0);
  if (rp_json_decode(L, (const char *)data, size, err, sizeof(err))
      != RP_OK)
    return 0;
  if (rp_json_encode(L, 1, "value", (size_t)1 << 28, err, sizeof(err))
      != RP_OK)
    abort();                   /* what decodes must encode */
  for (int round = 0; round < 2; round++) {
    s1 = lua_tolstring(L, -1, &n1);
    if (rp_json_decode(L, s1, n1, err, sizeof(err)) != RP_OK)
      abort();
    if (rp_json_encode(L, -1, "value", (size_t)1 << 28, err, sizeof(err))
        != RP_OK)
      abort();
  }
  s1 = lua_tolstring(L, -3, &n1);
  s2 = lua_tolstring(L, -1, &n2);
  if (n1 != n2)
    abort();
  (void)s1;
  (void)s2;
  lua_settop(L, 0);
  lua_gc(L, LUA_GCCOLLECT);
  return 0;
}
