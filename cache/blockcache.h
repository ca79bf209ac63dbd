/* blockcache: the mount's chunk-addressed block cache.
 *
 * Chunks downloaded from dbxd, keyed by their SHA-256, in their own LMDB
 * environment (DIR/blocks.lmdb) so that filling it never queues behind the
 * metadata store's writer. Everything in it is also on the server, so the
 * environment is opened MDB_NOSYNC: a kill -9 loses nothing (the pages are
 * in the kernel), a power loss may lose recent entries, and a damaged entry
 * is caught because a chunk's SHA-256 is checked on its first read after
 * the cache is opened (then remembered as verified, in memory).
 *
 * The cache holds at most cap bytes of chunk data: a put that would pass the
 * cap first evicts the least recently used chunks. Recency is kept in memory
 * and written to LMDB in batches (not one write transaction per read).
 * Data that is not yet on the server never lives here (it is in the mount's
 * staging files), so eviction can never lose it.
 *
 * Thread-safe: any number of threads may read and put at once. The caller
 * owns the object; blockcache_close frees it. Errors are -errno, LMDB's
 * mapped as cache/lmdb_err.h says (-ENOSPC: no room, -EAGAIN: every reader
 * slot busy, -EIO: a damaged store). The cache logs nothing: what it gets
 * over by itself is counted (blockcache_faults) for the caller to report. */
#ifndef DBX_BLOCKCACHE_H
#define DBX_BLOCKCACHE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "hash.h"

typedef struct blockcache blockcache;

/* Opens (creating) DIR/blocks.lmdb with a cap of cap_bytes (0: 10 GiB).
 * -ENAMETOOLONG if that path is longer than 4095 bytes. */
int blockcache_open(const char *dir, uint64_t cap_bytes, blockcache **out);
/* Writes the recency noted in memory back and syncs the file, then frees
 * bc whatever happened. Returns the first failure's -errno: the cache is
 * intact, but its eviction order may be older, or its last writes not yet
 * safe from a power loss (the hash check on first read catches those). */
int blockcache_close(blockcache *bc);

/* Stores a chunk the caller has verified (hash = SHA-256 of data). A chunk
 * larger than the cap is refused with -EFBIG; an existing one is only
 * marked used. When there is no room (the map, one transaction or the
 * disk is full) it evicts a quarter more and tries again, up to three
 * times, before returning -ENOSPC. */
int blockcache_put(blockcache *bc, const uint8_t hash[HASH_LEN],
                   const void *data, size_t len);

/* Copies bytes [off, off + len) of the chunk into buf and marks it used.
 * Returns the number of bytes copied (short at the chunk's end, 0 at or past
 * it), -ENOENT if absent, -EIO if its bytes no longer match its hash (the
 * entry is then dropped, so the caller fetches it again, and counted in
 * blockcache_faults). */
ssize_t blockcache_read(blockcache *bc, const uint8_t hash[HASH_LEN],
                        uint64_t off, void *buf, size_t len);

/* 1 if present, 0 if not. Does not mark it used. */
int blockcache_has(blockcache *bc, const uint8_t hash[HASH_LEN]);

/* Bytes and chunks held now, and the cap. */
void blockcache_stats(blockcache *bc, uint64_t *bytes, uint64_t *chunks,
                      uint64_t *cap);

/* What the cache got over by itself since it was opened, which the caller
 * may log or show:
 *   damaged       reads that found a chunk's bytes no longer matching its
 *                 hash (or unreadable): each returned -EIO and dropped the
 *                 chunk, so that the caller's refetch can put it again
 *   recency_lost  write-backs of the recency noted by reads that failed:
 *                 only the order of eviction suffers; recency_err is the
 *                 last one's -errno */
struct blockcache_faults {
    uint64_t damaged;
    uint64_t recency_lost;
    int recency_err;
};
void blockcache_faults(blockcache *bc, struct blockcache_faults *out);

/* Drops every chunk (tests and `dbxctl` cache clearing). */
int blockcache_clear(blockcache *bc);

#endif
