/* volcache.c - see volcache.h. */
#include "base/volcache.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/files.h"
#include "base/json.h"
#include "base/log.h"
#include "base/rp.h"

#define COPY_CHUNK (1024 * 1024)
#define MAX_DEPTH 128
#define MANIFEST "manifest.json"
#define SMALL_TAR "small.tar"
#define BIG_DIR "big"
#define TMP_SUFFIX ".rpvc.tmp"

struct rp_volcache {
  atomic_int refs;
  char **dirs;               /* resolved, absolute, no trailing '/' */
  size_t ndirs;
  char *volume;
  char *ns;
  char *root;                /* volume/.cache/ns */
  int max_workers;
};

/* One file of a manifest or of a walk. */
struct entry {
  char *path;
  long long size;
  double mtime;
};

struct entries {
  struct entry *v;
  size_t n, cap;
};

static atomic_ulong tmp_counter;

/* ---- small helpers ---- */

static void entries_free(struct entries *e)
{
  for (size_t i = 0; i < e->n; i++)
    free(e->v[i].path);
  free(e->v);
  e->v = NULL;
  e->n = e->cap = 0;
}

/* Appends (takes ownership of 'path', also on failure). */
static int entries_add(struct entries *e, char *path, long long size,
                       double mtime)
{
  if (e->n == e->cap) {
    size_t cap = e->cap ? e->cap * 2 : 64;
    struct entry *v = realloc(e->v, cap * sizeof(*v));
    if (!v) {
      free(path);
      return RP_ENOMEM;
    }
    e->v = v;
    e->cap = cap;
  }
  e->v[e->n++] = (struct entry){ path, size, mtime };
  return RP_OK;
}

static int entry_cmp(const void *a, const void *b)
{
  return strcmp(((const struct entry *)a)->path,
                ((const struct entry *)b)->path);
}

/* Sorts by path (qsort wants a non-NULL array even when empty). */
static void entries_sort(struct entries *e)
{
  if (e->n)
    qsort(e->v, e->n, sizeof(*e->v), entry_cmp);
}

static const struct entry *entries_find(const struct entries *e,
                                        const char *path)
{
  struct entry key = { (char *)path, 0, 0 };
  if (!e->n)
    return NULL;
  return bsearch(&key, e->v, e->n, sizeof(*e->v), entry_cmp);
}

/* Python's st_mtime: seconds + nanoseconds * 1e-9, as a double. */
static double mtime_of(const struct stat *st)
{
  return (double)st->st_mtim.tv_sec + (double)st->st_mtim.tv_nsec * 1e-9;
}

static char *join3(const char *a, const char *b, const char *c)
{
  size_t la = strlen(a), lb = strlen(b), lc = strlen(c);
  char *s = malloc(la + lb + lc + 1);
  if (!s)
    return NULL;
  memcpy(s, a, la);
  memcpy(s + la, b, lb);
  memcpy(s + la + lb, c, lc + 1);
  return s;
}

/* Lexically normalises the absolute path s in place: no "//", ".", "..",
 * no trailing '/' (except for "/" itself). */
static void normalise(char *s)
{
  char *out = s;
  const char *p = s;
  while (*p) {
    const char *q;
    size_t n;
    while (*p == '/')
      p++;
    q = strchr(p, '/');
    n = q ? (size_t)(q - p) : strlen(p);
    if (n == 0)
      break;
    if (n == 1 && p[0] == '.') {
      /* nothing */
    } else if (n == 2 && p[0] == '.' && p[1] == '.') {
      while (out > s && *--out != '/')
        continue;
    } else {
      *out++ = '/';
      memmove(out, p, n);
      out += n;
    }
    p += n;
  }
  if (out == s)
    *out++ = '/';
  *out = '\0';
}

/* Python's os.path.realpath for dir: absolute, normalised, the longest
 * existing prefix resolved. Caller frees the result; NULL on failure. */
static char *resolve(const char *dir)
{
  char cwd[PATH_MAX];
  char *abs;
  char *tail = NULL;
  char *out = NULL;
  if (dir[0] == '/') {
    abs = strdup(dir);
  } else {
    if (!getcwd(cwd, sizeof(cwd)))
      return NULL;
    abs = join3(cwd, "/", dir);
  }
  if (!abs)
    return NULL;
  normalise(abs);
  /* Strip components until realpath succeeds; they are put back. */
  for (;;) {
    char *r = realpath(abs, NULL);
    char *slash;
    if (r) {
      if (!tail) {
        out = r;
      } else {
        out = join3(strcmp(r, "/") == 0 ? "" : r, "/", tail);
        free(r);
      }
      break;
    }
    slash = strrchr(abs, '/');
    if (!slash || slash == abs) {
      out = tail ? join3(abs, "/", tail) : strdup(abs);
      break;
    }
    {
      char *t = tail ? join3(slash + 1, "/", tail) : strdup(slash + 1);
      free(tail);
      tail = t;
      if (!tail)
        break;
    }
    *slash = '\0';
  }
  free(tail);
  free(abs);
  return out;
}

/* Splits rel into its directory part length and its last component. */
static const char *base_of(const char *rel, size_t *dirlen)
{
  const char *slash = strrchr(rel, '/');
  *dirlen = slash ? (size_t)(slash - rel) : 0;
  return slash ? slash + 1 : rel;
}

/* The temporary name of 'name' (NAME_MAX at most). */
static int tmp_name(char *out, size_t cap, const char *name)
{
  unsigned long n = atomic_fetch_add(&tmp_counter, 1);
  int len = snprintf(out, cap, "%s.%ld.%lu" TMP_SUFFIX, name,
                     (long)getpid(), n);
  if (len < 0 || (size_t)len >= cap || len > NAME_MAX) {
    errno = ENAMETOOLONG;
    return -1;
  }
  return 0;
}

/* Writes everything of buf or fails. */
static int write_all(int fd, const char *p, size_t n)
{
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR)
        continue;
      return -1;
    }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

/* Opens a file to read only when it is a regular file: O_NONBLOCK so a
 * FIFO or device planted in a mirror cannot block the open, which is then
 * refused (EINVAL); 'flags' adds to O_RDONLY (O_NOFOLLOW). Returns a
 * blocking descriptor or -1 with errno set. */
static int open_regular(int dirfd, const char *path, int flags)
{
  struct stat st;
  int fd = openat(dirfd, path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | flags);
  if (fd < 0)
    return -1;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
      fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) != 0) {
    close(fd);
    errno = EINVAL;
    return -1;
  }
  return fd;
}

