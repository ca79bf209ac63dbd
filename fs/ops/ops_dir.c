/* ops_dir: FUSE handlers for directories: opendir takes a snapshot of the
 * entries (so offsets stay stable while the directory changes under a
 * reader, as POSIX allows), readdir and readdirplus page through it. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dirlist.h"
#include "node.h"
#include "ops.h"
#include "tree.h"

struct dir_entry {
    uint64_t id;
    char *name;
};

struct dir_snap {
    struct dir_entry *v;
    size_t n, cap;
};

static void snap_free(struct dir_snap *s)
{
    for (size_t i = 0; s && i < s->n; i++)
        free(s->v[i].name);
    if (s)
        free(s->v);
    free(s);
}

static int snap_add(void *arg, const char *name, uint64_t child)
{
    struct dir_snap *s = arg;

    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        struct dir_entry *v = realloc(s->v, cap * sizeof(*v));
        if (!v)
            return -ENOMEM;
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n].name = strdup(name);
    if (!s->v[s->n].name)
        return -ENOMEM;
    s->v[s->n++].id = child;
    return 0;
}

static int snapshot(struct dbxfs *fs, uint64_t dir, struct dir_snap **out)
{
    struct dir_snap *s = calloc(1, sizeof(*s));
    int rc;

    if (!s)
        return -ENOMEM;
    rc = dirlist_ensure(fs, dir);
    if (rc)
        goto fail;
    rc = tree_children(fs, dir, snap_add, s);
    if (rc)
        goto fail;
    *out = s;
    return 0;
fail:
    snap_free(s);
    return rc;
}

static void op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    struct dbxfs *fs = ops_fs(req);
    struct dir_snap *s;
    int rc = snapshot(fs, fs_id(fs, ino), &s);

    if (rc) {
        fuse_reply_err(req, -rc);
        return;
    }
    fi->fh = (uintptr_t)s;
    if (fuse_reply_open(req, fi) == -ENOENT)
        snap_free(s);
}

/* Offsets: 0 ".", 1 "..", then 2 + index into the snapshot. */
static size_t add_entry(fuse_req_t req, struct dir_snap *s, off_t off, char *buf,
                        size_t room, int plus, fuse_ino_t ino)
{
    struct dbxfs *fs = ops_fs(req);
    struct fuse_entry_param e = { 0 };
    const char *name = off == 0 ? "." : off == 1 ? ".." : s->v[off - 2].name;
    struct cnode n;

    e.attr.st_mode = S_IFDIR;
    e.attr.st_ino = off < 2 ? ino : fs_ino(fs, s->v[off - 2].id);
    if (off >= 2 && tree_get(fs, s->v[off - 2].id, &n) == 0)
        node_to_entry(fs, &n, &e);
    else if (off >= 2)
        return (size_t)-1;     /* gone since opendir: skip it */
    if (plus) {
        if (off < 2)
            e.ino = 0;         /* no lookup is counted for . and .. */
        return fuse_add_direntry_plus(req, buf, room, name, &e, off + 1);
    }
    return fuse_add_direntry(req, buf, room, name, &e.attr, off + 1);
}

static void do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                       struct fuse_file_info *fi, int plus)
{
    struct dir_snap *s = (struct dir_snap *)(uintptr_t)fi->fh;
    char *buf = malloc(size);
    size_t used = 0;

    if (!buf) {
        fuse_reply_err(req, ENOMEM);
        return;
    }
    for (; (size_t)off < s->n + 2; off++) {
        size_t len = add_entry(req, s, off, buf + used, size - used, plus, ino);
        if (len == (size_t)-1)
            continue;
        if (len > size - used)
            break;
        used += len;
    }
    fuse_reply_buf(req, buf, used);
    free(buf);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                       struct fuse_file_info *fi)
{
    do_readdir(req, ino, size, off, fi, 0);
}

static void op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                           struct fuse_file_info *fi)
{
    do_readdir(req, ino, size, off, fi, 1);
}

static void op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    snap_free((struct dir_snap *)(uintptr_t)fi->fh);
    fuse_reply_err(req, 0);
}

static void op_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync,
                        struct fuse_file_info *fi)
{
    fuse_reply_err(req, -tree_sync(ops_fs(req)));
}

void ops_dir_fill(struct fuse_lowlevel_ops *ops)
{
    ops->opendir = op_opendir;
    ops->readdir = op_readdir;
    ops->readdirplus = op_readdirplus;
    ops->releasedir = op_releasedir;
    ops->fsyncdir = op_fsyncdir;
}
