/* ops_xattr: extended attributes. user.* attributes are kept per node in
 * the metadata store (this device only: the v1 wire API has no field for
 * them yet). user.dbxfs.* names are virtual and read-only: .id is the node
 * id (dbxctl finds nodes through it; `Shared with me` has none), .status on the root is the sync
 * state as JSON. Other namespaces are not supported, as on a filesystem
 * mounted without them. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>

#include "shared.h"
#include "tree.h"

#define XATTR_PREFIX "user."
#define VIRTUAL_PREFIX "user.dbxfs."
#define XATTR_VALUE_MAX 65536

static struct dbxfs *fs_of(fuse_req_t req)
{
    return fuse_req_userdata(req);
}

static int check_name(const char *name)
{
    if (strncmp(name, XATTR_PREFIX, strlen(XATTR_PREFIX)) != 0)
        return -EOPNOTSUPP;
    return strlen(name) > 255 ? -ERANGE : 0;
}

static void reply_value(fuse_req_t req, const void *value, size_t len, size_t size)
{
    if (size == 0)
        fuse_reply_xattr(req, len);
    else if (len > size)
        fuse_reply_err(req, ERANGE);
    else
        fuse_reply_buf(req, value, len);
}

static int virtual_get(fuse_req_t req, uint64_t id, const char *name, size_t size)
{
    struct dbxfs *fs = fs_of(req);
    char hex[17], *json;

    if (strcmp(name, VIRTUAL_PREFIX "id") == 0) {
        if (id == SHARED_ID)
            return -ENODATA;    /* a view of this mount, not a node on dbxd */
        wire_id_format(id, hex);
        reply_value(req, hex, 16, size);
        return 0;
    }
    if (strcmp(name, VIRTUAL_PREFIX "status") == 0 && id == fs->root_id) {
        json = status_json(fs);
        if (!json)
            return -ENOMEM;
        reply_value(req, json, strlen(json), size);
        free(json);
        return 0;
    }
    return -ENODATA;
}

static int stored_get(fuse_req_t req, uint64_t id, const char *name, size_t size)
{
    char *buf = size ? malloc(size) : NULL;
    metadb_txn *t;
    int rc = size && !buf ? -ENOMEM : metadb_begin(fs_of(req)->db, 0, &t);

    if (rc == 0) {
        rc = metadb_xattr_get(t, id, name, buf, size);
        metadb_abort(t);
    }
    if (rc >= 0) {
        reply_value(req, buf, (size_t)rc, size);
        rc = 0;
    }
    free(buf);
    return rc;
}

static int is_virtual(const char *name)
{
    return strncmp(name, VIRTUAL_PREFIX, strlen(VIRTUAL_PREFIX)) == 0;
}

static void op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
    uint64_t id = fs_id(fs_of(req), ino);
    int rc = check_name(name);

    if (rc == 0)
        rc = is_virtual(name) ? virtual_get(req, id, name, size)
                              : stored_get(req, id, name, size);
    if (rc)
        fuse_reply_err(req, -rc);
}

struct set_arg {
    uint64_t id;
    const char *name, *value;
    size_t len;
    int flags;
};

static int do_setxattr(struct dbxfs *fs, metadb_txn *t, void *arg)
{
    struct set_arg *a = arg;
    struct cnode n;
    int have = metadb_xattr_get(t, a->id, a->name, NULL, 0) >= 0;
    int rc = metadb_node_get(t, a->id, &n);

    if (rc)
        return rc;
    if ((a->flags & XATTR_CREATE) && have)
        return -EEXIST;
    if ((a->flags & XATTR_REPLACE) && !have)
        return -ENODATA;
    n.ctime = node_now();
    rc = metadb_node_put(t, &n);
    return rc ? rc : a->value ? metadb_xattr_set(t, a->id, a->name, a->value, a->len)
                              : metadb_xattr_del(t, a->id, a->name);
}

static void op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
                        const char *value, size_t size, int flags)
{
    struct dbxfs *fs = fs_of(req);
    struct set_arg a = { fs_id(fs, ino), name, value, size, flags };
    int rc = check_name(name);

    if (rc == 0 && is_virtual(name))
        rc = -EPERM;
    if (rc == 0 && size > XATTR_VALUE_MAX)
        rc = -E2BIG;
    if (rc == 0)
        rc = shared_check_write(fs, a.id);
    if (rc == 0)
        rc = tree_write(fs, do_setxattr, &a);
    fuse_reply_err(req, -rc);
}

static void op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
    struct dbxfs *fs = fs_of(req);
    struct set_arg a = { fs_id(fs, ino), name, NULL, 0, XATTR_REPLACE };
    int rc = check_name(name);

    if (rc == 0 && is_virtual(name))
        rc = -EPERM;
    if (rc == 0)
        rc = shared_check_write(fs, a.id);
    if (rc == 0)
        rc = tree_write(fs, do_setxattr, &a);
    fuse_reply_err(req, -rc);
}

static void op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
    struct dbxfs *fs = fs_of(req);
    char *buf = size ? malloc(size) : NULL;
    metadb_txn *t;
    int rc = size && !buf ? -ENOMEM : metadb_begin(fs->db, 0, &t);

    if (rc == 0) {
        rc = metadb_xattr_list(t, fs_id(fs, ino), buf, size);
        metadb_abort(t);
    }
    if (rc < 0)
        fuse_reply_err(req, -rc);
    else
        reply_value(req, buf, (size_t)rc, size);
    free(buf);
}

void ops_xattr_fill(struct fuse_lowlevel_ops *ops)
{
    ops->getxattr = op_getxattr;
    ops->setxattr = op_setxattr;
    ops->removexattr = op_removexattr;
    ops->listxattr = op_listxattr;
}
