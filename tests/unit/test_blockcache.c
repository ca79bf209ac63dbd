#include "blockcache.h"
#include "unit.h"

#include <errno.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

/* A test chunk: deterministic bytes and their hash. */
struct chunk {
    uint8_t *data;
    size_t len;
    uint8_t hash[HASH_LEN];
};

static void chunk_make(struct chunk *c, uint64_t seed, size_t len)
{
    c->len = len;
    c->data = malloc(len ? len : 1);
    unit_fill_random(c->data, len, seed);
    hash_buf(c->data, len, c->hash);
}

static void chunks_free(struct chunk *c, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(c[i].data);
}

static char *dir_make(void)
{
    char tmpl[] = "/tmp/test_blockcache.XXXXXX";
    char *d = mkdtemp(tmpl);
    return d ? strdup(d) : NULL;
}

static void dir_remove(char *dir)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/blocks.lmdb", dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/blocks.lmdb-lock", dir);
    unlink(path);
    rmdir(dir);
    free(dir);
}

static int put(blockcache *bc, const struct chunk *c)
{
    return blockcache_put(bc, c->hash, c->data, c->len);
}

/* Reads the whole chunk back and compares it. */
static int read_ok(blockcache *bc, const struct chunk *c)
{
    uint8_t *buf = malloc(c->len + 16);
    ssize_t n = blockcache_read(bc, c->hash, 0, buf, c->len + 16);
    int ok = n == (ssize_t)c->len && memcmp(buf, c->data, c->len) == 0;
    free(buf);
    return ok;
}

static int has(blockcache *bc, const struct chunk *c)
{
    return blockcache_has(bc, c->hash);
}

static void check_stats(blockcache *bc, uint64_t bytes, uint64_t chunks)
{
    uint64_t b, n, cap;
    blockcache_stats(bc, &b, &n, &cap);
    CHECK_EQ(b, bytes);
    CHECK_EQ(n, chunks);
}

static void test_round_trip(void)
{
    char *dir = dir_make();
    blockcache *bc = NULL;
    struct chunk a, empty;
    uint8_t buf[64];
    uint64_t cap;

    chunk_make(&a, 1, 1000);
    chunk_make(&empty, 2, 0);
    if (!CHECK(dir) || !CHECK_EQ(blockcache_open(dir, 1 << 20, &bc), 0))
        goto out;
    blockcache_stats(bc, NULL, NULL, &cap);
    CHECK_EQ(cap, 1 << 20);
    CHECK_EQ(has(bc, &a), 0);
    CHECK_EQ(blockcache_read(bc, a.hash, 0, buf, sizeof(buf)), -ENOENT);
    CHECK_EQ(put(bc, &a), 0);
    CHECK_EQ(has(bc, &a), 1);
    CHECK(read_ok(bc, &a));
    check_stats(bc, 1000, 1);
    CHECK_EQ(put(bc, &a), 0);           /* already there: only marked used */
    check_stats(bc, 1000, 1);
    CHECK_EQ(put(bc, &empty), 0);
    CHECK_EQ(blockcache_read(bc, empty.hash, 0, buf, sizeof(buf)), 0);
    check_stats(bc, 1000, 2);
out:
    blockcache_close(bc);
    chunks_free(&a, 1);
    chunks_free(&empty, 1);
    if (dir)
        dir_remove(dir);
}

static void test_partial(void)
{
    char *dir = dir_make();
    blockcache *bc = NULL;
    struct chunk a;
    uint8_t buf[64];

    chunk_make(&a, 3, 1000);
    if (!CHECK(dir) || !CHECK_EQ(blockcache_open(dir, 1 << 20, &bc), 0))
        goto out;
    CHECK_EQ(put(bc, &a), 0);
    CHECK_EQ(blockcache_read(bc, a.hash, 100, buf, 50), 50);
    CHECK_MEM(buf, a.data + 100, 50);
    CHECK_EQ(blockcache_read(bc, a.hash, 0, buf, 1), 1);
    CHECK_EQ(buf[0], a.data[0]);
    CHECK_EQ(blockcache_read(bc, a.hash, 990, buf, 50), 10);  /* short */
    CHECK_MEM(buf, a.data + 990, 10);
    CHECK_EQ(blockcache_read(bc, a.hash, 999, buf, 50), 1);
    CHECK_EQ(buf[0], a.data[999]);
    CHECK_EQ(blockcache_read(bc, a.hash, 1000, buf, 50), 0);  /* at end */
    CHECK_EQ(blockcache_read(bc, a.hash, 5000, buf, 50), 0);  /* past it */
    CHECK_EQ(blockcache_read(bc, a.hash, UINT64_MAX, buf, 50), 0);
    CHECK_EQ(blockcache_read(bc, a.hash, 10, buf, 0), 0);
out:
    blockcache_close(bc);
    chunks_free(&a, 1);
    if (dir)
        dir_remove(dir);
}

