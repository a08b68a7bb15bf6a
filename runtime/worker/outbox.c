/* outbox.c - see outbox.h. */
#include "worker/outbox.h"

#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "net/req.h"

void rp_out_free(struct rp_out *m)
{
  while (m) {
    struct rp_out *next = m->next;
    free(m->job_id);
    free(m->body);
    rp_req_free(m->attempt);
    free(m);
    m = next;
  }
}

void rp_outbox_init(struct rp_outbox *o, void (*wake)(void *), void *ud)
{
  pthread_mutex_init(&o->mu, NULL);
  o->head = NULL;
  o->tail = NULL;
  o->wake = wake;
  o->wake_ud = ud;
  o->woken = 0;
  o->queued = 0;
  o->direct = NULL;
}

void rp_outbox_destroy(struct rp_outbox *o)
{
  rp_out_free(o->head);
  o->head = NULL;
  pthread_mutex_destroy(&o->mu);
}

void rp_outbox_push(struct rp_outbox *o, int executor, const char *job_id,
                    size_t id_len, const struct rp_out *what)
{
  struct rp_out *m = calloc(1, sizeof(*m));
  int wake;
  if (m && job_id) {
    m->job_id = malloc(id_len + 1);
    if (!m->job_id) {
      free(m);
      m = NULL;
    } else {
      memcpy(m->job_id, job_id, id_len);
      m->job_id[id_len] = '\0';
      m->job_id_len = id_len;
    }
  }
  if (!m) {
    rp_log(RP_LOG_ERROR, job_id, "out of memory: a message for the job "
           "server was lost");
    free(what->body);
    rp_req_free(what->attempt);
    return;
  }
  {
    char *id = m->job_id;
    size_t len = m->job_id_len;
    *m = *what;
    m->job_id = id;
    m->job_id_len = len;
    m->next = NULL;
  }
  m->executor = executor;
  pthread_mutex_lock(&o->mu);
  wake = !o->woken && (!what->lazy || ++o->queued >= RP_OUTBOX_LAZY_MAX);
  if (wake)
    o->woken = 1;
  if (o->tail)
    o->tail->next = m;
  else
    o->head = m;
  o->tail = m;
  pthread_mutex_unlock(&o->mu);
  /* A wake the taker has not answered yet serves this message too, as it
   * takes the whole queue when it does. One wake per token of 30 streams
   * was a third of a proxy worker's system calls. */
  if (wake)
    o->wake(o->wake_ud);
}

struct rp_out *rp_outbox_take(struct rp_outbox *o)
{
  struct rp_out *m;
  pthread_mutex_lock(&o->mu);
  m = o->head;
  o->head = NULL;
  o->tail = NULL;
  o->woken = 0;
  o->queued = 0;
  pthread_mutex_unlock(&o->mu);
  return m;
}
