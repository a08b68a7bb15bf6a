/* jobstore_index.c - where the store holds its jobs: random ids, the
 * three lists, the id hash and the table of workers seen (jobstore_int.h).
 * Nothing here locks: every caller holds the store's mutex. */
#include "server/jobstore_int.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/rng.h"

/* ---- random ids ---- */

void rp_jobstore_seed_ids(struct rp_jobstore *js)
{
  uint64_t seed = 0;
  int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    if (read(fd, &seed, sizeof(seed)) != (ssize_t)sizeof(seed))
      seed = 0;
    close(fd);
  }
  seed ^= (uint64_t)rp_clock_now_ms() * 0x9E3779B97F4A7C15ULL;
  seed ^= (uint64_t)getpid() << 32;
  js->rng = seed ? seed : 0x853c49e6748fea9bULL;
}

/* Writes a UUID-v4-shaped id (36 chars + NUL) to out. */
void rp_jobstore_new_id(struct rp_jobstore *js, char *out)
{
  uint64_t a = rp_rng_next(&js->rng);
  uint64_t b = rp_rng_next(&js->rng);
  snprintf(out, RP_JOBSTORE_ID_LEN + 1, "%08x-%04x-4%03x-%04x-%012llx",
           (unsigned)(a >> 32), (unsigned)(a >> 16) & 0xffffu,
           (unsigned)a & 0xfffu, (unsigned)(0x8000u | ((b >> 48) & 0x3fffu)),
           (unsigned long long)(b & 0xffffffffffffULL));
}

/* ---- lists and the id hash ---- */

void rp_jobstore_list_remove(struct rp_jobstore *js, struct job *j)
{
  struct list *l = &js->lists[j->list];
  if (j->prev)
    j->prev->next = j->next;
  else
    l->head = j->next;
  if (j->next)
    j->next->prev = j->prev;
  else
    l->tail = j->prev;
  j->prev = NULL;
  j->next = NULL;
  l->count--;
}

void rp_jobstore_list_push(struct rp_jobstore *js, int which, struct job *j,
                           int front)
{
  struct list *l = &js->lists[which];
  j->list = which;
  if (front) {
    j->prev = NULL;
    j->next = l->head;
    if (l->head)
      l->head->prev = j;
    else
      l->tail = j;
    l->head = j;
  } else {
    j->next = NULL;
    j->prev = l->tail;
    if (l->tail)
      l->tail->next = j;
    else
      l->head = j;
    l->tail = j;
  }
  l->count++;
}

static size_t hash_id(const char *s, size_t nbuckets)
{
  uint64_t h = 1469598103934665603ULL;   /* FNV-1a */
  while (*s) {
    h ^= (unsigned char)*s++;
    h *= 1099511628211ULL;
  }
  return (size_t)(h & (nbuckets - 1));
}

struct job *rp_jobstore_find(struct rp_jobstore *js, const char *id)
{
  struct job *j;
  if (!id || strlen(id) != RP_JOBSTORE_ID_LEN)
    return NULL;
  for (j = js->buckets[hash_id(id, js->nbuckets)]; j; j = j->hnext)
    if (strcmp(j->id, id) == 0)
      return j;
  return NULL;
}

struct job *rp_jobstore_find_named(struct rp_jobstore *js, const char *as,
                                   int (*keep)(const struct job *))
{
  static const int lists[] = { ON_RUNNING, ON_FINISHED, ON_QUEUE };
  size_t i;
  /* Only jobs a caller named carry 'as' (realtime), a few at a time. */
  if (js->named == 0 || !as)
    return NULL;
  for (i = 0; i < sizeof(lists) / sizeof(lists[0]); i++)
    for (struct job *j = js->lists[lists[i]].head; j; j = j->next)
      if (j->as && strcmp(j->as, as) == 0 && (!keep || keep(j)))
        return j;
  return NULL;
}

