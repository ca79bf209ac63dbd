/* metadb: the records that describe work and data rather than the tree:
 * cached chunk maps (id + offset → chunk), the dirty set, and the journal
 * with its per-node pending counts. */
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
    MDB_cursor *c = metadb_cursor(t, DBI_MAPS);
    int rc;

    if (!c)
        return -EIO;
    map_key(k, id, 0);
    for (rc = mdb_cursor_get(c, &key, &v, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(c, &key, &v, MDB_NEXT)) {
        if (key.mv_size != 16 || get_be64(key.mv_data) != id)
            break;
        rc = mdb_cursor_del(c, 0);
        if (rc)
            break;
    }
    mdb_cursor_close(c);
    return rc == 0 || rc == MDB_NOTFOUND ? 0 : mdb_err(rc);
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
    MDB_cursor *c = metadb_cursor(t, DBI_MAPS);
    int rc;

    if (!c)
        return -EIO;
    map_key(k, id, off);
    rc = mdb_cursor_get(c, &key, &v, MDB_SET_RANGE);
    if (rc == 0 && map_decode(&key, &v, id, e) == 0 && e->offset == off)
        goto out;
    /* Not a chunk start: the chunk holding off starts before it. */
    rc = mdb_cursor_get(c, &key, &v, rc == 0 ? MDB_PREV : MDB_LAST);
    if (rc == 0)
        rc = map_decode(&key, &v, id, e);
    if (rc == 0 && off >= e->offset + e->size)
        rc = -ENOENT;
out:
    mdb_cursor_close(c);
    return rc == MDB_NOTFOUND ? -ENOENT : rc > 0 ? mdb_err(rc) : rc;
}

/* ---- dirty set ---- */

int metadb_dirty_put(metadb_txn *t, uint64_t id, uint64_t gen)
{
    uint8_t k[8], v[8];
    put_be64(k, id);
    put_be64(v, gen);
    return metadb_put(t, DBI_DIRTY, k, 8, v, 8);
}

int metadb_dirty_get(metadb_txn *t, uint64_t id, uint64_t *gen)
{
    uint8_t k[8];
    MDB_val v;
    int rc;

    put_be64(k, id);
    rc = metadb_get(t, DBI_DIRTY, k, 8, &v);
    if (rc == 0 && v.mv_size == 8)
        *gen = get_be64(v.mv_data);
    return rc;
}

int metadb_dirty_del(metadb_txn *t, uint64_t id)
{
    uint8_t k[8];
    put_be64(k, id);
    return metadb_del(t, DBI_DIRTY, k, 8);
}

static uint64_t dbi_entries(metadb_txn *t, int dbi)
{
    MDB_stat st;
    return mdb_stat(t->txn, t->db->dbi[dbi], &st) ? 0 : st.ms_entries;
}

uint64_t metadb_dirty_count(metadb_txn *t)
{
    return dbi_entries(t, DBI_DIRTY);
}

