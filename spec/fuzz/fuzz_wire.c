/*
 * spec/fuzz/fuzz_wire.c - libFuzzer target: URL templates and ids from
 * the environment and the job server through wire.c's substitutions, and
 * the whole input as a job-take answer (rp_wire_lone_job).
 * Input: template, NUL, id, NUL, worker id.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *part(const uint8_t **p, const uint8_t *end)
{
  const uint8_t *z = memchr(*p, 0, (size_t)(end - *p));
  size_t n = z ? (size_t)(z - *p) : (size_t)(end - *p);
  char *s = malloc(n + 1);
  if (!s)
    abort();
  memcpy(s, *p, n);
  s[n] = '\0';
  *p += z ? n + 1 : n;
  return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  const uint8_t *p = data;
  const uint8_t *end = data + size;
  char *tmpl = part(&p, end);
  char *id = part(&p, end);
  char *worker = part(&p, end);
  char *urls[6];
  char *lone = NULL;
  size_t lone_len = 0;
  if (rp_wire_lone_job((const char *)data, size, &lone, &lone_len) !=
      (lone != NULL))
    abort();                        /* 1 exactly when an id came back */
  free(lone);
  urls[0] = rp_wire_take_url(tmpl, worker, 1 + (int)(size % 5), size & 1);
  urls[1] = rp_wire_stop_url(tmpl, worker);
  urls[2] = rp_wire_done_url(tmpl, id, strlen(id), worker, size & 2);
  urls[3] = rp_wire_stream_url(tmpl, id, strlen(id), worker);
  urls[4] = rp_wire_ping_url(tmpl, worker, id, "0.1.0");
  urls[5] = rp_wire_replace(tmpl, id, worker);
  /* NULL is a valid answer (a URL past 64 KiB); a crash or leak is not. */
  for (int i = 0; i < 6; i++)
    free(urls[i]);
  free(tmpl);
  free(id);
  free(worker);
  return 0;
}
