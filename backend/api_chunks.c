/* PUT and GET /v1/chunks/{hash}?exp=&sig=: the only requests that carry
 * file bytes. The signed URL is the authorisation: it names one chunk and
 * one method, and expires. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "api.h"
#include "chunkstream.h"
#include "log.h"

struct chunk_put {
    chunk_writer *w;
    enum chunk_encoding enc;
    uint64_t stored_size;
    uint32_t uid;  /* the account the URL was issued to (?u=) */
    int error;     /* the first chunkstore error; later bytes are dropped */
};

static void put_free(void *p)
{
    struct chunk_put *put = p;
    chunkstore_writer_free(put->w);
    free(put);
}

static int encoding_of(struct http_req *r, enum chunk_encoding *enc)
{
    const char *ce = http_header(r, "Content-Encoding");
    if (!ce || strcasecmp(ce, "identity") == 0)
        *enc = CHUNK_RAW;
    else if (strcasecmp(ce, "zstd") == 0)
        *enc = CHUNK_ZSTD;
    else
        return -1;
    return 0;
}

void api_chunk_put_begin(struct http_req *r)
{
    enum chunk_encoding enc;
    struct chunk_put *put;
    if (api_check_signature(r, "PUT"))
        return;
    if (encoding_of(r, &enc)) {
        http_reply_error(r, 400, "bad_request", "Content-Encoding must be zstd or identity");
        return;
    }
    if (!(put = calloc(1, sizeof *put))) {
        http_reply_error(r, 500, "internal", "out of memory");
        return;
    }
    r->stream = put;
    r->stream_free = put_free;
    put->enc = enc;
    const char *u = http_query(r, "u");  /* digits: checked with the signature */
    put->uid = u ? (uint32_t)strtoul(u, NULL, 10) : 0;
    const char *cl = http_header(r, "Content-Length");
    uint64_t hint = cl ? strtoull(cl, NULL, 10) : 0;
    if ((put->error = chunkstore_writer_new(r->d->cs, r->hash, enc, hint, &put->w)) != 0)
        http_reply_error(r, 500, "internal", "cannot store a chunk");
}

void api_chunk_put_data(struct http_req *r, const char *buf, size_t len)
{
    struct chunk_put *put = r->stream;
    if (!put->error)
        put->error = chunkstore_writer_write(put->w, buf, len);
}

static enum MHD_Result put_error(struct http_req *r, int rc)
{
    switch (rc) {
    case CS_MISMATCH: return http_reply_error(r, 400, "hash_mismatch", "the bytes do not hash to the chunk's name");
    case CS_BAD_INPUT: return http_reply_error(r, 400, "bad_request", "the body is not one valid zstd frame");
    case CS_TOO_LARGE: return http_reply_error(r, 413, "too_large", "a chunk is at most %u bytes", CHUNK_MAX_RAW);
    case CS_NOSPACE: return http_reply_error(r, 507, "no_space", "the chunk store is full");
    default: return http_reply_error(r, 500, "internal", "cannot store the chunk (%d)", rc);
    }
}

/* Publishes inside a metadata write transaction: garbage collection
 * removes files inside one too, so a chunk cannot be collected between
 * its rename and its record (see gc.c). */
static int publish(struct http_req *r, const struct chunk_put *put, uint32_t raw_size, int *created)
{
    struct ms_chunkrec rec;
    ms_txn *t;
    int rc = ms_txn_begin(r->d->ms, 1, &t);
    if (rc)
        return rc;
    memset(&rec, 0, sizeof rec);
    rc = ms_chunk_get(t, r->hash, &rec);
    if (rc == MS_NOTFOUND || rc == 0) {
        *created = !(rc == 0 && rec.present && chunkstore_exists(r->d->cs, r->hash));
        rc = 0;
    }
    rec.present = 1;
    rec.raw_size = raw_size;
    rec.stored_size = put->stored_size;
    rec.encoding = (uint8_t)put->enc;
    if (rc == 0 && rec.refs == 0 && rec.pins == 0) {
        rec.touched = (int64_t)time(NULL);
        rc = ms_gcq_put(t, r->hash);
    }
    if (rc == 0 && chunkstore_writer_publish(put->w) != 0)
        rc = MS_IO;
    if (rc == 0 && put->uid)
        rc = ms_hold_put(t, r->hash, put->uid);  /* the sender has proved it has the bytes */
    if (rc == 0 && (rc = ms_chunk_put(t, r->hash, &rec)) == 0)
        return ms_txn_commit(t);
    ms_txn_abort(t);
    return rc;
}

