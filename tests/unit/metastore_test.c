/* metastore_test: the contract of backend/metastore.h, written against the
 * header alone so that every implementation runs the same checks: the
 * fixture (metastore_fixture.h) linked beside this file says which one.
 *
 * What is checked is what dbxd relies on: commits are kept and aborts are
 * not, records come back exactly as put, listings come in the documented
 * order, and deleting one thing leaves its neighbours alone. Where the
 * header is silent about a case (deleting what is absent, say), a check is
 * made only if a caller depends on the answer, and says which. */
#include "metastore.h"
#include "metastore_fixture.h"
#include "unit.h"

#include <stdlib.h>
#include <string.h>

/* ---- helpers ---- */

static ms_txn *mst_begin(msf *f, int write)
{
    ms_txn *t = NULL;
    return CHECK_EQ(ms_txn_begin(msf_store(f), write, &t), 0) ? t : NULL;
}

static int mst_commit(ms_txn **t)
{
    int rc = ms_txn_commit(*t);
    *t = NULL;
    return CHECK_EQ(rc, 0);
}

/* A fresh store for one test; NULL (and a failed check) if not. */
static msf *mst_fixture(void)
{
    msf *f = msf_create();
    return CHECK(f != NULL) ? f : NULL;
}

static void mst_done(msf *f, ms_txn *t)
{
    ms_txn_abort(t);
    CHECK_EQ(msf_destroy(f), 0);
}

/* A deterministic hash per seed; seeds that differ only in the last byte
 * give neighbours in key order. */
static void mst_hash(uint8_t h[HASH_LEN], uint32_t seed)
{
    for (int i = 0; i < HASH_LEN; i++)
        h[i] = (uint8_t)(seed * 31u + (uint32_t)i * 7u);
    h[HASH_LEN - 1] = (uint8_t)seed;
}

/* A node with every field depending on id, so that a field taken from
 * another record, or not stored, shows. */
static void mst_node(struct dbx_node *n, uint64_t id, uint64_t parent, const char *name,
                     enum node_type type)
{
    memset(n, 0, sizeof(*n));
    n->id = id;
    n->parent = parent;
    n->type = type;
    n->mode = 0750 - (uint32_t)(id % 8);
    n->uid = 1000 + (uint32_t)(id % 1000);
    n->gid = 3000 + (uint32_t)(id % 1000);
    n->atime = (struct wire_time){ 1600000000 + (int64_t)(id % 1000), 1 };
    n->mtime = (struct wire_time){ -86400, 999999999 };          /* before 1970 */
    n->ctime = (struct wire_time){ (int64_t)1 << 40, 123456789 };
    n->size = type == NODE_FILE ? ((uint64_t)1 << 35) + id % 1000 : 0;
    n->rev = 100 + id % 1000;
    n->content_rev = 50 + id % 1000;
    n->owner_uid = 7;
    snprintf(n->name, sizeof(n->name), "%s", name);
    if (type == NODE_SYMLINK)
        snprintf(n->target, sizeof(n->target), "../to/%llu", (unsigned long long)id);
}

/* Equal as stored: `owner` is the name of owner_uid, filled in by callers. */
static int mst_node_equal(const struct dbx_node *a, const struct dbx_node *b)
{
    return a->id == b->id && a->parent == b->parent && a->type == b->type &&
           a->mode == b->mode && a->uid == b->uid && a->gid == b->gid &&
           a->atime.sec == b->atime.sec && a->atime.nsec == b->atime.nsec &&
           a->mtime.sec == b->mtime.sec && a->mtime.nsec == b->mtime.nsec &&
           a->ctime.sec == b->ctime.sec && a->ctime.nsec == b->ctime.nsec &&
           a->size == b->size && a->rev == b->rev && a->content_rev == b->content_rev &&
           a->owner_uid == b->owner_uid && strcmp(a->name, b->name) == 0 &&
           strcmp(a->target, b->target) == 0;
}

static int mst_node_is(ms_txn *t, const struct dbx_node *want)
{
    struct dbx_node got;
    return CHECK_EQ(ms_node_get(t, want->id, &got), 0) && CHECK(mst_node_equal(&got, want));
}

static void mst_user(struct ms_user *u, const char *name, uint64_t root)
{
    memset(u, 0, sizeof(*u));
    snprintf(u->name, sizeof(u->name), "%s", name);
    u->root = root;
    for (int i = 0; i < 16; i++)
        u->salt[i] = (uint8_t)(name[0] + i);
    for (int i = 0; i < 32; i++)
        u->pwhash[i] = (uint8_t)(name[0] * 3 + i);
    u->scrypt_log2n = 15;
    u->scrypt_r = 8;
    u->scrypt_p = 1;
}

static int mst_user_equal(const struct ms_user *a, const struct ms_user *b)
{
    return a->uid == b->uid && a->root == b->root && strcmp(a->name, b->name) == 0 &&
           memcmp(a->salt, b->salt, sizeof(a->salt)) == 0 &&
           memcmp(a->pwhash, b->pwhash, sizeof(a->pwhash)) == 0 &&
           a->scrypt_log2n == b->scrypt_log2n && a->scrypt_r == b->scrypt_r &&
           a->scrypt_p == b->scrypt_p;
}

/* ---- transactions ---- */

