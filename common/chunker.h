/* chunker: streaming content-defined chunking (FastCDC with normalized
 * chunking, gear hash). Boundaries depend only on content, so an edit in
 * the middle of a file changes only the chunks around it. The chunker sees
 * bytes once and keeps no copy of them: the caller owns all data and hashes
 * each chunk's bytes as it feeds them. Memory is constant, whatever the size
 * of the file. The gear table is fixed forever: changing it would change
 * every boundary and defeat deduplication against existing stores. */
#ifndef DBX_CHUNKER_H
#define DBX_CHUNKER_H

#include <stddef.h>
#include <stdint.h>

#define CHUNKER_MIN_DEFAULT (1u << 20)   /* 1 MiB */
#define CHUNKER_AVG_DEFAULT (4u << 20)   /* 4 MiB */
#define CHUNKER_MAX_DEFAULT (16u << 20)  /* 16 MiB */

typedef struct chunker chunker;

typedef struct chunker_params {
    size_t min_size;   /* no boundary before this many bytes (>= 64) */
    size_t avg_size;   /* target average, a power of two, > min_size */
    size_t max_size;   /* a boundary is forced here; > avg_size, <= 64 MiB */
} chunker_params;

/* NULL params means the defaults. Returns NULL on invalid params (errno
 * EINVAL) or allocation failure. */
chunker *chunker_new(const chunker_params *params);
void chunker_free(chunker *c);

/* Forget the current partial chunk: the next byte starts a new chunk. */
void chunker_reset(chunker *c);

/* Scans buf. Returns how many bytes belong to the current chunk: if
 * *boundary is set to 1, the current chunk ends after those bytes (and the
 * chunker has reset itself for the next chunk); otherwise all len bytes were
 * consumed and the chunk goes on. The caller loops until buf is used up; at
 * end of input whatever was fed since the last boundary is the last chunk. */
size_t chunker_feed(chunker *c, const uint8_t *buf, size_t len, int *boundary);

#endif
