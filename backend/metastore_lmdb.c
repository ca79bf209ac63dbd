/* The LMDB implementation of metastore.h. Keys are big-endian so that LMDB's
 * byte order is numeric order; values are fixed little records copied in and
 * out with memcpy (the store is local to one machine, so host byte order is
 * fine inside values). Directory entries are keyed (parent, name) so that a
 * listing is one cursor walk in name order. */
#include "metastore.h"

#include <errno.h>
#include <lmdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "be.h"
#include "log.h"

enum dbi_index {
    DBI_META, DBI_USERS, DBI_UIDS, DBI_TOKENS, DBI_NODES, DBI_DIRENTS,
    DBI_CONTENT, DBI_CHUNKS, DBI_GCQ, DBI_UPLOADS, DBI_SHARES, DBI_SHARED,
    DBI_FEED, DBI_HOLDS, DBI_COUNT
};

static const char *const dbi_names[DBI_COUNT] = {
    "meta", "users", "uids", "tokens", "nodes", "dirents",
    "content", "chunks", "gcq", "uploads", "shares", "shared", "feed", "holds",
};

struct metastore {
    MDB_env *env;
    MDB_dbi dbi[DBI_COUNT];
};

struct ms_txn {
    metastore *ms;
    MDB_txn *txn;
};

/* On-disk node record; the name and the symlink target follow it. */
struct node_disk {
    uint64_t parent, size, rev, content_rev;
    int64_t atime, mtime, ctime;
    uint32_t atime_ns, mtime_ns, ctime_ns;
    uint32_t mode, uid, gid, owner_uid;
    uint16_t name_len, target_len;
    uint8_t type, version;
};

struct upload_disk {
    uint32_t uid, nchunks;
    uint64_t node, base_rev, size, result_rev, conflict_node;
    int64_t created, expires;
    uint8_t state, pad[7];
};

static int map_err(int rc)
{
    switch (rc) {
    case 0: return 0;
    case MDB_NOTFOUND: return MS_NOTFOUND;
    case MDB_KEYEXIST: return MS_EXISTS;
    case MDB_MAP_FULL: case ENOSPC: return MS_FULL;
    default:
        log_error("lmdb: %s", mdb_strerror(rc));
        return MS_IO;
    }
}

/* --- environment and transactions --- */

static int open_dbis(metastore *ms)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(ms->env, NULL, 0, &txn);
    if (rc)
        return map_err(rc);
    for (int i = 0; i < DBI_COUNT && rc == 0; i++)
        rc = mdb_dbi_open(txn, dbi_names[i], MDB_CREATE, &ms->dbi[i]);
    if (rc) {
        mdb_txn_abort(txn);
        return map_err(rc);
    }
    return map_err(mdb_txn_commit(txn));
}

int ms_open(const char *dir, size_t map_size, metastore **out)
{
    metastore *ms = calloc(1, sizeof *ms);
    int rc = MS_IO;
    if (!ms)
        return MS_IO;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        goto out;
    if ((rc = mdb_env_create(&ms->env)) != 0)
        goto out_map;
    mdb_env_set_maxdbs(ms->env, DBI_COUNT);
    mdb_env_set_mapsize(ms->env, map_size);
    mdb_env_set_maxreaders(ms->env, 1024);
    /* MDB_NOTLS: a read transaction is not tied to a thread's slot, so any
     * number of request threads can read at once. */
    if ((rc = mdb_env_open(ms->env, dir, MDB_NOTLS, 0600)) != 0)
        goto out_map;
    int stale;
    mdb_reader_check(ms->env, &stale);  /* slots left by a killed process */
    if ((rc = open_dbis(ms)) != 0)
        goto out;
    *out = ms;
    return 0;
out_map:
    log_error("metastore %s: %s", dir, mdb_strerror(rc));
    rc = map_err(rc);
out:
    if (ms->env)
        mdb_env_close(ms->env);
    free(ms);
    return rc ? rc : MS_IO;
}

void ms_close(metastore *ms)
{
    if (!ms)
        return;
    mdb_env_close(ms->env);
    free(ms);
}

