/* metadb: directory entries and extended attributes, both keyed by a node
 * id followed by a name. */
#include <stdlib.h>
#include <string.h>

#include "metadb_int.h"

#define NAMEKEY_MAX (8 + 256)

static size_t namekey(uint8_t *k, uint64_t id, const char *name)
{
    size_t len = strnlen(name, 255);
    put_be64(k, id);
    memcpy(k + 8, name, len);
    return 8 + len;
}

int metadb_dirent_get(metadb_txn *t, uint64_t parent, const char *name,
                      uint64_t *child)
{
    uint8_t k[NAMEKEY_MAX];
    MDB_val v;
    int rc = metadb_get(t, DBI_DIRENTS, k, namekey(k, parent, name), &v);

    if (rc)
        return rc;
    if (v.mv_size != 8)
        return -EIO;
    *child = get_be64(v.mv_data);
    return 0;
}

int metadb_dirent_put(metadb_txn *t, uint64_t parent, const char *name,
                      uint64_t child)
{
    uint8_t k[NAMEKEY_MAX], v[8];
    put_be64(v, child);
    return metadb_put(t, DBI_DIRENTS, k, namekey(k, parent, name), v, 8);
}

int metadb_dirent_del(metadb_txn *t, uint64_t parent, const char *name)
{
    uint8_t k[NAMEKEY_MAX];
    return metadb_del(t, DBI_DIRENTS, k, namekey(k, parent, name));
}

/* Walks the keys that start with id, from the first after `after`. fn gets
 * the name part (NUL-terminated copy) and the value. */
typedef int (*prefix_fn)(void *arg, const char *name, const MDB_val *v);

static int prefix_each(metadb_txn *t, int dbi, uint64_t id, const char *after,
                       prefix_fn fn, void *arg)
{
    uint8_t k[NAMEKEY_MAX];
    char name[256];
    MDB_val key, v;
    MDB_cursor *c;
    int stop = 0, rc = metadb_cursor(t, dbi, &c);

    if (rc)
        return rc;
    key.mv_size = after ? namekey(k, id, after) : (put_be64(k, id), 8);
    key.mv_data = k;
    rc = mdb_cursor_get(c, &key, &v, MDB_SET_RANGE);
    if (rc)
        goto out;
    /* SET_RANGE stops at `after` itself if it is still there. */
    if (after && key.mv_size == 8 + strlen(after) &&
        memcmp(key.mv_data, k, key.mv_size) == 0)
        rc = mdb_cursor_get(c, &key, &v, MDB_NEXT);
    for (; rc == 0; rc = mdb_cursor_get(c, &key, &v, MDB_NEXT)) {
        size_t nlen = key.mv_size - 8;
        if (key.mv_size < 8 || get_be64(key.mv_data) != id || nlen > 255)
            break;
        memcpy(name, (char *)key.mv_data + 8, nlen);
        name[nlen] = '\0';
        if ((stop = fn(arg, name, &v)))
            break;
    }
out:
    mdb_cursor_close(c);
    if (stop < 0)
        return stop;
    return rc == MDB_NOTFOUND ? 0 : lmdb_err(rc);
}

struct dirent_walk {
    metadb_dirent_fn fn;
    void *arg;
};

static int dirent_step(void *arg, const char *name, const MDB_val *v)
{
    struct dirent_walk *w = arg;
    return v->mv_size == 8 ? w->fn(w->arg, name, get_be64(v->mv_data)) : 0;
}

int metadb_dirent_each(metadb_txn *t, uint64_t parent, const char *after,
                       metadb_dirent_fn fn, void *arg)
{
    struct dirent_walk w = { fn, arg };
    return prefix_each(t, DBI_DIRENTS, parent, after, dirent_step, &w);
}

static int stop_at_first(void *arg, const char *name, const MDB_val *v)
{
    *(int *)arg = 0;
    return 1;
}

int metadb_dir_is_empty(metadb_txn *t, uint64_t parent)
{
    int empty = 1;
    int rc = prefix_each(t, DBI_DIRENTS, parent, NULL, stop_at_first, &empty);
    return rc ? rc : empty;
}

/* ---- xattrs ---- */

int metadb_xattr_get(metadb_txn *t, uint64_t id, const char *name, void *buf,
                     size_t size)
{
    uint8_t k[NAMEKEY_MAX];
    MDB_val v;
    int rc = metadb_get(t, DBI_XATTRS, k, namekey(k, id, name), &v);

    if (rc)
        return rc == -ENOENT ? -ENODATA : rc;
    if (size == 0)
        return (int)v.mv_size;
    if (v.mv_size > size)
        return -ERANGE;
    memcpy(buf, v.mv_data, v.mv_size);
    return (int)v.mv_size;
}

int metadb_xattr_set(metadb_txn *t, uint64_t id, const char *name,
                     const void *value, size_t len)
{
    uint8_t k[NAMEKEY_MAX];
    return metadb_put(t, DBI_XATTRS, k, namekey(k, id, name), value, len);
}

int metadb_xattr_del(metadb_txn *t, uint64_t id, const char *name)
{
    uint8_t k[NAMEKEY_MAX];
    int rc = metadb_del(t, DBI_XATTRS, k, namekey(k, id, name));
    return rc == -ENOENT ? -ENODATA : rc;
}

struct xattr_list {
    char *buf;
    size_t size, len;
    int overflow;
};

static int xattr_list_step(void *arg, const char *name, const MDB_val *v)
{
    struct xattr_list *l = arg;
    size_t n = strlen(name) + 1;

    if (l->size && l->len + n > l->size)
        l->overflow = 1;
    else if (l->size)
        memcpy(l->buf + l->len, name, n);
    l->len += n;
    return l->overflow;
}

int metadb_xattr_list(metadb_txn *t, uint64_t id, char *buf, size_t size)
{
    struct xattr_list l = { buf, size, 0, 0 };
    int rc = prefix_each(t, DBI_XATTRS, id, NULL, xattr_list_step, &l);

    if (rc)
        return rc;
    return l.overflow ? -ERANGE : (int)l.len;
}

static int collect_name(void *arg, const char *name, const MDB_val *v)
{
    struct xattr_list *l = arg;
    size_t n = strlen(name) + 1;
    char *p = realloc(l->buf, l->len + n);

    if (!p)
        return l->overflow = 1;
    memcpy(p + l->len, name, n);
    l->buf = p;
    l->len += n;
    return 0;
}

int metadb_xattr_del_all(metadb_txn *t, uint64_t id)
{
    struct xattr_list l = { 0 };
    int rc = prefix_each(t, DBI_XATTRS, id, NULL, collect_name, &l);

    if (rc)
        goto out;
    if (l.overflow) {               /* collect_name's realloc failed */
        rc = -ENOMEM;
        goto out;
    }
    /* Names first, deletes after: none happens under prefix_each's cursor. */
    for (size_t off = 0; off < l.len; off += strlen(l.buf + off) + 1)
        if ((rc = metadb_xattr_del(t, id, l.buf + off)))
            goto out;
out:
    free(l.buf);
    return rc;
}
