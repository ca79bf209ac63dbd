/* dbxfs: the mount's one context, and what its modules share.
 *
 * A request flows: kernel → ops/ (the FUSE low-level handlers, errno at
 * this boundary) → local/ (tree*.c: local metadata changes, one LMDB write
 * transaction that also appends the journal operation; file.c and ofile.c:
 * open files and their staging copies) or sync/fetch*.c (content that is
 * not local). Nothing on that path waits for the network, except reading
 * data or listing a directory this device has never seen (the handlers ask
 * sync/dirlist.c first). In the background, sync/push*.c replays the
 * journal and uploads dirty files; sync/pull.c long-polls the change feed,
 * applies it and invalidates the kernel's caches. local/ never calls the
 * sync engine: it announces changes through fs->hooks (fs_changed).
 *
 * Locking: fs->lock serialises changes to the metadata store (LMDB has one
 * writer anyway) and is never held across network I/O or a kernel
 * notification (a notification can wait for a request that waits for the
 * lock). Readers use read transactions without it. ofile.h has its own
 * locks; the order is fs->lock, then the file table, then an ofile. */
#ifndef DBXFS_H
#define DBXFS_H

#define FUSE_USE_VERSION 34
#include <fuse_lowlevel.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "blockcache.h"
#include "httpc.h"
#include "metadb.h"
#include "options.h"

struct dbxfs;
struct ofile_table;
struct cnode;
struct fetch;
struct push;
struct pull;
struct conn_pool;
struct housekeeping;

/* What the local tree asks of the sync engine, which sets these as it
 * starts (NULL before: nothing to tell, nothing to fetch). */
struct fs_hooks {
    /* Something was journaled or marked dirty. */
    void (*changed)(struct dbxfs *fs);
    /* Writes the whole content of n, which is not local, into fd. */
    int (*fetch_copy)(struct dbxfs *fs, const struct cnode *n, int fd);
    /* The content of id changed on dbxd under a read: bring its record up
     * to date now rather than when the change feed says so. */
    int (*refresh)(struct dbxfs *fs, uint64_t id);
};

struct dbxfs {
    struct dbxfs_opts *opts;
    struct fs_hooks hooks;
    struct fuse_session *se;
    metadb *db;
    blockcache *bc;
    httpc_pool *pool;
    struct conn_pool *conns;
    const char *cache_dir;
    uint64_t root_id;
    pthread_mutex_t lock;
    struct ofile_table *files;
    struct fetch *fetch;
    struct push *push;
    struct pull *pull;
    struct housekeeping *housekeeping;
    atomic_int online;          /* the last exchange with dbxd worked */
    atomic_int unauthorized;    /* dbxd refused the token */
    atomic_llong last_sync;     /* when the feed or a push last succeeded */
    atomic_llong conflicts;     /* conflicted copies seen since mount */
    atomic_ullong write_gen;    /* stamps every change of file content */
    atomic_int notifiers;       /* asynchronous kernel notifications in flight */
    atomic_ullong copies_bytes; /* evict.c: at most this many bytes of clean
                                 * local copies (an upper bound) */
    /* The journal entries the push worker has on their way to dbxd lie
     * within [sending_lo, sending_hi] (0, 0: none); set under fs->lock. */
    atomic_ullong sending_lo, sending_hi;
    atomic_int listings;        /* directory listings in flight (dirlist.c) */
    atomic_llong last_sweep;    /* ms: apply_sweep's last run */
};

/* FUSE inode numbers are node ids, except that the root is FUSE_ROOT_ID. */
static inline uint64_t fs_id(const struct dbxfs *fs, fuse_ino_t ino)
{
    return ino == FUSE_ROOT_ID ? fs->root_id : (uint64_t)ino;
}

static inline fuse_ino_t fs_ino(const struct dbxfs *fs, uint64_t id)
{
    return id == fs->root_id ? FUSE_ROOT_ID : (fuse_ino_t)id;
}

/* Kernel cache invalidation (never under fs->lock). */
void fs_inval_entry(struct dbxfs *fs, uint64_t parent, const char *name);
void fs_inval_inode(struct dbxfs *fs, uint64_t id, int data);
void fs_notify_delete(struct dbxfs *fs, uint64_t parent, uint64_t id,
                      const char *name);

/* Runs fn in one write transaction of the metadata store under fs->lock
 * and commits when it returns 0 (else aborts and returns its code). Every
 * layer's changes to the store go through it, so they are serialised with
 * the in-memory state fs->lock guards. */
typedef int (*fs_txn_fn)(struct dbxfs *fs, metadb_txn *t, void *arg);
int fs_write(struct dbxfs *fs, fs_txn_fn fn, void *arg);

/* The local tree's announcements, for the sync engine above it. */
static inline void fs_changed(struct dbxfs *fs)
{
    if (fs->hooks.changed)
        fs->hooks.changed(fs);
}

static inline int fs_fetch_copy(struct dbxfs *fs, const struct cnode *n, int fd)
{
    return fs->hooks.fetch_copy ? fs->hooks.fetch_copy(fs, n, fd) : -EIO;
}

static inline void fs_refresh(struct dbxfs *fs, uint64_t id)
{
    if (fs->hooks.refresh)
        fs->hooks.refresh(fs, id);
}

/* A clean local copy of `bytes` may now exist (the bound evict.c keeps). */
static inline void fs_copy_grew(struct dbxfs *fs, uint64_t bytes)
{
    atomic_fetch_add(&fs->copies_bytes, bytes);
}

#endif
