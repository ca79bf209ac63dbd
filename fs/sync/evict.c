/* evict: see evict.h. */
#include <errno.h>
#include <stdlib.h>

#include "evict.h"
#include "log.h"
#include "ofile.h"
#include "staging.h"
#include "tree.h"

struct candidate {
    uint64_t id;
    uint64_t bytes;            /* on disk (a sparse copy counts what it uses) */
    long long used_ns;
};

struct scan {
    metadb_txn *t;
    struct candidate *v;
    size_t n, cap;
    uint64_t bytes;
};

static int evictable(const struct cnode *n)
{
    return n->type == NODE_FILE && (n->flags & CN_COPY) &&
           !(n->flags & (CN_DIRTY | CN_ORPHAN));
}

static long long stamp_ns(const struct timespec *ts)
{
    return (long long)ts->tv_sec * 1000000000LL + ts->tv_nsec;
}

static int consider(void *arg, uint64_t id, const struct stat *st)
{
    struct scan *s = arg;
    long long atime = stamp_ns(&st->st_atim), mtime = stamp_ns(&st->st_mtim);
    struct cnode n;

    if (metadb_node_get(s->t, id, &n) || !evictable(&n))
        return 0;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 256;
        struct candidate *v = realloc(s->v, cap * sizeof(*v));
        if (!v)
            return -ENOMEM;
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = (struct candidate){ id, (uint64_t)st->st_blocks * 512,
                                       atime > mtime ? atime : mtime };
    s->bytes += (uint64_t)st->st_blocks * 512;
    return 0;
}

static int by_use(const void *a, const void *b)
{
    long long x = ((const struct candidate *)a)->used_ns;
    long long y = ((const struct candidate *)b)->used_ns;
    return (x > y) - (x < y);
}

/* Drops one copy if it is still clean and closed, in the transaction that
 * clears CN_COPY (fs->lock held: an opener that read the flag before waits
 * for this commit when the file is gone, file.c). */
static int do_evict(struct dbxfs *fs, metadb_txn *t, void *arg)
{
    uint64_t *id = arg;
    struct staging_ref copy = { fs->cache_dir, *id };
    struct cnode n;
    int rc = metadb_node_get(t, *id, &n);

    if (rc && rc != -ENOENT)
        return rc;
    if (rc == -ENOENT || !evictable(&n))
        return -EAGAIN;             /* gone, written or open meanwhile: skip */
    if (!ofile_evict_copy(fs->files, *id, staging_drop, &copy))
        return -EAGAIN;
    n.flags &= ~CN_COPY;
    return metadb_node_put(t, &n);
}

int evict_copies(struct dbxfs *fs)
{
    struct scan s = { 0 };
    uint64_t bc_bytes, chunks, cap;
    int rc, evicted = 0;

    blockcache_stats(fs->bc, &bc_bytes, &chunks, &cap);
    if (atomic_load(&fs->copies_bytes) + bc_bytes <= cap)
        return 0;
    if ((rc = metadb_begin(fs->db, 0, &s.t)))
        return rc;
    /* Copies noted from here on count on top of what the scan finds. */
    atomic_store(&fs->copies_bytes, 0);
    rc = staging_each(fs->cache_dir, consider, &s);
    metadb_abort(s.t);
    if (rc)
        goto out;
    if (s.n > 1)
        qsort(s.v, s.n, sizeof(*s.v), by_use);
    for (size_t i = 0; i < s.n && s.bytes + bc_bytes > cap; i++) {
        int e = fs_write(fs, do_evict, &s.v[i].id);
        if (e == -EAGAIN)
            continue;
        if (e) {
            rc = e;
            goto out;
        }
        s.bytes -= s.v[i].bytes;
        evicted++;
    }
out:
    atomic_fetch_add(&fs->copies_bytes, rc ? UINT64_MAX / 4 : s.bytes);
    if (evicted)
        log_info("cache over its cap: %d local copies evicted", evicted);
    free(s.v);
    return rc ? rc : evicted;
}
