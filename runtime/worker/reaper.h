/*
 * reaper.h - makes runpod-worker safe as a container's PID 1.
 *
 * As PID 1 (docker run without --init, RunPod's containers) a process
 * adopts every orphan in the container and must reap it, or zombies pile
 * up; and it gets no default action for SIGTERM/SIGINT. The worker handles
 * those signals itself, but a handler's io.popen/os.execute wait for their
 * own child by pid, so a SIGCHLD handler that reaps every child in the
 * worker itself would steal those exit statuses.
 *
 * So the reaper is a separate process, as tini does it: when getpid() == 1
 * or RUNPOD_REAP_CHILDREN=1, rp_reaper_start() forks. The parent stays as
 * a tiny init: it is a child subreaper (prctl PR_SET_CHILD_SUBREAPER, so
 * that it also adopts orphans when it is not PID 1), forwards SIGTERM,
 * SIGINT, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 to the worker, reaps every
 * child that ends, and exits with the worker's exit code (128 + N when the
 * worker was killed by signal N). The worker (the child) returns from
 * rp_reaper_start() and runs as usual; its own children (popen, system)
 * stay its own, so their exit statuses are exact. Orphaned grandchildren
 * are adopted and reaped by the parent.
 *
 * Relies on: Linux (prctl; without it, RUNPOD_REAP_CHILDREN=1 outside PID 1
 * only reaps the worker itself). Uses no Lua and no allocation.
 */
#ifndef RP_REAPER_H
#define RP_REAPER_H

/* Call first thing in main(), before any thread or file is opened; 'asked'
 * is RUNPOD_REAP_CHILDREN=1 (settings.h). Returns in the worker process
 * only: RP_OK when there is no reaper (not PID 1 and not asked) or the
 * worker runs under one, RP_EIO when
 * fork() failed (the worker then runs on without a reaper). The reaper
 * process never returns: it _exit()s with the worker's code. */
int rp_reaper_start(int asked);

#endif
