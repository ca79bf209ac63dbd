/* gc: garbage collection of chunks and upload sessions. Expired sessions
 * release their pins; chunks that no content references and no open
 * session pins, for longer than the grace period, are deleted.
 *
 * A chunk file is removed inside the metadata write transaction that
 * deletes its record, and a chunk upload renames its file into place
 * inside the transaction that records it (api_chunks.c). LMDB runs one
 * write transaction at a time across processes, so `dbxd gc` and a running
 * daemon can never interleave a removal with an arrival. */
#ifndef DBX_GC_H
#define DBX_GC_H

#include <stdint.h>

#include "dbxd.h"

struct gc_stats {
    uint64_t chunks, bytes, sessions;
};

int gc_run(struct dbxd *d, int64_t grace, struct gc_stats *stats);

/* The daemon's periodic collector. */
int gc_thread_start(struct dbxd *d);
void gc_thread_stop(struct dbxd *d);

#endif
