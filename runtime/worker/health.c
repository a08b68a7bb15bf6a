/* health.c - see health.h. */
#include "worker/health.h"

#include <ctype.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/log.h"
#include "base/rp.h"

#define GIB (1024.0 * 1024.0 * 1024.0)

extern char **environ;

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

/* A name lookup on a thread of its own, so that the check's deadline
 * bounds it: getaddrinfo() has no timeout of its own (the resolver's
 * comes from resolv.conf, 5 s per try and server by default). The waiter
 * may give up first; then the thread, still blocked in getaddrinfo(),
 * frees the lookup when it ends: whoever is last frees it. */
struct lookup {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int done;                  /* the thread has stored rc and res */
  int abandoned;             /* the waiter left: the thread frees */
  int rc;                    /* getaddrinfo()'s result */
  struct addrinfo *res;
  char host[256];
  char port[16];
};

/* Frees l and the addresses it still holds. */
static void lookup_free(struct lookup *l)
{
  if (l->res)
    freeaddrinfo(l->res);
  pthread_cond_destroy(&l->cv);
  pthread_mutex_destroy(&l->mu);
  free(l);
}

/* The TCP addresses of host:port (a numeric port); flags: extra
 * ai_flags. Returns getaddrinfo()'s result. */
static int tcp_addresses(const char *host, const char *port, int flags,
                         struct addrinfo **res)
{
  struct addrinfo hints;
  memset(&hints, 0, sizeof(hints));
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV | flags;
  return getaddrinfo(host, port, &hints, res);
}

static void *lookup_main(void *arg)
{
  struct lookup *l = arg;
  struct addrinfo *res = NULL;
  int rc = tcp_addresses(l->host, l->port, 0, &res);
  int abandoned;
  pthread_mutex_lock(&l->mu);
  l->rc = rc;
  l->res = res;
  l->done = 1;
  abandoned = l->abandoned;
  pthread_cond_signal(&l->cv);
  pthread_mutex_unlock(&l->mu);
  if (abandoned)
    lookup_free(l);
  return NULL;
}

/* Resolves host:port for a TCP connection before deadline (rp_clock_now()
 * time). A numeric host is converted at once; a name is looked up on a
 * detached thread with every signal blocked. Returns 0 with the addresses
 * in *res (caller frees with freeaddrinfo()), ETIMEDOUT when the deadline
 * passed first, or another errno value with a message in err. */
