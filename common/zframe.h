/* zframe: zstd compression of single chunks, kept raw when compression does
 * not pay, and streaming decompression so a receiver never needs a whole
 * chunk in memory. Each encoder/decoder belongs to one thread at a time. */
#ifndef DBX_ZFRAME_H
#define DBX_ZFRAME_H

#include <stddef.h>
#include <stdint.h>

typedef struct zframe_enc zframe_enc;
typedef struct zframe_dec zframe_dec;

/* Upper bound of the compressed size of len bytes (ZSTD_compressBound). */
size_t zframe_bound(size_t len);

zframe_enc *zframe_enc_new(int level);  /* level <= 0 means the default (3) */
void zframe_enc_free(zframe_enc *e);

/* Compresses src into dst (cap >= zframe_bound(len)) as one zstd frame with
 * the content size recorded. Returns the compressed size when it saves at
 * least 1/16 of len; 0 when the chunk should be stored raw (a cheap probe
 * of a sample rejects incompressible data without compressing it all);
 * -1 on error. */
long zframe_enc_compress(zframe_enc *e, const void *src, size_t len,
                         void *dst, size_t cap);

/* Streaming decompressor for one frame. sink receives the decompressed
 * bytes in pieces; a non-zero return from sink stops and is returned. */
typedef int (*zframe_sink)(void *arg, const void *buf, size_t len);

zframe_dec *zframe_dec_new(void);
void zframe_dec_free(zframe_dec *d);
void zframe_dec_reset(zframe_dec *d);
/* Feeds compressed input. 0, the sink's non-zero value, or -1 when the input
 * is not valid zstd or continues past the end of the frame. */
int zframe_dec_push(zframe_dec *d, const void *in, size_t len,
                    zframe_sink sink, void *arg);
/* Pull style, for a reader that fills a buffer it was handed: consumes
 * input from in[*in_pos..in_len) and writes at most out_cap bytes to out.
 * Returns the bytes written (0 may just mean "feed more input"), or -1 on
 * invalid input or bytes after the end of the frame. */
long zframe_dec_step(zframe_dec *d, const void *in, size_t in_len, size_t *in_pos,
                     void *out, size_t out_cap);
/* 0 when exactly one complete frame was fed, -1 when it was cut short. */
int zframe_dec_end(zframe_dec *d);

#endif