static void test_commit_abort_reopen(void)
{
    msf *f = mst_fixture();
    ms_txn *t = NULL, *r = NULL;
    struct dbx_node kept, dropped, got;
    uint64_t child = 0;

    if (!f)
        return;
    mst_node(&kept, 0x10, 0, "root-kept", NODE_DIR);
    mst_node(&dropped, 0x11, 0x10, "dropped", NODE_FILE);
    if (!(t = mst_begin(f, 1)))
        goto out;
    CHECK_EQ(ms_node_put(t, &kept), 0);
    /* nothing is visible to others until the commit */
    if ((r = mst_begin(f, 0))) {
        CHECK_EQ(ms_node_get(r, kept.id, &got), MS_NOTFOUND);
        ms_txn_abort(r);
    }
    if (!mst_commit(&t) || !(t = mst_begin(f, 1)))
        goto out;
    CHECK_EQ(ms_node_put(t, &dropped), 0);
    CHECK(mst_node_is(t, &dropped));            /* a txn sees its own writes */
    ms_txn_abort(t);
    t = NULL;
    ms_txn_abort(NULL);                         /* allowed */
    if (!CHECK_EQ(msf_reopen(f), 0) || !(t = mst_begin(f, 0)))
        goto out;
    CHECK(mst_node_is(t, &kept));
    CHECK_EQ(ms_node_get(t, dropped.id, &got), MS_NOTFOUND);
    CHECK_EQ(ms_dirent_get(t, kept.id, "dropped", &child), MS_NOTFOUND);
out:
    mst_done(f, t);
}

static void test_sequence(void)
{
    msf *f = mst_fixture();
    ms_txn *t = NULL;
    uint64_t a = 0, b = 0, c = 0;

    if (!f || !(t = mst_begin(f, 1)))
        goto out;
    /* feeds are read "after 0": a fresh store has used none, and the
     * first number is above 0 */
    CHECK_EQ(ms_seq_last(t), 0);
    CHECK_EQ(ms_seq_next(t, &a), 0);
    CHECK_EQ(ms_seq_next(t, &b), 0);
    CHECK(a > 0 && b > a);
    CHECK_EQ(ms_seq_last(t), b);
    if (!mst_commit(&t) || !CHECK_EQ(msf_reopen(f), 0) || !(t = mst_begin(f, 1)))
        goto out;
    CHECK_EQ(ms_seq_last(t), b);
    CHECK_EQ(ms_seq_next(t, &c), 0);            /* never a number used before */
    CHECK(c > b);
out:
    mst_done(f, t);
}

/* ---- accounts and tokens ---- */

static void test_users(void)
{
    msf *f = mst_fixture();
    ms_txn *t = NULL;
    struct ms_user alice, bob, dup, got, carol;
    char name[WIRE_USER_MAX + 1];

    if (!f || !(t = mst_begin(f, 1)))
        goto out;
    mst_user(&alice, "alice", 0x100);
    mst_user(&bob, "bob", 0x200);
    CHECK_EQ(ms_user_add(t, &alice), 0);
    CHECK_EQ(ms_user_add(t, &bob), 0);
    /* uid 0 stands for "no account" (a chunk URL without ?u=) */
    CHECK(alice.uid != 0 && bob.uid != 0 && alice.uid != bob.uid);
    if (CHECK_EQ(ms_user_by_name(t, "alice", &got), 0))
        CHECK(mst_user_equal(&got, &alice));
    if (CHECK_EQ(ms_user_by_uid(t, bob.uid, &got), 0))
        CHECK(mst_user_equal(&got, &bob));
    if (CHECK_EQ(ms_user_name(t, alice.uid, name), 0))
        CHECK_STR(name, "alice");
    CHECK_EQ(ms_user_by_name(t, "Alice", &got), MS_NOTFOUND);
    CHECK_EQ(ms_user_by_name(t, "alic", &got), MS_NOTFOUND);
    if (!mst_commit(&t))
        goto out;
    /* a taken name is refused; the txn is dropped (a SQL store could not
     * go on with it either) */
    if (!(t = mst_begin(f, 1)))
        goto out;
    mst_user(&dup, "alice", 0x300);
    CHECK_EQ(ms_user_add(t, &dup), MS_EXISTS);
    ms_txn_abort(t);
    if (!(t = mst_begin(f, 1)))
        goto out;
    if (CHECK_EQ(ms_user_by_name(t, "alice", &got), 0))
        CHECK(mst_user_equal(&got, &alice));
    /* an update (a new password) */
    alice.pwhash[0] ^= 0xff;
    alice.scrypt_log2n = 17;
    CHECK_EQ(ms_user_put(t, &alice), 0);
    if (CHECK_EQ(ms_user_by_uid(t, alice.uid, &got), 0))
        CHECK(mst_user_equal(&got, &alice));
    CHECK_EQ(ms_user_del(t, "bob"), 0);
    CHECK_EQ(ms_user_by_name(t, "bob", &got), MS_NOTFOUND);
    CHECK_EQ(ms_user_by_uid(t, bob.uid, &got), MS_NOTFOUND);
    CHECK_EQ(ms_user_name(t, bob.uid, name), MS_NOTFOUND);
    CHECK_EQ(ms_user_del(t, "bob"), MS_NOTFOUND);
    /* a new account never gets a deleted one's uid: shares, holds and feed
     * entries are keyed by uid and would pass to it */
    mst_user(&carol, "carol", 0x400);
    CHECK_EQ(ms_user_add(t, &carol), 0);
    CHECK(carol.uid != 0 && carol.uid != bob.uid && carol.uid != alice.uid);
    if (!mst_commit(&t) || !CHECK_EQ(msf_reopen(f), 0) || !(t = mst_begin(f, 0)))
        goto out;
    if (CHECK_EQ(ms_user_by_name(t, "alice", &got), 0))
        CHECK(mst_user_equal(&got, &alice));
    if (CHECK_EQ(ms_user_by_name(t, "carol", &got), 0))
        CHECK(mst_user_equal(&got, &carol));
    CHECK_EQ(ms_user_by_name(t, "bob", &got), MS_NOTFOUND);
out:
    mst_done(f, t);
}

