/*
 * ljson.h - the runpod.json functions, over the codec of lua/json.h
 * (included here for the codec's users).
 */
#ifndef RP_LJSON_H
#define RP_LJSON_H

#include <lua.h>

#include "lua/json.h"

/* Sets these fields in the table on top of the stack: [-0, +0]
 *   encode(value) -> string | nil, err    root named "value", 1 GiB cap
 *   decode(string) -> value | nil, err
 *   null          the sentinel
 *   array_mt      the array metatable
 *   empty_array   an empty array shared by everyone, hence read-only:
 *                 assigning to it raises; getmetatable() gives array_mt
 *   array([t])    sets array_mt on t (default: a new table), replacing any
 *                 unprotected metatable, and returns it
 *   bigint(text)  the big integer with this decimal text (lua/json.h),
 *                 which encodes verbatim; raises for any other text
 * Bad arguments raise as usual ("bad argument #1 to 'decode' (string
 * expected, got nil)"); invalid JSON or unencodable values return
 * nil, message, a memory error while encoding included (rp_json_pencode). */
void rp_json_register(lua_State *L);

/* lua_CFunction for runpod.core.encode_fields(t, keys, max[, buffer]) ->
 * body | nil, message: rp_json_encode_fields of t's fields named in the
 * array keys (at most 8), in that order, under lua_pcall so that it never
 * raises. The body is a string, or with buffer set the RP_JSON_BODY_MT
 * userdata itself, which runpod-worker posts without copying it. */
int rp_json_lua_encode_fields(lua_State *L);

#endif
