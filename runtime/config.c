/* config.c - see config.h. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "rp.h"

enum kind { STRING, PORT, COUNT, FLAG };

struct flag {
  const char *name;
  enum kind kind;
  size_t offset;
};

#define F(name, kind, field) { name, kind, offsetof(struct rp_args, field) }
static const struct flag flags[] = {
  F("--test_input", STRING, test_input),
  F("--test_output", STRING, test_output),
  F("--rp_log_level", STRING, log_level),
  F("--rp_log_stream", STRING, log_stream),
  F("--rp_api_host", STRING, api_host),
  F("--rp_api_port", PORT, api_port),
  F("--rp_api_concurrency", COUNT, api_concurrency),
  F("--rp_serve_api", FLAG, serve_api),
  F("--rp_debugger", FLAG, debugger),
  F("--help", FLAG, help),
  F("-h", FLAG, help),
  F("--version", FLAG, version),
};
#undef F

/* Finds the flag 'arg' names, either alone or as "--name=value"; sets
 * *value to the text after '=' or NULL. */
static const struct flag *lookup(const char *arg, const char **value)
{
  size_t i;
  for (i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
    size_t n = strlen(flags[i].name);
    if (strncmp(arg, flags[i].name, n) != 0)
      continue;
    if (arg[n] == '\0') {
      *value = NULL;
      return &flags[i];
    }
    if (arg[n] == '=') {
      *value = arg + n + 1;
      return &flags[i];
    }
  }
  return NULL;
}

static int set_number(struct rp_args *a, const struct flag *f,
                      const char *v, char *err, size_t errlen)
{
  char *end;
  long n;
  long lo = 1;
  long hi = f->kind == PORT ? 65535 : 1000000;
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
  a->api_concurrency = 1;
  for (i = 0; i < argc; i++) {
    const char *value = NULL;
    const struct flag *f = lookup(argv[i], &value);
    if (!f) {
      rest[a->nrest++] = argv[i];
      continue;
    }
    if (f->kind == FLAG) {
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
    if (f->kind == STRING)
      *(const char **)((char *)a + f->offset) = value;
    else if (set_number(a, f, value, err, errlen) != 0)
      return -1;
  }
  return 0;
}
