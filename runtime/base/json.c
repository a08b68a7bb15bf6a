/* json.c - see json.h. */
#include "base/json.h"

#include <locale.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/rp.h"

/* Bytes inside JSON strings. 1: must be escaped (control characters, '"'
 * and '\\'); 2: not ASCII; 0: copied as is. */
const unsigned char rp_json_byte_class[256] = {
  1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,  /* 0x00 */
  1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,  /* 0x10 */
  0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  /* 0x20: '"' */
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  /* 0x30 */
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  /* 0x40 */
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,  /* 0x50: '\\' */
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  /* 0x60 */
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  /* 0x70 */
  2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,  /* 0x80 */
  2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
  2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
  2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
  2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
  2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
  2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
  2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2   /* 0xf0 */
};

const char *rp_json_skip_plain(const char *p, const char *end, int ascii)
{
  const uint64_t ones = 0x0101010101010101u;
  const uint64_t highs = 0x8080808080808080u;
#ifdef __SSE2__
  /* Sixteen bytes at a time: a byte is special when it is '"', '\\',
   * below 0x20 (min(x, 0x1f) == x) or, with ascii set, not ASCII (its
   * high bit, which movemask gathers). The first special byte ends the
   * run at once. */
  const __m128i quote = _mm_set1_epi8('"');
  const __m128i bslash = _mm_set1_epi8('\\');
  const __m128i ctl = _mm_set1_epi8(0x1f);
  while (end - p >= 16) {
    __m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
    __m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, quote),
                                            _mm_cmpeq_epi8(x, bslash)),
                               _mm_cmpeq_epi8(_mm_min_epu8(x, ctl), x));
    unsigned m = (unsigned)_mm_movemask_epi8(hit);
    if (ascii)
      m |= (unsigned)_mm_movemask_epi8(x);
    if (m) {
      p += __builtin_ctz(m);
      break;
    }
    p += 16;
  }
#endif
  /* Eight bytes at a time: a zero byte of x ^ ('"' * ones) is a quote;
   * (v - ones) & ~v has the high bit of each zero byte of v set (and may
   * set it after one: then the bytes are looked at one by one anyway). A
   * byte below 0x20 has the high bit of (x - 0x20 * ones) & ~x set. */
  while (end - p >= 8) {
    uint64_t x;
    uint64_t q;
    uint64_t bs;
    memcpy(&x, p, 8);
    q = x ^ (ones * '"');
    bs = x ^ (ones * '\\');
    if ((((q - ones) & ~q) | ((bs - ones) & ~bs) |
         ((x - ones * 0x20) & ~x) | (ascii ? x : 0)) & highs)
      break;
    p += 8;
  }
  while (p < end && rp_json_byte_class[(unsigned char)*p] == 0)
    p++;
  if (!ascii)
    while (p < end && rp_json_byte_class[(unsigned char)*p] != 1)
      p++;
  return p;
}

/* ---- writing ---- */

/* The length of the valid UTF-8 sequence at p (*p >= 0x80), or 0 when
 * p does not start one (overlong forms and surrogates are not valid). */
static size_t utf8len(const unsigned char *p, const unsigned char *end)
{
  size_t left = (size_t)(end - p);
  unsigned c = p[0];
  unsigned lo = 0x80;
  unsigned hi = 0xbf;
  if (c >= 0xc2 && c <= 0xdf)
    return left >= 2 && (p[1] & 0xc0) == 0x80 ? 2 : 0;
  if (c >= 0xe0 && c <= 0xef) {
    if (c == 0xe0)
      lo = 0xa0;
    else if (c == 0xed)
      hi = 0x9f;
    return left >= 3 && p[1] >= lo && p[1] <= hi &&
      (p[2] & 0xc0) == 0x80 ? 3 : 0;
  }
  if (c >= 0xf0 && c <= 0xf4) {
    if (c == 0xf0)
      lo = 0x90;
    else if (c == 0xf4)
      hi = 0x8f;
    return left >= 4 && p[1] >= lo && p[1] <= hi &&
      (p[2] & 0xc0) == 0x80 && (p[3] & 0xc0) == 0x80 ? 4 : 0;
  }
  return 0;
}

size_t rp_json_utf8_len(const char *p, const char *end)
{
  return (unsigned char)*p < 0x80 ? 1
    : utf8len((const unsigned char *)p, (const unsigned char *)end);
}

