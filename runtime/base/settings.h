/*
 * settings.h - the one reader of the environment. rp_settings_read() reads
 * every variable of settings.def once, at start, into a struct rp_settings
 * that the modes receive as an argument; nothing else calls getenv().
 * Values that fail validation are marked bad and replaced by their
 * default; rp_settings_problem() words the complaint, which the caller
 * logs once (WARN, or ERROR for a setting whose bad value stops the
 * worker). Plain C: no Lua, no I/O besides getenv.
 */
#ifndef RP_SETTINGS_H
#define RP_SETTINGS_H

#include <stddef.h>

enum rp_env_kind {
  RP_ENV_TEXT,
  RP_ENV_NUMBER,
  RP_ENV_INTEGER,
  RP_ENV_SIZE,
  RP_ENV_LEVEL,
  RP_ENV_STREAM,
  RP_ENV_SWITCH,
  RP_ENV_ELSEWHERE
};

/* One variable's value. 'text' is the raw value (borrowed from the
 * environment, valid for the life of the process), or NULL when unset or
 * empty. 'set' is 1 when the value is present and valid; then 'number'
 * holds it (a level or a file descriptor for RP_ENV_LEVEL and
 * RP_ENV_STREAM, 0 or 1 for RP_ENV_SWITCH) and, for RP_ENV_SIZE, 'size'.
 * Otherwise 'number' is the default. 'bad' is 1 when the value was
 * present but invalid. One fallback is resolved here: 'ai_api_key' holds
 * RUNPOD_ENDPOINT_SECRET's value when RUNPOD_AI_API_KEY is unset. */
struct rp_setting {
  const char *text;
  double number;
  size_t size;
  int set;
  int bad;
};

struct rp_settings {
#define RP_ENV(field, name, kind, fatal, lo, hi, dflt, dflt_doc, doc) \
  struct rp_setting field;
#include "base/settings.def"
};

/* The list itself, in settings.def's order. */
struct rp_env_info {
  const char *name;
  enum rp_env_kind kind;
  int fatal;
  double lo;
  double hi;
  double dflt;
  const char *dflt_doc;
  const char *doc;
  size_t offset;             /* of its struct rp_setting */
};

extern const struct rp_env_info rp_env_list[];
extern const size_t rp_env_count;

/* Reads every variable into s. Never fails: see struct rp_setting. */
void rp_settings_read(struct rp_settings *s);

/* The value of an on/off variable: 1 for "1", "true" or "yes", 0 for "0",
 * "false" or "no" (any case), -1 for anything else. */
int rp_settings_switch(const char *v);

/* Writes the complaint about the n-th bad value (counting from 0) into
 * buf, e.g. "ignoring RUNPOD_JOB_TIMEOUT='-5' (expected a number from 0 to
 * 1e+09); using start's timeout, else off". Returns RP_LOG_ERROR when that
 * value stops the worker, RP_LOG_WARN when it is ignored, 0 when there are
 * fewer than n + 1 bad values. */
int rp_settings_problem(const struct rp_settings *s, int n, char *buf,
                        size_t len);

/* Applies RUNPOD_LOG_LEVEL (else RUNPOD_DEBUG_LEVEL, else DEBUG when
 * RUNPOD_DEBUG is on), RUNPOD_LOG_STREAM and RUNPOD_ENDPOINT_ID (JSON
 * lines) to the logger. */
void rp_settings_apply_log(const struct rp_settings *s);

/* Copies one of settings.def's Markdown strings to out without its
 * backticks ("`a` b" becomes "a b"), cut to fit; always terminates out. */
void rp_settings_plain(const char *md, char *out, size_t len);

#endif
