/* tree: see tree.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "names.h"
#include "node.h"
#include "ofile.h"
#include "oplog.h"
#include "staging.h"
#include "shared.h"
#include "tree.h"

int tree_get(struct dbxfs *fs, uint64_t id, struct cnode *n)
{
    metadb_txn *t;
    int rc = metadb_begin(fs->db, 0, &t);

    if (rc)
        return rc;
    rc = metadb_node_get(t, id, n);
    metadb_abort(t);
    if (rc)
        return rc;
    if (n->type == NODE_FILE)
        ofile_attr(fs->files, id, &n->size, &n->mtime);
    return 0;
}

int tree_check_name(const char *name)
{
    if (strlen(name) > 255)
        return -ENAMETOOLONG;
    /* The server stores names as UTF-8 text; refuse here what it would
     * refuse later, when no caller is left to tell. */
    return name_check(name, strlen(name)) ? -EILSEQ : 0;
}

int tree_lookup(struct dbxfs *fs, uint64_t parent, const char *name,
                struct cnode *n)
{
    metadb_txn *t;
    uint64_t child;
    int rc;

    if (strlen(name) > 255)
        return -ENAMETOOLONG;
    rc = metadb_begin(fs->db, 0, &t);
    if (rc)
        return rc;
    rc = metadb_dirent_get(t, parent, name, &child);
    metadb_abort(t);
    return rc ? rc : tree_get(fs, child, n);
}

int tree_children(struct dbxfs *fs, uint64_t dir,
                  metadb_dirent_fn fn, void *arg)
{
    metadb_txn *t;
    int rc = metadb_begin(fs->db, 0, &t);

    if (rc)
        return rc;
    rc = metadb_dirent_each(t, dir, NULL, fn, arg);
    metadb_abort(t);
    return rc;
}

int tree_sync(struct dbxfs *fs)
{
    return metadb_sync(fs->db);
}

int tree_is_within(metadb_txn *t, uint64_t dir, uint64_t id)
{
    struct cnode n;

    for (int depth = 0; dir && depth < 4096; depth++) {
        if (dir == id)
            return 1;
        if (metadb_node_get(t, dir, &n))
            return 0;
        dir = n.parent;
    }
    return 0;
}

/* The parent must be a directory the store holds. */
int tree_get_dir(metadb_txn *t, uint64_t id, struct cnode *dir)
{
    int rc = metadb_node_get(t, id, dir);
    if (rc)
        return rc;
    return dir->type != NODE_DIR ? -ENOTDIR : 0;
}

int tree_touch_dir(metadb_txn *t, struct cnode *dir)
{
    dir->mtime = dir->ctime = node_now();
    return metadb_node_put(t, dir);
}

struct create_arg {
    struct cnode *n;
    uint64_t dirty_gen;          /* non-zero: dirty at once (created for writing) */
};

static int do_create(struct dbxfs *fs, metadb_txn *t, void *arg)
{
    struct create_arg *a = arg;
    struct cnode *n = a->n, dir;
    uint64_t existing;
    int rc = tree_get_dir(t, n->parent, &dir);

    if (rc)
        return rc;
    rc = shared_may_write(&dir);
    if (rc)
        return rc;
    if (metadb_dirent_get(t, n->parent, n->name, &existing) == 0)
        return -EEXIST;
    n->flags |= dir.flags & CN_SHARED;
    if (a->dirty_gen) {
        n->flags |= CN_DIRTY;
        rc = metadb_dirty_put(t, n->id, a->dirty_gen);
        if (rc)
            return rc;
    }
    rc = metadb_node_put(t, n);
    if (rc)
        return rc;
    rc = metadb_dirent_put(t, n->parent, n->name, n->id);
    if (rc)
        return rc;
    rc = oplog_create(t, n);
    return rc ? rc : tree_touch_dir(t, &dir);
}

int tree_create(struct dbxfs *fs, uint64_t parent, const char *name,
                uint32_t type, mode_t mode, uid_t uid, gid_t gid,
                const char *target, uint64_t dirty_gen, struct cnode *out)
{
    struct create_arg a = { out, dirty_gen };
    int rc = tree_check_name(name);

    if (rc)
        return rc;
    if (target && strlen(target) > WIRE_TARGET_MAX)
        return -ENAMETOOLONG;
    memset(out, 0, sizeof(*out));
    out->id = node_new_id();
    out->parent = parent;
    out->type = type;
    out->mode = mode & 07777;
    out->uid = uid;
    out->gid = gid;
    out->atime = out->mtime = out->ctime = node_now();
    /* A new directory has no children anywhere; a new file's content is its
     * (empty, or not yet created) staging file. */
    out->flags = CN_LOCAL | (type == NODE_DIR ? CN_LISTED | CN_TRACKED : 0) |
                 (type == NODE_FILE ? CN_COPY : 0);
    snprintf(out->name, sizeof(out->name), "%s", name);
    if (target)
        snprintf(out->target, sizeof(out->target), "%s", target);
    rc = fs_write(fs, do_create, &a);
    if (rc)
        return rc;
    fs_changed(fs);
    return 0;
}

