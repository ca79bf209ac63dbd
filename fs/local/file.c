/* file: see file.h. */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "file.h"
#include "node.h"
#include "staging.h"
#include "shared.h"
#include "tree.h"

#define COPY_TRIES 8          /* copies made for one open, the content changing */

static int build_copy(struct dbxfs *fs, const struct cnode *n)
{
    char tmp[STAGING_PATH_MAX];
    int fd = staging_tmp(fs->cache_dir, n->id, tmp), rc;

    if (fd < 0)
        return fd;
    rc = fs_fetch_copy(fs, n, fd);
    close(fd);
    if (rc)
        goto out;
    rc = staging_commit(fs->cache_dir, n->id, tmp);
out:
    if (rc)
        unlink(tmp);
    return rc;
}

/* The copy n says is local went away after n was read (evicted, or the
 * content changed on the server): wait for the transaction that did it,
 * which holds fs->lock until it commits, then read the node again. */
static int copy_vanished(struct dbxfs *fs, struct cnode *n)
{
    pthread_mutex_lock(&fs->lock);
    pthread_mutex_unlock(&fs->lock);
    return tree_get(fs, n->id, n);
}

/* Opens the copy n says is local. It may have gone since n was read
 * (evicted, or dropped for newer content): then n is read again, and if it
 * no longer has CN_COPY the caller makes a new copy (-ENOENT). */
static int open_copy(struct dbxfs *fs, struct cnode *n)
{
    int fd = staging_open(fs->cache_dir, n->id, O_RDWR), rc;

    if (fd != -ENOENT)
        return fd;
    if ((rc = copy_vanished(fs, n)))
        return rc;
    if (!(n->flags & CN_COPY))
        return -ENOENT;
    /* Still local by the store, yet gone (a crash before the file of an
     * empty create reached the disk, or damage). */
    fd = staging_open(fs->cache_dir, n->id, O_RDWR | (n->size ? 0 : O_CREAT));
    if (fd != -ENOENT)
        return fd;
    if (n->flags & CN_DIRTY)
        return -EIO;        /* bytes the server lacks: nothing to rebuild from */
    n->flags &= ~CN_COPY;
    return -ENOENT;
}

/* An O_RDWR fd on n's staging file holding its whole content: downloaded
 * first unless `empty` (the caller truncates to 0 at once, or n was just
 * created). n is read again if its copy went away since it was read. */
static int local_copy(struct dbxfs *fs, struct cnode *n, int empty)
{
    int fd, rc = 0;

    if (!empty && (n->flags & CN_COPY) && (fd = open_copy(fs, n)) != -ENOENT)
        return fd;
    if (empty || n->size == 0) {
        fd = staging_open(fs->cache_dir, n->id, O_RDWR | O_CREAT | O_TRUNC);
        if (fd >= 0 && !(n->flags & CN_COPY) &&
            (rc = tree_set_copy(fs, n->id, n->content_rev))) {
            close(fd);
            return rc;
        }
        return fd;
    }
    rc = build_copy(fs, n);
    if (rc)
        return rc;
    rc = tree_set_copy(fs, n->id, n->content_rev);
    /* The content moved on while the copy was made: the caller reads the
     * node again and makes it anew. */
    return rc ? rc : staging_open(fs->cache_dir, n->id, O_RDWR);
}

/* Installs fd as of's local copy unless the copy was dropped (the content
 * changed on the server) while it was being made. */
static int install_copy(struct ofile *of, int fd, const struct cnode *n,
                        unsigned drops)
{
    int ok;

    pthread_mutex_lock(&of->mu);
    ok = of->drops == drops;
    if (ok) {
        of->fd = fd;
        of->size = n->size;
        of->mtime = n->mtime;
    }
    pthread_mutex_unlock(&of->mu);
    return ok;
}

/* Try `tries` gave no copy to install: fd is its error, or the copy it
 * made (closed by now). 0 to try again, or the error to give up with. */
static int copy_again(struct dbxfs *fs, struct cnode *n, int fd, int tries)
{
    /* Dropped or stale as it was made (new content on dbxd): again,
     * from the node as it is now, read from dbxd when the feed has not
     * brought the new content yet. */
    if (fd < 0 && fd != -EAGAIN)
        return fd;
    if (tries == COPY_TRIES)
        return -EIO;
    if (fd == -EAGAIN && tries > 0)
        fs_refresh(fs, n->id);
    return tree_get(fs, n->id, n);
}

int file_open_copy(struct dbxfs *fs, struct ofile *of, const struct cnode *node,
                   int empty)
{
    struct cnode n = *node;
    unsigned drops;
    int fd, rc = 0;

    /* copy_mu, not of->mu: building a copy may download, and of->mu is
     * taken under the store's and the table's locks. */
    pthread_mutex_lock(&of->copy_mu);
    for (int tries = 0;; tries++) {
        pthread_mutex_lock(&of->mu);
        fd = of->fd;
        drops = of->drops;
        pthread_mutex_unlock(&of->mu);
        if (fd >= 0)
            break;
        fd = local_copy(fs, &n, empty);
        if (fd >= 0 && install_copy(of, fd, &n, drops))
            break;
        if (fd >= 0)
            close(fd);
        rc = copy_again(fs, &n, fd, tries);
        if (rc)
            break;
    }
    pthread_mutex_unlock(&of->copy_mu);
    return rc;
}

