/* POST /v1/uploads, GET /v1/uploads/{id}, POST /v1/uploads/{id}/commit,
 * GET /v1/nodes/{id}/content */
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "change.h"
#include "hex.h"
#include "names.h"

#define MAX_CHUNKS 1000000u

static const char *const open_keys[] = {"node", "base_rev", "size", "chunks", NULL};
static const char *const chunk_keys[] = {"hash", "size", NULL};

/* Reads the chunk list; on failure a 400 is queued and -1 returned. */
static int read_chunks(struct http_req *r, uint64_t size, struct ms_upload *u)
{
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(r->json, "chunks"), *item;
    uint64_t total = 0, v;
    const char *bad;
    int n = cJSON_IsArray(list) ? cJSON_GetArraySize(list) : -1;
    if (n < 0 || (unsigned)n > MAX_CHUNKS)
        return api_bad_field(r, "chunks"), -1;
    if (!(u->chunks = malloc((size_t)n * sizeof *u->chunks + 1)))
        return http_reply_error(r, 500, "internal", "out of memory"), -1;
    u->nchunks = 0;
    cJSON_ArrayForEach(item, list) {
        struct dbx_chunk *c = &u->chunks[u->nchunks];
        if (wire_only_keys(item, chunk_keys, &bad) != 0 || wire_get_hash(item, "hash", c->hash) != WIRE_OK)
            return http_reply_error(r, 400, "invalid_hash", "chunk %u: needs a 64-hex-digit hash", u->nchunks), -1;
        if (wire_get_uint(item, "size", CHUNK_MAX_RAW, &v) != WIRE_OK || v == 0)
            return http_reply_error(r, 400, "bad_request", "chunk %u: size must be 1..%u", u->nchunks, CHUNK_MAX_RAW), -1;
        c->size = (uint32_t)v;
        total += v;
        u->nchunks++;
    }
    if (total != size)
        return http_reply_error(r, 400, "size_mismatch", "the chunk sizes add up to %llu, not %llu",
                                (unsigned long long)total, (unsigned long long)size), -1;
    return 0;
}

/* The same caller, node, base and chunk list always name the same session,
 * which is what makes a re-open after a crash resume it. The server's
 * secret goes first so that ids cannot be guessed. */
static int session_id(struct http_req *r, const struct ms_upload *u, uint8_t id[16])
{
    uint8_t digest[HASH_LEN];
    uint64_t fields[4] = {u->uid, u->node, u->base_rev, u->size};
    hash_ctx *h = hash_new();
    int rc = h && hash_update(h, r->d->sign_key, URLSIGN_KEY_LEN) == 0 &&
             hash_update(h, fields, sizeof fields) == 0 &&
             hash_update(h, u->chunks, (size_t)u->nchunks * sizeof *u->chunks) == 0 &&
             hash_final(h, digest) == 0 ? 0 : MS_IO;
    hash_free(h);
    memcpy(id, digest, 16);
    return rc;
}

static int chunk_order(const void *a, const void *b)
{
    return memcmp(a, b, sizeof(struct dbx_chunk));  /* by hash, then size */
}

/* One hash has one size: within the list, and against what is stored, so
 * a node's size is always the length of its bytes. 0, or -1 with a 400
 * queued. */
static int check_sizes(struct http_req *r, ms_txn *t, const struct ms_upload *u)
{
    struct dbx_chunk *sorted = malloc((size_t)u->nchunks * sizeof *sorted + 1);
    struct ms_chunkrec rec;
    char hex[HASH_HEX_LEN + 1];
    int rc = 0;
    if (!sorted)
        return http_reply_error(r, 500, "internal", "out of memory"), -1;
    memcpy(sorted, u->chunks, (size_t)u->nchunks * sizeof *sorted);
    qsort(sorted, u->nchunks, sizeof *sorted, chunk_order);
    for (uint32_t i = 0; i < u->nchunks && rc == 0; i++) {
        const struct dbx_chunk *c = &sorted[i];
        int same_hash = i > 0 && memcmp(c->hash, sorted[i - 1].hash, HASH_LEN) == 0;
        if (same_hash && c->size == sorted[i - 1].size)
            continue;
        hash_to_hex(c->hash, hex);
        if (same_hash)
            rc = (http_reply_error(r, 400, "size_mismatch", "chunk %s is listed with two sizes", hex), -1);
        else if (ms_chunk_get(t, c->hash, &rec) == 0 && rec.present && rec.raw_size != c->size)
            rc = (http_reply_error(r, 400, "size_mismatch", "chunk %s is %u bytes, not %u", hex,
                                   rec.raw_size, c->size), -1);
    }
    free(sorted);
    return rc;
}

