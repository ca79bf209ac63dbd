/* transfer_upload: one upload call. The scan's chunk list opens (or reopens)
 * the session; the engine PUTs the chunks the session lacks, each read from
 * the file and compressed when that pays; the commit re-sends what went
 * missing meanwhile. */
#include "transfer_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hash.h"
#include "wire.h"

#define COMMIT_ROUNDS 3        /* commit answered missing_chunks: re-send */
#define UPLOAD_ID_MAX 64

struct upload {
    char id[UPLOAD_ID_MAX + 1];        /* the session's */
    const transfer_chunk *chunks;      /* the file's, in file order */
    size_t n;
};

/* A worker's chunk, as read and as sent. */
struct put_state {
    uint8_t *buf, *zbuf;
    size_t buf_cap, zbuf_cap;
    const void *body;          /* buf or zbuf */
    size_t len;
    const char *encoding;      /* NULL or "zstd" */
};

/* An entry of a session's "missing" list. */
struct wanted {
    uint8_t hash[32];          /* first: compared as the whole key */
    const char *url;           /* in the answer */
    int taken;
};

static int cmp_hash(const void *a, const void *b)
{
    return memcmp(a, b, 32);
}

/* The answer's missing list, sorted by hash, each hash once (the server
 * may list a chunk the file repeats more than once). 0 or -1. */
static int wanted_parse(const cJSON *reply, struct wanted **out, size_t *n)
{
    const cJSON *m, *missing = cJSON_GetObjectItemCaseSensitive(reply,
                                                                "missing");
    struct wanted *w;
    const char *hex;
    size_t i, k = 0;

    if (!cJSON_IsArray(missing))
        return -1;
    w = calloc((size_t)cJSON_GetArraySize(missing) + 1, sizeof *w);
    if (!w)
        return -1;
    cJSON_ArrayForEach(m, missing) {
        hex = transfer_json_str(m, "hash");
        w[k].url = transfer_json_str(m, "url");
        if (!hex || !w[k].url || hash_from_hex(hex, w[k].hash) < 0) {
            free(w);
            return -1;
        }
        k++;
    }
    qsort(w, k, sizeof *w, cmp_hash);
    for (*n = 0, i = 0; i < k; i++)
        if (*n == 0 || memcmp(w[i].hash, w[*n - 1].hash, 32) != 0)
            w[(*n)++] = w[i];
    *out = w;
    return 0;
}

static struct wanted *wanted_find(struct wanted *w, size_t n,
                                  const uint8_t hash[32])
{
    return bsearch(hash, w, n, sizeof *w, cmp_hash);
}

/* The items to PUT: the session's missing chunks, in file order. */
static int items_from_answer(struct transfer_job *j, const cJSON *reply)
{
    struct upload *up = j->ctx;
    struct transfer_item *it;
    struct wanted *w = NULL, *f;
    size_t nw = 0, i;
    int ret = -1;

    transfer_job_clear_items(j);
    if (wanted_parse(reply, &w, &nw) < 0)
        goto bad;
    if (!(j->items = calloc(nw + 1, sizeof *j->items)))
        goto oom;
    for (i = 0; i < up->n && j->n < nw; i++) {
        f = wanted_find(w, nw, up->chunks[i].hash);
        if (!f || f->taken)
            continue;
        f->taken = 1;
        it = &j->items[j->n++];
        memcpy(it->hash, up->chunks[i].hash, 32);
        it->offset = up->chunks[i].offset;
        it->size = up->chunks[i].size;
        if (!(it->url = strdup(f->url)))
            goto oom;
    }
    if (j->n != nw)
        goto bad;              /* it asks for a chunk the file lacks */
    ret = 0;
    goto out;
bad:
    transfer_fail(j, 0, "bad_answer", "malformed upload session answer");
    goto out;
oom:
    transfer_fail(j, 0, "", "out of memory");
out:
    free(w);
    return ret;
}

