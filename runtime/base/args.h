/*
 * args.h - the command-line flags of the Python SDK's worker, parsed
 * once for the binary and for the module under plain lua5.4.
 *
 * Flags take their value as the next argument or after '=' (as argparse
 * does): --rp_api_port 8000, --rp_api_port=8000. As argparse, a "--"
 * prefix of exactly one flag's name is that flag (--rp_serve); a prefix of
 * several is an error. An empty --test_input is none given, as in the
 * Python SDK. Flags this parser does not know are kept, in order, for the
 * handler script's 'arg' table. The flags are listed in settings.def.
 */
#ifndef RP_ARGS_H
#define RP_ARGS_H

#include <stddef.h>

struct rp_args {
  const char *test_input;    /* --test_input JSON, or NULL */
  const char *test_output;   /* --test_output JSON, or NULL */
  const char *log_level;     /* --rp_log_level, or NULL */
  const char *log_stream;    /* --rp_log_stream stdout|stderr, or NULL */
  const char *api_host;      /* --rp_api_host, default "localhost" */
  int api_port;              /* --rp_api_port, default 8000 */
  int api_concurrency;       /* --rp_api_concurrency; 0: not given */
  int serve_api;             /* --rp_serve_api given */
  int debugger;              /* --rp_debugger given */
  int help;                  /* --help or -h */
  int version;               /* --version */
  int nrest;                 /* arguments left for the script */
};

enum rp_flag_kind {
  RP_FLAG_STRING,
  RP_FLAG_PORT,              /* 1..65535 */
  RP_FLAG_COUNT,             /* 1..1000000 */
  RP_FLAG_SWITCH             /* takes no value */
};

/* The flags of settings.def, in its order. */
struct rp_flag_info {
  const char *name;
  const char *alias;         /* another spelling, or NULL */
  enum rp_flag_kind kind;
  const char *metavar;       /* the value's name, NULL for a switch */
  const char *dflt;          /* the default as the docs state it */
  const char *doc;           /* Markdown */
  size_t offset;             /* of its field in struct rp_args */
};

extern const struct rp_flag_info rp_flag_list[];
extern const size_t rp_flag_count;

/* Parses argv[0..argc) (the arguments after the script name). All strings
 * are borrowed from argv. Unknown arguments are stored in rest[], which
 * must have room for argc entries; their count is set in a->nrest.
 * Returns 0, or -1 with a message in err (a flag without its value, a
 * port that is not a number in 1..65535, an ambiguous prefix, ...). */
int rp_args_parse(struct rp_args *a, int argc, char **argv, char **rest,
                  char *err, size_t errlen);

/* Is 'arg', which the parser did not know, meant as one of our flags? True
 * for "--rp_..."/"--rp-..." and "--test..." (any spelling, with or without
 * "=value"), which a script's own flags are unlikely to be. */
int rp_args_looks_ours(const char *arg);

/* When 'arg', left for the script, looks like one of our flags mistyped,
 * writes the warning about it into buf ("unknown flag '--test-input' (did
 * you mean --test_input?); left in the script's arg table") and returns 1;
 * else returns 0. */
int rp_args_mistyped(const char *arg, char *buf, size_t len);

/* The known flag closest to 'arg' (edit distance, counting '-' and '_' as
 * the same letter, ignoring "=value"), e.g. "--test_input" for
 * "--test-input". Returns NULL when the closest one still differs in more
 * than a third of its letters, unless 'always' is set. Borrowed: a
 * string constant. */
const char *rp_args_suggest(const char *arg, int always);

/* Writes the flags' part of the usage text into buf (always terminated):
 * per flag its name, its value's name, what it does and its default,
 * wrapped at 79 columns. */
void rp_args_usage(char *buf, size_t len);

#endif
