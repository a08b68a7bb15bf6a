/* proc.c - see proc.h. */
#define _GNU_SOURCE
#include "base/proc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include "base/clock.h"
#include "base/log.h"
#include "base/rp.h"

extern char **environ;

/* How long rp_proc_stop waits after SIGKILL for the child to be reaped. */
#define KILL_WAIT_S 5.0
/* Without a pidfd, how often the supervisor looks for exits (ms). */
#define REAP_POLL_MS 100

struct linebuf {
  int fd;                    /* -1 once at EOF */
  size_t len;
  char data[RP_PROC_LINE_MAX];
};

struct child {
  int used;
  char name[RP_PROC_NAME_MAX];
  char **argv;               /* a copy, for rp_proc_same_argv */
  pid_t pid;
  int pidfd;                 /* -1 when the kernel has none */
  int running;
  int ready;
  int stopping;
  double stop_timeout;
  double kill_at;            /* stopped by rp_proc_term_all_async: when the
                                supervisor sends SIGKILL; 0: not so */
  char reason[128];
  struct linebuf out;
  struct linebuf err;
};

/* What a caller hands the supervisor thread to fork. */
struct spawn_req {
  const char *path;          /* resolved program */
  char *const *argv;
  char *const *envp;
  const char *cwd;
  int slot;
  int done;
  int rc;
  char err[256];
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static struct child kids[RP_PROC_MAX];
static int latest[RP_PROC_MAX];          /* spawn order, for rp_proc_find */
static unsigned long spawn_count;
static pthread_t thread;
static int thread_up;
static int atexit_set;
static int quitting;
static int wake_fd[2] = { -1, -1 };
static struct spawn_req *pending;
static void (*watch_fn)(void *, const char *, const char *);
static void *watch_ud;
/* Set by rp_proc_term_all_async (a signal handler); the supervisor acts. */
static volatile sig_atomic_t term_all;

static void wake(void)
{
  if (wake_fd[1] >= 0 && write(wake_fd[1], "x", 1) < 0)
    (void)0;                  /* full: the supervisor wakes anyway */
}

static void free_argv(char **argv)
{
  if (!argv)
    return;
  for (char **p = argv; *p; p++)
    free(*p);
  free(argv);
}

/* A NULL-terminated deep copy of v, or NULL when out of memory. */
static char **copy_list(const char *const *v, size_t extra)
{
  size_t n = 0;
  char **out;
  while (v && v[n])
    n++;
  out = calloc(n + extra + 1, sizeof(*out));
  if (!out)
    return NULL;
  for (size_t i = 0; i < n; i++) {
    out[i] = strdup(v[i]);
    if (!out[i]) {
      free_argv(out);
      return NULL;
    }
  }
  return out;
}

/* The worker's environment with spec's entries laid over it (or spec's
 * alone with clear_env). Caller owns the result; free with free_argv. */
static char **build_env(const struct rp_proc_spec *s)
{
  size_t n = 0;
  size_t k = 0;
  char **out;
  const char *const *base = s->clear_env ? NULL
                                         : (const char *const *)environ;
  while (base && base[n])
    n++;
  for (size_t i = 0; s->env && s->env[i]; i++)
    k++;
  out = calloc(n + k + 1, sizeof(*out));
  if (!out)
    return NULL;
  k = 0;
  for (size_t i = 0; i < n; i++) {
    const char *eq = strchr(base[i], '=');
    size_t nl = eq ? (size_t)(eq - base[i]) : strlen(base[i]);
    int replaced = 0;
    for (size_t j = 0; s->env && s->env[j]; j++)
      if (strncmp(s->env[j], base[i], nl) == 0 && s->env[j][nl] == '=')
        replaced = 1;
    if (replaced)
      continue;
    if (!(out[k++] = strdup(base[i])))
      goto oom;
  }
  for (size_t j = 0; s->env && s->env[j]; j++)
    if (!(out[k++] = strdup(s->env[j])))
      goto oom;
  return out;
oom:
  free_argv(out);
  return NULL;
}

/* Finds prog in the PATH of envp, the child's environment (or takes it as
 * given when it has a '/'). Writes the path into buf; returns 0, or an
 * errno value. */
static int resolve(const char *prog, char *const *envp, char *buf,
                   size_t len)
{
  const char *path = NULL;
  int found_eacces = 0;
  for (size_t i = 0; envp[i]; i++)
    if (strncmp(envp[i], "PATH=", 5) == 0)
      path = envp[i] + 5;
  if (strchr(prog, '/')) {
    snprintf(buf, len, "%s", prog);
    return access(buf, X_OK) == 0 ? 0 : errno;
  }
  if (!path || !*path)
    path = "/usr/local/bin:/usr/bin:/bin";
  while (*path) {
    const char *end = strchr(path, ':');
    size_t dl = end ? (size_t)(end - path) : strlen(path);
    struct stat st;
    snprintf(buf, len, "%.*s%s%s", (int)dl, path, dl ? "/" : "", prog);
    if (stat(buf, &st) == 0 && S_ISREG(st.st_mode)) {
      if (access(buf, X_OK) == 0)
        return 0;
      found_eacces = 1;
    }
    path += dl;
    if (*path == ':')
      path++;
  }
  return found_eacces ? EACCES : ENOENT;
}

/* In the child after fork: only async-signal-safe calls from here on. */
static void exec_child(const struct spawn_req *r, int out, int errfd,
                       int report, int null_fd, pid_t parent)
{
  sigset_t none;
  int e;
  long max;
  setpgid(0, 0);
#ifdef PR_SET_PDEATHSIG
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent)
    _exit(127);               /* the worker is already gone */
#else
  (void)parent;
#endif
  if (dup2(null_fd, 0) < 0 || dup2(out, 1) < 0 || dup2(errfd, 2) < 0)
    goto fail;
  max = sysconf(_SC_OPEN_MAX);
  if (max < 0 || max > 65536)
    max = 65536;
  for (int fd = 3; fd < max; fd++)
    if (fd != report)
      close(fd);
  if (r->cwd && chdir(r->cwd) != 0)
    goto fail;
  signal(SIGPIPE, SIG_DFL);
  signal(SIGXFSZ, SIG_DFL);
  signal(SIGTERM, SIG_DFL);
  signal(SIGINT, SIG_DFL);
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  execve(r->path, r->argv, r->envp);
fail:
  e = errno;
  if (write(report, &e, sizeof(e)) < 0)
    (void)0;
  _exit(127);
}

