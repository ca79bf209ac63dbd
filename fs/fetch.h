/* fetch: reading file content that is not local. A file's chunk map (which
 * chunk holds which bytes) is cached in the metadata store per content
 * revision; chunks are in the block cache or fetched from dbxd through
 * signed URLs by a pool of download threads, verified (SHA-256, size) and
 * put in the block cache. A read fetches only the chunks it touches; a
 * sequential reader also queues the next chunks ahead of it, so several
 * requests are in flight while it consumes the first. Memory: one buffer of
 * at most a chunk per download thread. */
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
/* Bytes [off, off + size) of n (clipped at n->size) into buf; of (may be
 * NULL) carries the sequential-read state. Bytes read or -errno. */
ssize_t fetch_read(struct dbxfs *fs, struct ofile *of, const struct cnode *n,
                   char *buf, size_t size, off_t off);
/* The whole content of n into fd (a staging file being built). */
int fetch_copy(struct dbxfs *fs, const struct cnode *n, int fd);

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
