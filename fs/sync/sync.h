/* sync: the sync engine as a whole, for the process that mounts. It starts
 * and stops the engine's workers (fetch, push, pull), hands the local tree
 * its hooks (local/dbxfs.h: fs->hooks), and runs the housekeeping tick:
 * the metadata store's periodic flush and the cache cap's eviction. */
#ifndef DBXFS_SYNC_H
#define DBXFS_SYNC_H

struct dbxfs;

/* Once mounted (threads do not survive fuse_daemonize's fork). 0, or
 * -errno when a worker could not start (what did start keeps running;
 * sync_stop stops it). */
int sync_start(struct dbxfs *fs);
/* Stops every worker, then sends the kernel notifications still queued. */
void sync_stop(struct dbxfs *fs);

#endif
