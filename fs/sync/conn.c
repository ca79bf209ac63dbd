/* conn: see conn.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conn.h"
#include "dbxfs.h"
#include "log.h"

#define CONN_KEEP 8

struct conn_pool {
    pthread_mutex_t mu;
    httpc *free[CONN_KEEP];
    int nfree;
};

int conn_pool_new(struct dbxfs *fs)
{
    struct conn_pool *p = calloc(1, sizeof(*p));

    if (!p)
        return -ENOMEM;
    pthread_mutex_init(&p->mu, NULL);
    fs->conns = p;
    return 0;
}

void conn_pool_free(struct dbxfs *fs)
{
    struct conn_pool *p = fs->conns;

    if (!p)
        return;
    while (p->nfree)
        httpc_free(p->free[--p->nfree]);
    pthread_mutex_destroy(&p->mu);
    free(p);
    fs->conns = NULL;
}

static httpc *borrow(struct conn_pool *p, httpc_pool *hp)
{
    httpc *h = NULL;

    pthread_mutex_lock(&p->mu);
    if (p->nfree)
        h = p->free[--p->nfree];
    pthread_mutex_unlock(&p->mu);
    if (!h) {
        h = httpc_new(hp);
        if (h)
            httpc_set_timeout(h, 30000);
    }
    return h;
}

static void give_back(struct conn_pool *p, httpc *h)
{
    pthread_mutex_lock(&p->mu);
    if (p->nfree < CONN_KEEP) {
        p->free[p->nfree++] = h;
        h = NULL;
    }
    pthread_mutex_unlock(&p->mu);
    httpc_free(h);
}

void conn_note(struct dbxfs *fs, int ok, long status)
{
    int was = atomic_exchange(&fs->online, ok);
    /* Before the mount, the caller reports failures as one error line. */
    int quiet = fs->se == NULL;

    if (ok != was && !quiet)
        log_info(ok ? "dbxd is reachable again" : "dbxd is unreachable; working offline");
    if (ok)
        atomic_store(&fs->last_sync, (long long)time(NULL));
    if (ok && status == 401 && !atomic_exchange(&fs->unauthorized, 1) && !quiet)
        log_error("dbxd refused the token: log in again (dbxctl login)");
    else if (ok && status != 401)
        atomic_store(&fs->unauthorized, 0);
}

int conn_json(struct dbxfs *fs, const char *method, const char *path,
              const cJSON *body, long *status, cJSON **reply)
{
    httpc *h = borrow(fs->conns, fs->pool);
    int rc;

    if (!h)
        return -ENOMEM;
    rc = httpc_json(h, method, path, body, status, reply);
    if (rc)
        log_debug("%s %s: %s", method, path, httpc_error(h));
    conn_note(fs, rc == 0, rc == 0 ? *status : 0);
    give_back(fs->conns, h);
    return rc ? -EIO : 0;
}

int conn_errno(long status, const cJSON *reply)
{
    static const struct { const char *code; int err; } map[] = {
        { "not_found", ENOENT }, { "exists", EEXIST },
        { "not_empty", ENOTEMPTY }, { "not_dir", ENOTDIR },
        { "is_dir", EISDIR }, { "forbidden", EACCES },
        { "invalid_name", EINVAL }, { "invalid_move", EINVAL },
        { "no_space", ENOSPC }, { "unauthorized", EACCES },
    };
    const char *code = httpc_errcode(reply);

    for (size_t i = 0; code && i < sizeof(map) / sizeof(map[0]); i++)
        if (strcmp(code, map[i].code) == 0)
            return map[i].err;
    return status == 404 ? ENOENT : EIO;
}