int file_begin_write(struct dbxfs *fs, struct ofile *of)
{
    uint64_t gen;
    int marked, rc;

    pthread_mutex_lock(&of->mu);
    marked = of->marked;
    /* Set before the mark is in the store: an upload must not claim the
     * node between the two (ofile_writing). */
    of->marked = 1;
    if (!marked)
        gen = of->gen = atomic_fetch_add(&fs->write_gen, 1) + 1;
    pthread_mutex_unlock(&of->mu);
    if (marked)
        return 0;
    /* Not under of->mu: the store's lock is taken before it elsewhere. */
    rc = tree_mark_dirty(fs, of->id, gen);
    if (rc) {
        pthread_mutex_lock(&of->mu);
        of->marked = 0;
        pthread_mutex_unlock(&of->mu);
    }
    return rc;
}

/* The staging file of `of` now holds `size` bytes, changed just now (for
 * file_commit_local); of->mu held. */
static void wrote(struct dbxfs *fs, struct ofile *of, uint64_t size)
{
    of->size = size;
    of->mtime = node_now();
    of->gen = atomic_fetch_add(&fs->write_gen, 1) + 1;
    of->written = 1;
}

static int truncate_open(struct dbxfs *fs, struct ofile *of, uint64_t size)
{
    int rc = file_begin_write(fs, of);

    if (rc)
        return rc;
    pthread_mutex_lock(&of->mu);
    if (ftruncate(of->fd, (off_t)size))
        rc = -errno;
    else
        wrote(fs, of, size);
    pthread_mutex_unlock(&of->mu);
    return rc;
}

void file_created(struct ofile *of, uint64_t gen)
{
    pthread_mutex_lock(&of->mu);
    of->marked = 1;
    of->gen = gen;
    pthread_mutex_unlock(&of->mu);
}

ssize_t file_write(struct dbxfs *fs, struct ofile *of, struct fuse_bufvec *in, off_t off)
{
    struct fuse_bufvec out = FUSE_BUFVEC_INIT(fuse_buf_size(in));
    ssize_t n;
    int fd;

    fd = ofile_fd(of);
    if (fd < 0)
        return -EBADF;
    n = file_begin_write(fs, of);
    if (n)
        return n;
    /* A writer's copy stays in place while it is open (ofile.h), so fd
     * is still the copy without the lock held across the copy. */
    out.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
    out.buf[0].fd = fd;
    out.buf[0].pos = off;
    n = fuse_buf_copy(&out, in, 0);
    if (n < 0)
        return n;
    pthread_mutex_lock(&of->mu);
    wrote(fs, of, (uint64_t)off + (uint64_t)n > of->size ? (uint64_t)off + (uint64_t)n : of->size);
    pthread_mutex_unlock(&of->mu);
    return n;
}

int file_truncate_open(struct dbxfs *fs, struct ofile *of)
{
    return truncate_open(fs, of, 0);
}

int file_truncate(struct dbxfs *fs, uint64_t id, uint64_t size,
                  struct fuse_file_info *fi)
{
    struct ofile *of = fi ? (struct ofile *)(uintptr_t)fi->fh : NULL;
    struct cnode n;
    int rc = tree_get(fs, id, &n);

    if (rc)
        return rc;
    if (n.type == NODE_DIR)
        return -EISDIR;
    if (n.type != NODE_FILE)
        return -EINVAL;
    if ((rc = shared_may_write(&n)))
        return rc;
    if (!of)
        of = ofile_acquire(fs->files, id);
    else
        of = ofile_acquire(fs->files, of->id);   /* our own reference */
    if (!of)
        return -ENOMEM;
    rc = file_open_copy(fs, of, &n, size == 0);
    if (rc)
        goto out;
    rc = truncate_open(fs, of, size);
    if (rc)
        goto out;
    rc = file_commit_local(fs, of);
out:
    if (ofile_release(fs->files, of))
        ofile_free(of);
    return rc;
}

int file_commit_local(struct dbxfs *fs, struct ofile *of)
{
    uint64_t size, gen;
    struct wire_time mtime;
    int written;

    pthread_mutex_lock(&of->mu);
    written = of->written || of->marked;
    of->written = 0;
    of->marked = 0;
    size = of->size;
    mtime = of->mtime;
    gen = of->gen;
    pthread_mutex_unlock(&of->mu);
    if (!written)
        return 0;
    return tree_content_changed(fs, of->id, size, mtime, gen);
}

int file_sync(struct dbxfs *fs, struct ofile *of)
{
    int fd;

    fd = ofile_fd(of);
    if (fd >= 0 && fdatasync(fd))
        return -errno;
    return file_commit_local(fs, of);
}
