/*
 * settings_doc.h - the tables of docs/configuration.md ("markdown") and
 * the OPTIONS and ENVIRONMENT sections of docs/runpod-worker.1 ("man"),
 * printed from settings.def. `make docs` pastes them into those files
 * (runtime/base/splice_docs.lua); spec/docs_spec.lua checks that they match.
 */
#ifndef RP_SETTINGS_DOC_H
#define RP_SETTINGS_DOC_H

#include <stdio.h>

/* Prints the part in 'format' ("markdown" or "man") to out. Returns 0, or
 * -1 for an unknown format. */
int rp_settings_print_doc(FILE *out, const char *format);

#endif
