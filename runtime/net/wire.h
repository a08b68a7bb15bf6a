/*
 * wire.h - the URLs of RunPod's worker protocol (docs/emulator.md,
 * "Worker API"),
 * built from the RUNPOD_WEBHOOK_* templates exactly as the Python SDK
 * builds them. Pure functions: no I/O, no Lua.
 *
 * Placeholders: "$RUNPOD_POD_ID" anywhere is the worker id; "$ID" is the
 * worker id in the job-take URL and the job id in the job-done and stream
 * URLs. Parameters are appended with '&' when the template already has a
 * query (RunPod's do) and with '?' when it has none.
 *
 * Every function returns a malloc'ed string the caller frees with free(),
 * or NULL when memory runs out or the URL would pass 64 KiB.
 */
#ifndef RP_WIRE_H
#define RP_WIRE_H

#include <stddef.h>

#include "base/buf.h"

/* job-take: tmpl with $ID = worker id, then "batch_size=N" when batch > 1
 * (and /job-take/ becomes /job-take-batch/), then "job_in_progress=0|1". */
char *rp_wire_take_url(const char *tmpl, const char *worker_id,
                       int batch, int in_progress);

/* Whether the job-take answer text[0..len) is one job to start as it is:
 * an object with an "input" and a non-empty string "id". Returns 1 with
 * the id in *id (*id_len bytes, malloc'ed, the caller's), else 0 with *id
 * NULL (anything else: no job, a batch, an entry to check). */
int rp_wire_lone_job(const char *text, size_t len, char **id,
                     size_t *id_len);

/* 1 when a job-stop URL can be derived from the job-take template (it
 * holds "/job-take/"), else 0: then there is no job-stop poll, since the
 * take URL polled in its place would hand out jobs that are lost. */
int rp_wire_has_stop(const char *tmpl);

/* job-stop: the job-take template with /job-take/ -> /job-stop/; NULL
 * when rp_wire_has_stop(tmpl) is 0 or memory runs out. */
char *rp_wire_stop_url(const char *tmpl, const char *worker_id);

/* Appends the job id id[0..n) (any bytes, NUL included) percent-encoded
 * as exactly one URL path segment or query value: ALPHA, DIGIT, '-', '_',
 * '~' and '.' as they are, every other byte as %XX, and every '.' of an id
 * made of dots only ("." and ".." are no dot segments then). Ids are data,
 * never URL syntax. Returns RP_OK, RP_ETOOBIG or RP_ENOMEM. */
int rp_wire_put_id(struct rp_buf *b, const char *id, size_t n);

/* job-done (and progress): tmpl with $ID = the job id job_id[0..id_len)
 * as one path segment (rp_wire_put_id), "isStream=true|false". */
char *rp_wire_done_url(const char *tmpl, const char *job_id, size_t id_len,
                       const char *worker_id, int is_stream);

/* job-stream: the same with "isStream=false" (what the Python SDK sends
 * for every partial). */
char *rp_wire_stream_url(const char *tmpl, const char *job_id,
                         size_t id_len, const char *worker_id);

/* ping: tmpl with $RUNPOD_POD_ID, then "job_id=<ids>" when job_ids is not
 * empty, then "runpod_version=<version>". job_ids is put in as it is: the
 * ids each encoded with rp_wire_put_id, joined by ','. */
char *rp_wire_ping_url(const char *tmpl, const char *worker_id,
                       const char *job_ids, const char *version);

/* unhealthy report: tmpl with $RUNPOD_POD_ID, then "status=unhealthy",
 * "check=<check>", "reason=<reason>" (its first 256 characters) and
 * "runpod_version=<version>", each value form-encoded as the Python SDK's
 * HTTP client does (space as '+'). */
char *rp_wire_unhealthy_url(const char *tmpl, const char *worker_id,
                            const char *check, const char *reason,
                            const char *version);

/* Replaces every occurrence of 'from' in s by 'to'. */
char *rp_wire_replace(const char *s, const char *from, const char *to);

#endif
