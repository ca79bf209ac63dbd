#include "chunkstream.h"

#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "zframe.h"

#define INBUF 65536

struct chunkstream {
    struct dbxd *d;
    struct dbx_chunk *chunks;
    uint32_t n, next;
    int passthrough;
    chunk_reader *reader;   /* the current chunk, NULL between chunks */
    zframe_dec *dec;        /* set while the current chunk is zstd */
    size_t in_pos, in_len;
    int in_eof;
    char in[INBUF];
};

struct chunkstream *chunkstream_new(struct dbxd *d, struct dbx_chunk *chunks, uint32_t n,
                                    int passthrough)
{
    struct chunkstream *s = calloc(1, sizeof *s);
    if (!s) {
        free(chunks);
        return NULL;
    }
    s->d = d, s->chunks = chunks, s->n = n, s->passthrough = passthrough;
    return s;
}

void chunkstream_free(struct chunkstream *s)
{
    if (!s)
        return;
    chunkstore_reader_free(s->reader);
    zframe_dec_free(s->dec);
    free(s->chunks);
    free(s);
}

void chunkstream_damaged(struct dbxd *d, const uint8_t hash[HASH_LEN])
{
    struct ms_chunkrec rec;
    ms_txn *t;
    chunkstore_quarantine(d->cs, hash);
    if (ms_txn_begin(d->ms, 1, &t) != 0)
        return;
    if (ms_chunk_get(t, hash, &rec) == 0) {
        rec.present = 0;
        ms_chunk_put(t, hash, &rec);
    }
    ms_txn_commit(t);
}

static int open_next(struct chunkstream *s)
{
    const uint8_t *hash = s->chunks[s->next].hash;
    int rc = chunkstore_reader_open(s->d->cs, hash, &s->reader);
    if (rc) {
        if (rc == CS_CORRUPT)
            chunkstream_damaged(s->d, hash);
        log_error("chunk %u of a download cannot be read (%d)", s->next, rc);
        return -1;
    }
    s->in_pos = s->in_len = 0;
    s->in_eof = 0;
    if (!s->passthrough && chunkstore_reader_encoding(s->reader) == CHUNK_ZSTD) {
        if (!s->dec && !(s->dec = zframe_dec_new()))
            return -1;
        zframe_dec_reset(s->dec);
    } else {
        zframe_dec_free(s->dec);
        s->dec = NULL;
    }
    s->next++;
    return 0;
}

static void close_current(struct chunkstream *s)
{
    chunkstore_reader_free(s->reader);
    s->reader = NULL;
}

static ssize_t fail(struct chunkstream *s, ssize_t rc)
{
    if (rc == CS_CORRUPT)
        chunkstream_damaged(s->d, s->chunks[s->next - 1].hash);
    return -1;
}

/* Decodes the current zstd chunk; 0 means it ended (checked complete). */
static ssize_t read_decoded(struct chunkstream *s, char *buf, size_t max)
{
    for (;;) {
        if (s->in_pos == s->in_len && !s->in_eof) {
            ssize_t n = chunkstore_reader_read(s->reader, s->in, sizeof s->in);
            if (n < 0)
                return fail(s, n);
            s->in_pos = 0, s->in_len = (size_t)n, s->in_eof = n == 0;
        }
        long out = zframe_dec_step(s->dec, s->in, s->in_len, &s->in_pos, buf, max);
        if (out < 0)
            return fail(s, CS_CORRUPT);
        if (out > 0)
            return out;
        if (s->in_eof && s->in_pos == s->in_len)
            return zframe_dec_end(s->dec) == 0 ? 0 : fail(s, CS_CORRUPT);
    }
}

ssize_t chunkstream_read(struct chunkstream *s, char *buf, size_t max)
{
    for (;;) {
        if (!s->reader) {
            if (s->next == s->n)
                return 0;
            if (open_next(s) != 0)
                return -1;
        }
        ssize_t n = s->dec ? read_decoded(s, buf, max) : chunkstore_reader_read(s->reader, buf, max);
        if (n < 0)
            return s->dec ? n : fail(s, n);
        if (n > 0)
            return n;
        close_current(s);
    }
}

static ssize_t response_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    ssize_t n = chunkstream_read(cls, buf, max);
    /* Ending early breaks the connection: the client sees a short body
     * and never takes damaged bytes for good ones. */
    return n > 0 ? n : n == 0 ? MHD_CONTENT_READER_END_OF_STREAM : MHD_CONTENT_READER_END_WITH_ERROR;
}

static void response_free(void *cls)
{
    chunkstream_free(cls);
}

struct MHD_Response *chunkstream_response(struct chunkstream *s, uint64_t size)
{
    if (!s)
        return NULL;
    struct MHD_Response *resp = MHD_create_response_from_callback(size, 256 * 1024, response_read,
                                                                  s, response_free);
    if (!resp)
        chunkstream_free(s);
    return resp;
}