int metadb_dirty_list(metadb_txn *t, uint64_t after, uint64_t *ids, int max)
{
    uint8_t k[8];
    MDB_val key = { 8, k }, v;
    MDB_cursor *c = metadb_cursor(t, DBI_DIRTY);
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

/* ---- journal ---- */

uint64_t metadb_pending(metadb_txn *t, uint64_t id)
{
    uint8_t k[8];
    MDB_val v;

    put_be64(k, id);
    if (metadb_get(t, DBI_PENDING, k, 8, &v) || v.mv_size != 8)
        return 0;
    return get_be64(v.mv_data);
}

static int pending_add(metadb_txn *t, uint64_t id, int delta)
{
    uint8_t k[8], v[8];
    uint64_t n = metadb_pending(t, id) + (uint64_t)(int64_t)delta;

    put_be64(k, id);
    if (n == 0 || (int64_t)n < 0) {
        int rc = metadb_del(t, DBI_PENDING, k, 8);
        return rc == -ENOENT ? 0 : rc;
    }
    put_be64(v, n);
    return metadb_put(t, DBI_PENDING, k, 8, v, 8);
}

int metadb_journal_append(metadb_txn *t, uint64_t id, const char *op)
{
    MDB_cursor *c = metadb_cursor(t, DBI_JOURNAL);
    MDB_val key, v;
    uint64_t seq = 1;
    size_t len = strlen(op) + 1;
    uint8_t k[8];
    int rc;

    if (!c)
        return -EIO;
    if (mdb_cursor_get(c, &key, &v, MDB_LAST) == 0 && key.mv_size == 8)
        seq = get_be64(key.mv_data) + 1;
    mdb_cursor_close(c);
    put_be64(k, seq);
    key = (MDB_val){ 8, k };
    v = (MDB_val){ 8 + len, NULL };
    rc = mdb_err(mdb_put(t->txn, t->db->dbi[DBI_JOURNAL], &key, &v, MDB_RESERVE));
    if (rc)
        return rc;
    put_be64(v.mv_data, id);
    memcpy((char *)v.mv_data + 8, op, len);
    return pending_add(t, id, 1);
}

int metadb_journal_next(metadb_txn *t, uint64_t after, uint64_t *seq, uint64_t *id,
                        char **op)
{
    MDB_cursor *c = metadb_cursor(t, DBI_JOURNAL);
    uint8_t k[8];
    MDB_val key = { 8, k }, v;
    int rc;

    if (!c)
        return -EIO;
    put_be64(k, after + 1);
    rc = mdb_err(mdb_cursor_get(c, &key, &v, MDB_SET_RANGE));
    if (rc == 0 && (key.mv_size != 8 || v.mv_size < 9))
        rc = -EIO;
    if (rc == 0) {
        *seq = get_be64(key.mv_data);
        *id = get_be64(v.mv_data);
        *op = strndup((char *)v.mv_data + 8, v.mv_size - 8);
        if (!*op)
            rc = -ENOMEM;
    }
    mdb_cursor_close(c);
    return rc;
}

int metadb_journal_replace(metadb_txn *t, uint64_t seq, uint64_t id, const char *op)
{
    uint8_t k[8];
    size_t len = strlen(op) + 1;
    MDB_val key = { 8, k }, v = { 8 + len, NULL };
    int rc;

    put_be64(k, seq);
    rc = mdb_err(mdb_put(t->txn, t->db->dbi[DBI_JOURNAL], &key, &v, MDB_RESERVE));
    if (rc)
        return rc;
    put_be64(v.mv_data, id);
    memcpy((char *)v.mv_data + 8, op, len);
    return 0;
}

int metadb_journal_del(metadb_txn *t, uint64_t seq)
{
    uint8_t k[8];
    MDB_val v;
    uint64_t id;
    int rc;

    put_be64(k, seq);
    rc = metadb_get(t, DBI_JOURNAL, k, 8, &v);
    if (rc)
        return rc;
    id = v.mv_size >= 8 ? get_be64(v.mv_data) : 0;
    rc = metadb_del(t, DBI_JOURNAL, k, 8);
    return rc ? rc : pending_add(t, id, -1);
}

uint64_t metadb_journal_count(metadb_txn *t)
{
    return dbi_entries(t, DBI_JOURNAL);
}

/* ---- tombstones ---- */

int metadb_gone_put(metadb_txn *t, uint64_t id)
{
    uint8_t k[8];
    put_be64(k, id);
    return metadb_put(t, DBI_GONE, k, 8, "", 0);
}

int metadb_gone_has(metadb_txn *t, uint64_t id)
{
    uint8_t k[8];
    MDB_val v;
    put_be64(k, id);
    return metadb_get(t, DBI_GONE, k, 8, &v) == 0;
}

int metadb_gone_del(metadb_txn *t, uint64_t id)
{
    uint8_t k[8];
    int rc;

    put_be64(k, id);
    rc = metadb_del(t, DBI_GONE, k, 8);
    return rc == -ENOENT ? 0 : rc;
}
