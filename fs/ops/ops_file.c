/* ops_file: FUSE handlers for file data: create, open, read, write_buf,
 * release, fsync. Writes go to the staging file and return; release (the
 * close of a handle) records the new content so the push worker uploads it.
 *
 * There is no flush handler: the kernel then stops sending FLUSH, and
 * close() returns without a round trip to this process (RELEASE is sent
 * in the background). Nothing is lost by it: a file is dirty in the store
 * before its bytes change (file.h), so a crash between close() and the
 * release still uploads what was written (tree_recover). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "dirlist.h"
#include "fetch.h"
#include "file.h"
#include "apply.h"
#include "node.h"
#include "ops.h"
#include "pull.h"
#include "push.h"
#include "shared.h"
#include "tree.h"

#define READ_TRIES 8          /* reads of content that keeps changing on dbxd */

static struct ofile *of_of(struct fuse_file_info *fi)
{
    return (struct ofile *)(uintptr_t)fi->fh;
}

static int wants_write(int flags)
{
    return (flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC);
}

/* A handle that never reached the program: no release will come for it. */
static void drop_handle(struct dbxfs *fs, struct fuse_file_info *fi)
{
    struct ofile *of = of_of(fi);

    if (wants_write(fi->flags))
        ofile_writer(of, -1);
    if (ofile_release(fs->files, of))
        ofile_free(of);
}

/* Opens n for a handle: a writer gets the local copy (made now), a reader
 * of content that is not local reads through fetch. */
static int open_node(struct dbxfs *fs, const struct cnode *n,
                     struct fuse_file_info *fi, int created)
{
    int trunc = (fi->flags & O_TRUNC) && n->size > 0;
    struct ofile *of;
    int rc;

    if (wants_write(fi->flags) && (rc = shared_may_write(n)))
        return rc;
    of = ofile_acquire(fs->files, n->id);
    if (!of)
        return -ENOMEM;
    /* A writer first: from here on a change from dbxd waits for its last
     * close instead of replacing the copy it is about to edit. */
    if (wants_write(fi->flags))
        ofile_writer(of, +1);
    if (trunc && (rc = file_begin_write(fs, of)))
        goto fail;
    if ((wants_write(fi->flags) || (n->flags & CN_COPY)) &&
        (rc = file_open_copy(fs, of, n, created || (fi->flags & O_TRUNC))))
        goto fail;
    /* recorded at the release, with what is written next */
    if (trunc && (rc = file_truncate_open(fs, of)))
        goto fail;
    fi->fh = (uintptr_t)of;
    /* The sync thread invalidates cached pages when content changes. */
    fi->keep_cache = 1;
    return 0;
fail:
    fi->fh = (uintptr_t)of;
    drop_handle(fs, fi);
    return rc;
}

/* create's file n, made in parent (listed first) and opened for fi. */
static int create_file(fuse_req_t req, fuse_ino_t parent, const char *name,
                       mode_t mode, struct fuse_file_info *fi, struct cnode *n)
{
    struct dbxfs *fs = ops_fs(req);
    const struct fuse_ctx *ctx = fuse_req_ctx(req);
    /* Created open for writing: dirty from the start, in the same
     * transaction (file_begin_write's mark for the first write). */
    uint64_t gen = atomic_fetch_add(&fs->write_gen, 1) + 1;
    uint64_t dir = fs_id(fs, parent);
    int rc = dirlist_ensure(fs, dir);

    if (rc)
        return rc;
    rc = tree_create(fs, dir, name, NODE_FILE, mode, ctx->uid, ctx->gid, NULL, gen, n);
    if (rc)
        return rc;
    rc = open_node(fs, n, fi, 1);
    if (rc)
        return rc;
    file_created(of_of(fi), gen);
    return 0;
}

static void op_create(fuse_req_t req, fuse_ino_t parent, const char *name,
                      mode_t mode, struct fuse_file_info *fi)
{
    struct dbxfs *fs = ops_fs(req);
    struct fuse_entry_param e;
    struct cnode n;
    int rc = create_file(req, parent, name, mode, fi, &n);

    if (rc) {
        fuse_reply_err(req, -rc);
    } else {
        node_to_entry(fs, &n, &e);
        if (fuse_reply_create(req, &e, fi) == -ENOENT)
            drop_handle(fs, fi);
    }
}

