/* alloc.c - see alloc.h. */
#include "base/alloc.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <strings.h>

void *rp_alloc_fn(void *ud, void *ptr, size_t osize, size_t nsize)
{
  struct rp_alloc *a = ud;
  void *p;
  /* When ptr is NULL, osize encodes the object type, not a size. */
  size_t old = ptr ? osize : 0;
  if (nsize == 0) {
    free(ptr);
    a->used -= old;
    return NULL;
  }
  if (a->cap && nsize > old && a->used - old + nsize > a->cap) {
    a->exceeded = 1;
    return NULL;
  }
  p = realloc(ptr, nsize);
  if (!p)
    return NULL;
  a->used = a->used - old + nsize;
  if (a->used > a->peak)
    a->peak = a->used;
  return p;
}

int rp_alloc_parse_size(const char *s, size_t *out)
{
  char *end;
  unsigned long long v;
  unsigned long long mul = 1;
  if (!s || !isdigit((unsigned char)*s))
    return -1;
  errno = 0;
  v = strtoull(s, &end, 10);
  if (errno)
    return -1;
  switch (toupper((unsigned char)*end)) {
  case 'K': mul = 1024ULL; end++; break;
  case 'M': mul = 1024ULL * 1024; end++; break;
  case 'G': mul = 1024ULL * 1024 * 1024; end++; break;
  default: break;
  }
  if (mul > 1 && (*end == 'i' || *end == 'I'))
    end++;
  if (*end == 'b' || *end == 'B')
    end++;
  if (*end)
    return -1;
  if (v > SIZE_MAX / mul)
    return -1;
  *out = (size_t)(v * mul);
  return 0;
}
