/* scrub: re-reads every stored chunk, checks its GCM tag and its SHA-256,
 * and quarantines what fails (chunkstream_damaged), so the chunk counts as
 * missing and the next upload that lists it asks a client for it again. */
#ifndef DBX_SCRUB_H
#define DBX_SCRUB_H

#include <stdint.h>

#include "dbxd.h"

struct scrub_stats {
    uint64_t checked, bytes, damaged;
};

int scrub_run(struct dbxd *d, struct scrub_stats *stats);

#endif
