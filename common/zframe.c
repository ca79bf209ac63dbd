#include "zframe.h"

#include <stdlib.h>

#include <zstd.h>

#define ZFRAME_DEFAULT_LEVEL 3
#define ZFRAME_PROBE_LEN ((size_t)64 << 10)
#define ZFRAME_PROBE_LEVEL 1
/* Bounds what a hostile frame can make the decoder allocate (128 MiB). */
#define ZFRAME_WINDOW_LOG_MAX 27

struct zframe_enc {
    ZSTD_CCtx *cctx;
    int level;
};

struct zframe_dec {
    ZSTD_DStream *ds;
    void *out;
    size_t out_cap;
    int done;      /* the frame ended: any further byte is an error */
};

size_t zframe_bound(size_t len)
{
    return ZSTD_compressBound(len);
}

zframe_enc *zframe_enc_new(int level)
{
    zframe_enc *e = malloc(sizeof *e);
    if (!e)
        return NULL;
    e->level = level > 0 ? level : ZFRAME_DEFAULT_LEVEL;
    e->cctx = ZSTD_createCCtx();
    if (!e->cctx) {
        free(e);
        return NULL;
    }
    return e;
}

void zframe_enc_free(zframe_enc *e)
{
    if (!e)
        return;
    ZSTD_freeCCtx(e->cctx);
    free(e);
}

/* True when out bytes for in bytes saves at least 1/16 of in. */
static int pays(size_t in, size_t out)
{
    return out < in && (in - out) * 16 >= in;
}

/* The 4-byte checksum lets the decoder itself reject a corrupted frame
 * instead of passing wrong bytes to its sink. */
static size_t compress_at(zframe_enc *e, int level, const void *src,
                          size_t len, void *dst, size_t cap)
{
    ZSTD_CCtx_reset(e->cctx, ZSTD_reset_session_and_parameters);
    if (ZSTD_isError(ZSTD_CCtx_setParameter(e->cctx, ZSTD_c_compressionLevel, level))
        || ZSTD_isError(ZSTD_CCtx_setParameter(e->cctx, ZSTD_c_contentSizeFlag, 1))
        || ZSTD_isError(ZSTD_CCtx_setParameter(e->cctx, ZSTD_c_checksumFlag, 1)))
        return (size_t)-1;
    return ZSTD_compress2(e->cctx, dst, cap, src, len);
}

/* A fast level-1 pass over a sample rejects incompressible data (already
 * compressed media, encrypted files) at a fraction of a full pass's cost. */
static int probe_pays(zframe_enc *e, const void *src, size_t len,
                      void *dst, size_t cap)
{
    if (len <= ZFRAME_PROBE_LEN)
        return 1;   /* the full pass is no dearer than the probe */
    size_t n = compress_at(e, ZFRAME_PROBE_LEVEL, src, ZFRAME_PROBE_LEN, dst, cap);
    return !ZSTD_isError(n) && pays(ZFRAME_PROBE_LEN, n);
}

long zframe_enc_compress(zframe_enc *e, const void *src, size_t len,
                         void *dst, size_t cap)
{
    if (!e || (!src && len) || !dst || cap < zframe_bound(len))
        return -1;
    if (len == 0 || !probe_pays(e, src, len, dst, cap))
        return 0;
    size_t n = compress_at(e, e->level, src, len, dst, cap);
    if (ZSTD_isError(n))
        return -1;
    return pays(len, n) ? (long)n : 0;
}

zframe_dec *zframe_dec_new(void)
{
    zframe_dec *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->ds = ZSTD_createDStream();
    d->out_cap = ZSTD_DStreamOutSize();
    d->out = malloc(d->out_cap);
    if (!d->ds || !d->out
        || ZSTD_isError(ZSTD_DCtx_setParameter(d->ds, ZSTD_d_windowLogMax,
                                               ZFRAME_WINDOW_LOG_MAX))) {
        zframe_dec_free(d);
        return NULL;
    }
    return d;
}

void zframe_dec_free(zframe_dec *d)
{
    if (!d)
        return;
    ZSTD_freeDStream(d->ds);
    free(d->out);
    free(d);
}

void zframe_dec_reset(zframe_dec *d)
{
    /* Session only: the window limit set at creation must survive. */
    ZSTD_DCtx_reset(d->ds, ZSTD_reset_session_only);
    d->done = 0;
}

int zframe_dec_push(zframe_dec *d, const void *in, size_t len,
                    zframe_sink sink, void *arg)
{
    ZSTD_inBuffer ib = { in, len, 0 };
    while (ib.pos < ib.size || !d->done) {
        if (d->done)
            return -1;   /* bytes after the end of the frame */
        ZSTD_outBuffer ob = { d->out, d->out_cap, 0 };
        size_t r = ZSTD_decompressStream(d->ds, &ob, &ib);
        if (ZSTD_isError(r))
            return -1;
        if (ob.pos > 0) {
            int rc = sink(arg, d->out, ob.pos);
            if (rc != 0)
                return rc;
        }
        if (r == 0)
            d->done = 1;
        else if (ib.pos == ib.size && ob.pos < ob.size)
            break;   /* all input used and output drained: wait for more */
    }
    return 0;
}

long zframe_dec_step(zframe_dec *d, const void *in, size_t in_len, size_t *in_pos,
                     void *out, size_t out_cap)
{
    ZSTD_inBuffer ib = { in, in_len, *in_pos };
    ZSTD_outBuffer ob = { out, out_cap, 0 };
    if (d->done)
        return ib.pos < ib.size ? -1 : 0;
    size_t r = ZSTD_decompressStream(d->ds, &ob, &ib);
    if (ZSTD_isError(r))
        return -1;
    if (r == 0)
        d->done = 1;
    *in_pos = ib.pos;
    return (long)ob.pos;
}

int zframe_dec_end(zframe_dec *d)
{
    return d->done ? 0 : -1;
}
