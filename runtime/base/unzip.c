/* unzip.c - see unzip.h. */
#include "base/unzip.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/files.h"
#include "base/log.h"
#include "base/rp.h"

#define CHUNK 65536

/* Whatever an archive holds, the folder must stay removable by
 * rp_files_remove_tree (runpod.cleanup), from a few folders above it. */
_Static_assert(RP_UNZIP_MAX_DEPTH + 16 <= RP_FILES_MAX_DEPTH,
               "an extracted tree must stay removable");

/* Up to the first 80 bytes of name, for messages: a hostile name may be
 * thousands of bytes long. Returns buf. */
static const char *shown(const char *name, char buf[88])
{
  size_t n = strlen(name);
  if (n <= 80)
    return name;
  memcpy(buf, name, 80);
  memcpy(buf + 80, "...", 4);
  return buf;
}

/* Normalises the entry's name into rel (relsize bytes) as Python's
 * extractall does: empty and "." components are dropped (so "./a" and
 * "a//b" are "a" and "a/b", and a directory's trailing '/' goes); '\' is
 * an ordinary character, as on any POSIX system. Sets *depth to the
 * number of components left. Refuses, with a message, an absolute name
 * or a ".." component (either could leave the folder), a name or
 * component too long for the file system. */
static int normalise(const char *name, char *rel, size_t relsize,
                     size_t *depth, char *err, size_t errlen)
{
  char buf[88];
  const char *p = name;
  size_t n = 0;
  *depth = 0;
  if (name[0] == '/')
    return rp_fail(RP_EINVAL, err, errlen, "zip entry '%s' would leave the "
                   "folder (an absolute name)", shown(name, buf));
  while (*p) {
    size_t len = strcspn(p, "/");
    if (len == 2 && p[0] == '.' && p[1] == '.')
      return rp_fail(RP_EINVAL, err, errlen, "zip entry '%s' would leave "
                     "the folder (a '..' component)", shown(name, buf));
    if (len > NAME_MAX)
      return rp_fail(RP_EINVAL, err, errlen, "zip entry '%s': name too long "
                     "(a component over %d bytes)", shown(name, buf),
                     NAME_MAX);
    if (len > 0 && !(len == 1 && p[0] == '.')) {
      if (n + len + 2 > relsize)
        return rp_fail(RP_EINVAL, err, errlen, "zip entry '%s': name too "
                       "long (over %zu bytes)", shown(name, buf),
                       relsize - 1);
      if (n > 0)
        rel[n++] = '/';
      memcpy(rel + n, p, len);
      n += len;
      (*depth)++;
    }
    p += len;
    if (*p == '/')
      p++;
  }
  rel[n] = '\0';
  return RP_OK;
}

static int cancelled(const struct rp_unzip_limits *lim, char *err,
                     size_t errlen)
{
  if (!lim->cancel || !atomic_load(lim->cancel))
    return 0;
  rp_fail(RP_EINVAL, err, errlen, "extraction cancelled");
  return 1;
}

/* Writes the data of the current entry to name in dirfd; adds to *total.
 * Returns RP_OK or an RP_E* code with a message. */
static int write_entry(struct archive *a, int dirfd, const char *name,
                       const char *path, long long *total,
                       long long zip_size, const struct rp_unzip_limits *lim,
                       char *err, size_t errlen)
{
  char buf[CHUNK];
  int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW |
                  O_CLOEXEC, 0644);
  int rc = RP_OK;
  if (fd < 0)
    return rp_fail(RP_EIO, err, errlen, "%s: %s", path, strerror(errno));
  for (;;) {
    la_ssize_t n = archive_read_data(a, buf, sizeof(buf));
    if (n == 0)
      break;
    if (n < 0) {
      rc = rp_fail(RP_EINVAL, err, errlen, "%s: %s", path,
                   archive_error_string(a));
      break;
    }
    if (cancelled(lim, err, errlen)) {
      rc = RP_EINVAL;
      break;
    }
    *total += n;
    if (*total > lim->max_bytes) {
      rc = rp_fail(RP_ETOOBIG, err, errlen, "extracting more than %lld "
                   "bytes (the unzip cap)", lim->max_bytes);
      break;
    }
    if (*total > RP_UNZIP_RATIO_FLOOR &&
        (double)*total > lim->max_ratio * (double)(zip_size ? zip_size : 1)) {
      rc = rp_fail(RP_ETOOBIG, err, errlen, "extracting more than %.0f "
                   "times the archive's %lld bytes (a zip bomb?)",
                   lim->max_ratio, zip_size);
      break;
    }
    for (la_ssize_t off = 0; off < n;) {
      ssize_t w = write(fd, buf + off, (size_t)(n - off));
      if (w < 0 && errno == EINTR)
        continue;
      if (w < 0) {
        rc = rp_fail(RP_EIO, err, errlen, "writing %s: %s", path,
                     strerror(errno));
        break;
      }
      off += w;
    }
    if (rc != RP_OK)
      break;
  }
  if (close(fd) != 0 && rc == RP_OK)
    rc = rp_fail(RP_EIO, err, errlen, "writing %s: %s", path,
                 strerror(errno));
  return rc;
}