/* GET /v1/uploads/{id}: what the session still lacks, with fresh URLs. */
static int session_get(struct transfer_job *j, httpc *h, cJSON **reply)
{
    struct upload *up = j->ctx;
    char path[32 + UPLOAD_ID_MAX];

    snprintf(path, sizeof path, "/v1/uploads/%s", up->id);
    return transfer_api_ok(j, h, "GET", path, NULL, reply,
                           "GET upload session");
}

static int upload_refresh(struct transfer_job *j, httpc *h)
{
    cJSON *reply = NULL;
    struct wanted *w = NULL, *f;
    size_t nw = 0, i;
    int ret = -1;

    if (session_get(j, h, &reply) < 0)
        goto out;
    if (wanted_parse(reply, &w, &nw) < 0) {
        transfer_fail(j, 0, "bad_answer", "malformed upload session answer");
        goto out;
    }
    for (i = 0; i < j->n; i++) {
        f = wanted_find(w, nw, j->items[i].hash);
        if (f && transfer_job_set_url(j, &j->items[i], f->url) < 0) {
            transfer_fail(j, 0, "", "out of memory");
            goto out;
        }
    }
    ret = 0;
out:
    free(w);
    cJSON_Delete(reply);
    return ret;
}

/* ---- the engine's operations ---------------------------------------------- */

static int grow(uint8_t **buf, size_t *cap, size_t need)
{
    uint8_t *nb;
    if (*cap >= need)
        return 0;
    if (!(nb = malloc(need)))
        return -1;
    free(*buf);
    *buf = nb;
    *cap = need;
    return 0;
}

/* 0, or -1 (errno; ENODATA: the file shrank since the scan). */
static int pread_full(int fd, void *buf, size_t len, uint64_t off)
{
    size_t done = 0;
    ssize_t n;

    while (done < len) {
        n = pread(fd, (char *)buf + done, len - done, (off_t)(off + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0) {
            errno = ENODATA;
            return -1;
        }
        done += (size_t)n;
    }
    return 0;
}

/* zstd when it pays. Without memory for it the chunk simply goes raw. */
static void compress(struct transfer_worker *w, struct put_state *ps,
                     size_t size)
{
    zframe_enc **enc = &w->j->t->enc[w->index];
    size_t bound = zframe_bound(size);
    long z;

    if (!*enc && !(*enc = zframe_enc_new(w->j->t->o.zstd_level)))
        return;
    if (grow(&ps->zbuf, &ps->zbuf_cap, bound) < 0)
        return;
    z = zframe_enc_compress(*enc, ps->buf, size, ps->zbuf, bound);
    if (z > 0) {
        ps->body = ps->zbuf;
        ps->len = (size_t)z;
        ps->encoding = "zstd";
    }
}

static int put_prepare(struct transfer_worker *w,
                       const struct transfer_item *it)
{
    struct transfer_job *j = w->j;
    struct put_state *ps = w->priv;

    if (!ps && !(ps = w->priv = calloc(1, sizeof *ps)))
        goto oom;
    if (grow(&ps->buf, &ps->buf_cap, it->size) < 0)
        goto oom;
    if (pread_full(j->fd, ps->buf, it->size, it->offset) < 0) {
        transfer_fail(j, 0, errno == ENODATA ? "changed" : "",
                      "reading the file at %" PRIu64 ": %s", it->offset,
                      errno == ENODATA ? "it shrank" : strerror(errno));
        return -1;
    }
    ps->body = ps->buf;
    ps->len = it->size;
    ps->encoding = NULL;
    if (j->t->o.compress > 0)
        compress(w, ps, it->size);
    return 0;
oom:
    transfer_fail(j, 0, "", "out of memory");
    return -1;
}

static int put_attempt(struct transfer_worker *w, const char *url,
                       long *status, cJSON **reply, uint64_t *wire)
{
    struct put_state *ps = w->priv;
    *wire = ps->len;
    return httpc_put_buf(w->h, url, ps->body, ps->len, ps->encoding, status,
                         reply);
}

/* The server checks the hash; a 2xx means the chunk is stored. */
static enum transfer_verdict put_judge(struct transfer_worker *w, int rc,
                                       long status)
{
    return rc == 0 && (status == 200 || status == 201) ? TRANSFER_V_DONE
                                                       : TRANSFER_V_RULES;
}

static void put_worker_end(void *priv)
{
    struct put_state *ps = priv;
    free(ps->buf);
    free(ps->zbuf);
    free(ps);
}

static const struct transfer_ops put_ops = {
    .what = "PUT chunk",
    .prepare = put_prepare,
    .attempt = put_attempt,
    .judge = put_judge,
    .worker_end = put_worker_end,
    .refresh = upload_refresh,
};

/* ---- session and commit ------------------------------------------------------ */

static cJSON *session_body(const char *node_id, int64_t base_rev,
                           uint64_t size, const transfer_chunk *chunks,
                           size_t n)
{
    cJSON *b = cJSON_CreateObject(), *arr, *c;
    char hex[HASH_HEX_LEN + 1];
    size_t i;

    if (!b || !cJSON_AddStringToObject(b, "node", node_id) ||
        !cJSON_AddNumberToObject(b, "base_rev", (double)base_rev) ||
        !cJSON_AddNumberToObject(b, "size", (double)size) ||
        !(arr = cJSON_AddArrayToObject(b, "chunks")))
        goto fail;
    for (i = 0; i < n; i++) {
        hash_to_hex(chunks[i].hash, hex);
        if (!(c = cJSON_CreateObject()) || !cJSON_AddItemToArray(arr, c) ||
            !cJSON_AddStringToObject(c, "hash", hex) ||
            !cJSON_AddNumberToObject(c, "size", chunks[i].size))
            goto fail;
    }
    return b;
fail:
    cJSON_Delete(b);
    return NULL;
}

/* The id goes into paths: letters, digits, '-' and '_' only. */
static int set_id(struct upload *up, const char *id)
{
    size_t i, n = id ? strlen(id) : 0;
    if (n == 0 || n > UPLOAD_ID_MAX)
        return -1;
    for (i = 0; i < n; i++)
        if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'z') ||
              (id[i] >= 'A' && id[i] <= 'Z') || id[i] == '-' || id[i] == '_'))
            return -1;
    memcpy(up->id, id, n + 1);
    return 0;
}

