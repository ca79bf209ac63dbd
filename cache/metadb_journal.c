/* metadb: the journal of operations to push, in sequence order, with two
 * indexes kept in the same transactions: per-node pending counts, and the
 * sequence numbers of each node's operations (jnode: id + seq), so that a
 * node's operations can be found without reading the whole journal.
 *
 * An entry is [node id][second node id or 0][operation text]: an operation
 * may name a second node it changes (a rename's replaced target), which
 * then counts as pending and is indexed too.
 *
 * Appends number from JOURNAL_BASE up, so that an operation that must go
 * before everything queued (the re-creation of a directory dbxd lost) can
 * take a number below the first. */
#include <stdlib.h>
#include <string.h>

#include "metadb_int.h"

#define JOURNAL_BASE ((uint64_t)1 << 40)

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

static void jnode_key(uint8_t k[16], uint64_t id, uint64_t seq)
{
    put_be64(k, id);
    put_be64(k + 8, seq);
}

#define ENTRY_HEAD 16

/* Writes the entry at seq (new or replaced). */
static int entry_put(metadb_txn *t, uint64_t seq, uint64_t id, uint64_t also, const char *op)
{
    uint8_t k[8];
    size_t len = strlen(op) + 1;
    MDB_val key = { 8, k }, v = { ENTRY_HEAD + len, NULL };
    int rc;

    put_be64(k, seq);
    rc = lmdb_err(mdb_put(t->txn, t->db->dbi[DBI_JOURNAL], &key, &v, MDB_RESERVE));
    if (rc)
        return rc;
    put_be64(v.mv_data, id);
    put_be64((uint8_t *)v.mv_data + 8, also);
    memcpy((char *)v.mv_data + ENTRY_HEAD, op, len);
    return 0;
}

/* The entry at seq's node ids (also: 0 when it names one). */
static int entry_ids(metadb_txn *t, uint64_t seq, uint64_t *id, uint64_t *also)
{
    uint8_t k[8];
    MDB_val v;
    int rc;

    put_be64(k, seq);
    if ((rc = metadb_get(t, DBI_JOURNAL, k, 8, &v)))
        return rc;
    if (v.mv_size < ENTRY_HEAD)
        return -EIO;
    *id = get_be64(v.mv_data);
    *also = get_be64((const uint8_t *)v.mv_data + 8);
    return 0;
}

static int index_add(metadb_txn *t, uint64_t id, uint64_t seq)
{
    uint8_t jk[16];
    int rc;

    jnode_key(jk, id, seq);
    rc = metadb_put(t, DBI_JNODE, jk, 16, "", 0);
    return rc ? rc : pending_add(t, id, 1);
}

static int index_del(metadb_txn *t, uint64_t id, uint64_t seq)
{
    uint8_t jk[16];
    int rc;

    jnode_key(jk, id, seq);
    if ((rc = metadb_del(t, DBI_JNODE, jk, 16)) == -ENOENT)
        rc = 0;
    return rc ? rc : pending_add(t, id, -1);
}

static int entry_add(metadb_txn *t, uint64_t seq, uint64_t id, uint64_t also, const char *op)
{
    int rc = entry_put(t, seq, id, also, op);

    if (rc)
        return rc;
    if ((rc = index_add(t, id, seq)))
        return rc;
    return also && also != id ? index_add(t, also, seq) : 0;
}

/* The first (MDB_FIRST) or last (MDB_LAST) sequence number in *seq, 0 for
 * an empty journal. An error must not pass for "empty": the next entry
 * would then overwrite the one at JOURNAL_BASE. */
static int edge_seq(metadb_txn *t, MDB_cursor_op which, uint64_t *seq)
{
    MDB_cursor *c;
    MDB_val key, v;
    int rc = metadb_cursor(t, DBI_JOURNAL, &c);

    if (rc)
        return rc;
    *seq = 0;
    rc = lmdb_err(mdb_cursor_get(c, &key, &v, which));
    if (rc == 0 && key.mv_size == 8)
        *seq = get_be64(key.mv_data);
    mdb_cursor_close(c);
    return rc == -ENOENT ? 0 : rc;
}

int metadb_journal_append(metadb_txn *t, uint64_t id, uint64_t also, const char *op)
{
    uint64_t last;
    int rc = edge_seq(t, MDB_LAST, &last);

    return rc ? rc : entry_add(t, last ? last + 1 : JOURNAL_BASE, id, also, op);
}

