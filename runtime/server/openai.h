/*
 * openai.h - RunPod's OpenAI routes, on the emulator and the local API
 * server: /v2/{endpoint}/openai/v1/<path> (and /openai/v1/<path> where the
 * client routes also answer at the root) become a job
 * {"openai_route": "/v1/<path>", "openai_input": <body>} (no openai_input
 * for a GET), as RunPod's platform sends it to OpenAI-compatible workers.
 *
 * Without "stream": true in the body the answer is the job's single output
 * object (200, application/json); a failed job answers an OpenAI-style
 * error {"error": {"message", "type", "param", "code"}} with the status its
 * error names (docs/api.md), and so does every error of the route itself
 * (the official OpenAI clients read that shape): a body that is not UTF-8
 * or not a JSON object is refused before any job is queued. With
 * "stream": true the answer is text/event-stream and each string partial
 * is written through as the handler yields it. A client that goes away
 * cancels its job.
 *
 * The emulator dispatches to it (emulator.c); it relies on the job store
 * and httpd's streamed responses only.
 */
#ifndef RP_OPENAI_H
#define RP_OPENAI_H

#include "server/httpd.h"
#include "server/jobstore.h"

/* Serves an OpenAI route with the jobs of js: seg[0] is "openai",
 * seg[1..nseg) the rest of the path ("v1", "chat", "completions").
 * bearer, when not NULL, is the "Bearer <key>" the client must send, as on
 * the other client routes. May block until the job ends. */
void rp_openai_route(struct rp_jobstore *js, const char *bearer,
                     const struct rp_httpd_request *req,
                     struct rp_httpd_response *res, char **seg, int nseg);

/* Answers OpenAI's error object, {"error": {"message": msg, "type": type,
 * "param": null, "code": code}} (code NULL: null), with status: the
 * official OpenAI clients read every error in this shape. */
void rp_openai_reply_error(struct rp_httpd_response *res, int status,
                           const char *type, const char *code,
                           const char *msg);

/* Answers 404 "Invalid URL (METHOD /path)" (type invalid_request_error),
 * as OpenAI's API answers a path or method it does not serve; the path is
 * req's, as sent. */
void rp_openai_reply_invalid_url(const struct rp_httpd_request *req,
                                 struct rp_httpd_response *res);

#endif
