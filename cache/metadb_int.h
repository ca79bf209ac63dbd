/* metadb_int.h: what the metadb_*.c files share (not for users of metadb). */
#ifndef DBX_METADB_INT_H
#define DBX_METADB_INT_H

#include <errno.h>
#include <lmdb.h>

#include "be.h"
#include "lmdb_err.h"
#include "metadb.h"

enum { DBI_NODES, DBI_DIRENTS, DBI_MAPS, DBI_JOURNAL, DBI_PENDING, DBI_DIRTY,
       DBI_XATTRS, DBI_KV, DBI_GONE, DBI_REMOTE, DBI_RGONE, DBI_RESYNC, DBI_JNODE,
       DBI_COUNT };

struct metadb {
    MDB_env *env;
    MDB_dbi dbi[DBI_COUNT];
};

struct metadb_txn {
    metadb *db;
    MDB_txn *txn;
};

/* The fixed part of a node record; name and target follow it. */
struct node_rec {
    uint64_t id, parent;
    uint32_t type, mode, uid, gid;
    int64_t atime, mtime, ctime;
    uint32_t atime_ns, mtime_ns, ctime_ns, flags;
    uint64_t size, rev, content_rev, map_rev;
    uint16_t name_len, target_len;
};

/* Node records (nodes, remote): the same encoding in either database. */
int metadb_rec_get(metadb_txn *t, int dbi, uint64_t id, struct cnode *n);
int metadb_rec_put(metadb_txn *t, int dbi, const struct cnode *n);

/* Sets of ids, each with an optional 64-bit number (dirty, gone, rgone,
 * resync): value 0 is stored as no bytes. */
int metadb_idset_put(metadb_txn *t, int dbi, uint64_t id, uint64_t value);
int metadb_idset_get(metadb_txn *t, int dbi, uint64_t id, uint64_t *value);
int metadb_idset_del(metadb_txn *t, int dbi, uint64_t id);    /* absent: 0 */
/* Up to max ids after `after` (0: from the first) in id order: how many (an
 * LMDB error mid-walk only ends the list early), or -errno. */
int metadb_idset_list(metadb_txn *t, int dbi, uint64_t after, uint64_t *ids, int max);
uint64_t metadb_count(metadb_txn *t, int dbi);

/* Brings a store written by an older dbxfs up to this one (metadb_open);
 * metadb_journal_upgrade is its journal part (metadb_journal.c). */
int metadb_upgrade(metadb_txn *t);
int metadb_journal_upgrade(metadb_txn *t);

/* One record of database dbi; errors are -errno (lmdb_err.h). A value got
 * points into the map: valid until the transaction's next write or end. */
int metadb_get(metadb_txn *t, int dbi, const void *k, size_t klen, MDB_val *v);
int metadb_put(metadb_txn *t, int dbi, const void *k, size_t klen,
               const void *v, size_t vlen);
int metadb_del(metadb_txn *t, int dbi, const void *k, size_t klen);
/* A cursor on dbi in *out, which the caller closes (mdb_cursor_close)
 * before the transaction ends. 0 or -errno. */
int metadb_cursor(metadb_txn *t, int dbi, MDB_cursor **out);

#endif
