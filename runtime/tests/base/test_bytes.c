/*
 * test_bytes.c - unit tests of bytes.c: buffer growth, caps and allocation
 * failures, base64 (RFC 4648 vectors, strictness) and hex.
 */
#include <stdlib.h>
#include <string.h>

#include "base/bytes.h"
#include "tests/check.h"
#include "base/rp.h"

/* An allocator that fails once 'left' allocations have succeeded
 * (left < 0: never fails), and counts the live blocks. */
struct counting {
  int left;
  int live;
};

static void *test_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
  struct counting *c = ud;
  void *p;
  (void)osize;
  if (nsize == 0) {
    if (ptr)
      c->live--;
    free(ptr);
    return NULL;
  }
  if (c->left == 0)
    return NULL;
  if (c->left > 0)
    c->left--;
  p = realloc(ptr, nsize);
  if (p && !ptr)
    c->live++;
  return p;
}

static void test_append_grows(void)
{
  struct counting c = { -1, 0 };
  struct rp_bytes b;
  rp_bytes_init(&b, test_alloc, &c);
  for (int i = 0; i < 1000; i++)
    CHECK_INT(RP_OK, rp_bytes_append(&b, "abc", 3));
  CHECK_INT(3000, b.len);
  CHECK(b.cap >= b.len);
  CHECK(memcmp(b.data + 2997, "abc", 3) == 0);
  rp_bytes_free(&b);
  rp_bytes_free(&b);                 /* idempotent */
  CHECK_INT(0, c.live);
  CHECK(!b.data);
}

static void test_append_self(void)
{
  struct counting c = { -1, 0 };
  struct rp_bytes b;
  rp_bytes_init(&b, test_alloc, &c);
  CHECK_INT(RP_OK, rp_bytes_append(&b, "0123456789", 10));
  for (int i = 0; i < 6; i++)        /* each doubling moves the data */
    CHECK_INT(RP_OK, rp_bytes_append(&b, b.data, b.len));
  CHECK_INT(640, b.len);
  CHECK(memcmp(b.data + 630, "0123456789", 10) == 0);
  rp_bytes_free(&b);
  CHECK_INT(0, c.live);
}

static void test_reserve_cap(void)
{
  struct counting c = { -1, 0 };
  struct rp_bytes b;
  rp_bytes_init(&b, test_alloc, &c);
  CHECK_INT(RP_ETOOBIG, rp_bytes_reserve(&b, RP_BYTES_MAX + 1));
  CHECK_INT(RP_ETOOBIG, rp_bytes_reserve(&b, (size_t)-1));
  CHECK_INT(RP_OK, rp_bytes_append(&b, "x", 1));
  CHECK_INT(RP_ETOOBIG, rp_bytes_reserve(&b, RP_BYTES_MAX));
  CHECK_INT(1, b.len);
  rp_bytes_free(&b);
  CHECK_INT(0, c.live);
}

static void test_alloc_failure_keeps_contents(void)
{
  struct counting c = { 1, 0 };
  struct rp_bytes b;
  rp_bytes_init(&b, test_alloc, &c);
  CHECK_INT(RP_OK, rp_bytes_append(&b, "hello", 5));
  CHECK_INT(RP_ENOMEM, rp_bytes_reserve(&b, 1000));
  CHECK_INT(5, b.len);
  CHECK(memcmp(b.data, "hello", 5) == 0);
  rp_bytes_free(&b);
  CHECK_INT(0, c.live);
}

/* Encodes s and compares with want, then decodes want back to s. */
static void roundtrip64(const char *s, const char *want)
{
  char enc[64];
  unsigned char dec[64];
  size_t n = strlen(s);
  size_t out = 0;
  size_t pos = 99;
  CHECK_INT(RP_OK, rp_base64_encoded_len(n, &out));
  CHECK_INT(strlen(want), out);
  rp_base64_encode(s, n, enc);
  enc[out] = '\0';
  CHECK_STR(want, enc);
  CHECK_INT(RP_OK, rp_base64_decode(want, strlen(want), dec, &out, &pos));
  dec[out] = '\0';
  CHECK_STR(s, (char *)dec);
}