/* Cap for three 1000-byte chunks: A, B, C fill it; reading A makes B the
 * least recently used, so D evicts B. */
static void test_lru_order(void)
{
    char *dir = dir_make();
    blockcache *bc = NULL;
    struct chunk c[4];
    uint8_t buf[8];

    for (int i = 0; i < 4; i++)
        chunk_make(&c[i], 10 + i, 1000);
    if (!CHECK(dir) || !CHECK_EQ(blockcache_open(dir, 3000, &bc), 0))
        goto out;
    for (int i = 0; i < 3; i++)
        CHECK_EQ(put(bc, &c[i]), 0);
    check_stats(bc, 3000, 3);
    CHECK_EQ(blockcache_read(bc, c[0].hash, 0, buf, 1), 1);
    CHECK_EQ(put(bc, &c[3]), 0);
    CHECK_EQ(has(bc, &c[0]), 1);
    CHECK_EQ(has(bc, &c[1]), 0);
    CHECK_EQ(has(bc, &c[2]), 1);
    CHECK_EQ(has(bc, &c[3]), 1);
    check_stats(bc, 3000, 3);
    /* has() does not count as a use; put() of a present chunk does. */
    CHECK_EQ(has(bc, &c[2]), 1);
    CHECK_EQ(put(bc, &c[2]), 0);
    CHECK_EQ(put(bc, &c[1]), 0);        /* evicts A, now the oldest */
    CHECK_EQ(has(bc, &c[0]), 0);
    CHECK_EQ(has(bc, &c[2]), 1);
    CHECK_EQ(has(bc, &c[3]), 1);
    CHECK_EQ(blockcache_read(bc, c[0].hash, 0, buf, 1), -ENOENT);
out:
    blockcache_close(bc);
    chunks_free(c, 4);
    if (dir)
        dir_remove(dir);
}

/* The same with room for two: A, B; read A; C evicts B. */
static void test_lru_two(void)
{
    char *dir = dir_make();
    blockcache *bc = NULL;
    struct chunk c[3];
    uint8_t buf[8];

    for (int i = 0; i < 3; i++)
        chunk_make(&c[i], 20 + i, 500);
    if (!CHECK(dir) || !CHECK_EQ(blockcache_open(dir, 1000, &bc), 0))
        goto out;
    CHECK_EQ(put(bc, &c[0]), 0);
    CHECK_EQ(put(bc, &c[1]), 0);
    CHECK_EQ(blockcache_read(bc, c[0].hash, 0, buf, 1), 1);
    CHECK_EQ(put(bc, &c[2]), 0);
    CHECK_EQ(has(bc, &c[0]), 1);
    CHECK_EQ(has(bc, &c[1]), 0);
    CHECK_EQ(has(bc, &c[2]), 1);
out:
    blockcache_close(bc);
    chunks_free(c, 3);
    if (dir)
        dir_remove(dir);
}

/* Mixed sizes: after every put the total is within the cap, and it equals
 * the sizes of the chunks that are there. */
static void test_cap(void)
{
    enum { N = 40, CAP = 5000 };
    char *dir = dir_make();
    blockcache *bc = NULL;
    struct chunk c[N];
    uint64_t s = 7, bytes, chunks, sum, count, bad = 0;

    for (int i = 0; i < N; i++)
        chunk_make(&c[i], 100 + i, 100 + unit_rand(&s) % 1900);
    if (!CHECK(dir) || !CHECK_EQ(blockcache_open(dir, CAP, &bc), 0))
        goto out;
    for (int i = 0; i < N; i++) {
        bad += put(bc, &c[i]) != 0;
        blockcache_stats(bc, &bytes, &chunks, NULL);
        sum = count = 0;
        for (int j = 0; j <= i; j++)
            if (has(bc, &c[j])) {
                sum += c[j].len;
                count++;
            }
        bad += bytes > CAP || bytes != sum || chunks != count;
        bad += !has(bc, &c[i]);         /* the newest always stays */
    }
    CHECK_EQ(bad, 0);
out:
    blockcache_close(bc);
    chunks_free(c, N);
    if (dir)
        dir_remove(dir);
}

