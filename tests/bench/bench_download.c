/* bench_download: the mount's download engine (fs/sync/fetch*.c) outside a
 * mount, so that the benchmark's download figure is the mount's: chunk map
 * in a metadata store, chunks fetched by its threads, verified and put in
 * a block cache, then copied out with fetch_copy, as a mount builds a
 * local copy of a file it reads for the first time. The store and the
 * cache are new and empty for each download, in a directory beside the
 * file (the same file system, as a mount's cache dir holds its block cache
 * and its staging files), removed after. */
#include "bench.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conn.h"
#include "dbxfs.h"
#include "fetch.h"

/* The part of a mount's context the download engine uses. */
struct dl {
    struct dbxfs fs;
    char dir[4096];
};

static int remove_entry(const char *path, const struct stat *st, int flag,
                        struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

/* As fs/main.c and sync.c set up a mount, less FUSE and the sync threads. */
static int dl_open(struct dl *d, httpc_pool *pool, const char *beside)
{
    int rc = -1;

    memset(d, 0, sizeof *d);
    pthread_mutex_init(&d->fs.lock, NULL);
    atomic_store(&d->fs.online, 1);
    d->fs.pool = pool;
    if ((size_t)snprintf(d->dir, sizeof d->dir, "%s/.dbxbench-cache.XXXXXX",
                         beside) >= sizeof d->dir || !mkdtemp(d->dir)) {
        d->dir[0] = '\0';
        return -1;
    }
    d->fs.cache_dir = d->dir;
    if (metadb_open(d->dir, &d->fs.db) == 0 &&
        blockcache_open(d->dir, 0, &d->fs.bc) == 0 &&
        conn_pool_new(&d->fs) == 0 && fetch_start(&d->fs) == 0)
        rc = 0;
    return rc;
}

static void dl_close(struct dl *d)
{
    fetch_stop(&d->fs);
    conn_pool_free(&d->fs);
    blockcache_close(d->fs.bc);
    metadb_close(d->fs.db);
    pthread_mutex_destroy(&d->fs.lock);
    if (d->dir[0])
        nftw(d->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static int put_node(struct dbxfs *fs, metadb_txn *t, void *arg)
{
    (void)fs;
    return metadb_node_put(t, arg);
}

static int get_node(struct dbxfs *fs, uint64_t id, struct cnode *n)
{
    metadb_txn *t;
    int rc = metadb_begin(fs->db, 0, &t);

    if (rc == 0) {
        rc = metadb_node_get(t, id, n);
        metadb_abort(t);
    }
    return rc;
}

/* The node as the first page of its content answer tells it, put in the
 * store as the change feed puts a node for a mount; *page: that answer. */
static int learn(struct dl *d, const char *id, struct cnode *n, cJSON **page,
                 char *msg, size_t msglen)
{
    uint64_t count = 0;
    int rc;

    *n = (struct cnode){ .type = NODE_FILE, .mode = 0644 };
    snprintf(n->name, sizeof n->name, "download");
    if (wire_id_parse(id, &n->id) < 0) {
        snprintf(msg, msglen, "invalid node id");
        return -1;
    }
    /* One chunk: the rest of the map comes in the mount's own pages. */
    if ((rc = fetch_content(&d->fs, n->id, 0, 1, page))) {
        snprintf(msg, msglen, "GET content: %s%s%s", strerror(-rc),
                 httpc_errcode(*page) ? ": " : "",
                 httpc_errcode(*page) ? httpc_errcode(*page) : "");
        return -1;
    }
    if (wire_get_uint(*page, "size", INT64_MAX, &n->size) ||
        wire_get_uint(*page, "rev", UINT64_MAX, &n->rev) ||
        wire_get_uint(*page, "content_rev", UINT64_MAX, &n->content_rev) ||
        wire_get_uint(*page, "count", UINT32_MAX, &count)) {
        snprintf(msg, msglen, "GET content: malformed answer");
        return -1;
    }
    if ((rc = fs_write(&d->fs, put_node, n))) {
        snprintf(msg, msglen, "storing the node: %s", strerror(-rc));
        return -1;
    }
    return 0;
}

static double elapsed(double *t)
{
    double was = *t;
    *t = now_sec();
    return *t - was;
}

/* The map (from the page learn got) and the copy: the mount's path. */
static int fetch_into(struct dl *d, struct cnode *n, const cJSON *page, int fd,
                      struct figures *fig)
{
    double t = now_sec();
    int rc = fetch_map_from(&d->fs, n, page);

    if (rc == 0)
        rc = get_node(&d->fs, n->id, n);    /* now with its map_rev */
    fig->first_sec += elapsed(&t);
    if (rc == 0)
        rc = fetch_copy(&d->fs, n, fd);
    fig->chunks_sec = elapsed(&t);
    return rc;
}

static void fill_figures(const struct fetch_stats *st, const struct cnode *n,
                         const cJSON *page, struct figures *fig)
{
    uint64_t count = 0;

    wire_get_uint(page, "count", UINT32_MAX, &count);
    fig->size = n->size;
    fig->chunks = count;
    fig->content_rev = (int64_t)n->content_rev;
    fig->sent = st->chunks;
    fig->sent_bytes = st->bytes;
    fig->wire = st->wire_bytes;
    fig->retries = st->retries;
}

int download_node(httpc_pool *pool, const char *id, int fd, const char *beside,
                  struct figures *fig, char *msg, size_t msglen)
{
    struct fetch_stats st;
    struct cnode n;
    cJSON *page = NULL;
    double t0 = now_sec();
    struct dl d;
    int rc = -1;

    memset(fig, 0, sizeof *fig);
    if (dl_open(&d, pool, beside) < 0) {
        snprintf(msg, msglen, "cannot set up a cache beside the file in %s",
                 beside);
        goto out;
    }
    if (learn(&d, id, &n, &page, msg, msglen) < 0)
        goto out;
    fig->first_sec = now_sec() - t0;
    rc = fetch_into(&d, &n, page, fd, fig);
    fetch_stats(&d.fs, &st);
    fill_figures(&st, &n, page, fig);
    if (rc) {
        snprintf(msg, msglen, "%s", st.error[0] ? st.error
                 : rc == -EAGAIN ? "changed: the file changed on dbxd meanwhile"
                 : strerror(-rc));
        rc = -1;
    }
out:
    fig->total_sec = now_sec() - t0;
    cJSON_Delete(page);
    dl_close(&d);
    return rc;
}
