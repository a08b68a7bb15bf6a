/*
 * test_sigv4.c - unit tests of sigv4.c: AWS's own presigned-URL example
 * (the "Authenticating Requests: Using Query Parameters" page of the S3
 * API reference), path-style URLs and escaping.
 */
#include <string.h>

#include "tests/check.h"
#include "base/rp.h"
#include "net/sigv4.h"

static struct rp_sigv4_request example(void)
{
  struct rp_sigv4_request r = {
    .method = "GET",
    .endpoint = "https://examplebucket.s3.amazonaws.com",
    .bucket = "",
    .key = "test.txt",
    .region = "us-east-1",
    .access_key = "AKIAIOSFODNN7EXAMPLE",
    .secret_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    .expires = 86400,
    .now = 1369353600,          /* 2013-05-24T00:00:00Z */
  };
  return r;
}

static void test_aws_example(void)
{
  struct rp_sigv4_request r = example();
  char url[2048];
  char err[128];
  CHECK_INT(RP_OK, rp_sigv4_presign(&r, url, sizeof(url), err, sizeof(err)));
  CHECK_STR("https://examplebucket.s3.amazonaws.com/test.txt"
            "?X-Amz-Algorithm=AWS4-HMAC-SHA256"
            "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1"
            "%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z"
            "&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
            "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c"
            "265957d157751f604d404", url);
}

static void test_path_style(void)
{
  struct rp_sigv4_request r = example();
  char url[2048];
  char err[128];
  r.endpoint = "http://127.0.0.1:4568/";
  r.bucket = "outputs";
  r.key = "job 1/a+b.png";
  CHECK_INT(RP_OK, rp_sigv4_presign(&r, url, sizeof(url), err, sizeof(err)));
  CHECK(strncmp(url, "http://127.0.0.1:4568/outputs/job%201/a%2Bb.png?", 47)
        == 0);
}

static void test_rejects(void)
{
  struct rp_sigv4_request r = example();
  char url[64];
  char err[128];
  r.expires = 604801;
  CHECK_INT(RP_EINVAL, rp_sigv4_presign(&r, url, sizeof(url), err,
                                        sizeof(err)));
  CHECK_STR("invalid expiry 604801 (must be 1 to 604800 seconds)", err);
  r = example();
  r.endpoint = "examplebucket";
  CHECK_INT(RP_EINVAL, rp_sigv4_presign(&r, url, sizeof(url), err,
                                        sizeof(err)));
  CHECK_STR("invalid endpoint URL 'examplebucket'", err);
  r = example();
  CHECK_INT(RP_ETOOBIG, rp_sigv4_presign(&r, url, sizeof(url), err,
                                         sizeof(err)));
}

static void test_escape(void)
{
  char out[64] = "";
  CHECK_INT(RP_OK, rp_sigv4_escape("a b/c~d*", 1, out, sizeof(out)));
  CHECK_STR("a%20b/c~d%2A", out);
  out[0] = '\0';
  CHECK_INT(RP_OK, rp_sigv4_escape("a/b", 0, out, sizeof(out)));
  CHECK_STR("a%2Fb", out);
}

int main(void)
{
  RUN(test_aws_example);
  RUN(test_path_style);
  RUN(test_rejects);
  RUN(test_escape);
  return check_summary();
}
