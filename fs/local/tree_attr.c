/* tree: attribute and content-state changes of one node. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "idlist.h"
#include "log.h"
#include "node.h"
#include "ofile.h"
#include "oplog.h"
#include "staging.h"
#include "shared.h"
#include "tree.h"

struct attr_arg {
    uint64_t id;
    const struct stat *attr;
    int to_set;
    struct cnode *out;
};

static struct wire_time attr_time(const struct timespec *ts, int now)
{
    return now ? node_now() : (struct wire_time){ ts->tv_sec, (uint32_t)ts->tv_nsec };
}

static int do_setattr(struct dbxfs *fs, metadb_txn *t, void *arg)
{
    struct attr_arg *a = arg;
    struct cnode *n = a->out;
    unsigned mask = 0;
    int rc = metadb_node_get(t, a->id, n);

    if (rc)
        return rc;
    rc = shared_may_write(n);
    if (rc)
        return rc;
    if (a->to_set & FUSE_SET_ATTR_MODE) {
        n->mode = a->attr->st_mode & 07777;
        mask |= OPLOG_MODE;
    }
    if (a->to_set & FUSE_SET_ATTR_UID) {
        n->uid = a->attr->st_uid;
        mask |= OPLOG_OWNER;
    }
    if (a->to_set & FUSE_SET_ATTR_GID) {
        n->gid = a->attr->st_gid;
        mask |= OPLOG_OWNER;
    }
    if (a->to_set & FUSE_SET_ATTR_ATIME) {
        n->atime = attr_time(&a->attr->st_atim, a->to_set & FUSE_SET_ATTR_ATIME_NOW);
        mask |= OPLOG_ATIME;
    }
    if (a->to_set & FUSE_SET_ATTR_MTIME) {
        n->mtime = attr_time(&a->attr->st_mtim, a->to_set & FUSE_SET_ATTR_MTIME_NOW);
        mask |= OPLOG_MTIME;
        ofile_set_mtime(fs->files, n->id, n->mtime);
    }
    n->ctime = node_now();
    rc = metadb_node_put(t, n);
    if (rc)
        return rc;
    return mask ? oplog_patch(t, n, mask) : 0;
}

int tree_setattr(struct dbxfs *fs, uint64_t id, const struct stat *attr,
                 int to_set, struct cnode *out)
{
    struct attr_arg a = { id, attr, to_set, out };
    int rc = fs_write(fs, do_setattr, &a);

    if (rc)
        return rc;
    fs_changed(fs);
    if (out->type == NODE_FILE)
        ofile_attr(fs->files, id, &out->size, &out->mtime);
    return 0;
}

struct content_arg {
    uint64_t id, size, gen, rev;
    struct wire_time mtime;
    int mark_only;               /* writes begin: size and mtime come later */
};

static int do_content(struct dbxfs *fs, metadb_txn *t, void *arg)
{
    struct content_arg *a = arg;
    struct cnode n;
    uint64_t gen = a->gen, newer;
    int rc = metadb_node_get(t, a->id, &n);
    struct wire_time was;

    if (rc)
        return rc;
    was = n.mtime;
    if (!a->mark_only) {
        n.size = a->size;
        n.mtime = a->mtime;
        /* What the open file holds now: a utimens or truncate that came
         * after the caller's snapshot (close() does not wait for the
         * release that records it) has its own transaction, and this one
         * must not put the older values back over it. */
        ofile_attr(fs->files, a->id, &n.size, &n.mtime);
        n.ctime = node_now();
    }
    n.flags |= CN_DIRTY | CN_COPY;
    rc = metadb_node_put(t, &n);
    if (rc)
        return rc;
    /* A writer that began after this release has marked a newer generation:
     * the upload must not clear its mark. */
    if (metadb_dirty_get(t, a->id, &newer) == 0 && newer > gen)
        gen = newer;
    else if (!a->mark_only && n.size == 0 && (n.flags & CN_LOCAL)) {
        /* Created here and left empty: its create makes it so on the
         * server (no upload can be under way before that); a new mtime
         * follows it. */
        n.flags &= ~CN_DIRTY;
        rc = metadb_node_put(t, &n);
        if (rc)
            return rc;
        if ((was.sec != n.mtime.sec || was.nsec != n.mtime.nsec) &&
            (rc = oplog_patch(t, &n, OPLOG_MTIME)))
            return rc;
        return metadb_dirty_del(t, a->id) == -EIO ? -EIO : 0;
    }
    return (n.flags & CN_ORPHAN) ? 0 : metadb_dirty_put(t, a->id, gen);
}

int tree_mark_dirty(struct dbxfs *fs, uint64_t id, uint64_t gen)
{
    struct content_arg a = { .id = id, .gen = gen, .mark_only = 1 };
    return fs_write(fs, do_content, &a);
}

