/* dirlist: a directory's children from dbxd, for a directory this device
 * has never listed (GET /v1/nodes/{id}/children, paged), merged into the
 * store through apply.c. The FUSE handlers call it before they look up,
 * create, remove or rename in a directory: the local tree only ever reads
 * the store. */
#ifndef DBXFS_DIRLIST_H
#define DBXFS_DIRLIST_H

#include <stdint.h>

struct dbxfs;

/* Makes sure dir's children are in the store. 0 or -errno (-EIO offline). */
int dirlist_ensure(struct dbxfs *fs, uint64_t dir);

#endif
