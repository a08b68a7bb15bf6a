/* args.c - see args.h. */
#include "base/args.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/rp.h"
#include "base/settings.h"

const struct rp_flag_info rp_flag_list[] = {
#define RP_FLAG(field, name, alias, kind, metavar, dflt, doc) \
  { name, alias, kind, metavar, dflt, doc, offsetof(struct rp_args, field) },
#include "base/settings.def"
};

const size_t rp_flag_count = sizeof(rp_flag_list) / sizeof(rp_flag_list[0]);

/* Does 'arg' spell 'name', alone or as "name=value"? Sets *value to the
 * text after '=' or NULL. */
static int spells(const char *arg, const char *name, const char **value)
{
  size_t n;
  if (!name)
    return 0;
  n = strlen(name);
  if (strncmp(arg, name, n) != 0)
    return 0;
  if (arg[n] == '\0') {
    *value = NULL;
    return 1;
  }
  if (arg[n] == '=') {
    *value = arg + n + 1;
    return 1;
  }
  return 0;
}

/* How many flags' names begin with arg[0..n) (a "--name" without its
 * "=value"); *last is set to the last of them. */
static size_t prefix_matches(const char *arg, size_t n,
                             const struct rp_flag_info **last)
{
  size_t count = 0;
  for (size_t i = 0; i < rp_flag_count; i++)
    if (strncmp(rp_flag_list[i].name, arg, n) == 0) {
      *last = &rp_flag_list[i];
      count++;
    }
  return count;
}

/* Finds the flag 'arg' names: its name or alias, alone or with "=value",
 * else, as argparse (the Python SDK's parser, allow_abbrev), a "--"
 * prefix that begins exactly one flag's name (--rp_serve, --test_in=...).
 * Returns NULL for no flag; a prefix of several flags' names is an
 * error, written into err (*fail set). */
static const struct rp_flag_info *lookup(const char *arg, const char **value,
                                         int *fail, char *err, size_t errlen)
{
  const struct rp_flag_info *f = NULL;
  size_t n;
  size_t pos;
  for (size_t i = 0; i < rp_flag_count; i++)
    if (spells(arg, rp_flag_list[i].name, value) ||
        spells(arg, rp_flag_list[i].alias, value))
      return &rp_flag_list[i];
  n = strcspn(arg, "=");
  if (strncmp(arg, "--", 2) != 0 || n <= 2)
    return NULL;
  switch (prefix_matches(arg, n, &f)) {
  case 0:
    return NULL;
  case 1:
    *value = arg[n] == '=' ? arg + n + 1 : NULL;
    return f;
  default:                      /* argparse's words for it */
    *fail = 1;
    pos = (size_t)snprintf(err, errlen, "ambiguous option: %.*s could "
                           "match", (int)n, arg);
    for (size_t i = 0, k = 0; i < rp_flag_count && pos < errlen; i++)
      if (strncmp(rp_flag_list[i].name, arg, n) == 0)
        pos += (size_t)snprintf(err + pos, errlen - pos, "%s %s",
                                k++ ? "," : "", rp_flag_list[i].name);
    return NULL;
  }
}

static int set_number(struct rp_args *a, const struct rp_flag_info *f,
                      const char *v, char *err, size_t errlen)
{
  char *end;
  long n;
  long lo = 1;
  long hi = f->kind == RP_FLAG_PORT ? 65535 : 1000000;
  errno = 0;
  n = strtol(v, &end, 10);
  if (errno || end == v || *end || n < lo || n > hi)
    return rp_fail(-1, err, errlen, "invalid %s '%s' (expected a whole "
                   "number from %ld to %ld)", f->name, v, lo, hi);
  *(int *)((char *)a + f->offset) = (int)n;
  return 0;
}

int rp_args_parse(struct rp_args *a, int argc, char **argv, char **rest,
                  char *err, size_t errlen)
{
  int i;
  memset(a, 0, sizeof(*a));
  a->api_host = "localhost";
  a->api_port = 8000;
  for (i = 0; i < argc; i++) {
    const char *value = NULL;
    int fail = 0;
    const struct rp_flag_info *f = lookup(argv[i], &value, &fail, err,
                                          errlen);
    if (fail)
      return -1;
    if (!f) {
      rest[a->nrest++] = argv[i];
      continue;
    }
    if (f->kind == RP_FLAG_SWITCH) {
      if (value)
        return rp_fail(-1, err, errlen, "%s takes no value", f->name);
      *(int *)((char *)a + f->offset) = 1;
      continue;
    }
    if (!value) {
      if (i + 1 >= argc)
        return rp_fail(-1, err, errlen, "%s needs a value", f->name);
      value = argv[++i];
    }
    if (f->kind == RP_FLAG_STRING)
      *(const char **)((char *)a + f->offset) = value;
    else if (set_number(a, f, value, err, errlen) != 0)
      return -1;
  }
  /* The Python SDK takes an empty --test_input for none given (the mode
   * then follows RUNPOD_WEBHOOK_GET_JOB, the input test_input.json). */
  if (a->test_input && !*a->test_input)
    a->test_input = NULL;
  return 0;
}

