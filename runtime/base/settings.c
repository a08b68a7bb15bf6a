/* settings.c - see settings.h. */
#include "base/settings.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/alloc.h"
#include "base/log.h"

const struct rp_env_info rp_env_list[] = {
#define RP_ENV(field, name, kind, fatal, lo, hi, dflt, dflt_doc, doc) \
  { name, kind, fatal, lo, hi, dflt, dflt_doc, doc,                  \
    offsetof(struct rp_settings, field) },
#include "base/settings.def"
};

const size_t rp_env_count = sizeof(rp_env_list) / sizeof(rp_env_list[0]);

static struct rp_setting *slot(struct rp_settings *s,
                               const struct rp_env_info *e)
{
  return (struct rp_setting *)(void *)((char *)s + e->offset);
}

static const struct rp_setting *cslot(const struct rp_settings *s,
                                      const struct rp_env_info *e)
{
  return (const struct rp_setting *)(const void *)((const char *)s +
                                                   e->offset);
}

/* Parses v as e's kind into *v_out; returns 0, or -1 when v is not valid
 * for it. */
static int parse(const struct rp_env_info *e, const char *v,
                 struct rp_setting *out)
{
  char *end;
  double d;
  long n;
  int i;
  switch (e->kind) {
  case RP_ENV_NUMBER:
    d = strtod(v, &end);
    if (end == v || *end || !isfinite(d) || d < e->lo || d > e->hi)
      return -1;
    out->number = d;
    return 0;
  case RP_ENV_INTEGER:
    errno = 0;
    n = strtol(v, &end, 10);
    if (errno || end == v || *end || n < e->lo || n > e->hi)
      return -1;
    out->number = (double)n;
    return 0;
  case RP_ENV_SIZE:
    if (rp_alloc_parse_size(v, &out->size) != 0)
      return -1;
    out->number = (double)out->size;
    return 0;
  case RP_ENV_LEVEL:
    i = rp_log_parse_level(v);
    break;
  case RP_ENV_STREAM:
    i = rp_log_parse_stream(v);
    break;
  case RP_ENV_SWITCH:
    i = rp_settings_switch(v);
    break;
  default:
    return 0;
  }
  if (i < 0)
    return -1;
  out->number = i;
  return 0;
}

int rp_settings_switch(const char *v)
{
  static const char *const yes[] = { "1", "true", "yes" };
  static const char *const no[] = { "0", "false", "no" };
  for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
    if (strcasecmp(v, yes[i]) == 0)
      return 1;
    if (strcasecmp(v, no[i]) == 0)
      return 0;
  }
  return -1;
}

void rp_settings_read(struct rp_settings *s)
{
  size_t i;
  memset(s, 0, sizeof(*s));
  for (i = 0; i < rp_env_count; i++) {
    const struct rp_env_info *e = &rp_env_list[i];
    struct rp_setting *v = slot(s, e);
    const char *text;
    v->number = e->dflt;
    if (e->kind == RP_ENV_ELSEWHERE)
      continue;               /* the Lua module or the image reads it */
    text = getenv(e->name);
    if (!text || !*text)
      continue;
    v->text = text;
    if (parse(e, text, v) == 0) {
      v->set = 1;
    } else {
      v->bad = 1;
      v->number = e->dflt;
      v->size = 0;
    }
  }
  /* RUNPOD_ENDPOINT_SECRET stands in for an unset RUNPOD_AI_API_KEY, so
   * every user of the key (takes, posts, pings) sees one value. */
  if (!s->ai_api_key.text && s->endpoint_secret.text)
    s->ai_api_key = s->endpoint_secret;
  /* RUNPOD_DEBUG_LEVEL, then RUNPOD_DEBUG, are only fallbacks: with a
   * level given before them, their values do not matter. */
  if (s->log_level.text) {
    s->debug_level.bad = 0;
    s->debug_level.set = 0;
  }
  if (s->log_level.text || s->debug_level.text) {
    s->debug.bad = 0;
    s->debug.set = 0;
  }
}

int rp_settings_problem(const struct rp_settings *s, int n, char *buf,
                        size_t len)
{
  char dflt[256];
  size_t i;
  for (i = 0; i < rp_env_count; i++) {
    const struct rp_env_info *e = &rp_env_list[i];
    const char *v = cslot(s, e)->text;
    if (!cslot(s, e)->bad || n-- > 0)
      continue;
    switch (e->kind) {
    case RP_ENV_NUMBER:
      rp_settings_plain(e->dflt_doc, dflt, sizeof(dflt));
      snprintf(buf, len, "ignoring %s='%s' (expected a number from %g to "
               "%g); using %s", e->name, v, e->lo, e->hi, dflt);
      break;
    case RP_ENV_INTEGER:
      snprintf(buf, len, "invalid %s '%s' (expected an integer in "
               "%.0f..%.0f)", e->name, v, e->lo, e->hi);
      break;
    case RP_ENV_SIZE:
      snprintf(buf, len, "invalid %s '%s' (expected bytes, e.g. 67108864 "
               "or 64M)", e->name, v);
      break;
    case RP_ENV_LEVEL:
      snprintf(buf, len, "invalid %s '%s' (expected NOTSET, TRACE, DEBUG, "
               "INFO, WARN or ERROR)", e->name, v);
      break;
    case RP_ENV_STREAM:
      snprintf(buf, len, "invalid %s '%s' (expected stdout or stderr)",
               e->name, v);
      break;
    default:
      snprintf(buf, len, "ignoring %s='%s' (expected true or false)",
               e->name, v);
      break;
    }
    return e->fatal ? RP_LOG_ERROR : RP_LOG_WARN;
  }
  return 0;
}

void rp_settings_apply_log(const struct rp_settings *s)
{
  if (s->log_level.set)
    rp_log_set_level((int)s->log_level.number);
  else if (s->debug_level.set)
    rp_log_set_level((int)s->debug_level.number);
  else if (s->debug.set && s->debug.number != 0)
    rp_log_set_level(RP_LOG_DEBUG);
  if (s->log_stream.set)
    rp_log_set_fd((int)s->log_stream.number);
  rp_log_set_json(s->endpoint_id.text != NULL);
}

void rp_settings_plain(const char *md, char *out, size_t len)
{
  size_t n = 0;
  if (len == 0)
    return;
  for (; *md && n + 1 < len; md++)
    if (*md != '`')
      out[n++] = *md;
  out[n] = '\0';
}
