/* transfer_download: one download call. The content answer (paged) gives
 * the chunk map; the engine GETs the chunks with Accept-Encoding: zstd,
 * each hashed as it streams in and written at its offset. A chunk whose
 * hash or size is wrong is fetched once more, then the call fails. */
#include "transfer_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hash.h"

#define DL_WBUF ((size_t)2 << 20)
#define CHUNK_MAX ((double)(64 << 20))

struct download {
    const char *node_id;
    int64_t content_rev;       /* of the first answer; -1 before it */
};

/* A worker's chunk as it streams in. The bytes are gathered and written in
 * large pieces that end on page boundaries of the file: curl hands out
 * ~64 KiB pieces, and writing those directly costs the kernel a
 * partial-page zeroing and an inode lock round each. */
struct get_state {
    hash_ctx *hc;
    uint8_t *wbuf;
    size_t wlen;
    int fd;
    const struct transfer_item *it;
    uint64_t got;              /* bytes received */
    uint64_t written;          /* of them, written to the file */
    int too_long;              /* more than the chunk's size came */
    int io_errno;
    int mismatches;            /* of the item: one more try, no more */
};

static int flush(struct get_state *gs)
{
    size_t done = 0;
    ssize_t n;

    while (done < gs->wlen) {
        n = pwrite(gs->fd, gs->wbuf + done, gs->wlen - done,
                   (off_t)(gs->it->offset + gs->written + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            gs->io_errno = errno;
            return -1;
        }
        done += (size_t)n;
    }
    gs->written += gs->wlen;
    gs->wlen = 0;
    return 0;
}

/* httpc's sink: a non-zero return stops the transfer. */
static int sink(void *arg, const void *buf, size_t len)
{
    struct get_state *gs = arg;
    const uint8_t *p = buf;
    size_t limit, k;

    if (gs->got + len > gs->it->size) {
        gs->too_long = 1;
        return 1;
    }
    if (hash_update(gs->hc, buf, len) < 0) {
        gs->io_errno = ENOMEM;
        return 1;
    }
    gs->got += len;
    while (len > 0) {
        limit = DL_WBUF - (size_t)((gs->it->offset + gs->written) & 4095);
        k = limit - gs->wlen < len ? limit - gs->wlen : len;
        memcpy(gs->wbuf + gs->wlen, p, k);
        gs->wlen += k;
        p += k;
        len -= k;
        if (gs->wlen == limit && flush(gs) < 0)
            return 1;
    }
    return 0;
}

/* ---- the engine's operations ---------------------------------------------- */

static int get_prepare(struct transfer_worker *w,
                       const struct transfer_item *it)
{
    struct get_state *gs = w->priv;

    if (!gs) {
        if (!(gs = w->priv = calloc(1, sizeof *gs)) ||
            !(gs->hc = hash_new()) || !(gs->wbuf = malloc(DL_WBUF))) {
            transfer_fail(w->j, 0, "", "out of memory");
            return -1;
        }
        gs->fd = w->j->fd;
    }
    gs->it = it;
    gs->mismatches = 0;
    return 0;
}

static int get_attempt(struct transfer_worker *w, const char *url,
                       long *status, cJSON **reply, uint64_t *wire)
{
    struct get_state *gs = w->priv;

    if (hash_reset(gs->hc) < 0) {
        gs->io_errno = ENOMEM;
        return -1;
    }
    gs->got = gs->written = gs->wlen = 0;
    gs->too_long = gs->io_errno = 0;
    return httpc_get_stream(w->h, url, 1, sink, gs, status, reply, wire);
}

static enum transfer_verdict get_judge(struct transfer_worker *w, int rc,
                                       long status)
{
    struct get_state *gs = w->priv;
    uint8_t digest[HASH_LEN];
    int whole = rc == 0 && status == 200;

    if (whole && !gs->io_errno)
        flush(gs);
    if (gs->io_errno) {
        transfer_fail(w->j, 0, "", "writing the file: %s",
                      strerror(gs->io_errno));
        return TRANSFER_V_FAILED;
    }
    if (whole) {
        if (gs->got == gs->it->size && hash_final(gs->hc, digest) == 0 &&
            memcmp(digest, gs->it->hash, HASH_LEN) == 0)
            return TRANSFER_V_DONE;
    } else if (!gs->too_long) {
        return TRANSFER_V_RULES;
    }
    if (gs->mismatches++ == 0)
        return TRANSFER_V_AGAIN;
    transfer_fail(w->j, 0, "hash_mismatch", "chunk at %" PRIu64
                  " arrived twice with a wrong hash or size", gs->it->offset);
    return TRANSFER_V_FAILED;
}

static void get_worker_end(void *priv)
{
    struct get_state *gs = priv;
    hash_free(gs->hc);
    free(gs->wbuf);
    free(gs);
}

static int download_refresh(struct transfer_job *j, httpc *h);

static const struct transfer_ops get_ops = {
    .what = "GET chunk",
    .prepare = get_prepare,
    .attempt = get_attempt,
    .judge = get_judge,
    .worker_end = get_worker_end,
    .refresh = download_refresh,
};

/* ---- the chunk map ------------------------------------------------------------ */

/* GET /v1/nodes/{id}/content from chunk start. Every page must be of the
 * content the first was of. *count: the file's number of chunks. */
static int content_page(struct transfer_job *j, httpc *h, size_t start,
                        cJSON **reply, size_t *count)
{
    struct download *dl = j->ctx;
    char path[80];
    double rev, n;

    snprintf(path, sizeof path, "/v1/nodes/%s/content?start=%zu",
             dl->node_id, start);
    if (transfer_api_ok(j, h, "GET", path, NULL, reply, "GET content") < 0)
        return -1;
    if (transfer_json_num(*reply, "content_rev", &rev) < 0 ||
        transfer_json_num(*reply, "count", &n) < 0 || n < 0 ||
        !cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(*reply, "chunks"))) {
        transfer_fail(j, 0, "bad_answer", "malformed content answer");
        return -1;
    }
    if (dl->content_rev < 0) {
        dl->content_rev = (int64_t)rev;
    } else if ((int64_t)rev != dl->content_rev) {
        transfer_fail(j, 0, "changed", "the file changed during the download");
        return -1;
    }
    *count = (size_t)n;
    return 0;
}

