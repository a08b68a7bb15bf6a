/*
 * volcache.h - the network-volume warm cache of runpod.volume_cache: a
 * mirror of local cache folders on a mounted volume, in the on-volume
 * format of the Python SDK's VolumeCache, so that Python and Lua workers
 * of one endpoint share it.
 *
 * Layout under the mirror root {volume_path}/.cache/{namespace}:
 *   small.tar      every file below RP_VOLCACHE_THRESHOLD bytes, member name
 *                  = its absolute path without the leading '/' (ustar, pax
 *                  headers where needed; GNU and pax archives are read too)
 *   big/<path>     every other file, unpacked, <path> = absolute path
 *                  without the leading '/'
 *   manifest.json  written last, the commit marker of a complete mirror:
 *                  {"version": 1, "threshold": 262144, "small": [...],
 *                  "big": [...]}, entries {"path", "size", "mtime"} written
 *                  as Python's json.dump writes them
 *
 * Every file is written as "<name>.<pid>.<n>.rpvc.tmp" and renamed into
 * place, so a crash never leaves a half file under a final name; a sync
 * removes such files in the mirror unwritten for RP_VOLCACHE_STALE_TMP
 * seconds (a killed sync's). Writes
 * into the cached folders walk each directory with O_NOFOLLOW beneath the
 * configured folder, so neither a hostile manifest or tar member ("..",
 * absolute names, links) nor a symbolic link inside a folder leads a
 * write outside the folders. Relies on libarchive, pthreads, json.h and
 * log.h (progress lines); no Lua.
 */
#ifndef RP_VOLCACHE_H
#define RP_VOLCACHE_H

#include <stddef.h>

#define RP_VOLCACHE_THRESHOLD 262144    /* bytes; smaller files are packed */
#define RP_VOLCACHE_VERSION 1
#define RP_VOLCACHE_TOLERANCE 2.0       /* seconds of mtime slack (NFS) */
#define RP_VOLCACHE_MAX_WORKERS 32
#define RP_VOLCACHE_MAX_MANIFEST (256L * 1024 * 1024)
#define RP_VOLCACHE_EXIT_WAIT 30.0      /* seconds the exit waits, as Python */
/* Seconds a temporary file in the mirror may go unwritten before a sync
 * takes its writer for dead and removes it. */
#define RP_VOLCACHE_STALE_TMP 900

struct rp_volcache;

enum rp_volcache_what { RP_VOLCACHE_HYDRATE, RP_VOLCACHE_SYNC };

/* Builds a cache of the n folders dirs[] (each made absolute and resolved
 * as Python's os.path.realpath does, missing tails kept), mirrored under
 * volume_path/.cache/ns with up to max_workers parallel copies (0 = the
 * default min(32, 4 x online CPUs)). ns must be "" or one safe path
 * component; the caller checks that. Returns RP_OK and *out (one
 * reference; see rp_volcache_unref), RP_EINVAL or RP_ENOMEM. */
int rp_volcache_new(struct rp_volcache **out, const char *const *dirs,
                    size_t n, const char *volume_path, const char *ns,
                    int max_workers, char *err, size_t errlen);

/* Drops a reference; frees at zero. Accepts NULL. Thread-safe. */
void rp_volcache_unref(struct rp_volcache *vc);

/* 1 when the namespace is non-empty and volume_path is a directory. */
int rp_volcache_available(const struct rp_volcache *vc);

/* The mirror root; borrowed, valid while vc lives. */
const char *rp_volcache_root(const struct rp_volcache *vc);

/* Runs one operation in the calling thread: *count = files copied.
 * hydrate: volume -> folders, from a valid version-1 manifest (none: 0);
 * sync: folders -> volume, then the manifest. Unavailable: RP_OK, 0.
 * Returns RP_OK, or RP_EIO / RP_ENOMEM with a message. Files skipped by
 * the guards or failing one by one are logged at debug level, not errors.
 */
int rp_volcache_run(struct rp_volcache *vc, enum rp_volcache_what what,
                    long *count, char *err, size_t errlen);

/* An operation on a thread of its own. */
struct rp_volcache_op;

/* Starts 'what' on a new thread; the op holds a reference to vc. With
 * detached set, *out is NULL and the thread logs the outcome itself (a
 * failure as a warning). Every running op counts for
 * rp_volcache_wait_all. Returns RP_OK, or RP_EIO when no thread starts. */
int rp_volcache_start(struct rp_volcache_op **out, struct rp_volcache *vc,
                      enum rp_volcache_what what, int detached, char *err,
                      size_t errlen);

/* 0 while op runs; then 1 with *rc, *count and the message copied into
 * err (when *rc != RP_OK). */
int rp_volcache_poll(struct rp_volcache_op *op, int *rc, long *count,
                     char *err, size_t errlen);

/* Lets go of op; the thread finishes on its own. Accepts NULL. */
void rp_volcache_release(struct rp_volcache_op *op);

/* Waits up to 'seconds' for every running op to finish (the process is
 * about to exit). Returns how many still run. */
int rp_volcache_wait_all(double seconds);

#endif