static int resolve(const char *host, const char *port, double deadline,
                   struct addrinfo **res, char *err, size_t errlen)
{
  struct lookup *l;
  pthread_attr_t attr;
  pthread_t t;
  sigset_t all, old;
  struct timespec at;
  int rc = tcp_addresses(host, port, AI_NUMERICHOST, res);
  int e = 0;
  if (rc != EAI_NONAME) {
    snprintf(err, errlen, "%s", rc ? gai_strerror(rc) : "");
    return rc ? EINVAL : 0;
  }
  l = calloc(1, sizeof(*l));
  if (l && pthread_mutex_init(&l->mu, NULL) != 0) {
    free(l);
    l = NULL;
  }
  if (l && rp_clock_cond_init(&l->cv) != 0) {
    pthread_mutex_destroy(&l->mu);
    free(l);
    l = NULL;
  }
  if (!l) {
    snprintf(err, errlen, "cannot start a lookup");
    return EAGAIN;
  }
  snprintf(l->host, sizeof(l->host), "%s", host);
  snprintf(l->port, sizeof(l->port), "%s", port);
  sigfillset(&all);
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  e = pthread_create(&t, &attr, lookup_main, l);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  pthread_attr_destroy(&attr);
  if (e != 0) {
    lookup_free(l);
    snprintf(err, errlen, "cannot start a lookup: %s", strerror(e));
    return e;
  }
  rp_clock_deadline(&at, (long long)(deadline * 1000));
  pthread_mutex_lock(&l->mu);
  while (!l->done && e != ETIMEDOUT)
    e = pthread_cond_timedwait(&l->cv, &l->mu, &at);
  if (!l->done) {
    l->abandoned = 1;        /* the thread frees it */
    pthread_mutex_unlock(&l->mu);
    return ETIMEDOUT;
  }
  pthread_mutex_unlock(&l->mu);
  rc = l->rc;
  *res = l->res;
  l->res = NULL;
  lookup_free(l);
  snprintf(err, errlen, "%s", rc ? gai_strerror(rc) : "");
  return rc ? EINVAL : 0;
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
  char host[256], port[16], secs[32], why[256];
  struct addrinfo *res = NULL;
  double t0 = rp_clock_now();
  double deadline = t0 + o->network_timeout;
  int e = ECONNREFUSED;
  snprintf(secs, sizeof(secs), "%g", o->network_timeout);
  if (split_target(target, host, sizeof(host), port, sizeof(port)) != 0)
    return fail(reason, len, "Network connectivity check failed: bad "
                "target '%s' (want host:port)", target);
  /* One deadline for the lookup and the connection, as Python's
   * asyncio.wait_for() around open_connection(). */
  e = resolve(host, port, deadline, &res, why, sizeof(why));
  if (e != 0 && e != ETIMEDOUT)
    return fail(reason, len, "Network connectivity check failed: %s", why);
  for (const struct addrinfo *ai = res; ai; ai = ai->ai_next) {
    e = try_connect(ai, deadline);
    if (e == 0 || e == ETIMEDOUT)
      break;
  }
  if (res)
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


/* How long nvidia-smi and nvcc may take, as the Python SDK. */
#define TOOL_TIMEOUT 5.0
#define TOOL_OUTPUT 65536

/* Runs argv (found on PATH) with stdout into out (NUL-terminated, cut at
 * outlen - 1 bytes) and stderr discarded, for at most 'seconds'. Returns
 * its exit status, TOOL_TIMEDOUT, or -1 when it could not run or was
 * killed. */
#define TOOL_TIMEDOUT (-2)
static int run_for(char *const argv[], double seconds, char *out,
                   size_t outlen)
{
  int fds[2], status = -1, timed_out = 0;
  size_t len = 0;
  double deadline = rp_clock_now() + seconds;
  pid_t pid;
  posix_spawn_file_actions_t fa;
  out[0] = '\0';
  if (pipe(fds) != 0)
    return -1;
  /* posix_spawnp, not fork: executor threads may be running */
  if (posix_spawn_file_actions_init(&fa) != 0) {
    close(fds[0]);
    close(fds[1]);
    return -1;
  }
  posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addclose(&fa, fds[0]);
  posix_spawn_file_actions_addclose(&fa, fds[1]);
  if (posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ) != 0)
    pid = -1;
  posix_spawn_file_actions_destroy(&fa);
  close(fds[1]);
  if (pid < 0) {
    close(fds[0]);
    return -1;
  }
  for (;;) {
    struct pollfd p = { .fd = fds[0], .events = POLLIN };
    double left = deadline - rp_clock_now();
    char tmp[4096];
    ssize_t n;
    int r = left > 0 ? poll(&p, 1, (int)(left * 1000) + 1) : 0;
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0) {
      kill(pid, SIGKILL);
      timed_out = 1;
      break;
    }
    n = read(fds[0], tmp, sizeof(tmp));
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    if (len + 1 < outlen) {
      size_t k = (size_t)n < outlen - 1 - len ? (size_t)n : outlen - 1 - len;
      memcpy(out + len, tmp, k);
      len += k;
      out[len] = '\0';
    }
  }
  close(fds[0]);
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
    continue;
  if (timed_out)
    return TOOL_TIMEDOUT;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int run_tool(char *const argv[], char *out, size_t outlen)
{
  return run_for(argv, TOOL_TIMEOUT, out, outlen);
}

/* Whether a GPU is there: nvidia-smi runs and says "NVIDIA-SMI". */
static int gpu_available(char *out, size_t outlen)
{
  char *argv[] = { "nvidia-smi", NULL };
  return run_tool(argv, out, outlen) == 0 && strstr(out, "NVIDIA-SMI");
}

/* The first "X.Y" of s into *major, *minor. Returns 0 or -1. */
static int parse_version(const char *s, int *major, int *minor)
{
  for (; s && *s; s++)
    if (*s >= '0' && *s <= '9' && sscanf(s, "%d.%d", major, minor) == 2)
      return 0;
    else if (*s >= '0' && *s <= '9')
      while (s[1] >= '0' && s[1] <= '9')
        s++;
  return -1;
}


