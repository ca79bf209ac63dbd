/* blockcache: see blockcache.h.
 *
 * DIR/blocks.lmdb holds three databases:
 *   blocks  hash → the chunk's bytes
 *   lru     hash → (tick, size), 16 bytes big-endian
 *   age     tick (8 bytes big-endian) + hash → nothing
 * "age" is "lru" sorted by last use, so eviction is a cursor walk from its
 * start instead of a scan of every record. A tick is a counter, not a clock:
 * it survives restarts (it continues after the newest tick on disk) and
 * never goes backwards when the system clock does.
 *
 * A read only notes (hash, tick) in an in-memory table; the table is written
 * to lru/age inside the next put's write transaction, or by a reader once it
 * holds PEND_FLUSH entries, or at close. Eviction also skips chunks that are
 * in the table, since they were used after the tick it sees on disk.
 *
 * Locks: bc->wlock is held around every write transaction. LMDB serialises
 * writers anyway, so it costs no concurrency, and it makes bc->bytes and
 * bc->chunks (changed only with wlock held) agree with the committed state
 * that the next writer's eviction decision sees. bc->mu guards the small
 * in-memory tables and counters and is never held across LMDB calls. One
 * process opens a cache at a time (the mount); the totals are its own.
 *
 * Every function here returns 0 or -errno (LMDB's codes go through
 * lmdb_err at the call), and none logs: the mount decides what a failure
 * means to the user (blockcache.h, struct blockcache_faults). */
#include "blockcache.h"

#include <errno.h>
#include <limits.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "be.h"
#include "lmdb_err.h"

#define GIB ((uint64_t)1 << 30)
#define DEFAULT_CAP (10 * GIB)
#define PEND_SLOTS 8192          /* recency table, a power of two */
#define PEND_FLUSH 4096          /* a reader writes the table back here */
#define PEND_FULL (PEND_SLOTS * 3 / 4)  /* beyond this a use is forgotten */
#define VER_SLOTS 16384          /* verified set, direct-mapped */
#define AGE_KEY_LEN (8 + HASH_LEN)
#define REC_LEN 16
#define NOSPC_TRIES 3            /* shrinks by a quarter before -ENOSPC */

struct pend {
    uint8_t hash[HASH_LEN];
    uint64_t tick;               /* 0: empty slot */
};

struct pend_table {
    struct pend slot[PEND_SLOTS];
    size_t count;
};

struct blockcache {
    MDB_env *env;
    MDB_dbi blocks, lru, age;
    uint64_t cap;
    pthread_mutex_t wlock;       /* around every write transaction */
    pthread_mutex_t mu;          /* guards everything below */
    uint64_t tick;               /* last tick handed out */
    uint64_t bytes, chunks;      /* committed totals; written under wlock */
    struct pend_table *live;     /* uses not yet on disk */
    struct pend_table *spare;    /* swapped in by a flush; wlock holder's */
    uint8_t ver[VER_SLOTS][HASH_LEN];  /* checked since open; zero: empty */
    struct blockcache_faults faults;
};

/* Totals as a write transaction changes them, published after commit. */
struct totals {
    uint64_t bytes, chunks;
};

/* The hash is SHA-256, so any 8 of its bytes (at p) are a uniform index;
 * the two tables use different bytes. */
static size_t slot_of(const uint8_t *p, size_t slots)
{
    return (size_t)get_be64(p) & (slots - 1);
}

static MDB_val val_of(const void *p, size_t len)
{
    return (MDB_val){ .mv_size = len, .mv_data = (void *)p };
}

/* Fills k and returns it as a key. */
static MDB_val age_key(uint8_t k[AGE_KEY_LEN], uint64_t tick,
                       const uint8_t hash[HASH_LEN])
{
    put_be64(k, tick);
    memcpy(k + 8, hash, HASH_LEN);
    return val_of(k, AGE_KEY_LEN);
}

/* ---- in-memory tables (callers hold bc->mu) ---- */

static struct pend *pend_find(struct pend_table *t, const uint8_t hash[HASH_LEN])
{
    size_t i = slot_of(hash, PEND_SLOTS);

