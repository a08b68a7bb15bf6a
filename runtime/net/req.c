/* req.c - see req.h. */
#include "net/req.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/rp.h"

static size_t on_data(char *p, size_t size, size_t n, void *ud)
{
  struct rp_req *r = ud;
  if (rp_buf_append(&r->resp, p, size * n) != RP_OK)
    return 0;                 /* over the cap: curl fails the transfer */
  return size * n;
}

/* Set once at start, before any thread makes a request. */
static const char *user_agent = RP_NAME "/" RP_VERSION " (runpod-worker)";

void rp_net_set_user_agent(const char *ua)
{
  user_agent = ua;
}

const char *rp_net_user_agent(void)
{
  return user_agent;
}

/* Adds one header line; returns 0 or -1. */
static int add(struct rp_req *r, const char *line)
{
  struct curl_slist *l = curl_slist_append(r->headers, line);
  if (!l)
    return -1;
  r->headers = l;
  return 0;
}

/* Adds "X-Request-ID: <id>" whatever the id's length. Bytes that would
 * end the header line or break it (controls, DEL) are sent as %XX, so an
 * id from the job server can never add a header of its own. Returns 0 or
 * -1. */
static int add_request_id(struct rp_req *r, const char *id)
{
  static const char prefix[] = "X-Request-ID: ";
  size_t n = strlen(id);
  char *line;
  char *w;
  int rc;
  if (n > (SIZE_MAX - sizeof(prefix)) / 3)
    return -1;
  line = malloc(sizeof(prefix) + 3 * n);
  if (!line)
    return -1;
  memcpy(line, prefix, sizeof(prefix) - 1);
  w = line + sizeof(prefix) - 1;
  for (const unsigned char *c = (const unsigned char *)id; *c; c++) {
    if (*c < 0x20 || *c == 0x7f)
      w += sprintf(w, "%%%02X", *c);
    else
      *w++ = (char)*c;
  }
  *w = '\0';
  rc = add(r, line);
  free(line);
  return rc;
}

struct rp_req *rp_req_new(const char *method, const char *url,
                          const char *body, size_t body_len,
                          const char *api_key, enum rp_content content,
                          const char *request_id, long timeout_ms)
{
  struct rp_req *r = calloc(1, sizeof(*r));
  char line[1024];
  int bad = 0;
  if (!r)
    return NULL;
  r->resp = (struct rp_buf)RP_BUF_INIT(RP_MAX_RESPONSE_BYTES);
  r->easy = curl_easy_init();
  r->url = strdup(url);
  if (!r->easy || !r->url)
    goto fail;
  if (body) {
    r->body = malloc(body_len + 1);
    if (!r->body)
      goto fail;
    memcpy(r->body, body, body_len);
    r->body[body_len] = '\0';
    r->body_len = body_len;
  }
  if (api_key) {
    snprintf(line, sizeof(line), "Authorization: %s", api_key);
    bad |= add(r, line);
  }
  if (content == RP_CONTENT_FORM) {
    bad |= add(r, "charset: utf-8");
    bad |= add(r, "Content-Type: application/x-www-form-urlencoded");
  } else {
    bad |= add(r, "Content-Type: application/json");
  }
  if (request_id)
    bad |= add_request_id(r, request_id);
  bad |= add(r, "Expect:");   /* no 100-continue round trip */
  if (bad)
    goto fail;
  curl_easy_setopt(r->easy, CURLOPT_URL, r->url);
  curl_easy_setopt(r->easy, CURLOPT_HTTPHEADER, r->headers);
  curl_easy_setopt(r->easy, CURLOPT_USERAGENT, rp_net_user_agent());
  curl_easy_setopt(r->easy, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(r->easy, CURLOPT_WRITEDATA, r);
  curl_easy_setopt(r->easy, CURLOPT_ERRORBUFFER, r->error);
  curl_easy_setopt(r->easy, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(r->easy, CURLOPT_CONNECTTIMEOUT_MS,
                   timeout_ms < 10000 ? timeout_ms : 10000L);
  curl_easy_setopt(r->easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(r->easy, CURLOPT_PRIVATE, r);
  curl_easy_setopt(r->easy, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(r->easy, CURLOPT_ACCEPT_ENCODING, "");
  curl_easy_setopt(r->easy, CURLOPT_TCP_KEEPALIVE, 1L);
  /* Redirects are followed, as by the Python SDK's HTTP clients: a 307 or
   * 308 keeps a post's method and body, 301 to 303 turn it into a GET (as
   * aiohttp does), up to RP_REQ_MAX_REDIRECTS, over HTTP(S) only; the
   * Authorization header goes to the same host only. */
  curl_easy_setopt(r->easy, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(r->easy, CURLOPT_MAXREDIRS, RP_REQ_MAX_REDIRECTS);
  curl_easy_setopt(r->easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  if (strcmp(method, "POST") == 0) {
    curl_easy_setopt(r->easy, CURLOPT_POST, 1L);
    curl_easy_setopt(r->easy, CURLOPT_POSTFIELDS, r->body ? r->body : "");
    curl_easy_setopt(r->easy, CURLOPT_POSTFIELDSIZE_LARGE,
                     (curl_off_t)r->body_len);
  }
  return r;
fail:
  rp_req_free(r);
  return NULL;
}

void rp_req_finish(struct rp_req *r, CURLcode result)
{
  r->result = result;
  if (result == CURLE_OK)
    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &r->status);
  else
    r->status = 0;
}

const char *rp_req_describe(struct rp_req *r, char *buf, size_t len)
{
  if (r->result == CURLE_OK)
    snprintf(buf, len, "HTTP %ld", r->status);
  else
    snprintf(buf, len, "%s", r->error[0] ? r->error
             : curl_easy_strerror(r->result));
  return buf;
}

void rp_req_free(struct rp_req *r)
{
  if (!r)
    return;
  if (r->easy)
    curl_easy_cleanup(r->easy);
  curl_slist_free_all(r->headers);
  free(r->url);
  free(r->body);
  rp_buf_free(&r->resp);
  free(r);
}

double rp_backoff_next(struct rp_backoff *b)
{
  double d = b->base;
  for (int i = 0; i < b->failures && d < b->cap; i++)
    d *= 2;
  if (d > b->cap)
    d = b->cap;
  if (b->failures < 64)
    b->failures++;
  /* up to 25% jitter, so that many workers do not retry in step */
  return d * (0.75 + 0.25 * ((double)rand() / RAND_MAX));
}

void rp_backoff_reset(struct rp_backoff *b)
{
  b->failures = 0;
}