/* 1 when the chunk is stored (the record says so and the file is there)
 * and the caller has shown it has the bytes: knowing a hash is not enough
 * to make another account's chunk part of your file. */
static int chunk_present(struct http_req *r, ms_txn *t, const uint8_t hash[HASH_LEN])
{
    struct ms_chunkrec rec;
    return ms_chunk_get(t, hash, &rec) == 0 && rec.present && ms_hold_has(t, hash, r->caller.uid) &&
           chunkstore_exists(r->d->cs, hash);
}

static int add_missing(struct http_req *r, cJSON *missing, const struct dbx_chunk *c,
                       int64_t exp, uint64_t *bytes)
{
    char hex[HASH_HEX_LEN + 1], path[128], url[1024];
    hash_to_hex(c->hash, hex);
    snprintf(path, sizeof path, "/v1/chunks/%s?u=%u", hex, r->caller.uid);
    cJSON *m = cJSON_CreateObject();
    if (!m || api_signed_url(r, "PUT", path, exp, url, sizeof url) != 0 ||
        !cJSON_AddStringToObject(m, "hash", hex) || !cJSON_AddNumberToObject(m, "size", c->size) ||
        !cJSON_AddStringToObject(m, "url", url) || !cJSON_AddItemToArray(missing, m)) {
        cJSON_Delete(m);
        return -1;
    }
    *bytes += c->size;
    return 0;
}

static int listed_before(const struct ms_upload *u, uint32_t i)
{
    for (uint32_t j = i; j-- > 0 && i - j < 64;)  /* repeats are usually adjacent */
        if (memcmp(u->chunks[j].hash, u->chunks[i].hash, HASH_LEN) == 0)
            return 1;
    return 0;
}

/* The session as answered by open and get: what is still missing, with
 * fresh URLs. */
static cJSON *session_json(struct http_req *r, ms_txn *t, const struct ms_upload *u)
{
    char id[33];
    uint64_t missing_bytes = 0;
    int64_t exp = (int64_t)time(NULL) + r->d->cfg.url_ttl;
    cJSON *j = cJSON_CreateObject(), *missing = cJSON_CreateArray();
    if (!j || !missing)
        goto fail;
    for (uint32_t i = 0; u->state == UPLOAD_OPEN && i < u->nchunks; i++)
        if (!listed_before(u, i) && !chunk_present(r, t, u->chunks[i].hash) &&
            add_missing(r, missing, &u->chunks[i], exp, &missing_bytes) != 0)
            goto fail;
    hex_encode(u->id, 16, id);
    cJSON_AddStringToObject(j, "id", id);
    wire_add_id(j, "node", u->node);
    cJSON_AddNumberToObject(j, "base_rev", (double)u->base_rev);
    cJSON_AddNumberToObject(j, "size", (double)u->size);
    cJSON_AddNumberToObject(j, "expires", (double)u->expires);
    cJSON_AddStringToObject(j, "state", u->state == UPLOAD_OPEN ? "open" : "committed");
    cJSON_AddNumberToObject(j, "missing_bytes", (double)missing_bytes);
    cJSON_AddItemToObject(j, "missing", missing);
    return j;
fail:
    cJSON_Delete(j);
    cJSON_Delete(missing);
    return NULL;
}

