/*
 * json.h - JSON <-> Lua values, working directly on a lua_State: the
 * codec (json_decode.c, json_encode.c) behind runpod.json (ljson.h).
 *
 * Our own codec rather than lua-cjson, for exact integers, [] kept apart
 * from {}, and encode errors that name the key path. Relies on buf.h for
 * the encoder's output buffer, on base/json.h for escaping strings and
 * formatting numbers, and on Lua 5.4 (64-bit integers).
 *
 * Mapping, decode:
 * - object -> table; duplicate keys: the last one wins.
 * - array -> table with the array metatable (RP_JSON_ARRAY_MT), so that
 *   [] encodes back as [].
 * - a number without fraction or exponent that fits int64 -> integer,
 *   exactly (-9223372036854775808 included); one that does not fit
 *   (18446744073709551615, a uint64 seed) -> a big integer, exactly
 *   (rp_json_pushbigint); any other number -> float, rounded like strtod;
 *   a float beyond the double range (1e400) is an error, "number out of
 *   range", since no encoder could write it back. "-0" is the integer 0.
 * - null -> the null sentinel (rp_json_pushnull); true/false -> booleans.
 * - strings: all escapes, \u surrogate pairs -> UTF-8; \u0000 gives a NUL
 *   byte. Raw bytes >= 0x80 pass through unchecked (no UTF-8 validation).
 * The decoder itself allocates only through Lua.
 *
 * Mapping, encode:
 * - nil and the null sentinel -> null; booleans; integers in decimal; a
 *   big integer -> its digits, verbatim.
 * - floats: the shortest of %.15g/%.16g/%.17g that reads back exactly,
 *   with ".0" added when it would look like an integer (5.0 -> 5.0);
 *   always '.' whatever the C locale. NaN and +-inf are errors.
 * - strings: '"', '\\' and control characters escaped (\b \f \n \r \t,
 *   others \u00XX); valid UTF-8 copied raw; each byte that does not start
 *   a valid UTF-8 sequence (overlong forms and surrogates included) becomes
 *   \ufffd, so the output is always valid JSON.
 * - tables, in this order:
 *   1. a __tojson metafield (tables and full userdata): it is called with
 *      the value and its result is encoded instead; a __tojson of that
 *      result is not called again (its contents' are). A __tojson may
 *      change any table: an object then gets the keys it had when the
 *      encoder reached it, less those removed before their turn (keys
 *      added meanwhile are left out); an array keeps the length it had;
 *   2. the array metatable, or a metatable whose __metatable field is the
 *      array metatable (json.empty_array) -> array of t[1..#t] (raw); any
 *      other key (a string, an index past #t) is an error rather than
 *      dropped (lua-cjson drops them);
 *   3. empty -> {};
 *   4. keys exactly 1..n -> array;
 *   5. otherwise an object: string keys as is, integer keys in decimal,
 *      float keys in the float format above ({[1.5] = x} -> {"1.5": x}).
 *      Sparse integer keys ({[1] = a, [3] = b}) thus give an object with
 *      string keys. Member order is lua_next's order (unspecified).
 *      Other key types are errors, and so is a number key whose text is
 *      also a string key ({[1] = a, ["1"] = b}): no member is named twice.
 * - tables already on the path from the root (cycles) are errors; the same
 *   table in two branches is fine.
 * - functions, threads, full userdata without __tojson and light userdata
 *   other than null are errors.
 * Error paths read like Lua: output.items[3].fn, output["a b"], output[7].
 */
#ifndef RP_LUA_JSON_H
#define RP_LUA_JSON_H

#include <lua.h>
#include <stddef.h>

#include "base/json.h"      /* RP_JSON_MAX_DEPTH: the nesting limit */

/* Registry name of the metatable that marks a table as a JSON array. */
#define RP_JSON_ARRAY_MT "runpod.json.array"

