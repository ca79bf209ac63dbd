/* dbxfs: the context's own functions (dbxfs.h): the write transaction every
 * layer uses, and the kernel notifications that follow a change. */
#include <string.h>

#include "dbxfs.h"

int fs_write(struct dbxfs *fs, fs_txn_fn fn, void *arg)
{
    metadb_txn *t;
    int rc;

    pthread_mutex_lock(&fs->lock);
    rc = metadb_begin(fs->db, 1, &t);
    if (rc)
        goto out;
    rc = fn(fs, t, arg);
    if (rc == 0)
        rc = metadb_commit(t);
    else
        metadb_abort(t);
out:
    pthread_mutex_unlock(&fs->lock);
    return rc;
}

/* Notifications fail harmlessly (-ENOENT) for what the kernel does not
 * cache; nothing to do about other failures but carry on. */
void fs_inval_entry(struct dbxfs *fs, uint64_t parent, const char *name)
{
    if (fs->se)
        fuse_lowlevel_notify_inval_entry(fs->se, fs_ino(fs, parent), name,
                                         strlen(name));
}

void fs_inval_inode(struct dbxfs *fs, uint64_t id, int data)
{
    if (fs->se)
        fuse_lowlevel_notify_inval_inode(fs->se, fs_ino(fs, id), data ? 0 : -1, 0);
}

void fs_notify_delete(struct dbxfs *fs, uint64_t parent, uint64_t id,
                      const char *name)
{
    if (fs->se &&
        fuse_lowlevel_notify_delete(fs->se, fs_ino(fs, parent), fs_ino(fs, id),
                                    name, strlen(name)) != 0)
        fs_inval_entry(fs, parent, name);
}
