/* fetch: chunk maps, reads and whole-file copies on top of the engine. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conn.h"
#include "fetch.h"
#include "tree.h"

#define PREFETCH_BYTES (64u << 20)   /* how far a sequential reader looks ahead */
#define MAP_PAGE 10000

struct map_arg {
    uint64_t id, rev;
    uint32_t start;
    const cJSON *chunks;
    int last;
};

static int store_map_page(struct dbxfs *fs, metadb_txn *t, void *arg)
{
    struct map_arg *a = arg;
    struct map_entry e = { .index = a->start };
    const cJSON *c;
    struct cnode n;
    uint64_t v;
    int rc = metadb_node_get(t, a->id, &n);

    if (rc == 0 && n.content_rev != a->rev)
        return -EAGAIN;
    if (rc == 0 && a->start == 0)
        rc = metadb_map_clear(t, a->id);
    cJSON_ArrayForEach(c, a->chunks) {
        if (rc)
            break;
        if (wire_get_hash(c, "hash", e.hash) || wire_get_uint(c, "offset", UINT64_MAX, &e.offset) ||
            wire_get_uint(c, "size", UINT32_MAX, &v))
            return -EIO;
        e.size = (uint32_t)v;
        rc = metadb_map_put(t, a->id, &e);
        e.index++;
    }
    if (rc == 0 && a->last) {
        n.map_rev = a->rev;
        rc = metadb_node_put(t, &n);
    }
    return rc;
}

/* Stores a content answer's page, whose first chunk is number *start, and
 * remembers its URLs; *start moves past it (dbxd may answer with fewer
 * chunks than asked for). *more: pages follow. */
static int map_store(struct dbxfs *fs, const struct cnode *n, const cJSON *reply,
                     uint32_t *start, int *more)
{
    struct map_arg a = { n->id, n->content_rev, *start, NULL, 0 };
    uint64_t count = 0, rev = 0;
    int got;

    if (wire_get_uint(reply, "content_rev", UINT64_MAX, &rev) ||
        wire_get_uint(reply, "count", UINT32_MAX, &count))
        return -EIO;
    if (rev != n->content_rev)
        return -EAGAIN;
    a.chunks = cJSON_GetObjectItem(reply, "chunks");
    got = cJSON_GetArraySize(a.chunks);
    a.last = *start + (uint64_t)got >= count;
    if (got == 0 && !a.last)
        return -EIO;   /* a page that moves nothing on would never end */
    *more = !a.last;
    fetch_remember_urls(fs, n->id, rev, *start, reply);
    *start += (uint32_t)got;
    return fs_write(fs, store_map_page, &a);
}

/* The map from first (the caller's page 0; NULL: ask for it too). */
static int map_pages(struct dbxfs *fs, const struct cnode *n, const cJSON *first)
{
    uint32_t start = 0;
    int more = 1, rc = 0;
    cJSON *reply;

    if (first)
        rc = map_store(fs, n, first, &start, &more);
    while (rc == 0 && more) {
        reply = NULL;
        rc = fetch_content(fs, n->id, start, MAP_PAGE, &reply);
        if (rc == 0)
            rc = map_store(fs, n, reply, &start, &more);
        cJSON_Delete(reply);
    }
    return rc;
}

int fetch_map(struct dbxfs *fs, const struct cnode *n)
{
    if (n->map_rev == n->content_rev || n->size == 0)
        return 0;
    return map_pages(fs, n, NULL);
}

int fetch_map_from(struct dbxfs *fs, const struct cnode *n, const cJSON *first)
{
    return n->size == 0 ? 0 : map_pages(fs, n, first);
}

static int map_find(struct dbxfs *fs, uint64_t id, uint64_t off, struct map_entry *e)
{
    metadb_txn *t;
    int rc = metadb_begin(fs->db, 0, &t);

    if (rc == 0) {
        rc = metadb_map_find(t, id, off, e);
        metadb_abort(t);
    }
    return rc;
}

/* Queues the chunks after `from` up to PREFETCH_BYTES ahead. */
static void prefetch_after(struct dbxfs *fs, const struct cnode *n, uint64_t from)
{
    struct map_entry e;
    uint64_t off = from;

    while (off < n->size && off - from < PREFETCH_BYTES &&
           map_find(fs, n->id, off, &e) == 0) {
        fetch_prefetch(fs, n, &e);
        off = e.offset + e.size;
    }
}

/* Copies bytes at off (inside chunk e) into buf; fetches the chunk if the
 * cache lacks it. Returns the bytes copied or -errno. */
static ssize_t read_in_chunk(struct dbxfs *fs, const struct cnode *n,
                             const struct map_entry *e, uint64_t off,
                             char *buf, size_t len)
{
    ssize_t got = -ENOENT;

    /* A chunk can be evicted between its arrival and our read when the
     * cache is small and busy: a few tries. */
    for (int tries = 0; tries < 4 && (got == -ENOENT || got == -EIO); tries++) {
        got = blockcache_read(fs->bc, e->hash, off - e->offset, buf, len);
        if (got == -ENOENT || got == -EIO) {
            int rc = fetch_chunk(fs, n, e);
            if (rc)
                return rc;
        }
    }
    return got;
}

ssize_t fetch_read(struct dbxfs *fs, struct ofile *of, const struct cnode *n,
                   char *buf, size_t size, off_t off)
{
    uint64_t pos = (uint64_t)off, end;
    struct map_entry e;
    int sequential = 1, rc = fetch_map(fs, n);

    if (rc)
        return rc;
    end = pos >= n->size ? pos : pos + size > n->size ? n->size : pos + size;
    if (of) {
        pthread_mutex_lock(&of->mu);
        sequential = of->next_off == pos || pos == 0;
        of->next_off = end;
        pthread_mutex_unlock(&of->mu);
    }
    while (pos < end) {
        rc = map_find(fs, n->id, pos, &e);
        if (rc)
            return rc == -ENOENT ? -EIO : rc;
        if (sequential && pos == (uint64_t)off)
            prefetch_after(fs, n, e.offset + e.size);
        size_t want = (size_t)((e.offset + e.size < end ? e.offset + e.size : end) - pos);
        ssize_t got = read_in_chunk(fs, n, &e, pos, buf + (pos - (uint64_t)off), want);
        if (got <= 0)
            return got < 0 ? got : -EIO;
        pos += (uint64_t)got;
    }
    return (ssize_t)(end - (uint64_t)off > 0 ? end - (uint64_t)off : 0);
}

int fetch_copy(struct dbxfs *fs, const struct cnode *n, int fd)
{
    size_t bufsize = 1 << 20;
    char *buf = malloc(bufsize);
    int rc = buf ? 0 : -ENOMEM;

    if (rc == 0 && ftruncate(fd, (off_t)n->size))
        rc = -errno;
    for (uint64_t off = 0; rc == 0 && off < n->size;) {
        ssize_t got = fetch_read(fs, NULL, n, buf, bufsize, (off_t)off);
        if (got <= 0) {
            rc = got < 0 ? (int)got : -EIO;
            break;
        }
        if (off % (16u << 20) == 0)
            prefetch_after(fs, n, off);
        if (pwrite(fd, buf, (size_t)got, (off_t)off) != got)
            rc = -errno ? -errno : -EIO;
        off += (uint64_t)got;
    }
    free(buf);
    return rc;
}
