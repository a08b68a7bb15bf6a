/* test_json_text.c - base/json: the escaper and the scanner. */
#include <locale.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/json.h"
#include "base/rp.h"
#include "tests/check.h"

static char out[512];

/* The quoted escape of s[0..n), copied to out. */
static const char *esc(const char *s, size_t n)
{
  struct rp_buf b = RP_BUF_INIT(4096);
  int rc = rp_json_put_string(&b, s, n);
  snprintf(out, sizeof(out), "%s", rc == RP_OK && b.data ? b.data : "(error)");
  rp_buf_free(&b);
  return out;
}

static struct rp_json_span span(const char *s)
{
  struct rp_json_span v = { s, strlen(s) };
  return v;
}

static void escapes_like_the_codec(void)
{
  CHECK_STR("\"\"", esc("", 0));
  CHECK_STR("\"plain text\"", esc("plain text", 10));
  CHECK_STR("\"q\\\"b\\\\s/\"", esc("q\"b\\s/", 6));
  /* The short forms, \u00XX for the other control bytes, 0x7f raw. */
  CHECK_STR("\"\\u0001\\b\\t\\n\\u000b\\f\\r\\u001f\x7f\"",
            esc("\x01\b\t\n\x0b\f\r\x1f\x7f", 9));
  CHECK_STR("\"a\\u0000b\"", esc("a\0b", 3));
}