/* The GPU test binary's verdict, as the Python SDK parses it: "Found N
 * GPUs", one "memory allocation test passed" per healthy GPU, and any
 * line saying failed/error/cannot/unable is an error (the first
 * max_errors of them quoted). Returns RP_OK or fills msg. */
static int parse_gpu_test(char *out, int max_errors, char *msg, size_t len)
{
  int found = 0, passed = 0, errors = 0;
  size_t k = (size_t)snprintf(msg, len, "GPU memory allocation test failed");
  char cuda[64] = "unknown";
  for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
    char low[512];
    size_t i = 0;
    while (*line == ' ' || *line == '\t' || *line == '\r')
      line++;
    for (; line[i] && i + 1 < sizeof(low); i++)
      low[i] = (char)tolower((unsigned char)line[i]);
    low[i] = '\0';
    if (!*line)
      continue;
    if (strncmp(line, "CUDA Driver Version:", 20) == 0)
      snprintf(cuda, sizeof(cuda), "%s", line + 20 + strspn(line + 20, " "));
    else if (strncmp(line, "Found", 5) == 0 && strstr(line, "GPUs"))
      found = atoi(line + 5);
    if (strstr(low, "memory allocation test passed"))
      passed++;
    if (strstr(low, "failed") || strstr(low, "error") ||
        strstr(low, "cannot") || strstr(low, "unable")) {
      if (errors < max_errors && k < len)
        k += (size_t)snprintf(msg + k, len - k, "%s%s",
                              errors ? "; " : ": ", line);
      errors++;
    }
  }
  if (passed > 0 && passed == found && errors == 0) {
    rp_log(RP_LOG_INFO, NULL, "GPU binary test passed: %d GPU(s) healthy "
           "(CUDA %s)", passed, cuda);
    return RP_OK;
  }
  return RP_EIO;
}

/* nvidia-smi --list-gpus names at least one GPU. */
static int gpu_fallback(char *out, size_t outlen, char *msg, size_t len)
{
  char *argv[] = { "nvidia-smi", "--list-gpus", NULL };
  int rc = run_for(argv, 10, out, outlen), n = 0;
  if (rc == TOOL_TIMEDOUT)
    return snprintf(msg, len, "nvidia-smi timed out"), RP_EIO;
  if (rc != 0)
    return snprintf(msg, len, "nvidia-smi --list-gpus failed: exit %d", rc),
           RP_EIO;
  for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n"))
    if (line[strspn(line, " \t\r")])
      n++;
  if (n == 0)
    return snprintf(msg, len, "No GPUs detected by nvidia-smi"), RP_EIO;
  rp_log(RP_LOG_INFO, NULL, "GPU fallback check passed: %d GPU(s) detected "
         "(Note: Memory allocation NOT tested)", n);
  return RP_OK;
}

/* The GPU test binary (RUNPOD_BINARY_GPU_TEST_PATH), falling back to
 * nvidia-smi --list-gpus when it is missing or fails. */
static int check_gpu_health(const struct rp_health_options *o, char *reason,
                            size_t len)
{
  char *out = malloc(TOOL_OUTPUT);
  char binerr[1024] = "", fallerr[512] = "";
  const char *path = o->gpu_test_path;
  struct stat st;
  int attempted = 0, rc;
  if (!out)
    return fail(reason, len, "GPU health check: out of memory");
  if (!path || !*path || stat(path, &st) != 0 || !S_ISREG(st.st_mode))
    rp_log(RP_LOG_DEBUG, NULL, "GPU binary not found: gpu_test binary not "
           "found in package");
  else if (access(path, X_OK) != 0)
    rp_log(RP_LOG_DEBUG, NULL, "GPU binary not executable: %s", path);
  else {
    char *argv[] = { (char *)path, NULL };
    attempted = 1;
    rc = run_for(argv, o->gpu_test_timeout, out, TOOL_OUTPUT);
    if (rc == TOOL_TIMEDOUT)
      snprintf(binerr, sizeof(binerr), "GPU test binary timed out after "
               "%gs", o->gpu_test_timeout);
    else if (rc < 0)
      snprintf(binerr, sizeof(binerr), "GPU test binary execution failed: "
               "cannot run %s", path);
    else if (parse_gpu_test(out, o->gpu_max_errors, binerr,
                            sizeof(binerr)) == RP_OK) {
      free(out);
      return RP_OK;
    }
    rp_log(RP_LOG_WARN, NULL, "GPU binary check failed: %s", binerr);
  }
  rc = gpu_fallback(out, TOOL_OUTPUT, fallerr, sizeof(fallerr));
  free(out);
  if (rc == RP_OK)
    return RP_OK;
  if (attempted)
    return fail(reason, len, "GPU health check failed. Binary test: %s. "
                "Fallback test: %s", binerr, fallerr);
  return fail(reason, len, "GPU health check failed (binary disabled/"
              "missing, fallback failed): %s", fallerr);
}