static int open_in(struct http_req *r, struct change *c, struct ms_upload *u)
{
    struct dbx_node n;
    struct ms_upload old;
    if (api_node_access(r, c->t, u->node, ROLE_EDITOR, &n, NULL))
        return -1;
    if (n.type != NODE_FILE)
        return http_reply_error(r, 409, n.type == NODE_DIR ? "is_dir" : "bad_request",
                                "only files have content"), -1;
    if (check_sizes(r, c->t, u))
        return -1;
    int rc = session_id(r, u, u->id);
    if (rc == 0)
        rc = ms_upload_get(c->t, u->id, &old);
    if (rc == 0) {  /* a resume: the session and its pins exist */
        u->state = old.state, u->created = old.created, u->result_rev = old.result_rev;
        u->conflict_node = old.conflict_node;
        ms_upload_release(&old);
    } else if (rc == MS_NOTFOUND) {
        u->created = c->now.sec;
        rc = change_chunk_pins(c, u->chunks, u->nchunks, +1);
    }
    u->expires = c->now.sec + r->d->cfg.upload_ttl;
    if (rc == 0)
        rc = ms_upload_put(c->t, u);
    return rc ? (http_reply_ms_error(r, rc), -1) : 0;
}

enum MHD_Result api_upload_open(struct http_req *r)
{
    struct ms_upload u;
    struct change c;
    memset(&u, 0, sizeof u);
    u.uid = r->caller.uid;
    if (api_only_keys(r, open_keys))
        return MHD_YES;
    if (wire_get_id(r->json, "node", &u.node) != WIRE_OK)
        return http_reply_error(r, 400, "invalid_id", "field 'node' must be 16 hex digits");
    if (wire_get_uint(r->json, "base_rev", WIRE_MAX_SAFE_INT, &u.base_rev) != WIRE_OK)
        return api_bad_field(r, "base_rev");
    if (wire_get_uint(r->json, "size", WIRE_MAX_SAFE_INT, &u.size) != WIRE_OK)
        return api_bad_field(r, "size");
    if (read_chunks(r, u.size, &u) != 0 || change_begin(r->d, &c) != 0) {
        if (!r->replied)
            http_reply_ms_error(r, MS_IO);
        ms_upload_release(&u);
        return MHD_YES;
    }
    if (open_in(r, &c, &u) != 0) {
        change_abort(&c);
        ms_upload_release(&u);
        return MHD_YES;
    }
    cJSON *j = session_json(r, c.t, &u);
    int rc = j ? change_commit(&c) : (change_abort(&c), MS_IO);
    ms_upload_release(&u);
    if (rc) {
        cJSON_Delete(j);
        return http_reply_ms_error(r, rc);
    }
    return http_reply_json(r, 200, j);
}

/* Loads the caller's session; others are told it does not exist. */
static int load_session(struct http_req *r, ms_txn *t, struct ms_upload *u)
{
    int rc = ms_upload_get(t, r->upload_id, u);
    if (rc == 0 && u->uid == r->caller.uid)
        return 0;
    if (rc == 0)
        ms_upload_release(u);
    if (rc == 0 || rc == MS_NOTFOUND)
        http_reply_error(r, 404, "not_found", "no such upload session");
    else
        http_reply_ms_error(r, rc);
    return -1;
}

enum MHD_Result api_upload_get(struct http_req *r)
{
    struct ms_upload u;
    ms_txn *t;
    int rc = ms_txn_begin(r->d->ms, 0, &t);
    if (rc)
        return http_reply_ms_error(r, rc);
    if (load_session(r, t, &u) == 0) {
        cJSON *j = session_json(r, t, &u);
        ms_upload_release(&u);
        if (j)
            http_reply_json(r, 200, j);
        else
            http_reply_error(r, 500, "internal", "out of memory");
    }
    ms_txn_abort(t);
    return MHD_YES;
}

/* --- commit --- */

/* The replaced content becomes a new file beside the node: last writer
 * wins the name, and no bytes are lost. Moves the old chunk list as is. */