int tree_move_local(metadb_txn *t, struct cnode *n, uint64_t parent, const char *name)
{
    uint64_t holder;
    int rc = 0;

    if (metadb_dirent_get(t, n->parent, n->name, &holder) == 0 && holder == n->id)
        rc = metadb_dirent_del(t, n->parent, n->name);
    n->parent = parent;
    snprintf(n->name, sizeof(n->name), "%s", name);
    if (rc)
        return rc;
    rc = metadb_node_put(t, n);
    return rc ? rc : metadb_dirent_put(t, parent, name, n->id);
}

int tree_recreate(metadb_txn *t, struct cnode *n)
{
    int rc;

    log_info("\"%s\" is gone on dbxd but holds work of this device: creating it again",
             n->name);
    n->flags |= CN_LOCAL;
    n->rev = n->content_rev = 0;
    rc = metadb_node_put(t, n);
    return rc ? rc : oplog_create_first(t, n);
}

int tree_drop_node(struct dbxfs *fs, metadb_txn *t, const struct cnode *n)
{
    int rc = metadb_node_del(t, n->id);

    if (rc && rc != -ENOENT)
        return rc;
    rc = metadb_map_clear(t, n->id);
    if (rc)
        return rc;
    rc = metadb_xattr_del_all(t, n->id);
    if (rc)
        return rc;
    if (metadb_dirty_del(t, n->id) == -EIO)
        return -EIO;
    if (n->type == NODE_FILE)
        staging_remove(fs->cache_dir, n->id);
    return 0;
}

/* Takes n out of the tree (its dirent is already gone): dropped now, or at
 * its last close when it is open. */
int tree_unlink_node(struct dbxfs *fs, metadb_txn *t, struct cnode *n)
{
    if (n->type == NODE_FILE && ofile_is_open(fs->files, n->id)) {
        int rc = metadb_dirty_del(t, n->id);
        n->flags |= CN_ORPHAN;
        n->ctime = node_now();
        return rc && rc != -ENOENT ? rc : metadb_node_put(t, n);
    }
    return tree_drop_node(fs, t, n);
}

int tree_journal_delete(struct dbxfs *fs, metadb_txn *t, const struct cnode *n)
{
    int rc = 0;

    /* Made here and not sent yet: dbxd need never hear of it. */
    if (n->flags & CN_LOCAL)
        rc = oplog_drop_node(t, n->id, atomic_load(&fs->sending_lo),
                             atomic_load(&fs->sending_hi));
    if (rc)
        return rc < 0 ? rc : 0;
    rc = oplog_delete(t, n);
    /* Until the mirror shows the delete, older news of the node (even of
     * its create, still queued) must not bring it back here. */
    return rc ? rc : metadb_gone_put(t, n->id, 0);
}

struct remove_arg {
    uint64_t parent;
    const char *name;
    int dir;
};

static int do_remove(struct dbxfs *fs, metadb_txn *t, void *arg)
{
    struct remove_arg *a = arg;
    struct cnode n, dir;
    uint64_t id;
    int rc = tree_get_dir(t, a->parent, &dir);

    if (rc)
        return rc;
    rc = metadb_dirent_get(t, a->parent, a->name, &id);
    if (rc)
        return rc;
    rc = metadb_node_get(t, id, &n);
    if (rc)
        return rc;
    rc = shared_may_write(&dir);
    if (rc)
        return rc;
    rc = shared_may_write(&n);       /* the virtual directory itself */
    if (rc)
        return rc;
    if (a->dir && n.type != NODE_DIR)
        return -ENOTDIR;
    if (!a->dir && n.type == NODE_DIR)
        return -EISDIR;
    if (a->dir && metadb_dir_is_empty(t, id) != 1)
        return -ENOTEMPTY;
    rc = metadb_dirent_del(t, a->parent, a->name);
    if (rc)
        return rc;
    rc = tree_journal_delete(fs, t, &n);
    if (rc)
        return rc;
    rc = tree_unlink_node(fs, t, &n);
    return rc ? rc : tree_touch_dir(t, &dir);
}

int tree_remove(struct dbxfs *fs, uint64_t parent, const char *name, int dir)
{
    struct remove_arg a = { parent, name, dir };
    int rc;

    if (strlen(name) > 255)
        return -ENAMETOOLONG;
    rc = fs_write(fs, do_remove, &a);
    if (rc)
        return rc;
    fs_changed(fs);
    return 0;
}
