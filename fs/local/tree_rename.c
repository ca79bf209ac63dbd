/* tree: rename(2) with RENAME_NOREPLACE and RENAME_EXCHANGE, locally, and
 * the PATCHes that replay it (dbxd has no exchange: three moves through a
 * temporary name do it, in order). */
#include <errno.h>
#include <linux/fs.h>
#include <stdio.h>
#include <string.h>

#include "node.h"
#include "oplog.h"
#include "shared.h"
#include "tree.h"

struct rename_arg {
    uint64_t parent, newparent;
    const char *name, *newname;
    unsigned flags;
};

/* Re-links n as (parent, name) and journals the move (replacing victim,
 * or nothing). */
static int move_node(metadb_txn *t, struct cnode *n, uint64_t parent,
                     const char *name, const struct cnode *victim)
{
    int rc = metadb_dirent_del(t, n->parent, n->name);

    if (rc && rc != -ENOENT)
        return rc;
    n->parent = parent;
    snprintf(n->name, sizeof(n->name), "%s", name);
    n->ctime = node_now();
    rc = metadb_node_put(t, n);
    if (rc)
        return rc;
    rc = metadb_dirent_put(t, parent, name, n->id);
    return rc ? rc : oplog_move(t, n, victim);
}

static int do_exchange(metadb_txn *t, struct cnode *a, struct cnode *b)
{
    uint64_t pa = a->parent, pb = b->parent;
    char na[256], nb[256], tmp[64];
    int rc;

    if ((a->type == NODE_DIR && tree_is_within(t, pb, a->id)) ||
        (b->type == NODE_DIR && tree_is_within(t, pa, b->id)))
        return -EINVAL;
    snprintf(na, sizeof(na), "%s", a->name);
    snprintf(nb, sizeof(nb), "%s", b->name);
    snprintf(tmp, sizeof(tmp), ".dbxfs-exchange-%016llx", (unsigned long long)a->id);
    rc = move_node(t, a, pa, tmp, NULL);
    if (rc)
        return rc;
    rc = move_node(t, b, pa, na, NULL);
    return rc ? rc : move_node(t, a, pb, nb, NULL);
}

/* The target exists: rename(2)'s rules for replacing it. */
static int replace_target(struct dbxfs *fs, metadb_txn *t, const struct cnode *src,
                          struct cnode *dst)
{
    if (src->type == NODE_DIR && dst->type != NODE_DIR)
        return -ENOTDIR;
    if (src->type != NODE_DIR && dst->type == NODE_DIR)
        return -EISDIR;
    if (dst->type == NODE_DIR && metadb_dir_is_empty(t, dst->id) != 1)
        return -ENOTEMPTY;
    int rc = metadb_dirent_del(t, dst->parent, dst->name);
    if (rc)
        return rc;
    /* dbxd deletes the target itself when the move says "replace", if it
     * has it: one it never got has its queued operations dropped, or
     * deleted on their own when they may be under way. */
    if (dst->flags & CN_LOCAL)
        rc = tree_journal_delete(fs, t, dst);
    else
        rc = metadb_gone_put(t, dst->id, 0);
    return rc ? rc : tree_unlink_node(fs, t, dst);
}

static int do_rename(struct dbxfs *fs, metadb_txn *t, void *arg)
{
    struct rename_arg *a = arg;
    struct cnode src, dst, dir;
    uint64_t sid, did;
    int have_dst, rc;

    rc = tree_get_dir(t, a->parent, &dir);
    if (rc)
        return rc;
    rc = tree_get_dir(t, a->newparent, &dir);
    if (rc)
        return rc;
    rc = metadb_dirent_get(t, a->parent, a->name, &sid);
    if (rc)
        return rc;
    rc = metadb_node_get(t, sid, &src);
    if (rc)
        return rc;
    have_dst = metadb_dirent_get(t, a->newparent, a->newname, &did) == 0 &&
               metadb_node_get(t, did, &dst) == 0;
    if (sid == SHARED_ID || (have_dst && did == SHARED_ID))
        return -EACCES;
    if (have_dst && did == sid)
        return 0;
    if (have_dst && (a->flags & RENAME_NOREPLACE))
        return -EEXIST;
    if (a->flags & RENAME_EXCHANGE)
        return have_dst ? do_exchange(t, &src, &dst) : -ENOENT;
    if (src.type == NODE_DIR && tree_is_within(t, a->newparent, sid))
        return -EINVAL;
    if (have_dst && (rc = replace_target(fs, t, &src, &dst)))
        return rc;
    return move_node(t, &src, a->newparent, a->newname,
                     have_dst && !(dst.flags & CN_LOCAL) ? &dst : NULL);
}

static int touch_parents(struct dbxfs *fs, metadb_txn *t, void *arg)
{
    struct rename_arg *a = arg;
    struct cnode dir;
    int rc;

    if (tree_get_dir(t, a->parent, &dir) == 0 && (rc = tree_touch_dir(t, &dir)))
        return rc;
    if (a->newparent != a->parent && tree_get_dir(t, a->newparent, &dir) == 0)
        return tree_touch_dir(t, &dir);
    return 0;
}

static int do_rename_touch(struct dbxfs *fs, metadb_txn *t, void *arg)
{
    int rc = do_rename(fs, t, arg);
    return rc ? rc : touch_parents(fs, t, arg);
}

int tree_rename(struct dbxfs *fs, uint64_t parent, const char *name,
                uint64_t newparent, const char *newname, unsigned flags)
{
    struct rename_arg a = { parent, newparent, name, newname, flags };
    int rc;

    if (flags & ~(unsigned)(RENAME_NOREPLACE | RENAME_EXCHANGE))
        return -EINVAL;
    rc = tree_check_name(newname);
    if (rc)
        return rc;
    rc = shared_check_move(fs, parent, newparent);
    if (rc)
        return rc;
    rc = fs_write(fs, do_rename_touch, &a);
    if (rc)
        return rc;
    fs_changed(fs);
    return 0;
}
