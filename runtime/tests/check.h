/*
 * check.h - the assertions of the C unit tests.
 *
 * Each test binary defines static test functions and calls RUN() on each
 * from main(), then returns check_summary(). A failed CHECK prints file,
 * line, both expressions and both values, marks the current test failed and
 * goes on. The last line is "N passed, M failed" counted in tests, which the
 * suite runner adds up.
 */
#ifndef RP_CHECK_H
#define RP_CHECK_H

#include <stdio.h>
#include <string.h>

static int check_failed_now;
static int check_passed;
static int check_failed;

#define CHECK(cond)                                                     \
  do {                                                                  \
    if (!(cond)) {                                                      \
      printf("  %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); \
      check_failed_now = 1;                                             \
    }                                                                   \
  } while (0)

#define CHECK_INT(want, got)                                            \
  do {                                                                  \
    long long w_ = (long long)(want);                                   \
    long long g_ = (long long)(got);                                    \
    if (w_ != g_) {                                                     \
      printf("  %s:%d: %s == %s: want %lld, got %lld\n", __FILE__,      \
             __LINE__, #want, #got, w_, g_);                            \
      check_failed_now = 1;                                             \
    }                                                                   \
  } while (0)

#define CHECK_STR(want, got)                                            \
  do {                                                                  \
    const char *w_ = (want);                                            \
    const char *g_ = (got);                                             \
    if (!w_ || !g_ || strcmp(w_, g_) != 0) {                            \
      printf("  %s:%d: %s == %s: want \"%s\", got \"%s\"\n", __FILE__,  \
             __LINE__, #want, #got, w_ ? w_ : "(null)",                 \
             g_ ? g_ : "(null)");                                       \
      check_failed_now = 1;                                             \
    }                                                                   \
  } while (0)

#define RUN(fn)                                                         \
  do {                                                                  \
    check_failed_now = 0;                                               \
    fn();                                                               \
    if (check_failed_now) {                                             \
      check_failed++;                                                   \
      printf("FAIL %s\n", #fn);                                         \
    } else {                                                            \
      check_passed++;                                                   \
      printf("ok   %s\n", #fn);                                         \
    }                                                                   \
  } while (0)

static inline int check_summary(void)
{
  printf("%d passed, %d failed\n", check_passed, check_failed);
  return check_failed ? 1 : 0;
}

#endif