    /* Linear probing; never full (PEND_FULL), so an empty slot ends it. */
    while (t->slot[i].tick && memcmp(t->slot[i].hash, hash, HASH_LEN))
        i = (i + 1) & (PEND_SLOTS - 1);
    return &t->slot[i];
}

static int ver_has(blockcache *bc, const uint8_t hash[HASH_LEN])
{
    return !memcmp(bc->ver[slot_of(hash + 8, VER_SLOTS)], hash, HASH_LEN);
}

static void ver_set(blockcache *bc, const uint8_t hash[HASH_LEN])
{
    memcpy(bc->ver[slot_of(hash + 8, VER_SLOTS)], hash, HASH_LEN);
}

static void ver_forget(blockcache *bc, const uint8_t hash[HASH_LEN])
{
    if (ver_has(bc, hash))
        memset(bc->ver[slot_of(hash + 8, VER_SLOTS)], 0, HASH_LEN);
}

/* ---- locked wrappers ---- */

static uint64_t next_tick(blockcache *bc)
{
    pthread_mutex_lock(&bc->mu);
    uint64_t t = ++bc->tick;
    pthread_mutex_unlock(&bc->mu);
    return t;
}

/* Notes a use. Returns 1 when the table is due to be written back. */
static int touch(blockcache *bc, const uint8_t hash[HASH_LEN])
{
    pthread_mutex_lock(&bc->mu);
    struct pend *p = pend_find(bc->live, hash);
    if (p->tick || bc->live->count < PEND_FULL) {
        /* Past PEND_FULL a new use is dropped: it only costs recency. */
        if (!p->tick)
            bc->live->count++;
        memcpy(p->hash, hash, HASH_LEN);
        p->tick = ++bc->tick;
    }
    int due = bc->live->count >= PEND_FLUSH;
    pthread_mutex_unlock(&bc->mu);
    return due;
}

static int is_pending(blockcache *bc, const uint8_t hash[HASH_LEN])
{
    pthread_mutex_lock(&bc->mu);
    int yes = pend_find(bc->live, hash)->tick != 0;
    pthread_mutex_unlock(&bc->mu);
    return yes;
}

static int verified(blockcache *bc, const uint8_t hash[HASH_LEN])
{
    pthread_mutex_lock(&bc->mu);
    int yes = ver_has(bc, hash);
    pthread_mutex_unlock(&bc->mu);
    return yes;
}

static void mark_verified(blockcache *bc, const uint8_t hash[HASH_LEN])
{
    pthread_mutex_lock(&bc->mu);
    ver_set(bc, hash);
    pthread_mutex_unlock(&bc->mu);
}

static void forget_verified(blockcache *bc, const uint8_t hash[HASH_LEN])
{
    pthread_mutex_lock(&bc->mu);
    ver_forget(bc, hash);
    pthread_mutex_unlock(&bc->mu);
}

/* Called with wlock held, after the transaction committed. */
static void publish(blockcache *bc, const struct totals *t)
{
    pthread_mutex_lock(&bc->mu);
    bc->bytes = t->bytes;
    bc->chunks = t->chunks;
    pthread_mutex_unlock(&bc->mu);
}

static void note_damaged(blockcache *bc)
{
    pthread_mutex_lock(&bc->mu);
    bc->faults.damaged++;
    pthread_mutex_unlock(&bc->mu);
}

static void note_recency_lost(blockcache *bc, int err)
{
    pthread_mutex_lock(&bc->mu);
    bc->faults.recency_lost++;
    bc->faults.recency_err = err;
    pthread_mutex_unlock(&bc->mu);
}

/* ---- transactions ---- */

typedef int (*txn_fn)(blockcache *bc, MDB_txn *txn, void *arg);

/* Runs fn in a write transaction of its own, committed if fn returns 0 and
 * aborted otherwise. The caller holds wlock, except while opening. */
static int write_txn(blockcache *bc, txn_fn fn, void *arg)
{
    MDB_txn *txn;
    int rc = lmdb_err(mdb_txn_begin(bc->env, NULL, 0, &txn));

    if (rc)
        return rc;
    if ((rc = fn(bc, txn, arg))) {
        mdb_txn_abort(txn);
        return rc;
    }
    return lmdb_err(mdb_txn_commit(txn));
}

