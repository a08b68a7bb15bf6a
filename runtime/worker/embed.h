/*
 * embed.h - the Lua parts of the runpod module, compiled into the binary
 * (the build generates the table from the files in lua/runpod/), so that the
 * binary runs without any installed Lua files.
 */
#ifndef RP_EMBED_H
#define RP_EMBED_H

#include <stddef.h>

struct rp_embedded {
  const char *module;     /* e.g. "runpod.serverless" */
  const char *chunkname;  /* e.g. "@runpod/serverless.lua" */
  const char *code;
  size_t len;
};

/* Terminated by an entry whose module is NULL. */
extern const struct rp_embedded rp_embedded[];

#endif
