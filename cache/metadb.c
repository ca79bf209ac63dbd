/* metadb: see metadb.h. Keys hold numbers big-endian so that LMDB's byte
 * order is numeric order (readdir by name, maps by offset, journal by
 * sequence). */
#include "metadb.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "metadb_int.h"

static const char *const dbi_names[DBI_COUNT] = {
    "nodes", "dirents", "maps", "journal", "pending", "dirty", "xattrs", "kv",
    "gone", "remote", "rgone", "resync", "jnode",
};

int metadb_open(const char *dir, metadb **out)
{
    char path[4096];
    MDB_txn *txn = NULL;
    metadb *db = calloc(1, sizeof(*db));
    int rc;

    if (!db)
        return -ENOMEM;
    snprintf(path, sizeof(path), "%s/meta.lmdb", dir);
    rc = mdb_env_create(&db->env);
    if (rc == 0)
        rc = mdb_env_set_maxdbs(db->env, DBI_COUNT);
    if (rc == 0)
        rc = mdb_env_set_mapsize(db->env, (size_t)64 << 30);
    if (rc == 0)
        rc = mdb_env_open(db->env, path,
                          MDB_NOSUBDIR | MDB_NOSYNC | MDB_WRITEMAP | MDB_NOTLS, 0600);
    if (rc == 0)
        rc = mdb_txn_begin(db->env, NULL, 0, &txn);
    for (int i = 0; rc == 0 && i < DBI_COUNT; i++)
        rc = mdb_dbi_open(txn, dbi_names[i], MDB_CREATE, &db->dbi[i]);
    if (rc == 0) {
        metadb_txn up = { db, txn };
        rc = -metadb_upgrade(&up);
    }
    if (rc == 0) {
        rc = mdb_txn_commit(txn);
        txn = NULL;
    }
    if (txn)
        mdb_txn_abort(txn);
    if (rc) {
        if (db->env)
            mdb_env_close(db->env);
        free(db);
        return mdb_err(rc);
    }
    *out = db;
    return 0;
}

void metadb_close(metadb *db)
{
    if (!db)
        return;
    mdb_env_sync(db->env, 1);
    mdb_env_close(db->env);
    free(db);
}

int metadb_sync(metadb *db)
{
    return mdb_err(mdb_env_sync(db->env, 1));
}

int metadb_begin(metadb *db, int write, metadb_txn **out)
{
    metadb_txn *t = malloc(sizeof(*t));
    int rc;

    if (!t)
        return -ENOMEM;
    t->db = db;
    rc = mdb_txn_begin(db->env, NULL, write ? 0 : MDB_RDONLY, &t->txn);
    if (rc) {
        free(t);
        return mdb_err(rc);
    }
    *out = t;
    return 0;
}

int metadb_commit(metadb_txn *t)
{
    int rc = mdb_txn_commit(t->txn);
    free(t);
    return mdb_err(rc);
}

void metadb_abort(metadb_txn *t)
{
    if (!t)
        return;
    mdb_txn_abort(t->txn);
    free(t);
}

int metadb_get(metadb_txn *t, int dbi, const void *k, size_t klen, MDB_val *v)
{
    MDB_val key = { klen, (void *)k };
    return mdb_err(mdb_get(t->txn, t->db->dbi[dbi], &key, v));
}

int metadb_put(metadb_txn *t, int dbi, const void *k, size_t klen,
               const void *v, size_t vlen)
{
    MDB_val key = { klen, (void *)k }, val = { vlen, (void *)v };
    return mdb_err(mdb_put(t->txn, t->db->dbi[dbi], &key, &val, 0));
}

int metadb_del(metadb_txn *t, int dbi, const void *k, size_t klen)
{
    MDB_val key = { klen, (void *)k };
    return mdb_err(mdb_del(t->txn, t->db->dbi[dbi], &key, NULL));
}

MDB_cursor *metadb_cursor(metadb_txn *t, int dbi)
{
    MDB_cursor *c = NULL;
    return mdb_cursor_open(t->txn, t->db->dbi[dbi], &c) ? NULL : c;
}

/* ---- nodes ---- */

static void node_decode(const MDB_val *v, struct cnode *n)
{
    struct node_rec r;
    const char *p = (const char *)v->mv_data + sizeof(r);

    memcpy(&r, v->mv_data, sizeof(r));
    memset(n, 0, sizeof(*n));
    n->id = r.id; n->parent = r.parent; n->type = r.type; n->mode = r.mode;
    n->uid = r.uid; n->gid = r.gid;
    n->atime = (struct wire_time){ r.atime, r.atime_ns };
    n->mtime = (struct wire_time){ r.mtime, r.mtime_ns };
    n->ctime = (struct wire_time){ r.ctime, r.ctime_ns };
    n->flags = r.flags; n->size = r.size; n->rev = r.rev;
    n->content_rev = r.content_rev; n->map_rev = r.map_rev;
    memcpy(n->name, p, r.name_len);
    memcpy(n->target, p + r.name_len, r.target_len);
}

int metadb_rec_get(metadb_txn *t, int dbi, uint64_t id, struct cnode *n)
{
    uint8_t k[8];
    MDB_val v;
    int rc;

    put_be64(k, id);
    rc = metadb_get(t, dbi, k, 8, &v);
    if (rc)
        return rc;
    if (v.mv_size < sizeof(struct node_rec))
        return -EIO;
    node_decode(&v, n);
    return 0;
}

