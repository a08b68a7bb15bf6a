/*
 * codec.c - base64 and hex (see codec.h).
 */
#include "base/codec.h"

#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "base/rp.h"

static const char b64chars[] =
  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Decoding table: the 6-bit value, or INVALID; '=' is INVALID here and
 * handled apart in the last group. */
#define INVALID 0xff
static unsigned char b64dec[256];
static unsigned char hexdec[256];

static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

static void build_tables(void)
{
  memset(b64dec, INVALID, sizeof(b64dec));
  for (int i = 0; i < 64; i++)
    b64dec[(unsigned char)b64chars[i]] = (unsigned char)i;
  memset(hexdec, INVALID, sizeof(hexdec));
  for (int i = 0; i < 10; i++)
    hexdec['0' + i] = (unsigned char)i;
  for (int i = 0; i < 6; i++) {
    hexdec['a' + i] = (unsigned char)(10 + i);
    hexdec['A' + i] = (unsigned char)(10 + i);
  }
}

/* Executors decode on several threads at once. */
static void init_tables(void)
{
  pthread_once(&tables_once, build_tables);
}

int rp_base64_encoded_len(size_t n, size_t *out)
{
  size_t groups = n / 3 + (n % 3 != 0);
  if (groups > RP_CODEC_MAX / 4)
    return RP_ETOOBIG;
  *out = groups * 4;
  return RP_OK;
}

void rp_base64_encode(const void *src, size_t n, char *dst)
{
  const unsigned char *s = src;
  size_t i = 0;
  uint32_t v;
  for (; n - i >= 3; i += 3) {
    v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
    dst[0] = b64chars[v >> 18];
    dst[1] = b64chars[(v >> 12) & 63];
    dst[2] = b64chars[(v >> 6) & 63];
    dst[3] = b64chars[v & 63];
    dst += 4;
  }
  if (n - i == 1) {
    v = (uint32_t)s[i] << 16;
    dst[0] = b64chars[v >> 18];
    dst[1] = b64chars[(v >> 12) & 63];
    dst[2] = '=';
    dst[3] = '=';
  } else if (n - i == 2) {
    v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8;
    dst[0] = b64chars[v >> 18];
    dst[1] = b64chars[(v >> 12) & 63];
    dst[2] = b64chars[(v >> 6) & 63];
    dst[3] = '=';
  }
}

/* The offset of the first invalid character of the 4-byte group at p
 * (offset 'at' in the input). */
static size_t badchar(const unsigned char *p, size_t at)
{
  size_t k = 0;
  while (k < 4 && b64dec[p[k]] != INVALID)
    k++;
  return at + k;
}

int rp_base64_decode(const char *src, size_t n, unsigned char *dst,
                     size_t *outlen, size_t *errpos)
{
  const unsigned char *s = (const unsigned char *)src;
  unsigned char *d = dst;
  size_t i = 0;
  size_t last;
  unsigned a, b, c, e;
  init_tables();
  if (n % 4 != 0) {
    /* A truncated group: name its first byte unless something earlier
     * is invalid already (reported by the loop below). */
    last = n - n % 4;
  } else {
    last = n >= 4 ? n - 4 : 0;
  }
  /* Every group before 'last' must be four alphabet characters. */
  for (; i < last; i += 4) {
    a = b64dec[s[i]];
    b = b64dec[s[i + 1]];
    c = b64dec[s[i + 2]];
    e = b64dec[s[i + 3]];
    if ((a | b | c | e) & 0xc0) {   /* INVALID has these bits set */
      *errpos = badchar(s + i, i);
      return RP_EINVAL;
    }
    d[0] = (unsigned char)(a << 2 | b >> 4);
    d[1] = (unsigned char)(b << 4 | c >> 2);
    d[2] = (unsigned char)(c << 6 | e);
    d += 3;
  }
  if (n % 4 != 0) {
    *errpos = last;
    return RP_EINVAL;
  }
  if (n == 0) {
    *outlen = 0;
    return RP_OK;
  }
  /* The last group: "xxxx", "xxx=" or "xx==". */
  a = b64dec[s[i]];
  b = b64dec[s[i + 1]];
  if (a == INVALID) {
    *errpos = i;
    return RP_EINVAL;
  }
  if (b == INVALID) {
    *errpos = i + 1;
    return RP_EINVAL;
  }
  *d++ = (unsigned char)(a << 2 | b >> 4);
  if (s[i + 2] == '=') {
    if (s[i + 3] != '=') {
      *errpos = i + 3;
      return RP_EINVAL;
    }
    if (b & 0x0f) {               /* bits that no output byte holds */
      *errpos = i + 1;
      return RP_EINVAL;
    }
  } else {
    c = b64dec[s[i + 2]];
    if (c == INVALID) {
      *errpos = i + 2;
      return RP_EINVAL;
    }
    *d++ = (unsigned char)(b << 4 | c >> 2);
    if (s[i + 3] == '=') {
      if (c & 0x03) {
        *errpos = i + 2;
        return RP_EINVAL;
      }
    } else {
      e = b64dec[s[i + 3]];
      if (e == INVALID) {
        *errpos = i + 3;
        return RP_EINVAL;
      }
      *d++ = (unsigned char)(c << 6 | e);
    }
  }
  *outlen = (size_t)(d - dst);
  return RP_OK;
}

int rp_hex_encoded_len(size_t n, size_t *out)
{
  if (n > RP_CODEC_MAX / 2)
    return RP_ETOOBIG;
  *out = n * 2;
  return RP_OK;
}

void rp_hex_encode(const void *src, size_t n, char *dst)
{
  static const char digits[] = "0123456789abcdef";
  const unsigned char *s = src;
  for (size_t i = 0; i < n; i++) {
    dst[2 * i] = digits[s[i] >> 4];
    dst[2 * i + 1] = digits[s[i] & 15];
  }
}

int rp_hex_decode(const char *src, size_t n, unsigned char *dst,
                  size_t *errpos)
{
  const unsigned char *s = (const unsigned char *)src;
  unsigned hi, lo;
  init_tables();
  for (size_t i = 0; i + 1 < n; i += 2) {
    hi = hexdec[s[i]];
    lo = hexdec[s[i + 1]];
    if (hi == INVALID || lo == INVALID) {
      *errpos = hi == INVALID ? i : i + 1;
      return RP_EINVAL;
    }
    dst[i / 2] = (unsigned char)(hi << 4 | lo);
  }
  if (n % 2 != 0) {
    *errpos = n - 1;
    return RP_EINVAL;
  }
  return RP_OK;
}
