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

#include "fetch.h"
#include "file.h"
#include "apply.h"
#include "pull.h"
#include "push.h"
#include "shared.h"
#include "tree.h"

#define READ_TRIES 8          /* reads of content that keeps changing on dbxd */

static struct dbxfs *fs_of(fuse_req_t req)
{
    return fuse_req_userdata(req);
}

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
    struct ofile *of = ofile_acquire(fs->files, n->id);
    int trunc = (fi->flags & O_TRUNC) && n->size > 0;
    int rc = of ? 0 : -ENOMEM;

    if (rc == 0 && wants_write(fi->flags))
        rc = shared_may_write(n);
    /* A writer first: from here on a change from dbxd waits for its last
     * close instead of replacing the copy it is about to edit. */
    if (rc == 0 && wants_write(fi->flags))
        ofile_writer(of, +1);
    if (rc == 0 && trunc)
        rc = file_begin_write(fs, of);
    if (rc == 0 && (wants_write(fi->flags) || (n->flags & CN_COPY)))
        rc = file_open_copy(fs, of, n, created || (fi->flags & O_TRUNC));
    /* recorded at the release, with what is written next */
    if (rc == 0 && trunc)
        rc = file_truncate_open(fs, of);
    if (rc) {
        fi->fh = (uintptr_t)of;
        if (of)
            drop_handle(fs, fi);
        return rc;
    }
    fi->fh = (uintptr_t)of;
    /* The sync thread invalidates cached pages when content changes. */
    fi->keep_cache = 1;
    return 0;
}

static void op_create(fuse_req_t req, fuse_ino_t parent, const char *name,
                      mode_t mode, struct fuse_file_info *fi)
{
    struct dbxfs *fs = fs_of(req);
    const struct fuse_ctx *ctx = fuse_req_ctx(req);
    struct fuse_entry_param e;
    struct cnode n;
    /* Created open for writing: dirty from the start, in the same
     * transaction (file_begin_write's mark for the first write). */
    uint64_t gen = atomic_fetch_add(&fs->write_gen, 1) + 1;
    int rc = tree_create(fs, fs_id(fs, parent), name, NODE_FILE, mode, ctx->uid,
                         ctx->gid, NULL, gen, &n);

    if (rc == 0)
        rc = open_node(fs, &n, fi, 1);
    if (rc == 0) {
        struct ofile *of = of_of(fi);
        pthread_mutex_lock(&of->mu);
        of->marked = 1;
        of->gen = gen;
        pthread_mutex_unlock(&of->mu);
    }
    if (rc) {
        fuse_reply_err(req, -rc);
        return;
    }
    node_to_entry(fs, &n, &e);
    if (fuse_reply_create(req, &e, fi) == -ENOENT)
        drop_handle(fs, fi);
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    struct dbxfs *fs = fs_of(req);
    struct cnode n;
    int rc = tree_get(fs, fs_id(fs, ino), &n);

    if (rc == 0 && n.type == NODE_DIR)
        rc = -EISDIR;
    if (rc == 0)
        rc = open_node(fs, &n, fi, 0);
    if (rc)
        fuse_reply_err(req, -rc);
    else if (fuse_reply_open(req, fi) == -ENOENT)
        drop_handle(fs, fi);
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                    struct fuse_file_info *fi)
{
    struct dbxfs *fs = fs_of(req);
    struct ofile *of = of_of(fi);
    struct cnode n;
    char *buf;
    ssize_t got;
    int fd, rc = 0;

    pthread_mutex_lock(&of->mu);
    fd = of->fd;
    pthread_mutex_unlock(&of->mu);
    if (fd < 0 && (rc = tree_get(fs, of->id, &n)) == 0 && (n.flags & CN_COPY)) {
        /* A copy that keeps going (the content keeps changing on dbxd): read
         * the current content through fetch instead. */
        if ((rc = file_open_copy(fs, of, &n, 0)) == -EAGAIN)
            rc = tree_get(fs, of->id, &n);
        pthread_mutex_lock(&of->mu);
        fd = of->fd;
        pthread_mutex_unlock(&of->mu);
    }
    if (rc) {
        fuse_reply_err(req, -rc);
        return;
    }
    if (fd >= 0) {
        /* Local content: let the kernel splice it from the staging file. */
        struct fuse_bufvec bv = FUSE_BUFVEC_INIT(size);
        bv.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
        bv.buf[0].fd = fd;
        bv.buf[0].pos = off;
        fuse_reply_data(req, &bv, FUSE_BUF_SPLICE_MOVE);
        return;
    }
    buf = malloc(size ? size : 1);
    got = buf ? fetch_read(fs, of, &n, buf, size, off) : -ENOMEM;
    /* The content changed on dbxd under the read: the new one, then (read
     * from dbxd when the feed has not brought it yet). */
    for (int tries = 0; got == -EAGAIN && tries < READ_TRIES; tries++) {
        if (tries > 0)
            pull_node_now(fs, of->id);
        got = (rc = tree_get(fs, of->id, &n)) ? rc : fetch_read(fs, of, &n, buf, size, off);
    }
    if (got == -EAGAIN)
        got = -EIO;
    if (got < 0)
        fuse_reply_err(req, (int)-got);
    else
        fuse_reply_buf(req, buf, (size_t)got);
    free(buf);
}

static void op_write_buf(fuse_req_t req, fuse_ino_t ino, struct fuse_bufvec *in,
                         off_t off, struct fuse_file_info *fi)
{
    struct dbxfs *fs = fs_of(req);
    struct ofile *of = of_of(fi);
    struct fuse_bufvec out = FUSE_BUFVEC_INIT(fuse_buf_size(in));
    ssize_t n;

    int rc = of->fd < 0 ? -EBADF : file_begin_write(fs, of);

    if (rc) {
        fuse_reply_err(req, -rc);
        return;
    }
    out.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
    out.buf[0].fd = of->fd;
    out.buf[0].pos = off;
    n = fuse_buf_copy(&out, in, 0);
    if (n < 0) {
        fuse_reply_err(req, (int)-n);
        return;
    }
    pthread_mutex_lock(&of->mu);
    if ((uint64_t)off + (uint64_t)n > of->size)
        of->size = (uint64_t)off + (uint64_t)n;
    of->mtime = node_now();
    of->gen = atomic_fetch_add(&fs->write_gen, 1) + 1;
    of->written = 1;
    pthread_mutex_unlock(&of->mu);
    fuse_reply_write(req, (size_t)n);
}

static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    struct dbxfs *fs = fs_of(req);
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

static void op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
                     struct fuse_file_info *fi)
{
    struct dbxfs *fs = fs_of(req);
    struct ofile *of = of_of(fi);
    int rc = 0;

    if (of->fd >= 0 && fdatasync(of->fd))
        rc = -errno;
    if (rc == 0)
        rc = file_commit_local(fs, of);
    if (rc == 0)
        rc = metadb_sync(fs->db);
    if (rc == 0 && fs->opts->fsync_server)
        rc = push_wait_clean(fs, of->id, 600);
    fuse_reply_err(req, -rc);
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