/* ---- records ---- */

static int rec_get(blockcache *bc, MDB_txn *txn, const uint8_t hash[HASH_LEN],
                   uint64_t *tick, uint64_t *size)
{
    MDB_val k = val_of(hash, HASH_LEN), v;
    int rc = lmdb_err(mdb_get(txn, bc->lru, &k, &v));

    if (rc)
        return rc;
    if (v.mv_size != REC_LEN)
        return -EIO;
    *tick = get_be64(v.mv_data);
    *size = get_be64((const uint8_t *)v.mv_data + 8);
    return 0;
}

/* Writes the lru record and its age entry (the caller removed the old one). */
static int rec_put(blockcache *bc, MDB_txn *txn, const uint8_t hash[HASH_LEN],
                   uint64_t tick, uint64_t size)
{
    uint8_t rec[REC_LEN], ak[AGE_KEY_LEN];
    MDB_val k = val_of(hash, HASH_LEN), v, none = val_of("", 0);
    MDB_val a = age_key(ak, tick, hash);
    int rc;

    put_be64(rec, tick);
    put_be64(rec + 8, size);
    v = val_of(rec, REC_LEN);
    if ((rc = lmdb_err(mdb_put(txn, bc->lru, &k, &v, 0))))
        return rc;
    return lmdb_err(mdb_put(txn, bc->age, &a, &none, 0));
}

/* Removes a chunk's three entries; *size is what it counted for. -ENOENT
 * if it has no lru record. */
static int drop_entry(blockcache *bc, MDB_txn *txn,
                      const uint8_t hash[HASH_LEN], uint64_t *size)
{
    uint8_t ak[AGE_KEY_LEN];
    MDB_val k = val_of(hash, HASH_LEN), a;
    uint64_t tick;
    int rc = rec_get(bc, txn, hash, &tick, size);

    if (rc)
        return rc;
    a = age_key(ak, tick, hash);
    rc = lmdb_err(mdb_del(txn, bc->age, &a, NULL));
    if (rc && rc != -ENOENT)
        return rc;
    if ((rc = lmdb_err(mdb_del(txn, bc->lru, &k, NULL))))
        goto out;
    rc = lmdb_err(mdb_del(txn, bc->blocks, &k, NULL));
out:
    /* A record without its block still counted in the totals: drop it. */
    return rc == -ENOENT ? 0 : rc;
}

/* Moves a chunk's record to a later tick; an older one is ignored, so two
 * flushes committing out of order never make a chunk look older. */
static int apply_use(blockcache *bc, MDB_txn *txn,
                     const uint8_t hash[HASH_LEN], uint64_t tick)
{
    uint8_t ak[AGE_KEY_LEN];
    MDB_val a;
    uint64_t old, size;
    int rc = rec_get(bc, txn, hash, &old, &size);

    if (rc == -ENOENT)
        return 0;               /* evicted since it was read */
    if (rc || old >= tick)
        return rc;
    a = age_key(ak, old, hash);
    rc = lmdb_err(mdb_del(txn, bc->age, &a, NULL));
    if (rc && rc != -ENOENT)
        return rc;
    return rec_put(bc, txn, hash, tick, size);
}

/* Writes the uses noted so far into txn (caller holds wlock). Swapping the
 * tables keeps bc->mu held only for a pointer swap, not for LMDB work. If
 * txn is later aborted the uses are lost, which only costs recency. After
 * an error the table is still emptied, since it is swapped in next. */
static int flush_pending(blockcache *bc, MDB_txn *txn, void *unused)
{
    struct pend_table *t;
    int rc = 0;

    pthread_mutex_lock(&bc->mu);
    t = bc->live;
    bc->live = bc->spare;
    bc->spare = t;
    pthread_mutex_unlock(&bc->mu);
    for (size_t i = 0; i < PEND_SLOTS && t->count; i++) {
        if (!t->slot[i].tick)
            continue;
        if (rc == 0)
            rc = apply_use(bc, txn, t->slot[i].hash, t->slot[i].tick);
        t->slot[i].tick = 0;
        t->count--;
    }
    return rc;
}