static void test_tokens(void)
{
    enum { N = 600 };   /* enough records to span many pages of a B-tree */
    msf *f = mst_fixture();
    ms_txn *t = NULL;
    struct ms_token tok, got;
    uint8_t key[HASH_LEN];
    int left1 = 0, left2 = 0, rc;

    if (!f || !(t = mst_begin(f, 1)))
        goto out;
    mst_hash(key, 1);
    CHECK_EQ(ms_token_get(t, key, &got), MS_NOTFOUND);
    /* uids 1 and 2 interleaved, so revoking one leaves holes everywhere */
    for (uint32_t i = 0; i < N; i++) {
        mst_hash(key, i);
        key[0] = (uint8_t)(i >> 8);
        tok = (struct ms_token){ .uid = 1 + i % 3 % 2, .expires = 1700000000 + (int64_t)i };
        CHECK_EQ(ms_token_put(t, key, &tok), 0);
    }
    mst_hash(key, 5);
    key[0] = 0;
    if (CHECK_EQ(ms_token_get(t, key, &got), 0)) {
        CHECK_EQ(got.uid, 1 + 5 % 3 % 2);
        CHECK_EQ(got.expires, 1700000005);
    }
    CHECK_EQ(ms_token_del(t, key), 0);
    CHECK_EQ(ms_token_get(t, key, &got), MS_NOTFOUND);
    rc = ms_token_del(t, key);                  /* logout twice: auth.c takes either */
    CHECK(rc == 0 || rc == MS_NOTFOUND);
    CHECK_EQ(ms_tokens_revoke_user(t, 1), 0);
    for (uint32_t i = 0; i < N; i++) {
        mst_hash(key, i);
        key[0] = (uint8_t)(i >> 8);
        rc = ms_token_get(t, key, &got);
        if (rc == 0 && got.uid == 1)
            left1++;
        if (rc == 0 && got.uid == 2)
            left2++;
    }
    CHECK_EQ(left1, 0);
    CHECK_EQ(left2, N / 3);                     /* i % 3 == 1: every one stays */
out:
    mst_done(f, t);
}

/* ---- nodes and directory entries ---- */

static int mst_list_step(void *arg, uint64_t child, const char *name)
{
    return unit_listing_add(arg, name, child);
}

/* Lists dir after `after` and checks the names against want (NULL-ended). */
static void mst_check_list(ms_txn *t, uint64_t dir, const char *after,
                           const char *const *want)
{
    struct unit_listing l = { .n = 0 };

    CHECK_EQ(ms_dir_list(t, dir, after, mst_list_step, &l), 0);
    CHECK_LISTING(&l, want);
}

static void test_nodes_round_trip(void)
{
    msf *f = mst_fixture();
    ms_txn *t = NULL;
    struct dbx_node root, file, link, named;
    uint64_t child = 0;
    char longname[256];

    if (!f || !(t = mst_begin(f, 1)))
        goto out;
    memset(longname, 'L', 255);
    longname[255] = '\0';
    mst_node(&root, 0xfedcba9876543210ull, 0, "", NODE_DIR);
    mst_node(&file, 0x0123456789abcdefull, root.id, "file.txt", NODE_FILE);
    mst_node(&link, 2, root.id, "link", NODE_SYMLINK);
    memset(link.target, 'T', WIRE_TARGET_MAX);
    link.target[WIRE_TARGET_MAX] = '\0';
    mst_node(&named, 3, root.id, longname, NODE_FILE);
    CHECK_EQ(ms_node_put(t, &root), 0);
    CHECK_EQ(ms_node_put(t, &file), 0);
    CHECK_EQ(ms_node_put(t, &link), 0);
    CHECK_EQ(ms_node_put(t, &named), 0);
    if (!mst_commit(&t) || !(t = mst_begin(f, 0)))
        goto out;
    CHECK(mst_node_is(t, &root));
    CHECK(mst_node_is(t, &file));
    CHECK(mst_node_is(t, &link));
    CHECK(mst_node_is(t, &named));
    CHECK_EQ(ms_dirent_get(t, root.id, "file.txt", &child), 0);
    CHECK_EQ(child, file.id);
    CHECK_EQ(ms_dirent_get(t, root.id, longname, &child), 0);
    CHECK_EQ(child, named.id);
    CHECK_EQ(ms_dirent_get(t, root.id, "File.txt", &child), MS_NOTFOUND);
    CHECK_EQ(ms_node_get(t, 4, &named), MS_NOTFOUND);
    CHECK_EQ(ms_dir_is_empty(t, root.id), 0);
    CHECK_EQ(ms_dir_is_empty(t, file.id), 1);
out:
    mst_done(f, t);
}

static void test_dir_list_order(void)
{
    msf *f = mst_fixture();
    ms_txn *t = NULL;
    struct dbx_node n;
    /* bytewise: upper case first, a prefix before its extensions, UTF-8
     * after ASCII */
    static const char *const names[] = { "b", "\xc3\xa9t\xc3\xa9", "a", "ab", "B", "a b", NULL };
    static const char *const all[] = { "B", "a", "a b", "ab", "b", "\xc3\xa9t\xc3\xa9", NULL };
    static const char *const after_a[] = { "a b", "ab", "b", "\xc3\xa9t\xc3\xa9", NULL };
    static const char *const after_aa[] = { "ab", "b", "\xc3\xa9t\xc3\xa9", NULL };
    static const char *const none[] = { NULL };
    static const char *const neighbour[] = { "n", NULL };
    struct unit_listing l = { .stop_at = 2, .stop_with = 9 };

    if (!f || !(t = mst_begin(f, 1)))
        goto out;
    mst_node(&n, 1, 0, "", NODE_DIR);
    CHECK_EQ(ms_node_put(t, &n), 0);
    for (int i = 0; names[i]; i++) {
        mst_node(&n, 100 + (uint64_t)i, 1, names[i], NODE_FILE);
        CHECK_EQ(ms_node_put(t, &n), 0);
    }
    /* directories next to 1 in any key order: 0x100 shares its low byte */
    mst_node(&n, 200, 2, "n", NODE_FILE);
    CHECK_EQ(ms_node_put(t, &n), 0);
    mst_node(&n, 201, 0x100, "a0", NODE_FILE);
    CHECK_EQ(ms_node_put(t, &n), 0);
    mst_check_list(t, 1, NULL, all);
    mst_check_list(t, 1, "a", after_a);         /* after a present name */
    mst_check_list(t, 1, "aa", after_aa);       /* after an absent one */
    mst_check_list(t, 1, "\xc3\xa9t\xc3\xa9", none);
    mst_check_list(t, 2, NULL, neighbour);
    mst_check_list(t, 3, NULL, none);
    /* fn's non-zero return stops the walk and is its result */
    CHECK_EQ(ms_dir_list(t, 1, NULL, mst_list_step, &l), 9);
    CHECK_EQ(l.n, 2);
    /* the ids come with the names */
    l = (struct unit_listing){ .n = 0 };
    CHECK_EQ(ms_dir_list(t, 1, "b", mst_list_step, &l), 0);
    if (CHECK_EQ(l.n, 1))
        CHECK_EQ(l.ids[0], 101);
out:
    mst_done(f, t);
}