int ms_txn_begin(metastore *ms, int write, ms_txn **out)
{
    ms_txn *t = malloc(sizeof *t);
    if (!t)
        return MS_IO;
    t->ms = ms;
    int rc = mdb_txn_begin(ms->env, NULL, write ? 0 : MDB_RDONLY, &t->txn);
    if (rc) {
        free(t);
        return map_err(rc);
    }
    *out = t;
    return 0;
}

int ms_txn_commit(ms_txn *t)
{
    int rc = mdb_txn_commit(t->txn);
    free(t);
    return map_err(rc);
}

void ms_txn_abort(ms_txn *t)
{
    if (!t)
        return;
    mdb_txn_abort(t->txn);
    free(t);
}

/* --- generic helpers --- */

static int kv_get(ms_txn *t, int dbi, const void *k, size_t klen, MDB_val *v)
{
    MDB_val key = {klen, (void *)k};
    return map_err(mdb_get(t->txn, t->ms->dbi[dbi], &key, v));
}

static int kv_put(ms_txn *t, int dbi, const void *k, size_t klen, const void *v, size_t vlen)
{
    MDB_val key = {klen, (void *)k}, val = {vlen, (void *)v};
    return map_err(mdb_put(t->txn, t->ms->dbi[dbi], &key, &val, 0));
}

static int kv_del(ms_txn *t, int dbi, const void *k, size_t klen)
{
    MDB_val key = {klen, (void *)k};
    return map_err(mdb_del(t->txn, t->ms->dbi[dbi], &key, NULL));
}

static int kv_get_copy(ms_txn *t, int dbi, const void *k, size_t klen, void *out, size_t len)
{
    MDB_val v;
    int rc = kv_get(t, dbi, k, klen, &v);
    if (rc)
        return rc;
    if (v.mv_size != len)
        return MS_CORRUPT;
    memcpy(out, v.mv_data, len);
    return 0;
}

/* Walks the keys that start with prefix, from prefix+from (or the prefix
 * alone), calling fn(arg, key, value) until it returns non-zero. */
typedef int (*kv_fn)(void *arg, const MDB_val *k, const MDB_val *v);