/* Opens (or reopens) the session; the items are what it lacks. */
static int open_session(struct transfer_job *j, const char *node_id,
                        int64_t base_rev, uint64_t size)
{
    struct upload *up = j->ctx;
    cJSON *body, *reply = NULL;
    int ret = -1;

    body = session_body(node_id, base_rev, size, up->chunks, up->n);
    if (!body) {
        transfer_fail(j, 0, "", "out of memory");
        goto out;
    }
    if (transfer_api_ok(j, j->t->h[0], "POST", "/v1/uploads", body, &reply,
                        "POST /v1/uploads") < 0)
        goto out;
    if (set_id(up, transfer_json_str(reply, "id")) < 0) {
        transfer_fail(j, 0, "bad_answer", "upload session without a valid id");
        goto out;
    }
    ret = items_from_answer(j, reply);
out:
    cJSON_Delete(body);
    cJSON_Delete(reply);
    return ret;
}

static int send_items(struct transfer_job *j)
{
    size_t i;

    j->pr = (transfer_progress){ .phase = TRANSFER_SEND, .chunks_total = j->n };
    for (i = 0; i < j->n; i++)
        j->pr.bytes_total += j->items[i].size;
    return transfer_job_run(j);
}

/* A commit refused with missing_chunks (a chunk vanished meanwhile): send
 * what the session lacks now. */
static int resend(struct transfer_job *j)
{
    cJSON *reply = NULL;
    int ret = -1;

    if (session_get(j, j->t->h[0], &reply) == 0 &&
        items_from_answer(j, reply) == 0)
        ret = send_items(j);
    cJSON_Delete(reply);
    return ret;
}

