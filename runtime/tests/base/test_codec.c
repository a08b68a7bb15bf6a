/*
 * test_codec.c - unit tests of codec.c: base64 (RFC 4648 vectors,
 * strictness), hex, and the output caps.
 */
#include <stdlib.h>
#include <string.h>

#include "base/codec.h"
#include "tests/check.h"
#include "base/rp.h"

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
  CHECK_INT(RP_OK, rp_base64_encoded_len(RP_CODEC_MAX / 4 * 3, &out));
  CHECK_INT(RP_CODEC_MAX, out);
  CHECK_INT(RP_ETOOBIG, rp_base64_encoded_len(RP_CODEC_MAX / 4 * 3 + 1,
                                              &out));
  CHECK_INT(RP_ETOOBIG, rp_base64_encoded_len((size_t)-1, &out));
  CHECK_INT(RP_ETOOBIG, rp_hex_encoded_len(RP_CODEC_MAX / 2 + 1, &out));
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
  RUN(test_base64_rfc4648_vectors);
  RUN(test_base64_rejects);
  RUN(test_hex);
  RUN(test_encoded_len_caps);
  RUN(test_random_roundtrip);
  return check_summary();
}
