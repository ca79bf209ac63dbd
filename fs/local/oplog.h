/* oplog: the journal operations the mount records for the push worker,
 * as JSON text ({"op": "create"|"patch"|"delete", "id": ..., "body": ...}),
 * appended in the same transaction as the local change they mirror, so the
 * two can never disagree after a crash. The push worker may add fields of
 * its own to an entry (push_journal.c: attempts, parking). */
#ifndef DBXFS_OPLOG_H
#define DBXFS_OPLOG_H

#include "metadb.h"

enum {
    OPLOG_MODE = 1 << 0, OPLOG_OWNER = 1 << 1, OPLOG_ATIME = 1 << 2,
    OPLOG_MTIME = 1 << 3,
};

int oplog_create(metadb_txn *t, const struct cnode *n);
/* The same, before every operation queued (a node dbxd lost, made again). */
int oplog_create_first(metadb_txn *t, const struct cnode *n);
/* A PATCH of the attributes in mask, with their values from n. */
int oplog_patch(metadb_txn *t, const struct cnode *n, unsigned mask);
/* A move of n to its parent and name; victim: the node it replaces there,
 * as this device saw it (dbxd keeps a holder that is not that, or whose
 * content changed since), or NULL. */
int oplog_move(metadb_txn *t, const struct cnode *n, const struct cnode *victim);
/* A delete of n; for a file, only of the content this device saw (dbxd
 * refuses it if another device wrote the file since). */
int oplog_delete(metadb_txn *t, const struct cnode *n);
/* The delete of a rename's victim, for when the rename will not replace
 * it after all (body: the rename's; nothing when it names no victim). */
int oplog_delete_victim(metadb_txn *t, const cJSON *body);
/* Drops every queued operation of id, unless one may be on its way to dbxd
 * (its sequence number within [busy_lo, busy_hi]): 1 when dropped, 0 when
 * kept, or -errno. For a node removed before dbxd ever heard of it. */
int oplog_drop_node(metadb_txn *t, uint64_t id, uint64_t busy_lo, uint64_t busy_hi);

#endif
