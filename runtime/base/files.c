/*
 * files.c - removing directory trees without following symbolic links
 * (see files.h).
 */
#include "base/files.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/rp.h"

/* The walk's state: the path shown in messages and the first failure. */
struct walk {
  char path[4096];
  int rc;
  char *err;
  size_t errlen;
};

static void failed(struct walk *w, const char *what)
{
  if (w->rc == RP_OK)
    w->rc = rp_fail(RP_EIO, w->err, w->errlen, "%s: %s", w->path, what);
}

/* Removes the entry 'name' of the directory dirfd; w->path names it. */
static void remove_at(struct walk *w, int dirfd, const char *name, int depth)
{
  struct stat st;
  struct dirent *e;
  size_t plen;
  DIR *d;
  int fd;
  if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno != ENOENT)
      failed(w, strerror(errno));
    return;
  }
  if (!S_ISDIR(st.st_mode)) {
    if (unlinkat(dirfd, name, 0) != 0 && errno != ENOENT)
      failed(w, strerror(errno));
    return;
  }
  if (depth >= RP_FILES_MAX_DEPTH) {
    failed(w, "directory tree too deep");
    return;
  }
  /* O_NOFOLLOW: if a symlink replaced the directory since fstatat, this
   * fails instead of walking the link's target. */
  fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    failed(w, strerror(errno));
    return;
  }
  d = fdopendir(fd);
  if (!d) {
    failed(w, strerror(errno));
    close(fd);
    return;
  }
  plen = strlen(w->path);
  for (;;) {
    errno = 0;
    e = readdir(d);
    if (!e)
      break;
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
      continue;
    /* A path too long for messages is cut; the walk itself uses fds. */
    snprintf(w->path + plen, sizeof(w->path) - plen, "/%s", e->d_name);
    remove_at(w, fd, e->d_name, depth + 1);
    w->path[plen] = '\0';
  }
  if (errno != 0)
    failed(w, strerror(errno));
  closedir(d);
  if (unlinkat(dirfd, name, AT_REMOVEDIR) != 0 && errno != ENOENT)
    failed(w, strerror(errno));
}

/* Whether path names ".", "..", "/" or nothing (trailing slashes aside),
 * which are never removed. */
static int refused(const char *path)
{
  size_t n = strlen(path);
  size_t k;
  while (n > 0 && path[n - 1] == '/')
    n--;
  k = n;
  while (k > 0 && path[k - 1] != '/')
    k--;
  /* the last component is path[k..n) */
  return n == 0 || (n - k == 1 && path[k] == '.') ||
         (n - k == 2 && path[k] == '.' && path[k + 1] == '.');
}

int rp_files_remove_tree(const char *path, int *existed, char *err,
                         size_t errlen)
{
  struct walk w;
  struct stat st;
  *existed = 0;
  if (refused(path))
    return rp_fail(RP_EINVAL, err, errlen, "refusing to remove '%s'", path);
  if (fstatat(AT_FDCWD, path, &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT)
      return RP_OK;
    return rp_fail(RP_EIO, err, errlen, "%s: %s", path, strerror(errno));
  }
  *existed = 1;
  w.rc = RP_OK;
  w.err = err;
  w.errlen = errlen;
  snprintf(w.path, sizeof(w.path), "%s", path);
  remove_at(&w, AT_FDCWD, path, 0);
  return w.rc;
}

int rp_files_make_dirs(const char *path, char *err, size_t errlen)
{
  char buf[4096];
  size_t n = strlen(path);
  if (n == 0 || n >= sizeof(buf))
    return rp_fail(RP_EINVAL, err, errlen, "invalid directory '%s'", path);
  memcpy(buf, path, n + 1);
  /* Each prefix ending before a '/', then the whole path. */
  for (size_t i = 1; i <= n; i++) {
    if (buf[i] != '/' && buf[i] != '\0')
      continue;
    buf[i] = '\0';
    if (mkdir(buf, 0755) != 0 && errno != EEXIST) {
      int e = errno;
      return rp_fail(RP_EIO, err, errlen, "%s: %s", buf, strerror(e));
    }
    buf[i] = path[i];
  }
  {
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
      return rp_fail(RP_EIO, err, errlen, "%s: not a directory", path);
  }
  return RP_OK;
}

int rp_files_cwd(char *buf, size_t len, char *err, size_t errlen)
{
  if (!getcwd(buf, len))
    return rp_fail(RP_EIO, err, errlen, "getcwd: %s", strerror(errno));
  return RP_OK;
}

int rp_files_random(unsigned char *buf, size_t n, char *err, size_t errlen)
{
  size_t off = 0;
  while (off < n) {
    ssize_t got = getrandom(buf + off, n - off, 0);
    if (got < 0 && errno == EINTR)
      continue;
    if (got < 0)
      return rp_fail(RP_EIO, err, errlen, "getrandom: %s", strerror(errno));
    off += (size_t)got;
  }
  return RP_OK;
}

int rp_files_plain_rel(const char *rel)
{
  const char *p = rel;
  if (!*rel)
    return 0;
  for (;;) {
    const char *slash = strchr(p, '/');
    size_t n = slash ? (size_t)(slash - p) : strlen(p);
    if (n == 0 || n > NAME_MAX || (n == 1 && p[0] == '.') ||
        (n == 2 && p[0] == '.' && p[1] == '.'))
      return 0;
    if (!slash)
      return 1;
    p = slash + 1;
  }
}

int rp_files_open_beneath(int dirfd, const char *rel, size_t n, int mk)
{
  int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  size_t i = 0;
  while (fd >= 0 && i < n) {
    char name[NAME_MAX + 1];
    size_t j = i;
    int next, e;
    while (j < n && rel[j] != '/')
      j++;
    if (j - i > NAME_MAX) {
      close(fd);
      errno = ENAMETOOLONG;
      return -1;
    }
    memcpy(name, rel + i, j - i);
    name[j - i] = '\0';
    if (mk && mkdirat(fd, name, 0755) != 0 && errno != EEXIST) {
      e = errno;
      close(fd);
      errno = e;
      return -1;
    }
    next = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    e = errno;
    close(fd);
    errno = e;
    fd = next;
    i = j + 1;
  }
  return fd;
}