static void test_nodes_move_delete(void)
{
    msf *f = mst_fixture();
    ms_txn *t = NULL;
    struct dbx_node root, d1, d2, x, inner, got;
    uint64_t child = 0;
    static const char *const in_d2[] = { "renamed", NULL };
    static const char *const in_x[] = { "inner", NULL };
    static const char *const in_root[] = { "d1", "d2", NULL };
    static const char *const none[] = { NULL };

    if (!f || !(t = mst_begin(f, 1)))
        goto out;
    mst_node(&root, 1, 0, "", NODE_DIR);
    mst_node(&d1, 2, 1, "d1", NODE_DIR);
    mst_node(&d2, 3, 1, "d2", NODE_DIR);
    mst_node(&x, 4, 2, "x", NODE_DIR);
    mst_node(&inner, 5, 4, "inner", NODE_FILE);
    CHECK_EQ(ms_node_put(t, &root), 0);
    CHECK_EQ(ms_node_put(t, &d1), 0);
    CHECK_EQ(ms_node_put(t, &d2), 0);
    CHECK_EQ(ms_node_put(t, &x), 0);
    CHECK_EQ(ms_node_put(t, &inner), 0);
    if (!mst_commit(&t) || !(t = mst_begin(f, 1)))
        goto out;
    /* a rename in place is one put */
    snprintf(x.name, sizeof(x.name), "y");
    x.rev++;
    CHECK_EQ(ms_node_put(t, &x), 0);
    CHECK_EQ(ms_dirent_get(t, 2, "x", &child), MS_NOTFOUND);
    CHECK_EQ(ms_dirent_get(t, 2, "y", &child), 0);
    CHECK_EQ(child, 4);
    /* and so is a move with a rename: the old entry goes, the children
     * stay with the directory */
    x.parent = 3;
    snprintf(x.name, sizeof(x.name), "renamed");
    CHECK_EQ(ms_node_put(t, &x), 0);
    if (!mst_commit(&t) || !(t = mst_begin(f, 1)))
        goto out;
    CHECK(mst_node_is(t, &x));
    mst_check_list(t, 2, NULL, none);
    mst_check_list(t, 3, NULL, in_d2);
    mst_check_list(t, 4, NULL, in_x);
    CHECK_EQ(ms_dir_is_empty(t, 2), 1);
    CHECK_EQ(ms_dir_is_empty(t, 3), 0);
    /* delete: the record and its entry go, nothing else */
    CHECK_EQ(ms_node_del(t, inner.id), 0);
    CHECK_EQ(ms_node_get(t, inner.id, &got), MS_NOTFOUND);
    CHECK_EQ(ms_dirent_get(t, 4, "inner", &child), MS_NOTFOUND);
    CHECK_EQ(ms_dir_is_empty(t, 4), 1);
    CHECK_EQ(ms_node_del(t, x.id), 0);
    CHECK_EQ(ms_node_del(t, x.id), MS_NOTFOUND);
    CHECK_EQ(ms_dir_is_empty(t, 3), 1);
    mst_check_list(t, 1, NULL, in_root);
    CHECK(mst_node_is(t, &d1));
    CHECK(mst_node_is(t, &d2));
    if (!mst_commit(&t) || !CHECK_EQ(msf_reopen(f), 0) || !(t = mst_begin(f, 0)))
        goto out;
    CHECK_EQ(ms_node_get(t, x.id, &got), MS_NOTFOUND);
    mst_check_list(t, 3, NULL, none);
    mst_check_list(t, 1, NULL, in_root);
out:
    mst_done(f, t);
}

/* ---- file contents ---- */

static void mst_chunks(struct dbx_chunk *c, uint32_t n, uint32_t seed)
{
    for (uint32_t i = 0; i < n; i++) {
        mst_hash(c[i].hash, seed + i);
        c[i].size = 1 + (seed + i) * 4099u % (64u << 20);
    }
}

static int mst_content_is(ms_txn *t, uint64_t node, const struct dbx_chunk *want, uint32_t n)
{
    struct dbx_chunk *got = NULL;
    uint32_t count = 99, i = 0;
    int ok = CHECK_EQ(ms_content_get(t, node, &got, &count), 0) && CHECK_EQ(count, n);

    /* one check for the list: the first difference is what to report */
    while (ok && i < n && memcmp(got[i].hash, want[i].hash, HASH_LEN) == 0 &&
           got[i].size == want[i].size)
        i++;
    ok = ok && CHECK_EQ(i, n);
    free(got);
    return ok;
}

