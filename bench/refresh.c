/*
 * bench/refresh.c - the cost of one VM refresh: close the lua_State and
 * build it again from the handler script (what refresh_worker does between
 * two jobs). Prints the mean and the median over N refreshes.
 *
 *   build/bench/refresh handlers/echo.lua [N]
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "base/log.h"
#include "base/rp.h"
#include "worker/vm.h"

static double now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp(const void *a, const void *b)
{
  double x = *(const double *)a;
  double y = *(const double *)b;
  return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
  struct rp_vm_options o = { 0 };
  struct rp_vm vm;
  char err[512];
  int n = argc > 2 ? atoi(argv[2]) : 2000;
  double *t;
  double total = 0;
  if (argc < 2 || n < 1)
    return 2;
  rp_log_set_level(RP_LOG_WARN);
  o.script = argv[1];
  if (rp_vm_open(&vm, &o, err, sizeof(err)) != RP_OK) {
    fprintf(stderr, "%s\n", err);
    return 1;
  }
  t = calloc((size_t)n, sizeof(double));
  if (!t)
    return 1;
  for (int i = 0; i < n; i++) {
    double t0 = now();
    if (rp_vm_refresh(&vm, err, sizeof(err)) != RP_OK) {
      fprintf(stderr, "%s\n", err);
      return 1;
    }
    t[i] = now() - t0;
    total += t[i];
  }
  qsort(t, (size_t)n, sizeof(double), cmp);
  printf("refreshes %d mean_us %.1f median_us %.1f p99_us %.1f "
         "heap_bytes %zu\n", n, total / n * 1e6, t[n / 2] * 1e6,
         t[(int)(n * 0.99)] * 1e6, vm.alloc.used);
  rp_vm_close(&vm);
  free(t);
  return 0;
}
