#include "chunker.h"
#include "hash.h"
#include "unit.h"

#include <errno.h>
#include <stdlib.h>

#define MIB ((size_t)1 << 20)
#define BIG (64 * MIB)

enum feed_mode { FEED_WHOLE, FEED_RANDOM, FEED_BYTES };

typedef struct {
    size_t *len;   /* chunk lengths, in order */
    size_t n, cap;
} chunk_list;

static const chunker_params small = { 16 << 10, 64 << 10, 256 << 10 };
static const chunker_params deflt = {
    CHUNKER_MIN_DEFAULT, CHUNKER_AVG_DEFAULT, CHUNKER_MAX_DEFAULT };
static const chunker_params tiny = { 64, 256, 1024 };

static int list_push(chunk_list *l, size_t len)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 256;
        size_t *p = realloc(l->len, cap * sizeof *p);
        if (!p)
            return -1;
        l->len = p;
        l->cap = cap;
    }
    l->len[l->n++] = len;
    return 0;
}

static size_t piece_size(enum feed_mode mode, uint64_t *rng, size_t left)
{
    size_t n = left;
    if (mode == FEED_BYTES)
        n = 1;
    else if (mode == FEED_RANDOM) {
        uint64_t r = unit_rand(rng);
        /* Mostly big pieces, some tiny ones to split the window anywhere. */
        n = (r & 3) ? 1 + (r >> 8) % (2 * MIB) : 1 + (r >> 8) % 16;
    }
    return n < left ? n : left;
}

/* Chunks buf as a caller would, recording each chunk's length. */
static int chunk_all(const chunker_params *p, const uint8_t *buf, size_t len,
                     enum feed_mode mode, chunk_list *out)
{
    uint64_t rng = 0x5eed;
    int rc = -1;
    size_t cur = 0;
    chunker *c = chunker_new(p);
    if (!c)
        return -1;
    for (size_t off = 0; off < len;) {
        size_t piece = piece_size(mode, &rng, len - off);
        while (piece > 0) {
            int boundary;
            size_t k = chunker_feed(c, buf + off, piece, &boundary);
            off += k;
            piece -= k;
            cur += k;
            if (boundary && list_push(out, cur) != 0)
                goto out;
            if (boundary)
                cur = 0;
        }
    }
    rc = cur > 0 ? list_push(out, cur) : 0;
out:
    chunker_free(c);
    return rc;
}

static int same_lists(const chunk_list *a, const chunk_list *b)
{
    if (a->n != b->n)
        return 0;
    return a->n == 0 || memcmp(a->len, b->len, a->n * sizeof *a->len) == 0;
}

static void check_bounds(const chunker_params *p, const chunk_list *l,
                         size_t total)
{
    size_t sum = 0, bad = 0;
    for (size_t i = 0; i < l->n; i++) {
        size_t n = l->len[i];
        int last = i + 1 == l->n;
        if (n > p->max_size || n == 0 || (!last && n < p->min_size))
            bad++;
        sum += n;
    }
    CHECK_EQ(bad, 0);
    CHECK_EQ(sum, total);
}

static void test_params(void)
{
    chunker_params p;
    chunker *c = chunker_new(NULL);
    CHECK(c != NULL);
    chunker_free(c);
    chunker_free(NULL);

    const chunker_params bad[] = {
        { 1024, 3000, 16384 },              /* avg not a power of two */
        { 4096, 4096, 16384 },              /* min == avg */
        { 8192, 4096, 16384 },              /* min > avg */
        { 1024, 4096, 4096 },               /* max == avg */
        { 1024, 4096, 2048 },               /* max < avg */
        { 1 << 20, 4 << 20, (64 << 20) + 1 },  /* max over 64 MiB */
        { 32, 4096, 16384 },                /* min under 64 */
        { 0, 0, 0 },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        errno = 0;
        c = chunker_new(&bad[i]);
        CHECK(c == NULL);
        CHECK_EQ(errno, EINVAL);
        chunker_free(c);
    }
    p = (chunker_params){ 64, 128, 64 << 20 };
    c = chunker_new(&p);
    CHECK(c != NULL);
    chunker_free(c);
}

static void test_split_invariance(const chunker_params *p, const uint8_t *buf,
                                  size_t len, int bytewise)
{
    chunk_list whole = { 0 }, pieces = { 0 }, bytes = { 0 };
    CHECK_EQ(chunk_all(p, buf, len, FEED_WHOLE, &whole), 0);
    CHECK_EQ(chunk_all(p, buf, len, FEED_RANDOM, &pieces), 0);
    CHECK(whole.n > 1);
    CHECK(same_lists(&whole, &pieces));
    if (bytewise) {
        CHECK_EQ(chunk_all(p, buf, len, FEED_BYTES, &bytes), 0);
        CHECK(same_lists(&whole, &bytes));
    }
    check_bounds(p, &whole, len);
    free(whole.len);
    free(pieces.len);
    free(bytes.len);
}

static void test_average(const chunker_params *p, const uint8_t *buf, size_t len)
{
    chunk_list l = { 0 };
    CHECK_EQ(chunk_all(p, buf, len, FEED_WHOLE, &l), 0);
    check_bounds(p, &l, len);
    double avg = l.n ? (double)len / (double)l.n : 0;
    printf("avg %zu: %zu chunks, mean %.0f\n", p->avg_size, l.n, avg);
    CHECK(avg >= 0.5 * (double)p->avg_size && avg <= 2.0 * (double)p->avg_size);
    free(l.len);
}

