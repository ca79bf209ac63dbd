/* staging: see staging.h. */
#include "staging.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <ctype.h>
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
    fd = open(path, flags | O_CLOEXEC, 0600);
    return fd < 0 ? -errno : fd;
}

int staging_remove(const char *cache_dir, uint64_t id)
{
    char path[STAGING_PATH_MAX];

    staging_path(cache_dir, id, path);
    return unlink(path) && errno != ENOENT ? -errno : 0;
}

void staging_drop(void *arg)
{
    struct staging_ref *ref = arg;
    staging_remove(ref->cache_dir, ref->id);
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

/* A node's staging file is named by exactly 16 hex digits. */
static int parse_id(const char *name, uint64_t *id)
{
    char *end;

    if (strlen(name) != 16 || !isxdigit((unsigned char)name[0]))
        return -1;
    errno = 0;
    *id = strtoull(name, &end, 16);
    return *end || errno ? -1 : 0;
}

int staging_each(const char *cache_dir,
                 int (*fn)(void *arg, uint64_t id, const struct stat *st),
                 void *arg)
{
    char path[STAGING_PATH_MAX];
    struct dirent *de;
    struct stat st;
    uint64_t id;
    DIR *d;
    int rc = 0;

    snprintf(path, sizeof(path), "%s/staging", cache_dir);
    if (!(d = opendir(path)))
        return -errno;
    while ((de = readdir(d))) {
        if (parse_id(de->d_name, &id) ||
            fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW))
            continue;               /* not a node's file, or gone since */
        if ((rc = fn(arg, id, &st)))
            break;
    }
    closedir(d);
    return rc;
}