static int keep_conflicted_copy(struct change *c, const struct dbx_node *n, struct dbx_node *copy)
{
    struct dbx_chunk *chunks = NULL;
    uint32_t nchunks = 0;
    uint64_t existing;
    int rc = ms_content_get(c->t, n->id, &chunks, &nchunks);
    *copy = *n;
    for (int attempt = 1; rc == 0; attempt++) {
        name_conflicted(n->name, NULL, (time_t)c->now.sec, (unsigned)attempt, copy->name);
        if (ms_dirent_get(c->t, n->parent, copy->name, &existing) == MS_NOTFOUND)
            break;
    }
    do {
        if (rc == 0 && RAND_bytes((uint8_t *)&copy->id, sizeof copy->id) != 1)
            rc = MS_IO;
    } while (rc == 0 && (copy->id == 0 || ms_node_get(c->t, copy->id, &(struct dbx_node){0}) == 0));
    if (rc == 0 && (rc = ms_content_put(c->t, copy->id, chunks, nchunks)) == 0)
        rc = change_put_node(c, copy, 0, NULL);  /* keeps the old content_rev */
    free(chunks);
    return rc;
}

static int missing_chunks(struct http_req *r, ms_txn *t, const struct ms_upload *u)
{
    cJSON *extra = cJSON_CreateObject(), *list = cJSON_AddArrayToObject(extra, "missing");
    char hex[HASH_HEX_LEN + 1];
    for (uint32_t i = 0; list && i < u->nchunks; i++)
        if (!listed_before(u, i) && !chunk_present(r, t, u->chunks[i].hash)) {
            hash_to_hex(u->chunks[i].hash, hex);
            cJSON_AddItemToArray(list, cJSON_CreateString(hex));
        }
    if (cJSON_GetArraySize(list) == 0) {
        cJSON_Delete(extra);
        return 0;
    }
    http_reply_error_with(r, 409, "missing_chunks", "not every chunk has arrived", extra);
    return -1;
}

static int replace_content(struct change *c, struct dbx_node *n, struct ms_upload *u,
                           struct dbx_node *copy)
{
    struct dbx_chunk *old = NULL;
    uint32_t nold = 0;
    int rc = 0;
    copy->id = 0;
    if (n->content_rev != u->base_rev && n->content_rev != 0)
        rc = keep_conflicted_copy(c, n, copy);
    else if ((rc = ms_content_get(c->t, n->id, &old, &nold)) == 0)
        rc = change_chunk_refs(c, old, nold, -1);
    free(old);
    if (rc == 0 && (rc = change_chunk_refs(c, u->chunks, u->nchunks, +1)) == 0 &&
        (rc = change_chunk_pins(c, u->chunks, u->nchunks, -1)) == 0)
        rc = ms_content_put(c->t, n->id, u->chunks, u->nchunks);
    /* an editor wrote the owner's file: the owner now has these bytes too */
    for (uint32_t i = 0; rc == 0 && n->owner_uid != u->uid && i < u->nchunks; i++)
        rc = ms_hold_put(c->t, u->chunks[i].hash, n->owner_uid);
    n->size = u->size;
    if (rc == 0)
        rc = change_put_node(c, n, CHANGE_CONTENT, NULL);
    return rc;
}

static int commit_in(struct http_req *r, struct change *c, struct ms_upload *u,
                     struct dbx_node *n, struct dbx_node *copy)
{
    static const char *const keys[] = {"mtime", "mtime_nsec", NULL};
    struct wire_time mtime = c->now;
    if (r->json && api_only_keys(r, keys))
        return -1;
    if (r->json && wire_get_time(r->json, "mtime", &mtime) == WIRE_INVALID)
        return api_bad_field(r, "mtime"), -1;
    if (load_session(r, c->t, u))
        return -1;
    if (u->state == UPLOAD_COMMITTED) {  /* a retry: answer what it did */
        copy->id = 0;
        if (u->conflict_node && ms_node_get(c->t, u->conflict_node, copy) != 0)
            copy->id = 0;
        return api_node_access(r, c->t, u->node, ROLE_VIEWER, n, NULL);
    }
    if (api_node_access(r, c->t, u->node, ROLE_EDITOR, n, NULL) || check_sizes(r, c->t, u) ||
        missing_chunks(r, c->t, u))
        return -1;
    n->mtime = mtime;
    int rc = replace_content(c, n, u, copy);
    u->state = UPLOAD_COMMITTED;
    u->result_rev = n->rev;
    u->conflict_node = copy->id;
    if (rc == 0)
        rc = ms_upload_put(c->t, u);
    return rc ? (http_reply_ms_error(r, rc), -1) : 0;
}

