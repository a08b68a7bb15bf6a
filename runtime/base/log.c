/* log.c - see log.h. */
#include "base/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/json.h"
#include "base/rp.h"

static const char *const level_names[] = {
  NULL, "TRACE", "DEBUG", "INFO", "WARN", "ERROR", "NOTSET"
};

static int log_level = RP_LOG_INFO;
static int log_json;
static int log_fd = 1;

int rp_log_parse_level(const char *name)
{
  int i;
  if (!name)
    return -1;
  for (i = RP_LOG_TRACE; i <= RP_LOG_NOTSET; i++)
    if (strcasecmp(name, level_names[i]) == 0)
      return i;
  return -1;
}

const char *rp_log_level_name(int level)
{
  if (level < RP_LOG_TRACE || level > RP_LOG_NOTSET)
    return "INFO";
  return level_names[level];
}

void rp_log_set_level(int level)
{
  log_level = level;
}

int rp_log_get_level(void)
{
  return log_level;
}

void rp_log_set_json(int on)
{
  log_json = on;
}

void rp_log_set_fd(int fd)
{
  log_fd = fd;
}

int rp_log_parse_stream(const char *name)
{
  if (name && strcasecmp(name, "stdout") == 0)
    return 1;
  if (name && strcasecmp(name, "stderr") == 0)
    return 2;
  return -1;
}

int rp_log_enabled(int level)
{
  return log_level != RP_LOG_NOTSET && level >= log_level;
}

/* Appends s[0..n) for a plain line, which it can never end or break:
 * \n and \r as such escapes, the other control characters (C0 but tab,
 * DEL, and C1 as \u0080..\u009f) as \xNN or \u00NN, and each byte that
 * does not start valid UTF-8 as \xNN. A job id or message holding
 * "\r\nINFO | x" therefore cannot forge a record. */
static void put_text(struct rp_buf *b, const char *s, size_t n)
{
  static const char hex[] = "0123456789abcdef";
  const char *end = s + n;
  const char *run = s;
  while (s < end) {
    unsigned char c = (unsigned char)*s;
    size_t k = rp_json_utf8_len(s, end);
    char esc[6] = { '\\', 'x', hex[c >> 4], hex[c & 15], 0, 0 };
    size_t elen = 4;
    if ((k == 1 && c >= 0x20 && c != 0x7f) || c == '\t' ||
        (k > 1 && !(c == 0xc2 && (unsigned char)s[1] < 0xa0))) {
      s += k;
      continue;
    }
    if (c == '\n' || c == '\r') {
      esc[1] = c == '\n' ? 'n' : 'r';
      elen = 2;
    } else if (k == 2) {             /* C1: U+0080..U+009F */
      c = (unsigned char)s[1];
      memcpy(esc + 1, "u00", 3);
      esc[4] = hex[c >> 4];
      esc[5] = hex[c & 15];
      elen = 6;
    }
    rp_buf_append(b, run, (size_t)(s - run));
    rp_buf_append(b, esc, elen);
    s += k ? k : 1;
    run = s;
  }
  rp_buf_append(b, run, (size_t)(s - run));
}

static void put_part(struct rp_buf *b, const char *s, size_t n, int json)
{
  if (json)
    rp_json_put_chars(b, s, n);
  else
    put_text(b, s, n);
}

/* Appends the message, cut in the middle when it is too long. */
static void add_message(struct rp_buf *b, const char *msg, size_t n,
                        int json)
{
  const size_t half = RP_LOG_MAX_MESSAGE / 2;
  char note[64];
  if (n <= RP_LOG_MAX_MESSAGE) {
    put_part(b, msg, n, json);
    return;
  }
  snprintf(note, sizeof(note), "\n...TRUNCATED %zu CHARACTERS...\n",
           n - RP_LOG_MAX_MESSAGE);
  put_part(b, msg, half, json);
  put_part(b, note, strlen(note), json);
  put_part(b, msg + n - half, half, json);
}

static void write_all(int fd, const char *p, size_t n)
{
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR)
        continue;
      return;                 /* nowhere left to report it */
    }
    p += w;
    n -= (size_t)w;
  }
}

void rp_log_write(int level, const char *job_id, const char *msg,
                  size_t msglen)
{
  struct rp_buf b = RP_BUF_INIT((size_t)4 * 1024 * 1024);
  const char *name = rp_log_level_name(level);
  if (!rp_log_enabled(level))
    return;
  if (log_json) {
    rp_buf_puts(&b, "{\"requestId\": ");
    if (job_id) {
      rp_json_put_string(&b, job_id, strlen(job_id));
    } else {
      rp_buf_puts(&b, "null");
    }
    rp_buf_puts(&b, ", \"message\": \"");
    add_message(&b, msg, msglen, 1);
    rp_buf_printf(&b, "\", \"level\": \"%s\"}\n", name);
  } else {
    rp_buf_printf(&b, "%-7s| ", name);
    if (job_id && *job_id) {    /* as Python's: an empty id is no id */
      put_text(&b, job_id, strlen(job_id));
      rp_buf_puts(&b, " | ");
    }
    add_message(&b, msg, msglen, 0);
    rp_buf_puts(&b, "\n");
  }
  if (b.data)
    write_all(log_fd, b.data, b.len);
  rp_buf_free(&b);
}

void rp_log_print(int level, const char *msg, size_t len)
{
  struct rp_buf b = RP_BUF_INIT((size_t)4 * 1024 * 1024);
  if (!rp_log_enabled(level) || log_json)
    return;
  add_message(&b, msg, len, 0);
  rp_buf_puts(&b, "\n");
  if (b.data)
    write_all(log_fd, b.data, b.len);
  rp_buf_free(&b);
}

void rp_logv(int level, const char *job_id, const char *fmt, va_list ap)
{
  struct rp_buf b = RP_BUF_INIT((size_t)1024 * 1024);
  va_list cp;
  int n;
  if (!rp_log_enabled(level))
    return;
  va_copy(cp, ap);
  n = vsnprintf(NULL, 0, fmt, cp);
  va_end(cp);
  if (n >= 0 && rp_buf_reserve(&b, (size_t)n) == RP_OK) {
    vsnprintf(b.data, (size_t)n + 1, fmt, ap);
    b.len = (size_t)n;
    rp_log_write(level, job_id, b.data, b.len);
  }
  rp_buf_free(&b);
}

void rp_log(int level, const char *job_id, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  rp_logv(level, job_id, fmt, ap);
  va_end(ap);
}