/* A run of zeros has one constant fingerprint, which matches either at once
 * or never: the bounds must hold either way. */
static void test_degenerate(void)
{
    static const chunker_params p = { 256, 1024, 4096 };
    size_t len = 1 << 20;
    uint8_t *z = calloc(1, len);
    chunk_list l = { 0 };
    if (!CHECK(z))
        return;
    CHECK_EQ(chunk_all(&p, z, len, FEED_WHOLE, &l), 0);
    check_bounds(&p, &l, len);
    free(l.len);
    free(z);
}

static void test_reset(const uint8_t *buf, size_t len)
{
    chunker *c = chunker_new(&small);
    chunk_list fresh = { 0 };
    int boundary;
    if (!CHECK(c))
        return;
    CHECK_EQ(chunk_all(&small, buf, len, FEED_WHOLE, &fresh), 0);
    /* Half a chunk of other data, then reset: the next byte starts anew. */
    CHECK_EQ(chunker_feed(c, buf + 12345, 20000, &boundary), 20000);
    CHECK_EQ(boundary, 0);
    chunker_reset(c);
    size_t k = chunker_feed(c, buf, len, &boundary);
    CHECK_EQ(boundary, 1);
    CHECK(fresh.n > 0 && k == fresh.len[0]);
    CHECK_EQ(chunker_feed(c, buf, 0, &boundary), 0);
    CHECK_EQ(boundary, 0);
    chunker_free(c);
    free(fresh.len);
}

typedef struct { uint8_t h[HASH_LEN]; } digest;

static int cmp_digest(const void *a, const void *b)
{
    return memcmp(a, b, HASH_LEN);
}

/* Chunks buf and returns its chunk hashes (sorted when sort is set). */
static digest *chunk_hashes(const chunker_params *p, const uint8_t *buf,
                            size_t len, int sort, size_t *n)
{
    chunk_list l = { 0 };
    digest *d = NULL;
    size_t off = 0;
    if (chunk_all(p, buf, len, FEED_WHOLE, &l) != 0 || l.n == 0)
        goto out;
    d = malloc(l.n * sizeof *d);
    for (size_t i = 0; d && i < l.n; i++) {
        hash_buf(buf + off, l.len[i], d[i].h);
        off += l.len[i];
    }
    *n = l.n;
    if (d && sort)
        qsort(d, l.n, sizeof *d, cmp_digest);
out:
    free(l.len);
    return d;
}

/* Chunks of edit that the store of orig's chunks would not already hold. */
static size_t new_chunks(const chunker_params *p, const uint8_t *orig,
                         size_t olen, const uint8_t *edit, size_t elen)
{
    size_t no = 0, ne = 0, fresh = SIZE_MAX;
    digest *o = chunk_hashes(p, orig, olen, 1, &no);
    digest *e = chunk_hashes(p, edit, elen, 0, &ne);
    if (!CHECK(o && e))
        goto out;
    fresh = 0;
    for (size_t i = 0; i < ne; i++)
        fresh += bsearch(&e[i], o, no, sizeof *o, cmp_digest) == NULL;
    printf("edit: %zu of %zu chunks new\n", fresh, ne);
out:
    free(o);
    free(e);
    return fresh;
}

static void test_stability(const chunker_params *p, const uint8_t *buf)
{
    static const char ins[17] = "seventeen bytes!";
    uint8_t *edit = malloc(BIG + sizeof ins);
    if (!CHECK(edit))
        return;
    size_t at = 1000;   /* insert near the front */
    memcpy(edit, buf, at);
    memcpy(edit + at, ins, sizeof ins);
    memcpy(edit + at + sizeof ins, buf + at, BIG - at);
    CHECK(new_chunks(p, buf, BIG, edit, BIG + sizeof ins) <= 2);

    at = BIG / 2 + 12345;   /* delete 100 bytes in the middle */
    memcpy(edit, buf, at);
    memcpy(edit + at, buf + at + 100, BIG - at - 100);
    CHECK(new_chunks(p, buf, BIG, edit, BIG - 100) <= 2);

    /* Control: a fixed-size chunker would make every later chunk new. */
    CHECK(new_chunks(p, buf, BIG, buf, BIG) == 0);
    free(edit);
}

/* The gear table and masks are fixed forever (chunker.h): these boundaries
 * of unit.h's seeded data were recorded once and must never change. */
static void test_golden(const uint8_t *buf)
{
    static const size_t want[] = { 38103, 71592, 107434, 76528,
                                   111605, 82658, 103541, 69465 };
    chunk_list l = { 0 };
    CHECK_EQ(chunk_all(&small, buf, 4 * MIB, FEED_WHOLE, &l), 0);
    if (CHECK(l.n >= sizeof want / sizeof want[0]))
        CHECK_MEM(l.len, want, sizeof want);
    free(l.len);
}

int main(void)
{
    uint8_t *buf = malloc(BIG);
    if (!CHECK(buf))
        return unit_done();
    unit_fill_random(buf, BIG, 42);
    test_params();
    test_split_invariance(&small, buf, BIG, 0);
    test_split_invariance(&deflt, buf, BIG, 0);
    test_split_invariance(&small, buf, 4 * MIB, 1);
    test_split_invariance(&tiny, buf, MIB / 4, 1);
    test_average(&small, buf, BIG);
    test_average(&deflt, buf, BIG);
    test_average(&tiny, buf, 4 * MIB);
    test_degenerate();
    test_reset(buf, 4 * MIB);
    test_stability(&small, buf);
    test_stability(&deflt, buf);
    test_golden(buf);
    free(buf);
    return unit_done();
}
