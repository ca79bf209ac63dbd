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
 * process opens a cache at a time (the mount); the totals are its own. */
#include "blockcache.h"

#include <errno.h>
#include <limits.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

#define GIB ((uint64_t)1 << 30)
#define DEFAULT_CAP (10 * GIB)
#define PEND_SLOTS 8192          /* recency table, a power of two */
#define PEND_FLUSH 4096          /* a reader writes the table back here */
#define PEND_FULL (PEND_SLOTS * 3 / 4)  /* beyond this a use is forgotten */
#define VER_SLOTS 16384          /* verified set, direct-mapped */
#define AGE_KEY_LEN (8 + HASH_LEN)
#define REC_LEN 16
#define MAP_FULL_TRIES 3         /* shrinks by a quarter before -ENOSPC */

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
};

/* Totals as a write transaction changes them, published after commit. */
struct totals {
    uint64_t bytes, chunks;
};

static int mdb_errno(int rc)
{
    switch (rc) {
    case 0: return 0;
    case MDB_NOTFOUND: return -ENOENT;
    case MDB_MAP_FULL: case MDB_TXN_FULL: return -ENOSPC;
    case MDB_READERS_FULL: return -EAGAIN;
    default: return rc > 0 ? -rc : -EIO;
    }
}

static void put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static uint64_t get_be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

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

/* ---- records ---- */

static int rec_get(blockcache *bc, MDB_txn *txn, const uint8_t hash[HASH_LEN],
                   uint64_t *tick, uint64_t *size)
{
    MDB_val k = val_of(hash, HASH_LEN), v;
    int rc = mdb_get(txn, bc->lru, &k, &v);

    if (rc)
        return rc;
    if (v.mv_size != REC_LEN)
        return MDB_CORRUPTED;
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

    put_be64(rec, tick);
    put_be64(rec + 8, size);
    v = val_of(rec, REC_LEN);
    int rc = mdb_put(txn, bc->lru, &k, &v, 0);
    return rc ? rc : mdb_put(txn, bc->age, &a, &none, 0);
}

/* Removes a chunk's three entries; *size is what it counted for. */
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
    rc = mdb_del(txn, bc->age, &a, NULL);
    if (rc == 0 || rc == MDB_NOTFOUND)
        rc = mdb_del(txn, bc->lru, &k, NULL);
    if (rc == 0)
        rc = mdb_del(txn, bc->blocks, &k, NULL);
    /* A record without its block still counted in the totals: drop it. */
    return rc == MDB_NOTFOUND ? 0 : rc;
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

    if (rc == MDB_NOTFOUND)
        return 0;               /* evicted since it was read */
    if (rc || old >= tick)
        return rc;
    a = age_key(ak, old, hash);
    rc = mdb_del(txn, bc->age, &a, NULL);
    if (rc && rc != MDB_NOTFOUND)
        return rc;
    return rec_put(bc, txn, hash, tick, size);
}

/* Writes the uses noted so far into txn (caller holds wlock). Swapping the
 * tables keeps bc->mu held only for a pointer swap, not for LMDB work. If
 * txn is later aborted the uses are lost, which only costs recency. */
static int flush_pending(blockcache *bc, MDB_txn *txn)
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
 * resume from. Returns MDB_NOTFOUND when there is nothing (left) to evict. */
static int evict_one(blockcache *bc, MDB_txn *txn, MDB_cursor *cur,
                     uint8_t k[AGE_KEY_LEN], int skip_pending, struct totals *t)
{
    MDB_val key = val_of(k, AGE_KEY_LEN), v;
    MDB_cursor_op op = MDB_SET_RANGE;
    uint64_t size;
    int rc;

    while ((rc = mdb_cursor_get(cur, &key, &v, op)) == 0) {
        op = MDB_NEXT;
        if (key.mv_size != AGE_KEY_LEN)
            return MDB_CORRUPTED;
        if (!skip_pending || !is_pending(bc, (uint8_t *)key.mv_data + 8))
            break;
    }
    if (rc)
        return rc;
    memcpy(k, key.mv_data, AGE_KEY_LEN);  /* deleting moves key.mv_data */
    rc = drop_entry(bc, txn, k + 8, &size);
    if (rc)
        return rc;
    forget_verified(bc, k + 8);
    t->bytes -= size < t->bytes ? size : t->bytes;
    t->chunks -= t->chunks > 0;
    return 0;
}