size_t rp_json_utf8_bad(const char *s, size_t n)
{
  const char *p = s;
  const char *end = s + n;
  while (p < end) {
    size_t k = rp_json_utf8_len(p, end);
    if (k == 0)
      break;
    p += k;
  }
  return (size_t)(p - s);
}

/* The escape of byte c (rp_json_byte_class[c] != 0 and c not the start of
 * valid UTF-8) into esc[6]; returns its length. */
static size_t escape(unsigned char c, char *esc)
{
  static const char hex[] = "0123456789abcdef";
  static const char shortform[32] = {
    0, 0, 0, 0, 0, 0, 0, 0, 'b', 't', 'n', 0, 'f', 'r', 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
  };
  esc[0] = '\\';
  if (c == '"' || c == '\\') {
    esc[1] = (char)c;
    return 2;
  }
  if (c >= 0x20) {
    memcpy(esc, "\\ufffd", 6);          /* not the start of valid UTF-8 */
    return 6;
  }
  if (shortform[c]) {
    esc[1] = shortform[c];
    return 2;
  }
  memcpy(esc, "\\u00", 4);
  esc[4] = hex[c >> 4];
  esc[5] = hex[c & 0xf];
  return 6;
}

int rp_json_put_chars(struct rp_buf *b, const char *s, size_t n)
{
  const unsigned char *p = (const unsigned char *)s;
  const unsigned char *end = p + n;
  const unsigned char *run = p;
  char esc[6];
  size_t k;
  int rc = RP_OK;
  /* A long string makes room once for itself and a little more (what
   * closes the document), not step by step. Only a hint. */
  if (n > 4096)
    (void)rp_buf_reserve(b, n + 64);
  /* Runs of bytes that need no escaping are copied with one append. */
  while (p < end) {
    unsigned char c;
    p = (const unsigned char *)rp_json_skip_plain((const char *)p,
                                                  (const char *)end, 1);
    if (p == end)
      break;
    c = *p;
    if (rp_json_byte_class[c] == 2) {
      k = utf8len(p, end);
      if (k) {
        p += k;
        continue;
      }
    }
    rc = rp_buf_append(b, run, (size_t)(p - run));
    if (rc == RP_OK)
      rc = rp_buf_append(b, esc, escape(c, esc));
    if (rc != RP_OK)
      return rc;
    run = ++p;
  }
  return rp_buf_append(b, run, (size_t)(p - run));
}

int rp_json_put_string(struct rp_buf *b, const char *s, size_t n)
{
  int rc = rp_buf_append(b, "\"", 1);
  if (rc == RP_OK)
    rc = rp_json_put_chars(b, s, n);
  if (rc == RP_OK)
    rc = rp_buf_append(b, "\"", 1);
  return rc;
}

void rp_json_decpoint_get(struct rp_json_decpoint *dp)
{
  const char *p = localeconv()->decimal_point;
  size_t n = p ? strlen(p) : 0;
  if (n == 0 || n >= sizeof(dp->s)) {
    p = ".";
    n = 1;
  }
  memcpy(dp->s, p, n + 1);
  dp->len = n;
  dp->dot = n == 1 && p[0] == '.';
}

size_t rp_json_format_int(char *s, long long v)
{
  char tmp[24];
  unsigned long long u = (unsigned long long)v;
  size_t n = 0;
  size_t i = 0;
  if (v < 0)
    u = 0ULL - u;
  do {
    tmp[n++] = (char)('0' + u % 10);
    u /= 10;
  } while (u);
  if (v < 0)
    s[i++] = '-';
  while (n)
    s[i++] = tmp[--n];
  s[i] = '\0';
  return i;
}

/* Rounds the n digits d to 'prec' digits into r: half up, but half to
 * even on an exact tie (a 5 and nothing but zeros after it, as printf
 * rounds); *exp10, the decimal exponent of the first digit, grows by one
 * on a carry out of it (9.99 -> 10.0). */
