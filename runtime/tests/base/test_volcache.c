/*
 * test_volcache.c - the volume cache's path guards (files.h) and its
 * mirror, exercised in a temporary folder: the manifest as json.dump
 * writes it, names that must not be followed, and the exit wait.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "base/files.h"
#include "base/rp.h"
#include "base/volcache.h"
#include "tests/check.h"

static char tmp[256];

static void put(const char *path, const char *text)
{
  FILE *f = fopen(path, "w");
  if (f) {
    fputs(text, f);
    fclose(f);
  }
}

static char *slurp(const char *path)
{
  static char buf[65536];
  FILE *f = fopen(path, "r");
  size_t n = 0;
  buf[0] = '\0';
  if (f) {
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
  }
  buf[n] = '\0';
  return buf;
}

static void test_plain_rel(void)
{
  CHECK(rp_files_plain_rel("a"));
  CHECK(rp_files_plain_rel("a/b.c/d"));
  CHECK(rp_files_plain_rel("..a/b.."));
  CHECK(!rp_files_plain_rel(""));
  CHECK(!rp_files_plain_rel("/a"));
  CHECK(!rp_files_plain_rel("a/"));
  CHECK(!rp_files_plain_rel("a//b"));
  CHECK(!rp_files_plain_rel("a/./b"));
  CHECK(!rp_files_plain_rel("a/../b"));
  CHECK(!rp_files_plain_rel(".."));
}

static void test_open_beneath_refuses_links(void)
{
  char p[512], q[512];
  int root, fd;
  snprintf(p, sizeof(p), "%s/root", tmp);
  mkdir(p, 0755);
  snprintf(q, sizeof(q), "%s/root/link", tmp);
  CHECK_INT(0, symlink(tmp, q));
  root = open(p, O_RDONLY | O_DIRECTORY);
  CHECK(root >= 0);
  fd = rp_files_open_beneath(root, "a/b", 3, 1);
  CHECK(fd >= 0);
  if (fd >= 0)
    close(fd);
  snprintf(q, sizeof(q), "%s/root/a/b", tmp);
  CHECK_INT(0, access(q, F_OK));
  errno = 0;
  CHECK_INT(-1, rp_files_open_beneath(root, "link/x", 6, 1));
  CHECK(errno == ELOOP || errno == ENOTDIR);
  snprintf(q, sizeof(q), "%s/x", tmp);
  CHECK(access(q, F_OK) != 0);       /* nothing made through the link */
  close(root);
}

/* sync writes the manifest as Python's json.dump: ", " and ": ", ASCII
 * only (\u escapes, surrogate pairs, surrogateescape for bad UTF-8). */
static void test_manifest_format(void)
{
  char dir[512], vol[512], f[640], want[4096];
  const char *dirs[1];
  struct rp_volcache *vc = NULL;
  struct timeval tv[2] = { { 1700000000, 250000 }, { 1700000000, 250000 } };
  char err[256];
  long n = -1;
  snprintf(dir, sizeof(dir), "%s/c", tmp);
  snprintf(vol, sizeof(vol), "%s/v", tmp);
  mkdir(dir, 0755);
  mkdir(vol, 0755);
  /* "é", U+1F600 and the invalid byte 0xff in one name */
  snprintf(f, sizeof(f), "%s/\xc3\xa9\xf0\x9f\x98\x80\xff\"\t", dir);
  put(f, "xy");
  CHECK_INT(0, utimes(f, tv));
  dirs[0] = dir;
  CHECK_INT(RP_OK, rp_volcache_new(&vc, dirs, 1, vol, "ns", 2, err,
                                   sizeof(err)));
  CHECK(rp_volcache_available(vc));
  CHECK_INT(RP_OK, rp_volcache_run(vc, RP_VOLCACHE_SYNC, &n, err,
                                   sizeof(err)));
  CHECK_INT(1, n);
  snprintf(want, sizeof(want), "{\"version\": 1, \"threshold\": 262144, "
           "\"small\": [{\"path\": \"%s/\\u00e9\\ud83d\\ude00\\udcff\\\"\\t\", "
           "\"size\": 2, \"mtime\": 1700000000.25}], \"big\": []}", dir);
  snprintf(f, sizeof(f), "%s/.cache/ns/manifest.json", vol);
  CHECK_STR(want, slurp(f));
  rp_volcache_unref(vc);
}

/* An unavailable cache does nothing; a namespace of "" is unavailable. */
static void test_unavailable(void)
{
  char vol[512], err[256];
  const char *dirs[1] = { tmp };
  struct rp_volcache *vc = NULL;
  long n = -1;
  snprintf(vol, sizeof(vol), "%s/missing", tmp);
  CHECK_INT(RP_OK, rp_volcache_new(&vc, dirs, 1, vol, "ns", 0, err,
                                   sizeof(err)));
  CHECK(!rp_volcache_available(vc));
  CHECK_INT(RP_OK, rp_volcache_run(vc, RP_VOLCACHE_SYNC, &n, err,
                                   sizeof(err)));
  CHECK_INT(0, n);
  CHECK(access(vol, F_OK) != 0);
  rp_volcache_unref(vc);
  CHECK_INT(RP_OK, rp_volcache_new(&vc, dirs, 1, tmp, "", 0, err,
                                   sizeof(err)));
  CHECK(!rp_volcache_available(vc));
  rp_volcache_unref(vc);
}

/* A detached sync holds its own reference: the caller may drop the cache
 * at once, and the exit wait sees it finish. */
static void test_detached_sync_outlives_the_cache(void)
{
  char dir[512], vol[512], f[640], err[256];
  const char *dirs[1];
  struct rp_volcache *vc = NULL;
  snprintf(dir, sizeof(dir), "%s/d", tmp);
  snprintf(vol, sizeof(vol), "%s/w", tmp);
  mkdir(dir, 0755);
  mkdir(vol, 0755);
  snprintf(f, sizeof(f), "%s/a.txt", dir);
  put(f, "a");
  dirs[0] = dir;
  CHECK_INT(RP_OK, rp_volcache_new(&vc, dirs, 1, vol, "ns", 0, err,
                                   sizeof(err)));
  CHECK_INT(RP_OK, rp_volcache_start(NULL, vc, RP_VOLCACHE_SYNC, 1, err,
                                     sizeof(err)));
  rp_volcache_unref(vc);
  CHECK_INT(0, rp_volcache_wait_all(30));
  snprintf(f, sizeof(f), "%s/.cache/ns/manifest.json", vol);
  CHECK(strstr(slurp(f), "a.txt") != NULL);
}

int main(void)
{
  char cmd[300];
  snprintf(tmp, sizeof(tmp), "/tmp/rp_test_volcache.XXXXXX");
  if (!mkdtemp(tmp))
    return 1;
  RUN(test_plain_rel);
  RUN(test_open_beneath_refuses_links);
  RUN(test_manifest_format);
  RUN(test_unavailable);
  RUN(test_detached_sync_outlives_the_cache);
  snprintf(cmd, sizeof(cmd), "rm -rf %s", tmp);
  if (system(cmd) != 0)
    printf("could not remove %s\n", tmp);
  return check_summary();
}
