/* test_take.c - the job loop's count of free places and its memory of
 * stops asked for jobs it did not know yet (worker/take.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/check.h"
#include "worker/serverless_int.h"

static struct post *post(enum post_kind kind, size_t len)
{
  struct post *p = calloc(1, sizeof(*p));
  p->kind = kind;
  p->len = len;
  return p;
}

/* A finished job whose posts are kinds[0..n) of the given lengths. */
static struct job *finished(const enum post_kind *kinds, const size_t *lens,
                            int n)
{
  struct job *j = calloc(1, sizeof(*j));
  for (int i = 0; i < n; i++) {
    struct post *p = post(kinds[i], lens[i]);
    if (j->tail)
      j->tail->next = p;
    else
      j->head = p;
    j->tail = p;
  }
  j->finished = 1;
  return j;
}

static void free_job(struct job *j)
{
  while (j->head) {
    struct post *p = j->head;
    j->head = p->next;
    free(p);
  }
  free(j);
}

/* A large result being delivered keeps its job's place; a small one, or
 * a large one still behind stream partials that retry, does not. */
static void a_big_result_holds_its_place_only_while_it_goes(void)
{
  static struct state s;
  const enum post_kind final_only[] = { P_FINAL };
  const enum post_kind behind[] = { P_STREAM, P_STREAM, P_FINAL };
  const size_t big[] = { (size_t)2 << 20 };
  const size_t small[] = { 100 };
  const size_t partials_then_big[] = { 10, 10, (size_t)2 << 20 };
  struct job *j;
  memset(&s, 0, sizeof(s));
  s.concurrency = 2;
  CHECK_INT(2, rp_take_free_slots(&s, 0));
  CHECK_INT(1, rp_take_free_slots(&s, 1));

  j = finished(final_only, big, 1);
  s.jobs = j;
  CHECK_INT(1, rp_take_free_slots(&s, 0));
  free_job(j);

  j = finished(final_only, small, 1);
  s.jobs = j;
  CHECK_INT(2, rp_take_free_slots(&s, 0));
  free_job(j);

  j = finished(behind, partials_then_big, 3);
  s.jobs = j;
  CHECK_INT(2, rp_take_free_slots(&s, 0));
  /* Once the partials are gone, the result is the next to go. */
  {
    struct post *p = j->head;
    j->head = p->next->next;
    free(p->next);
    free(p);
  }
  CHECK_INT(1, rp_take_free_slots(&s, 0));
  free_job(j);

  j = finished(final_only, big, 1);
  j->running = 1;               /* not finished: counted as running */
  s.jobs = j;
  CHECK_INT(1, rp_take_free_slots(&s, 1));
  free_job(j);
  s.jobs = NULL;
}

/* At concurrency 1 a finished job keeps the one place while any of its
 * posts is left, partials or a small result, as the Python SDK takes the
 * next job only once they are sent. */
static void at_concurrency_1_every_post_holds_the_place(void)
{
  static struct state s;
  const enum post_kind partials[] = { P_STREAM, P_FINAL };
  const size_t small[] = { 10, 100 };
  struct job *j = finished(partials, small, 2);
  memset(&s, 0, sizeof(s));
  s.concurrency = 1;
  s.jobs = j;
  CHECK_INT(0, rp_take_free_slots(&s, 0));
  {
    struct post *p = j->head;       /* the partial is delivered */
    j->head = p->next;
    free(p);
  }
  CHECK_INT(0, rp_take_free_slots(&s, 0));
  free(j->head);                    /* and the result */
  j->head = j->tail = NULL;
  CHECK_INT(1, rp_take_free_slots(&s, 0));
  free_job(j);
  s.jobs = NULL;
}

static struct job *tracked(struct state *s, const char *id, size_t len)
{
  struct job *j = calloc(1, sizeof(*j));
  j->id = malloc(len + 1);
  memcpy(j->id, id, len);
  j->id[len] = '\0';
  j->id_len = len;
  rp_post_track_job(s, j, 0, 0);
  return j;
}

/* A stop asked before the loop knew of the job (an executor took it in
 * the place of one that ended) marks the job once it is known, so that
 * the stuck check counts from the ask; other jobs, and the same job known
 * a second time, are not marked. Ids are compared whole, NUL bytes too. */
static void a_stop_asked_before_the_job_is_known_marks_it(void)
{
  static struct state s;
  struct job *a, *b, *c;
  memset(&s, 0, sizeof(s));
  rp_take_stop_unknown(&s, "job-a\0x", 7);
  rp_take_stop_unknown(&s, "job-b", 5);
  a = tracked(&s, "job-a\0x", 7);
  CHECK(a->stop_asked > 0);
  c = tracked(&s, "job-a", 5);
  CHECK(c->stop_asked == 0);
  rp_post_remove_job(&s, c);
  rp_post_remove_job(&s, a);
  a = tracked(&s, "job-a\0x", 7);
  CHECK(a->stop_asked == 0);
  rp_post_remove_job(&s, a);
  /* The ring keeps the newest STOP_MEMO asks. */
  for (int i = 0; i < STOP_MEMO; i++) {
    char id[32];
    snprintf(id, sizeof(id), "other-%d", i);
    rp_take_stop_unknown(&s, id, strlen(id));
  }
  b = tracked(&s, "job-b", 5);
  CHECK(b->stop_asked == 0);
  rp_post_remove_job(&s, b);
  b = tracked(&s, "other-3", 7);
  CHECK(b->stop_asked > 0);
  rp_post_remove_job(&s, b);
  rp_take_forget_stops(&s);
  CHECK_INT(0, s.njobs);
}

int main(void)
{
  RUN(a_big_result_holds_its_place_only_while_it_goes);
  RUN(at_concurrency_1_every_post_holds_the_place);
  RUN(a_stop_asked_before_the_job_is_known_marks_it);
  return check_summary();
}
