/*
 * buf.h - a growable byte buffer with a size cap.
 *
 * Used wherever bytes accumulate: JSON encoding, HTTP bodies, log lines.
 * The cap ('max') is checked before every growth, so a buffer fed by the
 * network can never grow past the limit its owner named. Lengths are size_t
 * and every size computation is checked for overflow.
 */
#ifndef RP_BUF_H
#define RP_BUF_H

#include <stddef.h>

struct rp_buf {
  char *data;   /* NUL-terminated when data != NULL */
  size_t len;   /* bytes in use, not counting the terminator */
  size_t cap;   /* bytes allocated */
  size_t max;   /* the largest len allowed */
};

#define RP_BUF_INIT(maxlen) { NULL, 0, 0, (maxlen) }

/* Makes room for 'extra' more bytes (plus the terminator). Returns RP_OK,
 * RP_ETOOBIG when len + extra would pass max, or RP_ENOMEM. */
int rp_buf_reserve(struct rp_buf *b, size_t extra);

/* Appends n bytes; same returns as rp_buf_reserve. */
int rp_buf_append(struct rp_buf *b, const void *p, size_t n);

/* Appends a NUL-terminated string. */
int rp_buf_puts(struct rp_buf *b, const char *s);

/* Appends printf-style text. */
int rp_buf_printf(struct rp_buf *b, const char *fmt, ...)
  __attribute__((format(printf, 2, 3)));

/* Forgets the contents but keeps the memory. */
void rp_buf_clear(struct rp_buf *b);

/* Releases the memory; the buffer is empty and reusable afterwards.
 * Accepts NULL. */
void rp_buf_free(struct rp_buf *b);

/* Hands the bytes to the caller, who frees them with free(); the buffer is
 * left empty. Returns an empty string (still to be freed) when nothing was
 * appended, or NULL when that allocation fails. */
char *rp_buf_steal(struct rp_buf *b, size_t *len);

#endif