/* ---- eviction ---- */

/* Evicts the oldest chunk at or after *k (an age key), skipping those used
 * since their tick was written if skip_pending. Leaves in *k the key to
 * resume from. Returns -ENOENT when there is nothing (left) to evict. */
static int evict_one(blockcache *bc, MDB_txn *txn, MDB_cursor *cur,
                     uint8_t k[AGE_KEY_LEN], int skip_pending, struct totals *t)
{
    MDB_val key = val_of(k, AGE_KEY_LEN), v;
    MDB_cursor_op op = MDB_SET_RANGE;
    uint64_t size;
    int rc;

    while ((rc = lmdb_err(mdb_cursor_get(cur, &key, &v, op))) == 0) {
        op = MDB_NEXT;
        if (key.mv_size != AGE_KEY_LEN)
            return -EIO;
        if (!skip_pending || !is_pending(bc, (uint8_t *)key.mv_data + 8))
            break;
    }
    if (rc)
        return rc;
    memcpy(k, key.mv_data, AGE_KEY_LEN);  /* deleting moves key.mv_data */
    if ((rc = drop_entry(bc, txn, k + 8, &size)))
        return rc;
    forget_verified(bc, k + 8);
    t->bytes -= size < t->bytes ? size : t->bytes;
    t->chunks -= t->chunks > 0;
    return 0;
}

/* Evicts least recently used chunks until need more bytes fit in limit.
 * Chunks used since the last flush go last: they are newer than any tick
 * on disk. Returns 0 once they fit, 1 if they do not fit even with nothing
 * left to evict, or -errno. */
static int evict(blockcache *bc, MDB_txn *txn, uint64_t need, uint64_t limit,
                 struct totals *t)
{
    uint8_t k[AGE_KEY_LEN];
    MDB_cursor *cur;
    int rc = lmdb_err(mdb_cursor_open(txn, bc->age, &cur));

    if (rc)
        return rc;
    for (int pass = 0; pass < 2 && t->bytes + need > limit; pass++) {
        memset(k, 0, sizeof(k));
        while (t->bytes + need > limit)
            if ((rc = evict_one(bc, txn, cur, k, pass == 0, t)))
                break;
        if (rc == -ENOENT)
            rc = 0;                 /* this pass found nothing more */
        if (rc)
            goto out;
    }
    rc = t->bytes + need > limit;
out:
    mdb_cursor_close(cur);
    return rc;
}

/* ---- open and close ---- */

static int env_open(blockcache *bc, const char *dir)
{
    char path[4096];
    uint64_t map = bc->cap * 2 + GIB;
    int rc, dead;

    /* Sparse: the file only grows with its contents. The headroom is for
     * LMDB's free pages, which a large chunk can only reuse if contiguous. */
    if (map < 64 * GIB)
        map = 64 * GIB;
    if (map > SIZE_MAX / 2)
        map = SIZE_MAX / 2;
    if ((size_t)snprintf(path, sizeof(path), "%s/blocks.lmdb", dir) >= sizeof(path))
        return -ENAMETOOLONG;
    if ((rc = mdb_env_create(&bc->env)))
        goto out;
    if ((rc = mdb_env_set_maxdbs(bc->env, 3)))
        goto out;
    if ((rc = mdb_env_set_mapsize(bc->env, (size_t)map)))
        goto out;
    if ((rc = mdb_env_set_maxreaders(bc->env, 1024)))
        goto out;
    rc = mdb_env_open(bc->env, path, MDB_NOSUBDIR | MDB_NOSYNC | MDB_NOTLS, 0600);
    if (rc == 0)
        mdb_reader_check(bc->env, &dead);  /* slots of crashed processes */
out:
    return lmdb_err(rc);
}

/* Sums the lru records and finds the newest tick. */
static int load_totals(blockcache *bc, MDB_txn *txn, struct totals *t)
{
    MDB_cursor *cur;
    MDB_val k, v;
    int rc = lmdb_err(mdb_cursor_open(txn, bc->lru, &cur));

    if (rc)
        return rc;
    while ((rc = lmdb_err(mdb_cursor_get(cur, &k, &v, MDB_NEXT))) == 0) {
        if (v.mv_size != REC_LEN) {
            rc = -EIO;
            break;
        }
        uint64_t tick = get_be64(v.mv_data);
        t->bytes += get_be64((const uint8_t *)v.mv_data + 8);
        t->chunks++;
        if (tick > bc->tick)
            bc->tick = tick;
    }
    mdb_cursor_close(cur);
    return rc == -ENOENT ? 0 : rc;
}

