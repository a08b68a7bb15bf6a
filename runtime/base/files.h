/*
 * files.h - removing directory trees without following symbolic links,
 * for runpod.cleanup (lua/runpod/files.lua).
 *
 * Relies on POSIX *at() calls: each directory is opened with O_NOFOLLOW
 * relative to its parent's descriptor, so a symbolic link met anywhere in
 * the tree (the named path included) is removed itself, and what it points
 * to is never touched, even when the tree changes while it is walked.
 */
#ifndef RP_FILES_H
#define RP_FILES_H

#include <stddef.h>

/* How deep rp_files_remove_tree descends (one open descriptor a level). */
#define RP_FILES_MAX_DEPTH 128

/* Removes path: a file or symbolic link is unlinked, a directory emptied
 * and removed. Sets *existed to whether path was there at all. Keeps going
 * past an entry it cannot remove and returns the first failure: RP_OK, or
 * RP_EIO with a message such as "job_files/x: Permission denied" in err.
 * Refuses ("", ".", "..", "/", and paths ending in "/." or "/..") with
 * RP_EINVAL. */
int rp_files_remove_tree(const char *path, int *existed, char *err,
                         size_t errlen);

/* mkdir -p: creates path and its missing parents (mode 0755, less the
 * umask). An existing directory is fine. Returns RP_OK or RP_EIO. */
int rp_files_make_dirs(const char *path, char *err, size_t errlen);

/* The current directory into buf. Returns RP_OK or RP_EIO. */
int rp_files_cwd(char *buf, size_t len, char *err, size_t errlen);

/* Whether rel is a plain relative path: non-empty, no leading or trailing
 * '/', no empty, "." or ".." component, no component over NAME_MAX. */
int rp_files_plain_rel(const char *rel);

/* Opens the directory rel[0..n) beneath dirfd one component at a time,
 * each with O_NOFOLLOW, so no symbolic link anywhere leads outside dirfd;
 * with mk set, missing directories are created (mode 0755). n == 0 opens
 * dirfd itself again. Returns a descriptor (the caller closes it) or -1
 * with errno set. */
int rp_files_open_beneath(int dirfd, const char *rel, size_t n, int mk);

/* n bytes from the kernel's random source. Returns RP_OK or RP_EIO. */
int rp_files_random(unsigned char *buf, size_t n, char *err, size_t errlen);

#endif
