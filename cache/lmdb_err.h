/* lmdb_err: LMDB's return codes as the -errno that the cache's API returns.
 * One table for the mount's two LMDB environments (metadb and blockcache),
 * so that the same failure reads the same in both. dbxd's metastore has
 * codes of its own (backend/metastore.h) and does not use this.
 *
 *   0                             0
 *   MDB_NOTFOUND                  -ENOENT  no such record; callers test it
 *   MDB_KEYEXIST                  -EEXIST
 *   MDB_MAP_FULL, MDB_TXN_FULL    -ENOSPC  no room, in the map or in one
 *                                          transaction: freeing some helps
 *   MDB_READERS_FULL              -EAGAIN  every reader slot is busy for now
 *   a system error (rc > 0)       -rc      LMDB passes errno through
 *   any other MDB_* code          -EIO     damaged or incompatible store */
#ifndef DBX_LMDB_ERR_H
#define DBX_LMDB_ERR_H

int lmdb_err(int rc);

#endif