static int kv_scan(ms_txn *t, int dbi, const void *prefix, size_t plen,
                   const void *from, size_t flen, kv_fn fn, void *arg)
{
    MDB_cursor *cur;
    uint8_t start[512];
    int rc = mdb_cursor_open(t->txn, t->ms->dbi[dbi], &cur);
    if (rc)
        return map_err(rc);
    if (plen + flen > sizeof start) {
        mdb_cursor_close(cur);
        return MS_IO;
    }
    memcpy(start, prefix, plen);
    if (flen)
        memcpy(start + plen, from, flen);
    MDB_val k = {plen + flen, start}, v;
    rc = mdb_cursor_get(cur, &k, &v, plen + flen ? MDB_SET_RANGE : MDB_FIRST);
    while (rc == 0 && k.mv_size >= plen && memcmp(k.mv_data, prefix, plen) == 0) {
        if ((rc = fn(arg, &k, &v)) != 0)
            goto out;
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    rc = rc == MDB_NOTFOUND ? 0 : map_err(rc);
out:
    mdb_cursor_close(cur);
    return rc;
}

/* --- sequence numbers --- */

uint64_t ms_seq_last(ms_txn *t)
{
    uint64_t seq = 0;
    kv_get_copy(t, DBI_META, "seq", 3, &seq, sizeof seq);
    return seq;
}

int ms_seq_next(ms_txn *t, uint64_t *seq)
{
    uint64_t next = ms_seq_last(t) + 1;
    int rc = kv_put(t, DBI_META, "seq", 3, &next, sizeof next);
    if (rc == 0)
        *seq = next;
    return rc;
}

/* --- accounts and tokens --- */

int ms_user_add(ms_txn *t, struct ms_user *u)
{
    uint32_t next = 1;
    kv_get_copy(t, DBI_META, "next_uid", 8, &next, sizeof next);
    u->uid = next;
    next++;
    int rc = kv_put(t, DBI_META, "next_uid", 8, &next, sizeof next);
    MDB_val key = {strlen(u->name), u->name}, val = {sizeof *u, u};
    if (rc == 0)
        rc = map_err(mdb_put(t->txn, t->ms->dbi[DBI_USERS], &key, &val, MDB_NOOVERWRITE));
    uint8_t k[4];
    put_be32(k, u->uid);
    if (rc == 0)
        rc = kv_put(t, DBI_UIDS, k, 4, u->name, strlen(u->name));
    return rc;
}

int ms_user_by_name(ms_txn *t, const char *name, struct ms_user *u)
{
    return kv_get_copy(t, DBI_USERS, name, strlen(name), u, sizeof *u);
}

int ms_user_name(ms_txn *t, uint32_t uid, char name[WIRE_USER_MAX + 1])
{
    uint8_t k[4];
    MDB_val v;
    put_be32(k, uid);
    int rc = kv_get(t, DBI_UIDS, k, 4, &v);
    if (rc)
        return rc;
    if (v.mv_size == 0 || v.mv_size > WIRE_USER_MAX)
        return MS_CORRUPT;
    memcpy(name, v.mv_data, v.mv_size);
    name[v.mv_size] = '\0';
    return 0;
}

int ms_user_by_uid(ms_txn *t, uint32_t uid, struct ms_user *u)
{
    char name[WIRE_USER_MAX + 1];
    int rc = ms_user_name(t, uid, name);
    return rc ? rc : ms_user_by_name(t, name, u);
}

int ms_user_put(ms_txn *t, const struct ms_user *u)
{
    return kv_put(t, DBI_USERS, u->name, strlen(u->name), u, sizeof *u);
}

int ms_user_del(ms_txn *t, const char *name)
{
    struct ms_user u;
    uint8_t k[4];
    int rc = ms_user_by_name(t, name, &u);
    if (rc)
        return rc;
    put_be32(k, u.uid);
    if ((rc = kv_del(t, DBI_USERS, name, strlen(name))) == 0)
        rc = kv_del(t, DBI_UIDS, k, 4);
    return rc;
}

int ms_token_put(ms_txn *t, const uint8_t key[HASH_LEN], const struct ms_token *tok)
{
    return kv_put(t, DBI_TOKENS, key, HASH_LEN, tok, sizeof *tok);
}

int ms_token_get(ms_txn *t, const uint8_t key[HASH_LEN], struct ms_token *tok)
{
    return kv_get_copy(t, DBI_TOKENS, key, HASH_LEN, tok, sizeof *tok);
}

int ms_token_del(ms_txn *t, const uint8_t key[HASH_LEN])
{
    return kv_del(t, DBI_TOKENS, key, HASH_LEN);
}

int ms_tokens_revoke_user(ms_txn *t, uint32_t uid)
{
    MDB_cursor *cur;
    MDB_val k, v;
    int rc = mdb_cursor_open(t->txn, t->ms->dbi[DBI_TOKENS], &cur);
    if (rc)
        return map_err(rc);
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        struct ms_token tok;
        if (v.mv_size != sizeof tok)
            continue;
        memcpy(&tok, v.mv_data, sizeof tok);
        if (tok.uid == uid && (rc = mdb_cursor_del(cur, 0)) != 0)
            break;
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : map_err(rc);
}

/* --- nodes and directory entries --- */

static int node_decode(const MDB_val *v, uint64_t id, struct dbx_node *n)
{
    struct node_disk d;
    if (v->mv_size < sizeof d)
        return MS_CORRUPT;
    memcpy(&d, v->mv_data, sizeof d);
    if (d.name_len > 255 || d.target_len > WIRE_TARGET_MAX ||
        v->mv_size != sizeof d + d.name_len + d.target_len)
        return MS_CORRUPT;
    memset(n, 0, sizeof *n - sizeof n->target);
    n->id = id;
    n->parent = d.parent;
    n->type = (enum node_type)d.type;
    n->mode = d.mode, n->uid = d.uid, n->gid = d.gid, n->owner_uid = d.owner_uid;
    n->atime = (struct wire_time){d.atime, d.atime_ns};
    n->mtime = (struct wire_time){d.mtime, d.mtime_ns};
    n->ctime = (struct wire_time){d.ctime, d.ctime_ns};
    n->size = d.size, n->rev = d.rev, n->content_rev = d.content_rev;
    const char *p = (const char *)v->mv_data + sizeof d;
    memcpy(n->name, p, d.name_len);
    n->name[d.name_len] = '\0';
    memcpy(n->target, p + d.name_len, d.target_len);
    n->target[d.target_len] = '\0';
    return 0;
}

int ms_node_get(ms_txn *t, uint64_t id, struct dbx_node *n)
{
    uint8_t k[8];
    MDB_val v;
    put_be64(k, id);
    int rc = kv_get(t, DBI_NODES, k, 8, &v);
    return rc ? rc : node_decode(&v, id, n);
}

static int dirent_key(uint8_t *k, uint64_t parent, const char *name)
{
    size_t len = strlen(name);
    put_be64(k, parent);
    memcpy(k + 8, name, len);
    return (int)(8 + len);
}

static int dirent_del(ms_txn *t, uint64_t parent, const char *name)
{
    uint8_t k[8 + 256];
    int rc = kv_del(t, DBI_DIRENTS, k, (size_t)dirent_key(k, parent, name));
    return rc == MS_NOTFOUND ? 0 : rc;
}

int ms_node_put(ms_txn *t, const struct dbx_node *n)
{
    struct dbx_node old;
    uint8_t k[8 + 256], buf[sizeof(struct node_disk) + 256 + WIRE_TARGET_MAX];
    struct node_disk d = {
        .parent = n->parent, .size = n->size, .rev = n->rev, .content_rev = n->content_rev,
        .atime = n->atime.sec, .mtime = n->mtime.sec, .ctime = n->ctime.sec,
        .atime_ns = n->atime.nsec, .mtime_ns = n->mtime.nsec, .ctime_ns = n->ctime.nsec,
        .mode = n->mode, .uid = n->uid, .gid = n->gid, .owner_uid = n->owner_uid,
        .name_len = (uint16_t)strlen(n->name), .target_len = (uint16_t)strlen(n->target),
        .type = (uint8_t)n->type, .version = 1,
    };
    int rc = ms_node_get(t, n->id, &old);
    if (rc == 0 && (old.parent != n->parent || strcmp(old.name, n->name) != 0))
        rc = dirent_del(t, old.parent, old.name);
    else if (rc == MS_NOTFOUND)
        rc = 0;
    if (rc)
        return rc;
    memcpy(buf, &d, sizeof d);
    memcpy(buf + sizeof d, n->name, d.name_len);
    memcpy(buf + sizeof d + d.name_len, n->target, d.target_len);
    put_be64(k, n->id);
    rc = kv_put(t, DBI_NODES, k, 8, buf, sizeof d + d.name_len + d.target_len);
    if (rc == 0 && n->parent) {
        uint8_t idv[8];
        put_be64(idv, n->id);
        rc = kv_put(t, DBI_DIRENTS, k, (size_t)dirent_key(k, n->parent, n->name), idv, 8);
    }
    return rc;
}

int ms_node_del(ms_txn *t, uint64_t id)
{
    struct dbx_node n;
    uint8_t k[8];
    int rc = ms_node_get(t, id, &n);
    if (rc)
        return rc;
    if (n.parent && (rc = dirent_del(t, n.parent, n.name)) != 0)
        return rc;
    put_be64(k, id);
    return kv_del(t, DBI_NODES, k, 8);
}

int ms_dirent_get(ms_txn *t, uint64_t parent, const char *name, uint64_t *child)
{
    uint8_t k[8 + 256];
    MDB_val v;
    int rc = kv_get(t, DBI_DIRENTS, k, (size_t)dirent_key(k, parent, name), &v);
    if (rc)
        return rc;
    if (v.mv_size != 8)
        return MS_CORRUPT;
    *child = get_be64(v.mv_data);
    return 0;
}

struct dir_walk {
    ms_child_fn fn;
    void *arg;
    const char *after;
};

static int dir_walk_one(void *arg, const MDB_val *k, const MDB_val *v)
{
    struct dir_walk *w = arg;
    char name[256];
    size_t len = k->mv_size - 8;
    if (len > 255 || v->mv_size != 8)
        return MS_CORRUPT;
    memcpy(name, (const char *)k->mv_data + 8, len);
    name[len] = '\0';
    if (w->after && strcmp(name, w->after) == 0)
        return 0;  /* the range starts at `after` itself */
    return w->fn(w->arg, get_be64(v->mv_data), name);
}

int ms_dir_list(ms_txn *t, uint64_t dir, const char *after, ms_child_fn fn, void *arg)
{
    uint8_t prefix[8];
    struct dir_walk w = {fn, arg, after};
    put_be64(prefix, dir);
    return kv_scan(t, DBI_DIRENTS, prefix, 8, after, after ? strlen(after) : 0, dir_walk_one, &w);
}

static int stop_at_first(void *arg, uint64_t child, const char *name)
{
    return 1;
}

int ms_dir_is_empty(ms_txn *t, uint64_t dir)
{
    int rc = ms_dir_list(t, dir, NULL, stop_at_first, NULL);
    return rc == 0;
}

/* --- file contents --- */

int ms_content_get(ms_txn *t, uint64_t node, struct dbx_chunk **chunks, uint32_t *n)
{
    uint8_t k[8];
    MDB_val v;
    put_be64(k, node);
    *chunks = NULL;
    *n = 0;
    int rc = kv_get(t, DBI_CONTENT, k, 8, &v);
    if (rc == MS_NOTFOUND)
        return 0;
    if (rc)
        return rc;
    if (v.mv_size % sizeof(struct dbx_chunk))
        return MS_CORRUPT;
    if (v.mv_size == 0)
        return 0;
    if (!(*chunks = malloc(v.mv_size)))
        return MS_IO;
    memcpy(*chunks, v.mv_data, v.mv_size);
    *n = (uint32_t)(v.mv_size / sizeof(struct dbx_chunk));
    return 0;
}

int ms_content_put(ms_txn *t, uint64_t node, const struct dbx_chunk *chunks, uint32_t n)
{
    uint8_t k[8];
    put_be64(k, node);
    if (n == 0)
        return ms_content_del(t, node);
    return kv_put(t, DBI_CONTENT, k, 8, chunks, (size_t)n * sizeof *chunks);
}

int ms_content_del(ms_txn *t, uint64_t node)
{
    uint8_t k[8];
    put_be64(k, node);
    int rc = kv_del(t, DBI_CONTENT, k, 8);
    return rc == MS_NOTFOUND ? 0 : rc;
}

/* --- chunks and the garbage-collection queue --- */

int ms_chunk_get(ms_txn *t, const uint8_t hash[HASH_LEN], struct ms_chunkrec *c)
{
    return kv_get_copy(t, DBI_CHUNKS, hash, HASH_LEN, c, sizeof *c);
}

int ms_chunk_put(ms_txn *t, const uint8_t hash[HASH_LEN], const struct ms_chunkrec *c)
{
    return kv_put(t, DBI_CHUNKS, hash, HASH_LEN, c, sizeof *c);
}

int ms_chunk_del(ms_txn *t, const uint8_t hash[HASH_LEN])
{
    int rc = kv_del(t, DBI_CHUNKS, hash, HASH_LEN);
    return rc == MS_NOTFOUND ? 0 : rc;
}

int ms_gcq_put(ms_txn *t, const uint8_t hash[HASH_LEN])
{
    return kv_put(t, DBI_GCQ, hash, HASH_LEN, "", 0);
}

int ms_gcq_del(ms_txn *t, const uint8_t hash[HASH_LEN])
{
    int rc = kv_del(t, DBI_GCQ, hash, HASH_LEN);
    return rc == MS_NOTFOUND ? 0 : rc;
}

struct hash_walk {
    ms_hash_fn fn;
    void *arg;
    const uint8_t *after;
};

static int hash_walk_one(void *arg, const MDB_val *k, const MDB_val *v)
{
    struct hash_walk *w = arg;
    if (k->mv_size != HASH_LEN)
        return MS_CORRUPT;
    if (w->after && memcmp(k->mv_data, w->after, HASH_LEN) == 0)
        return 0;
    return w->fn(w->arg, k->mv_data);
}

int ms_gcq_scan(ms_txn *t, const uint8_t *after, ms_hash_fn fn, void *arg)
{
    struct hash_walk w = {fn, arg, after};
    return kv_scan(t, DBI_GCQ, "", 0, after, after ? HASH_LEN : 0, hash_walk_one, &w);
}

/* --- proof of possession --- */

static void hold_key(uint8_t k[HASH_LEN + 4], const uint8_t hash[HASH_LEN], uint32_t uid)
{
    memcpy(k, hash, HASH_LEN);
    put_be32(k + HASH_LEN, uid);
}

int ms_hold_put(ms_txn *t, const uint8_t hash[HASH_LEN], uint32_t uid)
{
    uint8_t k[HASH_LEN + 4];
    hold_key(k, hash, uid);
    return kv_put(t, DBI_HOLDS, k, sizeof k, "", 0);
}

int ms_hold_has(ms_txn *t, const uint8_t hash[HASH_LEN], uint32_t uid)
{
    uint8_t k[HASH_LEN + 4];
    MDB_val v;
    hold_key(k, hash, uid);
    return kv_get(t, DBI_HOLDS, k, sizeof k, &v) == 0;
}

int ms_holds_drop(ms_txn *t, const uint8_t hash[HASH_LEN])
{
    MDB_cursor *cur;
    MDB_val k = {HASH_LEN, (void *)hash}, v;
    int rc = mdb_cursor_open(t->txn, t->ms->dbi[DBI_HOLDS], &cur);
    if (rc)
        return map_err(rc);
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
         rc == 0 && k.mv_size == HASH_LEN + 4 && memcmp(k.mv_data, hash, HASH_LEN) == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
        if ((rc = mdb_cursor_del(cur, 0)) != 0)
            break;
    mdb_cursor_close(cur);
    return rc == 0 || rc == MDB_NOTFOUND ? 0 : map_err(rc);
}

/* --- upload sessions --- */

static int upload_decode(const MDB_val *k, const MDB_val *v, struct ms_upload *u)
{
    struct upload_disk d;
    if (k->mv_size != 16 || v->mv_size < sizeof d)
        return MS_CORRUPT;
    memcpy(&d, v->mv_data, sizeof d);
    if (v->mv_size != sizeof d + (size_t)d.nchunks * sizeof(struct dbx_chunk))
        return MS_CORRUPT;
    memcpy(u->id, k->mv_data, 16);
    u->uid = d.uid, u->nchunks = d.nchunks, u->node = d.node, u->base_rev = d.base_rev;
    u->size = d.size, u->result_rev = d.result_rev, u->conflict_node = d.conflict_node;
    u->created = d.created, u->expires = d.expires, u->state = (enum upload_state)d.state;
    u->chunks = malloc((size_t)d.nchunks * sizeof(struct dbx_chunk) + 1);
    if (!u->chunks)
        return MS_IO;
    memcpy(u->chunks, (const uint8_t *)v->mv_data + sizeof d, (size_t)d.nchunks * sizeof(struct dbx_chunk));
    return 0;
}

int ms_upload_get(ms_txn *t, const uint8_t id[16], struct ms_upload *u)
{
    MDB_val k = {16, (void *)id}, v;
    int rc = kv_get(t, DBI_UPLOADS, id, 16, &v);
    return rc ? rc : upload_decode(&k, &v, u);
}

int ms_upload_put(ms_txn *t, const struct ms_upload *u)
{
    struct upload_disk d = {
        .uid = u->uid, .nchunks = u->nchunks, .node = u->node, .base_rev = u->base_rev,
        .size = u->size, .result_rev = u->result_rev, .conflict_node = u->conflict_node,
        .created = u->created, .expires = u->expires, .state = (uint8_t)u->state,
    };
    size_t len = (size_t)u->nchunks * sizeof(struct dbx_chunk);
    MDB_val key = {16, (void *)u->id}, val = {sizeof d + len, NULL};
    /* MDB_RESERVE: write the record in place instead of building a copy. */
    int rc = mdb_put(t->txn, t->ms->dbi[DBI_UPLOADS], &key, &val, MDB_RESERVE);
    if (rc)
        return map_err(rc);
    memcpy(val.mv_data, &d, sizeof d);
    memcpy((uint8_t *)val.mv_data + sizeof d, u->chunks, len);
    return 0;
}

int ms_upload_del(ms_txn *t, const uint8_t id[16])
{
    return kv_del(t, DBI_UPLOADS, id, 16);
}

void ms_upload_release(struct ms_upload *u)
{
    free(u->chunks);
    u->chunks = NULL;
}

struct upload_walk {
    ms_upload_fn fn;
    void *arg;
};

static int upload_walk_one(void *arg, const MDB_val *k, const MDB_val *v)
{
    struct upload_walk *w = arg;
    struct ms_upload u;
    int rc = upload_decode(k, v, &u);
    if (rc)
        return rc;
    rc = w->fn(w->arg, &u);
    ms_upload_release(&u);
    return rc;
}

int ms_upload_scan(ms_txn *t, ms_upload_fn fn, void *arg)
{
    struct upload_walk w = {fn, arg};
    return kv_scan(t, DBI_UPLOADS, "", 0, NULL, 0, upload_walk_one, &w);
}

/* --- shares --- */

static void share_keys(uint8_t by_node[12], uint8_t by_user[12], uint64_t node, uint32_t uid)
{
    put_be64(by_node, node);
    put_be32(by_node + 8, uid);
    put_be32(by_user, uid);
    put_be64(by_user + 4, node);
}

int ms_share_put(ms_txn *t, uint64_t node, uint32_t uid, enum role role)
{
    uint8_t kn[12], ku[12], r = (uint8_t)role;
    share_keys(kn, ku, node, uid);
    int rc = kv_put(t, DBI_SHARES, kn, 12, &r, 1);
    return rc ? rc : kv_put(t, DBI_SHARED, ku, 12, &r, 1);
}

int ms_share_get(ms_txn *t, uint64_t node, uint32_t uid, enum role *role)
{
    uint8_t kn[12], ku[12], r;
    share_keys(kn, ku, node, uid);
    int rc = kv_get_copy(t, DBI_SHARES, kn, 12, &r, 1);
    if (rc == 0)
        *role = (enum role)r;
    return rc;
}

int ms_share_del(ms_txn *t, uint64_t node, uint32_t uid)
{
    uint8_t kn[12], ku[12];
    share_keys(kn, ku, node, uid);
    int rc = kv_del(t, DBI_SHARES, kn, 12);
    return rc ? rc : kv_del(t, DBI_SHARED, ku, 12);
}

struct share_walk {
    ms_share_fn fn;
    void *arg;
    int by_user;
};

static int share_walk_one(void *arg, const MDB_val *k, const MDB_val *v)
{
    struct share_walk *w = arg;
    const uint8_t *p = k->mv_data;
    if (k->mv_size != 12 || v->mv_size != 1)
        return MS_CORRUPT;
    enum role role = (enum role)*(const uint8_t *)v->mv_data;
    if (w->by_user)
        return w->fn(w->arg, get_be64(p + 4), get_be32(p), role);
    return w->fn(w->arg, get_be64(p), get_be32(p + 8), role);
}

int ms_shares_of_node(ms_txn *t, uint64_t node, ms_share_fn fn, void *arg)
{
    uint8_t prefix[8];
    struct share_walk w = {fn, arg, 0};
    put_be64(prefix, node);
    return kv_scan(t, DBI_SHARES, prefix, 8, NULL, 0, share_walk_one, &w);
}

int ms_shares_of_user(ms_txn *t, uint32_t uid, ms_share_fn fn, void *arg)
{
    uint8_t prefix[4];
    struct share_walk w = {fn, arg, 1};
    put_be32(prefix, uid);
    return kv_scan(t, DBI_SHARED, prefix, 4, NULL, 0, share_walk_one, &w);
}

/* --- the change feed --- */

int ms_feed_append(ms_txn *t, uint32_t uid, uint64_t seq, const char *json)
{
    uint8_t k[12];
    put_be32(k, uid);
    put_be64(k + 4, seq);
    return kv_put(t, DBI_FEED, k, 12, json, strlen(json));
}

struct feed_walk {
    ms_feed_fn fn;
    void *arg;
    uint64_t after;
};

static int feed_walk_one(void *arg, const MDB_val *k, const MDB_val *v)
{
    struct feed_walk *w = arg;
    if (k->mv_size != 12)
        return MS_CORRUPT;
    uint64_t seq = get_be64((const uint8_t *)k->mv_data + 4);
    if (seq <= w->after)
        return 0;
    return w->fn(w->arg, seq, v->mv_data, v->mv_size);
}

int ms_feed_read(ms_txn *t, uint32_t uid, uint64_t after, ms_feed_fn fn, void *arg)
{
    uint8_t prefix[4], from[8];
    struct feed_walk w = {fn, arg, after};
    put_be32(prefix, uid);
    put_be64(from, after);
    return kv_scan(t, DBI_FEED, prefix, 4, from, 8, feed_walk_one, &w);
}
