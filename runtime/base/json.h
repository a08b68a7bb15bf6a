/*
 * json.h - JSON text without a Lua state: the one escaper that writes
 * JSON strings from C, and a validating scanner that walks a document in
 * place.
 *
 * The escaper is the codec's (lua/json.h): whatever C writes as a JSON
 * string (results, log lines, the emulator's answers) is escaped the same
 * way, and is always valid JSON whatever the bytes.
 *
 * The scanner reads raw JSON text and hands out borrowed slices of it
 * (struct rp_json_span): a member's value, an array's element, each as
 * the exact bytes of the document, so that nothing is decoded and
 * re-encoded on the way through. It accepts the RFC 8259 grammar with the
 * codec's nesting limit (RP_JSON_MAX_DEPTH containers). Two things the
 * grammar allows and the codec refuses are valid here: numbers beyond the
 * double range (1e400) and lone UTF-16 surrogates in \u escapes
 * (rp_json_string decodes them to U+FFFD). rp_json_check() is the same
 * scan with the codec's rules: whatever it accepts, the codec decodes.
 * Relies on buf.h and rp.h only.
 */
#ifndef RP_JSON_H
#define RP_JSON_H

#include <stddef.h>

#include "base/buf.h"

#define RP_JSON_MAX_DEPTH 1000  /* nesting limit, here and in the codec */
#define RP_JSON_MAX_KEY 64      /* keys rp_json_each_member decodes */

/* The class of each byte inside a JSON string: 1 must be escaped
 * (control characters, '"' and '\\'), 2 is not ASCII, 0 is copied as is.
 * For scanners that skip plain runs. */
extern const unsigned char rp_json_byte_class[256];

/* The first byte at or after p (up to end) of class 1 (to be escaped: a
 * control character, '"' or '\\'), or with ascii set of class 1 or 2 (not
 * ASCII); end when there is none. Eight bytes at a time: the loop of every
 * scanner that skips the plain bytes of a string. */
const char *rp_json_skip_plain(const char *p, const char *end, int ascii);

/* ---- writing ---- */

/* Appends s[0..n) as a quoted JSON string: '"' and '\\' escaped, the
 * control characters as \b \f \n \r \t or else \u00XX, valid UTF-8 copied
 * as it is (0x7f included), and each byte that does not start a valid
 * UTF-8 sequence (overlong forms and surrogates included) as \ufffd.
 * Returns RP_OK, or RP_ETOOBIG / RP_ENOMEM from the buffer (b may then
 * hold part of the string). */
int rp_json_put_string(struct rp_buf *b, const char *s, size_t n);

/* Same as rp_json_put_string without the surrounding quotes, for a string
 * written in pieces. A piece that ends inside a UTF-8 sequence gets
 * \ufffd for the bytes of it that it holds. */
int rp_json_put_chars(struct rp_buf *b, const char *s, size_t n);

/* The C locale's decimal point, which snprintf writes and strtod reads;
 * JSON always uses '.'. */
struct rp_json_decpoint {
  char s[8];
  size_t len;
  int dot;       /* it is "." and needs no translation */
};

/* Reads the current C locale's decimal point into *dp ("." when it is
 * empty or longer than 7 bytes). */
void rp_json_decpoint_get(struct rp_json_decpoint *dp);

/* Writes v in decimal into s (at least 21 bytes), NUL-terminated; returns
 * the length. */
size_t rp_json_format_int(char *s, long long v);

/* Writes the finite x into s[size >= 48] as the shortest of %.15g, %.16g
 * and %.17g that strtod reads back as x, with '.' as decimal point
 * whatever the locale (dp: from rp_json_decpoint_get) and ".0" appended
 * when it would read as an integer (5.0 -> "5.0"). Returns the length. */
size_t rp_json_format_double(char *s, size_t size, double x,
                             const struct rp_json_decpoint *dp);

/* ---- reading ---- */

/* A slice of a JSON text; borrowed from the text it was found in. */
struct rp_json_span {
  const char *p;
  size_t n;
};

/* What a value is, from its first byte (rp_json_kind). */
enum rp_json_kind {
  RP_JSON_NONE = 0,     /* empty, or no JSON value starts here */
  RP_JSON_NULL,
  RP_JSON_FALSE,
  RP_JSON_TRUE,
  RP_JSON_NUMBER,
  RP_JSON_STRING,
  RP_JSON_ARRAY,
  RP_JSON_OBJECT
};

/* Whether s[0..n) is exactly one JSON value, white space around it
 * allowed. */
int rp_json_valid(const char *s, size_t n);

/* The length of the one JSON value at the very start of s[0..n) (no
 * white space before it), nesting at most 'depth' containers, or 0 when
 * no valid value starts there. For a reader that walks a document itself
 * and must find where each value ends even when it nests deeper than the
 * codec allows. */
size_t rp_json_scan(const char *s, size_t n, int depth);

/* The first byte at or after s that is not JSON white space (end when
 * none is left). */
const char *rp_json_skip_ws(const char *s, const char *end);