static int dbi_create(MDB_txn *txn, const char *name, MDB_dbi *dbi)
{
    return lmdb_err(mdb_dbi_open(txn, name, MDB_CREATE, dbi));
}

/* Opens the databases and loads the totals into arg (struct totals); a cap
 * lowered since the last run is enforced here, in the same transaction. */
static int dbs_open(blockcache *bc, MDB_txn *txn, void *arg)
{
    struct totals *t = arg;
    int rc;

    if ((rc = dbi_create(txn, "blocks", &bc->blocks)))
        return rc;
    if ((rc = dbi_create(txn, "lru", &bc->lru)))
        return rc;
    if ((rc = dbi_create(txn, "age", &bc->age)))
        return rc;
    if ((rc = load_totals(bc, txn, t)))
        return rc;
    rc = evict(bc, txn, 0, bc->cap, t);
    return rc < 0 ? rc : 0;         /* 1: evicted everything it could */
}

static blockcache *bc_alloc(uint64_t cap)
{
    blockcache *bc = calloc(1, sizeof(*bc));

    if (!bc)
        return NULL;
    bc->live = calloc(1, sizeof(*bc->live));
    bc->spare = calloc(1, sizeof(*bc->spare));
    if (!bc->live || !bc->spare) {
        free(bc->live);
        free(bc->spare);
        free(bc);
        return NULL;
    }
    bc->cap = cap ? cap : DEFAULT_CAP;
    pthread_mutex_init(&bc->wlock, NULL);
    pthread_mutex_init(&bc->mu, NULL);
    return bc;
}

static void bc_free(blockcache *bc)
{
    if (bc->env)
        mdb_env_close(bc->env);
    pthread_mutex_destroy(&bc->wlock);
    pthread_mutex_destroy(&bc->mu);
    free(bc->live);
    free(bc->spare);
    free(bc);
}

int blockcache_open(const char *dir, uint64_t cap_bytes, blockcache **out)
{
    blockcache *bc = bc_alloc(cap_bytes);
    struct totals t = { 0, 0 };
    int rc;

    *out = NULL;
    if (!bc)
        return -ENOMEM;
    if ((rc = env_open(bc, dir)) || (rc = write_txn(bc, dbs_open, &t))) {
        bc_free(bc);
        return rc;
    }
    bc->bytes = t.bytes;
    bc->chunks = t.chunks;
    *out = bc;
    return 0;
}

/* Writes the noted uses back in a transaction of their own. */
static int flush_txn(blockcache *bc)
{
    return write_txn(bc, flush_pending, NULL);
}

int blockcache_close(blockcache *bc)
{
    int rc, synced;

    if (!bc)
        return 0;
    pthread_mutex_lock(&bc->wlock);
    rc = flush_txn(bc);
    pthread_mutex_unlock(&bc->wlock);
    /* NOSYNC left the pages to the kernel; a clean unmount makes them safe
     * from power loss too, as the next mount would otherwise rely on the
     * first-read hash check to find torn chunks. */
    synced = lmdb_err(mdb_env_sync(bc->env, 1));
    bc_free(bc);
    return rc ? rc : synced;
}

/* ---- put ---- */

struct put_args {
    const uint8_t *hash;
    const void *data;
    size_t len;
    struct totals t;             /* the totals as the transaction leaves them */
    int had;                     /* already there: another putter won the race */
};