#define MAX_NAME 64

/* Copies a flag's name without "=value", with '-' after the leading dashes
 * read as '_', cut to MAX_NAME - 1 bytes. Returns its length. */
static size_t normalize(const char *arg, char out[MAX_NAME])
{
  size_t n = 0;
  size_t i = 0;
  while (arg[i] == '-' && n + 1 < MAX_NAME)
    out[n++] = arg[i++];
  for (; arg[i] && arg[i] != '=' && n + 1 < MAX_NAME; i++)
    out[n++] = arg[i] == '-' ? '_' : arg[i];
  out[n] = '\0';
  return n;
}

/* Levenshtein distance between a[0..na) and b[0..nb), both < MAX_NAME. */
static size_t distance(const char *a, size_t na, const char *b, size_t nb)
{
  size_t row[MAX_NAME];
  size_t i;
  size_t j;
  for (j = 0; j <= nb; j++)
    row[j] = j;
  for (i = 1; i <= na; i++) {
    size_t diag = row[0];
    row[0] = i;
    for (j = 1; j <= nb; j++) {
      size_t up = row[j];
      size_t best = diag + (a[i - 1] != b[j - 1]);
      if (up + 1 < best)
        best = up + 1;
      if (row[j - 1] + 1 < best)
        best = row[j - 1] + 1;
      row[j] = best;
      diag = up;
    }
  }
  return row[nb];
}

int rp_args_looks_ours(const char *arg)
{
  char n[MAX_NAME];
  normalize(arg, n);
  return strncmp(n, "--rp_", 5) == 0 || strncmp(n, "--test", 6) == 0;
}

const char *rp_args_suggest(const char *arg, int always)
{
  char want[MAX_NAME];
  size_t nwant = normalize(arg, want);
  const char *best = NULL;
  size_t best_d = (size_t)-1;
  size_t i;
  for (i = 0; i < rp_flag_count; i++) {
    size_t len = strlen(rp_flag_list[i].name);
    size_t d = distance(want, nwant, rp_flag_list[i].name, len);
    if (d < best_d && (always || d * 3 <= len)) {
      best = rp_flag_list[i].name;
      best_d = d;
    }
  }
  return best;
}

int rp_args_mistyped(const char *arg, char *buf, size_t len)
{
  if (!rp_args_looks_ours(arg))
    return 0;
  snprintf(buf, len, "unknown flag '%s' (did you mean %s?); left in the "
           "script's arg table", arg, rp_args_suggest(arg, 1));
  return 1;
}

/* Appends printf-style text to buf at *pos; past the end of buf nothing
 * more is added (buf stays terminated). */
static void put(char *buf, size_t len, size_t *pos, const char *fmt, ...)
  __attribute__((format(printf, 4, 5)));

static void put(char *buf, size_t len, size_t *pos, const char *fmt, ...)
{
  va_list ap;
  int n;
  if (*pos + 1 >= len)
    return;
  va_start(ap, fmt);
  n = vsnprintf(buf + *pos, len - *pos, fmt, ap);
  va_end(ap);
  if (n < 0 || (size_t)n >= len - *pos)
    *pos = len - 1;
  else
    *pos += (size_t)n;
}

/* Appends the words of 'text', wrapped at 79 columns with continuation
 * lines indented to 'indent'; *col is the current column. */
static void wrap(char *buf, size_t len, size_t *pos, size_t *col,
                 size_t indent, const char *text)
{
  while (*text) {
    size_t w = strcspn(text, " ");
    if (*col > indent && *col + 1 + w > 79) {
      put(buf, len, pos, "\n%*s", (int)indent, "");
      *col = indent;
    } else if (*col > indent) {
      put(buf, len, pos, " ");
      *col += 1;
    }
    put(buf, len, pos, "%.*s", (int)w, text);
    *col += w;
    text += w;
    while (*text == ' ')
      text++;
  }
}

void rp_args_usage(char *buf, size_t len)
{
  enum { INDENT = 25 };
  char name[MAX_NAME];
  char text[512];
  char plain[512];
  size_t pos = 0;
  size_t col;
  size_t i;
  if (len == 0)
    return;
  buf[0] = '\0';
  for (i = 0; i < rp_flag_count; i++) {
    const struct rp_flag_info *f = &rp_flag_list[i];
    snprintf(name, sizeof(name), "%s%s%s%s%s", f->alias ? f->alias : "",
             f->alias ? ", " : "", f->name, f->metavar ? " " : "",
             f->metavar ? f->metavar : "");
    put(buf, len, &pos, "  %-*s ", INDENT - 3, name);
    col = 2 + (strlen(name) > INDENT - 3 ? strlen(name) : INDENT - 3) + 1;
    if (*f->dflt)
      snprintf(text, sizeof(text), "%s (default %s)", f->doc, f->dflt);
    else
      snprintf(text, sizeof(text), "%s", f->doc);
    rp_settings_plain(text, plain, sizeof(plain));
    wrap(buf, len, &pos, &col, INDENT, plain);
    put(buf, len, &pos, "\n");
  }
}
