/* tree: the mount's local metadata changes. Each is one LMDB write
 * transaction under fs->lock (fs_write) that changes the records and
 * appends the journal operation that will replay it on dbxd, then
 * announces it (fs_changed): nothing here touches the network. A caller
 * that looks up, creates, removes or renames in a directory this device
 * may never have listed lists it first (sync/dirlist.h); rmdir and a
 * rename over a directory need the victim listed too, so that "empty"
 * means empty on dbxd. Errors are -errno, as ext4 returns them. */
#ifndef DBXFS_TREE_H
#define DBXFS_TREE_H

#include <sys/stat.h>

#include "dbxfs.h"

/* The node, with an open file's newer size and mtime. */
int tree_get(struct dbxfs *fs, uint64_t id, struct cnode *n);
int tree_lookup(struct dbxfs *fs, uint64_t parent, const char *name,
                struct cnode *n);
int tree_create(struct dbxfs *fs, uint64_t parent, const char *name,
                uint32_t type, mode_t mode, uid_t uid, gid_t gid,
                const char *target, uint64_t dirty_gen, struct cnode *out);
int tree_remove(struct dbxfs *fs, uint64_t parent, const char *name, int dir);
int tree_rename(struct dbxfs *fs, uint64_t parent, const char *name,
                uint64_t newparent, const char *newname, unsigned flags);
/* chmod, chown, utimens (FUSE_SET_ATTR_* bits other than SIZE). */
int tree_setattr(struct dbxfs *fs, uint64_t id, const struct stat *attr,
                 int to_set, struct cnode *out);
/* New local content: size and mtime into the record, the node marked dirty
 * at write generation gen (the upload checks it did not move meanwhile). */
int tree_content_changed(struct dbxfs *fs, uint64_t id, uint64_t size,
                         struct wire_time mtime, uint64_t gen);
/* Writes to the staging file of id begin (file_begin_write): dirty at gen,
 * size and mtime unchanged until tree_content_changed. */
int tree_mark_dirty(struct dbxfs *fs, uint64_t id, uint64_t gen);
/* The staging file of id now holds its whole content (CN_COPY). */
int tree_set_copy(struct dbxfs *fs, uint64_t id, uint64_t content_rev);
/* Calls fn(arg, name, id) for each entry of dir, in name order, in one
 * read transaction; stops at fn's first nonzero return and returns it. */
int tree_children(struct dbxfs *fs, uint64_t dir,
                  metadb_dirent_fn fn, void *arg);
/* Makes every change so far durable (fsync, fsyncdir). */
int tree_sync(struct dbxfs *fs);
/* user.* extended attributes (tree_xattr.c). get and list answer the
 * value's length (with size 0: only that) or -ENODATA/-ERANGE; set with
 * value NULL removes (-ENODATA when absent); flags are XATTR_CREATE or
 * XATTR_REPLACE. Nodes of a viewer's share refuse changes (-EACCES). */
int tree_xattr_get(struct dbxfs *fs, uint64_t id, const char *name, void *buf, size_t size);
int tree_xattr_list(struct dbxfs *fs, uint64_t id, char *buf, size_t size);
int tree_xattr_set(struct dbxfs *fs, uint64_t id, const char *name,
                   const void *value, size_t len, int flags);
/* Last close of a file: drops it if it was unlinked meanwhile. */
int tree_closed(struct dbxfs *fs, uint64_t id);
/* Startup: drops nodes left unlinked-while-open by a crash, and takes the
 * size of files written up to a crash from their staging files. */
int tree_recover(struct dbxfs *fs);
/* Steps inside a caller's write transaction (fs_write), for tree*.c and
 * for the sync engine settling what dbxd answered. */

/* Moves n to (parent, name) here only, not journaled (the sync engine
 * settling a conflict); its old entry goes if it is still n's. The caller
 * notifies the kernel. */
int tree_move_local(metadb_txn *t, struct cnode *n, uint64_t parent, const char *name);
/* dbxd lost n (deleted on another device) while this device holds work in
 * it: its creation is journaled again, same id, before anything queued;
 * dirty content then uploads on a base of nothing. */
int tree_recreate(metadb_txn *t, struct cnode *n);
/* Removes a node's records and local content. */
int tree_drop_node(struct dbxfs *fs, metadb_txn *t, const struct cnode *n);
/* Takes n out of the tree (its dirent is already gone): dropped now, or at
 * its last close when it is open. */
int tree_unlink_node(struct dbxfs *fs, metadb_txn *t, struct cnode *n);
/* 1 when dir is node id or lies below it (moving id there makes a loop). */
int tree_is_within(metadb_txn *t, uint64_t dir, uint64_t id);

/* For tree*.c only. */
int tree_get_dir(metadb_txn *t, uint64_t id, struct cnode *dir);
int tree_touch_dir(metadb_txn *t, struct cnode *dir);
/* Journals the removal of n (its dirent is gone), with the local tombstone
 * that keeps it away until the mirror shows it gone; for a node dbxd never
 * got, drops its queued operations instead. */
int tree_journal_delete(struct dbxfs *fs, metadb_txn *t, const struct cnode *n);
int tree_check_name(const char *name);

#endif
