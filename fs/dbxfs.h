/* dbxfs: the mount's one context, and what its modules share.
 *
 * A request flows: kernel → ops_*.c (the FUSE low-level handlers, errno at
 * this boundary) → tree.c (local metadata changes: one LMDB write
 * transaction that also appends the journal operation) or ofile.c/fetch.c
 * (file data: staging files, the block cache, chunk downloads). Nothing on
 * that path waits for the network, except reading data or listing a
 * directory this device has never seen. In the background, push.c replays
 * the journal and uploads dirty files; pull.c long-polls the change feed,
 * applies it and invalidates the kernel's caches.
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
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "blockcache.h"
#include "httpc.h"
#include "metadb.h"
#include "options.h"

struct ofile_table;
struct fetch;
struct push;
struct pull;
struct conn_pool;

struct dbxfs {
    struct dbxfs_opts *opts;
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

/* node.c: conversions between records, wire JSON and stat. */
void node_to_stat(const struct dbxfs *fs, const struct cnode *n, struct stat *st);
void node_to_entry(const struct dbxfs *fs, const struct cnode *n,
                   struct fuse_entry_param *e);
/* Fills the server's view (from the API's node JSON) into n, keeping n's
 * local-only fields (flags, map_rev). 0 or -1. */
int node_from_wire(const cJSON *j, struct cnode *n);
uint64_t node_new_id(void);
struct wire_time node_now(void);
/* Errno for an API error answer (docs/api.md's mapping). */
int node_api_errno(long status, const cJSON *reply);

/* Kernel cache invalidation (never under fs->lock). */
void fs_inval_entry(struct dbxfs *fs, uint64_t parent, const char *name);
void fs_inval_inode(struct dbxfs *fs, uint64_t id, int data);
void fs_notify_delete(struct dbxfs *fs, uint64_t parent, uint64_t id,
                      const char *name);

/* The low-level operation table (ops_*.c). */
void ops_fill(struct fuse_lowlevel_ops *ops);
void ops_entry_fill(struct fuse_lowlevel_ops *ops);
void ops_dir_fill(struct fuse_lowlevel_ops *ops);
void ops_file_fill(struct fuse_lowlevel_ops *ops);
void ops_xattr_fill(struct fuse_lowlevel_ops *ops);

/* dirlist.c: makes sure a directory's children are in the store, listing
 * it from dbxd if this device never has. 0 or -errno (-EIO offline). */
int dirlist_ensure(struct dbxfs *fs, uint64_t dir);

/* status.c: the JSON of the user.dbxfs.status xattr (malloc'd). */
char *status_json(struct dbxfs *fs);

#endif