static void round_digits(const char *d, int n, int prec, char *r,
                         int *exp10)
{
  int i = prec - 1;
  int tie = d[prec] == '5';
  memcpy(r, d, (size_t)prec);
  for (int k = prec + 1; tie && k < n; k++)
    tie = d[k] == '0';
  if (d[prec] < '5' || (tie && (r[prec - 1] - '0') % 2 == 0))
    return;
  while (i >= 0 && r[i] == '9')
    r[i--] = '0';
  if (i >= 0) {
    r[i]++;
  } else {
    r[0] = '1';                     /* all nines: 10...0 */
    (*exp10)++;
  }
}

/* Writes digits d[0..n) (no trailing zero but a lone "0") times 10^exp10
 * (the exponent of the first digit) as printf's %.{prec}g does, with '.'
 * as the decimal point. Returns the length. */
static size_t put_g(char *s, int neg, const char *d, int n, int exp10,
                    int prec)
{
  char *w = s;
  if (neg)
    *w++ = '-';
  if (exp10 < -4 || exp10 >= prec) {
    *w++ = d[0];
    if (n > 1) {
      *w++ = '.';
      memcpy(w, d + 1, (size_t)n - 1);
      w += n - 1;
    }
    w += sprintf(w, "e%c%02d", exp10 < 0 ? '-' : '+',
                 exp10 < 0 ? -exp10 : exp10);
  } else if (exp10 >= 0) {
    for (int i = 0; i <= exp10; i++)
      *w++ = i < n ? d[i] : '0';
    if (n > exp10 + 1) {
      *w++ = '.';
      memcpy(w, d + exp10 + 1, (size_t)(n - exp10 - 1));
      w += n - exp10 - 1;
    }
  } else {
    *w++ = '0';
    *w++ = '.';
    for (int i = -1; i > exp10; i--)
      *w++ = '0';
    memcpy(w, d, (size_t)n);
    w += n;
  }
  *w = '\0';
  return (size_t)(w - s);
}

/* Writes "[-]<k digits of r>e<e>" into c: a number strtod reads without
 * a decimal point, whatever the locale. */
static void put_candidate(char *c, int neg, const char *r, int k, int e)
{
  if (neg)
    *c++ = '-';
  memcpy(c, r, (size_t)k);
  c += k;
  *c++ = 'e';
  c += rp_json_format_int(c, e);
}

/* The first 'want' significant digits of x, correctly rounded, into d,
 * and the decimal exponent of the first into *exp10: 17, or 40 to round
 * to fewer when the 17 end in what looks like a tie ("...5"). */
static void digits_of(double x, char *d, int want, int *exp10)
{
  char text[80];
  const char *p;
  int n = 0;
  snprintf(text, sizeof(text), "%.*e", want - 1, x);
  for (p = text; *p && *p != 'e' && n < want; p++)
    if (*p >= '0' && *p <= '9')
      d[n++] = *p;
  p = strchr(p, 'e');
  *exp10 = p ? atoi(p + 1) : 0;
}

/* 17 digits by printf, then the shortest of 15, 16 and 17 digits that
 * strtod reads back as x (> 0): the digits into d, their number into
 * *prec, the exponent of the first into *exp10. A tail that is a tie
 * ("5", "50") at 17 digits may hide which way the exact value rounds:
 * then 40 digits decide. */
static void shortest_by_printf(double x, char *d, int *prec, int *exp10)
{
  char more[41];
  char cand[48];
  *prec = 17;
  digits_of(x, d, 17, exp10);
  for (int k = 15; k <= 16; k++) {
    char r[17];
    int e = *exp10;
    const char *src = d;
    int n_src = 17;
    if (d[k] == '5' && (k == 16 || d[16] == '0')) {
      int e40;
      digits_of(x, more, 40, &e40);
      if (e40 == *exp10) {
        src = more;
        n_src = 40;
      }
    }
    round_digits(src, n_src, k, r, &e);
    put_candidate(cand, 0, r, k, e - (k - 1));
    if (strtod(cand, NULL) == x) {
      memcpy(d, r, (size_t)k);
      *exp10 = e;
      *prec = k;
      return;
    }
  }
}

#ifdef __SIZEOF_INT128__
__extension__ typedef unsigned __int128 rp_u128;

static const uint64_t pow10_u64[20] = {
  1u, 10u, 100u, 1000u, 10000u, 100000u, 1000000u, 10000000u, 100000000u,
  1000000000u, 10000000000u, 100000000000u, 1000000000000u,
  10000000000000u, 100000000000000u, 1000000000000000u,
  10000000000000000u, 100000000000000000u, 1000000000000000000u,
  10000000000000000000u
};