/* The CUDA version line: nvcc's first line saying "release" or "version",
 * else nvidia-smi's "CUDA Version: X.Y". Returns 0 or -1 (unknown). */
static int cuda_version(char *buf, size_t len, int *major, int *minor)
{
  char *nvcc[] = { "nvcc", "--version", NULL };
  char *smi[] = { "nvidia-smi", NULL };
  if (run_tool(nvcc, buf, len) == 0) {
    for (char *p = buf; *p; p++)
      *p = (char)tolower((unsigned char)*p);
    for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n"))
      if (strstr(line, "release") || strstr(line, "version"))
        return parse_version(line, major, minor);
  }
  if (run_tool(smi, buf, len) == 0) {
    const char *v = strstr(buf, "CUDA Version:");
    if (v)
      return parse_version(v + strlen("CUDA Version:"), major, minor);
    rp_log(RP_LOG_DEBUG, NULL, "nvidia-smi output found but couldn't parse "
           "CUDA version");
  }
  return -1;
}

static int check_cuda_version(const struct rp_health_options *o,
                              char *reason, size_t len)
{
  char *buf = malloc(TOOL_OUTPUT);
  const char *want = o->min_cuda_version && *o->min_cuda_version
                       ? o->min_cuda_version : RP_HEALTH_MIN_CUDA;
  int major = 0, minor = 0, wmajor = 0, wminor = 0, rc = RP_OK;
  if (!buf)
    return fail(reason, len, "CUDA version check: out of memory");
  if (cuda_version(buf, TOOL_OUTPUT, &major, &minor) != 0) {
    rp_log(RP_LOG_WARN, NULL, "Could not determine CUDA version, skipping "
           "check");
    free(buf);
    return RP_OK;
  }
  free(buf);
  parse_version(want, &wmajor, &wminor);
  if (major < wmajor || (major == wmajor && minor < wminor))
    rc = fail(reason, len, "CUDA version too old: %d.%d found, %d.%d "
              "required", major, minor, wmajor, wminor);
  else
    rp_log(RP_LOG_INFO, NULL, "CUDA version check passed: %d.%d (minimum: "
           "%d.%d)", major, minor, wmajor, wminor);
  return rc;
}

/* The part of the CUDA driver API the init check needs (cuda.h's types:
 * CUresult is an int, CUdevice an int, CUcontext a pointer, CUdeviceptr
 * an unsigned 64-bit integer on 64-bit hosts). */
struct cuda {
  void *lib;
  int (*init)(unsigned int);
  int (*count)(int *);
  int (*get)(int *, int);
  int (*ctx_create)(void **, unsigned int, int);
  int (*ctx_destroy)(void *);
  int (*mem_alloc)(unsigned long long *, size_t);
  int (*mem_free)(unsigned long long);
  int (*error_string)(int, const char **);
  int (*copy_htod)(unsigned long long, const void *, size_t);
  int (*sync)(void);
};

/* The words for a CUresult: cuGetErrorString's, else its number. */
static const char *cu_error(const struct cuda *c, int r, char *buf,
                            size_t len)
{
  const char *s = NULL;
  if (c->error_string && c->error_string(r, &s) == 0 && s)
    return s;
  snprintf(buf, len, "CUDA error %d", r);
  return buf;
}

static int load_cuda(struct cuda *c, char *reason, size_t len)
{
  memset(c, 0, sizeof(*c));
  c->lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!c->lib)
    return fail(reason, len, "CUDA initialization failed: cannot load "
                "libcuda.so.1: %s", dlerror());
  /* dlsym returns void *; POSIX guarantees function pointers fit */
