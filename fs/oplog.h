/* oplog: the journal operations the mount records for the push worker,
 * as JSON text ({"op": "create"|"patch"|"delete", "id": ..., "body": ...}),
 * appended in the same transaction as the local change they mirror, so the
 * two can never disagree after a crash. */
#ifndef DBXFS_OPLOG_H
#define DBXFS_OPLOG_H

#include "metadb.h"

enum {
    OPLOG_MODE = 1 << 0, OPLOG_OWNER = 1 << 1, OPLOG_ATIME = 1 << 2,
    OPLOG_MTIME = 1 << 3, OPLOG_MOVE = 1 << 4, OPLOG_REPLACE = 1 << 5,
};

int oplog_create(metadb_txn *t, const struct cnode *n);
/* A PATCH of the fields in mask, with their values from n. */
int oplog_patch(metadb_txn *t, const struct cnode *n, unsigned mask);
int oplog_delete(metadb_txn *t, uint64_t id);

#endif