/* The file mode kept on a copy: permission bits without setuid, setgid,
 * sticky and group/other write (as tarfile's data filter), owner rw. */
static mode_t safe_mode(mode_t m)
{
  return (mode_t)(((m & 0777) & ~(mode_t)022) | 0600);
}

/* A file written under a temporary name in dirfd, renamed to 'name' by
 * tmpfile_commit. */
struct tmpfile {
  int dirfd;
  int fd;
  char tmp[NAME_MAX + 1];
};

static int tmpfile_open(struct tmpfile *t, int dirfd, const char *name)
{
  t->dirfd = dirfd;
  t->fd = -1;
  if (tmp_name(t->tmp, sizeof(t->tmp), name) != 0)
    return -1;
  t->fd = openat(dirfd, t->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
                 O_CLOEXEC, 0600);
  return t->fd < 0 ? -1 : 0;
}

/* Sets mode and times, closes and renames into place; on any failure (or
 * ok == 0) removes the temporary file. Returns 0 or -1 (errno). */
static int tmpfile_end(struct tmpfile *t, int ok, const char *name,
                       mode_t mode, const struct timespec times[2])
{
  int e = 0;
  if (t->fd < 0)
    return -1;
  if (ok && (fchmod(t->fd, safe_mode(mode)) != 0 ||
             (times && futimens(t->fd, times) != 0))) {
    ok = 0;
    e = errno;
  }
  if (close(t->fd) != 0 && ok) {
    ok = 0;
    e = errno;
  }
  t->fd = -1;
  if (ok && renameat(t->dirfd, t->tmp, t->dirfd, name) != 0) {
    ok = 0;
    e = errno;
  }
  if (!ok) {
    unlinkat(t->dirfd, t->tmp, 0);
    errno = e ? e : EIO;
    return -1;
  }
  return 0;
}

/* Copies srcfd (whose stat is st) to name in dirfd, mtime and atime kept.
 * Returns 0 or -1 (errno). */
static int copy_fd(int srcfd, const struct stat *st, int dirfd,
                   const char *name, char *buf)
{
  struct tmpfile t;
  struct timespec times[2] = { st->st_atim, st->st_mtim };
  int ok = 1;
  off_t left = st->st_size;
  if (tmpfile_open(&t, dirfd, name) != 0)
    return -1;
  /* In the kernel first (no copy through user space); a file system that
   * cannot (EINVAL, ENOSYS) falls back to read and write. */
  while (left > 0) {
    ssize_t n = sendfile(t.fd, srcfd, NULL, (size_t)left);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    left -= n;
  }
  for (;;) {
    ssize_t r = read(srcfd, buf, COPY_CHUNK);
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0 || (r > 0 && write_all(t.fd, buf, (size_t)r) != 0)) {
      int e = errno;
      tmpfile_end(&t, 0, name, 0, NULL);
      errno = e;
      return -1;
    }
    if (r == 0)
      break;
  }
  return tmpfile_end(&t, ok, name, st->st_mode, times);
}

/* ---- configuration ---- */

int rp_volcache_new(struct rp_volcache **out, const char *const *dirs,
                    size_t n, const char *volume_path, const char *ns,
                    int max_workers, char *err, size_t errlen)
{
  struct rp_volcache *vc = calloc(1, sizeof(*vc));
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  *out = NULL;
  if (!vc)
    return rp_fail(RP_ENOMEM, err, errlen, "out of memory");
  atomic_init(&vc->refs, 1);
  vc->dirs = calloc(n ? n : 1, sizeof(char *));
  vc->volume = strdup(volume_path);
  vc->ns = strdup(ns);
  vc->root = join3(volume_path, "/.cache/", ns);
  if (!vc->dirs || !vc->volume || !vc->ns || !vc->root) {
    rp_volcache_unref(vc);
    return rp_fail(RP_ENOMEM, err, errlen, "out of memory");
  }
  for (size_t i = 0; i < n; i++) {
    vc->dirs[i] = resolve(dirs[i]);
    if (!vc->dirs[i]) {
      rp_volcache_unref(vc);
      return rp_fail(RP_EINVAL, err, errlen, "cannot resolve '%s': %s",
                     dirs[i], strerror(errno));
    }
    vc->ndirs++;
  }
  if (max_workers <= 0) {
    max_workers = (int)((cpus > 0 ? cpus : 4) * 4);
    if (max_workers > RP_VOLCACHE_MAX_WORKERS)
      max_workers = RP_VOLCACHE_MAX_WORKERS;
  }
  vc->max_workers = max_workers;
  *out = vc;
  return RP_OK;
}

void rp_volcache_unref(struct rp_volcache *vc)
{
  if (!vc || atomic_fetch_sub(&vc->refs, 1) != 1)
    return;
  for (size_t i = 0; i < vc->ndirs; i++)
    free(vc->dirs[i]);
  free(vc->dirs);
  free(vc->volume);
  free(vc->ns);
  free(vc->root);
  free(vc);
}

int rp_volcache_available(const struct rp_volcache *vc)
{
  struct stat st;
  return vc->ns[0] != '\0' && stat(vc->volume, &st) == 0 &&
         S_ISDIR(st.st_mode);
}

const char *rp_volcache_root(const struct rp_volcache *vc)
{
  return vc->root;
}

/* ---- destinations in the cached folders ---- */

/* Where the absolute path 'path' lands: the index of the configured folder
 * strictly holding it, and *rel the part below that folder (a plain
 * relative path); -1 when it is in none (or not plain). */
static int dest_of(const struct rp_volcache *vc, const char *path,
                   const char **rel)
{
  for (size_t i = 0; i < vc->ndirs; i++) {
    const char *d = vc->dirs[i];
    size_t n = strcmp(d, "/") == 0 ? 0 : strlen(d);
    if (strncmp(path, d, n) == 0 && path[n] == '/' &&
        rp_files_plain_rel(path + n + 1)) {
      *rel = path + n + 1;
      return (int)i;
    }
  }
  return -1;
}

/* Opens the parent directory of folder-relative rel beneath folder i,
 * creating the folder and missing directories. -1 (errno) when a
 * component is a symbolic link or not a directory. */
