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
  ncap = b->cap ? b->cap : 64;
  while (ncap < need)
    ncap = ncap > SIZE_MAX / 2 ? need : ncap * 2;
  p = realloc(b->data, ncap);
  if (!p)
    return RP_ENOMEM;
  b->data = p;
  b->cap = ncap;
  return RP_OK;
}

int rp_buf_append(struct rp_buf *b, const void *p, size_t n)
{
  int rc = rp_buf_reserve(b, n);
  if (rc != RP_OK)
    return rc;
  if (n > 0)
    memcpy(b->data + b->len, p, n);
  b->len += n;
  b->data[b->len] = '\0';
  return RP_OK;
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
