/* http.c - see http.h. */
#include "net/http.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/req.h"
#include "base/rp.h"

/* Writes a body piece to h->fd; returning less than len stops curl. */
static size_t sink(struct rp_http *h, const char *p, size_t len)
{
  size_t off = 0;
  if (h->status < 200 || h->status > 299) {
    h->bad_status = 1;
    return 0;
  }
  if ((curl_off_t)len > h->max_bytes - h->written) {
    h->too_big = 1;
    return 0;
  }
  while (off < len) {
    ssize_t w = write(h->fd, p + off, len - off);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0) {
      h->sink_errno = w < 0 ? errno : EIO;
      return 0;
    }
    off += (size_t)w;
  }
  h->written += (curl_off_t)len;
  return len;
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
  struct rp_http *h = ud;
  if (!h->headers_done) {
    h->headers_done = 1;
    curl_easy_getinfo(h->easy, CURLINFO_RESPONSE_CODE, &h->status);
  }
  if (h->fd >= 0)
    return sink(h, p, size * n);
  if (rp_buf_append(&h->resp, p, size * n) != RP_OK)
    return 0;
  return size * n;
}

/* Keeps the header lines of the last response only (after redirects and
 * 100-continue, a new status line starts a new block). */
static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
  struct rp_http *h = ud;
  size_t len = size * n;
  if (len >= 5 && strncasecmp(p, "HTTP/", 5) == 0)
    rp_buf_clear(&h->head);
  if (rp_buf_append(&h->head, p, len) != RP_OK)
    return 0;
  if (len == 2 && p[0] == '\r' && p[1] == '\n') {
    long code = 0;
    curl_easy_getinfo(h->easy, CURLINFO_RESPONSE_CODE, &code);
    if (code >= 200) {
      h->status = code;
      h->headers_done = 1;
    }
  }
  return len;
}