#define SYM(field, name) \
  *(void **)(&c->field) = dlsym(c->lib, name)
  SYM(init, "cuInit");
  SYM(count, "cuDeviceGetCount");
  SYM(get, "cuDeviceGet");
  SYM(ctx_create, "cuCtxCreate_v2");
  SYM(ctx_destroy, "cuCtxDestroy_v2");
  SYM(mem_alloc, "cuMemAlloc_v2");
  SYM(mem_free, "cuMemFree_v2");
  SYM(error_string, "cuGetErrorString");
  SYM(copy_htod, "cuMemcpyHtoD_v2");
  SYM(sync, "cuCtxSynchronize");
#undef SYM
  if (!c->init || !c->count || !c->get || !c->ctx_create ||
      !c->ctx_destroy || !c->mem_alloc || !c->mem_free)
    return fail(reason, len, "CUDA initialization failed: libcuda.so.1 "
                "lacks the driver API");
  return RP_OK;
}

/* CUDA_ERROR_NO_DEVICE: CUDA sees no GPU (CUDA_VISIBLE_DEVICES="" or
 * "-1" hides them all, though nvidia-smi lists them). */
#define CU_NO_DEVICE 100

/* Whether CUDA sees no GPU at all: cuInit says CUDA_ERROR_NO_DEVICE or
 * no device is counted. The Python SDK skips its CUDA checks then (torch
 * finds CUDA unavailable), so that a worker run without GPUs on a GPU
 * host is not stopped; so do _cuda_init_check and _benchmark_check, with
 * a WARN. Sets *r to cuInit's result. */
static int cuda_sees_no_gpu(const struct cuda *c, const char *check, int *r)
{
  int n = 0;
  *r = c->init(0);
  if (*r != CU_NO_DEVICE && (*r != 0 || c->count(&n) != 0 || n > 0))
    return 0;
  rp_log(RP_LOG_WARN, NULL, "CUDA sees no GPU (CUDA_VISIBLE_DEVICES may "
         "hide them): skipping %s, as the Python SDK does", check);
  return 1;
}

/* Every device: a context and a 4 KiB allocation, as the Python SDK's
 * torch.zeros(1024) on each device. */
static int check_cuda_init(const struct rp_health_options *o, char *reason,
                           size_t len)
{
  struct cuda c;
  char eb[32];
  int n = 0, r = 0, rc = load_cuda(&c, reason, len);
  (void)o;
  if (rc == RP_OK && cuda_sees_no_gpu(&c, "_cuda_init_check", &r)) {
    dlclose(c.lib);
    return RP_OK;
  }
  if (rc == RP_OK && r != 0)
    rc = fail(reason, len, "CUDA initialization failed: cuInit: %s",
              cu_error(&c, r, eb, sizeof(eb)));
  if (rc == RP_OK && (r = c.count(&n)) != 0)
    rc = fail(reason, len, "CUDA initialization failed: "
              "cuDeviceGetCount: %s", cu_error(&c, r, eb, sizeof(eb)));
  for (int i = 0; rc == RP_OK && i < n; i++) {
    int dev = 0;
    void *ctx = NULL;
    unsigned long long mem = 0;
    const char *step = "cuDeviceGet";
    r = c.get(&dev, i);
    if (r == 0) {
      step = "cuCtxCreate";
      r = c.ctx_create(&ctx, 0, dev);
    }
    if (r == 0) {
      step = "cuMemAlloc";
      r = c.mem_alloc(&mem, 4096);
      if (r == 0) {
        step = "cuMemFree";
        r = c.mem_free(mem);
      }
      c.ctx_destroy(ctx);
    }
    if (r != 0)
      rc = fail(reason, len, "Failed to initialize GPU %d: %s: %s", i, step,
                cu_error(&c, r, eb, sizeof(eb)));
  }
  if (rc == RP_OK)
    rp_log(RP_LOG_INFO, NULL, "CUDA initialization passed: %d device(s) "
           "initialized successfully", n);
  if (c.lib)
    dlclose(c.lib);
  return rc;
}

/* The bytes the benchmark allocates on the GPU and copies there. */
#define BENCH_BYTES ((size_t)64 << 20)

/* Python times a matrix multiply through torch or CuPy; here device 0
 * gets a context, a 64 MiB allocation and a host-to-device copy of it,
 * which must end within RUNPOD_GPU_BENCHMARK_TIMEOUT seconds. */