static void test_base64_rfc4648_vectors(void)
{
  roundtrip64("", "");
  roundtrip64("f", "Zg==");
  roundtrip64("fo", "Zm8=");
  roundtrip64("foo", "Zm9v");
  roundtrip64("foob", "Zm9vYg==");
  roundtrip64("fooba", "Zm9vYmE=");
  roundtrip64("foobar", "Zm9vYmFy");
}

/* Decoding s fails at byte offset want. */
static void bad64(const char *s, long long want)
{
  unsigned char dec[64];
  size_t out = 0;
  size_t pos = 99;
  CHECK_INT(RP_EINVAL, rp_base64_decode(s, strlen(s), dec, &out, &pos));
  CHECK_INT(want, pos);
}

static void test_base64_rejects(void)
{
  bad64("Zg", 0);            /* no padding */
  bad64("Zm9vYg", 4);        /* truncated last group */
  bad64("Zm9v\nYmFy", 4);    /* whitespace */
  bad64("Zm9v YmFy", 4);
  bad64("Zm9-", 3);          /* URL-safe alphabet is not base64 */
  bad64("Z===", 1);          /* padding too early */
  bad64("Zg=A", 3);
  bad64("Zh==", 1);          /* non-zero unused bits */
  bad64("Zm9=", 2);
  bad64("Zg==Zm9v", 2);      /* padding in the middle */
  bad64("====", 0);
}

static void test_hex(void)
{
  unsigned char dec[8];
  char enc[16];
  size_t pos = 99;
  rp_hex_encode("\x00\xab\xff", 3, enc);
  CHECK(memcmp("00abff", enc, 6) == 0);
  CHECK_INT(RP_OK, rp_hex_decode("00AbfF", 6, dec, &pos));
  CHECK(memcmp("\x00\xab\xff", dec, 3) == 0);
  CHECK_INT(RP_EINVAL, rp_hex_decode("0g", 2, dec, &pos));
  CHECK_INT(1, pos);
  CHECK_INT(RP_EINVAL, rp_hex_decode("abc", 3, dec, &pos));
  CHECK_INT(2, pos);
  CHECK_INT(RP_EINVAL, rp_hex_decode("x0", 2, dec, &pos));
  CHECK_INT(0, pos);
}

static void test_encoded_len_caps(void)
{
  size_t out = 0;
  CHECK_INT(RP_OK, rp_base64_encoded_len(RP_BYTES_MAX / 4 * 3, &out));
  CHECK_INT(RP_BYTES_MAX, out);
  CHECK_INT(RP_ETOOBIG, rp_base64_encoded_len(RP_BYTES_MAX / 4 * 3 + 1,
                                              &out));
  CHECK_INT(RP_ETOOBIG, rp_base64_encoded_len((size_t)-1, &out));
  CHECK_INT(RP_ETOOBIG, rp_hex_encoded_len(RP_BYTES_MAX / 2 + 1, &out));
}

/* Every byte value survives both codecs, at every length up to 300. */
static void test_random_roundtrip(void)
{
  unsigned char src[300];
  unsigned char dec[300];
  char enc[400];
  size_t out;
  size_t pos;
  srand(42);
  for (size_t n = 0; n <= sizeof(src); n++) {
    for (size_t i = 0; i < n; i++)
      src[i] = (unsigned char)rand();
    rp_base64_encoded_len(n, &out);
    rp_base64_encode(src, n, enc);
    CHECK_INT(RP_OK, rp_base64_decode(enc, out, dec, &out, &pos));
    CHECK_INT(n, out);
    CHECK(n == 0 || memcmp(src, dec, n) == 0);
    rp_hex_encode(src, n > 200 ? 200 : n, enc);
    CHECK_INT(RP_OK, rp_hex_decode(enc, 2 * (n > 200 ? 200 : n), dec, &pos));
    CHECK(n == 0 || memcmp(src, dec, n > 200 ? 200 : n) == 0);
  }
}

int main(void)
{
  RUN(test_append_grows);
  RUN(test_append_self);
  RUN(test_reserve_cap);
  RUN(test_alloc_failure_keeps_contents);
  RUN(test_base64_rfc4648_vectors);
  RUN(test_base64_rejects);
  RUN(test_hex);
  RUN(test_encoded_len_caps);
  RUN(test_random_roundtrip);
  return check_summary();
}