/* Decodes the JSON text s[0..len) and pushes the Lua value. Returns RP_OK
 * [-0, +1], or RP_EJSON [-0, +0] with a message in err such as
 * "invalid JSON at byte 17: expected ',' or '}'", "lone UTF-16 surrogate
 * \ud83d at byte 5", "invalid \u escape at byte 3", "trailing characters
 * at byte 4", "nesting deeper than 1000 at byte 1000" or "invalid JSON:
 * empty input" (byte offsets are 0-based).
 * 's' is borrowed for the call only. Raises only Lua memory errors. */
int rp_json_decode(lua_State *L, const char *s, size_t len, char *err,
                   size_t errlen);

/* Encodes the value at stack index idx and pushes the JSON text as a Lua
 * string. 'what' names the root in messages (e.g. "output"); max is the
 * largest encoded size allowed, in bytes. Returns RP_OK [-0, +1], or
 * [-0, +0] with a message in err:
 * - RP_EJSON naming the key path: "cannot encode function at
 *   output.items[3].fn", "cannot encode NaN at output.score", "cannot encode
 *   table cycle at output.self", "cannot encode table key of type boolean at
 *   output", "nesting deeper than 1000 at output.a.a...a" (paths over ~200
 *   bytes are cut in the middle with "..."), "__tojson failed at output.x:
 *   <its error>";
 * - RP_ETOOBIG: "encoded output exceeds <max> bytes";
 * - RP_ENOMEM: malloc refused to grow the output buffer.
 * A value without __tojson is walked once, calling no Lua code; one with
 * a __tojson is walked again from the start once the first is found, each
 * __tojson then called once, under lua_pcall, and each object read through
 * a snapshot of its keys. The output buffer is held by a
 * userdata with __gc, so nothing leaks when a Lua memory error (the only
 * error raised) unwinds through here. */
int rp_json_encode(lua_State *L, int idx, const char *what, size_t max,
                   char *err, size_t errlen);

/* Registry name of the metatable of an encoded body: a userdata holding
 * a struct rp_buf (base/buf.h) with the JSON text, allocated through the
 * state's own allocator (lua_getallocf) so that it counts against the
 * state's memory like a string; # gives its length, tostring() the text.
 * Whoever takes it over (the executor, to post it without a copy) knows
 * that allocator and takes the bytes off its count. */
#define RP_JSON_BODY_MT "runpod.json.buffer"

/* Encodes the fields keys[] (NULL-terminated) that the table at idx has
 * (not nil), in that order, as one JSON object, each value named by its
 * key in messages ("cannot encode function at output.f"): the body of a
 * result, {"output": ..., "error": ...}, encoded once. Pushes the text as
 * a RP_JSON_BODY_MT userdata, no Lua string made. Same returns and stack
 * effect as rp_json_encode. */
int rp_json_encode_fields(lua_State *L, int idx, const char *const *keys,
                          size_t max, char *err, size_t errlen);

/* rp_json_encode under lua_pcall, so that it never raises: a Lua memory
 * error returns RP_ENOMEM, "out of memory encoding <what>", and any other
 * error RP_ELUA, "cannot encode <what>: <message>". Same stack effect. */
int rp_json_pencode(lua_State *L, int idx, const char *what, size_t max,
                    char *err, size_t errlen);

/* Registry name of the metatable of big integers. */
#define RP_JSON_BIGINT_MT "runpod.json.bigint"

/* Pushes a big integer: a full userdata holding the decimal text s[0..n)
 * (an optional '-', then digits, no leading zero; not checked here) that
 * the encoder writes back verbatim. tostring() gives the text; arithmetic
 * and comparisons (also with numbers) work on its nearest float; ==
 * compares the text; '..' concatenates it. getmetatable() gives "bigint".
 * [-0, +1] */
void rp_json_pushbigint(lua_State *L, const char *s, size_t n);

/* Pushes the JSON null sentinel: a light userdata holding NULL, equal to
 * lua-cjson's cjson.null. [-0, +1] */
void rp_json_pushnull(lua_State *L);

/* Pushes the array-marker metatable, creating it (in the registry under
 * RP_JSON_ARRAY_MT) on first use. [-0, +1] */
void rp_json_pusharraymt(lua_State *L);

#endif
