/* metastore_fixture for metastore_lmdb.c: each store is a fresh temporary
 * directory holding the LMDB environment. */
#include "metastore_fixture.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Enough for the largest records the tests write, small enough that the
 * sparse file costs nothing. */
#define MSF_MAP_SIZE ((size_t)256 << 20)

struct msf {
    char dir[64];         /* the temporary directory */
    char store[80];       /* the environment inside it (ms_open makes it) */
    metastore *ms;
};

msf *msf_create(void)
{
    msf *f = calloc(1, sizeof(*f));
    int rc;

    if (!f)
        return NULL;
    snprintf(f->dir, sizeof(f->dir), "/tmp/metastore_test.XXXXXX");
    if (!mkdtemp(f->dir)) {
        perror("mkdtemp");
        free(f);
        return NULL;
    }
    snprintf(f->store, sizeof(f->store), "%s/meta", f->dir);
    if ((rc = ms_open(f->store, MSF_MAP_SIZE, &f->ms)) != 0) {
        fprintf(stderr, "ms_open %s: %d\n", f->store, rc);
        msf_destroy(f);
        return NULL;
    }
    return f;
}

metastore *msf_store(msf *f)
{
    return f->ms;
}

int msf_reopen(msf *f)
{
    ms_close(f->ms);
    f->ms = NULL;
    return ms_open(f->store, MSF_MAP_SIZE, &f->ms);
}

/* Removes the environment's files by name: an unexpected one left behind
 * makes the rmdir fail, and so the test. */
int msf_destroy(msf *f)
{
    static const char *const files[] = { "data.mdb", "lock.mdb" };
    char path[128];
    int rc = 0;

    if (!f)
        return 0;
    ms_close(f->ms);
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", f->store, files[i]);
        if (unlink(path) != 0 && errno != ENOENT)
            rc = -1;
    }
    if ((rmdir(f->store) != 0 && errno != ENOENT) || rmdir(f->dir) != 0) {
        perror(f->dir);
        rc = -1;
    }
    free(f);
    return rc;
}
