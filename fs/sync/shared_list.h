/* shared_list: the `Shared with me` directory's children from dbxd
 * (GET /v1/shared), merged into the store (local/shared.h says how they are
 * placed and marked). */
#ifndef DBXFS_SHARED_LIST_H
#define DBXFS_SHARED_LIST_H

struct dbxfs;

/* Re-reads the list from dbxd and applies it (first look; share and
 * unshare events). 0 or -errno (-EIO offline). */
int shared_list(struct dbxfs *fs);

#endif
