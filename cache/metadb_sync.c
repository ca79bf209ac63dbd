/* metadb: what the sync engine keeps beside the local tree: the remote
 * mirror (dbxd's record of each node this device follows), tombstones on
 * both sides, and the nodes whose reconciliation waits for something. */
#include <string.h>

#include "metadb_int.h"

#define SCHEMA 2

/* ---- the remote mirror ---- */

int metadb_remote_get(metadb_txn *t, uint64_t id, struct cnode *n)
{
    return metadb_rec_get(t, DBI_REMOTE, id, n);
}

int metadb_remote_put(metadb_txn *t, const struct cnode *n)
{
    struct cnode r = *n;

    r.flags = 0;                  /* local state does not belong here */
    r.map_rev = 0;
    return metadb_rec_put(t, DBI_REMOTE, &r);
}

int metadb_remote_del(metadb_txn *t, uint64_t id)
{
    return metadb_idset_del(t, DBI_REMOTE, id);
}

/* ---- tombstones ---- */

int metadb_rgone_put(metadb_txn *t, uint64_t id, uint64_t seq)
{
    return metadb_idset_put(t, DBI_RGONE, id, seq);
}

uint64_t metadb_rgone_get(metadb_txn *t, uint64_t id)
{
    uint64_t seq = 0;
    return metadb_idset_get(t, DBI_RGONE, id, &seq) == 0 ? (seq ? seq : 1) : 0;
}

int metadb_rgone_del(metadb_txn *t, uint64_t id)
{
    return metadb_idset_del(t, DBI_RGONE, id);
}

int metadb_rgone_list(metadb_txn *t, uint64_t after, uint64_t *ids, int max)
{
    return metadb_idset_list(t, DBI_RGONE, after, ids, max);
}

int metadb_gone_put(metadb_txn *t, uint64_t id, uint64_t rev)
{
    return metadb_idset_put(t, DBI_GONE, id, rev);
}

int metadb_gone_get(metadb_txn *t, uint64_t id, uint64_t *rev)
{
    return metadb_idset_get(t, DBI_GONE, id, rev);
}

int metadb_gone_del(metadb_txn *t, uint64_t id)
{
    return metadb_idset_del(t, DBI_GONE, id);
}

/* ---- the resync set ---- */

int metadb_resync_put(metadb_txn *t, uint64_t id)
{
    return metadb_idset_put(t, DBI_RESYNC, id, 0);
}

int metadb_resync_del(metadb_txn *t, uint64_t id)
{
    return metadb_idset_del(t, DBI_RESYNC, id);
}

int metadb_resync_list(metadb_txn *t, uint64_t after, uint64_t *ids, int max)
{
    return metadb_idset_list(t, DBI_RESYNC, after, ids, max);
}

uint64_t metadb_resync_count(metadb_txn *t)
{
    return metadb_count(t, DBI_RESYNC);
}

/* ---- upgrade ---- */

/* A node of a store from before the mirror: its record is the best known
 * view of dbxd's (the feed corrects it), and a listed directory has had
 * its children's events applied. */
static int seed_node(void *arg, const struct cnode *n)
{
    metadb_txn *t = arg;
    struct cnode copy = *n;
    int rc;

    if (n->rev && !(n->flags & CN_LOCAL) && (rc = metadb_remote_put(t, n)))
        return rc;
    if (!(n->flags & CN_LISTED) || (n->flags & CN_TRACKED))
        return 0;
    copy.flags |= CN_TRACKED;
    return metadb_node_put(t, &copy);
}

int metadb_upgrade(metadb_txn *t)
{
    uint64_t schema = 0;
    int rc = metadb_kv_get(t, "schema", &schema);

    if (rc && rc != -ENOENT)
        return rc;
    if (schema >= SCHEMA)
        return 0;
    if ((rc = metadb_journal_upgrade(t)))
        return rc;
    if ((rc = metadb_node_each(t, seed_node, t)))
        return rc;
    return metadb_kv_put(t, "schema", SCHEMA);
}