static void test_too_big(void)
{
    char *dir = dir_make();
    blockcache *bc = NULL;
    struct chunk big, fits;

    chunk_make(&big, 30, 1001);
    chunk_make(&fits, 31, 1000);
    if (!CHECK(dir) || !CHECK_EQ(blockcache_open(dir, 1000, &bc), 0))
        goto out;
    CHECK_EQ(put(bc, &big), -EFBIG);
    CHECK_EQ(has(bc, &big), 0);
    CHECK_EQ(put(bc, &fits), 0);
    CHECK(read_ok(bc, &fits));
    check_stats(bc, 1000, 1);
out:
    blockcache_close(bc);
    chunks_free(&big, 1);
    chunks_free(&fits, 1);
    if (dir)
        dir_remove(dir);
}

/* Contents, totals and recency survive close and reopen; a lower cap at
 * open evicts down to it. */
static void test_persist(void)
{
    char *dir = dir_make();
    blockcache *bc = NULL;
    struct chunk c[4];
    uint8_t buf[8];
    uint64_t bytes, chunks;

    for (int i = 0; i < 4; i++)
        chunk_make(&c[i], 40 + i, 1000);
    if (!CHECK(dir) || !CHECK_EQ(blockcache_open(dir, 3000, &bc), 0))
        goto out;
    for (int i = 0; i < 3; i++)
        CHECK_EQ(put(bc, &c[i]), 0);
    CHECK_EQ(blockcache_read(bc, c[0].hash, 0, buf, 1), 1);  /* A used */
    blockcache_close(bc);
    bc = NULL;
    if (!CHECK_EQ(blockcache_open(dir, 3000, &bc), 0))
        goto out;
    check_stats(bc, 3000, 3);
    CHECK(read_ok(bc, &c[2]));          /* C used, after A */
    CHECK_EQ(put(bc, &c[3]), 0);        /* B is the oldest */
    CHECK_EQ(has(bc, &c[1]), 0);
    CHECK(read_ok(bc, &c[0]));          /* A used, after C and D */
    blockcache_close(bc);
    bc = NULL;
    /* Room for two: C, the oldest now, goes at open. */
    if (!CHECK_EQ(blockcache_open(dir, 2000, &bc), 0))
        goto out;
    blockcache_stats(bc, &bytes, &chunks, NULL);
    CHECK_EQ(bytes, 2000);
    CHECK_EQ(chunks, 2);
    CHECK_EQ(has(bc, &c[2]), 0);
    CHECK(read_ok(bc, &c[0]));
    CHECK(read_ok(bc, &c[3]));
out:
    blockcache_close(bc);
    chunks_free(c, 4);
    if (dir)
        dir_remove(dir);
}

/* Many uses, enough for readers to write the table back themselves, keep
 * their order: chunks read in reverse are evicted in reverse. */
static void test_many_uses(void)
{
    enum { N = 5000, LEN = 16 };
    char *dir = dir_make();
    blockcache *bc = NULL;
    struct chunk *c = calloc(N, sizeof(*c));
    uint8_t buf[LEN];
    int bad = 0;

    for (int i = 0; c && i < N; i++)
        chunk_make(&c[i], 1000 + i, LEN);
    if (!CHECK(dir && c) || !CHECK_EQ(blockcache_open(dir, N * LEN, &bc), 0))
        goto out;
    for (int i = 0; i < N; i++)
        bad += put(bc, &c[i]) != 0;
    for (int i = N - 1; i >= 0; i--)
        bad += blockcache_read(bc, c[i].hash, 0, buf, LEN) != LEN;
    CHECK_EQ(bad, 0);
    blockcache_close(bc);
    bc = NULL;
    if (!CHECK_EQ(blockcache_open(dir, (N - 10) * LEN, &bc), 0))
        goto out;
    check_stats(bc, (N - 10) * LEN, N - 10);
    for (int i = 0; i < N; i++)
        bad += has(bc, &c[i]) != (i < N - 10);
    CHECK_EQ(bad, 0);
out:
    blockcache_close(bc);
    if (c)
        chunks_free(c, N);
    free(c);
    if (dir)
        dir_remove(dir);
}

