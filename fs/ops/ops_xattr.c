/* ops_xattr: extended attributes. user.* attributes are the local tree's
 * (local/tree.h: tree_xattr_*). user.dbxfs.* names are virtual and
 * read-only: .id is the node id (dbxctl finds nodes through it; `Shared
 * with me` has none), .status on the root is the sync state as JSON. Other
 * namespaces are not supported, as on a filesystem mounted without them.
 * Each handler replies once, at its end. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ops.h"
#include "shared.h"
#include "status.h"
#include "tree.h"

#define XATTR_PREFIX "user."
#define VIRTUAL_PREFIX "user.dbxfs."
#define XATTR_VALUE_MAX 65536

static int check_name(const char *name)
{
    if (strncmp(name, XATTR_PREFIX, strlen(XATTR_PREFIX)) != 0)
        return -EOPNOTSUPP;
    return strlen(name) > 255 ? -ERANGE : 0;
}

static int is_virtual(const char *name)
{
    return strncmp(name, VIRTUAL_PREFIX, strlen(VIRTUAL_PREFIX)) == 0;
}

/* The reply to a get or list that found len bytes of value (negative:
 * -errno): the length when asked for it (size 0), else the bytes. */
static void reply_value(fuse_req_t req, const void *value, ssize_t len, size_t size)
{
    if (len < 0)
        fuse_reply_err(req, (int)-len);
    else if (size == 0)
        fuse_reply_xattr(req, (size_t)len);
    else if ((size_t)len > size)
        fuse_reply_err(req, ERANGE);
    else
        fuse_reply_buf(req, value, (size_t)len);
}

/* A virtual attribute's value (malloc'd into *out) and its length, or
 * -errno. */
static ssize_t virtual_value(struct dbxfs *fs, uint64_t id, const char *name, char **out)
{
    if (strcmp(name, VIRTUAL_PREFIX "id") == 0) {
        if (id == SHARED_ID)
            return -ENODATA;    /* a view of this mount, not a node on dbxd */
        if (!(*out = malloc(17)))
            return -ENOMEM;
        wire_id_format(id, *out);
        return 16;
    }
    if (strcmp(name, VIRTUAL_PREFIX "status") == 0 && id == fs->root_id) {
        *out = status_json(fs);
        return *out ? (ssize_t)strlen(*out) : -ENOMEM;
    }
    return -ENODATA;
}

/* An attribute's value (malloc'd into *value, when there is room to ask
 * for or it is virtual) and its length, or -errno. */
static ssize_t get_value(struct dbxfs *fs, uint64_t id, const char *name,
                         size_t size, char **value)
{
    ssize_t len = check_name(name);

    if (len)
        return len;
    if (is_virtual(name))
        return virtual_value(fs, id, name, value);
    if (size && !(*value = malloc(size)))
        return -ENOMEM;
    return tree_xattr_get(fs, id, name, *value, size);
}

static void op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
    struct dbxfs *fs = ops_fs(req);
    char *value = NULL;
    ssize_t len = get_value(fs, fs_id(fs, ino), name, size, &value);

    reply_value(req, value, len, size);
    free(value);
}

/* setxattr and removexattr (value NULL). */
static int set_stored(struct dbxfs *fs, fuse_ino_t ino, const char *name,
                      const char *value, size_t size, int flags)
{
    int rc = check_name(name);

    if (rc)
        return rc;
    if (is_virtual(name))
        return -EPERM;
    if (size > XATTR_VALUE_MAX)
        return -E2BIG;
    return tree_xattr_set(fs, fs_id(fs, ino), name, value, size, flags);
}

static void op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
                        const char *value, size_t size, int flags)
{
    fuse_reply_err(req, -set_stored(ops_fs(req), ino, name, value, size, flags));
}

static void op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
    fuse_reply_err(req, -set_stored(ops_fs(req), ino, name, NULL, 0, 0));
}

static void op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
    struct dbxfs *fs = ops_fs(req);
    char *buf = size ? malloc(size) : NULL;
    ssize_t len = size && !buf ? -ENOMEM : tree_xattr_list(fs, fs_id(fs, ino), buf, size);

    reply_value(req, buf, len, size);
    free(buf);
}

void ops_xattr_fill(struct fuse_lowlevel_ops *ops)
{
    ops->getxattr = op_getxattr;
    ops->setxattr = op_setxattr;
    ops->removexattr = op_removexattr;
    ops->listxattr = op_listxattr;
}