int metadb_journal_prepend(metadb_txn *t, uint64_t id, uint64_t also, const char *op)
{
    uint64_t first;
    int rc = edge_seq(t, MDB_FIRST, &first);

    if (rc)
        return rc;
    if (first == 1)
        return -ERANGE;           /* a journal of an older dbxfs, numbered from 1 */
    return entry_add(t, first ? first - 1 : JOURNAL_BASE, id, also, op);
}

/* The entry after `after`, whose node id and text follow a head of `head`
 * bytes (ENTRY_HEAD; 8 in the form of an older store). */
static int entry_next(metadb_txn *t, uint64_t after, size_t head, uint64_t *seq,
                      uint64_t *id, char **op)
{
    uint8_t k[8];
    MDB_val key = { 8, k }, v;
    MDB_cursor *c;
    int rc = metadb_cursor(t, DBI_JOURNAL, &c);

    if (rc)
        return rc;
    put_be64(k, after + 1);
    if ((rc = lmdb_err(mdb_cursor_get(c, &key, &v, MDB_SET_RANGE))))
        goto out;
    if (key.mv_size != 8 || v.mv_size <= head) {
        rc = -EIO;
        goto out;
    }
    *seq = get_be64(key.mv_data);
    *id = get_be64(v.mv_data);
    *op = strndup((char *)v.mv_data + head, v.mv_size - head);
    rc = *op ? 0 : -ENOMEM;
out:
    mdb_cursor_close(c);
    return rc;
}

int metadb_journal_next(metadb_txn *t, uint64_t after, uint64_t *seq, uint64_t *id,
                        char **op)
{
    return entry_next(t, after, ENTRY_HEAD, seq, id, op);
}

int metadb_journal_get(metadb_txn *t, uint64_t seq, uint64_t *id, char **op)
{
    uint64_t found;
    int rc = metadb_journal_next(t, seq - 1, &found, id, op);

    if (rc)
        return rc;
    if (found != seq) {
        free(*op);
        *op = NULL;
        return -ENOENT;
    }
    return 0;
}

int metadb_journal_replace(metadb_txn *t, uint64_t seq, const char *op)
{
    uint64_t id, also;
    int rc = entry_ids(t, seq, &id, &also);

    return rc ? rc : entry_put(t, seq, id, also, op);
}

int metadb_journal_del(metadb_txn *t, uint64_t seq)
{
    uint8_t k[8];
    uint64_t id, also;
    int rc = entry_ids(t, seq, &id, &also);

    if (rc)
        return rc;
    put_be64(k, seq);
    if ((rc = metadb_del(t, DBI_JOURNAL, k, 8)))
        return rc;
    if ((rc = index_del(t, id, seq)))
        return rc;
    return also && also != id ? index_del(t, also, seq) : 0;
}

uint64_t metadb_journal_count(metadb_txn *t)
{
    return metadb_count(t, DBI_JOURNAL);
}

int metadb_journal_of(metadb_txn *t, uint64_t id, uint64_t *seqs, int max)
{
    uint8_t k[16];
    MDB_val key = { 16, k }, v;
    MDB_cursor *c;
    int n = 0, rc = metadb_cursor(t, DBI_JNODE, &c);

    if (rc)
        return rc;
    jnode_key(k, id, 0);
    for (rc = mdb_cursor_get(c, &key, &v, MDB_SET_RANGE); rc == 0 && n < max;
         rc = mdb_cursor_get(c, &key, &v, MDB_NEXT)) {
        if (key.mv_size != 16 || get_be64(key.mv_data) != id)
            break;
        seqs[n++] = get_be64((const uint8_t *)key.mv_data + 8);
    }
    mdb_cursor_close(c);
    return n;
}

/* Rewrites an older store's entry in this form and indexes it. Its node's
 * pending count is not added to: that store kept counts already. */
static int entry_upgrade(metadb_txn *t, uint64_t seq, uint64_t id, const char *op)
{
    uint8_t jk[16];
    int rc = entry_put(t, seq, id, 0, op);

    if (rc)
        return rc;
    jnode_key(jk, id, seq);
    return metadb_put(t, DBI_JNODE, jk, 16, "", 0);
}

/* An older store's entries are [node id][operation text], unindexed:
 * rewritten in this form, indexed, once. */
int metadb_journal_upgrade(metadb_txn *t)
{
    uint64_t seq = 0, id;
    char *op;
    int rc;

    while ((rc = entry_next(t, seq, 8, &seq, &id, &op)) == 0) {
        rc = entry_upgrade(t, seq, id, op);
        free(op);
        if (rc)
            return rc;
    }
    return rc == -ENOENT ? 0 : rc;
}
