/*
 * heartbeat.h - pings the job server from a thread of its own, with a
 * curl handle of its own, every RUNPOD_PING_INTERVAL milliseconds, so
 * that a handler burning CPU can never delay a ping. Each ping carries the
 * ids of the jobs in flight (added and removed by the threads that take
 * and deliver them) and the runtime's version; its timeout is twice the
 * interval.
 */
#ifndef RP_HEARTBEAT_H
#define RP_HEARTBEAT_H

#include <stddef.h>

struct rp_heartbeat;

/* Starts pinging. url_template is RUNPOD_WEBHOOK_PING; all strings are
 * copied. Returns NULL when the thread cannot start. */
struct rp_heartbeat *rp_heartbeat_start(const char *url_template,
                                        const char *worker_id,
                                        const char *api_key,
                                        long interval_ms);

/* The jobs in flight, which each ping lists: a job is added when it is
 * taken and removed when its result is delivered (or given up), by
 * whichever thread does that; an id added twice is listed until removed
 * twice. id is id_len bytes (any, NUL too), copied. Any thread; h may be
 * NULL. */
void rp_heartbeat_add_job(struct rp_heartbeat *h, const char *id,
                          size_t id_len);
void rp_heartbeat_remove_job(struct rp_heartbeat *h, const char *id,
                             size_t id_len);

/* Reports the worker unhealthy, as the Python SDK: one GET, outside any
 * heartbeat thread, to the ping URL with "status=unhealthy", the failed
 * check's name, the reason (its first 256 characters) and the version;
 * 2 seconds at most; any failure is ignored. */
void rp_heartbeat_report_unhealthy(const char *url_template,
                                   const char *worker_id,
                                   const char *api_key, const char *check,
                                   const char *reason);

/* Stops the thread, joins it and frees everything. Accepts NULL. */
void rp_heartbeat_stop(struct rp_heartbeat *h);

#endif