/* Adds the chunk inside txn, evicting down to the cap first. */
static int insert(blockcache *bc, MDB_txn *txn, struct put_args *p)
{
    MDB_val k = val_of(p->hash, HASH_LEN), v;
    int rc = lmdb_err(mdb_get(txn, bc->blocks, &k, &v));

    p->had = rc == 0;
    if (rc != -ENOENT)
        return rc;
    if ((rc = evict(bc, txn, p->len, bc->cap, &p->t)))
        return rc < 0 ? rc : -ENOSPC;
    v = val_of(p->data, p->len);
    if ((rc = lmdb_err(mdb_put(txn, bc->blocks, &k, &v, MDB_NOOVERWRITE))))
        return rc;
    if ((rc = rec_put(bc, txn, p->hash, next_tick(bc), p->len)))
        return rc;
    p->t.bytes += p->len;
    p->t.chunks++;
    return 0;
}

/* One write transaction: the noted uses, evictions, and the chunk. */
static int put_in(blockcache *bc, MDB_txn *txn, void *arg)
{
    int rc = flush_pending(bc, txn, NULL);

    return rc ? rc : insert(bc, txn, arg);
}

static int put_txn(blockcache *bc, struct put_args *p)
{
    int rc;

    p->t = (struct totals){ bc->bytes, bc->chunks };  /* stable under wlock */
    p->had = 0;
    if ((rc = write_txn(bc, put_in, p)))
        return rc;
    publish(bc, &p->t);
    mark_verified(bc, p->hash);     /* the caller checked these bytes */
    if (p->had)
        touch(bc, p->hash);
    return 0;
}

struct shrink_args {
    size_t len;
    uint64_t target;
    struct totals t;
};

static int shrink_in(blockcache *bc, MDB_txn *txn, void *arg)
{
    struct shrink_args *s = arg;
    int rc = evict(bc, txn, s->len, s->target, &s->t);

    return rc < 0 ? rc : 0;         /* 1: evicted all it could */
}

/* No room (LMDB found no run of free pages long enough for the chunk, or
 * the transaction or the disk is full): evict a quarter more in a
 * transaction of its own, since pages freed in a transaction are only
 * reusable after it commits. */
static int shrink(blockcache *bc, size_t len)
{
    struct shrink_args s = { len, 0, { bc->bytes, bc->chunks } };
    int rc;

    if (s.t.chunks == 0)
        return -ENOSPC;
    s.target = s.t.bytes - s.t.bytes / 4;
    if ((rc = write_txn(bc, shrink_in, &s)))
        return rc;
    publish(bc, &s.t);
    return 0;
}

int blockcache_put(blockcache *bc, const uint8_t hash[HASH_LEN],
                   const void *data, size_t len)
{
    struct put_args p = { hash, data, len, { 0, 0 }, 0 };
    int rc;

    if (len > bc->cap)
        return -EFBIG;
    if (blockcache_has(bc, hash)) {
        touch(bc, hash);            /* no write transaction for a hit */
        return 0;
    }
    pthread_mutex_lock(&bc->wlock);
    rc = put_txn(bc, &p);
    /* Freed pages may be scattered: shrinking again finds a longer run. */
    for (int i = 0; rc == -ENOSPC && i < NOSPC_TRIES; i++)
        if ((rc = shrink(bc, len)) == 0)
            rc = put_txn(bc, &p);
    pthread_mutex_unlock(&bc->wlock);
    return rc;
}

/* ---- read ---- */

/* The first read after open checks the bytes against their name. */
static int verify(blockcache *bc, const uint8_t hash[HASH_LEN], const MDB_val *v)
{
    uint8_t got[HASH_LEN];

    if (verified(bc, hash))
        return 0;
    if (hash_buf(v->mv_data, v->mv_size, got))
        return -ENOMEM;
    if (memcmp(got, hash, HASH_LEN))
        return -EIO;
    mark_verified(bc, hash);
    return 0;
}

struct drop_args {
    const uint8_t *hash;
    uint64_t size;
};

static int drop_in(blockcache *bc, MDB_txn *txn, void *arg)
{
    struct drop_args *d = arg;

    return drop_entry(bc, txn, d->hash, &d->size);
}

/* Drops a damaged chunk so that the caller's refetch can put it again. If
 * that fails the chunk stays, and the next read finds it damaged again. */
