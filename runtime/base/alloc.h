/*
 * alloc.h - the Lua allocator with a memory cap.
 *
 * Each lua_State gets its own struct rp_alloc as the allocator's 'ud'. It
 * counts the bytes the state holds; with a cap set, a request that would
 * pass it is refused (Lua then collects garbage, retries, and raises a
 * memory error if it still does not fit) and 'exceeded' is set so that the
 * job runner can tell the handler's memory error from any other.
 */
#ifndef RP_ALLOC_H
#define RP_ALLOC_H

#include <stddef.h>

struct rp_alloc {
  size_t used;       /* bytes held by the state */
  size_t peak;       /* the most ever held */
  size_t cap;        /* 0 = no cap */
  int exceeded;      /* a request was refused since the last reset */
};

/* The lua_Alloc function; ud is a struct rp_alloc *. */
void *rp_alloc_fn(void *ud, void *ptr, size_t osize, size_t nsize);

/* Parses a byte size: a whole number with an optional K, M or G suffix
 * (powers of 1024, with or without a trailing B or iB), e.g. "512M".
 * "0" means no cap. Returns 0 and sets *out, or -1 when malformed. */
int rp_alloc_parse_size(const char *s, size_t *out);

#endif