int metadb_rec_put(metadb_txn *t, int dbi, const struct cnode *n)
{
    char buf[sizeof(struct node_rec) + sizeof(n->name) + sizeof(n->target)];
    struct node_rec r = {
        .id = n->id, .parent = n->parent, .type = n->type, .mode = n->mode,
        .uid = n->uid, .gid = n->gid,
        .atime = n->atime.sec, .mtime = n->mtime.sec, .ctime = n->ctime.sec,
        .atime_ns = n->atime.nsec, .mtime_ns = n->mtime.nsec,
        .ctime_ns = n->ctime.nsec, .flags = n->flags, .size = n->size,
        .rev = n->rev, .content_rev = n->content_rev, .map_rev = n->map_rev,
        .name_len = (uint16_t)strnlen(n->name, sizeof(n->name) - 1),
        .target_len = (uint16_t)strnlen(n->target, sizeof(n->target) - 1),
    };
    uint8_t k[8];

    memcpy(buf, &r, sizeof(r));
    memcpy(buf + sizeof(r), n->name, r.name_len);
    memcpy(buf + sizeof(r) + r.name_len, n->target, r.target_len);
    put_be64(k, n->id);
    return metadb_put(t, dbi, k, 8, buf, sizeof(r) + r.name_len + r.target_len);
}

int metadb_node_get(metadb_txn *t, uint64_t id, struct cnode *n)
{
    return metadb_rec_get(t, DBI_NODES, id, n);
}

int metadb_node_put(metadb_txn *t, const struct cnode *n)
{
    return metadb_rec_put(t, DBI_NODES, n);
}

int metadb_node_del(metadb_txn *t, uint64_t id)
{
    uint8_t k[8];
    put_be64(k, id);
    return metadb_del(t, DBI_NODES, k, 8);
}

int metadb_node_each(metadb_txn *t, int (*fn)(void *arg, const struct cnode *n),
                     void *arg)
{
    MDB_cursor *c;
    MDB_val k, v;
    struct cnode *n = malloc(sizeof(*n));
    int stop = 0, rc = mdb_cursor_open(t->txn, t->db->dbi[DBI_NODES], &c);

    if (!n || rc) {
        free(n);
        return n ? mdb_err(rc) : -ENOMEM;
    }
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        if (v.mv_size < sizeof(struct node_rec))
            continue;
        node_decode(&v, n);
        if ((stop = fn(arg, n)))
            break;
    }
    mdb_cursor_close(c);
    free(n);
    if (stop < 0)
        return stop;
    return rc == MDB_NOTFOUND || rc == 0 ? 0 : mdb_err(rc);
}

/* ---- sets of ids ---- */

int metadb_idset_put(metadb_txn *t, int dbi, uint64_t id, uint64_t value)
{
    uint8_t k[8], v[8];

    put_be64(k, id);
    put_be64(v, value);
    return metadb_put(t, dbi, k, 8, v, value ? 8 : 0);
}

int metadb_idset_get(metadb_txn *t, int dbi, uint64_t id, uint64_t *value)
{
    uint8_t k[8];
    MDB_val v;
    int rc;

    put_be64(k, id);
    rc = metadb_get(t, dbi, k, 8, &v);
    if (rc == 0 && value)
        *value = v.mv_size == 8 ? get_be64(v.mv_data) : 0;
    return rc;
}

int metadb_idset_del(metadb_txn *t, int dbi, uint64_t id)
{
    uint8_t k[8];
    int rc;

    put_be64(k, id);
    rc = metadb_del(t, dbi, k, 8);
    return rc == -ENOENT ? 0 : rc;
}

int metadb_idset_list(metadb_txn *t, int dbi, uint64_t after, uint64_t *ids, int max)
{
    uint8_t k[8];
    MDB_val key = { 8, k }, v;
    MDB_cursor *c = metadb_cursor(t, dbi);
    int n = 0, rc;

    if (!c)
        return -EIO;
    put_be64(k, after);
    rc = mdb_cursor_get(c, &key, &v, MDB_SET_RANGE);
    for (; rc == 0 && n < max; rc = mdb_cursor_get(c, &key, &v, MDB_NEXT)) {
        uint64_t id = get_be64(key.mv_data);
        if (after && id == after)
            continue;
        ids[n++] = id;
    }
    mdb_cursor_close(c);
    return n;
}

uint64_t metadb_count(metadb_txn *t, int dbi)
{
    MDB_stat st;
    return mdb_stat(t->txn, t->db->dbi[dbi], &st) ? 0 : st.ms_entries;
}

/* ---- kv ---- */

int metadb_kv_get(metadb_txn *t, const char *key, uint64_t *value)
{
    MDB_val v;
    int rc = metadb_get(t, DBI_KV, key, strlen(key), &v);

    if (rc)
        return rc;
    if (v.mv_size != 8)
        return -EIO;
    *value = get_be64(v.mv_data);
    return 0;
}

int metadb_kv_put(metadb_txn *t, const char *key, uint64_t value)
{
    uint8_t v[8];
    put_be64(v, value);
    return metadb_put(t, DBI_KV, key, strlen(key), v, 8);
}
