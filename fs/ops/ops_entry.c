/* ops_entry: FUSE handlers for names and attributes: lookup, getattr,
 * setattr, mkdir, mknod, symlink, readlink, unlink, rmdir, rename, link,
 * statfs. Each turns the request into local/tree.h calls, after listing
 * the directories involved from dbxd if this device never has
 * (sync/dirlist.h), and their -errno into the reply. */
#include <errno.h>
#include <string.h>
#include <sys/statvfs.h>

#include "dirlist.h"
#include "file.h"
#include "node.h"
#include "ops.h"
#include "tree.h"

/* The node named name in parent, parent listed first. */
static int lookup_listed(struct dbxfs *fs, uint64_t parent, const char *name,
                         struct cnode *n)
{
    int rc = dirlist_ensure(fs, parent);

    return rc ? rc : tree_lookup(fs, parent, name, n);
}

/* rmdir, and a rename over a directory, must know that the directory is
 * empty on dbxd too: its children are listed before the change. */
static int list_if_dir(struct dbxfs *fs, uint64_t parent, const char *name)
{
    struct cnode n;

    if (lookup_listed(fs, parent, name, &n) != 0 || n.type != NODE_DIR)
        return 0;   /* nothing to list: the tree answers for the name */
    return dirlist_ensure(fs, n.id);
}

static void reply_entry(fuse_req_t req, int rc, const struct cnode *n)
{
    struct fuse_entry_param e;

    if (rc)
        fuse_reply_err(req, -rc);
    else {
        node_to_entry(ops_fs(req), n, &e);
        fuse_reply_entry(req, &e);
    }
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
    struct dbxfs *fs = ops_fs(req);
    struct fuse_entry_param e;
    struct cnode n;
    int rc = lookup_listed(fs, fs_id(fs, parent), name, &n);

    if (rc == -ENOENT) {
        /* A negative entry the kernel may cache: the sync thread
         * invalidates it when the name appears. */
        memset(&e, 0, sizeof(e));
        e.entry_timeout = fs->opts->entry_timeout;
        fuse_reply_entry(req, &e);
    } else {
        reply_entry(req, rc, &n);
    }
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    struct dbxfs *fs = ops_fs(req);
    struct cnode n;
    struct stat st;
    int rc = tree_get(fs, fs_id(fs, ino), &n);

    if (rc)
        fuse_reply_err(req, -rc);
    else {
        node_to_stat(fs, &n, &st);
        fuse_reply_attr(req, &st, fs->opts->attr_timeout);
    }
}

/* setattr's changes to id, the size first; n is the node after them. */
static int set_attr(struct dbxfs *fs, uint64_t id, const struct stat *attr,
                    int to_set, struct fuse_file_info *fi, struct cnode *n)
{
    int rc;

    if ((to_set & FUSE_SET_ATTR_SIZE) &&
        (rc = file_truncate(fs, id, (uint64_t)attr->st_size, fi)))
        return rc;
    if (to_set & ~FUSE_SET_ATTR_SIZE)
        return tree_setattr(fs, id, attr, to_set & ~FUSE_SET_ATTR_SIZE, n);
    return tree_get(fs, id, n);
}

static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
                       int to_set, struct fuse_file_info *fi)
{
    struct dbxfs *fs = ops_fs(req);
    struct cnode n;
    struct stat st;
    int rc = set_attr(fs, fs_id(fs, ino), attr, to_set, fi, &n);

    if (rc)
        fuse_reply_err(req, -rc);
    else {
        node_to_stat(fs, &n, &st);
        fuse_reply_attr(req, &st, fs->opts->attr_timeout);
    }
}

static void make_node(fuse_req_t req, fuse_ino_t parent, const char *name,
                      uint32_t type, mode_t mode, const char *target)
{
    struct dbxfs *fs = ops_fs(req);
    const struct fuse_ctx *ctx = fuse_req_ctx(req);
    uint64_t dir = fs_id(fs, parent);
    struct cnode n;
    int rc = dirlist_ensure(fs, dir);

    rc = rc ? rc : tree_create(fs, dir, name, type, mode, ctx->uid, ctx->gid,
                               target, 0, &n);
    reply_entry(req, rc, &n);
}

static void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
    make_node(req, parent, name, NODE_DIR, mode, NULL);
}

static void op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
                     mode_t mode, dev_t rdev)
{
    /* dbxd stores files, directories and symlinks; nothing else syncs. */
    if (!S_ISREG(mode)) {
        fuse_reply_err(req, EPERM);
        return;
    }
    make_node(req, parent, name, NODE_FILE, mode, NULL);
}

static void op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
                       const char *name)
{
    make_node(req, parent, name, NODE_SYMLINK, 0777, link);
}

static void op_readlink(fuse_req_t req, fuse_ino_t ino)
{
    struct dbxfs *fs = ops_fs(req);
    struct cnode n;
    int rc = tree_get(fs, fs_id(fs, ino), &n);

    if (rc)
        fuse_reply_err(req, -rc);
    else if (n.type != NODE_SYMLINK)
        fuse_reply_err(req, EINVAL);
    else
        fuse_reply_readlink(req, n.target);
}

static void op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
    struct dbxfs *fs = ops_fs(req);
    fuse_reply_err(req, -tree_remove(fs, fs_id(fs, parent), name, 0));
}

static void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
    struct dbxfs *fs = ops_fs(req);
    uint64_t dir = fs_id(fs, parent);
    int rc = list_if_dir(fs, dir, name);

    fuse_reply_err(req, rc ? -rc : -tree_remove(fs, dir, name, 1));
}

/* A rename, the directories involved listed first. */
static int rename_listed(struct dbxfs *fs, uint64_t from, const char *name,
                         uint64_t to, const char *newname, unsigned flags)
{
    int rc = dirlist_ensure(fs, from);

    if (rc)
        return rc;
    rc = list_if_dir(fs, to, newname);
    return rc ? rc : tree_rename(fs, from, name, to, newname, flags);
}

static void op_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
                      fuse_ino_t newparent, const char *newname, unsigned flags)
{
    struct dbxfs *fs = ops_fs(req);
    uint64_t from = fs_id(fs, parent), to = fs_id(fs, newparent);

    fuse_reply_err(req, -rename_listed(fs, from, name, to, newname, flags));
}

static void op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
                    const char *newname)
{
    /* A node has one parent on the server: no hard links. EPERM is what
     * link(2) answers on a filesystem without them (git falls back to
     * rename, cp -a and rsync -a copy). */
    fuse_reply_err(req, EPERM);
}

static void op_statfs(fuse_req_t req, fuse_ino_t ino)
{
    struct dbxfs *fs = ops_fs(req);
    struct statvfs st;

    /* Room for new data is room in the cache, where writes land first. */
    if (statvfs(fs->cache_dir, &st)) {
        fuse_reply_err(req, errno);
        return;
    }
    st.f_namemax = 255;
    st.f_files = st.f_ffree = st.f_favail = 1ull << 40;
    fuse_reply_statfs(req, &st);
}

void ops_entry_fill(struct fuse_lowlevel_ops *ops)
{
    ops->lookup = op_lookup;
    ops->getattr = op_getattr;
    ops->setattr = op_setattr;
    ops->mkdir = op_mkdir;
    ops->mknod = op_mknod;
    ops->symlink = op_symlink;
    ops->readlink = op_readlink;
    ops->unlink = op_unlink;
    ops->rmdir = op_rmdir;
    ops->rename = op_rename;
    ops->link = op_link;
    ops->statfs = op_statfs;
}
