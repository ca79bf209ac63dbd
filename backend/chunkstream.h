/* chunkstream: a read cursor over a list of stored chunks that an HTTP
 * response pulls from: one chunk for GET /v1/chunks, a whole file for a
 * public link. It decrypts, decodes zstd unless the client takes the
 * stored frame as is, and never holds more than one small buffer. A chunk
 * whose file fails authentication is quarantined and marked missing, so
 * the next upload that lists it asks a client for it again. */
#ifndef DBX_CHUNKSTREAM_H
#define DBX_CHUNKSTREAM_H

#include <sys/types.h>

#include "dbxd.h"

struct chunkstream;

/* Takes ownership of chunks (malloc'd). passthrough: serve the stored form
 * (only for a single chunk). */
struct chunkstream *chunkstream_new(struct dbxd *d, struct dbx_chunk *chunks, uint32_t n,
                                    int passthrough);
/* Fills buf with at least 1 byte; 0 at the end; -1 on a damaged or lost
 * chunk. */
ssize_t chunkstream_read(struct chunkstream *s, char *buf, size_t max);
void chunkstream_free(struct chunkstream *s);

/* A libmicrohttpd response of `size` bytes that reads s (and frees it). */
struct MHD_Response *chunkstream_response(struct chunkstream *s, uint64_t size);

/* Quarantines a damaged chunk and marks it missing. */
void chunkstream_damaged(struct dbxd *d, const uint8_t hash[HASH_LEN]);

#endif