/* On the supervisor thread, mu held: forks r into kids[r->slot]. */
static void do_spawn(struct spawn_req *r)
{
  struct child *c = &kids[r->slot];
  int po[2] = { -1, -1 }, pe[2] = { -1, -1 }, pr[2] = { -1, -1 };
  int null_fd = -1;
  int e = 0;
  ssize_t got;
  pid_t self = getpid();
  pid_t pid;
  if (pipe2(po, O_CLOEXEC) != 0 || pipe2(pe, O_CLOEXEC) != 0 ||
      pipe2(pr, O_CLOEXEC) != 0 ||
      (null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0) {
    r->rc = rp_fail(RP_EIO, r->err, sizeof(r->err), "cannot make pipes: %s",
                    strerror(errno));
    goto done;
  }
  pid = fork();
  if (pid < 0) {
    r->rc = rp_fail(RP_EIO, r->err, sizeof(r->err), "fork: %s",
                    strerror(errno));
    goto done;
  }
  if (pid == 0)
    exec_child(r, po[1], pe[1], pr[1], null_fd, self);
  setpgid(pid, pid);          /* also here: no race with a kill(-pid) */
  close(pr[1]);
  pr[1] = -1;
  do
    got = read(pr[0], &e, sizeof(e));
  while (got < 0 && errno == EINTR);
  if (got == (ssize_t)sizeof(e)) {
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
      continue;
    r->rc = rp_fail(RP_EINVAL, r->err, sizeof(r->err), "cannot run %s: %s",
                    r->path, strerror(e));
    goto done;
  }
  c->pid = pid;
  c->running = 1;
  c->pidfd = -1;
#ifdef SYS_pidfd_open
  c->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
#endif
  fcntl(po[0], F_SETFL, O_NONBLOCK);
  fcntl(pe[0], F_SETFL, O_NONBLOCK);
  c->out.fd = po[0];
  c->err.fd = pe[0];
  c->out.len = c->err.len = 0;
  po[0] = pe[0] = -1;
  r->rc = RP_OK;
done:
  for (int i = 0; i < 2; i++) {
    if (po[i] >= 0)
      close(po[i]);
    if (pe[i] >= 0)
      close(pe[i]);
    if (pr[i] >= 0)
      close(pr[i]);
  }
  if (null_fd >= 0)
    close(null_fd);
  r->done = 1;
}

/* Logs the complete lines in b (all of it with 'flush'), "[name] line". */
static void emit_lines(const char *name, struct linebuf *b, int flush)
{
  size_t start = 0;
  for (size_t i = 0; i < b->len; i++) {
    if (b->data[i] != '\n')
      continue;
    size_t end = i;
    if (end > start && b->data[end - 1] == '\r')
      end--;
    rp_log(RP_LOG_INFO, NULL, "[%s] %.*s", name, (int)(end - start),
           b->data + start);
    start = i + 1;
  }
  if (start == 0 && b->len == sizeof(b->data))
    flush = 1;                /* a line longer than the buffer: a piece */
  if (flush && start < b->len) {
    rp_log(RP_LOG_INFO, NULL, "[%s] %.*s", name, (int)(b->len - start),
           b->data + start);
    start = b->len;
  }
  memmove(b->data, b->data + start, b->len - start);
  b->len -= start;
}

/* Reads what fd has; logs complete lines; closes it at EOF. */
static void drain(const char *name, struct linebuf *b)
{
  for (;;) {
    ssize_t n = read(b->fd, b->data + b->len, sizeof(b->data) - b->len);
    if (n > 0) {
      b->len += (size_t)n;
      emit_lines(name, b, 0);
      continue;
    }
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
      return;
    emit_lines(name, b, 1);   /* EOF or an error: the pipe is done */
    close(b->fd);
    b->fd = -1;
    return;
  }
}

static void describe(int status, char *buf, size_t len)
{
  if (WIFEXITED(status))
    snprintf(buf, len, "exited with code %d", WEXITSTATUS(status));
  else if (WIFSIGNALED(status))
    snprintf(buf, len, "killed by signal %d (%s)", WTERMSIG(status),
             strsignal(WTERMSIG(status)));
  else
    snprintf(buf, len, "ended with status %d", status);
}

/* mu held: reaps the children that ended. Returns how many ended without
 * being asked to; their names and reasons go to died[]. */
static int reap(int died[RP_PROC_MAX])
{
  int n = 0;
  for (int i = 0; i < RP_PROC_MAX; i++) {
    struct child *c = &kids[i];
    int status;
    pid_t r;
    if (!c->used || !c->running)
      continue;
    r = waitpid(c->pid, &status, WNOHANG);
    if (r == 0 || (r < 0 && errno == EINTR))
      continue;
    c->running = 0;
    if (r < 0)
      snprintf(c->reason, sizeof(c->reason), "was reaped elsewhere");
    else
      describe(status, c->reason, sizeof(c->reason));
    if (c->pidfd >= 0) {
      close(c->pidfd);
      c->pidfd = -1;
    }
    if (!c->stopping) {
      kill(-c->pid, SIGKILL);   /* grandchildren holding sockets */
      died[n++] = i;
    }
  }
  return n;
}

static void term(struct child *c);
static void kill_hard(struct child *c);

/* mu held: after rp_proc_term_all_async, SIGTERM to every running child,
 * and SIGKILL to those still running when their stop timeout is over.
 * Returns the poll timeout (ms) until the next SIGKILL is due, or -1. */
static int stop_asked(void)
{
  double now = rp_clock_now();
  int timeout = -1;
  if (term_all) {
    term_all = 0;
    for (int i = 0; i < RP_PROC_MAX; i++)
      if (kids[i].used && kids[i].running && !kids[i].stopping) {
        term(&kids[i]);
        kids[i].kill_at = now + kids[i].stop_timeout;
      }
  }
  for (int i = 0; i < RP_PROC_MAX; i++) {
    struct child *c = &kids[i];
    int ms;
    if (!c->used || !c->running || c->kill_at <= 0)
      continue;
    if (now >= c->kill_at) {
      kill_hard(c);
      continue;
    }
    ms = (int)((c->kill_at - now) * 1000.0) + 1;
    if (timeout < 0 || ms < timeout)
      timeout = ms;
  }
  return timeout;
}

static void *supervise(void *arg)
{
  struct pollfd fds[1 + RP_PROC_MAX * 3];
  char sink[64];
  (void)arg;
  pthread_mutex_lock(&mu);
  while (!quitting) {
    int nfds = 1;
    int timeout = stop_asked();
    int died[RP_PROC_MAX];
    int ndied;
    fds[0].fd = wake_fd[0];
    fds[0].events = POLLIN;
    for (int i = 0; i < RP_PROC_MAX; i++) {
      struct child *c = &kids[i];
      if (!c->used)
        continue;
      if (c->out.fd >= 0)
        fds[nfds++] = (struct pollfd){ .fd = c->out.fd, .events = POLLIN };
      if (c->err.fd >= 0)
        fds[nfds++] = (struct pollfd){ .fd = c->err.fd, .events = POLLIN };
      if (c->running && c->pidfd >= 0)
        fds[nfds++] = (struct pollfd){ .fd = c->pidfd, .events = POLLIN };
      else if (c->running && (timeout < 0 || timeout > REAP_POLL_MS))
        timeout = REAP_POLL_MS;
    }
    pthread_mutex_unlock(&mu);
    if (poll(fds, (nfds_t)nfds, timeout) < 0 && errno != EINTR)
      rp_log(RP_LOG_ERROR, NULL, "backend supervisor: poll: %s",
             strerror(errno));
    while (read(wake_fd[0], sink, sizeof(sink)) > 0)
      continue;
    pthread_mutex_lock(&mu);
    if (pending && !pending->done)
      do_spawn(pending);
    for (int i = 0; i < RP_PROC_MAX; i++) {
      if (!kids[i].used)
        continue;
      if (kids[i].out.fd >= 0)
        drain(kids[i].name, &kids[i].out);
      if (kids[i].err.fd >= 0)
        drain(kids[i].name, &kids[i].err);
    }
    ndied = reap(died);
    pthread_cond_broadcast(&cv);
    for (int k = 0; k < ndied; k++) {
      struct child *c = &kids[died[k]];
      char name[RP_PROC_NAME_MAX], reason[128];
      void (*fn)(void *, const char *, const char *) = watch_fn;
      void *ud = watch_ud;
      snprintf(name, sizeof(name), "%s", c->name);
      snprintf(reason, sizeof(reason), "%s", c->reason);
      rp_log(RP_LOG_ERROR, NULL, "backend '%s' (pid %d) %s", name,
             (int)c->pid, reason);
      pthread_mutex_unlock(&mu);
      if (fn)
        fn(ud, name, reason);
      pthread_mutex_lock(&mu);
    }
  }
  pthread_mutex_unlock(&mu);
  return NULL;
}

/* mu held: starts the supervisor thread (with every signal blocked, so
 * that the worker's handlers run on its own threads). */
static int ensure_thread(char *err, size_t errlen)
{
  sigset_t all, old;
  int rc;
  if (thread_up)
    return RP_OK;
  if (pipe2(wake_fd, O_CLOEXEC | O_NONBLOCK) != 0)
    return rp_fail(RP_EIO, err, errlen, "cannot make a pipe: %s",
                   strerror(errno));
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  rc = pthread_create(&thread, NULL, supervise, NULL);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (rc != 0) {
    close(wake_fd[0]);
    close(wake_fd[1]);
    wake_fd[0] = wake_fd[1] = -1;
    return rp_fail(RP_EIO, err, errlen, "cannot start the backend "
                   "supervisor thread: %s", strerror(rc));
  }
  thread_up = 1;
  quitting = 0;
  if (!atexit_set && atexit(rp_proc_shutdown) == 0)
    atexit_set = 1;
  return RP_OK;
}

/* mu held: a free slot (an ended child's is reused), or -1. */
static int free_slot(void)
{
  for (int i = 0; i < RP_PROC_MAX; i++)
    if (!kids[i].used)
      return i;
  for (int i = 0; i < RP_PROC_MAX; i++) {
    struct child *c = &kids[i];
    if (!c->running && c->out.fd < 0 && c->err.fd < 0) {
      free_argv(c->argv);
      memset(c, 0, sizeof(*c));
      return i;
    }
  }
  return -1;
}

int rp_proc_spawn(const struct rp_proc_spec *spec, int *id, char *err,
                  size_t errlen)
{
  char path[4096];
  struct spawn_req r;
  char **argv = NULL;
  char **envp = NULL;
  int slot;
  int e;
  int rc;
  if (!spec->argv || !spec->argv[0] || !spec->name || !*spec->name)
    return rp_fail(RP_EINVAL, err, errlen, "a backend needs a name and a "
                   "program");
  argv = copy_list(spec->argv, 0);
  envp = build_env(spec);
  if (!argv || !envp) {
    free_argv(argv);
    free_argv(envp);
    return rp_fail(RP_ENOMEM, err, errlen, "out of memory");
  }
  e = resolve(spec->argv[0], envp, path, sizeof(path));
  if (e != 0) {
    free_argv(argv);
    free_argv(envp);
    return rp_fail(RP_EINVAL, err, errlen, "cannot run %s: %s",
                   spec->argv[0], strerror(e));
  }
  pthread_mutex_lock(&mu);
  for (int i = 0; i < RP_PROC_MAX; i++)
    if (kids[i].used && kids[i].running &&
        strcmp(kids[i].name, spec->name) == 0) {
      rc = rp_fail(RP_EINVAL, err, errlen, "backend '%s' runs already "
                   "(pid %d)", spec->name, (int)kids[i].pid);
      goto out;
    }
  rc = ensure_thread(err, errlen);
  if (rc != RP_OK)
    goto out;
  slot = free_slot();
  if (slot < 0) {
    rc = rp_fail(RP_EIO, err, errlen, "too many backends (most %d)",
                 RP_PROC_MAX);
    goto out;
  }
  memset(&r, 0, sizeof(r));
  r.path = path;
  r.argv = argv;
  r.envp = envp;
  r.cwd = spec->cwd;
  r.slot = slot;
  kids[slot].used = 1;       /* reserved while the fork is under way */
  kids[slot].out.fd = kids[slot].err.fd = -1;
  kids[slot].pidfd = -1;
  snprintf(kids[slot].name, sizeof(kids[slot].name), "%s", spec->name);
  kids[slot].stop_timeout = spec->stop_timeout >= 0 ? spec->stop_timeout
                                                     : 10;
  while (pending)             /* one spawn at a time */
    pthread_cond_wait(&cv, &mu);
  pending = &r;
  wake();
  while (!r.done)
    pthread_cond_wait(&cv, &mu);
  pending = NULL;
  pthread_cond_broadcast(&cv);
  rc = r.rc;
  if (rc != RP_OK) {
    rp_fail(rc, err, errlen, "%s", r.err);
    memset(&kids[slot], 0, sizeof(kids[slot]));
    goto out;
  }
  kids[slot].argv = argv;
  argv = NULL;
  latest[slot] = (int)++spawn_count;
  *id = slot;
  rp_log(RP_LOG_INFO, NULL, "backend '%s' started (pid %d): %s",
         spec->name, (int)kids[slot].pid, path);
out:
  pthread_mutex_unlock(&mu);
  free_argv(argv);
  free_argv(envp);
  return rc;
}

int rp_proc_find(const char *name)
{
  int best = -1;
  pthread_mutex_lock(&mu);
  for (int i = 0; i < RP_PROC_MAX; i++)
    if (kids[i].used && kids[i].argv && strcmp(kids[i].name, name) == 0 &&
        (best < 0 || latest[i] > latest[best]))
      best = i;
  pthread_mutex_unlock(&mu);
  return best;
}

int rp_proc_info(int id, struct rp_proc_info *out)
{
  int rc = RP_EINVAL;
  memset(out, 0, sizeof(*out));
  if (id < 0 || id >= RP_PROC_MAX)
    return rc;
  pthread_mutex_lock(&mu);
  if (kids[id].used && kids[id].argv) {
    struct child *c = &kids[id];
    snprintf(out->name, sizeof(out->name), "%s", c->name);
    out->pid = (int)c->pid;
    out->running = c->running;
    out->ready = c->ready;
    out->stopping = c->stopping;
    snprintf(out->reason, sizeof(out->reason), "%s", c->reason);
    rc = RP_OK;
  }
  pthread_mutex_unlock(&mu);
  return rc;
}

int rp_proc_same_argv(int id, const char *const *argv)
{
  int same = 0;
  if (id < 0 || id >= RP_PROC_MAX)
    return 0;
  pthread_mutex_lock(&mu);
  if (kids[id].used && kids[id].argv) {
    size_t i = 0;
    same = 1;
    for (; argv[i] && kids[id].argv[i]; i++)
      if (strcmp(argv[i], kids[id].argv[i]) != 0)
        same = 0;
    if (argv[i] || kids[id].argv[i])
      same = 0;
  }
  pthread_mutex_unlock(&mu);
  return same;
}

void rp_proc_set_ready(int id)
{
  if (id < 0 || id >= RP_PROC_MAX)
    return;
  pthread_mutex_lock(&mu);
  if (kids[id].used)
    kids[id].ready = 1;
  pthread_mutex_unlock(&mu);
}

/* mu held: waits until child c is reaped or 'until' passes. */
static void wait_reaped(struct child *c, double until)
{
  while (c->running && rp_clock_now() < until) {
    struct timespec ts;
    double left = until - rp_clock_now();
    double step = left < 0.05 ? left : 0.05;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += (long)(step * 1e9);
    ts.tv_sec += ts.tv_nsec / 1000000000L;
    ts.tv_nsec %= 1000000000L;
    wake();                   /* the supervisor reaps */
    pthread_cond_timedwait(&cv, &mu, &ts);
  }
}

/* mu held: asks c to stop with SIGTERM (once). */
static void term(struct child *c)
{
  if (!c->running || c->stopping)
    return;
  c->stopping = 1;
  rp_log(RP_LOG_INFO, NULL, "stopping backend '%s' (pid %d): SIGTERM, "
         "SIGKILL after %g s", c->name, (int)c->pid, c->stop_timeout);
  kill(-c->pid, SIGTERM);
}

/* mu held: SIGKILL for c when it is still running. */
static void kill_hard(struct child *c)
{
  c->kill_at = 0;
  if (!c->running)
    return;
  rp_log(RP_LOG_WARN, NULL, "backend '%s' (pid %d) did not stop: SIGKILL",
         c->name, (int)c->pid);
  kill(-c->pid, SIGKILL);
}

int rp_proc_stop(int id, double timeout)
{
  struct child *c;
  int rc = RP_OK;
  if (id < 0 || id >= RP_PROC_MAX)
    return RP_EINVAL;
  pthread_mutex_lock(&mu);
  c = &kids[id];
  if (c->used && c->running) {
    double t = timeout >= 0 ? timeout : c->stop_timeout;
    term(c);
    wait_reaped(c, rp_clock_now() + t);
    kill_hard(c);
    wait_reaped(c, rp_clock_now() + KILL_WAIT_S);
    rc = c->running ? RP_EIO : RP_OK;
  }
  pthread_mutex_unlock(&mu);
  return rc;
}

void rp_proc_shutdown(void)
{
  double t0 = rp_clock_now();
  pthread_mutex_lock(&mu);
  if (!thread_up) {
    pthread_mutex_unlock(&mu);
    return;
  }
  for (int i = 0; i < RP_PROC_MAX; i++)
    if (kids[i].used)
      term(&kids[i]);
  for (int i = 0; i < RP_PROC_MAX; i++)
    if (kids[i].used && kids[i].running) {
      wait_reaped(&kids[i], t0 + kids[i].stop_timeout);
      kill_hard(&kids[i]);
    }
  for (int i = 0; i < RP_PROC_MAX; i++)
    if (kids[i].used)
      wait_reaped(&kids[i], rp_clock_now() + KILL_WAIT_S);
  quitting = 1;
  wake();
  pthread_mutex_unlock(&mu);
  pthread_join(thread, NULL);
  pthread_mutex_lock(&mu);
  for (int i = 0; i < RP_PROC_MAX; i++) {
    struct child *c = &kids[i];
    if (!c->used)
      continue;
    if (c->out.fd >= 0)
      drain(c->name, &c->out);
    if (c->err.fd >= 0)
      drain(c->name, &c->err);
    if (c->out.fd >= 0)
      close(c->out.fd);
    if (c->err.fd >= 0)
      close(c->err.fd);
    if (c->pidfd >= 0)
      close(c->pidfd);
    free_argv(c->argv);
    memset(c, 0, sizeof(*c));
  }
  close(wake_fd[0]);
  close(wake_fd[1]);
  wake_fd[0] = wake_fd[1] = -1;
  thread_up = 0;
  pthread_mutex_unlock(&mu);
}

void rp_proc_term_all_async(void)
{
  int fd = wake_fd[1];
  term_all = 1;
  if (fd >= 0 && write(fd, "t", 1) < 0)
    (void)0;                  /* full: the supervisor wakes anyway */
}

void rp_proc_watch(void (*fn)(void *ud, const char *name,
                              const char *reason), void *ud)
{
  pthread_mutex_lock(&mu);
  watch_fn = fn;
  watch_ud = ud;
  pthread_mutex_unlock(&mu);
}
