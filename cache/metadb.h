/* metadb: the mount's metadata store, the local half of "local-first".
 *
 * One LMDB environment, DIR/meta.lmdb, holding:
 *   nodes    id → the node as this device knows it (struct cnode)
 *   dirents  parent id + name → child id (sorted: readdir order)
 *   maps     id + offset → chunk (hash, size): a file's cached chunk map
 *   journal  seq → one operation still to push to dbxd, in order
 *   pending  id → how many journal operations name the node
 *   jnode    id + seq → the journal operations of each node
 *   dirty    id → write generation: files whose staging content is not yet
 *            on the server
 *   xattrs   id + name → value (user.* attributes)
 *   kv       small named numbers (cursor, root id)
 *   remote   id → dbxd's record of the node as the change feed and
 *            listings last showed it: the remote mirror
 *   rgone    id → sequence number of its delete on dbxd (remote tombstone)
 *   gone     id → ids removed here whose deletion the mirror does not show
 *            yet, with the rev of dbxd's answer to the delete (0: none yet)
 *   resync   ids whose local record waits to be brought in step with the
 *            mirror (docs/architecture.md, "The sync model")
 *
 * The environment is opened MDB_NOSYNC | MDB_WRITEMAP: a transaction
 * writes straight into the shared mapping, so once committed it is in the
 * kernel's page cache and survives kill -9 of the mount; metadb_sync
 * (msync) makes it survive a power loss too, and the mount calls it on
 * fsync() and every few seconds, as ext4 commits its journal. A metadata
 * operation therefore costs memory writes, not a system call or a flush.
 *
 * Callers open a transaction, call the accessors, and commit or abort.
 * Write transactions are serialised by LMDB (and by the caller's lock);
 * read transactions run concurrently with them and with each other, from
 * any thread (MDB_NOTLS). Errors are -errno (-ENOENT: no such record;
 * LMDB's as cache/lmdb_err.h maps them). metadb logs nothing. */
#ifndef DBX_METADB_H
#define DBX_METADB_H

#include <stddef.h>
#include <stdint.h>

#include "hash.h"
#include "wire.h"

/* Node flags. */
enum {
    CN_LISTED = 1 << 0,   /* dir: every child is in the store */
    CN_LOCAL  = 1 << 1,   /* created here; the server has not got it yet */
    CN_DIRTY  = 1 << 2,   /* staging file holds content the server lacks */
    CN_COPY   = 1 << 3,   /* staging file holds the whole content */
    CN_ORPHAN = 1 << 4,   /* unlinked while open: dropped at last close */
    CN_SHARED = 1 << 5,   /* in another user's tree (shared with this one) */
    CN_SHARE_ROOT = 1 << 6, /* shared directly: an entry of Shared with me */
    CN_VIEWER = 1 << 7,   /* shared read-only */
    CN_TRACKED = 1 << 8,  /* dir: the feed's events for its children are
                           * applied (set when a listing starts) */
};

struct cnode {
    uint64_t id, parent;
    uint32_t type;                 /* enum node_type */
    uint32_t mode, uid, gid;       /* mode: permission bits only */
    struct wire_time atime, mtime, ctime;
    uint64_t size;
    uint64_t rev, content_rev;     /* the server's; 0 before the first push */
    uint64_t map_rev;              /* content_rev of the cached chunk map */
    uint32_t flags;
    char name[256];
    char target[WIRE_TARGET_MAX + 1];
};

struct map_entry {
    uint64_t offset;
    uint32_t size;
    uint32_t index;                /* position in the file's chunk list */
    uint8_t hash[HASH_LEN];
};

typedef struct metadb metadb;
typedef struct metadb_txn metadb_txn;

int metadb_open(const char *dir, metadb **out);
void metadb_close(metadb *db);
int metadb_sync(metadb *db);

int metadb_begin(metadb *db, int write, metadb_txn **out);
int metadb_commit(metadb_txn *t);
void metadb_abort(metadb_txn *t);

int metadb_node_get(metadb_txn *t, uint64_t id, struct cnode *n);
int metadb_node_put(metadb_txn *t, const struct cnode *n);
int metadb_node_del(metadb_txn *t, uint64_t id);
/* Calls fn for every node until it returns non-zero (startup cleanup); a
 * negative return (an -errno) is the walk's result. */
int metadb_node_each(metadb_txn *t, int (*fn)(void *arg, const struct cnode *n),
                     void *arg);

int metadb_dirent_get(metadb_txn *t, uint64_t parent, const char *name,
                      uint64_t *child);
int metadb_dirent_put(metadb_txn *t, uint64_t parent, const char *name,
                      uint64_t child);
int metadb_dirent_del(metadb_txn *t, uint64_t parent, const char *name);
/* Children of parent in name order, starting after `after` (NULL: from the
 * first), until fn returns non-zero; a negative return (an -errno) is the
 * walk's result. */