static int check_gpu_benchmark(const struct rp_health_options *o,
                               char *reason, size_t len)
{
  struct cuda c;
  char eb[32];
  void *ctx = NULL, *host = NULL;
  unsigned long long mem = 0;
  const char *step = "cuInit";
  double t0, ms, max_ms = o->gpu_benchmark_timeout * 1000;
  int dev = 0, r = 0, rc = load_cuda(&c, reason, len);
  if (rc == RP_OK && (!c.copy_htod || !c.sync))
    rc = fail(reason, len, "GPU benchmark failed: libcuda.so.1 lacks "
              "cuMemcpyHtoD_v2");
  if (rc == RP_OK && cuda_sees_no_gpu(&c, "_benchmark_check", &r))
    goto done;
  if (rc == RP_OK && (host = calloc(1, BENCH_BYTES)) == NULL)
    rc = fail(reason, len, "GPU benchmark failed: out of host memory");
  if (rc != RP_OK)
    goto done;
  t0 = rp_clock_now();
  if (r == 0) {
    step = "cuDeviceGet";
    r = c.get(&dev, 0);
  }
  if (r == 0) {
    step = "cuCtxCreate";
    r = c.ctx_create(&ctx, 0, dev);
  }
  if (r == 0) {
    step = "cuMemAlloc";
    r = c.mem_alloc(&mem, BENCH_BYTES);
    if (r == 0) {
      step = "cuMemcpyHtoD";
      r = c.copy_htod(mem, host, BENCH_BYTES);
      if (r == 0) {
        step = "cuCtxSynchronize";
        r = c.sync();
      }
      c.mem_free(mem);
    }
    c.ctx_destroy(ctx);
  }
  ms = (rp_clock_now() - t0) * 1000;
  if (r != 0)
    rc = fail(reason, len, "GPU benchmark failed: %s: %s", step,
              cu_error(&c, r, eb, sizeof(eb)));
  else if (ms > max_ms)
    rc = fail(reason, len, "GPU compute too slow: 64 MiB allocation and "
              "copy took %.0fms (max: %.0fms)", ms, max_ms);
  else
    rp_log(RP_LOG_INFO, NULL, "GPU compute benchmark passed: 64 MiB "
           "allocation and copy completed in %.0fms (%.0f MB/s)", ms,
           ms > 0 ? BENCH_BYTES / 1e3 / ms : 0.0);
done:
  free(host);
  if (c.lib)
    dlclose(c.lib);
  return rc;
}

int rp_health_run(const struct rp_health_options *o, char *check,
                  size_t checklen, char *reason, size_t reasonlen)
{
  /* the Python SDK's order: its GPU check is registered before the
   * system checks, whose GPU part comes last */
  static const struct {
    const char *name;
    int (*run)(const struct rp_health_options *, char *, size_t);
    int gpu;
  } checks[] = {
    { "_gpu_health_check", check_gpu_health, 1 },
    { "_memory_check", check_memory, 0 },
    { "_disk_check", check_disk, 0 },
    { "_network_check", check_network, 0 },
    { "_cuda_version_check", check_cuda_version, 1 },
    { "_cuda_init_check", check_cuda_init, 1 },
    { "_benchmark_check", check_gpu_benchmark, 1 },
  };
  int gpu = 0;
  char *out = NULL;
  if (o->skip_gpu)
    rp_log(RP_LOG_DEBUG, NULL, "GPU fitness checks disabled via environment "
           "(RUNPOD_SKIP_GPU_CHECK)");
  else if ((out = malloc(TOOL_OUTPUT)) != NULL &&
           gpu_available(out, TOOL_OUTPUT))
    gpu = 1;
  else
    rp_log(RP_LOG_DEBUG, NULL, "No GPU detected, skipping GPU-specific "
           "fitness checks");
  free(out);
  for (size_t i = 0; i < sizeof(checks) / sizeof(checks[0]); i++) {
    if (checks[i].gpu && !gpu)
      continue;
    rp_log(RP_LOG_DEBUG, NULL, "Executing fitness check: %s",
           checks[i].name);
    if (checks[i].run(o, reason, reasonlen) != RP_OK) {
      snprintf(check, checklen, "%s", checks[i].name);
      return RP_EIO;
    }
  }
  return RP_OK;
}
