/* settings_doc.c - see settings_doc.h. */
#include "base/settings_doc.h"

#include <string.h>

#include "base/args.h"
#include "base/settings.h"

static void markdown(FILE *out)
{
  size_t i;
  fputs("| kind | name | default | meaning |\n|---|---|---|---|\n", out);
  for (i = 0; i < rp_flag_count; i++) {
    const struct rp_flag_info *f = &rp_flag_list[i];
    fputs("| flag | ", out);
    if (f->alias)
      fprintf(out, "`%s`, ", f->alias);
    fprintf(out, "`%s%s%s` | %s | %s |\n", f->name, f->metavar ? " " : "",
            f->metavar ? f->metavar : "", f->dflt, f->doc);
  }
  for (i = 0; i < rp_env_count; i++)
    fprintf(out, "| env | `%s` | %s | %s |\n", rp_env_list[i].name,
            rp_env_list[i].dflt_doc, rp_env_list[i].doc);
}

/* Writes Markdown text as roff: `code` in bold, '-' and '\' escaped. */
static void roff(FILE *out, const char *md)
{
  int code = 0;
  for (; *md; md++) {
    if (*md == '`') {
      fputs(code ? "\\fR" : "\\fB", out);
      code = !code;
    } else if (*md == '-') {
      fputs("\\-", out);
    } else if (*md == '\\') {
      fputs("\\e", out);
    } else {
      fputc(*md, out);
    }
  }
  if (code)
    fputs("\\fR", out);
}

/* The text of an entry: what it does, then its default. */
static void man_text(FILE *out, const char *doc, const char *dflt)
{
  roff(out, doc);
  if (*dflt) {
    fputs(" (default: ", out);
    roff(out, dflt);
    fputc(')', out);
  }
  fputs(".\n", out);
}

static void man(FILE *out)
{
  size_t i;
  fputs(".SH OPTIONS\n"
        "Values follow as the next argument or after\n"
        ".BR = .\n"
        "As with the Python SDK's argparse, a flag may be shortened to a\n"
        "prefix of its name that no other flag's name begins with\n"
        "(\\-\\-rp_serve); a prefix of several is a usage error.\n"
        "An empty\n"
        ".B \\-\\-test_input\n"
        "counts as not given.\n"
        "Other arguments are left, in order, in the script's\n"
        ".B arg\n"
        "table.\n", out);
  for (i = 0; i < rp_flag_count; i++) {
    const struct rp_flag_info *f = &rp_flag_list[i];
    fputs(".TP\n", out);
    if (f->alias) {
      fputs(".BR ", out);
      roff(out, f->alias);
      fputs(" \", \" ", out);
      roff(out, f->name);
    } else {
      fputs(f->metavar ? ".BI " : ".B ", out);
      roff(out, f->name);
      if (f->metavar)
        fprintf(out, " \" %s\"", f->metavar);
    }
    fputc('\n', out);
    man_text(out, f->doc, f->dflt);
  }
  fputs(".SH ENVIRONMENT\n", out);
  for (i = 0; i < rp_env_count; i++) {
    fputs(".TP\n.B ", out);
    roff(out, rp_env_list[i].name);
    fputc('\n', out);
    man_text(out, rp_env_list[i].doc, rp_env_list[i].dflt_doc);
  }
}

int rp_settings_print_doc(FILE *out, const char *format)
{
  if (strcmp(format, "markdown") == 0)
    markdown(out);
  else if (strcmp(format, "man") == 0)
    man(out);
  else
    return -1;
  return 0;
}
