/*
 * bench/bare.c - the baseline for idle RSS: a C program that links the
 * same shared libraries as runpod-worker and does nothing but wait, so
 * that the difference is what the runtime, Lua state and handler add.
 */
#include <lua.h>
#include <stdio.h>
#include <unistd.h>

int main(int argc, char **argv)
{
  /* Touch the Lua library so the linker keeps it even with --as-needed. */
  lua_State *(*volatile keep)(lua_Alloc, void *) = lua_newstate;
  (void)keep;
  (void)argc;
  (void)argv;
  pause();
  return 0;
}