static void test_content(void)
{
    enum { BIG = 20000 };   /* a file of ~1.3 TB in 64 MiB chunks */
    msf *f = mst_fixture();
    ms_txn *t = NULL;
    struct dbx_chunk small[3], *big = malloc(BIG * sizeof(*big));

    if (!f || !CHECK(big) || !(t = mst_begin(f, 1)))
        goto out;
    mst_chunks(small, 3, 1);
    mst_chunks(big, BIG, 1000);
    CHECK(mst_content_is(t, 10, NULL, 0));              /* absent: empty */
    CHECK_EQ(ms_content_put(t, 10, small, 3), 0);
    CHECK_EQ(ms_content_put(t, 11, big, BIG), 0);
    CHECK(mst_content_is(t, 10, small, 3));
    if (!mst_commit(&t) || !CHECK_EQ(msf_reopen(f), 0) || !(t = mst_begin(f, 1)))
        goto out;
    CHECK(mst_content_is(t, 10, small, 3));
    CHECK(mst_content_is(t, 11, big, BIG));
    CHECK(mst_content_is(t, 12, NULL, 0));
    /* a new version replaces the list, it does not add to it */
    CHECK_EQ(ms_content_put(t, 11, small + 1, 2), 0);
    CHECK(mst_content_is(t, 11, small + 1, 2));
    CHECK_EQ(ms_content_put(t, 10, small, 0), 0);      /* truncated to empty */
    CHECK(mst_content_is(t, 10, NULL, 0));
    CHECK_EQ(ms_content_del(t, 11), 0);
    CHECK(mst_content_is(t, 11, NULL, 0));
    CHECK_EQ(ms_content_del(t, 11), 0);                /* change.c deletes any file's */
out:
    free(big);
    mst_done(f, t);
}

/* ---- chunk records, the gc queue, holds ---- */

static int mst_chunkrec_equal(const struct ms_chunkrec *a, const struct ms_chunkrec *b)
{
    return a->refs == b->refs && a->pins == b->pins && a->raw_size == b->raw_size &&
           a->stored_size == b->stored_size && a->encoding == b->encoding &&
           a->present == b->present && a->touched == b->touched;
}

static void test_chunk_records(void)
{
    msf *f = mst_fixture();
    ms_txn *t = NULL;
    uint8_t h1[HASH_LEN], h2[HASH_LEN];
    struct ms_chunkrec a = { .refs = 2, .pins = 1, .raw_size = 64u << 20,
                             .stored_size = ((uint64_t)64 << 20) + 4096, .encoding = 1,
                             .present = 1, .touched = 1700000000 };
    struct ms_chunkrec b = { .refs = ((uint64_t)1 << 40) + 1, .pins = 0, .raw_size = 1,
                             .stored_size = 1, .encoding = 0, .present = 0, .touched = -1 };
    struct ms_chunkrec got;

    if (!f || !(t = mst_begin(f, 1)))
        goto out;
    mst_hash(h1, 1);
    mst_hash(h2, 2);
    CHECK_EQ(ms_chunk_get(t, h1, &got), MS_NOTFOUND);
    CHECK_EQ(ms_chunk_put(t, h1, &a), 0);
    CHECK_EQ(ms_chunk_put(t, h2, &b), 0);
    if (!mst_commit(&t) || !CHECK_EQ(msf_reopen(f), 0) || !(t = mst_begin(f, 1)))
        goto out;
    if (CHECK_EQ(ms_chunk_get(t, h1, &got), 0))
        CHECK(mst_chunkrec_equal(&got, &a));
    if (CHECK_EQ(ms_chunk_get(t, h2, &got), 0))
        CHECK(mst_chunkrec_equal(&got, &b));
    /* counts go down as files stop using the chunk: each put replaces */
    a.refs = 0;
    a.pins = 0;
    a.touched = 1800000000;
    CHECK_EQ(ms_chunk_put(t, h1, &a), 0);
    if (CHECK_EQ(ms_chunk_get(t, h1, &got), 0))
        CHECK(mst_chunkrec_equal(&got, &a));
    CHECK_EQ(ms_chunk_del(t, h1), 0);
    CHECK_EQ(ms_chunk_get(t, h1, &got), MS_NOTFOUND);
    if (CHECK_EQ(ms_chunk_get(t, h2, &got), 0))
        CHECK(mst_chunkrec_equal(&got, &b));
out:
    mst_done(f, t);
}

struct mst_hashes {
    uint8_t h[16][HASH_LEN];
    int n, stop_at, stop_with;
};

static int mst_hash_step(void *arg, const uint8_t hash[HASH_LEN])
{
    struct mst_hashes *s = arg;

    if (s->n < 16)
        memcpy(s->h[s->n], hash, HASH_LEN);
    s->n++;
    return s->n == s->stop_at ? s->stop_with : 0;
}

static void test_gc_queue(void)
{
    msf *f = mst_fixture();
    ms_txn *t = NULL;
    uint8_t h[5][HASH_LEN], absent[HASH_LEN];
    struct mst_hashes s = { .n = 0 };

    if (!f || !(t = mst_begin(f, 1)))
        goto out;
    /* h[i] in increasing byte order, put in another order */
    for (int i = 0; i < 5; i++) {
        memset(h[i], 0x40, HASH_LEN);
        h[i][0] = (uint8_t)(0x10 * (i + 1));
    }
    h[4][0] = h[3][0];
    h[4][HASH_LEN - 1] = 0x41;                  /* differs from h[3] at the end only */
    static const int order[] = { 3, 0, 4, 2, 1 };
    for (int i = 0; i < 5; i++)
        CHECK_EQ(ms_gcq_put(t, h[order[i]]), 0);
    CHECK_EQ(ms_gcq_put(t, h[2]), 0);           /* queued twice: once */
    CHECK_EQ(ms_gcq_scan(t, NULL, mst_hash_step, &s), 0);
    if (CHECK_EQ(s.n, 5))
        for (int i = 0; i < 5; i++)
            CHECK_MEM(s.h[i], h[i], HASH_LEN);
    /* after a queued hash: strictly after it */
    s = (struct mst_hashes){ .n = 0 };
    CHECK_EQ(ms_gcq_scan(t, h[1], mst_hash_step, &s), 0);
    if (CHECK_EQ(s.n, 3))
        CHECK_MEM(s.h[0], h[2], HASH_LEN);
    /* after one that is not queued (gone since the last batch) */
    memcpy(absent, h[2], HASH_LEN);
    absent[1] = 0x41;                           /* h[2] < absent < h[3] */
    s = (struct mst_hashes){ .n = 0 };
    CHECK_EQ(ms_gcq_scan(t, absent, mst_hash_step, &s), 0);
    if (CHECK_EQ(s.n, 2)) {
        CHECK_MEM(s.h[0], h[3], HASH_LEN);
        CHECK_MEM(s.h[1], h[4], HASH_LEN);
    }
    /* fn's non-zero return stops the walk and is its result (gc.c tells a
     * full batch from an error that way) */
    s = (struct mst_hashes){ .stop_at = 2, .stop_with = 3 };
    CHECK_EQ(ms_gcq_scan(t, NULL, mst_hash_step, &s), 3);
    CHECK_EQ(s.n, 2);
    CHECK_EQ(ms_gcq_del(t, h[0]), 0);
    CHECK_EQ(ms_gcq_del(t, h[3]), 0);
    s = (struct mst_hashes){ .n = 0 };
    CHECK_EQ(ms_gcq_scan(t, NULL, mst_hash_step, &s), 0);
    if (CHECK_EQ(s.n, 3)) {
        CHECK_MEM(s.h[0], h[1], HASH_LEN);
        CHECK_MEM(s.h[1], h[2], HASH_LEN);
        CHECK_MEM(s.h[2], h[4], HASH_LEN);
    }
out:
    mst_done(f, t);
}

