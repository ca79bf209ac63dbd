/* pull: the sync thread. It long-polls GET /v1/changes from the cursor kept
 * in the metadata store, applies each event (apply.c) in one transaction
 * with the new cursor, then tells the kernel what changed, so another
 * device's change is visible here within a round trip of its commit. */
#ifndef DBXFS_PULL_H
#define DBXFS_PULL_H

#include <stdint.h>

struct dbxfs;

int pull_start(struct dbxfs *fs);
void pull_stop(struct dbxfs *fs);
/* Re-reads a node from dbxd soon (one the mirror lost track of: a delete
 * refused after the node left it); cuts a long-poll short. */
void pull_refresh(struct dbxfs *fs, uint64_t id);
/* Reads a node from dbxd now and applies it, from a FUSE thread (a read
 * found the content it knows gone: the feed is behind). 0 or -errno. */
int pull_node_now(struct dbxfs *fs, uint64_t id);

#endif
