#include "zframe.h"
#include "unit.h"

#include <stdlib.h>

#include <zstd.h>

#define MIB ((size_t)1 << 20)

/* Sink that appends to a fixed buffer and fails on overflow. */
typedef struct {
    uint8_t *buf;
    size_t len, cap;
    int fail_with;   /* non-zero: return this on the first call */
} collect;

static int collect_sink(void *arg, const void *buf, size_t len)
{
    collect *c = arg;
    if (c->fail_with)
        return c->fail_with;
    if (len > c->cap - c->len)
        return -2;
    memcpy(c->buf + c->len, buf, len);
    c->len += len;
    return 0;
}

static void fill_text(uint8_t *buf, size_t len)
{
    static const char text[] =
        "dbxfs keeps files as content-defined chunks, each stored once. ";
    uint64_t rng = 7;
    for (size_t i = 0; i < len; i++) {
        /* Some noise so that the text is compressible but not trivially. */
        buf[i] = (i % 97 == 0) ? (uint8_t)unit_rand(&rng)
                               : (uint8_t)text[i % (sizeof text - 1)];
    }
}

/* Feeds src to d in random pieces; the push status of the first failure. */
static int push_pieces(zframe_dec *d, const uint8_t *src, size_t len,
                       collect *out, uint64_t seed)
{
    uint64_t rng = seed;
    for (size_t off = 0; off < len;) {
        size_t n = 1 + unit_rand(&rng) % ((unit_rand(&rng) & 1) ? 7 : 40000);
        if (n > len - off)
            n = len - off;
        int rc = zframe_dec_push(d, src + off, n, collect_sink, out);
        if (rc != 0)
            return rc;
        off += n;
    }
    return 0;
}

static long compress(const uint8_t *src, size_t len, uint8_t **dst)
{
    zframe_enc *e = zframe_enc_new(0);
    long n = -1;
    *dst = malloc(zframe_bound(len));
    if (e && *dst)
        n = zframe_enc_compress(e, src, len, *dst, zframe_bound(len));
    zframe_enc_free(e);
    return n;
}

static void test_round_trip(size_t len)
{
    uint8_t *src = malloc(len), *z = NULL;
    collect out = { malloc(len), 0, len, 0 };
    zframe_dec *d = zframe_dec_new();
    if (!CHECK(src && out.buf && d))
        goto out;
    fill_text(src, len);
    long n = compress(src, len, &z);
    CHECK(n > 0 && (size_t)n <= len - len / 16);
    if (n <= 0)
        goto out;
    CHECK_EQ(zframe_dec_end(d), -1);          /* nothing fed yet */
    CHECK_EQ(push_pieces(d, z, (size_t)n, &out, len), 0);
    CHECK_EQ(zframe_dec_end(d), 0);
    CHECK_EQ(out.len, len);
    CHECK(out.len == len && memcmp(out.buf, src, len) == 0);
    /* The decoder can be reused for another frame after a reset. */
    zframe_dec_reset(d);
    out.len = 0;
    CHECK_EQ(zframe_dec_push(d, z, (size_t)n, collect_sink, &out), 0);
    CHECK_EQ(zframe_dec_end(d), 0);
    CHECK_EQ(out.len, len);
out:
    zframe_dec_free(d);
    free(z);
    free(out.buf);
    free(src);
}

static void test_keep_raw(void)
{
    size_t len = 4 * MIB;
    uint8_t *src = malloc(len), *z = NULL;
    if (!CHECK(src))
        return;
    unit_fill_random(src, len, 99);
    CHECK_EQ(compress(src, len, &z), 0);             /* probe rejects */
    free(z);
    CHECK_EQ(compress(src, 1000, &z), 0);            /* full pass rejects */
    free(z);
    /* A compressible sample must not hide an incompressible remainder. */
    fill_text(src, 64 << 10);
    CHECK_EQ(compress(src, len, &z), 0);
    free(z);
    /* The probe judges by the sample alone: an incompressible head keeps
     * the chunk raw even when the rest would compress. */
    unit_fill_random(src, 64 << 10, 5);
    fill_text(src + (64 << 10), len - (64 << 10));
    CHECK_EQ(compress(src, len, &z), 0);
    free(z);
    CHECK_EQ(compress(src, 0, &z), 0);
    free(z);
    free(src);
}

static void test_enc_errors(void)
{
    uint8_t src[4096], dst[8192];
    zframe_enc *e = zframe_enc_new(19);
    if (!CHECK(e))
        return;
    fill_text(src, sizeof src);
    CHECK_EQ(zframe_enc_compress(e, src, sizeof src, dst, 100), -1);
    long n = zframe_enc_compress(e, src, sizeof src, dst, zframe_bound(sizeof src));
    CHECK(n > 0);
    zframe_enc_free(e);
    zframe_enc_free(NULL);
}

/* Decodes frame whole and returns push status, or 100 + end status. */
static int decode(const uint8_t *z, size_t n, uint8_t *scratch, size_t cap)
{
    collect out = { scratch, 0, cap, 0 };
    zframe_dec *d = zframe_dec_new();
    int rc = d ? zframe_dec_push(d, z, n, collect_sink, &out) : -99;
    if (rc == 0)
        rc = 100 + zframe_dec_end(d);
    zframe_dec_free(d);
    return rc;
}