/* Evicts least recently used chunks until need more bytes fit in limit.
 * Chunks used since the last flush go last: they are newer than any tick
 * on disk. MDB_NOTFOUND if even an empty cache would not do. */
static int evict(blockcache *bc, MDB_txn *txn, uint64_t need, uint64_t limit,
                 struct totals *t)
{
    uint8_t k[AGE_KEY_LEN];
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, bc->age, &cur);

    if (rc)
        return rc;
    for (int pass = 0; pass < 2 && t->bytes + need > limit; pass++) {
        memset(k, 0, sizeof(k));
        while (rc == 0 && t->bytes + need > limit)
            rc = evict_one(bc, txn, cur, k, pass == 0, t);
        if (rc == MDB_NOTFOUND)
            rc = 0;
    }
    mdb_cursor_close(cur);
    if (rc == 0 && t->bytes + need > limit)
        rc = MDB_NOTFOUND;
    return rc;
}

/* ---- open and close ---- */

static int env_open(blockcache *bc, const char *dir)
{
    char path[4096];
    uint64_t map = bc->cap * 2 + GIB;
    int rc;

    /* Sparse: the file only grows with its contents. The headroom is for
     * LMDB's free pages, which a large chunk can only reuse if contiguous. */
    if (map < 64 * GIB)
        map = 64 * GIB;
    if (map > SIZE_MAX / 2)
        map = SIZE_MAX / 2;
    if ((size_t)snprintf(path, sizeof(path), "%s/blocks.lmdb", dir) >= sizeof(path))
        return ENAMETOOLONG;
    rc = mdb_env_create(&bc->env);
    if (rc)
        return rc;
    if ((rc = mdb_env_set_maxdbs(bc->env, 3)) == 0 &&
        (rc = mdb_env_set_mapsize(bc->env, (size_t)map)) == 0 &&
        (rc = mdb_env_set_maxreaders(bc->env, 1024)) == 0)
        rc = mdb_env_open(bc->env, path,
                          MDB_NOSUBDIR | MDB_NOSYNC | MDB_NOTLS, 0600);
    if (rc == 0) {
        int dead = 0;
        mdb_reader_check(bc->env, &dead);  /* slots of crashed processes */
    }
    return rc;
}

