/* lmdb_err: see lmdb_err.h. */
#include "lmdb_err.h"

#include <errno.h>
#include <lmdb.h>

int lmdb_err(int rc)
{
    switch (rc) {
    case 0: return 0;
    case MDB_NOTFOUND: return -ENOENT;
    case MDB_KEYEXIST: return -EEXIST;
    case MDB_MAP_FULL: case MDB_TXN_FULL: return -ENOSPC;
    case MDB_READERS_FULL: return -EAGAIN;
    default: return rc > 0 ? -rc : -EIO;
    }
}
