/* apply: folds the server's view of a node (from the change feed or a
 * directory listing) into the local store, inside the caller's write
 * transaction, without overriding what this device has not pushed yet
 * (pending journal operations, dirty content: those reach the server later
 * and the server settles the conflict, keeping both versions).
 *
 * The kernel notifications a change needs are collected in `notes` and
 * sent by apply_notes_send after the transaction commits and fs->lock is
 * released. */
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
int apply_upsert(struct dbxfs *fs, metadb_txn *t, const struct cnode *srv,
                 struct apply_notes *notes);
int apply_delete(struct dbxfs *fs, metadb_txn *t, uint64_t id,
                 struct apply_notes *notes);
/* The node as the answer to this device's own request (a journal
 * operation, an upload commit) shows it: takes its revision into n, unless
 * the server's content is one this device has not got (another device
 * committed meanwhile); then n keeps its older revision and 1 is returned:
 * the caller asks pull_refresh to read the node again, which applies the
 * new content as any remote change. */
int apply_own_reply(struct cnode *n, const struct cnode *srv);
/* Sends and frees the notes. */
void apply_notes_send(struct dbxfs *fs, struct apply_notes *notes);
/* The same from a helper thread, for a caller that is itself serving a
 * FUSE request: the kernel may hold the very directory lock a
 * notification needs until that request is answered. */
void apply_notes_send_async(struct dbxfs *fs, struct apply_notes *notes);
/* Waits until every asynchronous sender is done (before the session goes). */
void apply_notes_drain(struct dbxfs *fs);

#endif