/* Overwrites a chunk's bytes behind the cache's back, as a torn write
 * after a power loss would. */
static int corrupt(const char *dir, const struct chunk *c)
{
    char path[4096];
    MDB_env *env = NULL;
    MDB_txn *txn = NULL;
    MDB_dbi dbi;
    uint8_t *junk = malloc(c->len);
    MDB_val k = { HASH_LEN, (void *)c->hash }, v = { c->len, junk };
    int rc;

    memcpy(junk, c->data, c->len);
    junk[c->len / 2] ^= 0x01;           /* one bit */
    snprintf(path, sizeof(path), "%s/blocks.lmdb", dir);
    if ((rc = mdb_env_create(&env)) == 0 &&
        (rc = mdb_env_set_maxdbs(env, 4)) == 0 &&
        (rc = mdb_env_open(env, path, MDB_NOSUBDIR, 0600)) == 0 &&
        (rc = mdb_txn_begin(env, NULL, 0, &txn)) == 0 &&
        (rc = mdb_dbi_open(txn, "blocks", 0, &dbi)) == 0 &&
        (rc = mdb_put(txn, dbi, &k, &v, 0)) == 0)
        rc = mdb_txn_commit(txn);
    else if (txn)
        mdb_txn_abort(txn);
    if (env)
        mdb_env_close(env);
    free(junk);
    return rc;
}

static void test_corrupt(void)
{
    char *dir = dir_make();
    blockcache *bc = NULL;
    struct chunk a, b;
    uint8_t buf[8];

    chunk_make(&a, 50, 3000);
    chunk_make(&b, 51, 2000);
    if (!CHECK(dir) || !CHECK_EQ(blockcache_open(dir, 1 << 20, &bc), 0))
        goto out;
    CHECK_EQ(put(bc, &a), 0);
    CHECK_EQ(put(bc, &b), 0);
    blockcache_close(bc);
    bc = NULL;
    CHECK_EQ(corrupt(dir, &a), 0);
    if (!CHECK_EQ(blockcache_open(dir, 1 << 20, &bc), 0))
        goto out;
    check_stats(bc, 5000, 2);
    CHECK(read_ok(bc, &b));
    /* Even a read of bytes that are intact checks the whole chunk. */
    CHECK_EQ(blockcache_read(bc, a.hash, 0, buf, 1), -EIO);
    CHECK_EQ(has(bc, &a), 0);
    CHECK_EQ(blockcache_read(bc, a.hash, 0, buf, 1), -ENOENT);
    check_stats(bc, 2000, 1);
    CHECK_EQ(put(bc, &a), 0);           /* the refetch */
    CHECK(read_ok(bc, &a));
    check_stats(bc, 5000, 2);
out:
    blockcache_close(bc);
    chunks_free(&a, 1);
    chunks_free(&b, 1);
    if (dir)
        dir_remove(dir);
}

static void test_clear_and_open(void)
{
    char *dir = dir_make();
    blockcache *bc = NULL;
    struct chunk c[3];
    uint64_t cap;

    for (int i = 0; i < 3; i++)
        chunk_make(&c[i], 60 + i, 700);
    CHECK(blockcache_open("/nonexistent/test_blockcache", 1000, &bc) < 0);
    CHECK(bc == NULL);
    if (!CHECK(dir) || !CHECK_EQ(blockcache_open(dir, 0, &bc), 0))
        goto out;
    blockcache_stats(bc, NULL, NULL, &cap);
    CHECK_EQ(cap, 10ull << 30);         /* 0: the default */
    for (int i = 0; i < 3; i++)
        CHECK_EQ(put(bc, &c[i]), 0);
    CHECK_EQ(blockcache_clear(bc), 0);
    check_stats(bc, 0, 0);
    for (int i = 0; i < 3; i++)
        CHECK_EQ(has(bc, &c[i]), 0);
    CHECK_EQ(put(bc, &c[1]), 0);
    CHECK(read_ok(bc, &c[1]));
    check_stats(bc, 700, 1);
out:
    blockcache_close(bc);
    chunks_free(c, 3);
    if (dir)
        dir_remove(dir);
}

