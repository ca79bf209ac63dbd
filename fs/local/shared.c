/* shared: see shared.h. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "node.h"
#include "shared.h"
#include "tree.h"

static int do_init(struct dbxfs *fs, metadb_txn *t, void *arg)
{
    struct cnode n;

    if (metadb_node_get(t, SHARED_ID, &n) != 0) {
        memset(&n, 0, sizeof(n));
        n.id = SHARED_ID;
        n.type = NODE_DIR;
        n.mode = 0555;
        n.atime = n.mtime = n.ctime = node_now();
        snprintf(n.name, sizeof(n.name), "%s", SHARED_NAME);
    }
    n.parent = fs->root_id;
    n.flags = CN_SHARED;        /* listed afresh at the first look */
    int rc = metadb_node_put(t, &n);
    /* The name is reserved: a node of that name on the server stays hidden. */
    return rc ? rc : metadb_dirent_put(t, fs->root_id, SHARED_NAME, SHARED_ID);
}

int shared_init(struct dbxfs *fs)
{
    return fs_write(fs, do_init, NULL);
}

int shared_check_write(struct dbxfs *fs, uint64_t id)
{
    struct cnode n;

    return tree_get(fs, id, &n) == 0 ? shared_may_write(&n) : 0;
}

/* The share root above id, or 0 for a node of this user's own tree. */
static uint64_t tree_owner(struct dbxfs *fs, uint64_t id)
{
    struct cnode n;

    for (int depth = 0; depth < 4096 && tree_get(fs, id, &n) == 0; depth++) {
        if (!(n.flags & CN_SHARED) || (n.flags & CN_SHARE_ROOT))
            return (n.flags & CN_SHARE_ROOT) ? n.id : 0;
        id = n.parent;
    }
    return 0;
}

int shared_check_move(struct dbxfs *fs, uint64_t parent, uint64_t newparent)
{
    int rc = shared_check_write(fs, parent);

    if (rc)
        return rc;
    rc = shared_check_write(fs, newparent);
    if (rc)
        return rc;
    return tree_owner(fs, parent) != tree_owner(fs, newparent) ? -EXDEV : 0;
}