enum MHD_Result api_upload_commit(struct http_req *r)
{
    struct ms_upload u = {0};
    struct change c;
    struct dbx_node *n = malloc(2 * sizeof *n), *copy = n + 1;
    int rc = n ? change_begin(r->d, &c) : MS_IO;
    if (rc) {
        free(n);
        return http_reply_ms_error(r, rc);
    }
    if (commit_in(r, &c, &u, n, copy) != 0) {
        change_abort(&c);
        ms_upload_release(&u);
        free(n);
        return MHD_YES;
    }
    enum role role = access_role(c.t, r->caller.uid, n);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddItemToObject(j, "node", change_node_json(c.t, n, role));
    cJSON_AddItemToObject(j, "conflict", copy->id ? change_node_json(c.t, copy, role) : cJSON_CreateNull());
    /* a retry answers the node as it is now: this says which content the
     * commit made, which the node may have moved past meanwhile */
    cJSON_AddNumberToObject(j, "content_rev", (double)u.result_rev);
    rc = change_commit(&c);
    ms_upload_release(&u);
    free(n);
    if (rc) {
        cJSON_Delete(j);
        return http_reply_ms_error(r, rc);
    }
    return http_reply_json(r, 200, j);
}

/* --- content maps --- */

static cJSON *content_json(struct http_req *r, const struct dbx_node *n, const struct dbx_chunk *chunks,
                           uint32_t count, uint64_t start, uint64_t limit)
{
    char hex[HASH_HEX_LEN + 1], path[128], url[1024];
    int64_t exp = (int64_t)time(NULL) + r->d->cfg.url_ttl;
    uint64_t offset = 0;
    cJSON *j = cJSON_CreateObject(), *list = cJSON_AddArrayToObject(j, "chunks");
    if (!list)
        goto fail;
    for (uint32_t i = 0; i < count && i < start + limit; offset += chunks[i].size, i++) {
        if (i < start)
            continue;
        hash_to_hex(chunks[i].hash, hex);
        snprintf(path, sizeof path, "/v1/chunks/%s", hex);
        cJSON *m = cJSON_CreateObject();
        if (!m || !cJSON_AddItemToArray(list, m) || api_signed_url(r, "GET", path, exp, url, sizeof url) ||
            !cJSON_AddStringToObject(m, "hash", hex) || !cJSON_AddNumberToObject(m, "size", chunks[i].size) ||
            !cJSON_AddNumberToObject(m, "offset", (double)offset) || !cJSON_AddStringToObject(m, "url", url))
            goto fail;
    }
    wire_add_id(j, "id", n->id);
    cJSON_AddNumberToObject(j, "rev", (double)n->rev);
    cJSON_AddNumberToObject(j, "content_rev", (double)n->content_rev);
    cJSON_AddNumberToObject(j, "size", (double)n->size);
    cJSON_AddNumberToObject(j, "expires", (double)exp);
    cJSON_AddNumberToObject(j, "count", count);
    return j;
fail:
    cJSON_Delete(j);
    return NULL;
}

enum MHD_Result api_content_get(struct http_req *r)
{
    struct dbx_node n;
    struct dbx_chunk *chunks = NULL;
    uint32_t count = 0;
    uint64_t start = 0, limit = MAX_CHUNKS;
    ms_txn *t;
    if (api_query_uint(r, "start", UINT64_MAX, &start) || api_query_uint(r, "limit", UINT64_MAX, &limit))
        return api_bad_field(r, "start/limit");
    int rc = ms_txn_begin(r->d->ms, 0, &t);
    if (rc)
        return http_reply_ms_error(r, rc);
    if (api_node_access(r, t, r->id, ROLE_VIEWER, &n, NULL) == 0) {
        if (n.type != NODE_FILE)
            http_reply_error(r, 409, n.type == NODE_DIR ? "is_dir" : "bad_request", "only files have content");
        else if ((rc = ms_content_get(t, n.id, &chunks, &count)) != 0)
            http_reply_ms_error(r, rc);
        else
            http_reply_json(r, 200, content_json(r, &n, chunks, count, start, limit));
    }
    free(chunks);
    ms_txn_abort(t);
    return MHD_YES;
}
