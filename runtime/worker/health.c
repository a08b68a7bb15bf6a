/* health.c - see health.h. */
#include "worker/health.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/log.h"
#include "base/rp.h"

#define GIB (1024.0 * 1024.0 * 1024.0)

/* Writes v as Python's repr() of a float does ("4.0", "99.999",
 * "100000.0", "1e+16"): the fewest digits that read back to v, in fixed
 * notation unless the exponent is below -4 or above 15. */
static void pyfloat(char *out, size_t n, double v)
{
  int prec = 1, exp;
  for (; prec < 17; prec++) {
    snprintf(out, n, "%.*e", prec - 1, v);
    if (strtod(out, NULL) == v)
      break;
  }
  snprintf(out, n, "%.*e", prec - 1, v);
  exp = atoi(strchr(out, 'e') ? strchr(out, 'e') + 1 : "0");
  if (exp < -4 || exp > 15 || v != v) {
    snprintf(out, n, "%.*g", prec, v);
    return;
  }
  snprintf(out, n, "%.*f", prec - 1 - exp > 0 ? prec - 1 - exp : 0, v);
  if (!strchr(out, '.') && strlen(out) + 3 <= n)
    strcat(out, ".0");
}

/* Python's check: a failure fills reason with "RuntimeError: " + fmt. */
static int fail(char *reason, size_t len, const char *fmt, ...)
  __attribute__((format(printf, 3, 4)));

static int fail(char *reason, size_t len, const char *fmt, ...)
{
  va_list ap;
  int k = snprintf(reason, len, "RuntimeError: ");
  va_start(ap, fmt);
  if (k >= 0 && (size_t)k < len)
    vsnprintf(reason + k, len - (size_t)k, fmt, ap);
  va_end(ap);
  return RP_EIO;
}

static int check_memory(const struct rp_health_options *o, char *reason,
                        size_t len)
{
  const char *path = o->meminfo ? o->meminfo : "/proc/meminfo";
  FILE *f = fopen(path, "r");
  char line[256], want[32];
  double total_kb = 0, avail_kb = 0, v;
  if (!f)
    return fail(reason, len, "Failed to read memory info: %s: %s", path,
                strerror(errno));
  while (fgets(line, sizeof(line), f)) {
    if (sscanf(line, "MemTotal: %lf", &v) == 1)
      total_kb = v;
    else if (sscanf(line, "MemAvailable: %lf", &v) == 1)
      avail_kb = v;
  }
  fclose(f);
  /* /proc/meminfo counts kB; GB here is GiB, as the Python SDK */
  pyfloat(want, sizeof(want), o->min_memory_gb);
  if (avail_kb / (1024.0 * 1024.0) < o->min_memory_gb)
    return fail(reason, len, "Insufficient memory: %.2fGB available, "
                "%sGB required", avail_kb / (1024.0 * 1024.0), want);
  rp_log(RP_LOG_INFO, NULL, "Memory check passed: %.2fGB available (of "
         "%.2fGB total)", avail_kb / (1024.0 * 1024.0),
         total_kb / (1024.0 * 1024.0));
  return RP_OK;
}

static int check_disk(const struct rp_health_options *o, char *reason,
                      size_t len)
{
  const char *path = o->disk_path ? o->disk_path : "/";
  struct statvfs st;
  double total, free_gb, percent;
  char want[32];
  if (statvfs(path, &st) != 0)
    return fail(reason, len, "Could not check disk space: %s filesystem "
                "not found", path);
  total = (double)st.f_blocks * (double)st.f_frsize / GIB;
  free_gb = (double)st.f_bavail * (double)st.f_frsize / GIB;
  percent = total > 0 ? 100 * (free_gb / total) : 0;
  pyfloat(want, sizeof(want), o->min_disk_percent);
  if (percent < o->min_disk_percent)
    return fail(reason, len, "Insufficient disk space: %.2fGB free "
                "(%.1f%%), %s%% required", free_gb, percent, want);
  rp_log(RP_LOG_INFO, NULL, "Disk space check passed: %.2fGB free (%.1f%% "
         "available)", free_gb, percent);
  return RP_OK;
}