/* The same digits as shortest_by_printf, by exact integer arithmetic,
 * for x (> 0) in [2^-16, 2^53): x = m * 2^-s is scaled by 10^q into
 * S = m * 10^q / 2^s in [10^16, 10^17), held as its integer part and
 * the remainder over 2^s; each product below fits in 128 bits there.
 * Rounding to k digits and the round-trip test (does the candidate fall
 * between x's midpoints with its neighbours, as strtod decides) are then
 * comparisons of integers. Returns 0, leaving the work to printf,
 * outside that range and on an exact tie when rounding to k digits. */
static int shortest_exact(double x, char *d, int *prec, int *exp10)
{
  uint64_t bits;
  uint64_t m;
  uint64_t i17;
  int biased;
  int s;
  int q;
  rp_u128 p = 0;
  rp_u128 n = 0;
  rp_u128 rem;
  rp_u128 hi;
  rp_u128 lo;
  memcpy(&bits, &x, sizeof(bits));
  biased = (int)((bits >> 52) & 0x7ff);
  if (biased == 0 || biased == 0x7ff)
    return 0;                            /* subnormal, infinite, NaN */
  m = (bits & ((UINT64_C(1) << 52) - 1)) | (UINT64_C(1) << 52);
  s = 1075 - biased;                     /* x = m * 2^-s */
  if (s < 1 || s > 68)
    return 0;
  /* floor(log10(x)) is floor(log10(2) * (52 - s)) or one more. */
  q = 16 - (int)floor((52 - s) * 0.30102999566398120);
  for (int tries = 0; ; tries++) {
    if (q < 0 || q > 21 || tries == 3)
      return 0;
    p = q <= 19 ? pow10_u64[q] : (rp_u128)pow10_u64[19] * pow10_u64[q - 19];
    n = (rp_u128)m * p;
    if ((n >> s) < pow10_u64[16])
      q++;
    else if ((n >> s) >= pow10_u64[17])
      q--;
    else
      break;
  }
  i17 = (uint64_t)(n >> s);
  rem = n & (((rp_u128)1 << s) - 1);
  /* x's midpoints with its neighbours, in units of S / 2^(s+2); the one
   * below is nearer when m is a power of two. */
  hi = (rp_u128)(4 * m + 2) * p;
  lo = (rp_u128)(4 * m - (m == UINT64_C(1) << 52 ? 1 : 2)) * p;
  for (int k = 15; k <= 17; k++) {
    uint64_t t = pow10_u64[17 - k];
    uint64_t c = i17 / t;
    /* The part of S below the k-th digit against half that digit's
     * unit, both times 2^(s+1). */
    rp_u128 below = (((rp_u128)(i17 % t) << s) + rem) << 1;
    rp_u128 half = (rp_u128)t << s;
    rp_u128 cs;
    int e = 16 - q;
    if (below == half)
      return 0;                          /* a tie: printf decides */
    if (below > half)
      c++;
    cs = ((rp_u128)c * t) << (s + 2);
    if (k < 17 && !(cs > lo && cs < hi) &&
        !((cs == lo || cs == hi) && m % 2 == 0))
      continue;                          /* strtod would not give x */
    if (c == pow10_u64[k]) {             /* 9.99 -> 10.0 */
      c /= 10;
      e++;
    }
    for (int j = k - 1; j >= 0; j--) {
      d[j] = (char)('0' + c % 10);
      c /= 10;
    }
    *prec = k;
    *exp10 = e;
    return 1;
  }
  return 0;
}
#else
/* No 128-bit integers: printf does it all. */
static int shortest_exact(double x, char *d, int *prec, int *exp10)
{
  (void)x;
  (void)d;
  (void)prec;
  (void)exp10;
  return 0;
}
#endif

