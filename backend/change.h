/* change: one write transaction of dbxd and the events it produces. Every
 * change to a node takes the next global sequence number as the node's rev,
 * is written, and appends an event to the feed of each user who can see the
 * node — all in the same transaction, so a node and its events commit
 * together or not at all. change_commit then wakes those users' long-polls.
 *
 *   struct change c;
 *   if (change_begin(d, &c) == 0) { ... change_put_node(&c, &n, 0, NULL) ...
 *                                   rc = change_commit(&c); }
 */
#ifndef DBX_CHANGE_H
#define DBX_CHANGE_H

#include <cjson/cJSON.h>

#include "access.h"
#include "dbxd.h"

struct change {
    struct dbxd *d;
    ms_txn *t;
    struct wire_time now;
    size_t nwake;
    int wake_all;
    uint32_t wake[256];
};

enum { CHANGE_CONTENT = 1 };  /* change_put_node: the content changed too */

int change_begin(struct dbxd *d, struct change *c);
int change_commit(struct change *c);
void change_abort(struct change *c);

/* Writes n with a new rev (and content_rev with CHANGE_CONTENT) and ctime,
 * and tells its audience. before: the audience the node had before a move,
 * whose members that lose sight of it are told it is gone; NULL if none. */
int change_put_node(struct change *c, struct dbx_node *n, unsigned flags,
                    const struct audience *before);
/* Deletes n (and its content's chunk references) and tells its audience. */
int change_delete_node(struct change *c, const struct dbx_node *n);
/* An event for one user only: "share" / "unshare". */
int change_tell(struct change *c, uint32_t uid, const char *op, const struct dbx_node *n, enum role role);

/* The node as the API shows it to a user with the given role. */
cJSON *change_node_json(ms_txn *t, const struct dbx_node *n, enum role role);

/* Chunk reference counting for contents (used by deletes and commits). */
int change_chunk_refs(struct change *c, const struct dbx_chunk *chunks, uint32_t n, int delta);
int change_chunk_pins(struct change *c, const struct dbx_chunk *chunks, uint32_t n, int delta);

#endif
