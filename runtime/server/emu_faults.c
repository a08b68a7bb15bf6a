/* emu_faults.c - the emulator's faults: the specs of --fault and of the
 * control API, and the draw and the answer of a fault on a worker route
 * (emulator_int.h). */
#include "server/emulator_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/rng.h"
#include "base/rp.h"

const char *const rp_emu_route_names[RP_EMU_NROUTES] = {
  "job-take", "job-done", "job-stream", "ping", "job-stop"
};

const char *const rp_emu_fault_names[] = {
  "none", "500", "429", "garbage", "close", "delay", "trickle", "cut"
};

#define NFAULTS (sizeof(rp_emu_fault_names) / sizeof(rp_emu_fault_names[0]))

int rp_emu_route_index(const char *name, size_t n)
{
  int i;
  for (i = 0; i < RP_EMU_NROUTES; i++)
    if (strlen(rp_emu_route_names[i]) == n &&
        memcmp(rp_emu_route_names[i], name, n) == 0)
      return i;
  return -1;
}

/* Parses "KIND[,share=P][,first=K][,ms=N]" into *f. */
int rp_emu_parse_fault_body(const char *s, struct rp_emu_fault *f, char *err,
                            size_t errlen)
{
  struct rp_emu_fault nf = { RP_FAULT_NONE, 1.0, 0, 0 };
  size_t k;
  size_t n = strcspn(s, ",");
  int found = 0;
  for (k = 0; k < NFAULTS; k++) {
    if (strlen(rp_emu_fault_names[k]) == n &&
        memcmp(rp_emu_fault_names[k], s, n) == 0) {
      nf.kind = (enum rp_emu_fault_kind)k;
      found = 1;
    }
  }
  if (!found)
    return rp_fail(RP_EINVAL, err, errlen, "unknown fault kind '%.*s' "
                   "(none, 500, 429, garbage, close, delay, trickle, cut)", (int)n, s);
  s += n;
  while (*s == ',') {
    char *end;
    s++;
    errno = 0;
    if (strncmp(s, "share=", 6) == 0) {
      nf.share = strtod(s + 6, &end);
      if (end == s + 6 || nf.share < 0 || nf.share > 1)
        return rp_fail(RP_EINVAL, err, errlen,
                       "invalid share in '%s' (must be within [0, 1])", s);
    } else if (strncmp(s, "first=", 6) == 0) {
      nf.first = strtol(s + 6, &end, 10);
      if (end == s + 6 || errno || nf.first < 0)
        return rp_fail(RP_EINVAL, err, errlen,
                       "invalid count in '%s' (must be >= 0)", s);
    } else if (strncmp(s, "ms=", 3) == 0) {
      nf.delay_ms = strtol(s + 3, &end, 10);
      if (end == s + 3 || errno || nf.delay_ms < 0 ||
          nf.delay_ms > RP_EMU_MAX_DELAY_MS)
        return rp_fail(RP_EINVAL, err, errlen,
                       "invalid delay in '%s' (0..%d ms)", s,
                       RP_EMU_MAX_DELAY_MS);
    } else {
      return rp_fail(RP_EINVAL, err, errlen, "unknown fault option '%s' "
                     "(share=, first=, ms=)", s);
    }
    s = end;
  }
  if (*s)
    return rp_fail(RP_EINVAL, err, errlen, "trailing characters '%s'", s);
  *f = nf;
  return RP_OK;
}

int rp_emulator_parse_fault(const char *spec, struct rp_emulator_config *cfg,
                            char *err, size_t errlen)
{
  const char *eq = strchr(spec, '=');
  int r;
  if (!eq)
    return rp_fail(RP_EINVAL, err, errlen,
                   "invalid fault '%s' (ROUTE=KIND[,share=P][,first=K]"
                   "[,ms=N])", spec);
  r = rp_emu_route_index(spec, (size_t)(eq - spec));
  if (r < 0)
    return rp_fail(RP_EINVAL, err, errlen, "unknown fault route '%.*s' "
                   "(job-take, job-done, job-stream, ping, job-stop)",
                   (int)(eq - spec), spec);
  return rp_emu_parse_fault_body(eq + 1, &cfg->faults[r], err, errlen);
}

void rp_emu_put_fault(struct rp_buf *b, const struct rp_emu_fault *f)
{
  rp_buf_printf(b, "\"%s,share=%g,first=%ld,ms=%ld\"",
                rp_emu_fault_names[f->kind], f->share, f->first, f->delay_ms);
}

void rp_emu_seed_rng(struct rp_emulator *e, unsigned long seed)
{
  int i;
  e->rng = (uint64_t)seed * 0x9E3779B97F4A7C15ULL + 0x853c49e6748fea9bULL;
  if (!e->rng)
    e->rng = 1;
  for (i = 0; i < 4; i++)
    rp_rng_next(&e->rng);
}

/* Decides, under e->mu, whether this request of route r is hit. Returns
 * the fault kind and the delay. */
static enum rp_emu_fault_kind pick_fault(struct rp_emulator *e, int r,
                                         long *delay_ms)
{
  const struct rp_emu_fault *f = &e->faults[r];
  int hit = 0;
  e->requests[r]++;
  e->fault_seen[r]++;
  if (f->kind == RP_FAULT_NONE)
    return RP_FAULT_NONE;
  if (f->first > 0)
    hit = e->fault_seen[r] <= f->first;
  else if (f->share >= 1.0)
    hit = 1;
  else if (f->share > 0)
    hit = (double)(rp_rng_next(&e->rng) >> 11) / 9007199254740992.0 < f->share;
  if (!hit)
    return RP_FAULT_NONE;
  e->fault_hits[r]++;
  *delay_ms = f->delay_ms;
  return f->kind;
}

int rp_emu_apply_fault(struct rp_emulator *e, int r,
                       struct rp_httpd_response *res,
                       enum rp_emu_fault_kind *kind)
{
  long delay = 0;
  pthread_mutex_lock(&e->mu);
  *kind = pick_fault(e, r, &delay);
  pthread_mutex_unlock(&e->mu);
  switch (*kind) {
  case RP_FAULT_500:
    rp_emu_reply_error(res, 500, "injected fault");
    return 1;
  case RP_FAULT_429:
    rp_emu_reply_error(res, 429, "injected fault: too many requests");
    return 1;
  case RP_FAULT_GARBAGE:
    rp_emu_reply(res, 200, "<html>this is not JSON {");
    res->content_type = "text/html";
    return 1;
  case RP_FAULT_CLOSE:
    res->status = 0;
    return 1;
  case RP_FAULT_CUT:
    /* A job the server never finishes sending: JSON cut mid-string. */
    rp_emu_reply(res, 200, "{\"id\":\"cut-fault\",\"input\":{\"text\":\"");
    while (res->body.len < 4096 && rp_buf_puts(&res->body, "x") == RP_OK)
      ;
    res->cut = 64;
    return 1;
  case RP_FAULT_DELAY:
    rp_jobstore_sleep(e->js, delay);
    return 0;
  case RP_FAULT_TRICKLE:
    res->trickle_ms = delay > 0 ? delay : 1000;
    return 0;
  case RP_FAULT_NONE:
    return 0;
  }
  return 0;
}
