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

static int env_open(metadb *db, const char *path)
{
    int rc = mdb_env_create(&db->env);

    if (rc)
        goto out;
    if ((rc = mdb_env_set_maxdbs(db->env, DBI_COUNT)))
        goto out;
    if ((rc = mdb_env_set_mapsize(db->env, (size_t)64 << 30)))
        goto out;
    rc = mdb_env_open(db->env, path,
                      MDB_NOSUBDIR | MDB_NOSYNC | MDB_WRITEMAP | MDB_NOTLS, 0600);
out:
    return lmdb_err(rc);
}

/* The databases are opened and an older store upgraded in one transaction,
 * so that an upgrade cut short leaves the store as it was. */
static int dbs_open(metadb *db)
{
    metadb_txn t = { db, NULL };
    int rc = lmdb_err(mdb_txn_begin(db->env, NULL, 0, &t.txn));

    if (rc)
        return rc;
    for (int i = 0; i < DBI_COUNT; i++) {
        rc = lmdb_err(mdb_dbi_open(t.txn, dbi_names[i], MDB_CREATE, &db->dbi[i]));
        if (rc)
            goto out;
    }
    if ((rc = metadb_upgrade(&t)))
        goto out;
    rc = lmdb_err(mdb_txn_commit(t.txn));
    t.txn = NULL;                   /* a commit frees it, even a failed one */
out:
    if (t.txn)
        mdb_txn_abort(t.txn);
    return rc;
}

int metadb_open(const char *dir, metadb **out)
{
    char path[4096];
    metadb *db = calloc(1, sizeof(*db));
    int rc;

    if (!db)
        return -ENOMEM;
    rc = -ENAMETOOLONG;
    if ((size_t)snprintf(path, sizeof(path), "%s/meta.lmdb", dir) >= sizeof(path))
        goto out;
    if ((rc = env_open(db, path)) || (rc = dbs_open(db)))
        goto out;
    *out = db;
    return 0;
out:
    if (db->env)
        mdb_env_close(db->env);
    free(db);
    return rc;
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
    return lmdb_err(mdb_env_sync(db->env, 1));
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
        return lmdb_err(rc);
    }
    *out = t;
    return 0;
}

int metadb_commit(metadb_txn *t)
{
    int rc = mdb_txn_commit(t->txn);
    free(t);
    return lmdb_err(rc);
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
    return lmdb_err(mdb_get(t->txn, t->db->dbi[dbi], &key, v));
}

int metadb_put(metadb_txn *t, int dbi, const void *k, size_t klen,
               const void *v, size_t vlen)
{
    MDB_val key = { klen, (void *)k }, val = { vlen, (void *)v };
    return lmdb_err(mdb_put(t->txn, t->db->dbi[dbi], &key, &val, 0));
}

int metadb_del(metadb_txn *t, int dbi, const void *k, size_t klen)
{
    MDB_val key = { klen, (void *)k };
    return lmdb_err(mdb_del(t->txn, t->db->dbi[dbi], &key, NULL));
}

int metadb_cursor(metadb_txn *t, int dbi, MDB_cursor **out)
{
    return lmdb_err(mdb_cursor_open(t->txn, t->db->dbi[dbi], out));
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
    MDB_cursor *c = NULL;
    MDB_val k, v;
    struct cnode *n = malloc(sizeof(*n));
    int stop = 0, rc = n ? metadb_cursor(t, DBI_NODES, &c) : -ENOMEM;

    if (rc)
        goto out;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        if (v.mv_size < sizeof(struct node_rec))
            continue;
        node_decode(&v, n);
        if ((stop = fn(arg, n)))
            break;
    }
    if (stop < 0)
        rc = stop;
    else
        rc = rc == MDB_NOTFOUND ? 0 : lmdb_err(rc);
out:
    if (c)
        mdb_cursor_close(c);
    free(n);
    return rc;
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
    if ((rc = metadb_get(t, dbi, k, 8, &v)))
        return rc;
    if (value)
        *value = v.mv_size == 8 ? get_be64(v.mv_data) : 0;
    return 0;
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
    MDB_cursor *c;
    int n = 0, rc = metadb_cursor(t, dbi, &c);

    if (rc)
        return rc;
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
