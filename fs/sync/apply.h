/* apply: the one way dbxd's view enters the local tree.
 *
 * Records from the server (change feed events, directory listings, the
 * shares list) go into the remote mirror first (apply_remote,
 * apply_remote_delete), in revision order, whatever this device has
 * pending; then the node is reconciled (apply_reconcile): plan.c decides
 * from the local record, the mirror and the pending work whether the local
 * record takes the mirror's, waits (the node goes into the resync set),
 * is added, forgotten, or created again on dbxd. Everything that can end
 * a wait (an answer to an operation, a commit, a last close, an echo from
 * the feed) reconciles the node again, and apply_resync sweeps the set.
 * docs/architecture.md, "The sync model", has the rules and invariants.
 *
 * All of it runs inside the caller's write transaction under fs->lock; the
 * kernel notifications a change needs are collected in `notes` and sent by
 * apply_notes_send after the commit, outside the lock. */
#ifndef DBXFS_APPLY_H
#define DBXFS_APPLY_H

#include "dbxfs.h"

struct apply_note {
    int kind;                     /* APPLY_INVAL_ENTRY, _INODE, _DATA, _DELETE */
    uint64_t parent, id;
    char name[256];
};

enum { APPLY_INVAL_ENTRY = 1, APPLY_INVAL_INODE, APPLY_INVAL_DATA, APPLY_DELETE };

struct apply_notes {
    struct apply_note *v;
    size_t n, cap;
};

/* Adds one notification to send later. */
void apply_note(struct apply_notes *notes, int kind, uint64_t parent,
                uint64_t id, const char *name);

/* dbxd's record of a node: into the mirror when it is newer than what the
 * mirror holds and the node is one this device follows; then reconciled. */
int apply_remote(struct dbxfs *fs, metadb_txn *t, const struct cnode *srv,
                 struct apply_notes *notes);
/* dbxd deleted id at sequence number seq. */
int apply_remote_delete(struct dbxfs *fs, metadb_txn *t, uint64_t id, uint64_t seq,
                        struct apply_notes *notes);
/* A node shared with this user, shown in Shared with me as `name`: its
 * record goes into the mirror, its local record is placed there. */
int apply_share_root(struct dbxfs *fs, metadb_txn *t, const struct cnode *srv,
                     const char *name, struct apply_notes *notes);
/* Brings id's local record in step with the mirror, or puts it in the
 * resync set with the reason to wait. */
int apply_reconcile(struct dbxfs *fs, metadb_txn *t, uint64_t id,
                    struct apply_notes *notes);
/* Reconciles up to max nodes of the resync set (from after `*after`, which
 * it advances; 0 starts over). 1 when the end was reached, 0, or -errno. */
int apply_resync(struct dbxfs *fs, metadb_txn *t, uint64_t *after, int max,
                 struct apply_notes *notes);
/* The last handle of id closed: a change from dbxd that waited for it is
 * taken now (called from a FUSE handler: notifications go async). */
void apply_closed(struct dbxfs *fs, uint64_t id);
/* 1 when n holds work of this device dbxd lacks: dirty content, or (a
 * directory) a node below with any local change. */
int apply_has_work(metadb_txn *t, const struct cnode *n);
/* Reconciles the whole resync set, in transactions of its own (at most
 * every 200 ms: now_ms is the caller's monotonic clock). */
void apply_sweep(struct dbxfs *fs, long long now_ms);
/* Drops remote tombstones nothing can need any more. */
void apply_prune(struct dbxfs *fs);
/* Drops id and everything below it from the local tree and the mirror
 * (revoked shares). */
int apply_forget(struct dbxfs *fs, metadb_txn *t, uint64_t id, struct apply_notes *notes);

/* Sends and frees the notes. */
void apply_notes_send(struct dbxfs *fs, struct apply_notes *notes);
/* The same from a helper thread, for a caller that is itself serving a
 * FUSE request: the kernel may hold the very directory lock a
 * notification needs until that request is answered. */
void apply_notes_send_async(struct dbxfs *fs, struct apply_notes *notes);
/* Waits until every asynchronous sender is done (before the session goes). */
void apply_notes_drain(struct dbxfs *fs);

#endif
