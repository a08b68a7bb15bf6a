/* buf.c - see buf.h. */
#include "base/buf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/rp.h"

int rp_fail(int rc, char *err, size_t errlen, const char *fmt, ...)
{
  va_list ap;
  if (err && errlen > 0) {
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
  }
  return rc;
}

void rp_buf_init_alloc(struct rp_buf *b, size_t max, rp_buf_alloc alloc,
                       void *ud)
{
  b->data = NULL;
  b->len = 0;
  b->cap = 0;
  b->max = max;
  b->alloc = alloc;
  b->ud = ud;
}

int rp_buf_reserve(struct rp_buf *b, size_t extra)
{
  size_t need;
  size_t ncap;
  char *p;
  if (extra > SIZE_MAX - b->len - 1)
    return RP_ETOOBIG;
  if (b->len + extra > b->max)
    return RP_ETOOBIG;
  need = b->len + extra + 1;
  if (need <= b->cap)
    return RP_OK;
  /* Grow by half at least, so appends are amortised O(1); never past the
   * cap and its terminator. */
  ncap = b->cap <= SIZE_MAX / 3 * 2 ? b->cap + b->cap / 2 : need;
  if (ncap < need)
    ncap = need;
  if (ncap < 64)
    ncap = 64;
  if (b->max < SIZE_MAX && ncap > b->max + 1)
    ncap = b->max + 1;
  if (b->alloc)
    p = b->alloc(b->ud, b->data, b->cap, ncap);
  else
    p = realloc(b->data, ncap);
  if (!p)
    return RP_ENOMEM;
  b->data = p;
  b->cap = ncap;
  return RP_OK;
}

int rp_buf_append(struct rp_buf *b, const void *p, size_t n)
{
  const char *src = p;
  int rc;
  /* Growing may move the data; when p points into it, find it again. The
   * common case, room left, skips this and the call of rp_buf_reserve. */
  if (n >= b->cap - b->len || n > b->max - b->len) {
    int self = b->data && src >= b->data && src < b->data + b->cap;
    size_t off = self ? (size_t)(src - b->data) : 0;
    rc = rp_buf_reserve(b, n);
    if (rc != RP_OK)
      return rc;
    if (self)
      src = b->data + off;
  }
  if (n > 0)
    memmove(b->data + b->len, src, n);
  b->len += n;
  b->data[b->len] = '\0';
  return RP_OK;
}

void rp_buf_set_len(struct rp_buf *b, size_t n)
{
  b->len = n;
  if (b->data)
    b->data[n] = '\0';
}

int rp_buf_puts(struct rp_buf *b, const char *s)
{
  return rp_buf_append(b, s, strlen(s));
}

int rp_buf_printf(struct rp_buf *b, const char *fmt, ...)
{
  va_list ap;
  int n;
  int rc;
  va_start(ap, fmt);
  n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0)
    return RP_EINVAL;
  rc = rp_buf_reserve(b, (size_t)n);
  if (rc != RP_OK)
    return rc;
  va_start(ap, fmt);
  vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
  return RP_OK;
}

void rp_buf_clear(struct rp_buf *b)
{
  b->len = 0;
  if (b->data)
    b->data[0] = '\0';
}

void rp_buf_free(struct rp_buf *b)
{
  if (!b)
    return;
  if (b->alloc && b->data)
    b->alloc(b->ud, b->data, b->cap, 0);
  else
    free(b->data);
  b->data = NULL;
  b->len = 0;
  b->cap = 0;
}

char *rp_buf_steal(struct rp_buf *b, size_t *len)
{
  char *p = b->data;
  if (!p)
    p = calloc(1, 1);
  if (len)
    *len = p ? b->len : 0;
  b->data = NULL;
  b->len = 0;
  b->cap = 0;
  return p;
}
