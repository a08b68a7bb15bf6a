/*
 * test_buf.c - unit tests of buf.c: growth, caps, self-appends, the
 * terminator, printf, steal, and allocation through a lua_Alloc-style
 * function (the runpod.Buffer case) with its failures.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "tests/check.h"
#include "base/rp.h"

/* The cap of the tests through an allocator: runpod.Buffer's 1 GiB. */
#define BIG ((size_t)1 << 30)

/* An allocator that fails once 'left' allocations have succeeded
 * (left < 0: never fails), and counts the live blocks. */
struct counting {
  int left;
  int live;
};

static void *test_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
  struct counting *c = ud;
  void *p;
  (void)osize;
  if (nsize == 0) {
    if (ptr)
      c->live--;
    free(ptr);
    return NULL;
  }
  if (c->left == 0)
    return NULL;
  if (c->left > 0)
    c->left--;
  p = realloc(ptr, nsize);
  if (p && !ptr)
    c->live++;
  return p;
}

static void test_append_grows(void)
{
  struct counting c = { -1, 0 };
  struct rp_buf b;
  rp_buf_init_alloc(&b, BIG, test_alloc, &c);
  for (int i = 0; i < 1000; i++)
    CHECK_INT(RP_OK, rp_buf_append(&b, "abc", 3));
  CHECK_INT(3000, b.len);
  CHECK(b.cap > b.len);
  CHECK(memcmp(b.data + 2997, "abc", 3) == 0);
  CHECK_INT(0, b.data[b.len]);      /* terminated */
  rp_buf_free(&b);
  rp_buf_free(&b);                 /* idempotent */
  CHECK_INT(0, c.live);
  CHECK(!b.data);
}

static void test_append_self(void)
{
  struct counting c = { -1, 0 };
  struct rp_buf b;
  rp_buf_init_alloc(&b, BIG, test_alloc, &c);
  CHECK_INT(RP_OK, rp_buf_append(&b, "0123456789", 10));
  for (int i = 0; i < 6; i++)        /* each doubling moves the data */
    CHECK_INT(RP_OK, rp_buf_append(&b, b.data, b.len));
  CHECK_INT(640, b.len);
  CHECK(memcmp(b.data + 630, "0123456789", 10) == 0);
  rp_buf_free(&b);
  CHECK_INT(0, c.live);
}

static void test_reserve_cap(void)
{
  struct counting c = { -1, 0 };
  struct rp_buf b;
  rp_buf_init_alloc(&b, BIG, test_alloc, &c);
  CHECK_INT(RP_ETOOBIG, rp_buf_reserve(&b, BIG + 1));
  CHECK_INT(RP_ETOOBIG, rp_buf_reserve(&b, (size_t)-1));
  CHECK_INT(RP_OK, rp_buf_append(&b, "x", 1));
  CHECK_INT(RP_ETOOBIG, rp_buf_reserve(&b, BIG));
  CHECK_INT(1, b.len);
  rp_buf_free(&b);
  CHECK_INT(0, c.live);
}

static void test_alloc_failure_keeps_contents(void)
{
  struct counting c = { 1, 0 };
  struct rp_buf b;
  rp_buf_init_alloc(&b, BIG, test_alloc, &c);
  CHECK_INT(RP_OK, rp_buf_append(&b, "hello", 5));
  CHECK_INT(RP_ENOMEM, rp_buf_reserve(&b, 1000));
  CHECK_INT(5, b.len);
  CHECK(memcmp(b.data, "hello", 5) == 0);
  rp_buf_free(&b);
  CHECK_INT(0, c.live);
}

/* Growth keeps to the cap: the last growth stops at max + 1 (the
 * terminator), and a buffer at its cap takes no more. */
static void test_growth_stops_at_cap(void)
{
  struct counting c = { -1, 0 };
  struct rp_buf b;
  rp_buf_init_alloc(&b, 100, test_alloc, &c);
  CHECK_INT(RP_OK, rp_buf_append(&b, "0123456789", 10));
  while (b.len < 100)
    CHECK_INT(RP_OK, rp_buf_append(&b, "x", 1));
  CHECK_INT(101, b.cap);
  CHECK_INT(RP_ETOOBIG, rp_buf_append(&b, "x", 1));
  CHECK_INT(100, b.len);
  rp_buf_free(&b);
  CHECK_INT(0, c.live);
}

/* Grows by half at least: appending a byte at a time reallocates
 * O(log n) times, not n / 64. */
static void test_growth_is_geometric(void)
{
  struct rp_buf b = RP_BUF_INIT(1 << 20);
  size_t cap = 0;
  int grows = 0;
  for (int i = 0; i < 100000; i++) {
    CHECK_INT(RP_OK, rp_buf_append(&b, "y", 1));
    if (b.cap != cap) {
      CHECK(cap == 0 || b.cap >= cap + cap / 2);
      cap = b.cap;
      grows++;
    }
  }
  CHECK(grows < 30);
  rp_buf_free(&b);
}

static void test_text(void)
{
  struct rp_buf b = RP_BUF_INIT(64);
  char *s;
  size_t n = 99;
  CHECK_INT(RP_OK, rp_buf_puts(&b, "a="));
  CHECK_INT(RP_OK, rp_buf_printf(&b, "%d,%s", 42, "z"));
  CHECK_STR("a=42,z", b.data);
  CHECK_INT(RP_ETOOBIG, rp_buf_printf(&b, "%070d", 1));
  CHECK_STR("a=42,z", b.data);
  rp_buf_clear(&b);
  CHECK_INT(0, b.len);
  CHECK_STR("", b.data);
  CHECK_INT(RP_OK, rp_buf_append(&b, "xyz", 3));
  rp_buf_set_len(&b, 2);
  CHECK_STR("xy", b.data);
  s = rp_buf_steal(&b, &n);
  CHECK_STR("xy", s);
  CHECK_INT(2, n);
  CHECK(!b.data && b.len == 0 && b.cap == 0);
  free(s);
  s = rp_buf_steal(&b, &n);        /* nothing appended: an empty string */
  CHECK_STR("", s);
  CHECK_INT(0, n);
  free(s);
  rp_buf_free(&b);
  rp_buf_free(NULL);
}

int main(void)
{
  RUN(test_append_grows);
  RUN(test_append_self);
  RUN(test_reserve_cap);
  RUN(test_alloc_failure_keeps_contents);
  RUN(test_growth_stops_at_cap);
  RUN(test_growth_is_geometric);
  RUN(test_text);
  return check_summary();
}