size_t rp_json_format_double(char *s, size_t size, double x,
                             const struct rp_json_decpoint *dp)
{
  char d[41];
  char cand[48];
  int neg = signbit(x) != 0;
  int exp10;
  int prec;
  int n;
  size_t len;
  (void)dp;                 /* the text below never holds a decimal point */
  if (x == 0) {
    snprintf(s, size, "%s", neg ? "-0.0" : "0.0");
    return strlen(s);
  }
  if (!shortest_exact(fabs(x), d, &prec, &exp10))
    shortest_by_printf(fabs(x), d, &prec, &exp10);
  n = prec;
  while (n > 1 && d[n - 1] == '0')
    n--;
  len = put_g(cand, neg, d, n, exp10, prec);
  if (!memchr(cand, '.', len) && !memchr(cand, 'e', len)) {
    memcpy(cand + len, ".0", 3);
    len += 2;
  }
  if (len >= size)
    len = size - 1;
  memcpy(s, cand, len);
  s[len] = '\0';
  return len;
}

/* ---- scanning ---- */

static const char *skip_ws(const char *p, const char *end)
{
  while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
    p++;
  return p;
}

int rp_json_unescape_char(char c)
{
  switch (c) {
  case '"':
  case '\\':
  case '/':
    return c;
  case 'b':
    return '\b';
  case 'f':
    return '\f';
  case 'n':
    return '\n';
  case 'r':
    return '\r';
  case 't':
    return '\t';
  default:
    return -1;
  }
}

long rp_json_hex4(const char *p, const char *end)
{
  long v = 0;
  int i;
  if (end - p < 4)
    return -1;
  for (i = 0; i < 4; i++) {
    char c = p[i];
    v <<= 4;
    if (c >= '0' && c <= '9')
      v |= c - '0';
    else if (c >= 'a' && c <= 'f')
      v |= c - 'a' + 10;
    else if (c >= 'A' && c <= 'F')
      v |= c - 'A' + 10;
    else
      return -1;
  }
  return v;
}

size_t rp_json_utf8_encode(char *u, unsigned long cp)
{
  if (cp < 0x80) {
    u[0] = (char)cp;
    return 1;
  }
  if (cp < 0x800) {
    u[0] = (char)(0xc0 | cp >> 6);
    u[1] = (char)(0x80 | (cp & 0x3f));
    return 2;
  }
  if (cp < 0x10000) {
    u[0] = (char)(0xe0 | cp >> 12);
    u[1] = (char)(0x80 | (cp >> 6 & 0x3f));
    u[2] = (char)(0x80 | (cp & 0x3f));
    return 3;
  }
  u[0] = (char)(0xf0 | cp >> 18);
  u[1] = (char)(0x80 | (cp >> 12 & 0x3f));
  u[2] = (char)(0x80 | (cp >> 6 & 0x3f));
  u[3] = (char)(0x80 | (cp & 0x3f));
  return 4;
}

long rp_json_u_escape(const char *p, const char *end, const char **next)
{
  long hi = rp_json_hex4(p + 2, end);
  long lo;
  const char *q = p + 6;                /* past \uXXXX */
  if (hi < 0 || (hi >= 0xdc00 && hi <= 0xdfff))
    return -1;
  if (hi >= 0xd800 && hi <= 0xdbff) {
    lo = end - q >= 2 && q[0] == '\\' && q[1] == 'u'
         ? rp_json_hex4(q + 2, end) : -1;
    if (lo < 0xdc00 || lo > 0xdfff)
      return -1;
    *next = q + 6;
    return 0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00);
  }
  *next = q;
  return hi;
}

_Static_assert(RP_JSON_MAX_DEPTH == 1000, "the refusal below names it");

/* A strict scan (rp_json_check): the first refusal of a rule the codec
 * keeps and the grammar does not, and where. NULL: a plain scan. */
struct strict {
  const char *why;
  const char *at;
};

/* Records a refusal; returns NULL for the scanner to pass up. */
static const char *refuse(struct strict *st, const char *at, const char *why)
{
  if (st && !st->why) {
    st->why = why;
    st->at = at;
  }
  return NULL;
}

/* p at '"': returns the byte after the closing quote, or NULL. Strict:
 * a \u escape must not be a lone surrogate. */