int tree_content_changed(struct dbxfs *fs, uint64_t id, uint64_t size,
                         struct wire_time mtime, uint64_t gen)
{
    struct content_arg a = { .id = id, .size = size, .gen = gen, .mtime = mtime };
    int rc = fs_write(fs, do_content, &a);

    if (rc)
        return rc;
    fs_changed(fs);
    return 0;
}

static int do_set_copy(struct dbxfs *fs, metadb_txn *t, void *arg)
{
    struct content_arg *a = arg;
    struct cnode n;
    int rc = metadb_node_get(t, a->id, &n);

    if (rc)
        return rc;
    /* The content moved on while the copy was built: it is stale. */
    if (n.content_rev != a->rev)
        return -EAGAIN;
    n.flags |= CN_COPY;
    a->size = n.size;
    return metadb_node_put(t, &n);
}

int tree_set_copy(struct dbxfs *fs, uint64_t id, uint64_t content_rev)
{
    struct content_arg a = { .id = id, .rev = content_rev };
    int rc = fs_write(fs, do_set_copy, &a);

    if (rc)
        return rc;
    fs_copy_grew(fs, a.size);
    return 0;
}

static int do_closed(struct dbxfs *fs, metadb_txn *t, void *arg)
{
    struct cnode n;
    int rc = metadb_node_get(t, *(uint64_t *)arg, &n);

    if (rc == -ENOENT)
        return 0;
    if (rc)
        return rc;
    return (n.flags & CN_ORPHAN) ? tree_drop_node(fs, t, &n) : 0;
}

int tree_closed(struct dbxfs *fs, uint64_t id)
{
    struct cnode n;

    /* Most closes have nothing to drop: no write transaction for them. */
    if (tree_get(fs, id, &n) || !(n.flags & CN_ORPHAN))
        return 0;
    return fs_write(fs, do_closed, &id);
}

static int collect_orphan(void *arg, const struct cnode *n)
{
    return (n->flags & CN_ORPHAN) ? idlist_push(arg, n->id) : 0;
}

static int do_drop_orphans(struct dbxfs *fs, metadb_txn *t, void *arg)
{
    struct idlist o = { 0 };
    struct cnode n;
    int rc = metadb_node_each(t, collect_orphan, &o);

    if (rc)
        goto out;
    for (size_t i = 0; i < o.n; i++)
        if (metadb_node_get(t, o.ids[i], &n) == 0 &&
            (rc = tree_drop_node(fs, t, &n)))
            goto out;
out:
    idlist_free(&o);
    return rc;
}

/* A crash can stop a write between its dirty mark and its release: the
 * staging file then holds the truth, and its size and mtime go into the
 * record.
 * Write generations restart past every one still marked: a write after
 * the remount must not share a generation with the upload already due,
 * or that upload's commit would clear the newer write's mark. */
static int recover_dirty(struct dbxfs *fs, metadb_txn *t, uint64_t id)
{
    char path[STAGING_PATH_MAX];
    struct cnode n;
    struct stat st;
    uint64_t gen;
    int rc = metadb_node_get(t, id, &n);

    if (rc == -ENOENT)
        return metadb_dirty_del(t, id);
    if (metadb_dirty_get(t, id, &gen) == 0 && gen > atomic_load(&fs->write_gen))
        atomic_store(&fs->write_gen, gen);
    staging_path(fs->cache_dir, id, path);
    if (rc || stat(path, &st) != 0 || (uint64_t)st.st_size == n.size)
        return rc;
    /* Writes whose release never came (close() does not wait for it): the
     * copy's size and mtime are theirs. */
    log_warn("\"%s\": size %llu and mtime from its local copy, written before a crash",
             n.name, (unsigned long long)st.st_size);
    n.size = (uint64_t)st.st_size;
    n.mtime = (struct wire_time){ st.st_mtim.tv_sec, (uint32_t)st.st_mtim.tv_nsec };
    return metadb_node_put(t, &n);
}

static int do_recover(struct dbxfs *fs, metadb_txn *t, void *arg)
{
    uint64_t ids[64], after = 0;
    int count, rc = do_drop_orphans(fs, t, arg);

    if (rc)
        return rc;
    do {
        count = metadb_dirty_list(t, after, ids, 64);
        for (int i = 0; i < count; i++)
            if ((rc = recover_dirty(fs, t, ids[i])))
                return rc;
        if (count > 0)
            after = ids[count - 1];
    } while (count == 64);
    return count < 0 ? count : 0;
}

int tree_recover(struct dbxfs *fs)
{
    return fs_write(fs, do_recover, NULL);
}
