/* shared: the virtual `Shared with me` directory at the mount's root, and
 * the rules for nodes of other users' trees.
 *
 * The directory is a local-only node (SHARED_ID) with a dirent under the
 * root; it is never journaled, and the server's listing and feed never
 * remove it. Its children are the nodes shared directly with this user
 * (GET /v1/shared), placed here under a display name (`NAME (OWNER)` when
 * two share a name) with CN_SHARE_ROOT; they and everything below them
 * carry CN_SHARED (another user's tree) and, for a viewer's share,
 * CN_VIEWER. Below a share root, nodes are the owner's real ones, synced by
 * the feed as any other.
 *
 * The list comes from dbxd through sync/shared_list.c.
 *
 * Rules, checked by the FUSE handlers (the kernel's default_permissions
 * passes root through, so the mount checks itself): nothing is created,
 * renamed or removed in `Shared with me/` itself; a viewer's nodes are
 * read-only; a rename across owners' trees is EXDEV (mv then copies). */
#ifndef DBXFS_SHARED_H
#define DBXFS_SHARED_H

#include "dbxfs.h"
#include "names.h"

#define SHARED_ID 2ULL                 /* no random 64-bit id is ever this */
#define SHARED_NAME NAME_RESERVED_AT_ROOT

/* Puts the directory in the store under the root (startup). */
int shared_init(struct dbxfs *fs);
/* May node n be changed here (its content, attributes, or, for a
 * directory, its entries)? 0, or -EACCES. For callers that hold the node
 * already; shared_check_write reads it first. */
static inline int shared_may_write(const struct cnode *n)
{
    return n->id == SHARED_ID || (n->flags & CN_VIEWER) ? -EACCES : 0;
}
int shared_check_write(struct dbxfs *fs, uint64_t id);
/* Renaming from parent to newparent: 0, -EACCES, or -EXDEV when the two
 * lie in different owners' trees. */
int shared_check_move(struct dbxfs *fs, uint64_t parent, uint64_t newparent);

#endif
