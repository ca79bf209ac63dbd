/* staging: see staging.h. */
#include "staging.h"

#include <errno.h>
#include <stdlib.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

int staging_init(const char *cache_dir)
{
    char path[STAGING_PATH_MAX];

    snprintf(path, sizeof(path), "%s/staging", cache_dir);
    if (mkdir(path, 0700) && errno != EEXIST)
        return -errno;
    return 0;
}

void staging_path(const char *cache_dir, uint64_t id, char out[STAGING_PATH_MAX])
{
    snprintf(out, STAGING_PATH_MAX, "%s/staging/%016llx", cache_dir,
             (unsigned long long)id);
}

int staging_open(const char *cache_dir, uint64_t id, int flags)
{
    char path[STAGING_PATH_MAX];
    int fd;

    staging_path(cache_dir, id, path);
    fd = open(path, flags | O_CREAT | O_CLOEXEC, 0600);
    return fd < 0 ? -errno : fd;
}

int staging_remove(const char *cache_dir, uint64_t id)
{
    char path[STAGING_PATH_MAX];

    staging_path(cache_dir, id, path);
    return unlink(path) && errno != ENOENT ? -errno : 0;
}

int staging_tmp(const char *cache_dir, uint64_t id, char out[STAGING_PATH_MAX])
{
    int fd;

    snprintf(out, STAGING_PATH_MAX, "%s/staging/%016llx.XXXXXX", cache_dir,
             (unsigned long long)id);
    fd = mkostemp(out, O_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

int staging_commit(const char *cache_dir, uint64_t id, const char *tmp)
{
    char path[STAGING_PATH_MAX];

    staging_path(cache_dir, id, path);
    return rename(tmp, path) ? -errno : 0;
}
