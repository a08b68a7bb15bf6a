/*
 * unzip.h - extracting a downloaded zip archive into a fresh folder, for
 * runpod.file (the Python SDK's rp_download.file), over libarchive.
 *
 * Names are normalised as Python's extractall does ("./a" and "a//b" are
 * "a" and "a/b"; '\' is an ordinary character). Guarded against hostile
 * archives: an entry whose name is absolute or holds a ".." component
 * fails the extraction (nothing may leave the folder), and so does one
 * nested more than RP_UNZIP_MAX_DEPTH directories deep (the folder must
 * stay removable by rp_files_remove_tree); symbolic links, hard links and
 * devices are skipped, never created; each directory is walked with
 * O_NOFOLLOW beneath the folder; and the bytes actually written are
 * capped in total (max_bytes), per archive byte (max_ratio, a zip bomb's
 * signature) and in entries (max_entries). On failure the folder is
 * removed again. Relies on files.h; no Lua.
 */
#ifndef RP_UNZIP_H
#define RP_UNZIP_H

#include <stdatomic.h>
#include <stddef.h>

#define RP_UNZIP_MAX_BYTES (10LL * 1024 * 1024 * 1024)  /* 10 GiB */
#define RP_UNZIP_MAX_RATIO 200.0
#define RP_UNZIP_MAX_ENTRIES 100000L
#define RP_UNZIP_RATIO_FLOOR (1024L * 1024)  /* ratio judged past 1 MiB */
/* The most directories an entry may be nested in beneath the folder:
 * below RP_FILES_MAX_DEPTH, leaving room for the folders above it that
 * runpod.cleanup removes (job_files/<uuid>/ for runpod.file). */
#define RP_UNZIP_MAX_DEPTH 100

struct rp_unzip_limits {
  long long max_bytes;       /* total bytes extracted */
  double max_ratio;          /* extracted bytes per byte of the archive */
  long max_entries;
  atomic_int *cancel;        /* when set to non-zero (by any thread), the
                                extraction ends at its next block of
                                data or entry; NULL = none */
};

/* Extracts the zip archive 'zip' into the directory 'dest' (created when
 * missing). Sets *files to the regular files written. Returns RP_OK;
 * RP_EINVAL for an archive the guards refuse or libarchive cannot read
 * (or a cancel), RP_ETOOBIG past a limit, RP_EIO for a write error, each
 * with a message; dest is then removed, and when that fails too the
 * message says so. */
int rp_unzip(const char *zip, const char *dest,
             const struct rp_unzip_limits *lim, long *files, char *err,
             size_t errlen);

#endif
