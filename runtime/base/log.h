/*
 * log.h - the runtime's logger, shared by C code and runpod.log in Lua.
 *
 * Lines look like the Python SDK's: "INFO   | job-1 | message" (the level
 * padded to seven columns, the job id part only when there is one), or,
 * when RUNPOD_ENDPOINT_ID is set, one JSON object per line:
 * {"requestId": "job-1", "message": "...", "level": "INFO"}.
 * Messages longer than RP_LOG_MAX_MESSAGE bytes are cut in the middle with
 * a note saying how much was left out. A record is always one line: in
 * plain lines the job id and message have line breaks, other control
 * characters (but tab) and invalid UTF-8 escaped (\n, \r, \xNN, \u00NN
 * for C1), so that no id or message can forge a record; JSON lines escape
 * as JSON does. Each record is written with a single
 * write(2), so records from concurrent threads never interleave.
 *
 * The settings are process-wide: set them once at start-up, before threads
 * start; afterwards rp_log() only reads them.
 */
#ifndef RP_LOG_H
#define RP_LOG_H

#include <stdarg.h>
#include <stddef.h>

#define RP_LOG_MAX_MESSAGE 4096

enum rp_log_level {
  RP_LOG_TRACE = 1,
  RP_LOG_DEBUG = 2,
  RP_LOG_INFO = 3,
  RP_LOG_WARN = 4,
  RP_LOG_ERROR = 5,
  RP_LOG_NOTSET = 6      /* as a threshold: log nothing */
};

/* Parses a level name (case-insensitive: NOTSET, TRACE, DEBUG, INFO, WARN,
 * ERROR). Returns the level, or -1 when the name is not one of them. */
int rp_log_parse_level(const char *name);

/* The level's name, e.g. "INFO". */
const char *rp_log_level_name(int level);

/* Sets the threshold (records below it are dropped). */
void rp_log_set_level(int level);
int rp_log_get_level(void);

/* Chooses JSON lines (1) or plain lines (0). */
void rp_log_set_json(int on);

/* Writes msg[0..len) and a newline as they are, no level or job id: a
 * line the Python SDK print()s, such as its start banner. Written only
 * when a record at 'level' would be, and lines are plain (a JSON log
 * stays one object per line). */
void rp_log_print(int level, const char *msg, size_t len);

/* Chooses the file descriptor records go to (1 = stdout, 2 = stderr). */
void rp_log_set_fd(int fd);

/* Parses a stream name: returns 1 for "stdout", 2 for "stderr", else -1. */
int rp_log_parse_stream(const char *name);

/* Is a record at this level written? */
int rp_log_enabled(int level);

/* Writes one record. job_id may be NULL. The message is taken as bytes
 * (msglen of them), so it may hold NULs and need not be terminated. */
void rp_log_write(int level, const char *job_id, const char *msg,
                  size_t msglen);

/* printf-style convenience over rp_log_write. */
void rp_log(int level, const char *job_id, const char *fmt, ...)
  __attribute__((format(printf, 3, 4)));
void rp_logv(int level, const char *job_id, const char *fmt, va_list ap);

#endif
