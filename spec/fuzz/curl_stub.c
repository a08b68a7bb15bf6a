/*
 * spec/fuzz/curl_stub.c - libcurl stand-ins for fuzz_api: the emulator's
 * webhook thread gets no handle, so a fuzzed "webhook" URL is never
 * contacted (only 127.0.0.1 may be a traffic target) and every webhook
 * counts as failed.
 */
#define CURL_DISABLE_TYPECHECK 1
#include <curl/curl.h>

CURL *curl_easy_init(void)
{
  return NULL;
}

void curl_easy_cleanup(CURL *curl)
{
  (void)curl;
}

void curl_easy_reset(CURL *curl)
{
  (void)curl;
}

CURLcode curl_easy_setopt(CURL *curl, CURLoption option, ...)
{
  (void)curl;
  (void)option;
  return CURLE_FAILED_INIT;
}

CURLcode curl_easy_perform(CURL *curl)
{
  (void)curl;
  return CURLE_FAILED_INIT;
}

CURLcode curl_easy_getinfo(CURL *curl, CURLINFO info, ...)
{
  (void)curl;
  (void)info;
  return CURLE_FAILED_INIT;
}

struct curl_slist *curl_slist_append(struct curl_slist *list, const char *s)
{
  (void)s;
  return list;
}

void curl_slist_free_all(struct curl_slist *list)
{
  (void)list;
}