static void test_holds(void)
{
    msf *f = mst_fixture();
    ms_txn *t = NULL;
    uint8_t h[HASH_LEN], next[HASH_LEN], prev[HASH_LEN];

    if (!f || !(t = mst_begin(f, 1)))
        goto out;
    /* neighbours of h in key order on both sides */
    mst_hash(h, 0x80);
    mst_hash(next, 0x81);
    memcpy(next, h, HASH_LEN - 1);
    memcpy(prev, h, HASH_LEN);
    prev[HASH_LEN - 1] = 0x7f;
    CHECK_EQ(ms_hold_has(t, h, 1), 0);
    for (uint32_t uid = 1; uid <= 5; uid++)
        CHECK_EQ(ms_hold_put(t, h, uid), 0);
    CHECK_EQ(ms_hold_put(t, h, 3), 0);          /* twice: harmless */
    CHECK_EQ(ms_hold_put(t, next, 1), 0);
    CHECK_EQ(ms_hold_put(t, prev, 2), 0);
    CHECK_EQ(ms_hold_put(t, h, 0x01000000), 0);
    if (!mst_commit(&t) || !(t = mst_begin(f, 1)))
        goto out;
    for (uint32_t uid = 1; uid <= 5; uid++)
        CHECK_EQ(ms_hold_has(t, h, uid), 1);
    CHECK_EQ(ms_hold_has(t, h, 6), 0);
    CHECK_EQ(ms_hold_has(t, h, 0x01000000), 1);
    CHECK_EQ(ms_hold_has(t, next, 2), 0);       /* a hold is of one chunk */
    CHECK_EQ(ms_hold_has(t, next, 1), 1);
    /* dropping a chunk's holds drops every account's, and no other chunk's */
    CHECK_EQ(ms_holds_drop(t, h), 0);
    for (uint32_t uid = 1; uid <= 5; uid++)
        CHECK_EQ(ms_hold_has(t, h, uid), 0);
    CHECK_EQ(ms_hold_has(t, h, 0x01000000), 0);
    CHECK_EQ(ms_hold_has(t, next, 1), 1);
    CHECK_EQ(ms_hold_has(t, prev, 2), 1);
    CHECK_EQ(ms_holds_drop(t, h), 0);           /* none left: gc.c needs 0 */
out:
    mst_done(f, t);
}

/* ---- upload sessions ---- */

static void mst_upload(struct ms_upload *u, uint8_t seed, uint32_t nchunks)
{
    memset(u, 0, sizeof(*u));
    memset(u->id, seed, sizeof(u->id));
    u->id[15] = (uint8_t)(seed + 1);
    u->uid = seed;
    u->node = 0x1000 + seed;
    u->base_rev = 7 + seed;
    u->size = (uint64_t)nchunks * 1000;
    u->created = 1700000000 + seed;
    u->expires = 1700086400 + seed;
    u->state = UPLOAD_OPEN;
    u->nchunks = nchunks;
    /* never NULL, as api_uploads.c allocates it, even for no chunks */
    u->chunks = calloc(nchunks + 1, sizeof(*u->chunks));
    if (u->chunks)
        mst_chunks(u->chunks, nchunks, seed * 100u);
}

static int mst_upload_equal(const struct ms_upload *a, const struct ms_upload *b)
{
    if (memcmp(a->id, b->id, 16) != 0 || a->uid != b->uid || a->node != b->node ||
        a->base_rev != b->base_rev || a->size != b->size || a->created != b->created ||
        a->expires != b->expires || a->state != b->state || a->result_rev != b->result_rev ||
        a->conflict_node != b->conflict_node || a->nchunks != b->nchunks)
        return 0;
    return a->nchunks == 0 ||
           memcmp(a->chunks, b->chunks, a->nchunks * sizeof(*a->chunks)) == 0;
}

struct mst_upload_seen {
    const struct ms_upload *want;
    int nwant;
    int seen[4];
    int strangers;
    int calls, stop_at;
};

static int mst_upload_step(void *arg, const struct ms_upload *u)
{
    struct mst_upload_seen *s = arg;

    if (++s->calls == s->stop_at)
        return 1;
    for (int i = 0; i < s->nwant; i++)
        if (memcmp(u->id, s->want[i].id, 16) == 0) {
            s->seen[i] += mst_upload_equal(u, &s->want[i]) ? 1 : 100;
            return 0;
        }
    s->strangers++;
    return 0;
}

