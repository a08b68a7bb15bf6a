/*
 * proc.h - supervised child processes: the backend servers a proxy worker
 * starts (an inference server on 127.0.0.1), the C part of runpod.backend.
 *
 * The table of children is process-wide, so every VM of runpod-worker (one
 * per executor thread, rebuilt on refresh) sees the same backends: a VM
 * finds a running backend by name instead of starting it twice.
 *
 * One supervisor thread, started with the first child, does all the work
 * that touches the children: it forks them (so that their parent-death
 * signal is tied to a thread that lives as long as the process), reads
 * their stdout and stderr from non-blocking pipes and logs each complete
 * line with one rp_log call prefixed "[name] " (a line longer than
 * RP_PROC_LINE_MAX is logged in pieces), and reaps them with waitpid on
 * their own pid only, so the exit statuses of a handler's io.popen and
 * os.execute stay exact.
 *
 * A child runs in a process group of its own, with stdin from /dev/null,
 * no file descriptor of the worker's but its pipes, the default signal
 * mask and dispositions, and PR_SET_PDEATHSIG SIGKILL (Linux), so that it
 * does not outlive a worker killed hard. Stopping one sends SIGTERM to its
 * group, waits up to its stop timeout, then sends SIGKILL.
 *
 * A child that exits without being asked to (rp_proc_stop,
 * rp_proc_shutdown) is logged as an ERROR; its whole group is killed, so
 * that a grandchild cannot keep the connections of the jobs in flight
 * open; then the watcher set with rp_proc_watch is called.
 *
 * Relies on: POSIX fork/exec, poll, pthreads; Linux for pidfd_open and
 * PR_SET_PDEATHSIG (without them exits are seen within 100 ms and a child
 * may outlive a worker killed with SIGKILL).
 */
#ifndef RP_PROC_H
#define RP_PROC_H

#include <stddef.h>

/* The most children at once, and the most bytes of one logged line. */
#define RP_PROC_MAX 16
#define RP_PROC_LINE_MAX 8192
#define RP_PROC_NAME_MAX 64

struct rp_proc_spec {
  const char *name;          /* log prefix and the key rp_proc_find takes */
  const char *const *argv;   /* NULL-terminated; argv[0] without a '/' is
                                searched in the child's PATH */
  const char *const *env;    /* NULL-terminated "NAME=value" entries added
                                to (or replacing those of) the worker's
                                environment; NULL for none */
  int clear_env;             /* 1: env is the whole environment */
  const char *cwd;           /* NULL: the worker's directory */
  double stop_timeout;       /* seconds between SIGTERM and SIGKILL */
};

struct rp_proc_info {
  char name[RP_PROC_NAME_MAX];
  int pid;
  int running;               /* not yet reaped */
  int ready;                 /* rp_proc_set_ready was called */
  int stopping;              /* a stop was asked */
  char reason[128];          /* how it ended ("exited with code 3",
                                "killed by signal 9"); "" while running */
};

/* Starts a child. On RP_OK *id names it. Fails (RP_EINVAL) when a child
 * with that name runs already, when the program cannot be found or run
 * (the exec error is reported here, not later), or (RP_EIO) when the
 * table is full or a pipe, fork or thread cannot be made. */
int rp_proc_spawn(const struct rp_proc_spec *spec, int *id, char *err,
                  size_t errlen);

/* The id of the latest child with this name (running or not), or -1. */
int rp_proc_find(const char *name);

/* Fills *out for child id. Returns RP_OK, or RP_EINVAL for an unknown id. */
int rp_proc_info(int id, struct rp_proc_info *out);

/* Whether argv is the argv child id was started with (1) or not (0). */
int rp_proc_same_argv(int id, const char *const *argv);

/* Marks child id ready (the backend answered its health check). */
void rp_proc_set_ready(int id);

/* Stops child id: SIGTERM to its group, up to 'timeout' seconds (negative:
 * its stop timeout), then SIGKILL; returns once it is reaped (RP_OK) or
 * after 5 s more (RP_EIO). Blocks the calling thread. */
int rp_proc_stop(int id, double timeout);

/* Stops every running child (all SIGTERMed at once, each SIGKILLed after
 * its own stop timeout), then ends the supervisor thread and frees the
 * table. Registered with atexit by the first spawn; safe to call again. */
void rp_proc_shutdown(void);

/* Async-signal-safe: asks the supervisor thread to stop every running
 * child as rp_proc_stop does (SIGTERM to its group, SIGKILL after its stop
 * timeout), without waiting. For a SIGTERM or SIGINT that comes while no
 * job needs the children (the worker's start-up). Safe before any spawn. */
void rp_proc_term_all_async(void);

/* Sets the function called, on the supervisor thread, when a child exits
 * without being asked to; it gets ud, the child's name and how it ended.
 * It must not block. NULL clears it. */
void rp_proc_watch(void (*fn)(void *ud, const char *name,
                              const char *reason), void *ud);

#endif