/* Whether the codec (lua/json.h) decodes s[0..n): one JSON value (as
 * rp_json_valid) that also keeps the rules the scanner relaxes: no lone
 * UTF-16 surrogate in a \u escape (rp_json_u_escape) and no number that
 * overflows a double. The local API server checks a job with it before
 * queueing it, so that the worker can always decode what it takes.
 * Returns RP_OK; RP_EINVAL for JSON the codec refuses, with the refusal
 * in err, e.g. "number out of range at byte 9" (nesting past
 * RP_JSON_MAX_DEPTH included); RP_EJSON for text that is not JSON ("not
 * valid JSON"). */
int rp_json_check(const char *s, size_t n, char *err, size_t errlen);

/* The kind of the value v, read from its first byte only: meant for spans
 * the functions below return, which are valid values. */
enum rp_json_kind rp_json_kind(struct rp_json_span v);

/* Calls fn for each member of the JSON object text s[0..n) (white space
 * around it allowed), in document order, duplicates included, with the
 * decoded key ("" when the key is RP_JSON_MAX_KEY bytes or longer or holds
 * \u0000), the value and the whole member from the key's opening quote to
 * the value's end. The key is borrowed for the call. fn returns 0 to go
 * on; any other value stops the walk and is returned (use positive ones).
 * Returns 0 when every member was seen, or RP_EJSON when the text is not a
 * valid JSON object (then fn was not called). */
typedef int (*rp_json_member_fn)(void *ud, const char *key,
                                 struct rp_json_span val,
                                 struct rp_json_span member);
int rp_json_each_member(const char *s, size_t n, rp_json_member_fn fn,
                        void *ud);

/* Finds member 'name' of the JSON object text s[0..n); of duplicates the
 * last one wins, as in the codec. Returns 1 with *val set, 0 when absent,
 * or RP_EJSON when the text is not a valid JSON object. */
int rp_json_member(const char *s, size_t n, const char *name,
                   struct rp_json_span *val);

/* Calls fn for each element of the JSON array text s[0..n), in order,
 * with the same returns as rp_json_each_member. */
typedef int (*rp_json_element_fn)(void *ud, struct rp_json_span el);
int rp_json_each_element(const char *s, size_t n, rp_json_element_fn fn,
                         void *ud);

/* Pieces of string decoding, shared with the codec: */
/* The byte a one-character escape stands for (\" \\ \/ \b \f \n \r
 * \t: c is the character after the backslash), or -1. */
int rp_json_unescape_char(char c);
/* The value of the 4 hex digits at p (end: the end of the text), or -1
 * when there are fewer than 4 bytes or one is not a hex digit. */
long rp_json_hex4(const char *p, const char *end);
/* Reads the \u escape at p (its backslash; end: the end of the text) as
 * the codec does: a high surrogate must be followed by a \u low surrogate,
 * the pair giving one code point; a lone surrogate is refused. Returns the
 * code point with *next past the escape (or the pair), or -1. */
long rp_json_u_escape(const char *p, const char *end, const char **next);
/* The length of the valid UTF-8 sequence at p (p < end): 1 for ASCII,
 * 0 when p does not start one (overlong forms and surrogates are not
 * valid, nor a sequence cut by end). */
size_t rp_json_utf8_len(const char *p, const char *end);
/* The offset of the first byte of s[0..n) that does not start a valid
 * UTF-8 sequence (as rp_json_utf8_len reads them), or n: JSON text is
 * UTF-8 (RFC 8259), which the scanner does not check. */
size_t rp_json_utf8_bad(const char *s, size_t n);

/* Writes code point cp (<= 0x10ffff) as UTF-8 into u[4]; returns the
 * length. */
size_t rp_json_utf8_encode(char *u, unsigned long cp);

/* Decodes the JSON string value v into out (cap bytes), NUL-terminated:
 * escapes, surrogate pairs to UTF-8, lone surrogates to U+FFFD. Returns
 * RP_OK; RP_EJSON when v is not exactly one JSON string or holds \u0000
 * (out could not carry it); RP_ETOOBIG when it does not fit. */
int rp_json_string(struct rp_json_span v, char *out, size_t cap);

/* Decodes the JSON string value v as rp_json_string does, \u0000 kept
 * as a NUL byte, into a malloc'ed buffer: *out (NUL-terminated, freed
 * with free()) of *len bytes. Returns RP_OK, RP_EJSON when v is not
 * exactly one JSON string, or RP_ENOMEM. */
int rp_json_string_dup(struct rp_json_span v, char **out, size_t *len);

/* Reads the JSON number v (exactly the grammar, no white space) with
 * strtod, '.' read as the decimal point whatever the C locale; a number
 * beyond the double range gives +-HUGE_VAL. Returns RP_OK, RP_EJSON when
 * v is not a JSON number, or RP_ENOMEM. */
int rp_json_number(struct rp_json_span v, double *out);

/* Reads the JSON number v as the codec does an integer: no fraction, no
 * exponent, within int64 ("-0" is 0). Returns RP_OK; RP_EINVAL for a
 * number that is not such an integer (1.0, 1e2, 2^63); RP_EJSON when v is
 * not a JSON number. */
int rp_json_integer(struct rp_json_span v, long long *out);

/* Reads the JSON boolean v. Returns RP_OK, or RP_EJSON when v is neither
 * true nor false. */
int rp_json_bool(struct rp_json_span v, int *out);

#endif
