/* tree_xattr: user.* extended attributes, kept per node in the metadata
 * store (this device only: the v1 wire API has no field for them yet). */
#include <errno.h>
#include <sys/xattr.h>

#include "node.h"
#include "shared.h"
#include "tree.h"

int tree_xattr_get(struct dbxfs *fs, uint64_t id, const char *name, void *buf, size_t size)
{
    metadb_txn *t;
    int rc = metadb_begin(fs->db, 0, &t);

    if (rc)
        return rc;
    rc = metadb_xattr_get(t, id, name, buf, size);
    metadb_abort(t);
    return rc;
}

int tree_xattr_list(struct dbxfs *fs, uint64_t id, char *buf, size_t size)
{
    metadb_txn *t;
    int rc = metadb_begin(fs->db, 0, &t);

    if (rc)
        return rc;
    rc = metadb_xattr_list(t, id, buf, size);
    metadb_abort(t);
    return rc;
}

struct set_arg {
    uint64_t id;
    const char *name;
    const void *value;
    size_t len;
    int flags;
};

static int do_set(struct dbxfs *fs, metadb_txn *t, void *arg)
{
    struct set_arg *a = arg;
    struct cnode n;
    int have = metadb_xattr_get(t, a->id, a->name, NULL, 0) >= 0;
    int rc = metadb_node_get(t, a->id, &n);

    (void)fs;
    if (rc)
        return rc;
    if ((a->flags & XATTR_CREATE) && have)
        return -EEXIST;
    if ((a->flags & XATTR_REPLACE) && !have)
        return -ENODATA;
    n.ctime = node_now();
    rc = metadb_node_put(t, &n);
    if (rc)
        return rc;
    return a->value ? metadb_xattr_set(t, a->id, a->name, a->value, a->len)
                    : metadb_xattr_del(t, a->id, a->name);
}

int tree_xattr_set(struct dbxfs *fs, uint64_t id, const char *name,
                   const void *value, size_t len, int flags)
{
    struct set_arg a = { id, name, value, len, value ? flags : XATTR_REPLACE };
    int rc = shared_check_write(fs, id);

    return rc ? rc : fs_write(fs, do_set, &a);
}
