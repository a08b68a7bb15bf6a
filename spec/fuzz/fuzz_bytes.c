/*
 * spec/fuzz/fuzz_bytes.c - libFuzzer target: the base64 and hex decoders
 * of runtime/base/codec.c (runpod.base64.decode, runpod.hex.decode) on any
 * bytes, and the round trips through their encoders. The first byte picks
 * the codec (even: base64, odd: hex); the rest is the text to decode.
 * Decoding must not crash, read or write out of bounds, or report an
 * error offset past the input; what decodes must encode back to the same
 * text (base64 is canonical; hex compares case-insensitively), and any
 * bytes must encode and decode back to themselves.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/codec.h"
#include "base/rp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void *xmalloc(size_t n)
{
  void *p = malloc(n ? n : 1);
  if (!p)
    abort();
  return p;
}

static void check_base64(const char *src, size_t n)
{
  /* Exactly the size codec.h asks for, so ASan sees any overrun. */
  unsigned char *dst = xmalloc(n / 4 * 3);
  size_t len = 0;
  size_t pos = (size_t)-1;
  size_t elen;
  char *enc;
  if (rp_base64_decode(src, n, dst, &len, &pos) != RP_OK) {
    if (pos > n)
      abort();                 /* an offset past the input */
    free(dst);
    return;
  }
  if (len > n / 4 * 3 || rp_base64_encoded_len(len, &elen) != RP_OK ||
      elen != n)
    abort();
  enc = xmalloc(elen);
  rp_base64_encode(dst, len, enc);
  if (memcmp(enc, src, n) != 0)
    abort();                   /* canonical input encodes back to itself */
  free(enc);
  free(dst);
}

static void check_hex(const char *src, size_t n)
{
  unsigned char *dst = xmalloc(n / 2);
  size_t pos = (size_t)-1;
  size_t elen;
  char *enc;
  if (rp_hex_decode(src, n, dst, &pos) != RP_OK) {
    if (pos > n)
      abort();
    free(dst);
    return;
  }
  if (rp_hex_encoded_len(n / 2, &elen) != RP_OK || elen != n)
    abort();
  enc = xmalloc(elen);
  rp_hex_encode(dst, n / 2, enc);
  for (size_t i = 0; i < n; i++)
    if (enc[i] != tolower((unsigned char)src[i]))
      abort();
  free(enc);
  free(dst);
}

/* Any bytes encode, and decode back to themselves. */
static void round_trip(const uint8_t *p, size_t n)
{
  size_t elen;
  size_t len = 0;
  size_t pos = 0;
  char *enc;
  unsigned char *dec;
  if (rp_base64_encoded_len(n, &elen) != RP_OK)
    abort();
  enc = xmalloc(elen);
  rp_base64_encode(p, n, enc);
  dec = xmalloc(elen / 4 * 3);
  if (rp_base64_decode(enc, elen, dec, &len, &pos) != RP_OK || len != n ||
      memcmp(dec, p, n) != 0)
    abort();
  free(enc);
  free(dec);
  if (rp_hex_encoded_len(n, &elen) != RP_OK)
    abort();
  enc = xmalloc(elen);
  rp_hex_encode(p, n, enc);
  dec = xmalloc(n);
  if (rp_hex_decode(enc, elen, dec, &pos) != RP_OK || memcmp(dec, p, n) != 0)
    abort();
  free(enc);
  free(dec);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  const char *src;
  char *copy;
  if (size == 0)
    return 0;
  /* A heap copy of exactly the text, so reads past it are caught. */
  copy = xmalloc(size - 1);
  memcpy(copy, data + 1, size - 1);
  src = copy;
  if (data[0] & 1)
    check_hex(src, size - 1);
  else
    check_base64(src, size - 1);
  round_trip(data + 1, size - 1);
  free(copy);
  return 0;
}
