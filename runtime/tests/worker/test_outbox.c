/* test_outbox.c - the executors' outbox (worker/outbox.h). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "tests/check.h"
#include "worker/outbox.h"

static int wakes;

static void count_wake(void *ud)
{
  (void)ud;
  wakes++;
}

static char *text(const char *s)
{
  char *p = malloc(strlen(s) + 1);
  strcpy(p, s);
  return p;
}

static void keeps_order_and_fields(void)
{
  struct rp_outbox o;
  struct rp_out *m;
  wakes = 0;
  rp_outbox_init(&o, count_wake, NULL);
  CHECK(rp_outbox_take(&o) == NULL);
  rp_outbox_push(&o, 3, "job-1", 5, &(struct rp_out){ .kind = RP_OUT_STREAM,
                 .body = text("{\"a\":1}"), .len = 7 });
  rp_outbox_push(&o, 4, "job-1", 5, &(struct rp_out){ .kind = RP_OUT_DONE,
                 .body = text("{}"), .len = 2, .is_stream = 1,
                 .failed = 1 });
  rp_outbox_push(&o, 0, NULL, 0, &(struct rp_out){
                 .kind = RP_OUT_CONCURRENCY, .value = 7 });
  CHECK_INT(1, wakes);          /* the first push; the taker takes all */
  m = rp_outbox_take(&o);
  CHECK(m != NULL);
  CHECK_INT(RP_OUT_STREAM, m->kind);
  CHECK_INT(3, m->executor);
  CHECK_STR("job-1", m->job_id);
  CHECK_STR("{\"a\":1}", m->body);
  CHECK_INT(7, m->len);
  CHECK_INT(RP_OUT_DONE, m->next->kind);
  CHECK_INT(1, m->next->is_stream);
  CHECK_INT(1, m->next->failed);
  CHECK_INT(RP_OUT_CONCURRENCY, m->next->next->kind);
  CHECK(m->next->next->job_id == NULL);
  CHECK_INT(7, m->next->next->value);
  CHECK(m->next->next->next == NULL);
  CHECK(rp_outbox_take(&o) == NULL);
  rp_out_free(m);
  /* taken: the next push onto the empty queue wakes the taker again */
  rp_outbox_push(&o, 0, NULL, 0, &(struct rp_out){
                 .kind = RP_OUT_CONCURRENCY, .value = 1 });
  CHECK_INT(2, wakes);
  rp_out_free(rp_outbox_take(&o));
  rp_outbox_destroy(&o);
}

static void destroy_frees_untaken(void)
{
  struct rp_outbox o;
  rp_outbox_init(&o, count_wake, NULL);
  rp_outbox_push(&o, 0, "job-2", 5, &(struct rp_out){ .kind = RP_OUT_DONE,
                 .body = text("{\"output\":1}"), .len = 12 });
  rp_outbox_destroy(&o);      /* valgrind/ASan: nothing leaks */
  rp_out_free(NULL);
}

#define PUSHERS 4
#define EACH 1000

static void *pusher(void *arg)
{
  struct rp_outbox *o = arg;
  for (int i = 0; i < EACH; i++)
    rp_outbox_push(o, i, "job", 3, &(struct rp_out){ .kind = RP_OUT_PROGRESS,
                   .body = text("1"), .len = 1 });
  return NULL;
}

/* Each executor's messages come out in the order it pushed them. */
static void pushers_keep_their_order(void)
{
  struct rp_outbox o;
  pthread_t t[PUSHERS];
  struct rp_out *all;
  int n = 0;
  int last = -1;
  int ordered = 1;
  wakes = 0;
  rp_outbox_init(&o, count_wake, NULL);
  /* one pusher at a time keeps 'wakes' race free; the order per pusher
   * is what is checked */
  for (int i = 0; i < PUSHERS; i++) {
    pthread_create(&t[i], NULL, pusher, &o);
    pthread_join(t[i], NULL);
  }
  all = rp_outbox_take(&o);
  for (struct rp_out *m = all; m; m = m->next, n++) {
    if (m->executor == 0)
      last = -1;
    if (m->executor != last + 1)
      ordered = 0;
    last = m->executor;
  }
  CHECK_INT(PUSHERS * EACH, n);
  CHECK_INT(1, wakes);          /* nothing was taken in between */
  CHECK(ordered);
  rp_out_free(all);
  rp_outbox_destroy(&o);
}

int main(void)
{
  RUN(keeps_order_and_fields);
  RUN(destroy_frees_untaken);
  RUN(pushers_keep_their_order);
  return check_summary();
}
