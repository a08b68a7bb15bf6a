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

/* Sends one ping, outside any heartbeat thread, with an extra query
 * parameter (e.g. "status=unhealthy"), and waits for it. */
void rp_heartbeat_ping_once(const char *url_template, const char *worker_id,
                            const char *api_key, const char *extra);

/* Stops the thread, joins it and frees everything. Accepts NULL. */
void rp_heartbeat_stop(struct rp_heartbeat *h);

#endif