/* One entry: a directory is created, a regular file written, anything
 * else skipped. Names are checked first. */
static int extract_entry(struct archive *a, struct archive_entry *ae,
                         int root, long *files, long long *total,
                         long long zip_size,
                         const struct rp_unzip_limits *lim, char *err,
                         size_t errlen)
{
  char rel[4096];
  char buf[88];
  const char *name = archive_entry_pathname(ae);
  mode_t type = archive_entry_filetype(ae);
  size_t n, depth, dirs;
  const char *base;
  int dirfd, rc;
  if (!name || !*name)
    return rp_fail(RP_EINVAL, err, errlen, "a zip entry has no name");
  rc = normalise(name, rel, sizeof(rel), &depth, err, errlen);
  if (rc != RP_OK)
    return rc;
  n = strlen(rel);
  /* The folders the entry is in (a directory entry is one itself). */
  dirs = type == AE_IFDIR ? depth : (depth > 0 ? depth - 1 : 0);
  if (dirs > RP_UNZIP_MAX_DEPTH)
    return rp_fail(RP_EINVAL, err, errlen, "zip entry '%s' is nested %zu "
                   "directories deep (at most %d, so that runpod.cleanup can "
                   "remove it)", shown(name, buf), dirs, RP_UNZIP_MAX_DEPTH);
  /* Normalised, rel is plain; the check stays as the last line of
   * defence against leaving the folder. */
  if (n > 0 && !rp_files_plain_rel(rel))
    return rp_fail(RP_EINVAL, err, errlen, "zip entry '%s' would leave the "
                   "folder", shown(name, buf));
  if (n == 0 && type != AE_IFDIR)
    return rp_fail(RP_EINVAL, err, errlen, "zip entry '%s' names no file",
                   shown(name, buf));
  if (type == AE_IFDIR) {
    dirfd = rp_files_open_beneath(root, rel, n, 1);
    if (dirfd < 0)
      return rp_fail(RP_EIO, err, errlen, "%s: %s", name, strerror(errno));
    close(dirfd);
    return RP_OK;
  }
  if (type != AE_IFREG || archive_entry_hardlink(ae)) {
    rp_log(RP_LOG_WARN, NULL, "unzip: skipped %s (not a regular file)",
           name);
    return RP_OK;
  }
  base = strrchr(rel, '/');
  dirfd = rp_files_open_beneath(root, rel, base ? (size_t)(base - rel) : 0,
                                1);
  if (dirfd < 0)
    return rp_fail(RP_EIO, err, errlen, "%s: %s", name, strerror(errno));
  rc = write_entry(a, dirfd, base ? base + 1 : rel, name, total, zip_size,
                   lim, err, errlen);
  close(dirfd);
  if (rc == RP_OK)
    (*files)++;
  return rc;
}

int rp_unzip(const char *zip, const char *dest,
             const struct rp_unzip_limits *lim, long *files, char *err,
             size_t errlen)
{
  struct archive *a = archive_read_new();
  struct archive_entry *ae;
  struct stat st;
  long long total = 0;
  long entries = 0;
  int root = -1;
  int rc = RP_OK;
  int r;
  *files = 0;
  if (!a)
    return rp_fail(RP_ENOMEM, err, errlen, "out of memory");
  if (stat(zip, &st) != 0) {
    archive_read_free(a);
    return rp_fail(RP_EIO, err, errlen, "%s: %s", zip, strerror(errno));
  }
  rc = rp_files_make_dirs(dest, err, errlen);
  if (rc == RP_OK) {
    root = open(dest, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (root < 0)
      rc = rp_fail(RP_EIO, err, errlen, "%s: %s", dest, strerror(errno));
  }
  archive_read_support_format_zip(a);
  if (rc == RP_OK && archive_read_open_filename(a, zip, CHUNK) != ARCHIVE_OK)
    rc = rp_fail(RP_EINVAL, err, errlen, "not a zip archive: %s",
                 archive_error_string(a));
  while (rc == RP_OK) {
    r = archive_read_next_header(a, &ae);
    if (r == ARCHIVE_EOF)
      break;
    if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
      rc = rp_fail(RP_EINVAL, err, errlen, "reading the zip archive: %s",
                   archive_error_string(a));
      break;
    }
    if (cancelled(lim, err, errlen)) {
      rc = RP_EINVAL;
      break;
    }
    if (++entries > lim->max_entries) {
      rc = rp_fail(RP_ETOOBIG, err, errlen, "more than %ld entries in the "
                   "zip archive", lim->max_entries);
      break;
    }
    rc = extract_entry(a, ae, root, files, &total, (long long)st.st_size,
                       lim, err, errlen);
  }
  archive_read_free(a);
  if (root >= 0)
    close(root);
  if (rc != RP_OK) {
    char why[512];
    int existed;
    size_t used = strlen(err);
    /* The caller must learn that files were left behind: the note goes
     * after the reason the extraction failed. */
    if (rp_files_remove_tree(dest, &existed, why, sizeof(why)) != RP_OK &&
        used < errlen)
      snprintf(err + used, errlen - used, " (and the partly extracted "
               "folder could not be removed: %s)", why);
    *files = 0;
  }
  return rc;
}
