/* reaper.c - see reaper.h. */
#include "worker/reaper.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include "base/rp.h"

static const int forwarded[] = {
  SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2
};

/* Reaps every child that has ended; returns 1 and sets *code once 'worker'
 * is among them. */
static int reap(pid_t worker, int *code)
{
  int status;
  int done = 0;
  pid_t pid;
  for (;;) {
    pid = waitpid(-1, &status, WNOHANG);
    if (pid == 0)
      break;
    if (pid < 0) {
      if (errno == EINTR)
        continue;
      break;                  /* ECHILD: nobody left */
    }
    if (pid != worker)
      continue;
    done = 1;
    if (WIFEXITED(status))
      *code = WEXITSTATUS(status);
    else if (WIFSIGNALED(status))
      *code = 128 + WTERMSIG(status);
    else
      *code = 70;
  }
  return done;
}

/* The reaper's loop: signals arrive through sigwait only. Never returns. */
static void run_reaper(pid_t worker, const sigset_t *set)
{
  int code = 70;
  int sig;
  size_t i;
  for (;;) {
    if (sigwait(set, &sig) != 0)
      continue;
    if (sig == SIGCHLD) {
      if (reap(worker, &code))
        _exit(code);
      continue;
    }
    for (i = 0; i < sizeof(forwarded) / sizeof(forwarded[0]); i++)
      if (forwarded[i] == sig)
        kill(worker, sig);
  }
}

int rp_reaper_start(int asked)
{
  sigset_t set, old;
  pid_t worker;
  size_t i;

  if (!asked && getpid() != 1)
    return RP_OK;
#ifdef PR_SET_CHILD_SUBREAPER
  (void)prctl(PR_SET_CHILD_SUBREAPER, 1L, 0L, 0L, 0L);
#endif
  sigemptyset(&set);
  sigaddset(&set, SIGCHLD);
  for (i = 0; i < sizeof(forwarded) / sizeof(forwarded[0]); i++)
    sigaddset(&set, forwarded[i]);
  /* Blocked before fork, so that nothing sent in between is lost: the
   * reaper collects the signals with sigwait, the worker unblocks them. */
  sigprocmask(SIG_BLOCK, &set, &old);
  worker = fork();
  if (worker < 0) {
    sigprocmask(SIG_SETMASK, &old, NULL);
    return RP_EIO;
  }
  if (worker == 0) {
    sigprocmask(SIG_SETMASK, &old, NULL);
    return RP_OK;
  }
  run_reaper(worker, &set);
  return RP_OK;               /* not reached */
}
