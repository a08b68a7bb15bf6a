/*
 * bytes.h - byte buffers and the binary-to-text codecs of runpod.buffer,
 * runpod.base64 and runpod.hex.
 *
 * Plain C: no lua_State. A buffer allocates through a function with the
 * signature of lua_Alloc, so that the binding can charge buffers to the
 * memory budget of the lua_State that owns them (see STYLE.md, "Each
 * lua_State gets its own allocator"), while the unit tests use malloc.
 *
 * Codecs:
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
#ifndef RP_BYTES_H
#define RP_BYTES_H

#include <stddef.h>

/* The largest buffer, and the largest codec output, in bytes (1 GiB). */
#define RP_BYTES_MAX ((size_t)1 << 30)

/* lua_Alloc's contract: nsize 0 frees ptr and returns NULL; otherwise
 * returns a block of nsize bytes holding the first min(osize, nsize) bytes
 * of ptr, or NULL (ptr untouched) on failure. */
typedef void *(*rp_bytes_alloc)(void *ud, void *ptr, size_t osize,
                                size_t nsize);

/* The first three fields are the public layout of struct runpod_buffer in
 * runpod.h (after its version field); lbuffer.c checks that they match.
 * data is NULL while cap is 0. */
struct rp_bytes {
  unsigned char *data;
  size_t len;           /* bytes in use */
  size_t cap;           /* bytes allocated */
  rp_bytes_alloc alloc;
  void *ud;
};

/* Sets up an empty buffer that allocates through alloc(ud, ...). */
void rp_bytes_init(struct rp_bytes *b, rp_bytes_alloc alloc, void *ud);

/* Makes room for 'extra' more bytes (growing by at least half the current
 * capacity, so appends are amortised O(1)). Returns RP_OK, RP_ETOOBIG when
 * len + extra would pass RP_BYTES_MAX, or RP_ENOMEM; the contents are kept
 * on failure. */
int rp_bytes_reserve(struct rp_bytes *b, size_t extra);

/* Appends n bytes from p; p may point into b itself. Same returns as
 * rp_bytes_reserve. */
int rp_bytes_append(struct rp_bytes *b, const void *p, size_t n);

/* Releases the memory; b is empty and reusable afterwards. Accepts NULL and
 * may be called twice. */
void rp_bytes_free(struct rp_bytes *b);

/* Stores in *out the length of the base64 encoding of n bytes. Returns
 * RP_OK, or RP_ETOOBIG when it would pass RP_BYTES_MAX. */
int rp_base64_encoded_len(size_t n, size_t *out);

/* Writes the base64 encoding of src[0..n) to dst, which must hold
 * rp_base64_encoded_len(n) bytes (no terminator is written). */
void rp_base64_encode(const void *src, size_t n, char *dst);

/* Decodes src[0..n) into dst, which must hold n / 4 * 3 bytes, and stores
 * the decoded length in *outlen. Returns RP_OK, or RP_EINVAL with the
 * 0-based offset of the first offending byte in *errpos. */
int rp_base64_decode(const char *src, size_t n, unsigned char *dst,
                     size_t *outlen, size_t *errpos);

/* Stores in *out 2 * n. Returns RP_OK, or RP_ETOOBIG past RP_BYTES_MAX. */
int rp_hex_encoded_len(size_t n, size_t *out);

/* Writes the lowercase hex of src[0..n) to dst (2 * n bytes). */
void rp_hex_encode(const void *src, size_t n, char *dst);

/* Decodes src[0..n) into dst (n / 2 bytes). Returns RP_OK, or RP_EINVAL
 * with the 0-based offset of the first offending byte in *errpos. */
int rp_hex_decode(const char *src, size_t n, unsigned char *dst,
                  size_t *errpos);

#endif