static const char *scan_string(const char *p, const char *end,
                               struct strict *st)
{
  p++;
  while (p < end) {
    unsigned char c;
    p = rp_json_skip_plain(p, end, 0);
    if (p == end)
      break;
    c = (unsigned char)*p;
    if (c == '"')
      return p + 1;
    if (c != '\\' || ++p >= end)
      return NULL;                      /* a control byte, or cut short */
    if (*p == 'u') {
      if (rp_json_hex4(p + 1, end) < 0)
        return NULL;
      if (st) {
        const char *next;
        if (rp_json_u_escape(p - 1, end, &next) < 0)
          return refuse(st, p - 1, "lone UTF-16 surrogate in a \\u escape");
        p = next - 1;
      } else {
        p += 4;
      }
    } else if (rp_json_unescape_char(*p) < 0) {
      return NULL;
    }
    p++;
  }
  return NULL;
}

static const char *scan_digits(const char *p, const char *end)
{
  const char *s = p;
  while (p < end && *p >= '0' && *p <= '9')
    p++;
  return p > s ? p : NULL;
}

/* Returns the end of the JSON number at p, or NULL; *whole says whether
 * it has neither fraction nor exponent. */
static const char *scan_number(const char *p, const char *end, int *whole)
{
  *whole = 1;
  if (p < end && *p == '-')
    p++;
  if (p < end && *p == '0')
    p++;
  else
    p = scan_digits(p, end);
  if (p && p < end && *p == '.') {
    *whole = 0;
    p = scan_digits(p + 1, end);
  }
  if (p && p < end && (*p == 'e' || *p == 'E')) {
    *whole = 0;
    p++;
    if (p < end && (*p == '+' || *p == '-'))
      p++;
    p = scan_digits(p, end);
  }
  return p;
}

/* Strict: whether the number s[0..n) is one the codec reads. An integer
 * (no fraction, no exponent) always is: beyond int64 the codec keeps its
 * digits. Any other number goes through strtod, as in the codec, which
 * overflows to infinity past the double range (1e400; 1e-400 reads as 0
 * and passes). */
static int number_fits(const char *s, size_t n, int whole)
{
  struct rp_json_span v = { s, n };
  double x;
  if (whole)
    return 1;
  return rp_json_number(v, &x) == RP_OK && !isinf(x);
}

/* Scans one JSON value at p (no leading space) inside 'depth' open
 * containers, 'limit' containers at most; returns its end or NULL. st:
 * see struct strict. */
static const char *scan_value(const char *p, const char *end, int depth,
                              int limit, struct strict *st)
{
  const char *q;
  int whole;
  if (p >= end)
    return NULL;
  switch (*p) {
  case '"':
    return scan_string(p, end, st);
  case '{':
  case '[': {
    char close = *p == '{' ? '}' : ']';
    int object = *p == '{';
    if (depth >= limit)
      return refuse(st, p, "nesting deeper than 1000");
    p = skip_ws(p + 1, end);
    if (p < end && *p == close)
      return p + 1;
    for (;;) {
      if (object) {
        if (p >= end || *p != '"')
          return NULL;
        p = scan_string(p, end, st);
        if (!p)
          return NULL;
        p = skip_ws(p, end);
        if (p >= end || *p != ':')
          return NULL;
        p = skip_ws(p + 1, end);
      }
      p = scan_value(p, end, depth + 1, limit, st);
      if (!p)
        return NULL;
      p = skip_ws(p, end);
      if (p < end && *p == ',') {
        p = skip_ws(p + 1, end);
        continue;
      }
      if (p < end && *p == close)
        return p + 1;
      return NULL;
    }
  }
  case 't':
    return end - p >= 4 && memcmp(p, "true", 4) == 0 ? p + 4 : NULL;
  case 'f':
    return end - p >= 5 && memcmp(p, "false", 5) == 0 ? p + 5 : NULL;
  case 'n':
    return end - p >= 4 && memcmp(p, "null", 4) == 0 ? p + 4 : NULL;
  default:
    q = scan_number(p, end, &whole);
    if (q && st && !number_fits(p, (size_t)(q - p), whole))
      return refuse(st, p, "number out of range");
    return q;
  }
}

int rp_json_valid(const char *s, size_t n)
{
  const char *end = s + n;
  const char *p = scan_value(skip_ws(s, end), end, 0, RP_JSON_MAX_DEPTH,
                             NULL);
  return p && skip_ws(p, end) == end;
}

size_t rp_json_scan(const char *s, size_t n, int depth)
{
  const char *p = scan_value(s, s + n, 0, depth, NULL);
  return p ? (size_t)(p - s) : 0;
}