int rp_http_new(struct rp_http **out, const char *method, const char *url,
                const char *const *headers, size_t nheaders,
                const char *body, size_t body_len, long timeout_ms,
                int streaming, char *err, size_t errlen)
{
  struct rp_http *h = calloc(1, sizeof(*h));
  int rc = RP_ENOMEM;
  *out = NULL;
  if (!h)
    return rp_fail(RP_ENOMEM, err, errlen, "out of memory");
  h->resp = (struct rp_buf)RP_BUF_INIT(RP_HTTP_MAX_BODY);
  h->head = (struct rp_buf)RP_BUF_INIT(RP_HTTP_MAX_HEADERS);
  h->streaming = streaming;
  h->fd = -1;
  h->easy = curl_easy_init();
  h->url = strdup(url);
  if (!h->easy || !h->url)
    goto fail;
  if (body) {
    h->body = malloc(body_len + 1);
    if (!h->body)
      goto fail;
    memcpy(h->body, body, body_len);
    h->body[body_len] = '\0';
    h->body_len = body_len;
  }
  for (size_t i = 0; i < nheaders; i++) {
    struct curl_slist *l = curl_slist_append(h->headers, headers[i]);
    if (!l)
      goto fail;
    h->headers = l;
  }
  rc = RP_EINVAL;
  if (curl_easy_setopt(h->easy, CURLOPT_URL, h->url) != CURLE_OK) {
    /* Not echoed: a URL may carry a password or a signature, and the
     * caller names it as it sees fit. */
    rp_fail(rc, err, errlen, "invalid URL");
    goto fail_quiet;
  }
  curl_easy_setopt(h->easy, CURLOPT_HTTPHEADER, h->headers);
  curl_easy_setopt(h->easy, CURLOPT_USERAGENT, rp_net_user_agent());
  curl_easy_setopt(h->easy, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(h->easy, CURLOPT_WRITEDATA, h);
  curl_easy_setopt(h->easy, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(h->easy, CURLOPT_HEADERDATA, h);
  curl_easy_setopt(h->easy, CURLOPT_ERRORBUFFER, h->error);
  curl_easy_setopt(h->easy, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(h->easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h->easy, CURLOPT_PRIVATE, h);
  curl_easy_setopt(h->easy, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h->easy, CURLOPT_TCP_KEEPALIVE, 1L);
  if (strcmp(method, "GET") == 0) {
    curl_easy_setopt(h->easy, CURLOPT_HTTPGET, 1L);
  } else if (strcmp(method, "HEAD") == 0) {
    curl_easy_setopt(h->easy, CURLOPT_NOBODY, 1L);
  } else {
    curl_easy_setopt(h->easy, CURLOPT_CUSTOMREQUEST, method);
    if (h->body || strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0
        || strcmp(method, "PATCH") == 0) {
      curl_easy_setopt(h->easy, CURLOPT_POSTFIELDS, h->body ? h->body : "");
      curl_easy_setopt(h->easy, CURLOPT_POSTFIELDSIZE_LARGE,
                       (curl_off_t)h->body_len);
    }
  }
  *out = h;
  return RP_OK;
fail:
  rp_fail(RP_ENOMEM, err, errlen, "out of memory");
  rc = RP_ENOMEM;
fail_quiet:
  rp_http_free(h);
  return rc;
}

int rp_http_sink(struct rp_http *h, int fd, curl_off_t max_bytes)
{
  h->fd = fd;
  h->max_bytes = max_bytes;
  curl_easy_setopt(h->easy, CURLOPT_MAXFILESIZE_LARGE, max_bytes);
  return RP_OK;
}

/* CURLOPT_OPENSOCKETFUNCTION: the one place every connection is made, so
 * the guard sees the resolved address of each hop and of each retry. */
static curl_socket_t open_socket(void *ud, curlsocktype purpose,
                                 struct curl_sockaddr *a)
{
  struct rp_http *h = ud;
  char text[sizeof(h->refused_addr)];
  (void)purpose;
  if (!rp_netguard_allows(h->guard, &a->addr, text, sizeof(text))) {
    h->refused = 1;
    memcpy(h->refused_addr, text, sizeof(text));
    return CURL_SOCKET_BAD;
  }
  return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

int rp_http_guard(struct rp_http *h, const struct rp_netguard *g,
                  long connect_timeout_ms, long max_redirects)
{
  h->guard = malloc(sizeof(*h->guard));
  if (!h->guard)
    return RP_ENOMEM;
  *h->guard = *g;
  curl_easy_setopt(h->easy, CURLOPT_OPENSOCKETFUNCTION, open_socket);
  curl_easy_setopt(h->easy, CURLOPT_OPENSOCKETDATA, h);
  curl_easy_setopt(h->easy, CURLOPT_PROXY, "");
  curl_easy_setopt(h->easy, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(h->easy, CURLOPT_MAXREDIRS, max_redirects);
  curl_easy_setopt(h->easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  if (connect_timeout_ms > 0)
    curl_easy_setopt(h->easy, CURLOPT_CONNECTTIMEOUT_MS, connect_timeout_ms);
  return RP_OK;
}

int rp_http_sigv4(struct rp_http *h, const char *provider,
                  const char *userpwd)
{
  /* An S3 key is data: its '.' and '..' segments name the object, they do
   * not move the request elsewhere. Without PATH_AS_IS libcurl would
   * resolve them and PUT to another key (or bucket) than the URL names.
   * libcurl signs the path it sends, so the signature stays right. */
  if (curl_easy_setopt(h->easy, CURLOPT_AWS_SIGV4, provider) != CURLE_OK ||
      curl_easy_setopt(h->easy, CURLOPT_USERPWD, userpwd) != CURLE_OK ||
      curl_easy_setopt(h->easy, CURLOPT_PATH_AS_IS, 1L) != CURLE_OK)
    return RP_EINVAL;
  return RP_OK;
}

void rp_http_finish(struct rp_http *h, CURLcode result)
{
  h->done = 1;
  h->result = result;
  h->headers_done = 1;
  if (result == CURLE_OK)
    curl_easy_getinfo(h->easy, CURLINFO_RESPONSE_CODE, &h->status);
}

int rp_http_ready(const struct rp_http *h, int want_body)
{
  if (h->done)
    return 1;
  if (!want_body)
    return h->streaming ? h->headers_done : 0;
  return h->streaming && h->resp.len > 0;
}

int rp_http_step(struct rp_http *h)
{
  int running;
  if (!h->own) {
    h->own = curl_multi_init();
    if (!h->own || curl_multi_add_handle(h->own, h->easy) != CURLM_OK)
      return RP_EIO;
    h->multi = h->own;
  }
  for (;;) {
    CURLMsg *m;
    int left;
    if (curl_multi_perform(h->own, &running) != CURLM_OK)
      return RP_EIO;
    while ((m = curl_multi_info_read(h->own, &left)) != NULL)
      if (m->msg == CURLMSG_DONE)
        rp_http_finish(h, m->data.result);
    if (h->done || rp_http_ready(h, h->headers_done))
      return RP_OK;
    if (curl_multi_poll(h->own, NULL, 0, 1000, NULL) != CURLM_OK)
      return RP_EIO;
  }
}

void rp_http_take(struct rp_http *h, const char **p, size_t *len)
{
  static char empty[1];
  *p = h->resp.data ? h->resp.data : empty;
  *len = h->resp.len;
  h->resp.len = 0;            /* the bytes stay valid until the next call */
}

const char *rp_http_error(const struct rp_http *h)
{
  if (!h->done || h->result == CURLE_OK)
    return NULL;
  return h->error[0] ? h->error : curl_easy_strerror(h->result);
}

void rp_http_free(struct rp_http *h)
{
  if (!h)
    return;
  if (h->multi && h->easy)
    curl_multi_remove_handle(h->multi, h->easy);
  if (h->own)
    curl_multi_cleanup(h->own);
  if (h->easy)
    curl_easy_cleanup(h->easy);
  curl_slist_free_all(h->headers);
  free(h->guard);
  free(h->url);
  free(h->body);
  rp_buf_free(&h->resp);
  rp_buf_free(&h->head);
  free(h);
}
