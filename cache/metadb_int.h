/* metadb_int.h: what the metadb_*.c files share (not for users of metadb). */
#ifndef DBX_METADB_INT_H
#define DBX_METADB_INT_H

#include <errno.h>
#include <lmdb.h>

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

static inline int mdb_err(int rc)
{
    switch (rc) {
    case 0: return 0;
    case MDB_NOTFOUND: return -ENOENT;
    case MDB_MAP_FULL: return -ENOSPC;
    case MDB_KEYEXIST: return -EEXIST;
    default: return rc > 0 ? -rc : -EIO;
    }
}

static inline void put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static inline uint64_t get_be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

/* Node records (nodes, remote): the same encoding in either database. */
int metadb_rec_get(metadb_txn *t, int dbi, uint64_t id, struct cnode *n);
int metadb_rec_put(metadb_txn *t, int dbi, const struct cnode *n);

/* Sets of ids, each with an optional 64-bit number (dirty, gone, rgone,
 * resync): value 0 is stored as no bytes. */
int metadb_idset_put(metadb_txn *t, int dbi, uint64_t id, uint64_t value);
int metadb_idset_get(metadb_txn *t, int dbi, uint64_t id, uint64_t *value);
int metadb_idset_del(metadb_txn *t, int dbi, uint64_t id);    /* absent: 0 */
int metadb_idset_list(metadb_txn *t, int dbi, uint64_t after, uint64_t *ids, int max);
uint64_t metadb_count(metadb_txn *t, int dbi);

/* Brings a store written by an older dbxfs up to this one (metadb_open). */
int metadb_upgrade(metadb_txn *t);

int metadb_get(metadb_txn *t, int dbi, const void *k, size_t klen, MDB_val *v);
int metadb_put(metadb_txn *t, int dbi, const void *k, size_t klen,
               const void *v, size_t vlen);
int metadb_del(metadb_txn *t, int dbi, const void *k, size_t klen);
MDB_cursor *metadb_cursor(metadb_txn *t, int dbi);

#endif