const char *rp_json_skip_ws(const char *s, const char *end)
{
  return skip_ws(s, end);
}

int rp_json_check(const char *s, size_t n, char *err, size_t errlen)
{
  struct strict st = { NULL, NULL };
  const char *end = s + n;
  const char *p = scan_value(skip_ws(s, end), end, 0, RP_JSON_MAX_DEPTH,
                             &st);
  if (p && skip_ws(p, end) == end)
    return RP_OK;
  if (st.why)
    return rp_fail(RP_EINVAL, err, errlen, "%s at byte %zu", st.why,
                   (size_t)(st.at - s));
  return rp_fail(RP_EJSON, err, errlen, "not valid JSON");
}

enum rp_json_kind rp_json_kind(struct rp_json_span v)
{
  if (v.n == 0)
    return RP_JSON_NONE;
  switch (v.p[0]) {
  case 'n':
    return RP_JSON_NULL;
  case 'f':
    return RP_JSON_FALSE;
  case 't':
    return RP_JSON_TRUE;
  case '"':
    return RP_JSON_STRING;
  case '[':
    return RP_JSON_ARRAY;
  case '{':
    return RP_JSON_OBJECT;
  default:
    return v.p[0] == '-' || (v.p[0] >= '0' && v.p[0] <= '9')
           ? RP_JSON_NUMBER : RP_JSON_NONE;
  }
}

/* Walks the container text s[0..n) opening with 'open': checks it, then
 * calls fn (object members) or efn (array elements) for each entry. */
static int each(const char *s, size_t n, char open, rp_json_member_fn fn,
                rp_json_element_fn efn, void *ud)
{
  const char *end = s + n;
  const char *p = skip_ws(s, end);
  if (p >= end || *p != open || !rp_json_valid(s, n))
    return RP_EJSON;
  p = skip_ws(p + 1, end);
  while (p < end && *p != (open == '{' ? '}' : ']')) {
    char key[RP_JSON_MAX_KEY];
    struct rp_json_span k = { p, 0 };
    struct rp_json_span v;
    struct rp_json_span m;
    int rc;
    if (open == '{') {
      p = scan_string(p, end, NULL);
      k.n = (size_t)(p - k.p);
      if (rp_json_string(k, key, sizeof(key)) != RP_OK)
        key[0] = '\0';
      p = skip_ws(skip_ws(p, end) + 1, end);     /* past ':' */
    }
    v.p = p;
    p = scan_value(p, end, 1, RP_JSON_MAX_DEPTH, NULL);
    v.n = (size_t)(p - v.p);
    m.p = k.p;
    m.n = (size_t)(p - k.p);
    rc = fn ? fn(ud, key, v, m) : efn(ud, v);
    if (rc != 0)
      return rc;
    p = skip_ws(p, end);
    if (*p == ',')
      p = skip_ws(p + 1, end);
  }
  return 0;
}

int rp_json_each_member(const char *s, size_t n, rp_json_member_fn fn,
                        void *ud)
{
  return each(s, n, '{', fn, NULL, ud);
}

int rp_json_each_element(const char *s, size_t n, rp_json_element_fn fn,
                         void *ud)
{
  return each(s, n, '[', NULL, fn, ud);
}

struct find {
  const char *name;
  struct rp_json_span val;
  int found;
};

static int find_cb(void *ud, const char *key, struct rp_json_span val,
                   struct rp_json_span m)
{
  struct find *f = ud;
  (void)m;
  if (strcmp(key, f->name) == 0) {
    f->val = val;          /* duplicates: the last one wins */
    f->found = 1;
  }
  return 0;
}

int rp_json_member(const char *s, size_t n, const char *name,
                   struct rp_json_span *val)
{
  struct find f = { name, { NULL, 0 }, 0 };
  int rc = rp_json_each_member(s, n, find_cb, &f);
  if (rc != 0)
    return rc;
  if (f.found)
    *val = f.val;
  return f.found;
}

/* Decodes the JSON string v into out[cap], NUL-terminated, its length in
 * *len; \u0000 is RP_EJSON unless 'nul' is set. */
