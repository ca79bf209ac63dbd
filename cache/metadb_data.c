/* metadb: the records that describe data rather than the tree: cached
 * chunk maps (id + offset → chunk) and the dirty set. */
#include <string.h>

#include "metadb_int.h"

struct map_val {
    uint32_t index, size;
    uint8_t hash[HASH_LEN];
};

static void map_key(uint8_t k[16], uint64_t id, uint64_t off)
{
    put_be64(k, id);
    put_be64(k + 8, off);
}

int metadb_map_put(metadb_txn *t, uint64_t id, const struct map_entry *e)
{
    uint8_t k[16];
    struct map_val v = { e->index, e->size, { 0 } };

    memcpy(v.hash, e->hash, HASH_LEN);
    map_key(k, id, e->offset);
    return metadb_put(t, DBI_MAPS, k, 16, &v, sizeof(v));
}

int metadb_map_clear(metadb_txn *t, uint64_t id)
{
    uint8_t k[16];
    MDB_val key = { 16, k }, v;
    MDB_cursor *c;
    int rc = metadb_cursor(t, DBI_MAPS, &c);

    if (rc)
        return rc;
    map_key(k, id, 0);
    for (rc = mdb_cursor_get(c, &key, &v, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(c, &key, &v, MDB_NEXT)) {
        if (key.mv_size != 16 || get_be64(key.mv_data) != id)
            break;
        if ((rc = mdb_cursor_del(c, 0)))
            break;
    }
    mdb_cursor_close(c);
    return rc == MDB_NOTFOUND ? 0 : lmdb_err(rc);
}

static int map_decode(const MDB_val *key, const MDB_val *v, uint64_t id,
                      struct map_entry *e)
{
    struct map_val mv;

    if (key->mv_size != 16 || get_be64(key->mv_data) != id ||
        v->mv_size != sizeof(mv))
        return -ENOENT;
    memcpy(&mv, v->mv_data, sizeof(mv));
    e->offset = get_be64((const uint8_t *)key->mv_data + 8);
    e->size = mv.size;
    e->index = mv.index;
    memcpy(e->hash, mv.hash, HASH_LEN);
    return 0;
}

int metadb_map_find(metadb_txn *t, uint64_t id, uint64_t off,
                    struct map_entry *e)
{
    uint8_t k[16];
    MDB_val key = { 16, k }, v;
    MDB_cursor *c;
    int rc = metadb_cursor(t, DBI_MAPS, &c);

    if (rc)
        return rc;
    map_key(k, id, off);
    rc = lmdb_err(mdb_cursor_get(c, &key, &v, MDB_SET_RANGE));
    if (rc == 0 && map_decode(&key, &v, id, e) == 0 && e->offset == off)
        goto out;
    /* Not a chunk start: the chunk holding off starts before it, at the
     * key before (the last key when off is past them all). */
    rc = lmdb_err(mdb_cursor_get(c, &key, &v, rc == 0 ? MDB_PREV : MDB_LAST));
    if (rc)
        goto out;
    if ((rc = map_decode(&key, &v, id, e)))
        goto out;
    if (off >= e->offset + e->size)
        rc = -ENOENT;
out:
    mdb_cursor_close(c);
    return rc;
}

/* ---- dirty set ---- */

int metadb_dirty_put(metadb_txn *t, uint64_t id, uint64_t gen)
{
    return metadb_idset_put(t, DBI_DIRTY, id, gen);
}

int metadb_dirty_get(metadb_txn *t, uint64_t id, uint64_t *gen)
{
    return metadb_idset_get(t, DBI_DIRTY, id, gen);
}

int metadb_dirty_del(metadb_txn *t, uint64_t id)
{
    uint8_t k[8];
    put_be64(k, id);
    return metadb_del(t, DBI_DIRTY, k, 8);
}

uint64_t metadb_dirty_count(metadb_txn *t)
{
    return metadb_count(t, DBI_DIRTY);
}

int metadb_dirty_list(metadb_txn *t, uint64_t after, uint64_t *ids, int max)
{
    return metadb_idset_list(t, DBI_DIRTY, after, ids, max);
}
