/* test_metadb: the mount's metadata store (cache/metadb.h) on real LMDB
 * files in a temporary directory: what a commit keeps and an abort drops,
 * the node records, directory listings, the journal and its indexes, and
 * the sets of ids the sync engine keeps. */
#include "metadb.h"
#include "unit.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

/* ---- helpers ---- */

static char *mdbt_dir(void)
{
    char tmpl[] = "/tmp/test_metadb.XXXXXX";
    char *d = mkdtemp(tmpl);
    return d ? strdup(d) : NULL;
}

/* Removes the store's two files and the directory; any other file left
 * there makes the rmdir, and so the test, fail. */
static void mdbt_cleanup(char *dir)
{
    char path[4096];

    if (!dir)
        return;
    snprintf(path, sizeof(path), "%s/meta.lmdb", dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/meta.lmdb-lock", dir);
    unlink(path);
    CHECK_EQ(rmdir(dir), 0);
    free(dir);
}

/* A fresh store in a fresh directory; NULL (and a failed check) if not. */
static metadb *mdbt_open(char **dir)
{
    metadb *db = NULL;

    *dir = mdbt_dir();
    if (!CHECK(*dir))
        return NULL;
    if (!CHECK_EQ(metadb_open(*dir, &db), 0))
        return NULL;
    return db;
}

static void mdbt_close(metadb *db, char *dir)
{
    metadb_close(db);
    mdbt_cleanup(dir);
}

static metadb_txn *mdbt_wtxn(metadb *db)
{
    metadb_txn *t = NULL;
    return CHECK_EQ(metadb_begin(db, 1, &t), 0) ? t : NULL;
}

static metadb_txn *mdbt_rtxn(metadb *db)
{
    metadb_txn *t = NULL;
    return CHECK_EQ(metadb_begin(db, 0, &t), 0) ? t : NULL;
}

/* A node with every field set to something that depends on id, so that a
 * field read from another record or left out shows. */
static void mdbt_node(struct cnode *n, uint64_t id, uint64_t parent, const char *name,
                      uint32_t type)
{
    memset(n, 0, sizeof(*n));
    n->id = id;
    n->parent = parent;
    n->type = type;
    n->mode = 0640 + (uint32_t)(id % 8);
    n->uid = 1000 + (uint32_t)id;
    n->gid = 2000 + (uint32_t)id;
    n->atime = (struct wire_time){ 1700000000 + (int64_t)id, 111 };
    n->mtime = (struct wire_time){ -5 - (int64_t)id, 999999999 };   /* before 1970 */
    n->ctime = (struct wire_time){ (int64_t)1 << 40, 7 };
    n->size = ((uint64_t)1 << 33) + id;
    n->rev = 10 + id;
    n->content_rev = 20 + id;
    n->map_rev = 30 + id;
    n->flags = CN_LISTED | CN_DIRTY | CN_TRACKED;
    snprintf(n->name, sizeof(n->name), "%s", name);
    if (type == NODE_SYMLINK)
        snprintf(n->target, sizeof(n->target), "../target/of/%llu", (unsigned long long)id);
}

static int mdbt_node_equal(const struct cnode *a, const struct cnode *b)
{
    return a->id == b->id && a->parent == b->parent && a->type == b->type &&
           a->mode == b->mode && a->uid == b->uid && a->gid == b->gid &&
           a->atime.sec == b->atime.sec && a->atime.nsec == b->atime.nsec &&
           a->mtime.sec == b->mtime.sec && a->mtime.nsec == b->mtime.nsec &&
           a->ctime.sec == b->ctime.sec && a->ctime.nsec == b->ctime.nsec &&
           a->size == b->size && a->rev == b->rev && a->content_rev == b->content_rev &&
           a->map_rev == b->map_rev && a->flags == b->flags &&
           strcmp(a->name, b->name) == 0 && strcmp(a->target, b->target) == 0;
}

/* ---- open, close, transactions ---- */

static void test_commit_abort_reopen(void)
{
    char *dir = NULL;
    metadb *db = mdbt_open(&dir);
    metadb_txn *t = NULL, *r = NULL;
    struct cnode a, b, got;
    uint64_t v = 0;

    if (!db)
        goto out;
    mdbt_node(&a, 1, 0, "kept", NODE_DIR);
    mdbt_node(&b, 2, 1, "dropped", NODE_FILE);
    if (!(t = mdbt_wtxn(db)))
        goto out;
    CHECK_EQ(metadb_node_put(t, &a), 0);
    CHECK_EQ(metadb_kv_put(t, "cursor", 77), 0);
    /* a reader does not see a write transaction's changes before its commit */
    if ((r = mdbt_rtxn(db))) {
        CHECK_EQ(metadb_node_get(r, 1, &got), -ENOENT);
        metadb_abort(r);
    }
    CHECK_EQ(metadb_commit(t), 0);
    if (!(t = mdbt_wtxn(db)))
        goto out;
    CHECK_EQ(metadb_node_put(t, &b), 0);
    CHECK_EQ(metadb_dirent_put(t, 1, "dropped", 2), 0);
    CHECK_EQ(metadb_journal_append(t, 2, 0, "{\"op\":\"create\"}"), 0);
    metadb_abort(t);
    metadb_abort(NULL);                 /* allowed, like free(NULL) */

    /* what a new process finds: the commit, not the abort */
    metadb_close(db);
    db = NULL;
    if (!CHECK_EQ(metadb_open(dir, &db), 0) || !(r = mdbt_rtxn(db)))
        goto out;
    if (CHECK_EQ(metadb_node_get(r, 1, &got), 0))
        CHECK(mdbt_node_equal(&got, &a));
    CHECK_EQ(metadb_kv_get(r, "cursor", &v), 0);
    CHECK_EQ(v, 77);
    CHECK_EQ(metadb_node_get(r, 2, &got), -ENOENT);
    CHECK_EQ(metadb_dirent_get(r, 1, "dropped", &v), -ENOENT);
    CHECK_EQ(metadb_journal_count(r), 0);
    CHECK_EQ(metadb_pending(r, 2), 0);
    metadb_abort(r);
    CHECK_EQ(metadb_sync(db), 0);
out:
    mdbt_close(db, dir);
}

static void test_open_fails_on_missing_dir(void)
{
    metadb *db = NULL;

    CHECK(metadb_open("/nonexistent/test_metadb/dir", &db) < 0);
    CHECK(db == NULL);
    metadb_close(NULL);                 /* allowed */
}

/* ---- nodes ---- */

static void test_node_records(void)
{
    char *dir = NULL;
    metadb *db = mdbt_open(&dir);
    metadb_txn *t = NULL;
    struct cnode n[3], got;
    char longname[256];

    if (!db || !(t = mdbt_wtxn(db)))
        goto out;
    memset(longname, 'n', 255);
    longname[255] = '\0';
    mdbt_node(&n[0], 0x0102030405060708ull, 0, "root", NODE_DIR);
    mdbt_node(&n[1], 0xfffffffffffffffeull, n[0].id, longname, NODE_FILE);
    mdbt_node(&n[2], 3, n[0].id, "link", NODE_SYMLINK);
    memset(n[2].target, 't', WIRE_TARGET_MAX);
    n[2].target[WIRE_TARGET_MAX] = '\0';
    for (int i = 0; i < 3; i++)
        CHECK_EQ(metadb_node_put(t, &n[i]), 0);
    for (int i = 0; i < 3; i++)
        if (CHECK_EQ(metadb_node_get(t, n[i].id, &got), 0))
            CHECK(mdbt_node_equal(&got, &n[i]));
    /* a put replaces the whole record: a shorter name leaves no tail */
    n[1].flags = CN_LOCAL;
    n[1].size = 0;
    snprintf(n[1].name, sizeof(n[1].name), "short");
    CHECK_EQ(metadb_node_put(t, &n[1]), 0);
    if (CHECK_EQ(metadb_node_get(t, n[1].id, &got), 0)) {
        CHECK(mdbt_node_equal(&got, &n[1]));
        CHECK_STR(got.name, "short");
    }
    CHECK_EQ(metadb_node_get(t, 4, &got), -ENOENT);
    CHECK_EQ(metadb_node_del(t, n[2].id), 0);
    CHECK_EQ(metadb_node_get(t, n[2].id, &got), -ENOENT);
    CHECK_EQ(metadb_node_del(t, n[2].id), -ENOENT);
    CHECK_EQ(metadb_commit(t), 0);
    t = NULL;
out:
    metadb_abort(t);
    mdbt_close(db, dir);
}

struct mdbt_node_seen {
    uint64_t ids[8];
    int n, stop_at, stop_with;
};

static int mdbt_node_seen_step(void *arg, const struct cnode *n)
{
    struct mdbt_node_seen *s = arg;

    if (s->n < 8)
        s->ids[s->n] = n->id;
    s->n++;
    return s->n == s->stop_at ? s->stop_with : 0;
}

static void test_node_each(void)
{
    char *dir = NULL;
    metadb *db = mdbt_open(&dir);
    metadb_txn *t = NULL;
    struct mdbt_node_seen s = { .n = 0 };
    struct cnode n;
    uint64_t ids[] = { 300, 2, 0x100000000ull, 7 };
    int sum = 0;

    if (!db || !(t = mdbt_wtxn(db)))
        goto out;
    CHECK_EQ(metadb_node_each(t, mdbt_node_seen_step, &s), 0);
    CHECK_EQ(s.n, 0);
    for (size_t i = 0; i < 4; i++) {
        mdbt_node(&n, ids[i], 1, "x", NODE_FILE);
        CHECK_EQ(metadb_node_put(t, &n), 0);
    }
    CHECK_EQ(metadb_node_each(t, mdbt_node_seen_step, &s), 0);
    CHECK_EQ(s.n, 4);
    for (int i = 0; i < s.n && i < 8; i++)
        sum += s.ids[i] == 2 ? 1 : s.ids[i] == 7 ? 2 : s.ids[i] == 300 ? 4 :
               s.ids[i] == 0x100000000ull ? 8 : 16;
    CHECK_EQ(sum, 15);                  /* each node once */
    /* a positive stop ends the walk quietly; a negative one is its result */
    s = (struct mdbt_node_seen){ .stop_at = 2, .stop_with = 1 };
    CHECK_EQ(metadb_node_each(t, mdbt_node_seen_step, &s), 0);
    CHECK_EQ(s.n, 2);
    s = (struct mdbt_node_seen){ .stop_at = 3, .stop_with = -EIO };
    CHECK_EQ(metadb_node_each(t, mdbt_node_seen_step, &s), -EIO);
    CHECK_EQ(s.n, 3);
out:
    metadb_abort(t);
    mdbt_close(db, dir);
}

/* ---- directory entries ---- */

static int mdbt_listing_step(void *arg, const char *name, uint64_t child)
{
    return unit_listing_add(arg, name, child);
}

/* Lists parent after `after` and checks the names, in order, against want
 * (NULL-terminated). */
static void mdbt_check_listing(metadb_txn *t, uint64_t parent, const char *after,
                          const char *const *want)
{
    struct unit_listing l = { .n = 0 };

    CHECK_EQ(metadb_dirent_each(t, parent, after, mdbt_listing_step, &l), 0);
    CHECK_LISTING(&l, want);
}

static void test_dirents(void)
{
    char *dir = NULL;
    metadb *db = mdbt_open(&dir);
    metadb_txn *t = NULL;
    /* bytewise order: upper case before lower, a prefix before its
     * extensions, UTF-8 after ASCII */
    static const char *const names[] = { "b", "a", "\xc3\xa9t\xc3\xa9", "ab", "B", "a b", NULL };
    static const char *const all[] = { "B", "a", "a b", "ab", "b", "\xc3\xa9t\xc3\xa9", NULL };
    static const char *const after_a[] = { "a b", "ab", "b", "\xc3\xa9t\xc3\xa9", NULL };
    static const char *const after_aa[] = { "ab", "b", "\xc3\xa9t\xc3\xa9", NULL };
    static const char *const none[] = { NULL };
    static const char *const other[] = { "only", NULL };
    struct unit_listing l = { .stop_at = 2, .stop_with = 5 };
    uint64_t child = 0;

    if (!db || !(t = mdbt_wtxn(db)))
        goto out;
    CHECK_EQ(metadb_dir_is_empty(t, 1), 1);
    for (int i = 0; names[i]; i++)
        CHECK_EQ(metadb_dirent_put(t, 1, names[i], 100 + (uint64_t)i), 0);
    /* neighbours in key order: the parent before and after, and one whose
     * id shares the low byte */
    CHECK_EQ(metadb_dirent_put(t, 0, "zzz", 900), 0);
    CHECK_EQ(metadb_dirent_put(t, 2, "only", 901), 0);
    CHECK_EQ(metadb_dirent_put(t, 0x101, "aaa", 902), 0);
    mdbt_check_listing(t, 1, NULL, all);
    mdbt_check_listing(t, 1, "a", after_a);          /* after a present name */
    mdbt_check_listing(t, 1, "aa", after_aa);        /* after an absent one */
    mdbt_check_listing(t, 1, "\xc3\xa9t\xc3\xa9", none);
    mdbt_check_listing(t, 2, NULL, other);
    mdbt_check_listing(t, 3, NULL, none);
    CHECK_EQ(metadb_dirent_get(t, 1, "ab", &child), 0);
    CHECK_EQ(child, 103);
    CHECK_EQ(metadb_dirent_get(t, 1, "A", &child), -ENOENT);     /* exact names */
    CHECK_EQ(metadb_dirent_each(t, 1, NULL, mdbt_listing_step, &l), 0);
    CHECK_EQ(l.n, 2);                           /* stopped where fn said */
    l = (struct unit_listing){ .stop_at = 1, .stop_with = -ENOTDIR };
    CHECK_EQ(metadb_dirent_each(t, 1, NULL, mdbt_listing_step, &l), -ENOTDIR);
    CHECK_EQ(metadb_dir_is_empty(t, 1), 0);
    CHECK_EQ(metadb_dir_is_empty(t, 3), 1);
    /* a put on an existing name repoints it */
    CHECK_EQ(metadb_dirent_put(t, 1, "ab", 555), 0);
    CHECK_EQ(metadb_dirent_get(t, 1, "ab", &child), 0);
    CHECK_EQ(child, 555);
    for (int i = 0; names[i]; i++)
        CHECK_EQ(metadb_dirent_del(t, 1, names[i]), 0);
    CHECK_EQ(metadb_dirent_del(t, 1, "a"), -ENOENT);
    CHECK_EQ(metadb_dir_is_empty(t, 1), 1);
    mdbt_check_listing(t, 1, NULL, none);
    mdbt_check_listing(t, 2, NULL, other);           /* the neighbours stay */
    CHECK_EQ(metadb_dirent_get(t, 0x101, "aaa", &child), 0);
    CHECK_EQ(child, 902);
out:
    metadb_abort(t);
    mdbt_close(db, dir);
}

static void test_dirent_max_name(void)
{
    char *dir = NULL;
    metadb *db = mdbt_open(&dir);
    metadb_txn *t = NULL;
    struct unit_listing l = { .n = 0 };
    char name[256];
    uint64_t child = 0;

    if (!db || !(t = mdbt_wtxn(db)))
        goto out;
    memset(name, 'x', 255);
    name[255] = '\0';
    CHECK_EQ(metadb_dirent_put(t, 9, name, 10), 0);
    CHECK_EQ(metadb_dirent_get(t, 9, name, &child), 0);
    CHECK_EQ(child, 10);
    CHECK_EQ(metadb_dirent_each(t, 9, NULL, mdbt_listing_step, &l), 0);
    if (CHECK_EQ(l.n, 1))
        CHECK_STR(l.names[0], name);
out:
    metadb_abort(t);
    mdbt_close(db, dir);
}

/* ---- the journal ---- */

/* Appends and returns the sequence number it got (the newest). */
static uint64_t mdbt_journal_push(metadb_txn *t, uint64_t id, uint64_t also, const char *op)
{
    uint64_t seq = 0, last = 0, nid;
    char *text = NULL;

    if (!CHECK_EQ(metadb_journal_append(t, id, also, op), 0))
        return 0;
    while (metadb_journal_next(t, last, &seq, &nid, &text) == 0) {
        free(text);
        last = seq;
    }
    return last;
}

static void mdbt_check_op(metadb_txn *t, uint64_t seq, uint64_t want_id, const char *want_op)
{
    uint64_t id = 0;
    char *op = NULL;

    if (CHECK_EQ(metadb_journal_get(t, seq, &id, &op), 0)) {
        CHECK_EQ(id, want_id);
        CHECK_STR(op, want_op);
    }
    free(op);
}

static void test_journal_order(void)
{
    char *dir = NULL;
    metadb *db = mdbt_open(&dir);
    metadb_txn *t = NULL;
    uint64_t s[4] = { 0 }, seq, id;
    char *op = NULL;

    if (!db || !(t = mdbt_wtxn(db)))
        goto out;
    CHECK_EQ(metadb_journal_count(t), 0);
    CHECK_EQ(metadb_journal_next(t, 0, &seq, &id, &op), -ENOENT);
    s[0] = mdbt_journal_push(t, 10, 0, "{\"op\":\"mkdir\"}");
    s[1] = mdbt_journal_push(t, 11, 0, "{\"op\":\"create\"}");
    s[2] = mdbt_journal_push(t, 10, 0, "{\"op\":\"chmod\"}");
    CHECK(s[0] > 0 && s[0] < s[1] && s[1] < s[2]);      /* in append order */
    CHECK_EQ(metadb_journal_count(t), 3);
    /* next walks them oldest first */
    if (CHECK_EQ(metadb_journal_next(t, 0, &seq, &id, &op), 0)) {
        CHECK_EQ(seq, s[0]);
        CHECK_EQ(id, 10);
        CHECK_STR(op, "{\"op\":\"mkdir\"}");
    }
    free(op);
    op = NULL;
    if (CHECK_EQ(metadb_journal_next(t, s[0], &seq, &id, &op), 0))
        CHECK_EQ(seq, s[1]);
    free(op);
    op = NULL;
    CHECK_EQ(metadb_journal_next(t, s[2], &seq, &id, &op), -ENOENT);
    mdbt_check_op(t, s[1], 11, "{\"op\":\"create\"}");
    CHECK_EQ(metadb_journal_get(t, s[2] + 1, &id, &op), -ENOENT);
    /* prepend: before everything queued, even after some were pushed */
    CHECK_EQ(metadb_journal_del(t, s[0]), 0);
    CHECK_EQ(metadb_journal_prepend(t, 12, 0, "{\"op\":\"recreate\"}"), 0);
    if (CHECK_EQ(metadb_journal_next(t, 0, &seq, &id, &op), 0)) {
        CHECK(seq < s[1]);
        CHECK_EQ(id, 12);
        CHECK_STR(op, "{\"op\":\"recreate\"}");
        s[3] = seq;
    }
    free(op);
    op = NULL;
    CHECK_EQ(metadb_journal_count(t), 3);
    /* replace: new text at the same place, for the same node */
    CHECK_EQ(metadb_journal_replace(t, s[1], "{\"op\":\"create\",\"size\":5}"), 0);
    mdbt_check_op(t, s[1], 11, "{\"op\":\"create\",\"size\":5}");
    CHECK_EQ(metadb_journal_replace(t, s[2] + 1, "{}"), -ENOENT);   /* no such entry */
    CHECK_EQ(metadb_journal_count(t), 3);
    CHECK_EQ(metadb_commit(t), 0);
    /* and the order holds in the next transaction */
    if (!(t = mdbt_rtxn(db)))
        goto out;
    mdbt_check_op(t, s[3], 12, "{\"op\":\"recreate\"}");
    mdbt_check_op(t, s[2], 10, "{\"op\":\"chmod\"}");
out:
    metadb_abort(t);
    mdbt_close(db, dir);
}

static void test_journal_prepend_empty(void)
{
    char *dir = NULL;
    metadb *db = mdbt_open(&dir);
    metadb_txn *t = NULL;
    uint64_t first, later, seq, id;
    char *op = NULL;

    if (!db || !(t = mdbt_wtxn(db)))
        goto out;
    CHECK_EQ(metadb_journal_prepend(t, 5, 0, "{\"op\":\"first\"}"), 0);
    later = mdbt_journal_push(t, 6, 0, "{\"op\":\"second\"}");
    if (CHECK_EQ(metadb_journal_next(t, 0, &seq, &id, &op), 0)) {
        first = seq;
        CHECK(first < later);
        CHECK_EQ(id, 5);
    }
    free(op);
out:
    metadb_abort(t);
    mdbt_close(db, dir);
}

static void test_journal_index(void)
{
    char *dir = NULL;
    metadb *db = mdbt_open(&dir);
    metadb_txn *t = NULL;
    uint64_t a, b, c, d, seqs[8];

    if (!db || !(t = mdbt_wtxn(db)))
        goto out;
    a = mdbt_journal_push(t, 20, 0, "{\"op\":\"create\"}");
    b = mdbt_journal_push(t, 21, 20, "{\"op\":\"rename\",\"replaces\":20}");  /* names 20 too */
    c = mdbt_journal_push(t, 21, 0, "{\"op\":\"chmod\"}");
    d = mdbt_journal_push(t, 22, 22, "{\"op\":\"self\"}");     /* also == id: counted once */
    CHECK_EQ(metadb_pending(t, 20), 2);
    CHECK_EQ(metadb_pending(t, 21), 2);
    CHECK_EQ(metadb_pending(t, 22), 1);
    CHECK_EQ(metadb_pending(t, 23), 0);
    if (CHECK_EQ(metadb_journal_of(t, 20, seqs, 8), 2)) {
        CHECK_EQ(seqs[0], a);
        CHECK_EQ(seqs[1], b);
    }
    if (CHECK_EQ(metadb_journal_of(t, 21, seqs, 8), 2)) {
        CHECK_EQ(seqs[0], b);
        CHECK_EQ(seqs[1], c);
    }
    if (CHECK_EQ(metadb_journal_of(t, 21, seqs, 1), 1))   /* up to max */
        CHECK_EQ(seqs[0], b);
    if (CHECK_EQ(metadb_journal_of(t, 22, seqs, 8), 1))
        CHECK_EQ(seqs[0], d);
    CHECK_EQ(metadb_journal_of(t, 23, seqs, 8), 0);
    /* removing an entry takes it out of both nodes' counts and indexes */
    CHECK_EQ(metadb_journal_del(t, b), 0);
    CHECK_EQ(metadb_journal_del(t, b), -ENOENT);
    CHECK_EQ(metadb_pending(t, 20), 1);
    CHECK_EQ(metadb_pending(t, 21), 1);
    if (CHECK_EQ(metadb_journal_of(t, 20, seqs, 8), 1))
        CHECK_EQ(seqs[0], a);
    if (CHECK_EQ(metadb_journal_of(t, 21, seqs, 8), 1))
        CHECK_EQ(seqs[0], c);
    /* replacing the text keeps the entry's nodes */
    CHECK_EQ(metadb_journal_replace(t, d, "{\"op\":\"self2\"}"), 0);
    CHECK_EQ(metadb_pending(t, 22), 1);
    CHECK_EQ(metadb_journal_del(t, a), 0);
    CHECK_EQ(metadb_journal_del(t, c), 0);
    CHECK_EQ(metadb_journal_del(t, d), 0);
    CHECK_EQ(metadb_pending(t, 20), 0);
    CHECK_EQ(metadb_pending(t, 21), 0);
    CHECK_EQ(metadb_pending(t, 22), 0);
    CHECK_EQ(metadb_journal_of(t, 22, seqs, 8), 0);
    CHECK_EQ(metadb_journal_count(t), 0);
out:
    metadb_abort(t);
    mdbt_close(db, dir);
}

/* Many operations: the order survives LMDB page splits and a reopen. */
static void test_journal_many(void)
{
    enum { N = 2000 };
    char *dir = NULL;
    metadb *db = mdbt_open(&dir);
    metadb_txn *t = NULL;
    uint64_t seq = 0, id = 0, prev = 0;
    char op[64], *got = NULL;
    int n = 0, in_order = 1;

    if (!db || !(t = mdbt_wtxn(db)))
        goto out;
    for (n = 0; n < N; n++) {
        snprintf(op, sizeof(op), "{\"op\":\"w\",\"i\":%d}", n);
        if (metadb_journal_append(t, 1 + (uint64_t)(n % 7), 0, op) != 0)
            break;
    }
    if (!CHECK_EQ(n, N))                /* every append succeeded */
        goto out;
    n = 0;
    CHECK_EQ(metadb_commit(t), 0);
    t = NULL;
    metadb_close(db);
    db = NULL;
    if (!CHECK_EQ(metadb_open(dir, &db), 0) || !(t = mdbt_rtxn(db)))
        goto out;
    CHECK_EQ(metadb_journal_count(t), N);
    CHECK_EQ(metadb_pending(t, 1), (N + 6) / 7);
    while (metadb_journal_next(t, prev, &seq, &id, &got) == 0) {
        snprintf(op, sizeof(op), "{\"op\":\"w\",\"i\":%d}", n);
        in_order &= strcmp(got, op) == 0 && id == 1 + (uint64_t)(n % 7) && seq > prev;
        free(got);
        prev = seq;
        n++;
    }
    CHECK_EQ(n, N);
    CHECK(in_order);
out:
    metadb_abort(t);
    mdbt_close(db, dir);
}

/* ---- sets of ids ---- */

static void mdbt_check_ids(int n, const uint64_t *got, const uint64_t *want, int nwant)
{
    if (!CHECK_EQ(n, nwant))
        return;
    for (int i = 0; i < n; i++)
        CHECK_EQ(got[i], want[i]);
}

static void test_dirty_set(void)
{
    char *dir = NULL;
    metadb *db = mdbt_open(&dir);
    metadb_txn *t = NULL;
    uint64_t ids[8], gen = 0;
    /* numeric order, not byte order of a little-endian number */
    static const uint64_t all[] = { 5, 255, 256, (uint64_t)1 << 40 };
    static const uint64_t after_255[] = { 256, (uint64_t)1 << 40 };
    static const uint64_t after_6[] = { 255, 256 };

    if (!db || !(t = mdbt_wtxn(db)))
        goto out;
    CHECK_EQ(metadb_dirty_count(t), 0);
    CHECK_EQ(metadb_dirty_list(t, 0, ids, 8), 0);
    CHECK_EQ(metadb_dirty_put(t, 256, 3), 0);
    CHECK_EQ(metadb_dirty_put(t, (uint64_t)1 << 40, 1), 0);
    CHECK_EQ(metadb_dirty_put(t, 5, 0), 0);             /* generation 0 is kept too */
    CHECK_EQ(metadb_dirty_put(t, 255, 9), 0);
    CHECK_EQ(metadb_dirty_put(t, 256, 4), 0);           /* a newer write */
    CHECK_EQ(metadb_dirty_count(t), 4);
    CHECK_EQ(metadb_dirty_get(t, 256, &gen), 0);
    CHECK_EQ(gen, 4);
    gen = 99;
    CHECK_EQ(metadb_dirty_get(t, 5, &gen), 0);
    CHECK_EQ(gen, 0);
    CHECK_EQ(metadb_dirty_get(t, 6, &gen), -ENOENT);
    mdbt_check_ids(metadb_dirty_list(t, 0, ids, 8), ids, all, 4);
    mdbt_check_ids(metadb_dirty_list(t, 255, ids, 8), ids, after_255, 2);
    mdbt_check_ids(metadb_dirty_list(t, 6, ids, 2), ids, after_6, 2);   /* after an absent id, up to max */
    CHECK_EQ(metadb_dirty_list(t, (uint64_t)1 << 40, ids, 8), 0);
    CHECK_EQ(metadb_dirty_del(t, 255), 0);
    CHECK_EQ(metadb_dirty_get(t, 255, &gen), -ENOENT);
    CHECK_EQ(metadb_dirty_count(t), 3);
out:
    metadb_abort(t);
    mdbt_close(db, dir);
}

static void test_tombstones_and_resync(void)
{
    char *dir = NULL;
    metadb *db = mdbt_open(&dir);
    metadb_txn *t = NULL;
    uint64_t ids[8], rev = 0;
    static const uint64_t rg[] = { 7, 8 }, rs[] = { 1, 300 }, rs_after[] = { 300 };

    if (!db || !(t = mdbt_wtxn(db)))
        goto out;
    /* remote tombstones: the delete's sequence number, 0 for none */
    CHECK_EQ(metadb_rgone_get(t, 7), 0);
    CHECK_EQ(metadb_rgone_put(t, 7, 1234), 0);
    CHECK_EQ(metadb_rgone_put(t, 8, (uint64_t)1 << 50), 0);
    CHECK_EQ(metadb_rgone_get(t, 7), 1234);
    CHECK_EQ(metadb_rgone_get(t, 8), (uint64_t)1 << 50);
    mdbt_check_ids(metadb_rgone_list(t, 0, ids, 8), ids, rg, 2);
    CHECK_EQ(metadb_rgone_del(t, 7), 0);
    CHECK_EQ(metadb_rgone_del(t, 7), 0);
    CHECK_EQ(metadb_rgone_get(t, 7), 0);
    /* local tombstones: present with rev 0 until dbxd answers */
    CHECK_EQ(metadb_gone_get(t, 9, &rev), -ENOENT);
    CHECK_EQ(metadb_gone_put(t, 9, 0), 0);
    rev = 99;
    CHECK_EQ(metadb_gone_get(t, 9, &rev), 0);
    CHECK_EQ(rev, 0);
    CHECK_EQ(metadb_gone_put(t, 9, 4321), 0);
    CHECK_EQ(metadb_gone_get(t, 9, &rev), 0);
    CHECK_EQ(rev, 4321);
    CHECK_EQ(metadb_gone_del(t, 9), 0);
    CHECK_EQ(metadb_gone_del(t, 9), 0);                 /* absent: 0 */
    CHECK_EQ(metadb_gone_get(t, 9, &rev), -ENOENT);
    /* the resync set */
    CHECK_EQ(metadb_resync_count(t), 0);
    CHECK_EQ(metadb_resync_put(t, 300), 0);
    CHECK_EQ(metadb_resync_put(t, 1), 0);
    CHECK_EQ(metadb_resync_put(t, 300), 0);             /* a set: once */
    CHECK_EQ(metadb_resync_count(t), 2);
    mdbt_check_ids(metadb_resync_list(t, 0, ids, 8), ids, rs, 2);
    mdbt_check_ids(metadb_resync_list(t, 1, ids, 8), ids, rs_after, 1);
    CHECK_EQ(metadb_resync_del(t, 1), 0);
    CHECK_EQ(metadb_resync_del(t, 1), 0);
    CHECK_EQ(metadb_resync_count(t), 1);
    /* the sets are separate */
    CHECK_EQ(metadb_rgone_get(t, 300), 0);
    CHECK_EQ(metadb_dirty_get(t, 300, &rev), -ENOENT);
out:
    metadb_abort(t);
    mdbt_close(db, dir);
}

/* ---- the remote mirror, chunk maps, xattrs, kv ---- */

static void test_remote_mirror(void)
{
    char *dir = NULL;
    metadb *db = mdbt_open(&dir);
    metadb_txn *t = NULL;
    struct cnode n, got, want;

    if (!db || !(t = mdbt_wtxn(db)))
        goto out;
    mdbt_node(&n, 40, 1, "mirrored", NODE_FILE);
    CHECK_EQ(metadb_remote_put(t, &n), 0);
    want = n;
    want.flags = 0;                     /* local state is not mirrored */
    want.map_rev = 0;
    if (CHECK_EQ(metadb_remote_get(t, 40, &got), 0))
        CHECK(mdbt_node_equal(&got, &want));
    CHECK_EQ(metadb_node_get(t, 40, &got), -ENOENT);  /* not a local node */
    CHECK_EQ(metadb_remote_del(t, 40), 0);
    CHECK_EQ(metadb_remote_del(t, 40), 0);
    CHECK_EQ(metadb_remote_get(t, 40, &got), -ENOENT);
out:
    metadb_abort(t);
    mdbt_close(db, dir);
}

static void mdbt_map(struct map_entry *e, uint64_t off, uint32_t size, uint32_t index)
{
    memset(e, 0, sizeof(*e));
    e->offset = off;
    e->size = size;
    e->index = index;
    memset(e->hash, 0x10 + (int)index, HASH_LEN);
}

static void mdbt_check_find(metadb_txn *t, uint64_t id, uint64_t off, int want_index)
{
    struct map_entry e;
    int rc = metadb_map_find(t, id, off, &e);

    if (want_index < 0) {
        CHECK_EQ(rc, -ENOENT);
        return;
    }
    if (CHECK_EQ(rc, 0)) {
        CHECK_EQ(e.index, want_index);
        CHECK_EQ(e.hash[0], 0x10 + want_index);
    }
}

static void test_chunk_maps(void)
{
    char *dir = NULL;
    metadb *db = mdbt_open(&dir);
    metadb_txn *t = NULL;
    struct map_entry e[3];

    if (!db || !(t = mdbt_wtxn(db)))
        goto out;
    mdbt_check_find(t, 50, 0, -1);
    mdbt_map(&e[0], 0, 100, 0);
    mdbt_map(&e[1], 100, 50, 1);
    mdbt_map(&e[2], 150, 1, 2);
    for (int i = 0; i < 3; i++)
        CHECK_EQ(metadb_map_put(t, 50, &e[i]), 0);
    /* the neighbours' maps must not answer for this file */
    mdbt_map(&e[0], 0, 1000, 7);
    CHECK_EQ(metadb_map_put(t, 49, &e[0]), 0);
    CHECK_EQ(metadb_map_put(t, 51, &e[0]), 0);
    mdbt_check_find(t, 50, 0, 0);
    mdbt_check_find(t, 50, 99, 0);
    mdbt_check_find(t, 50, 100, 1);
    mdbt_check_find(t, 50, 149, 1);
    mdbt_check_find(t, 50, 150, 2);
    mdbt_check_find(t, 50, 151, -1);                 /* past the end */
    mdbt_check_find(t, 50, 5000, -1);
    mdbt_check_find(t, 51, 999, 7);
    mdbt_check_find(t, 52, 0, -1);
    CHECK_EQ(metadb_map_clear(t, 50), 0);
    mdbt_check_find(t, 50, 0, -1);
    mdbt_check_find(t, 50, 150, -1);
    mdbt_check_find(t, 49, 10, 7);
    mdbt_check_find(t, 51, 10, 7);
    CHECK_EQ(metadb_map_clear(t, 50), 0);       /* nothing left: fine */
out:
    metadb_abort(t);
    mdbt_close(db, dir);
}

static void test_xattrs(void)
{
    char *dir = NULL;
    metadb *db = mdbt_open(&dir);
    metadb_txn *t = NULL;
    char buf[64];

    if (!db || !(t = mdbt_wtxn(db)))
        goto out;
    CHECK_EQ(metadb_xattr_get(t, 60, "user.a", buf, sizeof(buf)), -ENODATA);
    CHECK_EQ(metadb_xattr_list(t, 60, buf, sizeof(buf)), 0);
    CHECK_EQ(metadb_xattr_set(t, 60, "user.b", "two", 3), 0);
    CHECK_EQ(metadb_xattr_set(t, 60, "user.a", "1", 1), 0);
    CHECK_EQ(metadb_xattr_set(t, 60, "user.empty", "", 0), 0);
    CHECK_EQ(metadb_xattr_set(t, 61, "user.other", "x", 1), 0);
    CHECK_EQ(metadb_xattr_get(t, 60, "user.b", NULL, 0), 3);   /* the length only */
    CHECK_EQ(metadb_xattr_get(t, 60, "user.b", buf, 2), -ERANGE);
    if (CHECK_EQ(metadb_xattr_get(t, 60, "user.b", buf, sizeof(buf)), 3))
        CHECK_MEM(buf, "two", 3);
    CHECK_EQ(metadb_xattr_get(t, 60, "user.empty", buf, sizeof(buf)), 0);
    /* names as listxattr(2) gives them: NUL-separated, in name order */
    static const char names[] = "user.a\0user.b\0user.empty";
    CHECK_EQ(metadb_xattr_list(t, 60, NULL, 0), (int)sizeof(names));
    if (CHECK_EQ(metadb_xattr_list(t, 60, buf, sizeof(buf)), (int)sizeof(names)))
        CHECK_MEM(buf, names, sizeof(names));
    CHECK_EQ(metadb_xattr_list(t, 60, buf, 10), -ERANGE);
    CHECK_EQ(metadb_xattr_del(t, 60, "user.a"), 0);
    CHECK_EQ(metadb_xattr_del(t, 60, "user.a"), -ENODATA);
    CHECK_EQ(metadb_xattr_del_all(t, 60), 0);
    CHECK_EQ(metadb_xattr_list(t, 60, buf, sizeof(buf)), 0);
    CHECK_EQ(metadb_xattr_get(t, 61, "user.other", buf, sizeof(buf)), 1);
out:
    metadb_abort(t);
    mdbt_close(db, dir);
}

static void test_kv(void)
{
    char *dir = NULL;
    metadb *db = mdbt_open(&dir);
    metadb_txn *t = NULL;
    uint64_t v = 0;

    if (!db || !(t = mdbt_wtxn(db)))
        goto out;
    CHECK_EQ(metadb_kv_get(t, "cursor", &v), -ENOENT);
    CHECK_EQ(metadb_kv_put(t, "cursor", (uint64_t)1 << 63), 0);
    CHECK_EQ(metadb_kv_put(t, "root", 5), 0);
    CHECK_EQ(metadb_kv_get(t, "cursor", &v), 0);
    CHECK(v == (uint64_t)1 << 63);
    CHECK_EQ(metadb_kv_put(t, "cursor", 6), 0);
    CHECK_EQ(metadb_kv_get(t, "cursor", &v), 0);
    CHECK_EQ(v, 6);
    CHECK_EQ(metadb_kv_get(t, "cursorx", &v), -ENOENT);   /* exact keys */
out:
    metadb_abort(t);
    mdbt_close(db, dir);
}

int main(void)
{
    test_commit_abort_reopen();
    test_open_fails_on_missing_dir();
    test_node_records();
    test_node_each();
    test_dirents();
    test_dirent_max_name();
    test_journal_order();
    test_journal_prepend_empty();
    test_journal_index();
    test_journal_many();
    test_dirty_set();
    test_tombstones_and_resync();
    test_remote_mirror();
    test_chunk_maps();
    test_xattrs();
    test_kv();
    return unit_done();
}
