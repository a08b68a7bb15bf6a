/*
 * heartbeat.h - pings the job server from a thread of its own, with a
 * curl handle of its own, every RUNPOD_PING_INTERVAL milliseconds, so
 * that a handler burning CPU can never delay a ping. Each ping carries the
 * ids of the jobs in flight (set by the orchestrator) and the runtime's
 * version; its timeout is twice the interval.
 */
#ifndef RP_HEARTBEAT_H
#define RP_HEARTBEAT_H

struct rp_heartbeat;

/* Starts pinging. url_template is RUNPOD_WEBHOOK_PING; all strings are
 * copied. Returns NULL when the thread cannot start. */
struct rp_heartbeat *rp_heartbeat_start(const char *url_template,
                                        const char *worker_id,
                                        const char *api_key,
                                        long interval_ms);

/* Sets the comma-separated ids of the jobs in flight ("" for none). */
void rp_heartbeat_set_jobs(struct rp_heartbeat *h, const char *job_ids);

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