static void test_bad_frames(void)
{
    size_t len = MIB;
    uint8_t *src = malloc(len), *out = malloc(len), *z = NULL, *bad = NULL;
    long n = -1;
    if (!CHECK(src && out))
        goto out;
    fill_text(src, len);
    n = compress(src, len, &z);
    bad = malloc((size_t)n + 64);
    if (!CHECK(n > 0 && bad))
        goto out;
    CHECK_EQ(decode(z, (size_t)n, out, len), 100);

    /* Truncated anywhere: push is fine, end says it was cut short. */
    CHECK_EQ(decode(z, (size_t)n - 1, out, len), 99);
    CHECK_EQ(decode(z, (size_t)n / 2, out, len), 99);
    CHECK_EQ(decode(z, 3, out, len), 99);

    /* Corrupted: every one of these single-byte changes is caught. */
    size_t bad_ok = 0;
    for (size_t at = 0; at < (size_t)n; at += 1 + (size_t)n / 64) {
        memcpy(bad, z, (size_t)n);
        bad[at] ^= 0x55;
        bad_ok += decode(bad, (size_t)n, out, len) == 100;
    }
    CHECK_EQ(bad_ok, 0);
    CHECK_EQ(decode((const uint8_t *)"not zstd at all", 15, out, len), -1);

    /* Trailing data: garbage, or a second frame. */
    memcpy(bad, z, (size_t)n);
    memcpy(bad + n, "x", 1);
    CHECK_EQ(decode(bad, (size_t)n + 1, out, len), -1);
    zframe_dec *d = zframe_dec_new();
    collect c = { out, 0, len, 0 };
    CHECK_EQ(zframe_dec_push(d, z, (size_t)n, collect_sink, &c), 0);
    CHECK_EQ(zframe_dec_push(d, z, 4, collect_sink, &c), -1);
    zframe_dec_free(d);
out:
    free(bad);
    free(z);
    free(out);
    free(src);
}

/* Compresses src as a frame that declares a 2^28-byte window. Streaming
 * with no pledged size keeps zstd from shrinking the window to the data. */
static size_t big_window_frame(const uint8_t *src, size_t len, uint8_t *z,
                               size_t cap)
{
    ZSTD_CCtx *cc = ZSTD_createCCtx();
    ZSTD_inBuffer in = { src, len, 0 }, none = { NULL, 0, 0 };
    ZSTD_outBuffer ob = { z, cap, 0 };
    size_t r = cc ? ZSTD_CCtx_setParameter(cc, ZSTD_c_windowLog, 28) : 1;
    if (!ZSTD_isError(r))
        r = ZSTD_compressStream2(cc, &ob, &in, ZSTD_e_continue);
    if (!ZSTD_isError(r))
        r = ZSTD_compressStream2(cc, &ob, &none, ZSTD_e_end);
    ZSTD_freeCCtx(cc);
    return r == 0 ? ob.pos : 0;
}

/* A hostile frame must not make the decoder allocate a huge window. */
static void test_window_limit(void)
{
    uint8_t src[4096], z[8192], out[8192];
    fill_text(src, sizeof src);
    size_t n = big_window_frame(src, sizeof src, z, sizeof z);
    if (!CHECK(n > 0))
        return;
    /* The frame itself is valid: a decoder allowing 2^28 accepts it. */
    ZSTD_DCtx *dc = ZSTD_createDCtx();
    ZSTD_DCtx_setParameter(dc, ZSTD_d_windowLogMax, 28);
    ZSTD_inBuffer in = { z, n, 0 };
    ZSTD_outBuffer ob = { out, sizeof out, 0 };
    CHECK_EQ(ZSTD_decompressStream(dc, &ob, &in), 0);
    CHECK_EQ(ob.pos, sizeof src);
    ZSTD_freeDCtx(dc);
    CHECK_EQ(decode(z, n, out, sizeof out), -1);
}

static void test_sink_error(void)
{
    size_t len = MIB;
    uint8_t *src = malloc(len), *z = NULL;
    collect out = { NULL, 0, 0, 7 };
    zframe_dec *d = zframe_dec_new();
    if (!CHECK(src && d))
        goto out;
    fill_text(src, len);
    long n = compress(src, len, &z);
    if (!CHECK(n > 0))
        goto out;
    CHECK_EQ(zframe_dec_push(d, z, (size_t)n, collect_sink, &out), 7);
    /* A sink that runs out of room mid-stream stops the decoder too. */
    uint8_t small[1000];
    collect tight = { small, 0, sizeof small, 0 };
    zframe_dec_reset(d);
    CHECK_EQ(zframe_dec_push(d, z, (size_t)n, collect_sink, &tight), -2);
out:
    zframe_dec_free(d);
    free(z);
    free(src);
}

int main(void)
{
    test_round_trip(1000);
    test_round_trip(60 << 10);
    test_round_trip(4 * MIB + 3);
    test_keep_raw();
    test_enc_errors();
    test_bad_frames();
    test_sink_error();
    test_window_limit();
    return unit_done();
}
