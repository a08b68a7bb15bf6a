/*
 * buf.h - the runtime's one growable byte buffer, with a size cap.
 *
 * Used wherever bytes accumulate: JSON encoding, HTTP bodies, log lines,
 * and runpod.Buffer (lua/lbuffer.c). The cap ('max') is checked before
 * every growth, so a buffer fed by the network can never grow past the
 * limit its owner named. Lengths are size_t and every size computation is
 * checked for overflow. Capacity grows by half (at least 64 bytes), so
 * appends are amortised O(1).
 *
 * Memory comes from realloc/free, or from a function with lua_Alloc's
 * contract given to rp_buf_init_alloc, so that a binding can charge a
 * buffer to the memory budget of the lua_State that owns it (STYLE.md,
 * "Each lua_State gets its own allocator"). Plain C: no lua_State.
 */
#ifndef RP_BUF_H
#define RP_BUF_H

#include <stddef.h>

/* lua_Alloc's contract: nsize 0 frees ptr and returns NULL; otherwise
 * returns a block of nsize bytes holding the first min(osize, nsize) bytes
 * of ptr, or NULL (ptr untouched) on failure. */
typedef void *(*rp_buf_alloc)(void *ud, void *ptr, size_t osize,
                              size_t nsize);

/* The first three fields are also the public layout of struct
 * runpod_buffer in runpod.h (after its version field); lbuffer.c checks
 * that they match, so their order and types stay. */
struct rp_buf {
  char *data;   /* NUL-terminated when data != NULL; NULL while cap is 0 */
  size_t len;   /* bytes in use, not counting the terminator */
  size_t cap;   /* bytes allocated, the terminator's byte included */
  size_t max;   /* the largest len allowed */
  rp_buf_alloc alloc;  /* NULL: realloc and free */
  void *ud;            /* alloc's first argument */
};

#define RP_BUF_INIT(maxlen) { NULL, 0, 0, (maxlen), NULL, NULL }

/* Sets up an empty buffer of at most max bytes that allocates through
 * alloc(ud, ...). */
void rp_buf_init_alloc(struct rp_buf *b, size_t max, rp_buf_alloc alloc,
                       void *ud);

/* Makes room for 'extra' more bytes (plus the terminator). Returns RP_OK,
 * RP_ETOOBIG when len + extra would pass max, or RP_ENOMEM; the contents
 * are kept on failure. */
int rp_buf_reserve(struct rp_buf *b, size_t extra);

/* Appends n bytes; p may point into b itself. Same returns as
 * rp_buf_reserve. */
int rp_buf_append(struct rp_buf *b, const void *p, size_t n);

/* Sets len to n after the caller wrote data[0..n) itself (after a
 * rp_buf_reserve), and writes the terminator. n < cap. */
void rp_buf_set_len(struct rp_buf *b, size_t n);

/* Appends a NUL-terminated string. */
int rp_buf_puts(struct rp_buf *b, const char *s);

/* Appends printf-style text. */
int rp_buf_printf(struct rp_buf *b, const char *fmt, ...)
  __attribute__((format(printf, 2, 3)));

/* Forgets the contents but keeps the memory. */
void rp_buf_clear(struct rp_buf *b);

/* Releases the memory; the buffer is empty and reusable afterwards.
 * Accepts NULL and may be called twice. */
void rp_buf_free(struct rp_buf *b);

/* Hands the bytes to the caller, who frees them with free(); the buffer is
 * left empty. Returns an empty string (still to be freed) when nothing was
 * appended, or NULL when that allocation fails. Only for a buffer without
 * an allocator of its own (RP_BUF_INIT). */
char *rp_buf_steal(struct rp_buf *b, size_t *len);

#endif