enum MHD_Result api_chunk_put_end(struct http_req *r)
{
    struct chunk_put *put = r->stream;
    uint32_t raw_size = 0;
    int created = 1;
    int rc = put->error ? put->error : chunkstore_writer_finish(put->w, &raw_size, &put->stored_size);
    if (rc)
        return put_error(r, rc);
    if ((rc = publish(r, put, raw_size, &created)) != 0)
        return http_reply_ms_error(r, rc);
    chunkstore_sync(r->d->cs, r->hash);
    cJSON *j = cJSON_CreateObject();
    char hex[HASH_HEX_LEN + 1];
    hash_to_hex(r->hash, hex);
    cJSON_AddStringToObject(j, "hash", hex);
    cJSON_AddNumberToObject(j, "size", raw_size);
    return http_reply_json(r, created ? 201 : 200, j);
}

static int accepts_zstd(struct http_req *r)
{
    const char *ae = http_header(r, "Accept-Encoding");
    return ae && strstr(ae, "zstd") != NULL;
}

enum MHD_Result api_chunk_get(struct http_req *r)
{
    struct ms_chunkrec rec;
    ms_txn *t;
    char etag[HASH_HEX_LEN + 3];
    if (api_check_signature(r, "GET"))
        return MHD_YES;
    int rc = ms_txn_begin(r->d->ms, 0, &t);
    if (rc == 0) {
        rc = ms_chunk_get(t, r->hash, &rec);
        ms_txn_abort(t);
    }
    if (rc == 0 && !rec.present)
        rc = MS_NOTFOUND;
    if (rc)
        return rc == MS_NOTFOUND ? http_reply_error(r, 404, "not_found", "no such chunk") : http_reply_ms_error(r, rc);
    hash_to_hex(r->hash, etag + 1);
    etag[0] = '"', etag[HASH_HEX_LEN + 1] = '"', etag[HASH_HEX_LEN + 2] = '\0';
    const char *inm = http_header(r, "If-None-Match");
    if (inm && strcmp(inm, etag) == 0)
        return http_reply_response(r, 304, MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT));
    if (!chunkstore_exists(r->d->cs, r->hash)) {
        chunkstream_damaged(r->d, r->hash);  /* lost: mark it missing */
        return http_reply_error(r, 404, "not_found", "the chunk is missing");
    }
    /* the record knows the stored form: no need to open the file twice */
    int zstd = rec.encoding == CHUNK_ZSTD;
    int passthrough = !zstd || accepts_zstd(r);
    uint64_t size = zstd && passthrough ? rec.stored_size : rec.raw_size;
    struct dbx_chunk *one = malloc(sizeof *one);
    if (!one)
        return http_reply_error(r, 500, "internal", "out of memory");
    memcpy(one->hash, r->hash, HASH_LEN);
    one->size = rec.raw_size;
    struct MHD_Response *resp = chunkstream_response(chunkstream_new(r->d, one, 1, passthrough), size);
    if (!resp)
        return http_reply_error(r, 500, "internal", "out of memory");
    MHD_add_response_header(resp, "Content-Type", "application/octet-stream");
    MHD_add_response_header(resp, "Cache-Control", "public, max-age=31536000, immutable");
    MHD_add_response_header(resp, "ETag", etag);
    if (zstd && passthrough)
        MHD_add_response_header(resp, "Content-Encoding", "zstd");
    MHD_add_response_header(resp, "Vary", "Accept-Encoding");
    return http_reply_response(r, 200, resp);
}