typedef int (*metadb_dirent_fn)(void *arg, const char *name, uint64_t child);
int metadb_dirent_each(metadb_txn *t, uint64_t parent, const char *after,
                       metadb_dirent_fn fn, void *arg);
int metadb_dir_is_empty(metadb_txn *t, uint64_t parent);   /* 1, 0, -errno */

int metadb_map_clear(metadb_txn *t, uint64_t id);
int metadb_map_put(metadb_txn *t, uint64_t id, const struct map_entry *e);
/* The chunk holding byte off of the file (-ENOENT past the end). */
int metadb_map_find(metadb_txn *t, uint64_t id, uint64_t off,
                    struct map_entry *e);

/* The journal: operations are JSON text, appended in order, each naming
 * its node and maybe a second one it changes too (also: 0 for none).
 * Appending or removing keeps both nodes' pending counts and index. */
int metadb_journal_append(metadb_txn *t, uint64_t id, uint64_t also, const char *op);
/* Before every queued operation (-ERANGE for a journal of an older
 * version that has no room below its first). */
int metadb_journal_prepend(metadb_txn *t, uint64_t id, uint64_t also, const char *op);
/* The operation at seq: *id and a malloc'd copy in *op, or -ENOENT. */
int metadb_journal_get(metadb_txn *t, uint64_t seq, uint64_t *id, char **op);
/* The sequence numbers of the operations naming id (either way), oldest
 * first, up to max: how many, or -errno. */
int metadb_journal_of(metadb_txn *t, uint64_t id, uint64_t *seqs, int max);
/* The oldest operation after sequence number `after` (0: the oldest of
 * all; they start at 1): *seq, *id and a malloc'd copy in *op. -ENOENT when
 * there is none. */
int metadb_journal_next(metadb_txn *t, uint64_t after, uint64_t *seq, uint64_t *id,
                        char **op);
int metadb_journal_replace(metadb_txn *t, uint64_t seq, const char *op);
int metadb_journal_del(metadb_txn *t, uint64_t seq);
uint64_t metadb_journal_count(metadb_txn *t);
uint64_t metadb_pending(metadb_txn *t, uint64_t id);

int metadb_dirty_put(metadb_txn *t, uint64_t id, uint64_t gen);
int metadb_dirty_get(metadb_txn *t, uint64_t id, uint64_t *gen);
int metadb_dirty_del(metadb_txn *t, uint64_t id);
uint64_t metadb_dirty_count(metadb_txn *t);
/* Up to max dirty ids, in id order after `after` (0: from the start). */
int metadb_dirty_list(metadb_txn *t, uint64_t after, uint64_t *ids, int max);

/* xattrs: value into buf (size 0: only the length). Returns the length,
 * -ENODATA, or -ERANGE when buf is too small. */
int metadb_xattr_get(metadb_txn *t, uint64_t id, const char *name, void *buf,
                     size_t size);
int metadb_xattr_set(metadb_txn *t, uint64_t id, const char *name,
                     const void *value, size_t len);
int metadb_xattr_del(metadb_txn *t, uint64_t id, const char *name);
/* Names, each NUL-terminated, into buf as listxattr(2) (size 0: length). */
int metadb_xattr_list(metadb_txn *t, uint64_t id, char *buf, size_t size);
int metadb_xattr_del_all(metadb_txn *t, uint64_t id);

/* The remote mirror (flags and map_rev are not kept there). */
int metadb_remote_get(metadb_txn *t, uint64_t id, struct cnode *n);
int metadb_remote_put(metadb_txn *t, const struct cnode *n);
int metadb_remote_del(metadb_txn *t, uint64_t id);   /* absent: 0 */
/* Remote tombstones: get returns the delete's sequence number, 0 if none. */
int metadb_rgone_put(metadb_txn *t, uint64_t id, uint64_t seq);
uint64_t metadb_rgone_get(metadb_txn *t, uint64_t id);
int metadb_rgone_del(metadb_txn *t, uint64_t id);
int metadb_rgone_list(metadb_txn *t, uint64_t after, uint64_t *ids, int max);
/* Local tombstones: rev is dbxd's answer to the delete (0: not yet). */
int metadb_gone_put(metadb_txn *t, uint64_t id, uint64_t rev);
int metadb_gone_get(metadb_txn *t, uint64_t id, uint64_t *rev);  /* -ENOENT if none */
int metadb_gone_del(metadb_txn *t, uint64_t id);     /* absent: 0 */
/* The resync set. */
int metadb_resync_put(metadb_txn *t, uint64_t id);
int metadb_resync_del(metadb_txn *t, uint64_t id);
int metadb_resync_list(metadb_txn *t, uint64_t after, uint64_t *ids, int max);
uint64_t metadb_resync_count(metadb_txn *t);

int metadb_kv_get(metadb_txn *t, const char *key, uint64_t *value);
int metadb_kv_put(metadb_txn *t, const char *key, uint64_t value);

#endif