static int decode_string(struct rp_json_span v, char *out, size_t cap,
                         size_t *len, int nul)
{
  const char *p = v.p + 1;
  const char *end = v.p + v.n - 1;    /* the closing quote */
  size_t n = 0;
  if (v.n < 2 || v.p[0] != '"' || scan_string(v.p, v.p + v.n, NULL) != v.p + v.n)
    return RP_EJSON;
  while (p < end) {
    char u[4];
    size_t k = 1;
    unsigned long cp;
    if (*p != '\\') {
      u[0] = *p;
    } else if (*++p != 'u') {
      u[0] = (char)rp_json_unescape_char(*p);
    } else {
      cp = (unsigned long)rp_json_hex4(p + 1, end);
      p += 4;
      if (cp >= 0xd800 && cp < 0xdc00 && end - p >= 7 && p[1] == '\\' &&
          p[2] == 'u') {
        unsigned long lo = (unsigned long)rp_json_hex4(p + 3, end);
        if (lo >= 0xdc00 && lo < 0xe000) {
          cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
          p += 6;
        }
      }
      if (cp == 0 && !nul)
        return RP_EJSON;
      if (cp >= 0xd800 && cp < 0xe000)
        cp = 0xfffd;                  /* a lone surrogate */
      k = rp_json_utf8_encode(u, cp);
    }
    p++;
    if (cap - n <= k)                 /* and the NUL */
      return RP_ETOOBIG;
    memcpy(out + n, u, k);
    n += k;
  }
  if (cap == 0)
    return RP_ETOOBIG;
  out[n] = '\0';
  *len = n;
  return RP_OK;
}

int rp_json_string(struct rp_json_span v, char *out, size_t cap)
{
  size_t n;
  return decode_string(v, out, cap, &n, 0);
}

int rp_json_string_dup(struct rp_json_span v, char **out, size_t *len)
{
  /* Decoding never lengthens: an escape of 6 bytes gives at most 3, a
   * pair of 12 gives 4. */
  char *s = malloc(v.n + 1);
  int rc;
  *out = NULL;
  if (!s)
    return RP_ENOMEM;
  rc = decode_string(v, s, v.n + 1, len, 1);
  if (rc != RP_OK) {
    free(s);
    return rc == RP_ETOOBIG ? RP_EJSON : rc;
  }
  *out = s;
  return RP_OK;
}

int rp_json_number(struct rp_json_span v, double *out)
{
  struct rp_json_decpoint dp;
  char small[80];
  char *text = small;
  size_t i;
  size_t j = 0;
  int whole;
  if (v.n == 0 || scan_number(v.p, v.p + v.n, &whole) != v.p + v.n)
    return RP_EJSON;
  rp_json_decpoint_get(&dp);
  /* There is at most one '.', which becomes the locale's decimal point. */
  if (v.n + dp.len + 1 > sizeof(small)) {
    text = malloc(v.n + dp.len + 1);
    if (!text)
      return RP_ENOMEM;
  }
  for (i = 0; i < v.n; i++) {
    if (v.p[i] == '.') {
      memcpy(text + j, dp.s, dp.len);
      j += dp.len;
    } else {
      text[j++] = v.p[i];
    }
  }
  text[j] = '\0';
  *out = strtod(text, NULL);
  if (text != small)
    free(text);
  return RP_OK;
}

int rp_json_integer(struct rp_json_span v, long long *out)
{
  const char *p = v.p;
  const char *end = v.p + v.n;
  unsigned long long u = 0;
  unsigned long long limit;
  int neg;
  int whole;
  if (v.n == 0 || scan_number(p, end, &whole) != end)
    return RP_EJSON;
  if (!whole)
    return RP_EINVAL;
  neg = *p == '-';
  limit = neg ? (unsigned long long)INT64_MAX + 1 : INT64_MAX;
  for (p += neg; p < end; p++) {
    unsigned dig = (unsigned)(*p - '0');
    if (u > (limit - dig) / 10)
      return RP_EINVAL;
    u = u * 10 + dig;
  }
  if (neg && u > 0)
    *out = -(long long)(u - 1) - 1;
  else
    *out = (long long)u;
  return RP_OK;
}

int rp_json_bool(struct rp_json_span v, int *out)
{
  if (v.n == 4 && memcmp(v.p, "true", 4) == 0)
    *out = 1;
  else if (v.n == 5 && memcmp(v.p, "false", 5) == 0)
    *out = 0;
  else
    return RP_EJSON;
  return RP_OK;
}