/* open's node id, opened for fi. */
static int open_file(struct dbxfs *fs, uint64_t id, struct fuse_file_info *fi)
{
    struct cnode n;
    int rc = tree_get(fs, id, &n);

    if (rc)
        return rc;
    if (n.type == NODE_DIR)
        return -EISDIR;
    return open_node(fs, &n, fi, 0);
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    struct dbxfs *fs = ops_fs(req);
    int rc = open_file(fs, fs_id(fs, ino), fi);

    if (rc)
        fuse_reply_err(req, -rc);
    else if (fuse_reply_open(req, fi) == -ENOENT)
        drop_handle(fs, fi);
}

/* Where a read finds its bytes: the local copy (*fd >= 0), or dbxd
 * through fetch (*fd < 0; n is the node). 0 or -errno. */
static int read_source(struct dbxfs *fs, struct ofile *of, struct cnode *n, int *fd)
{
    int rc = 0;

    *fd = ofile_fd(of);
    if (*fd >= 0 || (rc = tree_get(fs, of->id, n)) || !(n->flags & CN_COPY))
        return rc;
    /* A copy that keeps going (the content keeps changing on dbxd): read
     * the current content through fetch instead. */
    if ((rc = file_open_copy(fs, of, n, 0)) == -EAGAIN)
        rc = tree_get(fs, of->id, n);
    *fd = ofile_fd(of);
    return rc;
}

/* Bytes read from dbxd, or -errno. When the content changes on dbxd under
 * the read, the new one (read from dbxd when the feed has not brought it
 * yet). */
static ssize_t read_remote(struct dbxfs *fs, struct ofile *of, struct cnode *n,
                           char *buf, size_t size, off_t off)
{
    ssize_t got = fetch_read(fs, of, n, buf, size, off);
    int rc;

    for (int tries = 0; got == -EAGAIN && tries < READ_TRIES; tries++) {
        if (tries > 0)
            pull_node_now(fs, of->id);
        got = (rc = tree_get(fs, of->id, n)) ? rc : fetch_read(fs, of, n, buf, size, off);
    }
    return got == -EAGAIN ? -EIO : got;
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                    struct fuse_file_info *fi)
{
    struct dbxfs *fs = ops_fs(req);
    struct ofile *of = of_of(fi);
    struct fuse_bufvec bv = FUSE_BUFVEC_INIT(size);
    struct cnode n;
    char *buf = NULL;
    ssize_t got;
    int fd;

    got = read_source(fs, of, &n, &fd);
    if (got == 0 && fd < 0) {
        buf = malloc(size ? size : 1);
        got = buf ? read_remote(fs, of, &n, buf, size, off) : -ENOMEM;
    }
    if (got < 0) {
        fuse_reply_err(req, (int)-got);
    } else if (fd >= 0) {
        /* Local content: let the kernel splice it from the staging file. */
        bv.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
        bv.buf[0].fd = fd;
        bv.buf[0].pos = off;
        fuse_reply_data(req, &bv, FUSE_BUF_SPLICE_MOVE);
    } else {
        fuse_reply_buf(req, buf, (size_t)got);
    }
    free(buf);
}

static void op_write_buf(fuse_req_t req, fuse_ino_t ino, struct fuse_bufvec *in,
                         off_t off, struct fuse_file_info *fi)
{
    ssize_t n = file_write(ops_fs(req), of_of(fi), in, off);

    if (n < 0)
        fuse_reply_err(req, (int)-n);
    else
        fuse_reply_write(req, (size_t)n);
}

static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    struct dbxfs *fs = ops_fs(req);
    struct ofile *of = of_of(fi);

    file_commit_local(fs, of);
    if (wants_write(fi->flags))
        ofile_writer(of, -1);
    if (ofile_release(fs->files, of)) {
        tree_closed(fs, of->id);
        /* A change from dbxd waited for the last close. */
        if (of->remote_changed)
            apply_closed(fs, of->id);
        ofile_free(of);
    }
    fuse_reply_err(req, 0);
}

/* fsync: the copy's bytes on disk, its new content in the store (and
 * uploaded, with fsync_server). */
static int sync_file(struct dbxfs *fs, struct ofile *of)
{
    int rc = file_sync(fs, of);

    if (rc)
        return rc;
    rc = tree_sync(fs);
    if (rc)
        return rc;
    return fs->opts->fsync_server ? push_wait_clean(fs, of->id, 600) : 0;
}

static void op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
                     struct fuse_file_info *fi)
{
    fuse_reply_err(req, -sync_file(ops_fs(req), of_of(fi)));
}

void ops_file_fill(struct fuse_lowlevel_ops *ops)
{
    ops->create = op_create;
    ops->open = op_open;
    ops->read = op_read;
    ops->write_buf = op_write_buf;
    ops->release = op_release;
    ops->fsync = op_fsync;
}
