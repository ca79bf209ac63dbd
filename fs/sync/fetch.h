/* fetch: reading file content that is not local. A file's chunk map (which
 * chunk holds which bytes) is cached in the metadata store per content
 * revision; chunks are in the block cache or fetched from dbxd through
 * signed URLs by a pool of download threads, verified (SHA-256, size) and
 * put in the block cache. A read fetches only the chunks it touches; a
 * sequential reader also queues the next chunks ahead of it, so several
 * requests are in flight while it consumes the first. Memory: one buffer of
 * at most a chunk per download thread.
 *
 * It is the client's one download engine: the benchmark's download figure
 * (tests/bench) runs it too, outside a mount. A chunk is given up on (the
 * read gets EIO) when three GETs got no answer or a busy one (5xx, 429:
 * retried after transfer.h's backoff; no answer at once, so an unreachable
 * dbxd fails a read fast), when its bytes came wrong twice, when its URL
 * was refused after three fresh ones, or at any other answer. */
#ifndef DBXFS_FETCH_H
#define DBXFS_FETCH_H

#include <sys/types.h>

#include "dbxfs.h"
#include "ofile.h"

int fetch_start(struct dbxfs *fs);
void fetch_stop(struct dbxfs *fs);

/* The chunk map of n at n->content_rev is in the store. 0, -EIO offline,
 * -EAGAIN if the content changed on the server meanwhile. */
int fetch_map(struct dbxfs *fs, const struct cnode *n);
/* GET /v1/nodes/{id}/content?start=&limit=: a page of the content answer
 * (the node's size, revisions, and chunks with signed URLs) into *reply,
 * which the caller frees. 0, -EIO offline, or the API error's -errno. */
int fetch_content(struct dbxfs *fs, uint64_t id, uint32_t start, int limit,
                  cJSON **reply);
/* fetch_map for a caller that holds the first page of n's content answer:
 * stores it and asks only for the pages after it. The benchmark learns a
 * node from that answer. */
int fetch_map_from(struct dbxfs *fs, const struct cnode *n, const cJSON *first);
/* Bytes [off, off + size) of n (clipped at n->size) into buf; of (may be
 * NULL) carries the sequential-read state. Bytes read or -errno. */
ssize_t fetch_read(struct dbxfs *fs, struct ofile *of, const struct cnode *n,
                   char *buf, size_t size, off_t off);
/* The whole content of n into fd (a staging file being built). */
int fetch_copy(struct dbxfs *fs, const struct cnode *n, int fd);

/* What the engine has done since fetch_start, for figures and for telling
 * why a read failed; waits for downloads in flight to be counted. */
struct fetch_stats {
    uint64_t chunks;           /* fetched, verified and cached */
    uint64_t bytes;            /* their sizes */
    uint64_t wire_bytes;       /* their bodies as they came (zstd or not) */
    uint64_t retries;          /* chunk GETs made again */
    char error[256];           /* why the last chunk given up on was; "" */
};
void fetch_stats(struct dbxfs *fs, struct fetch_stats *out);

/* For fetch*.c: the engine. */
struct map_entry;
/* Waits until the chunk is in the block cache, fetching it at the head of
 * the queue if needed. 0 or -errno. */
int fetch_chunk(struct dbxfs *fs, const struct cnode *n, const struct map_entry *e);
/* Queues a chunk behind others unless cached or queued. */
void fetch_prefetch(struct dbxfs *fs, const struct cnode *n, const struct map_entry *e);
/* Remembers the signed URLs of a content answer (chunks[].url) whose
 * first chunk is number start. */
void fetch_remember_urls(struct dbxfs *fs, uint64_t id, uint64_t content_rev,
                         uint32_t start, const cJSON *content);

#endif