static void drop_damaged(blockcache *bc, const uint8_t hash[HASH_LEN])
{
    struct drop_args d = { hash, 0 };
    struct totals t;

    note_damaged(bc);
    pthread_mutex_lock(&bc->wlock);
    /* -ENOENT: another reader dropped it first. */
    if (write_txn(bc, drop_in, &d) == 0) {
        t = (struct totals){ bc->bytes, bc->chunks };
        t.bytes -= d.size < t.bytes ? d.size : t.bytes;
        t.chunks -= t.chunks > 0;
        publish(bc, &t);
    }
    pthread_mutex_unlock(&bc->wlock);
}

static ssize_t copy_out(const MDB_val *v, uint64_t off, void *buf, size_t len)
{
    if (off >= v->mv_size)
        return 0;
    size_t n = v->mv_size - (size_t)off;
    if (n > len)
        n = len;
    if (n > SSIZE_MAX)
        n = SSIZE_MAX;
    memcpy(buf, (const uint8_t *)v->mv_data + off, n);
    return (ssize_t)n;
}

/* A reader writes the noted uses back only if no writer is busy: a put
 * would write them anyway, and readers never wait for writers. */
static void maybe_flush(blockcache *bc)
{
    if (pthread_mutex_trylock(&bc->wlock))
        return;
    int rc = flush_txn(bc);
    pthread_mutex_unlock(&bc->wlock);
    if (rc)
        note_recency_lost(bc, rc);  /* the read itself succeeded */
}

ssize_t blockcache_read(blockcache *bc, const uint8_t hash[HASH_LEN],
                        uint64_t off, void *buf, size_t len)
{
    MDB_txn *txn;
    MDB_val k = val_of(hash, HASH_LEN), v;
    ssize_t n = 0;
    int rc = lmdb_err(mdb_txn_begin(bc->env, NULL, MDB_RDONLY, &txn));

    if (rc)
        return rc;
    if ((rc = lmdb_err(mdb_get(txn, bc->blocks, &k, &v))))
        goto out;
    if ((rc = verify(bc, hash, &v)))
        goto out;
    n = copy_out(&v, off, buf, len);
out:
    mdb_txn_abort(txn);
    if (rc == -EIO)
        drop_damaged(bc, hash);
    if (rc)
        return rc;
    if (touch(bc, hash))
        maybe_flush(bc);
    return n;
}

/* ---- the rest ---- */

int blockcache_has(blockcache *bc, const uint8_t hash[HASH_LEN])
{
    MDB_txn *txn;
    MDB_val k = val_of(hash, HASH_LEN), v;

    if (mdb_txn_begin(bc->env, NULL, MDB_RDONLY, &txn))
        return 0;
    int rc = mdb_get(txn, bc->blocks, &k, &v);
    mdb_txn_abort(txn);
    return rc == 0;
}

void blockcache_stats(blockcache *bc, uint64_t *bytes, uint64_t *chunks,
                      uint64_t *cap)
{
    pthread_mutex_lock(&bc->mu);
    if (bytes)
        *bytes = bc->bytes;
    if (chunks)
        *chunks = bc->chunks;
    if (cap)
        *cap = bc->cap;
    pthread_mutex_unlock(&bc->mu);
}

void blockcache_faults(blockcache *bc, struct blockcache_faults *out)
{
    pthread_mutex_lock(&bc->mu);
    *out = bc->faults;
    pthread_mutex_unlock(&bc->mu);
}

static int clear_in(blockcache *bc, MDB_txn *txn, void *unused)
{
    int rc;

    if ((rc = lmdb_err(mdb_drop(txn, bc->blocks, 0))))
        return rc;
    if ((rc = lmdb_err(mdb_drop(txn, bc->lru, 0))))
        return rc;
    return lmdb_err(mdb_drop(txn, bc->age, 0));
}

int blockcache_clear(blockcache *bc)
{
    static const struct totals zero = { 0, 0 };
    int rc;

    pthread_mutex_lock(&bc->wlock);
    if ((rc = write_txn(bc, clear_in, NULL)) == 0) {
        publish(bc, &zero);
        pthread_mutex_lock(&bc->mu);
        memset(bc->live, 0, sizeof(*bc->live));
        memset(bc->ver, 0, sizeof(bc->ver));
        pthread_mutex_unlock(&bc->mu);
    }
    pthread_mutex_unlock(&bc->wlock);
    return rc;
}