static int open_dest_parent(const struct rp_volcache *vc, int i,
                            const char *rel)
{
  size_t dirlen;
  int root;
  int fd;
  char err[256];
  if (rp_files_make_dirs(vc->dirs[i], err, sizeof(err)) != RP_OK)
    return -1;
  root = open(vc->dirs[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (root < 0)
    return -1;
  base_of(rel, &dirlen);
  fd = rp_files_open_beneath(root, rel, dirlen, 1);
  {
    int e = errno;
    close(root);
    errno = e;
  }
  return fd;
}

/* Whether the local file at name in dirfd is current for (size, mtime):
 * Python's _meta_satisfied_by_local. */
static int satisfied(int dirfd, const char *name, long long size,
                     double mtime)
{
  struct stat st;
  if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
    return 0;
  return S_ISREG(st.st_mode) && (long long)st.st_size == size &&
         mtime_of(&st) >= mtime - RP_VOLCACHE_TOLERANCE;
}

/* ---- manifest ---- */

/* Reads the whole of path (at most max bytes) into b. */
static int read_file(const char *path, struct rp_buf *b)
{
  int fd = open_regular(AT_FDCWD, path, 0);
  char chunk[65536];
  int rc = RP_OK;
  if (fd < 0)
    return RP_EIO;
  for (;;) {
    ssize_t r = read(fd, chunk, sizeof(chunk));
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0) {
      rc = RP_EIO;
      break;
    }
    if (r == 0)
      break;
    rc = rp_buf_append(b, chunk, (size_t)r);
    if (rc != RP_OK)
      break;
  }
  close(fd);
  return rc;
}

struct parse_ctx {
  struct entries *e;
  int bad;
};

static int parse_entry(void *ud, struct rp_json_span el)
{
  struct parse_ctx *c = ud;
  struct rp_json_span p, s, m;
  char path[PATH_MAX];
  double size, mtime;
  char *dup;
  if (rp_json_member(el.p, el.n, "path", &p) != 1 ||
      rp_json_member(el.p, el.n, "size", &s) != 1 ||
      rp_json_member(el.p, el.n, "mtime", &m) != 1 ||
      rp_json_string(p, path, sizeof(path)) != RP_OK ||
      rp_json_number(s, &size) != RP_OK ||
      rp_json_number(m, &mtime) != RP_OK || path[0] != '/' ||
      !(size >= 0 && size < 9e18) || mtime != mtime) {
    c->bad++;
    return 0;
  }
  dup = strdup(path);
  if (!dup || entries_add(c->e, dup, (long long)size, mtime) != RP_OK)
    return 1;
  return 0;
}

/* Reads the manifest's "small" and "big" lists. Returns 1 when there is a
 * valid version-1 manifest, 0 when it is absent or invalid (Python treats
 * both as no mirror), RP_ENOMEM. Entries that are not {path: absolute
 * string, size: number >= 0, mtime: number} are dropped (logged). */
static int read_manifest(const struct rp_volcache *vc, struct entries *small,
                         struct entries *big)
{
  struct rp_buf b = RP_BUF_INIT(RP_VOLCACHE_MAX_MANIFEST);
  char *path = join3(vc->root, "/", MANIFEST);
  struct rp_json_span v, list;
  struct parse_ctx c = { NULL, 0 };
  double version;
  int rc = 0;
  if (!path)
    return RP_ENOMEM;
  if (read_file(path, &b) != RP_OK || b.len == 0)
    goto done;
  if (rp_json_member(b.data, b.len, "version", &v) != 1 ||
      rp_json_number(v, &version) != RP_OK ||
      version != RP_VOLCACHE_VERSION) {
    rp_log(RP_LOG_DEBUG, NULL, "VolumeCache: %s is not a version-1 "
           "manifest; the mirror counts as absent", path);
    goto done;
  }
  for (int i = 0; i < 2; i++) {
    c.e = i == 0 ? small : big;
    if (rp_json_member(b.data, b.len, i == 0 ? "small" : "big", &list) == 1
        && rp_json_kind(list) == RP_JSON_ARRAY &&
        rp_json_each_element(list.p, list.n, parse_entry, &c) > 0) {
      rc = RP_ENOMEM;
      goto done;
    }
  }
  if (c.bad)
    rp_log(RP_LOG_WARN, NULL, "VolumeCache: %s: %d malformed entr%s "
           "ignored", path, c.bad, c.bad == 1 ? "y" : "ies");
  rc = 1;
done:
  rp_buf_free(&b);
  free(path);
  return rc;
}

/* Appends s as json.dump(ensure_ascii=True) writes a str: the short
 * escapes, other control characters and everything beyond ASCII as
 * lower-case \uXXXX (surrogate pairs above U+FFFF), and each byte that is
 * not valid UTF-8 as Python's surrogateescape decoding gives it (\udcXX). */
static int put_ascii_string(struct rp_buf *b, const char *s)
{
  const unsigned char *p = (const unsigned char *)s;
  int rc = rp_buf_append(b, "\"", 1);
  while (rc == RP_OK && *p) {
    unsigned c = *p;
    unsigned long cp = 0;
    size_t len = 0;
    if (c == '"' || c == '\\') {
      char esc[2] = { '\\', (char)c };
      rc = rp_buf_append(b, esc, 2);
    } else if (c == '\n' || c == '\r' || c == '\t' || c == '\b' ||
               c == '\f') {
      char esc[2] = { '\\', c == '\n' ? 'n' : c == '\r' ? 'r' : c == '\t'
                      ? 't' : c == '\b' ? 'b' : 'f' };
      rc = rp_buf_append(b, esc, 2);
    } else if (c < 0x20) {
      rc = rp_buf_printf(b, "\\u%04x", c);
    } else if (c < 0x80) {
      rc = rp_buf_append(b, p, 1);
    } else {
      if (c >= 0xc2 && c <= 0xdf)
        len = 2, cp = c & 0x1f;
      else if (c >= 0xe0 && c <= 0xef)
        len = 3, cp = c & 0x0f;
      else if (c >= 0xf0 && c <= 0xf4)
        len = 4, cp = c & 0x07;
      for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80) {
          len = 0;
          break;
        }
        cp = (cp << 6) | (p[i] & 0x3f);
      }
      if (len && ((len == 3 && (cp < 0x800 || (cp >= 0xd800 &&
                                               cp <= 0xdfff))) ||
                  (len == 4 && (cp < 0x10000 || cp > 0x10ffff))))
        len = 0;
      if (!len) {
        rc = rp_buf_printf(b, "\\u%04x", 0xdc00 + c);
        p++;
        continue;
      }
      if (cp >= 0x10000)
        rc = rp_buf_printf(b, "\\u%04lx\\u%04lx",
                           0xd800 + ((cp - 0x10000) >> 10),
                           0xdc00 + ((cp - 0x10000) & 0x3ff));
      else
        rc = rp_buf_printf(b, "\\u%04lx", cp);
      p += len;
      continue;
    }
    p++;
  }
  return rc == RP_OK ? rp_buf_append(b, "\"", 1) : rc;
}

