/* test_take.c - the job loop's count of free places (worker/take.c). */
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

int main(void)
{
  RUN(a_big_result_holds_its_place_only_while_it_goes);
  return check_summary();
}