static void test_uploads(void)
{
    msf *f = mst_fixture();
    ms_txn *t = NULL;
    struct ms_upload u[3] = { { .chunks = NULL } }, got = { .chunks = NULL };
    struct mst_upload_seen s = { .want = u, .nwant = 3 };

    if (!f)
        return;
    mst_upload(&u[0], 1, 3);
    mst_upload(&u[1], 2, 5000);
    mst_upload(&u[2], 3, 0);                    /* an empty file's session */
    if (!CHECK(u[0].chunks && u[1].chunks && u[2].chunks) || !(t = mst_begin(f, 1)))
        goto out;
    CHECK_EQ(ms_upload_get(t, u[0].id, &got), MS_NOTFOUND);
    for (int i = 0; i < 3; i++)
        CHECK_EQ(ms_upload_put(t, &u[i]), 0);
    if (!mst_commit(&t) || !CHECK_EQ(msf_reopen(f), 0) || !(t = mst_begin(f, 1)))
        goto out;
    for (int i = 0; i < 3; i++) {
        if (CHECK_EQ(ms_upload_get(t, u[i].id, &got), 0))
            CHECK(mst_upload_equal(&got, &u[i]));
        ms_upload_release(&got);
    }
    CHECK_EQ(ms_upload_scan(t, mst_upload_step, &s), 0);
    CHECK(s.seen[0] == 1 && s.seen[1] == 1 && s.seen[2] == 1);
    CHECK_EQ(s.strangers, 0);
    /* fn's non-zero return stops the walk, and is no error: gc.c collects
     * expired sessions into a fixed batch that way */
    s = (struct mst_upload_seen){ .want = u, .nwant = 3, .stop_at = 2 };
    CHECK(ms_upload_scan(t, mst_upload_step, &s) >= 0);
    CHECK_EQ(s.calls, 2);
    /* the commit rewrites the session with its outcome */
    u[0].state = UPLOAD_COMMITTED;
    u[0].result_rev = 4242;
    u[0].conflict_node = 0xc0ffee;
    CHECK_EQ(ms_upload_put(t, &u[0]), 0);
    if (CHECK_EQ(ms_upload_get(t, u[0].id, &got), 0))
        CHECK(mst_upload_equal(&got, &u[0]));
    ms_upload_release(&got);
    CHECK_EQ(ms_upload_del(t, u[1].id), 0);
    CHECK_EQ(ms_upload_get(t, u[1].id, &got), MS_NOTFOUND);
    s = (struct mst_upload_seen){ .want = u, .nwant = 3 };
    CHECK_EQ(ms_upload_scan(t, mst_upload_step, &s), 0);
    CHECK(s.seen[0] == 1 && s.seen[1] == 0 && s.seen[2] == 1);
    CHECK_EQ(s.strangers, 0);
out:
    for (int i = 0; i < 3; i++)
        free(u[i].chunks);                      /* ours, not the store's */
    mst_done(f, t);
}

/* ---- shares ---- */

struct mst_share_seen {
    uint64_t node[8];
    uint32_t uid[8];
    enum role role[8];
    int n;
};

static int mst_share_step(void *arg, uint64_t node, uint32_t uid, enum role role)
{
    struct mst_share_seen *s = arg;

    if (s->n < 8) {
        s->node[s->n] = node;
        s->uid[s->n] = uid;
        s->role[s->n] = role;
    }
    s->n++;
    return 0;
}

/* Whether (node, uid, role) is among what a walk saw, exactly once. */
static int mst_share_in(const struct mst_share_seen *s, uint64_t node, uint32_t uid,
                        enum role role)
{
    int found = 0;

    for (int i = 0; i < s->n && i < 8; i++)
        found += s->node[i] == node && s->uid[i] == uid && s->role[i] == role;
    return found == 1;
}

static void test_shares(void)
{
    msf *f = mst_fixture();
    ms_txn *t = NULL;
    struct mst_share_seen s = { .n = 0 };
    enum role role = ROLE_NONE;

    if (!f || !(t = mst_begin(f, 1)))
        goto out;
    CHECK_EQ(ms_share_get(t, 10, 2, &role), MS_NOTFOUND);
    CHECK_EQ(ms_share_put(t, 10, 2, ROLE_VIEWER), 0);
    CHECK_EQ(ms_share_put(t, 10, 3, ROLE_EDITOR), 0);
    CHECK_EQ(ms_share_put(t, 11, 2, ROLE_EDITOR), 0);
    CHECK_EQ(ms_share_put(t, 0x10a, 4, ROLE_VIEWER), 0);    /* same low byte as 10 */
    CHECK_EQ(ms_share_put(t, 12, 0x02000000, ROLE_VIEWER), 0);
    if (!mst_commit(&t) || !(t = mst_begin(f, 1)))
        goto out;
    CHECK_EQ(ms_share_get(t, 10, 2, &role), 0);
    CHECK_EQ(role, ROLE_VIEWER);
    CHECK_EQ(ms_share_get(t, 10, 4, &role), MS_NOTFOUND);
    CHECK_EQ(ms_shares_of_node(t, 10, mst_share_step, &s), 0);
    CHECK_EQ(s.n, 2);
    CHECK(mst_share_in(&s, 10, 2, ROLE_VIEWER));
    CHECK(mst_share_in(&s, 10, 3, ROLE_EDITOR));
    s = (struct mst_share_seen){ .n = 0 };
    CHECK_EQ(ms_shares_of_user(t, 2, mst_share_step, &s), 0);
    CHECK_EQ(s.n, 2);
    CHECK(mst_share_in(&s, 10, 2, ROLE_VIEWER));
    CHECK(mst_share_in(&s, 11, 2, ROLE_EDITOR));
    s = (struct mst_share_seen){ .n = 0 };
    CHECK_EQ(ms_shares_of_user(t, 0x02000000, mst_share_step, &s), 0);
    CHECK(s.n == 1 && mst_share_in(&s, 12, 0x02000000, ROLE_VIEWER));
    /* a new role replaces the old one, in both directions */
    CHECK_EQ(ms_share_put(t, 10, 2, ROLE_EDITOR), 0);
    CHECK_EQ(ms_share_get(t, 10, 2, &role), 0);
    CHECK_EQ(role, ROLE_EDITOR);
    s = (struct mst_share_seen){ .n = 0 };
    CHECK_EQ(ms_shares_of_user(t, 2, mst_share_step, &s), 0);
    CHECK(s.n == 2 && mst_share_in(&s, 10, 2, ROLE_EDITOR));
    /* a revoke: gone from both directions, the others stay */
    CHECK_EQ(ms_share_del(t, 10, 2), 0);
    CHECK_EQ(ms_share_get(t, 10, 2, &role), MS_NOTFOUND);
    CHECK_EQ(ms_share_del(t, 10, 2), MS_NOTFOUND);         /* api_shares.c: 404 */
    s = (struct mst_share_seen){ .n = 0 };
    CHECK_EQ(ms_shares_of_node(t, 10, mst_share_step, &s), 0);
    CHECK(s.n == 1 && mst_share_in(&s, 10, 3, ROLE_EDITOR));
    s = (struct mst_share_seen){ .n = 0 };
    CHECK_EQ(ms_shares_of_user(t, 2, mst_share_step, &s), 0);
    CHECK(s.n == 1 && mst_share_in(&s, 11, 2, ROLE_EDITOR));
    s = (struct mst_share_seen){ .n = 0 };
    CHECK_EQ(ms_shares_of_node(t, 0x10a, mst_share_step, &s), 0);
    CHECK(s.n == 1 && mst_share_in(&s, 0x10a, 4, ROLE_VIEWER));
out:
    mst_done(f, t);
}