static int put_entries(struct rp_buf *b, const struct entries *e)
{
  struct rp_json_decpoint dp;
  int rc = rp_buf_append(b, "[", 1);
  rp_json_decpoint_get(&dp);
  for (size_t i = 0; rc == RP_OK && i < e->n; i++) {
    char num[64];
    rc = rp_buf_puts(b, i ? ", {\"path\": " : "{\"path\": ");
    if (rc == RP_OK)
      rc = put_ascii_string(b, e->v[i].path);
    if (rc == RP_OK)
      rc = rp_buf_printf(b, ", \"size\": %lld, \"mtime\": ", e->v[i].size);
    if (rc == RP_OK) {
      rp_json_format_double(num, sizeof(num), e->v[i].mtime, &dp);
      rc = rp_buf_puts(b, num);
    }
    if (rc == RP_OK)
      rc = rp_buf_append(b, "}", 1);
  }
  return rc == RP_OK ? rp_buf_append(b, "]", 1) : rc;
}

/* Writes the manifest as json.dump(payload, fh) does (", " and ": "
 * separators, no newline), through a temporary file and a rename. */
static int write_manifest(const char *root, int rootfd,
                          const struct entries *small,
                          const struct entries *big, char *err,
                          size_t errlen)
{
  struct rp_buf b = RP_BUF_INIT(RP_VOLCACHE_MAX_MANIFEST);
  struct tmpfile t;
  int rc = rp_buf_printf(&b, "{\"version\": %d, \"threshold\": %d, "
                         "\"small\": ", RP_VOLCACHE_VERSION,
                         RP_VOLCACHE_THRESHOLD);
  if (rc == RP_OK)
    rc = put_entries(&b, small);
  if (rc == RP_OK)
    rc = rp_buf_puts(&b, ", \"big\": ");
  if (rc == RP_OK)
    rc = put_entries(&b, big);
  if (rc == RP_OK)
    rc = rp_buf_append(&b, "}", 1);
  if (rc != RP_OK) {
    rp_buf_free(&b);
    return rp_fail(RP_ENOMEM, err, errlen, "out of memory");
  }
  if (tmpfile_open(&t, rootfd, MANIFEST) != 0 ||
      write_all(t.fd, b.data, b.len) != 0 ||
      tmpfile_end(&t, 1, MANIFEST, 0644, NULL) != 0) {
    int e = errno;
    if (t.fd >= 0)
      tmpfile_end(&t, 0, MANIFEST, 0, NULL);
    rc = rp_fail(RP_EIO, err, errlen, "writing %s/%s: %s", root, MANIFEST,
                 strerror(e));
  }
  rp_buf_free(&b);
  return rc;
}

/* ---- parallel copies ---- */

struct copy_job {
  const struct rp_volcache *vc;
  struct entries *pairs;     /* path = source; dst in dsts[] */
  char **dsts;               /* absolute destination paths */
  int to_volume;             /* dst is under the mirror, else a folder */
  unsigned char *result;     /* per pair: 0 failed, 1 copied, 2 current */
  size_t next;
  pthread_mutex_t mu;
};

/* Opens the parent directory of dst for writing, under the rules of its
 * side: a cached folder (dest_of) or the mirror's big/ tree. */