static void escapes_invalid_utf8(void)
{
  CHECK_STR("\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"",
            esc("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 14));
  CHECK_STR("\"a\\ufffdb\"", esc("a\xff" "b", 3));
  CHECK_STR("\"\\ufffd\\ufffdA\"", esc("\xe2\x82" "A", 3));   /* cut */
  CHECK_STR("\"\\ufffd\\ufffd\"", esc("\xc0\xaf", 2));        /* overlong */
  CHECK_STR("\"\\ufffd\\ufffd\\ufffd\"", esc("\xed\xa0\x80", 3)); /* D800 */
  CHECK_STR("\"\\ufffd\\ufffd\\ufffd\\ufffd\"", esc("\xf4\x90\x80\x80", 4));
}

static void finds_the_first_byte_that_is_not_utf8(void)
{
  CHECK_INT(0, rp_json_utf8_bad("", 0));
  CHECK_INT(14, rp_json_utf8_bad("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 14));
  CHECK_INT(1, rp_json_utf8_bad("a\xff" "b", 3));
  CHECK_INT(2, rp_json_utf8_bad("ab\xe2\x82", 4));       /* cut */
  CHECK_INT(0, rp_json_utf8_bad("\xc0\x80", 2));          /* overlong */
  CHECK_INT(1, rp_json_utf8_bad("x\xed\xa0\x80", 4));     /* D800 */
  CHECK_INT(3, rp_json_utf8_bad("a\0b", 3));      /* NUL is UTF-8 */
}

static void puts_pieces_and_reports_the_cap(void)
{
  struct rp_buf b = RP_BUF_INIT(8);
  CHECK_INT(RP_OK, rp_json_put_chars(&b, "a\"", 2));
  CHECK_INT(RP_OK, rp_json_put_chars(&b, "b", 1));
  CHECK_STR("a\\\"b", b.data);
  CHECK_INT(RP_ETOOBIG, rp_json_put_string(&b, "0123456789", 10));
  rp_buf_free(&b);
}

static void validates(void)
{
  static const char *const good[] = {
    "0", "-0", "1.5e+10", "-12.25E-3", "\"\"", "true", "false", "null",
    " [ ] ", "{}", "{\"a\":[1,{\"b\":null}],\"c\":\"\\u00e9\\n\"}",
    "\"\\ud83d\\ude00\"", "\"\\ud800\"", "1e400", "\t\r\n[1 , 2]\n"
  };
  static const char *const bad[] = {
    "", " ", "01", "-", "1.", ".5", "1e", "+1", "0x10", "tru", "nul",
    "[1,]", "[,1]", "{\"a\"}", "{\"a\":}", "{a:1}", "{\"a\":1,}", "[1 2]",
    "\"abc", "\"\\x\"", "\"\\u12g4\"", "\"\\u12\"", "\"a\nb\"", "1 2",
    "[", "{", "]", "{\"a\":1}}", "NaN", "Infinity", "'a'"
  };
  size_t i;
  for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
    if (!rp_json_valid(good[i], strlen(good[i]))) {
      printf("  should be valid: %s\n", good[i]);
      CHECK(0);
    }
  for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    if (rp_json_valid(bad[i], strlen(bad[i]))) {
      printf("  should be invalid: %s\n", bad[i]);
      CHECK(0);
    }
  CHECK(!rp_json_valid("[1]\0", 4));                  /* a NUL after it */
  CHECK(!rp_json_valid("\"a\0b\"", 5));               /* a raw NUL */
}

/* 'depth' nested arrays, the innermost holding 1. */
static char *nested(int depth)
{
  char *s = malloc((size_t)depth * 2 + 2);
  int i;
  for (i = 0; i < depth; i++) {
    s[i] = '[';
    s[depth + 1 + i] = ']';
  }
  s[depth] = '1';
  s[2 * depth + 1] = '\0';
  return s;
}

static void limits_depth_as_the_codec(void)
{
  char *ok = nested(RP_JSON_MAX_DEPTH);
  char *deep = nested(RP_JSON_MAX_DEPTH + 1);
  CHECK(rp_json_valid(ok, strlen(ok)));
  CHECK(!rp_json_valid(deep, strlen(deep)));
  free(ok);
  free(deep);
}

struct seen {
  char keys[8][RP_JSON_MAX_KEY];
  char vals[8][64];
  int n;
  int stop_at;
};

static int note_member(void *ud, const char *key, struct rp_json_span val,
                       struct rp_json_span m)
{
  struct seen *s = ud;
  (void)m;
  snprintf(s->keys[s->n], sizeof(s->keys[0]), "%s", key);
  snprintf(s->vals[s->n], sizeof(s->vals[0]), "%.*s", (int)val.n, val.p);
  return ++s->n == s->stop_at ? 7 : 0;
}

static void walks_members(void)
{
  const char *doc = " { \"a\" : 1 , \"b\\u0062\":[true, {}],\"a\":\"x\" } ";
  struct seen s;
  struct rp_json_span v;
  memset(&s, 0, sizeof(s));
  CHECK_INT(0, rp_json_each_member(doc, strlen(doc), note_member, &s));
  CHECK_INT(3, s.n);
  CHECK_STR("a", s.keys[0]);
  CHECK_STR("1", s.vals[0]);
  CHECK_STR("bb", s.keys[1]);
  CHECK_STR("[true, {}]", s.vals[1]);
  CHECK_STR("\"x\"", s.vals[2]);
  memset(&s, 0, sizeof(s));
  s.stop_at = 2;
  CHECK_INT(7, rp_json_each_member(doc, strlen(doc), note_member, &s));
  CHECK_INT(2, s.n);
  /* The last of duplicates wins, as in the codec. */
  CHECK_INT(1, rp_json_member(doc, strlen(doc), "a", &v));
  CHECK_INT(3, v.n);
  CHECK(memcmp(v.p, "\"x\"", 3) == 0);
  CHECK_INT(RP_JSON_STRING, rp_json_kind(v));
  CHECK_INT(0, rp_json_member(doc, strlen(doc), "c", &v));
  CHECK_INT(RP_EJSON, rp_json_member("[1]", 3, "a", &v));
  CHECK_INT(RP_EJSON, rp_json_member("{\"a\":1", 6, "a", &v));
  memset(&s, 0, sizeof(s));
  CHECK_INT(RP_EJSON, rp_json_each_member("{\"a\":1,}", 8, note_member, &s));
  CHECK_INT(0, s.n);                       /* nothing seen when invalid */
  CHECK_INT(0, rp_json_each_member("{}", 2, note_member, &s));
  CHECK_INT(0, s.n);
}

static void long_keys_are_empty(void)
{
  char doc[256];
  char key[RP_JSON_MAX_KEY + 1];
  struct seen s;
  memset(key, 'k', sizeof(key) - 1);
  key[sizeof(key) - 1] = '\0';
  snprintf(doc, sizeof(doc), "{\"%s\":1,\"%.*s\":2,\"n\\u0000\":3}", key,
           RP_JSON_MAX_KEY - 1, key);
  memset(&s, 0, sizeof(s));
  CHECK_INT(0, rp_json_each_member(doc, strlen(doc), note_member, &s));
  CHECK_INT(3, s.n);
  CHECK_STR("", s.keys[0]);
  CHECK_INT(RP_JSON_MAX_KEY - 1, strlen(s.keys[1]));
  CHECK_STR("", s.keys[2]);
}

static int note_element(void *ud, struct rp_json_span el)
{
  return note_member(ud, "", el, el);
}

static void walks_elements(void)
{
  const char *doc = "[ 1, \"two\" ,[3], {\"four\":4} ,null]";
  struct seen s;
  memset(&s, 0, sizeof(s));
  CHECK_INT(0, rp_json_each_element(doc, strlen(doc), note_element, &s));
  CHECK_INT(5, s.n);
  CHECK_STR("1", s.vals[0]);
  CHECK_STR("\"two\"", s.vals[1]);
  CHECK_STR("[3]", s.vals[2]);
  CHECK_STR("{\"four\":4}", s.vals[3]);
  CHECK_STR("null", s.vals[4]);
  CHECK_INT(0, rp_json_each_element("[]", 2, note_element, &s));
  CHECK_INT(5, s.n);
  CHECK_INT(RP_EJSON, rp_json_each_element("{}", 2, note_element, &s));
  CHECK_INT(RP_EJSON, rp_json_each_element("[1,]", 4, note_element, &s));
  CHECK_INT(5, s.n);
}

static void decodes_strings(void)
{
  char s[16];
  CHECK_INT(RP_OK, rp_json_string(span("\"a\\\"\\\\\\/\\b\\f\\n\\r\\t\""), s,
                                  sizeof(s)));
  CHECK_STR("a\"\\/\b\f\n\r\t", s);
  CHECK_INT(RP_OK, rp_json_string(span("\"\\u00e9\\u20AC\""), s, sizeof(s)));
  CHECK_STR("\xc3\xa9\xe2\x82\xac", s);
  /* A surrogate pair is one code point; a lone one is U+FFFD. */
  CHECK_INT(RP_OK, rp_json_string(span("\"\\ud83d\\ude00\""), s, sizeof(s)));
  CHECK_STR("\xf0\x9f\x98\x80", s);
  CHECK_INT(RP_OK, rp_json_string(span("\"\\ud83dx\""), s, sizeof(s)));
  CHECK_STR("\xef\xbf\xbdx", s);
  CHECK_INT(RP_OK, rp_json_string(span("\"\\ude00\""), s, sizeof(s)));
  CHECK_STR("\xef\xbf\xbd", s);
  CHECK_INT(RP_OK, rp_json_string(span("\"\\ud83d\\u0041\""), s, sizeof(s)));
  CHECK_STR("\xef\xbf\xbd" "A", s);
  CHECK_INT(RP_EJSON, rp_json_string(span("\"a\\u0000\""), s, sizeof(s)));
  CHECK_INT(RP_EJSON, rp_json_string(span("12"), s, sizeof(s)));
  CHECK_INT(RP_EJSON, rp_json_string(span("\"a\" "), s, sizeof(s)));
  CHECK_INT(RP_EJSON, rp_json_string(span("\"a"), s, sizeof(s)));
  CHECK_INT(RP_EJSON, rp_json_string(span("\"\\q\""), s, sizeof(s)));
  /* Exact fit: 3 bytes and the NUL in 4; 5 bytes do not fit. */
  CHECK_INT(RP_OK, rp_json_string(span("\"abc\""), s, 4));
  CHECK_STR("abc", s);
  CHECK_INT(RP_ETOOBIG, rp_json_string(span("\"abcd\""), s, 4));
  CHECK_INT(RP_ETOOBIG, rp_json_string(span("\"\\u20ac\""), s, 3));
  CHECK_INT(RP_ETOOBIG, rp_json_string(span("\"\""), s, 0));
}

static void decodes_pieces(void)
{
  const char *h = "00e9G";
  const char *mixed = "AbCd";
  char u[4];
  CHECK_INT('\n', rp_json_unescape_char('n'));
  CHECK_INT('/', rp_json_unescape_char('/'));
  CHECK_INT(-1, rp_json_unescape_char('u'));
  CHECK_INT(-1, rp_json_unescape_char('x'));
  CHECK_INT(0xe9, rp_json_hex4(h, h + 4));
  CHECK_INT(-1, rp_json_hex4(h, h + 3));        /* cut short */
  CHECK_INT(-1, rp_json_hex4(h + 1, h + 5));    /* 'G' */
  CHECK_INT(0xabcd, rp_json_hex4(mixed, mixed + 4));
  CHECK_INT(1, rp_json_utf8_encode(u, 0x41));
  CHECK_INT(2, rp_json_utf8_encode(u, 0xe9));
  CHECK(memcmp(u, "\xc3\xa9", 2) == 0);
  CHECK_INT(3, rp_json_utf8_encode(u, 0x20ac));
  CHECK(memcmp(u, "\xe2\x82\xac", 3) == 0);
  CHECK_INT(4, rp_json_utf8_encode(u, 0x10ffff));
  CHECK(memcmp(u, "\xf4\x8f\xbf\xbf", 4) == 0);
}

static void reads_numbers(void)
{
  double x = 0;
  long long i = 0;
  int b = -1;
  CHECK_INT(RP_OK, rp_json_number(span("-12.5e1"), &x));
  CHECK(x == -125.0);
  CHECK_INT(RP_OK, rp_json_number(span("1e400"), &x));
  CHECK(isinf(x));
  CHECK_INT(RP_EJSON, rp_json_number(span(" 1"), &x));
  CHECK_INT(RP_EJSON, rp_json_number(span("1 "), &x));
  CHECK_INT(RP_EJSON, rp_json_number(span("0x1"), &x));
  CHECK_INT(RP_EJSON, rp_json_number(span("\"1\""), &x));
  CHECK_INT(RP_EJSON, rp_json_number(span(""), &x));
  /* Longer than the stack copy. */
  CHECK_INT(RP_OK, rp_json_number(span("0.000000000000000000000000000000"
                                        "00000000000000000000000000000000"
                                        "00000000000000000000000000000001"
                                        "e94"), &x));
  CHECK(x > 0.999 && x < 1.001);
  CHECK_INT(RP_OK, rp_json_integer(span("9223372036854775807"), &i));
  CHECK(i == 9223372036854775807LL);
  CHECK_INT(RP_OK, rp_json_integer(span("-9223372036854775808"), &i));
  CHECK(i == -9223372036854775807LL - 1);
  CHECK_INT(RP_OK, rp_json_integer(span("-0"), &i));
  CHECK_INT(0, i);
  CHECK_INT(RP_EINVAL, rp_json_integer(span("9223372036854775808"), &i));
  CHECK_INT(RP_EINVAL, rp_json_integer(span("1.0"), &i));
  CHECK_INT(RP_EINVAL, rp_json_integer(span("1e2"), &i));
  CHECK_INT(RP_EJSON, rp_json_integer(span("01"), &i));
  CHECK_INT(RP_OK, rp_json_bool(span("true"), &b));
  CHECK_INT(1, b);
  CHECK_INT(RP_OK, rp_json_bool(span("false"), &b));
  CHECK_INT(0, b);
  CHECK_INT(RP_EJSON, rp_json_bool(span("null"), &b));
  CHECK_INT(RP_JSON_NUMBER, rp_json_kind(span("-1")));
  CHECK_INT(RP_JSON_NULL, rp_json_kind(span("null")));
  CHECK_INT(RP_JSON_TRUE, rp_json_kind(span("true")));
  CHECK_INT(RP_JSON_FALSE, rp_json_kind(span("false")));
  CHECK_INT(RP_JSON_ARRAY, rp_json_kind(span("[]")));
  CHECK_INT(RP_JSON_OBJECT, rp_json_kind(span("{}")));
  CHECK_INT(RP_JSON_NONE, rp_json_kind(span("")));
}

static void formats_numbers(void)
{
  struct rp_json_decpoint dp;
  char s[48];
  rp_json_decpoint_get(&dp);
  CHECK_INT(20, rp_json_format_int(s, -9223372036854775807LL - 1));
  CHECK_STR("-9223372036854775808", s);
  rp_json_format_int(s, 0);
  CHECK_STR("0", s);
  CHECK_INT(3, rp_json_format_double(s, sizeof(s), 5.0, &dp));
  CHECK_STR("5.0", s);
  rp_json_format_double(s, sizeof(s), 0.1, &dp);
  CHECK_STR("0.1", s);
  rp_json_format_double(s, sizeof(s), 1.0 / 3, &dp);
  CHECK_STR("0.3333333333333333", s);
  rp_json_format_double(s, sizeof(s), 1e300, &dp);
  CHECK_STR("1e+300", s);
  rp_json_format_double(s, sizeof(s), -0.0, &dp);
  CHECK_STR("-0.0", s);
}

/* The shortest of %.15g, %.16g and %.17g that reads back, as printf
 * writes it: what rp_json_format_double must write, faster. */
static void printf_shortest(char *s, size_t size, double x)
{
  size_t n;
  for (int prec = 15; ; prec++) {
    snprintf(s, size, "%.*g", prec, x);
    if (prec == 17 || strtod(s, NULL) == x)
      break;
  }
  n = strlen(s);
  if (!strpbrk(s, ".e"))
    memcpy(s + n, ".0", 3);
}

/* Random bit patterns, random fractions, exact decimal ties (x / 1000 of
 * large integers), subnormals and the extremes: every one written exactly
 * as printf's shortest round trip. */
static void formats_doubles_as_printf_does(void)
{
  static const double fixed[] = {
    5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, 1e21, 1e-5,
    1e-4, 0.001, 123456789012345678.0, 9007199254740993.0, 0.1 + 0.2,
    -904169666483526.25, 1e15, 1e16, 1e17, 9.999999999999999e22
  };
  struct rp_json_decpoint dp;
  uint64_t st = 88172645463325252u;
  char want[64];
  char got[64];
  int bad = 0;
  rp_json_decpoint_get(&dp);
  for (long i = 0; i < 300000 + (long)(sizeof(fixed) / sizeof(fixed[0]));
       i++) {
    double x;
    st ^= st << 13;
    st ^= st >> 7;
    st ^= st << 17;
    if (i >= 300000)
      x = fixed[i - 300000];
    else if (i % 3 == 0)
      memcpy(&x, &st, sizeof(x));
    else if (i % 3 == 1)
      x = (double)(st >> 11) / 9007199254740992.0 * 2 - 1;
    else
      x = (double)(int64_t)(st >> 20) / 1000.0;
    if (!isfinite(x) || x == 0)
      continue;
    printf_shortest(want, sizeof(want), x);
    rp_json_format_double(got, sizeof(got), x, &dp);
    if (strcmp(want, got) != 0 && bad++ < 5)
      printf("  %.17g: want %s, got %s\n", x, want, got);
  }
  CHECK_INT(0, bad);
}

/* Where the exact path (1e-5 to 2^53) meets its edges: powers of two
 * (the neighbour below is nearer), powers of ten and their neighbours,
 * and short decimals of every length, which must come out short. */
static void formats_edges_as_printf_does(void)
{
  struct rp_json_decpoint dp;
  uint64_t st = 2463534242u;
  char want[64];
  char got[64];
  char text[64];
  int bad = 0;
  int n = 0;
  double xs[3];
  rp_json_decpoint_get(&dp);
  for (int i = 0; i < 40000; i++) {
    double base;
    st ^= st << 13;
    st ^= st >> 7;
    st ^= st << 17;
    if (i < 80)
      base = ldexp(1.0, i - 20);
    else if (i < 110)
      base = pow(10.0, i - 80 - 8);
    else {
      /* 1 to 17 significant digits, exponent -7 to 16 */
      int digits = 1 + (int)(st % 17);
      snprintf(text, sizeof(text), "%.*e", digits - 1,
               (double)(st >> 12) / 4503599627370496.0 * 9 + 1);
      snprintf(text + strlen(text) - 4, 8, "e%d", (int)((st >> 40) % 24) - 7);
      base = strtod(text, NULL);
    }
    xs[0] = base;
    xs[1] = nextafter(base, 0);
    xs[2] = nextafter(base, INFINITY);
    for (int j = 0; j < 3; j++) {
      printf_shortest(want, sizeof(want), xs[j]);
      rp_json_format_double(got, sizeof(got), xs[j], &dp);
      n++;
      if (strcmp(want, got) != 0 && bad++ < 5)
        printf("  %.17g: want %s, got %s\n", xs[j], want, got);
    }
  }
  CHECK_INT(120000, n);
  CHECK_INT(0, bad);
}

/* A decimal comma in the C locale changes neither the text read nor the
 * value (when such a locale is installed). */
static void numbers_ignore_the_locale(void)
{
  double x = 0;
  struct rp_json_decpoint dp;
  char s[48];
  if (!setlocale(LC_NUMERIC, "de_DE.UTF-8"))
    return;
  CHECK_INT(RP_OK, rp_json_number(span("2.5"), &x));
  CHECK(x == 2.5);
  rp_json_decpoint_get(&dp);
  CHECK_STR(",", dp.s);
  rp_json_format_double(s, sizeof(s), 2.5, &dp);
  CHECK_STR("2.5", s);
  setlocale(LC_NUMERIC, "C");
}

/* The first special byte at or after p, one byte at a time. */
static const char *skip_slowly(const char *p, const char *end, int ascii)
{
  while (p < end) {
    unsigned char c = rp_json_byte_class[(unsigned char)*p];
    if (c == 1 || (ascii && c == 2))
      break;
    p++;
  }
  return p;
}

/* rp_json_skip_plain finds the first special byte whatever its offset and
 * the length of the run: each class of byte at each place of every length
 * up to 70, with other bytes of every class after it. */
static void skips_plain_bytes(void)
{
  static const char special[] = { '"', '\\', 0x00, 0x1f, 0x0a, (char)0x80,
                                  (char)0xc3, (char)0xff, 0x7f, 0x20 };
  char buf[80];
  for (size_t len = 0; len <= 70; len++) {
    for (size_t at = 0; at <= len; at++) {
      for (size_t k = 0; k < sizeof(special); k++) {
        for (int ascii = 0; ascii <= 1; ascii++) {
          memset(buf, 'a', sizeof(buf));
          if (at < len)
            buf[at] = special[k];
          if (at + 1 < len)
            buf[at + 1] = special[(k + 1) % sizeof(special)];
          if (rp_json_skip_plain(buf, buf + len, ascii) !=
              skip_slowly(buf, buf + len, ascii)) {
            CHECK(0);
            return;
          }
        }
      }
    }
  }
}

int main(void)
{
  RUN(skips_plain_bytes);
  RUN(escapes_like_the_codec);
  RUN(escapes_invalid_utf8);
  RUN(finds_the_first_byte_that_is_not_utf8);
  RUN(puts_pieces_and_reports_the_cap);
  RUN(validates);
  RUN(limits_depth_as_the_codec);
  RUN(walks_members);
  RUN(long_keys_are_empty);
  RUN(walks_elements);
  RUN(decodes_strings);
  RUN(decodes_pieces);
  RUN(reads_numbers);
  RUN(formats_numbers);
  RUN(formats_doubles_as_printf_does);
  RUN(formats_edges_as_printf_does);
  RUN(numbers_ignore_the_locale);
  return check_summary();
}
