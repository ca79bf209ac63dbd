/* evict: keeps the mount's clean local copies within the cache's cap.
 *
 * A local copy (the staging file of a file whose bytes are all on the
 * server) is a cache like the block cache, and cache_size caps the two
 * together. When they pass it, the copies used least recently go first (by
 * their staging file's atime or mtime, whichever is later); those files
 * then read through the block cache and dbxd again. A copy is never
 * evicted while it holds bytes the server does not have (CN_DIRTY) or while
 * the file is open, so eviction cannot lose data or pull a file from under
 * a handle. The sync engine runs it on its housekeeping tick (sync.c). */
#ifndef DBXFS_EVICT_H
#define DBXFS_EVICT_H

#include "dbxfs.h"

/* Evicts until the copies and the block cache fit the cap. The staging
 * directory is only scanned when the bound kept by fs_copy_grew says they may
 * not (and once after mounting). Returns how many copies went, or -errno. */
int evict_copies(struct dbxfs *fs);

#endif