static int open_dst_parent(const struct copy_job *j, const char *dst,
                           const char **name)
{
  size_t dirlen;
  const char *rel;
  if (j->to_volume) {
    int root = open(j->vc->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int fd;
    rel = dst + strlen(j->vc->root) + 1;
    *name = base_of(rel, &dirlen);
    if (root < 0)
      return -1;
    fd = rp_files_open_beneath(root, rel, dirlen, 1);
    {
      int e = errno;
      close(root);
      errno = e;
    }
    return fd;
  }
  {
    int i = dest_of(j->vc, dst, &rel);
    if (i < 0) {
      errno = EPERM;
      return -1;
    }
    *name = base_of(rel, &dirlen);
    return open_dest_parent(j->vc, i, rel);
  }
}

/* Opens a source file: on the volume side (hydrate) beneath big/ with no
 * symbolic link followed; a local file (sync) with O_NOFOLLOW. */
static int open_src(const struct copy_job *j, const char *src)
{
  if (!j->to_volume) {
    size_t big = strlen(j->vc->root) + sizeof("/" BIG_DIR "/") - 1;
    const char *rel = src + big;
    size_t dirlen;
    const char *name = base_of(rel, &dirlen);
    char *bigdir = join3(j->vc->root, "/", BIG_DIR);
    int root, dir, fd;
    if (!bigdir)
      return -1;
    root = open(bigdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(bigdir);
    if (root < 0)
      return -1;
    dir = rp_files_open_beneath(root, rel, dirlen, 0);
    close(root);
    if (dir < 0)
      return -1;
    fd = open_regular(dir, name, O_NOFOLLOW);
    close(dir);
    return fd;
  }
  return open_regular(AT_FDCWD, src, O_NOFOLLOW);
}

/* Frees the job's destination list (n entries) and results. */
static void copy_job_free(struct copy_job *j, size_t n)
{
  if (j->dsts)
    for (size_t i = 0; i < n; i++)
      free(j->dsts[i]);
  free(j->dsts);
  free(j->result);
  j->dsts = NULL;
  j->result = NULL;
}

/* One pair: copies when the destination is missing, of another size, or
 * older than the source by more than the tolerance (Python's _needs_copy).
 * Returns 0 failed (or source gone), 1 copied, 2 already current. */
static int copy_one(const struct copy_job *j, size_t k, char *buf)
{
  const char *src = j->pairs->v[k].path;
  const char *dst = j->dsts[k];
  const char *name;
  struct stat s, d;
  int srcfd = open_src(j, src);
  int dirfd;
  int r = 0;
  if (srcfd < 0)
    return 0;
  if (fstat(srcfd, &s) != 0 || !S_ISREG(s.st_mode)) {
    close(srcfd);
    return 0;
  }
  dirfd = open_dst_parent(j, dst, &name);
  if (dirfd < 0) {
    rp_log(RP_LOG_DEBUG, NULL, "VolumeCache: skip %s -> %s: %s", src, dst,
           strerror(errno));
    close(srcfd);
    return 0;
  }
  if (fstatat(dirfd, name, &d, AT_SYMLINK_NOFOLLOW) == 0 &&
      S_ISREG(d.st_mode) && d.st_size == s.st_size &&
      !(mtime_of(&s) > mtime_of(&d) + RP_VOLCACHE_TOLERANCE)) {
    r = 2;
  } else if (copy_fd(srcfd, &s, dirfd, name, buf) == 0) {
    r = 1;
  } else {
    rp_log(RP_LOG_DEBUG, NULL, "VolumeCache: skip %s -> %s: %s", src, dst,
           strerror(errno));
  }
  close(dirfd);
  close(srcfd);
  return r;
}

static void *copy_thread(void *arg)
{
  struct copy_job *j = arg;
  char *buf = malloc(COPY_CHUNK);
  for (;;) {
    size_t k;
    pthread_mutex_lock(&j->mu);
    k = j->next++;
    pthread_mutex_unlock(&j->mu);
    if (k >= j->pairs->n)
      break;
    j->result[k] = buf ? (unsigned char)copy_one(j, k, buf) : 0;
  }
  free(buf);
  return NULL;
}

/* Copies every pair on up to vc->max_workers threads (the caller's own
 * thread included); fills j->result. */
static void copy_parallel(struct copy_job *j)
{
  pthread_t tid[RP_VOLCACHE_MAX_WORKERS];
  size_t want = j->pairs->n < (size_t)j->vc->max_workers
              ? j->pairs->n : (size_t)j->vc->max_workers;
  size_t started = 0;
  if (want > RP_VOLCACHE_MAX_WORKERS)
    want = RP_VOLCACHE_MAX_WORKERS;
  pthread_mutex_init(&j->mu, NULL);
  j->next = 0;
  for (size_t i = 1; i < want; i++) {
    if (pthread_create(&tid[started], NULL, copy_thread, j) != 0)
      break;
    started++;
  }
  copy_thread(j);
  for (size_t i = 0; i < started; i++)
    pthread_join(tid[i], NULL);
  pthread_mutex_destroy(&j->mu);
}

/* ---- small.tar ---- */

/* Extracts the regular-file members of small.tar that the local folders
 * lack (Python's _extract_small). Member names must be plain relative
 * paths landing strictly inside a configured folder; links, devices,
 * directories and every other name are skipped. */
/* The last parent directory extract_small opened: tar members come
 * sorted by directory, so most reuse it instead of walking again. */
struct parent_cache {
  int fd;                    /* borrowed by callers; -1 = none */
  int i;                     /* the folder index */
  char dir[PATH_MAX];        /* rel's directory part */
  size_t len;
};

/* The parent directory of folder-relative rel beneath folder i, from the
 * cache or opened (open_dest_parent); -1 with errno. Borrowed. */
static int cached_parent(const struct rp_volcache *vc, struct parent_cache *pc,
                         int i, const char *rel)
{
  size_t dirlen;
  base_of(rel, &dirlen);
  if (pc->fd >= 0 && pc->i == i && pc->len == dirlen &&
      memcmp(pc->dir, rel, dirlen) == 0)
    return pc->fd;
  if (pc->fd >= 0)
    close(pc->fd);
  pc->fd = -1;
  if (dirlen >= sizeof(pc->dir)) {
    errno = ENAMETOOLONG;
    return -1;
  }
  pc->fd = open_dest_parent(vc, i, rel);
  pc->i = i;
  pc->len = dirlen;
  memcpy(pc->dir, rel, dirlen);
  return pc->fd;
}

static long extract_small(const struct rp_volcache *vc)
{
  char *path = join3(vc->root, "/", SMALL_TAR);
  struct archive *a = archive_read_new();
  struct archive_entry *ae;
  long extracted = 0;
  char *buf = malloc(COPY_CHUNK);
  int tarfd = -1;
  int r = ARCHIVE_EOF;
  struct parent_cache pc = { -1, -1, "", 0 };
  if (!path || !a || !buf)
    goto done;
  archive_read_support_format_tar(a);
  tarfd = open_regular(AT_FDCWD, path, 0);
  if (tarfd < 0 || archive_read_open_fd(a, tarfd, 65536) != ARCHIVE_OK)
    goto done;
  while ((r = archive_read_next_header(a, &ae)) == ARCHIVE_OK ||
         r == ARCHIVE_WARN) {
    /* A pax header's UTF-8 name as UTF-8 bytes, whatever the locale;
     * else the raw bytes of the header (GNU tar, ustar). */
    const char *name = archive_entry_pathname_utf8(ae)
                     ? archive_entry_pathname_utf8(ae)
                     : archive_entry_pathname(ae);
    char *abs = NULL;
    const char *rel, *base;
    struct tmpfile t;
    struct timespec times[2];
    long long size = archive_entry_size(ae);
    int i, dirfd, ok = 1;
    size_t dirlen;
    la_int64_t got = 0;
    if (archive_entry_filetype(ae) != AE_IFREG ||
        archive_entry_hardlink(ae) || !name || name[0] == '/' ||
        !rp_files_plain_rel(name))
      continue;
    abs = join3("/", name, "");
    i = abs ? dest_of(vc, abs, &rel) : -1;
    if (i < 0) {
      rp_log(RP_LOG_DEBUG, NULL, "VolumeCache: skip member %s: outside "
             "the cached folders", name);
      free(abs);
      continue;
    }
    dirfd = cached_parent(vc, &pc, i, rel);
    base = base_of(rel, &dirlen);
    if (dirfd < 0) {
      rp_log(RP_LOG_DEBUG, NULL, "VolumeCache: skip member %s: %s", name,
             strerror(errno));
      free(abs);
      continue;
    }
    times[0].tv_sec = times[1].tv_sec = archive_entry_mtime(ae);
    times[0].tv_nsec = times[1].tv_nsec = archive_entry_mtime_nsec(ae);
    if (satisfied(dirfd, base, size,
                  (double)times[1].tv_sec + times[1].tv_nsec * 1e-9)) {
      free(abs);
      continue;
    }
    if (tmpfile_open(&t, dirfd, base) != 0) {
      free(abs);
      continue;
    }
    for (;;) {
      la_ssize_t n = archive_read_data(a, buf, COPY_CHUNK);
      if (n < 0 || (n > 0 && write_all(t.fd, buf, (size_t)n) != 0)) {
        ok = 0;
        break;
      }
      if (n == 0)
        break;
      got += n;
    }
    if (got != size)
      ok = 0;
    if (tmpfile_end(&t, ok, base, archive_entry_perm(ae), times) == 0)
      extracted++;
    else
      rp_log(RP_LOG_DEBUG, NULL, "VolumeCache: skip extract %s", name);
    free(abs);
  }
  if (r != ARCHIVE_EOF)
    rp_log(RP_LOG_DEBUG, NULL, "VolumeCache: corrupt archive %s: %s", path,
           archive_error_string(a) ? archive_error_string(a) : "?");
done:
  if (extracted)
    rp_log(RP_LOG_INFO, NULL, "VolumeCache: extracted %ld small file(s)",
           extracted);
  if (a)
    archive_read_free(a);
  if (tarfd >= 0)
    close(tarfd);
  if (pc.fd >= 0)
    close(pc.fd);
  free(buf);
  free(path);
  return extracted;
}

/* Writes one local file into the archive; 0 or -1 (message in err). */
static int pack_one(struct archive *a, struct archive_entry *ae,
                    const char *path, char *buf, char *err, size_t errlen)
{
  int fd = open_regular(AT_FDCWD, path, O_NOFOLLOW);
  struct stat st;
  long long left;
  if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    snprintf(err, errlen, "%s: %s", path, fd < 0 ? strerror(errno)
             : "not a regular file");
    if (fd >= 0)
      close(fd);
    return -1;
  }
  archive_entry_clear(ae);
  archive_entry_set_pathname(ae, path + 1);
  archive_entry_set_filetype(ae, AE_IFREG);
  archive_entry_set_perm(ae, st.st_mode & 07777);
  archive_entry_set_size(ae, st.st_size);
  archive_entry_set_mtime(ae, st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
  archive_entry_set_uid(ae, st.st_uid);
  archive_entry_set_gid(ae, st.st_gid);
  /* ARCHIVE_WARN: written, e.g. a name kept as raw bytes. */
  if (archive_write_header(a, ae) < ARCHIVE_WARN) {
    snprintf(err, errlen, "%s: %s", path, archive_error_string(a));
    close(fd);
    return -1;
  }
  left = st.st_size;
  /* A file that shrank meanwhile is padded by finish_entry; one that grew
   * is cut at the size the header gave. */
  while (left > 0) {
    ssize_t r = read(fd, buf, left < COPY_CHUNK ? (size_t)left : COPY_CHUNK);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      break;
    if (archive_write_data(a, buf, (size_t)r) != r) {
      snprintf(err, errlen, "%s: %s", path, archive_error_string(a));
      close(fd);
      return -1;
    }
    left -= r;
  }
  close(fd);
  return archive_write_finish_entry(a) == ARCHIVE_OK ? 0 : -1;
}

/* Packs every file of 'files' into small.tar (temporary file, rename). */
static int pack_small(const struct rp_volcache *vc, int rootfd,
                      const struct entries *files, char *err, size_t errlen)
{
  struct archive *a = archive_write_new();
  struct archive_entry *ae = archive_entry_new();
  char *buf = malloc(COPY_CHUNK);
  struct tmpfile t = { rootfd, -1, "" };
  int ok = 0;
  if (!a || !ae || !buf) {
    snprintf(err, errlen, "out of memory");
    goto done;
  }
  if (tmpfile_open(&t, rootfd, SMALL_TAR) != 0) {
    snprintf(err, errlen, "%s/%s: %s", vc->root, SMALL_TAR, strerror(errno));
    goto done;
  }
  archive_write_set_format_pax_restricted(a);
  /* Names are bytes (Python's surrogateescape): stored as they are, with
   * a pax hdrcharset=BINARY record when they are not ASCII. */
  archive_write_set_options(a, "hdrcharset=BINARY");
  if (archive_write_open_fd(a, t.fd) != ARCHIVE_OK) {
    snprintf(err, errlen, "%s", archive_error_string(a));
    goto done;
  }
  ok = 1;
  for (size_t i = 0; ok && i < files->n; i++)
    ok = pack_one(a, ae, files->v[i].path, buf, err, errlen) == 0;
  if (archive_write_close(a) != ARCHIVE_OK && ok) {
    snprintf(err, errlen, "%s", archive_error_string(a));
    ok = 0;
  }
done:
  if (t.fd >= 0 && tmpfile_end(&t, ok, SMALL_TAR, 0644, NULL) != 0 && ok) {
    snprintf(err, errlen, "%s/%s: %s", vc->root, SMALL_TAR, strerror(errno));
    ok = 0;
  }
  if (a)
    archive_write_free(a);
  archive_entry_free(ae);
  free(buf);
  return ok ? 0 : -1;
}

/* ---- hydrate ---- */

static int hydrate(struct rp_volcache *vc, long *count, char *err,
                   size_t errlen)
{
  struct entries small = { 0 }, big = { 0 };
  struct copy_job j = { 0 };
  int rc = read_manifest(vc, &small, &big);
  long restored = 0;
  *count = 0;
  if (rc <= 0) {
    entries_free(&small);
    entries_free(&big);
    return rc == 0 ? RP_OK : rp_fail(rc, err, errlen, "out of memory");
  }
  if (small.n)
    restored += extract_small(vc);
  /* Big entries whose destination is in a folder: the source is
   * big/<path without '/'>, opened beneath big/ (open_src). */
  j.vc = vc;
  j.pairs = &big;
  j.dsts = calloc(big.n ? big.n : 1, sizeof(char *));
  j.result = calloc(big.n ? big.n : 1, 1);
  if (!j.dsts || !j.result) {
    rc = rp_fail(RP_ENOMEM, err, errlen, "out of memory");
    goto done;
  }
  {
    size_t kept = 0;
    for (size_t i = 0; i < big.n; i++) {
      const char *rel;
      char *p = big.v[i].path;
      if (dest_of(vc, p, &rel) < 0) {
        rp_log(RP_LOG_DEBUG, NULL, "VolumeCache: skip manifest entry %s: "
               "outside the cached folders", p);
        free(p);
        continue;
      }
      j.dsts[kept] = p;
      big.v[i].path = NULL;
      big.v[kept].path = join3(vc->root, "/" BIG_DIR, p);
      big.v[kept].size = big.v[i].size;
      kept++;
      if (!big.v[kept - 1].path) {
        for (size_t k = i + 1; k < big.n; k++)
          free(big.v[k].path);
        big.n = kept;
        rc = rp_fail(RP_ENOMEM, err, errlen, "out of memory");
        goto done;
      }
    }
    big.n = kept;
  }
  copy_parallel(&j);
  for (size_t i = 0; i < big.n; i++)
    restored += j.result[i] == 1;
  if (restored)
    rp_log(RP_LOG_INFO, NULL, "VolumeCache: hydrated %ld file(s) from %s",
           restored, vc->root);
  *count = restored;
  rc = RP_OK;
done:
  copy_job_free(&j, big.n);
  entries_free(&small);
  entries_free(&big);
  return rc;
}

/* ---- sync ---- */

/* Whether name is a temporary file of ours ("<name>.<pid>.<n>.rpvc.tmp"). */
static int is_tmp(const char *name)
{
  size_t n = strlen(name);
  return n >= sizeof(TMP_SUFFIX) - 1 &&
         strcmp(name + n - (sizeof(TMP_SUFFIX) - 1), TMP_SUFFIX) == 0;
}

/* Python's _iter_files filter. */
static int excluded(const char *path, const char *name)
{
  size_t n = strlen(name);
  return (n >= 5 && strcmp(name + n - 5, ".lock") == 0) || is_tmp(name) ||
         strstr(path, "/refs/") || strstr(path, "/.no_exist/");
}

/* Removes the temporary files beneath the directory 'at' (not closed)
 * last written before 'before', no symbolic link followed: what a sync
 * killed mid-copy left, perhaps full-size, and no later sync would
 * otherwise touch (they write names of their own). A copy in progress,
 * by any worker sharing the volume, writes all the time, so its file's
 * mtime stays recent. Returns how many went. */
static long sweep_stale(int at, int depth, time_t before)
{
  struct dirent *de;
  long removed = 0;
  int fd = openat(at, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
  if (!d) {
    if (fd >= 0)
      close(fd);
    return 0;
  }
  while ((de = readdir(d)) != NULL) {
    struct stat st;
    if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
        fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
      continue;
    if (S_ISDIR(st.st_mode) && depth < MAX_DEPTH) {
      int sub = openat(fd, de->d_name, O_RDONLY | O_DIRECTORY |
                       O_NOFOLLOW | O_CLOEXEC);
      if (sub >= 0) {
        removed += sweep_stale(sub, depth + 1, before);
        close(sub);
      }
    } else if (S_ISREG(st.st_mode) && is_tmp(de->d_name) &&
               st.st_mtime < before &&
               unlinkat(fd, de->d_name, 0) == 0) {
      removed++;
    }
  }
  closedir(d);
  return removed;
}

/* Walks dir (a path, no symbolic link followed) and adds its regular
 * files to small or big by size. */
static int walk(const char *dir, int depth, struct entries *small,
                struct entries *big)
{
  DIR *d;
  struct dirent *de;
  int rc = RP_OK;
  if (depth > MAX_DEPTH)
    return RP_OK;
  d = opendir(dir);
  if (!d)
    return RP_OK;
  while (rc == RP_OK && (de = readdir(d)) != NULL) {
    struct stat st;
    char *path;
    if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
      continue;
    path = join3(strcmp(dir, "/") == 0 ? "" : dir, "/", de->d_name);
    if (!path) {
      rc = RP_ENOMEM;
      break;
    }
    if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
      free(path);
      continue;
    }
    if (S_ISDIR(st.st_mode)) {
      rc = walk(path, depth + 1, small, big);
      free(path);
    } else if (S_ISREG(st.st_mode) && !excluded(path, de->d_name)) {
      rc = entries_add(st.st_size < RP_VOLCACHE_THRESHOLD ? small : big,
                       path, (long long)st.st_size, mtime_of(&st));
    } else {
      free(path);
    }
  }
  closedir(d);
  return rc;
}

static int sync_mirror(struct rp_volcache *vc, long *count, char *err,
                       size_t errlen)
{
  struct entries small = { 0 }, big = { 0 };
  struct entries psmall = { 0 }, pbig = { 0 };
  struct copy_job j = { 0 };
  long transferred = 0;
  int rootfd = -1;
  int rc = RP_OK;
  *count = 0;
  for (size_t i = 0; rc == RP_OK && i < vc->ndirs; i++)
    rc = walk(vc->dirs[i], 0, &small, &big);
  if (rc == RP_OK && read_manifest(vc, &psmall, &pbig) < 0)
    rc = RP_ENOMEM;
  if (rc != RP_OK) {
    rc = rp_fail(rc, err, errlen, "out of memory");
    goto done;
  }
  entries_sort(&small);
  entries_sort(&big);
  entries_sort(&psmall);
  rc = rp_files_make_dirs(vc->root, err, errlen);
  if (rc != RP_OK)
    goto done;
  rootfd = open(vc->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (rootfd < 0) {
    rc = rp_fail(RP_EIO, err, errlen, "%s: %s", vc->root, strerror(errno));
    goto done;
  }
  {
    long swept = sweep_stale(rootfd, 0, time(NULL) - RP_VOLCACHE_STALE_TMP);
    if (swept)
      rp_log(RP_LOG_INFO, NULL, "VolumeCache: removed %ld stale temporary "
             "file(s) from %s", swept, vc->root);
  }
  if (small.n) {
    long changed = 0;
    int deleted = 0;
    for (size_t i = 0; i < small.n; i++) {
      const struct entry *p = entries_find(&psmall, small.v[i].path);
      if (!p || p->size != small.v[i].size ||
          small.v[i].mtime > p->mtime + RP_VOLCACHE_TOLERANCE)
        changed++;
    }
    for (size_t i = 0; !deleted && i < psmall.n; i++)
      deleted = !entries_find(&small, psmall.v[i].path);
    if (changed || deleted) {
      char perr[512];
      if (pack_small(vc, rootfd, &small, perr, sizeof(perr)) == 0) {
        transferred += changed;
      } else {
        /* As Python: copy the small files unpacked instead. */
        rp_log(RP_LOG_DEBUG, NULL, "VolumeCache: pack small bucket failed: "
               "%s", perr);
        for (size_t i = 0; rc == RP_OK && i < small.n; i++) {
          rc = entries_add(&big, small.v[i].path, small.v[i].size,
                           small.v[i].mtime);
          small.v[i].path = NULL;
        }
        entries_free(&small);
        if (rc != RP_OK) {
          rc = rp_fail(rc, err, errlen, "out of memory");
          goto done;
        }
      }
    }
  }
  if (!small.n)
    unlinkat(rootfd, SMALL_TAR, 0);
  j.vc = vc;
  j.pairs = &big;
  j.to_volume = 1;
  j.dsts = calloc(big.n ? big.n : 1, sizeof(char *));
  j.result = calloc(big.n ? big.n : 1, 1);
  if (!j.dsts || !j.result) {
    rc = rp_fail(RP_ENOMEM, err, errlen, "out of memory");
    goto done;
  }
  for (size_t i = 0; i < big.n; i++) {
    j.dsts[i] = join3(vc->root, "/" BIG_DIR, big.v[i].path);
    if (!j.dsts[i]) {
      rc = rp_fail(RP_ENOMEM, err, errlen, "out of memory");
      goto done;
    }
  }
  copy_parallel(&j);
  {
    /* The manifest lists only what big/ holds a current copy of. */
    size_t kept = 0;
    for (size_t i = 0; i < big.n; i++) {
      if (j.result[i] == 1)
        transferred++;
      if (j.result[i]) {
        struct entry e = big.v[i];
        big.v[i] = big.v[kept];
        big.v[kept++] = e;
      }
    }
    for (size_t i = kept; i < big.n; i++) {
      free(big.v[i].path);
      big.v[i].path = NULL;
    }
    copy_job_free(&j, big.n);
    big.n = kept;
  }
  rc = write_manifest(vc->root, rootfd, &small, &big, err, errlen);
  if (rc == RP_OK && transferred)
    rp_log(RP_LOG_INFO, NULL, "VolumeCache: synced %ld file(s) to %s",
           transferred, vc->root);
  *count = transferred;
done:
  copy_job_free(&j, big.n);
  if (rootfd >= 0)
    close(rootfd);
  entries_free(&small);
  entries_free(&big);
  entries_free(&psmall);
  entries_free(&pbig);
  return rc;
}

int rp_volcache_run(struct rp_volcache *vc, enum rp_volcache_what what,
                    long *count, char *err, size_t errlen)
{
  *count = 0;
  if (!rp_volcache_available(vc))
    return RP_OK;
  return what == RP_VOLCACHE_HYDRATE ? hydrate(vc, count, err, errlen)
                                     : sync_mirror(vc, count, err, errlen);
}

/* ---- operations on threads ---- */

struct rp_volcache_op {
  pthread_mutex_t mu;
  int refs;                  /* the thread and the caller's handle */
  int done;
  int rc;
  long count;
  int detached;
  enum rp_volcache_what what;
  struct rp_volcache *vc;
  char err[512];
};

static pthread_mutex_t pending_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pending_cv = PTHREAD_COND_INITIALIZER;
static int pending;

static void op_unref(struct rp_volcache_op *op)
{
  int left;
  pthread_mutex_lock(&op->mu);
  left = --op->refs;
  pthread_mutex_unlock(&op->mu);
  if (left)
    return;
  rp_volcache_unref(op->vc);
  pthread_mutex_destroy(&op->mu);
  free(op);
}

static void *op_main(void *arg)
{
  struct rp_volcache_op *op = arg;
  long count = 0;
  char err[512] = "";
  int rc = rp_volcache_run(op->vc, op->what, &count, err, sizeof(err));
  if (op->detached && rc != RP_OK)
    rp_log(RP_LOG_WARN, NULL, "VolumeCache operation failed: %s", err);
  pthread_mutex_lock(&op->mu);
  op->rc = rc;
  op->count = count;
  memcpy(op->err, err, sizeof(err));
  op->done = 1;
  pthread_mutex_unlock(&op->mu);
  op_unref(op);
  pthread_mutex_lock(&pending_mu);
  pending--;
  pthread_cond_broadcast(&pending_cv);
  pthread_mutex_unlock(&pending_mu);
  return NULL;
}

int rp_volcache_start(struct rp_volcache_op **out, struct rp_volcache *vc,
                      enum rp_volcache_what what, int detached, char *err,
                      size_t errlen)
{
  struct rp_volcache_op *op = calloc(1, sizeof(*op));
  pthread_attr_t attr;
  pthread_t tid;
  int e;
  if (out)
    *out = NULL;
  if (!op)
    return rp_fail(RP_ENOMEM, err, errlen, "out of memory");
  pthread_mutex_init(&op->mu, NULL);
  op->refs = detached ? 1 : 2;
  op->what = what;
  op->detached = detached;
  op->vc = vc;
  atomic_fetch_add(&vc->refs, 1);
  pthread_mutex_lock(&pending_mu);
  pending++;
  pthread_mutex_unlock(&pending_mu);
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  e = pthread_create(&tid, &attr, op_main, op);
  pthread_attr_destroy(&attr);
  if (e != 0) {
    pthread_mutex_lock(&pending_mu);
    pending--;
    pthread_mutex_unlock(&pending_mu);
    op->refs = 1;
    op_unref(op);
    return rp_fail(RP_EIO, err, errlen, "cannot start a thread: %s",
                   strerror(e));
  }
  if (!detached)
    *out = op;
  return RP_OK;
}

int rp_volcache_poll(struct rp_volcache_op *op, int *rc, long *count,
                     char *err, size_t errlen)
{
  int done;
  pthread_mutex_lock(&op->mu);
  done = op->done;
  if (done) {
    *rc = op->rc;
    *count = op->count;
    if (errlen)
      snprintf(err, errlen, "%s", op->err);
  }
  pthread_mutex_unlock(&op->mu);
  return done;
}

void rp_volcache_release(struct rp_volcache_op *op)
{
  if (op)
    op_unref(op);
}

int rp_volcache_wait_all(double seconds)
{
  struct timespec until;
  int left;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += (time_t)seconds;
  until.tv_nsec += (long)((seconds - (double)(time_t)seconds) * 1e9);
  if (until.tv_nsec >= 1000000000L) {
    until.tv_sec++;
    until.tv_nsec -= 1000000000L;
  }
  pthread_mutex_lock(&pending_mu);
  if (pending)
    rp_log(RP_LOG_INFO, NULL, "VolumeCache: waiting for %d background "
           "sync(s) before exit", pending);
  while (pending > 0 &&
         pthread_cond_timedwait(&pending_cv, &pending_mu, &until) == 0)
    continue;
  left = pending;
  pthread_mutex_unlock(&pending_mu);
  if (left)
    rp_log(RP_LOG_WARN, NULL, "VolumeCache: %d background sync(s) did not "
           "finish within %.0fs at exit; the cache may be incomplete", left,
           seconds);
  return left;
}