/* ---- the change feed ---- */

struct mst_feed_seen {
    uint64_t seq[16];
    char json[16][64];
    int n, stop_at;
};

static int mst_feed_step(void *arg, uint64_t seq, const char *json, size_t len)
{
    struct mst_feed_seen *s = arg;

    if (s->n + 1 == s->stop_at) {
        s->n++;
        return 1;
    }

    if (s->n < 16) {
        s->seq[s->n] = seq;
        /* json need not be NUL-terminated: len is its length */
        snprintf(s->json[s->n], sizeof(s->json[0]), "%.*s", (int)len, json);
    }
    s->n++;
    return 0;
}

static void mst_feed_json(char *buf, size_t size, uint32_t uid, uint64_t seq)
{
    snprintf(buf, size, "{\"seq\":%llu,\"uid\":%u,\"name\":\"\xc3\xa9\"}",
             (unsigned long long)seq, uid);
}

/* Reads uid's feed after `after` and checks it is exactly want[] (0-ended). */
static void mst_check_feed(ms_txn *t, uint32_t uid, uint64_t after, const uint64_t *want)
{
    struct mst_feed_seen s = { .n = 0 };
    char json[64];
    int n = 0;

    CHECK_EQ(ms_feed_read(t, uid, after, mst_feed_step, &s), 0);
    while (want[n])
        n++;
    if (!CHECK_EQ(s.n, n))
        return;
    for (int i = 0; i < n; i++) {
        CHECK_EQ(s.seq[i], want[i]);
        mst_feed_json(json, sizeof(json), uid, want[i]);
        CHECK_STR(s.json[i], json);
    }
}

static void test_feed(void)
{
    msf *f = mst_fixture();
    ms_txn *t = NULL;
    char json[64];
    /* numbers whose order differs from that of their little-endian
     * bytes, appended out of order */
    static const uint64_t put1[] = { 256, 1, 255, (uint64_t)1 << 40, 65536 };
    static const uint64_t all1[] = { 1, 255, 256, 65536, (uint64_t)1 << 40, 0 };
    static const uint64_t after255[] = { 256, 65536, (uint64_t)1 << 40, 0 };
    static const uint64_t after300[] = { 65536, (uint64_t)1 << 40, 0 };
    static const uint64_t all2[] = { 2, 257, 0 };
    static const uint64_t none[] = { 0 };

    if (!f || !(t = mst_begin(f, 1)))
        goto out;
    for (int i = 0; i < 5; i++) {
        mst_feed_json(json, sizeof(json), 1, put1[i]);
        CHECK_EQ(ms_feed_append(t, 1, put1[i], json), 0);
    }
    /* uid 256's key starts where uid 1's does in little-endian order */
    mst_feed_json(json, sizeof(json), 256, 2);
    CHECK_EQ(ms_feed_append(t, 256, 2, json), 0);
    mst_feed_json(json, sizeof(json), 256, 257);
    CHECK_EQ(ms_feed_append(t, 256, 257, json), 0);
    if (!mst_commit(&t) || !CHECK_EQ(msf_reopen(f), 0) || !(t = mst_begin(f, 0)))
        goto out;
    mst_check_feed(t, 1, 0, all1);
    mst_check_feed(t, 1, 255, after255);            /* after an event's number */
    mst_check_feed(t, 1, 300, after300);            /* after a number of another's */
    mst_check_feed(t, 1, (uint64_t)1 << 40, none);
    mst_check_feed(t, 256, 0, all2);
    mst_check_feed(t, 2, 0, none);
    /* fn's non-zero return stops the read, and is no error: a page of
     * GET /v1/changes ends that way (api_changes.c) */
    struct mst_feed_seen page = { .stop_at = 3 };
    CHECK(ms_feed_read(t, 1, 0, mst_feed_step, &page) >= 0);
    CHECK_EQ(page.n, 3);
    CHECK_EQ(page.seq[1], 255);
out:
    mst_done(f, t);
}

int main(void)
{
    test_commit_abort_reopen();
    test_sequence();
    test_users();
    test_tokens();
    test_nodes_round_trip();
    test_dir_list_order();
    test_nodes_move_delete();
    test_content();
    test_chunk_records();
    test_gc_queue();
    test_holds();
    test_uploads();
    test_shares();
    test_feed();
    return unit_done();
}