/* Appends one page's chunks to the items. 0 or -1 (recorded). */
static int add_chunks(struct transfer_job *j, const cJSON *page, size_t *cap)
{
    const cJSON *c;
    struct transfer_item *it, *ni;
    const char *hex, *url;
    double off, size;

    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(page, "chunks")) {
        if (j->n == *cap) {
            *cap = *cap ? *cap * 2 : 64;
            if (!(ni = realloc(j->items, *cap * sizeof *ni))) {
                transfer_fail(j, 0, "", "out of memory");
                return -1;
            }
            j->items = ni;
        }
        it = memset(&j->items[j->n], 0, sizeof *it);
        hex = transfer_json_str(c, "hash");
        url = transfer_json_str(c, "url");
        if (!hex || !url || hash_from_hex(hex, it->hash) < 0 ||
            transfer_json_num(c, "offset", &off) < 0 || off < 0 ||
            transfer_json_num(c, "size", &size) < 0 || size < 1 ||
            size > CHUNK_MAX) {
            transfer_fail(j, 0, "bad_answer", "malformed content answer");
            return -1;
        }
        it->offset = (uint64_t)off;
        it->size = (uint32_t)size;
        if (!(it->url = strdup(url))) {
            transfer_fail(j, 0, "", "out of memory");
            return -1;
        }
        j->n++;
    }
    return 0;
}

/* The chunks must tile the file exactly: 0 or -1. */
static int check_tiling(const struct transfer_job *j, uint64_t size)
{
    uint64_t end = 0;
    size_t i;
    for (i = 0; i < j->n; i++) {
        if (j->items[i].offset != end)
            return -1;
        end += j->items[i].size;
    }
    return end == size ? 0 : -1;
}

/* The whole chunk map into the items; the first answer, less its chunks,
 * into res->node. */
static int load_content(struct transfer_job *j, uint64_t *size)
{
    cJSON *page = NULL;
    size_t count = 0, cap = 0, before;
    double sz = -1;
    int ret = -1;

    do {
        before = j->n;
        if (content_page(j, j->t->h[0], j->n, &page, &count) < 0 ||
            add_chunks(j, page, &cap) < 0)
            goto out;
        if (!j->res->node) {
            transfer_json_num(page, "size", &sz);
            cJSON_DeleteItemFromObjectCaseSensitive(page, "chunks");
            j->res->node = page;
            page = NULL;
        }
        cJSON_Delete(page);
        page = NULL;
    } while (j->n < count && j->n > before);
    if (j->n != count || sz < 0 || check_tiling(j, (uint64_t)sz) < 0) {
        transfer_fail(j, 0, "bad_answer", "malformed content answer");
        goto out;
    }
    *size = (uint64_t)sz;
    ret = 0;
out:
    cJSON_Delete(page);
    return ret;
}

/* Fresh URLs for the whole map (the items are in the map's order). */
static int download_refresh(struct transfer_job *j, httpc *h)
{
    cJSON *page = NULL, *c;
    size_t k = 0, before, count;
    const char *url;
    int ret = -1;

    do {
        before = k;
        if (content_page(j, h, k, &page, &count) < 0)
            goto out;
        if (count != j->n) {
            transfer_fail(j, 0, "changed", "the file changed during the download");
            goto out;
        }
        cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(page, "chunks")) {
            url = transfer_json_str(c, "url");
            if (k < j->n && url &&
                transfer_job_set_url(j, &j->items[k], url) < 0) {
                transfer_fail(j, 0, "", "out of memory");
                goto out;
            }
            k++;
        }
        cJSON_Delete(page);
        page = NULL;
    } while (k < j->n && k > before);
    ret = 0;
out:
    cJSON_Delete(page);
    return ret;
}

int transfer_download_fd(transfer *t, const char *node_id, int fd,
                         transfer_result *res)
{
    struct download dl = { .node_id = node_id, .content_rev = -1 };
    struct transfer_job j;
    uint64_t size = 0;
    double t0 = transfer_now(), t1;
    int ret = -1;

    transfer_job_init(&j, t, res, fd, &get_ops, &dl);
    if (!transfer_valid_id(node_id)) {
        transfer_fail(&j, 0, "bad_request", "invalid node id");
        goto out;
    }
    if (load_content(&j, &size) < 0)
        goto out;
    res->size = size;
    res->chunks = j.n;
    if (ftruncate(fd, (off_t)size) < 0) {
        transfer_fail(&j, 0, "", "truncating the file: %s", strerror(errno));
        goto out;
    }
    t1 = transfer_now();
    res->scan_sec = t1 - t0;
    j.pr = (transfer_progress){ .phase = TRANSFER_RECEIVE,
                                .bytes_total = size, .chunks_total = j.n };
    if (transfer_job_run(&j) < 0)
        goto out;
    res->send_sec = transfer_now() - t1;
    transfer_progress_phase(t, TRANSFER_DONE, size, j.n);
    ret = 0;
out:
    res->total_sec = transfer_now() - t0;
    if (ret < 0) {
        cJSON_Delete(res->node);
        res->node = NULL;
    }
    transfer_job_destroy(&j);
    return ret;
}