struct job *rp_jobstore_find_taken(struct rp_jobstore *js, const char *id)
{
  struct job *j = rp_jobstore_find(js, id);
  return j && !j->as ? j : rp_jobstore_find_named(js, id, NULL);
}

const char *rp_jobstore_worker_id_of(const struct job *j)
{
  return j->as ? j->as : j->id;
}

/* Doubles the bucket array; on allocation failure keeps the old one
 * (chains just get longer). */
static void grow(struct rp_jobstore *js)
{
  size_t n = js->nbuckets * 2;
  size_t i;
  struct job **b = calloc(n, sizeof(*b));
  if (!b)
    return;
  for (i = 0; i < js->nbuckets; i++) {
    struct job *j = js->buckets[i];
    while (j) {
      struct job *next = j->hnext;
      size_t h = hash_id(j->id, n);
      j->hnext = b[h];
      b[h] = j;
      j = next;
    }
  }
  free(js->buckets);
  js->buckets = b;
  js->nbuckets = n;
}

void rp_jobstore_hold(struct rp_jobstore *js, struct job *j)
{
  size_t h;
  if (js->njobs >= js->nbuckets)
    grow(js);
  h = hash_id(j->id, js->nbuckets);
  j->hnext = js->buckets[h];
  js->buckets[h] = j;
  js->njobs++;
}

static void hash_remove(struct rp_jobstore *js, struct job *j)
{
  struct job **p = &js->buckets[hash_id(j->id, js->nbuckets)];
  while (*p && *p != j)
    p = &(*p)->hnext;
  if (*p)
    *p = j->hnext;
  j->hnext = NULL;
}

void rp_jobstore_free_chunks(struct job *j)
{
  while (j->chunks) {
    struct chunk *c = j->chunks;
    j->chunks = c->next;
    free(c);
  }
  j->chunks_tail = NULL;
  j->chunk_bytes = 0;
}

void rp_jobstore_job_free(struct job *j)
{
  if (!j)
    return;
  rp_jobstore_free_chunks(j);
  free(j->take);
  free(j->as);
  free(j->webhook);
  free(j->output);
  free(j->error);
  pthread_cond_destroy(&j->cv);
  free(j);
}

/* Forgets a job: off its list and the hash. Freed now, or by the last
 * thread still waiting on it. */
void rp_jobstore_forget(struct rp_jobstore *js, struct job *j)
{
  rp_jobstore_list_remove(js, j);
  hash_remove(js, j);
  js->njobs--;
  if (j->as)
    js->named--;
  if (j->stop_pending) {
    j->stop_pending = 0;
    js->stops_pending--;
  }
  if (j->waiters > 0) {
    j->removed = 1;
    pthread_cond_broadcast(&j->cv);
  } else {
    rp_jobstore_job_free(j);
  }
}

/* ---- workers ---- */

struct worker *rp_jobstore_worker_find(struct rp_jobstore *js,
                                       const char *id)
{
  size_t i;
  for (i = 0; i < js->nworkers; i++)
    if (strcmp(js->workers[i].id, id) == 0)
      return &js->workers[i];
  return NULL;
}

void rp_jobstore_seen(struct rp_jobstore *js, const char *id, long long now)
{
  struct worker *w;
  size_t i;
  if (!id || !*id || strlen(id) > RP_JOBSTORE_MAX_ID)
    return;
  w = rp_jobstore_worker_find(js, id);
  if (!w && js->nworkers < RP_JOBSTORE_MAX_WORKERS) {
    w = &js->workers[js->nworkers++];
  } else if (!w) {
    /* Full: the worker heard from least recently gives up its slot. */
    w = &js->workers[0];
    for (i = 1; i < js->nworkers; i++)
      if (js->workers[i].seen < w->seen)
        w = &js->workers[i];
  }
  if (strcmp(w->id, id) != 0) {
    snprintf(w->id, sizeof(w->id), "%s", id);
    w->unhealthy = 0;
  }
  w->seen = now;
}