/* The commit answer's node (and conflicted copy) into the result. */
static int take_commit_answer(struct transfer_job *j, cJSON *reply)
{
    cJSON *node = cJSON_DetachItemFromObjectCaseSensitive(reply, "node");
    cJSON *conflict = cJSON_DetachItemFromObjectCaseSensitive(reply,
                                                              "conflict");
    if (!cJSON_IsObject(node) ||
        wire_get_uint(reply, "content_rev", UINT64_MAX, &j->res->content_rev) != WIRE_OK) {
        cJSON_Delete(node);
        cJSON_Delete(conflict);
        transfer_fail(j, 200, "bad_answer", "commit answer without a node or content_rev");
        return -1;
    }
    j->res->node = node;
    if (cJSON_IsObject(conflict))
        j->res->conflict = conflict;
    else
        cJSON_Delete(conflict);
    return 0;
}

static int commit(struct transfer_job *j, const struct timespec *mtime)
{
    struct upload *up = j->ctx;
    cJSON *body = NULL, *reply = NULL;
    const char *code;
    char path[32 + UPLOAD_ID_MAX];
    long st;
    int round, ret = -1;

    if (mtime && (!(body = cJSON_CreateObject()) ||
                  !cJSON_AddNumberToObject(body, "mtime", (double)mtime->tv_sec) ||
                  !cJSON_AddNumberToObject(body, "mtime_nsec",
                                           (double)mtime->tv_nsec))) {
        transfer_fail(j, 0, "", "out of memory");
        goto out;
    }
    snprintf(path, sizeof path, "/v1/uploads/%s/commit", up->id);
    for (round = 0;; round++) {
        cJSON_Delete(reply);
        reply = NULL;
        if ((st = transfer_api(j, j->t->h[0], "POST", path, body, &reply,
                               "commit")) < 0)
            goto out;
        if (st == 200)
            break;
        code = httpc_errcode(reply);
        if (st != 409 || round >= COMMIT_ROUNDS || !code ||
            strcmp(code, "missing_chunks") != 0) {
            transfer_fail_answer(j, "commit", st, reply);
            goto out;
        }
        if (resend(j) < 0)
            goto out;
    }
    ret = take_commit_answer(j, reply);
out:
    cJSON_Delete(body);
    cJSON_Delete(reply);
    return ret;
}

int transfer_upload_fd(transfer *t, int fd, const char *node_id,
                       int64_t base_rev, const struct timespec *mtime,
                       transfer_result *res)
{
    struct upload up = { .chunks = NULL };
    struct transfer_job j;
    transfer_chunk *chunks = NULL;
    uint64_t size = 0;
    double t0 = transfer_now(), t1;
    int ret = -1;

    transfer_job_init(&j, t, res, fd, &put_ops, &up);
    if (!transfer_valid_id(node_id) || base_rev < 0) {
        transfer_fail(&j, 0, "bad_request", "invalid node id or base revision");
        goto out;
    }
    if (transfer_scan_fd(fd, &t->o.chunker, &chunks, &up.n, &size,
                         t->o.progress, t->o.progress_arg) < 0) {
        transfer_fail(&j, 0, "", "reading the file: %s", strerror(errno));
        goto out;
    }
    up.chunks = chunks;
    res->size = size;
    res->chunks = up.n;
    t1 = transfer_now();
    res->scan_sec = t1 - t0;
    if (open_session(&j, node_id, base_rev, size) < 0 || send_items(&j) < 0)
        goto out;
    res->send_sec = transfer_now() - t1;
    t1 = transfer_now();
    transfer_progress_phase(t, TRANSFER_COMMIT, size, up.n);
    if (commit(&j, mtime) < 0)
        goto out;
    res->commit_sec = transfer_now() - t1;
    transfer_progress_phase(t, TRANSFER_DONE, size, up.n);
    ret = 0;
out:
    res->total_sec = transfer_now() - t0;
    transfer_job_destroy(&j);
    free(chunks);
    return ret;
}