/* Splits "host:port" or "[v6]:port" into host and port. Returns 0 or -1. */
static int split_target(const char *target, char *host, size_t hlen,
                        char *port, size_t plen)
{
  const char *colon = strrchr(target, ':');
  const char *h = target;
  size_t n;
  if (!colon || !colon[1] || strlen(colon + 1) >= plen)
    return -1;
  n = (size_t)(colon - target);
  if (n >= 2 && h[0] == '[' && h[n - 1] == ']') {
    h++;
    n -= 2;
  }
  if (n == 0 || n >= hlen)
    return -1;
  memcpy(host, h, n);
  host[n] = '\0';
  strcpy(port, colon + 1);
  return 0;
}

/* One non-blocking connect to ai, bounded by deadline (rp_clock_now()
 * time). Returns 0 when connected, else an errno value (ETIMEDOUT). */
static int try_connect(const struct addrinfo *ai, double deadline)
{
  int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
                  ai->ai_protocol);
  int e = 0;
  socklen_t elen = sizeof(e);
  if (fd < 0)
    return errno;
  if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0)
    e = errno;
  else if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
    e = errno;
    while (e == EINPROGRESS || e == EINTR) {
      struct pollfd p = { .fd = fd, .events = POLLOUT };
      double left = deadline - rp_clock_now();
      int r;
      if (left <= 0) {
        e = ETIMEDOUT;
        break;
      }
      r = poll(&p, 1, (int)(left * 1000) + 1);
      if (r < 0 && errno == EINTR)
        continue;
      if (r < 0)
        e = errno;
      else if (r == 0)
        e = ETIMEDOUT;
      else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &elen) != 0)
        e = errno;
      break;
    }
  }
  close(fd);
  return e;
}

static int check_network(const struct rp_health_options *o, char *reason,
                         size_t len)
{
  const char *target = o->network_target && *o->network_target
                         ? o->network_target : RP_HEALTH_NETWORK_TARGET;
  char host[256], port[16], secs[32];
  struct addrinfo hints, *res = NULL;
  double t0 = rp_clock_now();
  double deadline = t0 + o->network_timeout;
  int e = ECONNREFUSED, g;
  snprintf(secs, sizeof(secs), "%g", o->network_timeout);
  if (split_target(target, host, sizeof(host), port, sizeof(port)) != 0)
    return fail(reason, len, "Network connectivity check failed: bad "
                "target '%s' (want host:port)", target);
  memset(&hints, 0, sizeof(hints));
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  g = getaddrinfo(host, port, &hints, &res);
  if (g != 0)
    return fail(reason, len, "Network connectivity check failed: %s",
                gai_strerror(g));
  for (const struct addrinfo *ai = res; ai; ai = ai->ai_next) {
    e = try_connect(ai, deadline);
    if (e == 0 || e == ETIMEDOUT)
      break;
  }
  freeaddrinfo(res);
  if (e == ETIMEDOUT)
    return fail(reason, len, "Network connectivity failed: Timeout "
                "connecting to %s:%s (%ss)", host, port, secs);
  if (e == ECONNREFUSED)
    return fail(reason, len, "Network connectivity failed: Connection "
                "refused to %s:%s", host, port);
  if (e != 0)
    return fail(reason, len, "Network connectivity check failed: %s",
                strerror(e));
  rp_log(RP_LOG_INFO, NULL, "Network connectivity passed: Connected to %s "
         "(%.0fms)", host, (rp_clock_now() - t0) * 1000);
  return RP_OK;
}

int rp_health_run(const struct rp_health_options *o, char *check,
                  size_t checklen, char *reason, size_t reasonlen)
{
  static const struct {
    const char *name;
    int (*run)(const struct rp_health_options *, char *, size_t);
  } checks[] = {
    { "_memory_check", check_memory },
    { "_disk_check", check_disk },
    { "_network_check", check_network },
  };
  for (size_t i = 0; i < sizeof(checks) / sizeof(checks[0]); i++) {
    rp_log(RP_LOG_DEBUG, NULL, "Executing fitness check: %s",
           checks[i].name);
    if (checks[i].run(o, reason, reasonlen) != RP_OK) {
      snprintf(check, checklen, "%s", checks[i].name);
      return RP_EIO;
    }
  }
  return RP_OK;
}
