/* lclass.c - see lclass.h. */
#include "lua/lclass.h"

void rp_lclass_register(lua_State *L, const char *name, const luaL_Reg *meta,
                        const luaL_Reg *methods)
{
  luaL_newmetatable(L, name);
  luaL_setfuncs(L, meta, 0);
  if (methods) {
    lua_newtable(L);
    luaL_setfuncs(L, methods, 0);
    lua_setfield(L, -2, "__index");
  }
  lua_pop(L, 1);
}