/* ---- threads ---- */

enum { TN = 48, TCAP = 160 * 1024, THREADS = 4 };

struct shared {
    blockcache *bc;
    struct chunk c[TN];
    struct timespec end;
};

struct worker {
    struct shared *sh;
    uint64_t seed;
    long ops, hits, errors;
};

static int past(const struct timespec *end)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return now.tv_sec > end->tv_sec ||
           (now.tv_sec == end->tv_sec && now.tv_nsec >= end->tv_nsec);
}

/* A read may miss (evicted) but never return wrong bytes. */
static void worker_read(struct worker *w, const struct chunk *c, uint8_t *buf)
{
    uint64_t off = unit_rand(&w->seed) % (c->len + 10);
    size_t len = unit_rand(&w->seed) % (c->len + 10);
    size_t want = off >= c->len ? 0 : c->len - off < len ? c->len - off : len;
    ssize_t n = blockcache_read(w->sh->bc, c->hash, off, buf, len);

    if (n == -ENOENT)
        return;
    w->hits++;
    if (n != (ssize_t)want || (n > 0 && memcmp(buf, c->data + off, want)))
        w->errors++;
}

static void *worker_run(void *arg)
{
    struct worker *w = arg;
    uint8_t *buf = malloc(64 * 1024);

    while (!past(&w->sh->end)) {
        const struct chunk *c = &w->sh->c[unit_rand(&w->seed) % TN];
        unsigned op = unit_rand(&w->seed) % 10;
        if (op < 6)
            worker_read(w, c, buf);
        else if (op < 9)
            w->errors += blockcache_put(w->sh->bc, c->hash, c->data, c->len) != 0;
        else
            (void)blockcache_has(w->sh->bc, c->hash);
        w->ops++;
    }
    free(buf);
    return NULL;
}

/* The totals agree with what is there, and are within the cap. */
static void check_consistent(struct shared *sh)
{
    uint64_t bytes, chunks, sum = 0, count = 0;

    blockcache_stats(sh->bc, &bytes, &chunks, NULL);
    for (int i = 0; i < TN; i++)
        if (has(sh->bc, &sh->c[i])) {
            sum += sh->c[i].len;
            count++;
        }
    CHECK(bytes <= TCAP);
    CHECK_EQ(bytes, sum);
    CHECK_EQ(chunks, count);
}

static void test_threads(void)
{
    char *dir = dir_make();
    struct shared *sh = calloc(1, sizeof(*sh));
    struct worker w[THREADS];
    pthread_t t[THREADS];
    uint64_t s = 99;
    long ops = 0, hits = 0, errors = 0;

    for (int i = 0; sh && i < TN; i++)
        chunk_make(&sh->c[i], 200 + i, 1024 + unit_rand(&s) % (31 * 1024));
    if (!CHECK(dir && sh) || !CHECK_EQ(blockcache_open(dir, TCAP, &sh->bc), 0))
        goto out;
    clock_gettime(CLOCK_MONOTONIC, &sh->end);
    sh->end.tv_sec += 1;
    for (int i = 0; i < THREADS; i++) {
        w[i] = (struct worker){ .sh = sh, .seed = 1000 + i };
        CHECK_EQ(pthread_create(&t[i], NULL, worker_run, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        ops += w[i].ops;
        hits += w[i].hits;
        errors += w[i].errors;
    }
    printf("test_blockcache: %ld operations, %ld read hits in 1 s\n", ops, hits);
    CHECK_EQ(errors, 0);
    CHECK(hits > 0);
    check_consistent(sh);
    blockcache_close(sh->bc);
    sh->bc = NULL;
    if (CHECK_EQ(blockcache_open(dir, TCAP, &sh->bc), 0))
        check_consistent(sh);           /* totals rebuilt from disk agree */
out:
    if (sh) {
        blockcache_close(sh->bc);
        chunks_free(sh->c, TN);
    }
    free(sh);
    if (dir)
        dir_remove(dir);
}

int main(void)
{
    test_round_trip();
    test_partial();
    test_lru_order();
    test_lru_two();
    test_cap();
    test_too_big();
    test_persist();
    test_many_uses();
    test_corrupt();
    test_clear_and_open();
    test_threads();
    return unit_done();
}