/* Sums the lru records and finds the newest tick. */
static int load_totals(blockcache *bc, MDB_txn *txn, struct totals *t)
{
    MDB_cursor *cur;
    MDB_val k, v;
    int rc = mdb_cursor_open(txn, bc->lru, &cur);

    if (rc)
        return rc;
    while ((rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) == 0) {
        if (v.mv_size != REC_LEN) {
            rc = MDB_CORRUPTED;
            break;
        }
        uint64_t tick = get_be64(v.mv_data);
        t->bytes += get_be64((const uint8_t *)v.mv_data + 8);
        t->chunks++;
        if (tick > bc->tick)
            bc->tick = tick;
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/* Opens the databases and loads the totals; a cap lowered since the last
 * run is enforced here, in the same transaction. */
static int dbs_open(blockcache *bc)
{
    MDB_txn *txn;
    struct totals t = { 0, 0 };
    int rc = mdb_txn_begin(bc->env, NULL, 0, &txn);

    if (rc)
        return rc;
    if ((rc = mdb_dbi_open(txn, "blocks", MDB_CREATE, &bc->blocks)) == 0 &&
        (rc = mdb_dbi_open(txn, "lru", MDB_CREATE, &bc->lru)) == 0 &&
        (rc = mdb_dbi_open(txn, "age", MDB_CREATE, &bc->age)) == 0 &&
        (rc = load_totals(bc, txn, &t)) == 0 &&
        (rc = evict(bc, txn, 0, bc->cap, &t)) == MDB_NOTFOUND)
        rc = 0;                     /* evicted everything it could */
    if (rc == 0)
        rc = mdb_txn_commit(txn);
    else
        mdb_txn_abort(txn);
    if (rc == 0) {
        bc->bytes = t.bytes;
        bc->chunks = t.chunks;
    }
    return rc;
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
    int rc;

    *out = NULL;
    if (!bc)
        return -ENOMEM;
    rc = env_open(bc, dir);
    if (rc == 0)
        rc = dbs_open(bc);
    if (rc) {
        log_error("blockcache: open %s/blocks.lmdb: %s", dir, mdb_strerror(rc));
        bc_free(bc);
        return mdb_errno(rc);
    }
    *out = bc;
    return 0;
}

/* Writes the noted uses back in a transaction of their own. */
static int flush_txn(blockcache *bc)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(bc->env, NULL, 0, &txn);

    if (rc)
        return rc;
    rc = flush_pending(bc, txn);
    if (rc == 0)
        return mdb_txn_commit(txn);
    mdb_txn_abort(txn);
    return rc;
}

void blockcache_close(blockcache *bc)
{
    if (!bc)
        return;
    pthread_mutex_lock(&bc->wlock);
    int rc = flush_txn(bc);
    pthread_mutex_unlock(&bc->wlock);
    if (rc)
        log_warn("blockcache: saving recency: %s", mdb_strerror(rc));
    /* NOSYNC left the pages to the kernel; a clean unmount makes them safe
     * from power loss too, as the next mount would otherwise rely on the
     * first-read hash check to find torn chunks. */
    mdb_env_sync(bc->env, 1);
    bc_free(bc);
}

/* ---- put ---- */

/* Adds the chunk inside txn, evicting down to the cap first. *had is set if
 * it was already there (another putter won the race). */
static int insert(blockcache *bc, MDB_txn *txn, const uint8_t hash[HASH_LEN],
                  const void *data, size_t len, struct totals *t, int *had)
{
    MDB_val k = val_of(hash, HASH_LEN), v;
    int rc = mdb_get(txn, bc->blocks, &k, &v);

    *had = rc == 0;
    if (rc != MDB_NOTFOUND)
        return rc;
    rc = evict(bc, txn, len, bc->cap, t);
    if (rc)
        return rc == MDB_NOTFOUND ? MDB_MAP_FULL : rc;
    v = val_of(data, len);
    rc = mdb_put(txn, bc->blocks, &k, &v, MDB_NOOVERWRITE);
    if (rc == 0)
        rc = rec_put(bc, txn, hash, next_tick(bc), len);
    if (rc == 0) {
        t->bytes += len;
        t->chunks++;
    }
    return rc;
}

/* One write transaction: the noted uses, evictions, and the chunk. */
static int put_txn(blockcache *bc, const uint8_t hash[HASH_LEN],
                   const void *data, size_t len)
{
    MDB_txn *txn = NULL;
    struct totals t = { bc->bytes, bc->chunks };  /* stable under wlock */
    int had = 0, rc = mdb_txn_begin(bc->env, NULL, 0, &txn);

    if (rc)
        return rc;
    rc = flush_pending(bc, txn);
    if (rc == 0)
        rc = insert(bc, txn, hash, data, len, &t, &had);
    if (rc) {
        mdb_txn_abort(txn);
        return rc;
    }
    rc = mdb_txn_commit(txn);
    if (rc)
        return rc;
    publish(bc, &t);
    mark_verified(bc, hash);        /* the caller checked these bytes */
    if (had)
        touch(bc, hash);
    return 0;
}

/* The map is full (LMDB could not find room, e.g. no run of free pages long
 * enough for the chunk): evict a quarter more in a transaction of its own,
 * since pages freed in a transaction are only reusable after it commits. */
static int shrink(blockcache *bc, size_t len)
{
    MDB_txn *txn;
    struct totals t = { bc->bytes, bc->chunks };
    uint64_t target = t.bytes - t.bytes / 4;
    int rc;

    if (t.chunks == 0)
        return MDB_MAP_FULL;
    rc = mdb_txn_begin(bc->env, NULL, 0, &txn);
    if (rc)
        return rc;
    rc = evict(bc, txn, len, target, &t);
    if (rc == MDB_NOTFOUND)
        rc = 0;                     /* evicted all it could */
    if (rc == 0)
        rc = mdb_txn_commit(txn);
    else
        mdb_txn_abort(txn);
    if (rc == 0)
        publish(bc, &t);
    return rc;
}

int blockcache_put(blockcache *bc, const uint8_t hash[HASH_LEN],
                   const void *data, size_t len)
{
    if (len > bc->cap)
        return -EFBIG;
    if (blockcache_has(bc, hash)) {
        touch(bc, hash);            /* no write transaction for a hit */
        return 0;
    }
    pthread_mutex_lock(&bc->wlock);
    int rc = put_txn(bc, hash, data, len);
    /* Freed pages may be scattered: shrinking again finds a longer run. */
    for (int i = 0; rc == MDB_MAP_FULL && i < MAP_FULL_TRIES; i++)
        if ((rc = shrink(bc, len)) == 0)
            rc = put_txn(bc, hash, data, len);
    pthread_mutex_unlock(&bc->wlock);
    if (rc)
        log_warn("blockcache: put of %zu bytes: %s", len, mdb_strerror(rc));
    return mdb_errno(rc);
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

/* Drops a damaged chunk so that the caller's refetch can put it again. */
static void drop_damaged(blockcache *bc, const uint8_t hash[HASH_LEN])
{
    char hex[HASH_HEX_LEN + 1];
    struct totals t;
    uint64_t size;
    MDB_txn *txn;

    hash_to_hex(hash, hex);
    log_warn("blockcache: chunk %s does not match its hash; dropped", hex);
    pthread_mutex_lock(&bc->wlock);
    t = (struct totals){ bc->bytes, bc->chunks };
    int rc = mdb_txn_begin(bc->env, NULL, 0, &txn);
    if (rc == 0) {
        rc = drop_entry(bc, txn, hash, &size);
        if (rc == 0)
            rc = mdb_txn_commit(txn);
        else
            mdb_txn_abort(txn);     /* NOTFOUND: another reader dropped it */
    }
    if (rc == 0) {
        t.bytes -= size < t.bytes ? size : t.bytes;
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
        log_warn("blockcache: saving recency: %s", mdb_strerror(rc));
}

ssize_t blockcache_read(blockcache *bc, const uint8_t hash[HASH_LEN],
                        uint64_t off, void *buf, size_t len)
{
    MDB_txn *txn;
    MDB_val k = val_of(hash, HASH_LEN), v;
    ssize_t n = 0;
    int rc = mdb_txn_begin(bc->env, NULL, MDB_RDONLY, &txn);

    if (rc)
        return mdb_errno(rc);
    rc = mdb_errno(mdb_get(txn, bc->blocks, &k, &v));
    if (rc == 0)
        rc = verify(bc, hash, &v);
    if (rc == 0)
        n = copy_out(&v, off, buf, len);
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

int blockcache_clear(blockcache *bc)
{
    MDB_txn *txn;
    static const struct totals zero = { 0, 0 };

    pthread_mutex_lock(&bc->wlock);
    int rc = mdb_txn_begin(bc->env, NULL, 0, &txn);
    if (rc == 0) {
        if ((rc = mdb_drop(txn, bc->blocks, 0)) == 0 &&
            (rc = mdb_drop(txn, bc->lru, 0)) == 0 &&
            (rc = mdb_drop(txn, bc->age, 0)) == 0)
            rc = mdb_txn_commit(txn);
        else
            mdb_txn_abort(txn);
    }
    if (rc == 0) {
        publish(bc, &zero);
        pthread_mutex_lock(&bc->mu);
        memset(bc->live, 0, sizeof(*bc->live));
        memset(bc->ver, 0, sizeof(bc->ver));
        pthread_mutex_unlock(&bc->mu);
    }
    pthread_mutex_unlock(&bc->wlock);
    return mdb_errno(rc);
}
