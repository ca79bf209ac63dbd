/* staging: the mount's local file contents, one file per node under
 * CACHE_DIR/staging/ named by the node id. A staging file is where writes
 * land (close() returns once they are there) and, after its upload, the
 * file's local copy until the cache needs the room. The directory belongs
 * to the mount; nothing else writes it. */
#ifndef DBX_STAGING_H
#define DBX_STAGING_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#define STAGING_PATH_MAX 4096

/* Creates CACHE_DIR/staging (0700). 0 or -errno. */
int staging_init(const char *cache_dir);
void staging_path(const char *cache_dir, uint64_t id, char out[STAGING_PATH_MAX]);
/* open(2) of the node's staging file with flags (0600 if O_CREAT creates
 * it). Returns the fd or -errno (-ENOENT: no copy, e.g. evicted). */
int staging_open(const char *cache_dir, uint64_t id, int flags);
int staging_remove(const char *cache_dir, uint64_t id);   /* 0 if absent */
/* staging_remove as a callback (ofile_drop_copy, ofile_evict_copy). */
struct staging_ref {
    const char *cache_dir;
    uint64_t id;
};
void staging_drop(void *staging_ref);
/* A fresh temporary file in the staging directory (for building a copy
 * before renaming it into place with staging_commit). fd or -errno. */
int staging_tmp(const char *cache_dir, uint64_t id, char out[STAGING_PATH_MAX]);
int staging_commit(const char *cache_dir, uint64_t id, const char *tmp);
/* Calls fn for every node's staging file (not the temporaries) with its
 * lstat; stops at fn's first non-zero return and returns it. */
int staging_each(const char *cache_dir,
                 int (*fn)(void *arg, uint64_t id, const struct stat *st),
                 void *arg);

#endif
