/*
 * codec.h - the binary-to-text codecs of runpod.buffer, runpod.base64 and
 * runpod.hex. Plain C: no lua_State, no allocation; the caller sizes the
 * output with the *_encoded_len functions, or as each decoder says.
 *
 * - base64: RFC 4648 section 4, standard alphabet. Encoding always pads.
 *   Decoding wants canonical input: a length that is a multiple of 4,
 *   padding ('=') only as the last one or two characters, zero unused bits
 *   in the last character, and no whitespace or other characters. Anything
 *   else is an error at a 0-based byte offset, never a silent skip.
 * - hex: encoding writes lowercase; decoding takes either case and wants an
 *   even length.
 * Offsets in errors are 0-based, like the JSON codec's. For a truncated
 * last group the offset is where that group starts.
 */
#ifndef RP_CODEC_H
#define RP_CODEC_H

#include <stddef.h>

/* The largest codec output, in bytes (1 GiB); also the cap of a
 * runpod.Buffer, which holds any codec's output. */
#define RP_CODEC_MAX ((size_t)1 << 30)

/* Stores in *out the length of the base64 encoding of n bytes. Returns
 * RP_OK, or RP_ETOOBIG when it would pass RP_CODEC_MAX. */
int rp_base64_encoded_len(size_t n, size_t *out);

/* Writes the base64 encoding of src[0..n) to dst, which must hold
 * rp_base64_encoded_len(n) bytes (no terminator is written). */
void rp_base64_encode(const void *src, size_t n, char *dst);

/* Decodes src[0..n) into dst, which must hold n / 4 * 3 bytes, and stores
 * the decoded length in *outlen. Returns RP_OK, or RP_EINVAL with the
 * 0-based offset of the first offending byte in *errpos. */
int rp_base64_decode(const char *src, size_t n, unsigned char *dst,
                     size_t *outlen, size_t *errpos);

/* Stores in *out 2 * n. Returns RP_OK, or RP_ETOOBIG past RP_CODEC_MAX. */
int rp_hex_encoded_len(size_t n, size_t *out);

/* Writes the lowercase hex of src[0..n) to dst (2 * n bytes). */
void rp_hex_encode(const void *src, size_t n, char *dst);

/* Decodes src[0..n) into dst (n / 2 bytes). Returns RP_OK, or RP_EINVAL
 * with the 0-based offset of the first offending byte in *errpos. */
int rp_hex_decode(const char *src, size_t n, unsigned char *dst,
                  size_t *errpos);

#endif
