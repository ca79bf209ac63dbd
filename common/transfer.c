/* transfer: see transfer.h. */
#include "transfer.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hash.h"
#include "zframe.h"

#define SCAN_BUF ((size_t)8 << 20)
#define MAX_PARALLEL 64
#define BACKOFF_FIRST_MS 100
#define BACKOFF_MAX_MS 5000
#define REFRESH_MAX 3          /* URL refreshes in a row without progress */
#define COMMIT_ROUNDS 3        /* commit answered missing_chunks: re-send */

struct transfer {
    httpc_pool *pool;
    transfer_opts o;
    httpc *h[MAX_PARALLEL];        /* h[0] is the calling thread's */
    zframe_enc *enc[MAX_PARALLEL];
};

/* ---- small helpers -------------------------------------------------------- */

static double now_sec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static long backoff_ms(int attempt)
{
    long ms = BACKOFF_FIRST_MS;
    while (attempt-- > 0 && ms < BACKOFF_MAX_MS)
        ms *= 2;
    if (ms > BACKOFF_MAX_MS)
        ms = BACKOFF_MAX_MS;
    return ms / 2 + (long)(random() % (ms / 2 + 1));  /* jitter */
}

static void fail(transfer_result *res, long status, const char *code,
                 const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void fail(transfer_result *res, long status, const char *code,
                 const char *fmt, ...)
{
    va_list ap;
    if (res->message[0])           /* the first failure is the one told */
        return;
    res->status = status;
    snprintf(res->error, sizeof res->error, "%s", code ? code : "");
    va_start(ap, fmt);
    vsnprintf(res->message, sizeof res->message, fmt, ap);
    va_end(ap);
    if (!res->message[0])
        snprintf(res->message, sizeof res->message, "failed");
}

/* Records an API error answer (status, code, message) as the failure. */
static void fail_answer(transfer_result *res, const char *what, long status,
                        const cJSON *reply)
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(reply, "message");
    const char *code = httpc_errcode(reply);
    fail(res, status, code ? code : "", "%s: HTTP %ld%s%s", what, status,
         cJSON_IsString(m) ? ": " : "", cJSON_IsString(m) ? m->valuestring : "");
}

static int retryable(int rc, long status)
{
    return rc < 0 || status == 408 || status == 429 ||
           (status >= 500 && status != 501 && status != 507);
}

static int is_expired(long status, const cJSON *reply)
{
    const char *code = httpc_errcode(reply);
    return status == 403 && code &&
           (strcmp(code, "expired") == 0 || strcmp(code, "bad_signature") == 0);
}

static const char *jstr(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int jnum(const cJSON *o, const char *k, double *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!cJSON_IsNumber(v))
        return -1;
    *out = v->valuedouble;
    return 0;
}

static int valid_id(const char *id)
{
    size_t i;
    for (i = 0; i < 16; i++)
        if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
            return 0;
    return id[16] == '\0';
}

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
            errno = ENODATA;       /* the file shrank */
            return -1;
        }
        done += (size_t)n;
    }
    return 0;
}

static int pwrite_full(int fd, const void *buf, size_t len, uint64_t off)
{
    size_t done = 0;
    ssize_t n;
    while (done < len) {
        n = pwrite(fd, (const char *)buf + done, len - done,
                   (off_t)(off + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        done += (size_t)n;
    }
    return 0;
}

/* ---- object --------------------------------------------------------------- */

transfer *transfer_new(httpc_pool *pool, const transfer_opts *opts)
{
    transfer *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->pool = pool;
    if (opts)
        t->o = *opts;
    if (t->o.parallel <= 0)
        t->o.parallel = 4;
    if (t->o.parallel > MAX_PARALLEL)
        t->o.parallel = MAX_PARALLEL;
    if (t->o.retries <= 0)
        t->o.retries = 5;
    if (t->o.compress == 0)
        t->o.compress = 1;
    t->h[0] = httpc_new(pool);
    if (!t->h[0]) {
        free(t);
        return NULL;
    }
    return t;
}

void transfer_free(transfer *t)
{
    int i;
    if (!t)
        return;
    for (i = 0; i < MAX_PARALLEL; i++) {
        httpc_free(t->h[i]);
        zframe_enc_free(t->enc[i]);
    }
    free(t);
}

void transfer_result_free(transfer_result *res)
{
    if (!res)
        return;
    cJSON_Delete(res->node);
    cJSON_Delete(res->conflict);
    res->node = res->conflict = NULL;
}

static void result_init(transfer_result *res)
{
    memset(res, 0, sizeof *res);
}

/* Handles for workers 0..n-1 (0 exists already). */
static int ensure_handles(transfer *t, int n, int with_enc)
{
    int i;
    for (i = 0; i < n; i++) {
        if (!t->h[i] && !(t->h[i] = httpc_new(t->pool)))
            return -1;
        if (with_enc && !t->enc[i] &&
            !(t->enc[i] = zframe_enc_new(t->o.zstd_level)))
            return -1;
    }
    return 0;
}

/* ---- scan ----------------------------------------------------------------- */

struct chunk_vec {
    transfer_chunk *v;
    size_t n, cap;
};

static int vec_push(struct chunk_vec *cv, const uint8_t hash[32],
                    uint64_t off, uint64_t size)
{
    transfer_chunk *nv;
    size_t cap;
    if (cv->n == cv->cap) {
        cap = cv->cap ? cv->cap * 2 : 256;
        nv = realloc(cv->v, cap * sizeof *nv);
        if (!nv)
            return -1;
        cv->v = nv;
        cv->cap = cap;
    }
    memcpy(cv->v[cv->n].hash, hash, 32);
    cv->v[cv->n].offset = off;
    cv->v[cv->n].size = (uint32_t)size;
    cv->n++;
    return 0;
}

/* One thread: read, cut and hash in turn (small files). */
static int scan_serial(int fd, const chunker_params *params,
                       transfer_chunk **chunks, size_t *count, uint64_t *size,
                       transfer_progress_fn progress, void *progress_arg)
{
    struct chunk_vec cv = { 0 };
    transfer_progress pr = { .phase = TRANSFER_SCAN };
    chunker *c = NULL;
    hash_ctx *hc = NULL;
    uint8_t *buf = NULL, digest[HASH_LEN];
    uint64_t pos = 0, start = 0;
    struct stat st;
    ssize_t n;
    size_t k, used, bufsize = SCAN_BUF;
    int boundary, ret = -1, saved;

    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
        pr.bytes_total = (uint64_t)st.st_size;
        if ((uint64_t)st.st_size < bufsize)    /* small files: small buffer */
            bufsize = st.st_size < 65536 ? 65536 : (size_t)st.st_size + 1;
    }
    c = chunker_new(params && params->avg_size ? params : NULL);
    hc = hash_new();
    buf = malloc(bufsize);
    if (!c || !hc || !buf)
        goto out;
    for (;;) {
        n = pread(fd, buf, bufsize, (off_t)pos);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            goto out;
        if (n == 0)
            break;
        for (used = 0; used < (size_t)n; used += k) {
            k = chunker_feed(c, buf + used, (size_t)n - used, &boundary);
            if (hash_update(hc, buf + used, k) < 0)
                goto out;
            if (!boundary)
                continue;
            if (hash_final(hc, digest) < 0 || hash_reset(hc) < 0 ||
                vec_push(&cv, digest, start, pos + used + k - start) < 0)
                goto out;
            start = pos + used + k;
            if (progress) {
                pr.bytes_done = start;
                pr.chunks_done = cv.n;
                progress(progress_arg, &pr);
            }
        }
        pos += (uint64_t)n;
    }
    if (pos > start) {
        if (hash_final(hc, digest) < 0 ||
            vec_push(&cv, digest, start, pos - start) < 0)
            goto out;
    }
    if (progress) {
        pr.bytes_done = pr.bytes_total = pos;
        pr.chunks_done = pr.chunks_total = cv.n;
        progress(progress_arg, &pr);
    }
    *chunks = cv.v;
    *count = cv.n;
    *size = pos;
    cv.v = NULL;
    ret = 0;
out:
    saved = errno;
    free(cv.v);
    free(buf);
    hash_free(hc);
    chunker_free(c);
    errno = saved;
    return ret;
}

/* Two threads: the caller reads and cuts, a hasher thread hashes, through a
 * ring of SCAN_NBUF buffers, so the chunker (~1.9 GB/s) and SHA-256
 * (~1.6-1.9 GB/s) run side by side instead of adding up. */
#define SCAN_NBUF 4
#define SCAN_PIECE ((size_t)4 << 20)

struct scan_slot {
    uint8_t *p;
    size_t len;                /* bytes in p; 0 with eof */
    uint64_t *ends;            /* absolute end offsets of chunks cut in p */
    size_t nends, ends_cap;
    int full;                  /* filled by the reader, not yet hashed */
    int eof;
};

struct scan_pipe {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct scan_slot slot[SCAN_NBUF];
    int failed;                /* either side gave up */
    int err;                   /* errno of the failure */
    struct chunk_vec cv_out;   /* the hasher's */
    transfer_progress pr;
    transfer_progress_fn progress;
    void *progress_arg;
};

static void pipe_fail(struct scan_pipe *sp, int err)
{
    pthread_mutex_lock(&sp->mu);
    if (!sp->failed) {
        sp->failed = 1;
        sp->err = err ? err : EIO;
    }
    pthread_cond_broadcast(&sp->cv);
    pthread_mutex_unlock(&sp->mu);
}

static void *scan_hasher(void *arg)
{
    struct scan_pipe *sp = arg;
    hash_ctx *hc = hash_new();
    uint8_t digest[HASH_LEN];
    uint64_t start = 0, pos = 0;   /* chunk start; offset of slot's byte 0 */
    struct scan_slot *s;
    size_t i, k, off;
    int idx = 0, eof = 0;

    if (!hc) {
        pipe_fail(sp, ENOMEM);
        return NULL;
    }
    while (!eof) {
        s = &sp->slot[idx];
        pthread_mutex_lock(&sp->mu);
        while (!s->full && !sp->failed)
            pthread_cond_wait(&sp->cv, &sp->mu);
        pthread_mutex_unlock(&sp->mu);
        if (!s->full)
            break;                     /* the reader failed */
        off = 0;
        for (i = 0; i < s->nends; i++) {
            k = (size_t)(s->ends[i] - pos) - off;
            if (hash_update(hc, s->p + off, k) < 0 ||
                hash_final(hc, digest) < 0 || hash_reset(hc) < 0 ||
                vec_push(&sp->cv_out, digest, start, s->ends[i] - start) < 0)
                goto fail;
            off += k;
            start = s->ends[i];
            if (sp->progress) {
                sp->pr.bytes_done = start;
                sp->pr.chunks_done = sp->cv_out.n;
                sp->progress(sp->progress_arg, &sp->pr);
            }
        }
        if (hash_update(hc, s->p + off, s->len - off) < 0)
            goto fail;
        pos += s->len;
        eof = s->eof;
        if (eof && pos > start &&
            (hash_final(hc, digest) < 0 ||
             vec_push(&sp->cv_out, digest, start, pos - start) < 0))
            goto fail;
        pthread_mutex_lock(&sp->mu);
        s->full = 0;
        pthread_cond_broadcast(&sp->cv);
        pthread_mutex_unlock(&sp->mu);
        idx = (idx + 1) % SCAN_NBUF;
    }
    hash_free(hc);
    return NULL;
fail:
    pipe_fail(sp, errno);
    hash_free(hc);
    return NULL;
}

/* The reader's half: fills slot s from pos, cutting it. 0, or -1 (errno). */
static int scan_fill(int fd, chunker *c, struct scan_slot *s, uint64_t pos,
                     size_t min_size)
{
    size_t used, k, need;
    uint64_t *ne;
    ssize_t n;
    int boundary;

    do
        n = pread(fd, s->p, SCAN_PIECE, (off_t)pos);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return -1;
    s->len = (size_t)n;
    s->eof = n == 0;
    s->nends = 0;
    need = s->len / min_size + 2;
    if (need > s->ends_cap) {
        ne = realloc(s->ends, need * sizeof *ne);
        if (!ne)
            return -1;
        s->ends = ne;
        s->ends_cap = need;
    }
    for (used = 0; used < s->len; used += k) {
        k = chunker_feed(c, s->p + used, s->len - used, &boundary);
        if (boundary)
            s->ends[s->nends++] = pos + used + k;
    }
    return 0;
}

static int scan_pipelined(int fd, const chunker_params *params,
                          transfer_chunk **chunks, size_t *count,
                          uint64_t *size, transfer_progress_fn progress,
                          void *progress_arg, uint64_t size_hint)
{
    struct scan_pipe sp;
    struct scan_slot *s;
    chunker *c = NULL;
    pthread_t tid;
    uint64_t pos = 0;
    size_t min_size = params ? params->min_size : CHUNKER_MIN_DEFAULT;
    int idx = 0, i, started = 0, ret = -1, err = 0;

    memset(&sp, 0, sizeof sp);
    pthread_mutex_init(&sp.mu, NULL);
    pthread_cond_init(&sp.cv, NULL);
    sp.pr.phase = TRANSFER_SCAN;
    sp.pr.bytes_total = size_hint;
    sp.progress = progress;
    sp.progress_arg = progress_arg;
    c = chunker_new(params);
    if (!c)
        goto out;
    for (i = 0; i < SCAN_NBUF; i++)
        if (!(sp.slot[i].p = malloc(SCAN_PIECE)))
            goto out;
    if (pthread_create(&tid, NULL, scan_hasher, &sp) != 0)
        goto out;
    started = 1;
    for (;;) {
        s = &sp.slot[idx];
        pthread_mutex_lock(&sp.mu);
        while (s->full && !sp.failed)
            pthread_cond_wait(&sp.cv, &sp.mu);
        pthread_mutex_unlock(&sp.mu);
        if (sp.failed)
            break;
        if (scan_fill(fd, c, s, pos, min_size) < 0) {
            pipe_fail(&sp, errno);
            break;
        }
        pos += s->len;
        pthread_mutex_lock(&sp.mu);
        s->full = 1;
        pthread_cond_broadcast(&sp.cv);
        pthread_mutex_unlock(&sp.mu);
        if (s->eof)
            break;
        idx = (idx + 1) % SCAN_NBUF;
    }
out:
    if (started)
        pthread_join(tid, NULL);
    if (!started || sp.failed) {
        err = started ? sp.err : (errno ? errno : ENOMEM);
        free(sp.cv_out.v);
    } else {
        if (progress) {
            sp.pr.bytes_done = sp.pr.bytes_total = pos;
            sp.pr.chunks_done = sp.pr.chunks_total = sp.cv_out.n;
            progress(progress_arg, &sp.pr);
        }
        *chunks = sp.cv_out.v;
        *count = sp.cv_out.n;
        *size = pos;
        ret = 0;
    }
    for (i = 0; i < SCAN_NBUF; i++) {
        free(sp.slot[i].p);
        free(sp.slot[i].ends);
    }
    chunker_free(c);
    pthread_mutex_destroy(&sp.mu);
    pthread_cond_destroy(&sp.cv);
    if (ret < 0)
        errno = err;
    return ret;
}

int transfer_scan_fd(int fd, const chunker_params *params,
                     transfer_chunk **chunks, size_t *count, uint64_t *size,
                     transfer_progress_fn progress, void *progress_arg)
{
    struct stat st;
    uint64_t hint = 0;

    if (params && !params->avg_size)
        params = NULL;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
        hint = (uint64_t)st.st_size;
    posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    if (hint < 2 * SCAN_PIECE)
        return scan_serial(fd, params, chunks, count, size, progress,
                           progress_arg);
    return scan_pipelined(fd, params, chunks, count, size, progress,
                          progress_arg, hint);
}

/* ---- the parallel engine -------------------------------------------------- */

/* An item is one chunk request: PUT (upload) or GET (download). */
struct item {
    uint8_t hash[32];
    uint64_t offset;
    uint32_t size;
    char *url;                     /* under job.mu */
    int done;
};

struct job;
/* Fetches fresh URLs for the items not yet done; 0 or -1 (failure set). */
typedef int (*refresh_fn)(struct job *j, int w);

struct job {
    transfer *t;
    transfer_result *res;
    int fd;
    int download;                  /* 0: PUT chunks; 1: GET chunks */
    refresh_fn refresh;
    pthread_mutex_t mu;            /* items' urls, next, counters, res */
    pthread_mutex_t refresh_mu;    /* one refresh at a time */
    pthread_mutex_t write_mu;      /* download: one pwrite at a time */
    struct item *items;            /* upload and download: in file order */
    struct item **hidx;            /* upload: items sorted by hash */
    size_t n, next;
    int failed;
    unsigned url_gen;
    int refreshes;                 /* since the last chunk done */
    transfer_progress pr;
    /* upload */
    const char *upload_id;
    /* download */
    const char *node_id;
    int64_t content_rev;
    /* per-worker buffers */
    uint8_t *buf[MAX_PARALLEL], *zbuf[MAX_PARALLEL];
    size_t buf_cap[MAX_PARALLEL], zbuf_cap[MAX_PARALLEL];
};

/* Receives a chunk's bytes: hashed as they arrive, gathered into a buffer
 * and written at their offset in large, page-aligned pieces (curl hands out
 * ~64 KiB pieces; writing those directly costs the kernel a partial-page
 * zeroing and an inode lock round per piece). Never more than the chunk's
 * size is accepted. */
#define DL_WBUF ((size_t)2 << 20)

struct dl_sink {
    hash_ctx *hc;
    int fd;
    uint64_t off;                  /* the chunk's offset in the file */
    uint64_t got;                  /* bytes received */
    uint64_t written;              /* of them, written to the file */
    uint32_t size;
    uint8_t *wbuf;
    size_t wlen;
    pthread_mutex_t *write_mu;     /* NULL: no serialisation of writes */
    int too_long;
    int io_errno;
};

static int dl_flush(struct dl_sink *s)
{
    int r;
    if (s->wlen == 0)
        return 0;
    if (s->write_mu)
        pthread_mutex_lock(s->write_mu);
    r = pwrite_full(s->fd, s->wbuf, s->wlen, s->off + s->written);
    if (s->write_mu)
        pthread_mutex_unlock(s->write_mu);
    if (r < 0) {
        s->io_errno = errno;
        return -1;
    }
    s->written += s->wlen;
    s->wlen = 0;
    return 0;
}

static int dl_write(void *arg, const void *buf, size_t len)
{
    struct dl_sink *s = arg;
    const uint8_t *p = buf;
    size_t limit, k;

    if (s->got + len > s->size) {
        s->too_long = 1;
        return 1;
    }
    if (hash_update(s->hc, buf, len) < 0) {
        s->io_errno = ENOMEM;
        return 1;
    }
    s->got += len;
    while (len > 0) {
        /* Pieces end on page boundaries of the file. */
        limit = DL_WBUF - (size_t)((s->off + s->written) & 4095);
        k = limit - s->wlen < len ? limit - s->wlen : len;
        memcpy(s->wbuf + s->wlen, p, k);
        s->wlen += k;
        p += k;
        len -= k;
        if (s->wlen == limit && dl_flush(s) < 0)
            return 1;
    }
    return 0;
}

enum slot_state { SLOT_IDLE, SLOT_RUNNING, SLOT_WAIT };

/* One worker's request in progress (both engines). */
struct slot {
    int w;                         /* handle and buffer index */
    struct item *it;
    int attempt, mismatches;
    unsigned gen;                  /* URL generation of url */
    char *url;
    const void *data;              /* upload body */
    size_t len;
    const char *ce;
    struct dl_sink sink;           /* download */
    long st;                       /* outcome of the last attempt */
    cJSON *reply;
    uint64_t wire;
    enum slot_state state;         /* multi engine */
    double not_before;
};

enum verdict { V_DONE, V_AGAIN, V_RETRY, V_REFRESH, V_FAIL };

struct worker_arg {
    struct job *j;
    int w;
};

static int cmp_hash(const void *a, const void *b)
{
    return memcmp(a, b, 32);
}

static int cmp_item_hash(const void *a, const void *b)
{
    const struct item *x = *(struct item *const *)a;
    const struct item *y = *(struct item *const *)b;
    return memcmp(x->hash, y->hash, 32);
}

static int cmp_item_offset(const void *a, const void *b)
{
    const struct item *x = a, *y = b;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

static void job_free_buffers(struct job *j)
{
    int i;
    for (i = 0; i < MAX_PARALLEL; i++) {
        free(j->buf[i]);
        free(j->zbuf[i]);
        j->buf[i] = j->zbuf[i] = NULL;
        j->buf_cap[i] = j->zbuf_cap[i] = 0;
    }
}

static void items_free(struct item *items, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++)
        free(items[i].url);
    free(items);
}

/* Refreshes URLs unless another worker did since generation gen. */
static int job_refresh(struct job *j, int w, unsigned gen)
{
    int rc = 0;
    pthread_mutex_lock(&j->refresh_mu);
    pthread_mutex_lock(&j->mu);
    if (j->url_gen != gen) {       /* someone else refreshed meanwhile */
        pthread_mutex_unlock(&j->mu);
        goto out;
    }
    if (j->refreshes >= REFRESH_MAX) {
        pthread_mutex_unlock(&j->mu);
        fail(j->res, 403, "expired", "signed chunk URLs keep expiring");
        rc = -1;
        goto out;
    }
    j->refreshes++;
    pthread_mutex_unlock(&j->mu);
    rc = j->refresh(j, w);
    pthread_mutex_lock(&j->mu);
    j->url_gen++;
    pthread_mutex_unlock(&j->mu);
out:
    pthread_mutex_unlock(&j->refresh_mu);
    return rc;
}

/* Sets the URL of the item with this hash (through j->hidx). */
static void set_url_by_hash(struct job *j, const char *hex, const char *url)
{
    struct item key, *kp = &key, **found, *it;
    char *u;
    if (!hex || !url || !j->hidx || hash_from_hex(hex, key.hash) < 0)
        return;
    found = bsearch(&kp, j->hidx, j->n, sizeof *j->hidx, cmp_item_hash);
    if (!found)
        return;
    it = *found;
    if (!(u = strdup(url)))
        return;
    pthread_mutex_lock(&j->mu);
    free(it->url);
    it->url = u;
    pthread_mutex_unlock(&j->mu);
}

static int grow(uint8_t **buf, size_t *cap, size_t need)
{
    uint8_t *nb;
    if (*cap >= need)
        return 0;
    nb = malloc(need);
    if (!nb)
        return -1;
    free(*buf);
    *buf = nb;
    *cap = need;
    return 0;
}

/* Before an item's first attempt: upload reads (and maybe compresses) the
 * chunk into the worker's buffer. 0 or -1 (failure set). */
static int slot_prepare(struct job *j, struct slot *s, struct item *it)
{
    transfer *t = j->t;
    int w = s->w;
    long z;

    s->it = it;
    s->attempt = s->mismatches = 0;
    if (j->download) {
        s->sink.fd = j->fd;
        s->sink.off = it->offset;
        s->sink.size = it->size;
        s->sink.write_mu = j->t->o.parallel_writes ? NULL : &j->write_mu;
        if (!s->sink.wbuf && !(s->sink.wbuf = malloc(DL_WBUF))) {
            fail(j->res, 0, "", "out of memory");
            return -1;
        }
        if (!s->sink.hc && !(s->sink.hc = hash_new())) {
            fail(j->res, 0, "", "out of memory");
            return -1;
        }
        return 0;
    }
    if (grow(&j->buf[w], &j->buf_cap[w], it->size) < 0) {
        fail(j->res, 0, "", "out of memory");
        return -1;
    }
    if (pread_full(j->fd, j->buf[w], it->size, it->offset) < 0) {
        fail(j->res, 0, errno == ENODATA ? "changed" : "",
             "reading the file at %" PRIu64 ": %s", it->offset,
             errno == ENODATA ? "it shrank" : strerror(errno));
        return -1;
    }
    s->data = j->buf[w];
    s->len = it->size;
    s->ce = NULL;
    if (t->o.compress > 0 && t->enc[w]) {
        size_t bound = zframe_bound(it->size);
        if (grow(&j->zbuf[w], &j->zbuf_cap[w], bound) == 0) {
            z = zframe_enc_compress(t->enc[w], j->buf[w], it->size,
                                    j->zbuf[w], bound);
            if (z > 0) {
                s->data = j->zbuf[w];
                s->len = (size_t)z;
                s->ce = "zstd";
            }
        }
    }
    return 0;
}

/* Before each attempt: the item's current URL, a clean outcome. */
static int slot_begin(struct job *j, struct slot *s)
{
    free(s->url);
    pthread_mutex_lock(&j->mu);
    s->url = s->it->url ? strdup(s->it->url) : NULL;
    s->gen = j->url_gen;
    pthread_mutex_unlock(&j->mu);
    cJSON_Delete(s->reply);
    s->reply = NULL;
    s->st = 0;
    s->wire = 0;
    if (j->download) {
        hash_reset(s->sink.hc);
        s->sink.got = 0;
        s->sink.written = 0;
        s->sink.wlen = 0;
        s->sink.too_long = 0;
        s->sink.io_errno = 0;
    }
    if (!s->url) {
        fail(j->res, 0, "", "no URL for a chunk");
        return -1;
    }
    return 0;
}

static int slot_attempt_sync(struct job *j, struct slot *s)
{
    httpc *h = j->t->h[s->w];
    if (j->download)
        return httpc_get_stream(h, s->url, 1, dl_write, &s->sink, &s->st,
                                &s->reply, &s->wire);
    s->wire = s->len;
    return httpc_put_buf(h, s->url, s->data, s->len, s->ce, &s->st,
                         &s->reply);
}

static int slot_start_async(struct job *j, struct slot *s, httpc_multi *m)
{
    httpc *h = j->t->h[s->w];
    if (j->download)
        return httpc_multi_get_stream(m, h, s->url, 1, dl_write, &s->sink);
    s->wire = s->len;
    return httpc_multi_put_buf(m, h, s->url, s->data, s->len, s->ce);
}

static void count_retry(struct job *j)
{
    pthread_mutex_lock(&j->mu);
    j->res->retries++;
    pthread_mutex_unlock(&j->mu);
}

/* Judges an attempt that returned rc (with s->st, s->reply, s->sink). */
static enum verdict slot_verdict(struct job *j, struct slot *s, int rc)
{
    const char *what = j->download ? "GET chunk" : "PUT chunk";
    httpc *h = j->t->h[s->w];
    uint8_t digest[HASH_LEN];
    int mismatch = 0;

    if (j->download) {
        if (s->sink.io_errno) {
            fail(j->res, 0, "", "writing the file: %s",
                 strerror(s->sink.io_errno));
            return V_FAIL;
        }
        if (rc == 0 && s->st == 200 && dl_flush(&s->sink) < 0) {
            fail(j->res, 0, "", "writing the file: %s",
                 strerror(s->sink.io_errno));
            return V_FAIL;
        }
        if (rc == 0 && s->st == 200) {
            if (hash_final(s->sink.hc, digest) == 0 &&
                s->sink.got == s->it->size &&
                memcmp(digest, s->it->hash, HASH_LEN) == 0)
                return V_DONE;
            mismatch = 1;
        } else if (rc < 0 && s->sink.too_long) {
            mismatch = 1;
        }
        if (mismatch) {
            if (s->mismatches++ == 0) {
                count_retry(j);
                return V_AGAIN;
            }
            fail(j->res, 0, "hash_mismatch",
                 "chunk at %" PRIu64 " arrived twice with a wrong hash or size",
                 s->it->offset);
            return V_FAIL;
        }
    } else if (rc == 0 && (s->st == 200 || s->st == 201)) {
        return V_DONE;
    }
    if (rc == 0 && is_expired(s->st, s->reply))
        return V_REFRESH;
    if (retryable(rc, s->st) && s->attempt < j->t->o.retries) {
        count_retry(j);
        return V_RETRY;
    }
    if (rc < 0)
        fail(j->res, 0, "", "%s: %s", what, httpc_error(h));
    else
        fail_answer(j->res, what, s->st, s->reply);
    return V_FAIL;
}

static void slot_done(struct job *j, struct slot *s)
{
    s->it->done = 1;
    pthread_mutex_lock(&j->mu);
    j->res->chunks_sent++;
    j->res->bytes_sent += s->it->size;
    j->res->wire_bytes += s->wire;
    j->refreshes = 0;
    j->pr.bytes_done += s->it->size;
    j->pr.chunks_done++;
    if (j->t->o.progress)
        j->t->o.progress(j->t->o.progress_arg, &j->pr);
    pthread_mutex_unlock(&j->mu);
}

static void slot_clear(struct slot *s)
{
    free(s->url);
    s->url = NULL;
    cJSON_Delete(s->reply);
    s->reply = NULL;
    hash_free(s->sink.hc);
    s->sink.hc = NULL;
    free(s->sink.wbuf);
    s->sink.wbuf = NULL;
}

/* Threads engine: one item, attempts until done or failed. */
static int slot_run_sync(struct job *j, struct slot *s, struct item *it)
{
    int rc;

    if (slot_prepare(j, s, it) < 0)
        return -1;
    for (;;) {
        if (slot_begin(j, s) < 0)
            return -1;
        rc = slot_attempt_sync(j, s);
        switch (slot_verdict(j, s, rc)) {
        case V_DONE:
            slot_done(j, s);
            return 0;
        case V_AGAIN:
            break;
        case V_RETRY:
            sleep_ms(backoff_ms(s->attempt++));
            break;
        case V_REFRESH:
            if (job_refresh(j, s->w, s->gen) < 0)
                return -1;
            break;
        case V_FAIL:
            return -1;
        }
    }
}

/* Takes the next item not done, or NULL. */
static struct item *job_take(struct job *j)
{
    struct item *it = NULL;
    pthread_mutex_lock(&j->mu);
    while (!j->failed && j->next < j->n) {
        it = &j->items[j->next++];
        if (!it->done)
            break;
        it = NULL;
    }
    pthread_mutex_unlock(&j->mu);
    return it;
}

static void job_set_failed(struct job *j)
{
    pthread_mutex_lock(&j->mu);
    j->failed = 1;
    pthread_mutex_unlock(&j->mu);
}

static void *worker_main(void *arg)
{
    struct worker_arg *wa = arg;
    struct job *j = wa->j;
    struct slot s = { .w = wa->w };
    struct item *it;

    while ((it = job_take(j)))
        if (slot_run_sync(j, &s, it) < 0) {
            job_set_failed(j);
            break;
        }
    slot_clear(&s);
    return NULL;
}

static int run_threads(struct job *j, int nw)
{
    pthread_t tid[MAX_PARALLEL];
    struct worker_arg wa[MAX_PARALLEL];
    int started = 0, i;

    for (i = 0; i < nw; i++) {
        wa[i].j = j;
        wa[i].w = i;
    }
    for (i = 1; i < nw; i++) {
        if (pthread_create(&tid[i], NULL, worker_main, &wa[i]) != 0)
            break;
        started++;
    }
    worker_main(&wa[0]);           /* the calling thread is worker 0 */
    for (i = 1; i <= started; i++)
        pthread_join(tid[i], NULL);
    return j->failed ? -1 : 0;
}

/* Multi engine: starts what can start in slot s. */
static void multi_kick(struct job *j, struct slot *s, httpc_multi *m)
{
    struct item *it;

    if (s->state == SLOT_IDLE) {
        if (!(it = job_take(j)))
            return;
        if (slot_prepare(j, s, it) < 0) {
            job_set_failed(j);
            return;
        }
        s->not_before = 0;
    } else if (s->state != SLOT_WAIT || s->not_before > now_sec()) {
        return;
    }
    if (slot_begin(j, s) < 0) {
        job_set_failed(j);
        return;
    }
    if (slot_start_async(j, s, m) < 0) {
        /* Could not even start: judged like a transport failure. */
        switch (slot_verdict(j, s, -1)) {
        case V_RETRY:
            s->state = SLOT_WAIT;
            s->not_before = now_sec() + backoff_ms(s->attempt++) / 1e3;
            return;
        default:
            job_set_failed(j);
            return;
        }
    }
    s->state = SLOT_RUNNING;
}

static void multi_ended(struct job *j, struct slot *s)
{
    int rc = httpc_multi_result(j->t->h[s->w], &s->st, &s->reply, &s->wire);

    if (!j->download)
        s->wire = s->len;
    switch (slot_verdict(j, s, rc)) {
    case V_DONE:
        slot_done(j, s);
        s->state = SLOT_IDLE;
        break;
    case V_AGAIN:
        s->state = SLOT_WAIT;
        s->not_before = 0;
        break;
    case V_RETRY:
        s->state = SLOT_WAIT;
        s->not_before = now_sec() + backoff_ms(s->attempt++) / 1e3;
        break;
    case V_REFRESH:
        s->state = SLOT_WAIT;
        s->not_before = 0;
        if (job_refresh(j, s->w, s->gen) < 0)
            job_set_failed(j);
        break;
    case V_FAIL:
        s->state = SLOT_IDLE;
        job_set_failed(j);
        break;
    }
}

static int run_multi(struct job *j, int nw)
{
    struct slot slots[MAX_PARALLEL];
    httpc_multi *m = httpc_multi_new();
    httpc *done;
    double soonest, t;
    long wait_ms;
    int i, busy, r;

    if (!m) {
        fail(j->res, 0, "", "out of memory");
        return -1;
    }
    memset(slots, 0, sizeof slots);
    for (i = 0; i < nw; i++)
        slots[i].w = i;
    for (;;) {
        busy = 0;
        soonest = 0;
        for (i = 0; i < nw && !j->failed; i++)
            multi_kick(j, &slots[i], m);
        for (i = 0; i < nw; i++) {
            if (slots[i].state == SLOT_IDLE)
                continue;
            busy = 1;
            if (slots[i].state == SLOT_WAIT &&
                (soonest == 0 || slots[i].not_before < soonest))
                soonest = slots[i].not_before;
        }
        if (!busy || j->failed)
            break;
        t = now_sec();
        wait_ms = soonest > 0 ? (long)((soonest - t) * 1e3) + 1 : 1000;
        if (wait_ms < 0)
            wait_ms = 0;
        r = httpc_multi_next(m, wait_ms, &done);
        if (r < 0) {
            fail(j->res, 0, "", "curl multi failed");
            job_set_failed(j);
            break;
        }
        if (r == 0)
            continue;
        for (i = 0; i < nw; i++)
            if (j->t->h[slots[i].w] == done &&
                slots[i].state == SLOT_RUNNING) {
                multi_ended(j, &slots[i]);
                break;
            }
    }
    for (i = 0; i < nw; i++) {
        if (slots[i].state == SLOT_RUNNING)
            httpc_multi_abort(j->t->h[slots[i].w]);
        slot_clear(&slots[i]);
    }
    httpc_multi_free(m);
    return j->failed ? -1 : 0;
}

/* Runs every item not done with up to `parallel` requests in flight.
 * 0 when every item succeeded. */
static int job_run(struct job *j, int with_enc)
{
    int nw = j->t->o.parallel;
    size_t todo = 0, k;

    for (k = 0; k < j->n; k++)
        todo += !j->items[k].done;
    if ((size_t)nw > todo)
        nw = todo ? (int)todo : 1;
    if (ensure_handles(j->t, nw, with_enc) < 0) {
        fail(j->res, 0, "", "out of memory");
        return -1;
    }
    j->next = 0;
    j->failed = 0;
    if (j->t->o.engine == TRANSFER_ENGINE_MULTI)
        return run_multi(j, nw);
    return run_threads(j, nw);
}

/* ---- upload ----------------------------------------------------------------- */

/* Calls the API with retries on transport errors and 5xx. */
static int api_call(transfer *t, httpc *h, const char *method,
                    const char *path, const cJSON *body, long *st,
                    cJSON **reply, transfer_result *res, const char *what)
{
    int attempt = 0, rc;
    for (;;) {
        rc = httpc_json(h, method, path, body, st, reply);
        if (!retryable(rc, *st) || attempt >= t->o.retries)
            break;
        cJSON_Delete(*reply);
        *reply = NULL;
        res->retries++;
        sleep_ms(backoff_ms(attempt++));
    }
    if (rc < 0)
        fail(res, 0, "", "%s: %s", what, httpc_error(h));
    return rc;
}

/* Fills items from a session answer's "missing" list, with the file offset
 * of each hash taken from chunks (sorted index by_hash). */
static int items_from_missing(struct job *j, const cJSON *missing,
                              const transfer_chunk *chunks,
                              const size_t *by_hash, size_t nchunks)
{
    const cJSON *m;
    size_t n = (size_t)cJSON_GetArraySize(missing), k = 0, lo, hi, mid;
    uint8_t h[32];
    const char *hex, *url;
    int c;

    j->items = calloc(n ? n : 1, sizeof *j->items);
    if (!j->items)
        return -1;
    cJSON_ArrayForEach(m, missing) {
        hex = jstr(m, "hash");
        url = jstr(m, "url");
        if (!hex || !url || hash_from_hex(hex, h) < 0)
            goto bad;
        lo = 0;
        hi = nchunks;
        while (lo < hi) {             /* binary search of by_hash */
            mid = lo + (hi - lo) / 2;
            c = memcmp(chunks[by_hash[mid]].hash, h, 32);
            if (c == 0)
                break;
            if (c < 0)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo >= hi)
            goto bad;                 /* the server asks for an unknown chunk */
        memcpy(j->items[k].hash, h, 32);
        j->items[k].offset = chunks[by_hash[mid]].offset;
        j->items[k].size = chunks[by_hash[mid]].size;
        if (!(j->items[k].url = strdup(url)))
            goto bad;
        k++;
    }
    j->n = k;
    /* Sent in file order (sequential reads); found by hash on refreshes. */
    qsort(j->items, j->n, sizeof *j->items, cmp_item_offset);
    j->hidx = malloc((k ? k : 1) * sizeof *j->hidx);
    if (!j->hidx)
        return -1;
    for (k = 0; k < j->n; k++)
        j->hidx[k] = &j->items[k];
    qsort(j->hidx, j->n, sizeof *j->hidx, cmp_item_hash);
    return 0;
bad:
    j->n = k;
    fail(j->res, 0, "bad_answer", "the upload session lists an unknown chunk");
    return -1;
}

static int upload_refresh(struct job *j, int w)
{
    char path[160];
    cJSON *reply = NULL, *m;
    long st = 0;
    int ret = -1;

    snprintf(path, sizeof path, "/v1/uploads/%s", j->upload_id);
    if (api_call(j->t, j->t->h[w], "GET", path, NULL, &st, &reply, j->res,
                 "GET upload session") < 0)
        goto out;
    if (st != 200) {
        fail_answer(j->res, "GET upload session", st, reply);
        goto out;
    }
    cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(reply, "missing"))
        set_url_by_hash(j, jstr(m, "hash"), jstr(m, "url"));
    ret = 0;
out:
    cJSON_Delete(reply);
    return ret;
}

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
        c = cJSON_CreateObject();
        if (!c)
            goto fail;
        cJSON_AddItemToArray(arr, c);
        if (!cJSON_AddStringToObject(c, "hash", hex) ||
            !cJSON_AddNumberToObject(c, "size", chunks[i].size))
            goto fail;
    }
    return b;
fail:
    cJSON_Delete(b);
    return NULL;
}

/* Index of chunks sorted by hash, without global state: sort pairs. */
struct hidx {
    uint8_t hash[32];
    size_t i;
};

static size_t *index_by_hash(const transfer_chunk *chunks, size_t n)
{
    struct hidx *tmp = malloc((n ? n : 1) * sizeof *tmp);
    size_t *idx = malloc((n ? n : 1) * sizeof *idx), i;
    if (!tmp || !idx) {
        free(tmp);
        free(idx);
        return NULL;
    }
    for (i = 0; i < n; i++) {
        memcpy(tmp[i].hash, chunks[i].hash, 32);
        tmp[i].i = i;
    }
    qsort(tmp, n, sizeof *tmp, cmp_hash);  /* hash is the first member */
    for (i = 0; i < n; i++)
        idx[i] = tmp[i].i;
    free(tmp);
    return idx;
}

/* Opens (or reopens) the session; fills j->items with what is missing. */
static int open_session(struct job *j, const char *node_id, int64_t base_rev,
                        uint64_t size, const transfer_chunk *chunks, size_t n,
                        const size_t *by_hash, char **upload_id)
{
    transfer_result *res = j->res;
    cJSON *body = NULL, *reply = NULL;
    const char *id;
    long st = 0;
    int ret = -1;

    body = session_body(node_id, base_rev, size, chunks, n);
    if (!body) {
        fail(res, 0, "", "out of memory");
        goto out;
    }
    if (api_call(j->t, j->t->h[0], "POST", "/v1/uploads", body, &st, &reply,
                 res, "POST /v1/uploads") < 0)
        goto out;
    if (st != 200 && st != 201) {
        fail_answer(res, "POST /v1/uploads", st, reply);
        goto out;
    }
    id = jstr(reply, "id");
    if (!id || !(*upload_id = strdup(id))) {
        fail(res, st, "bad_answer", "upload session without an id");
        goto out;
    }
    ret = items_from_missing(j, cJSON_GetObjectItemCaseSensitive(reply,
                             "missing"), chunks, by_hash, n);
out:
    cJSON_Delete(body);
    cJSON_Delete(reply);
    return ret;
}

static int upload_send(struct job *j)
{
    uint64_t bytes = 0;
    size_t i;
    for (i = 0; i < j->n; i++)
        bytes += j->items[i].size;
    j->pr.phase = TRANSFER_SEND;
    j->pr.bytes_total = bytes;
    j->pr.chunks_total = j->n;
    j->pr.bytes_done = j->pr.chunks_done = 0;
    return job_run(j, j->t->o.compress > 0);
}

/* Commit; on 409 missing_chunks (a chunk vanished meanwhile) the missing
 * ones are sent again. */
static int upload_commit(struct job *j, const struct timespec *mtime,
                         const transfer_chunk *chunks, size_t n,
                         const size_t *by_hash)
{
    transfer_result *res = j->res;
    cJSON *body = NULL, *reply = NULL, *node, *conflict;
    char path[160];
    long st = 0;
    int round, ret = -1;

    if (mtime) {
        body = cJSON_CreateObject();
        if (!body || !cJSON_AddNumberToObject(body, "mtime",
                                              (double)mtime->tv_sec) ||
            !cJSON_AddNumberToObject(body, "mtime_nsec",
                                     (double)mtime->tv_nsec)) {
            fail(res, 0, "", "out of memory");
            goto out;
        }
    }
    snprintf(path, sizeof path, "/v1/uploads/%s/commit", j->upload_id);
    for (round = 0;; round++) {
        cJSON_Delete(reply);
        reply = NULL;
        if (api_call(j->t, j->t->h[0], "POST", path, body, &st, &reply, res,
                     "commit") < 0)
            goto out;
        if (st == 200)
            break;
        if (st == 409 && round < COMMIT_ROUNDS &&
            strcmp(httpc_errcode(reply) ? httpc_errcode(reply) : "",
                   "missing_chunks") == 0) {
            /* Fresh session state, then send what it lacks. */
            cJSON_Delete(reply);
            reply = NULL;
            snprintf(path, sizeof path, "/v1/uploads/%s", j->upload_id);
            if (api_call(j->t, j->t->h[0], "GET", path, NULL, &st, &reply,
                         res, "GET upload session") < 0)
                goto out;
            if (st != 200) {
                fail_answer(res, "GET upload session", st, reply);
                goto out;
            }
            items_free(j->items, j->n);
            free(j->hidx);
            j->items = NULL;
            j->hidx = NULL;
            j->n = 0;
            if (items_from_missing(j, cJSON_GetObjectItemCaseSensitive(
                        reply, "missing"), chunks, by_hash, n) < 0 ||
                upload_send(j) < 0)
                goto out;
            snprintf(path, sizeof path, "/v1/uploads/%s/commit", j->upload_id);
            continue;
        }
        fail_answer(res, "commit", st, reply);
        goto out;
    }
    node = cJSON_DetachItemFromObjectCaseSensitive(reply, "node");
    conflict = cJSON_DetachItemFromObjectCaseSensitive(reply, "conflict");
    if (!cJSON_IsObject(node)) {
        cJSON_Delete(node);
        cJSON_Delete(conflict);
        fail(res, st, "bad_answer", "commit answer without a node");
        goto out;
    }
    res->node = node;
    if (cJSON_IsObject(conflict))
        res->conflict = conflict;
    else
        cJSON_Delete(conflict);
    ret = 0;
out:
    cJSON_Delete(body);
    cJSON_Delete(reply);
    return ret;
}

static int job_init(struct job *j, transfer *t, transfer_result *res, int fd)
{
    memset(j, 0, sizeof *j);
    j->t = t;
    j->res = res;
    j->fd = fd;
    pthread_mutex_init(&j->mu, NULL);
    pthread_mutex_init(&j->refresh_mu, NULL);
    pthread_mutex_init(&j->write_mu, NULL);
    return 0;
}

static void job_destroy(struct job *j)
{
    items_free(j->items, j->n);
    free(j->hidx);
    j->items = NULL;
    j->hidx = NULL;
    job_free_buffers(j);
    pthread_mutex_destroy(&j->mu);
    pthread_mutex_destroy(&j->refresh_mu);
    pthread_mutex_destroy(&j->write_mu);
}

static void progress_phase(transfer *t, enum transfer_phase ph,
                           uint64_t total, uint64_t chunks)
{
    transfer_progress p = { .phase = ph, .bytes_done = total,
                            .bytes_total = total, .chunks_done = chunks,
                            .chunks_total = chunks };
    if (t->o.progress)
        t->o.progress(t->o.progress_arg, &p);
}

int transfer_upload_fd(transfer *t, int fd, const char *node_id,
                       int64_t base_rev, const struct timespec *mtime,
                       transfer_result *res)
{
    struct job j;
    transfer_chunk *chunks = NULL;
    size_t n = 0, *by_hash = NULL;
    uint64_t size = 0;
    char *upload_id = NULL;
    double t0 = now_sec(), t1;
    int ret = -1;

    result_init(res);
    job_init(&j, t, res, fd);
    j.refresh = upload_refresh;
    if (!node_id || !valid_id(node_id) || base_rev < 0) {
        fail(res, 0, "bad_request", "invalid node id or base revision");
        goto out;
    }
    if (transfer_scan_fd(fd, t->o.chunker.avg_size ? &t->o.chunker : NULL,
                         &chunks, &n, &size, t->o.progress,
                         t->o.progress_arg) < 0) {
        fail(res, 0, "", "reading the file: %s", strerror(errno));
        goto out;
    }
    res->size = size;
    res->chunks = n;
    t1 = now_sec();
    res->scan_sec = t1 - t0;
    if (!(by_hash = index_by_hash(chunks, n))) {
        fail(res, 0, "", "out of memory");
        goto out;
    }
    if (open_session(&j, node_id, base_rev, size, chunks, n, by_hash,
                     &upload_id) < 0)
        goto out;
    j.upload_id = upload_id;
    if (upload_send(&j) < 0)
        goto out;
    res->send_sec = now_sec() - t1;
    t1 = now_sec();
    progress_phase(t, TRANSFER_COMMIT, size, n);
    if (upload_commit(&j, mtime, chunks, n, by_hash) < 0)
        goto out;
    res->commit_sec = now_sec() - t1;
    progress_phase(t, TRANSFER_DONE, size, n);
    ret = 0;
out:
    res->total_sec = now_sec() - t0;
    job_destroy(&j);
    free(upload_id);
    free(by_hash);
    free(chunks);
    return ret;
}

/* ---- download --------------------------------------------------------------- */

/* Adds the chunks of one content answer to a growing item array. */
static int add_content_chunks(struct job *j, const cJSON *arr, size_t *cap)
{
    const cJSON *c;
    double off, size;
    const char *hex, *url;
    struct item *it, *ni;

    cJSON_ArrayForEach(c, arr) {
        if (j->n == *cap) {
            *cap = *cap ? *cap * 2 : 64;
            ni = realloc(j->items, *cap * sizeof *ni);
            if (!ni)
                return -1;
            j->items = ni;
        }
        hex = jstr(c, "hash");
        url = jstr(c, "url");
        if (!hex || !url || jnum(c, "offset", &off) < 0 ||
            jnum(c, "size", &size) < 0 || size < 1 || size > (64 << 20) ||
            off < 0)
            return -1;
        it = &j->items[j->n];
        memset(it, 0, sizeof *it);
        if (hash_from_hex(hex, it->hash) < 0)
            return -1;
        it->offset = (uint64_t)off;
        it->size = (uint32_t)size;
        if (!(it->url = strdup(url)))
            return -1;
        j->n++;
    }
    return 0;
}

/* GET /v1/nodes/{id}/content from chunk start; the answer in *reply. */
static int get_content(struct job *j, int w, size_t start, size_t limit,
                       cJSON **reply)
{
    char path[128];
    long st = 0;

    if (limit)
        snprintf(path, sizeof path, "/v1/nodes/%s/content?start=%zu&limit=%zu",
                 j->node_id, start, limit);
    else if (start)
        snprintf(path, sizeof path, "/v1/nodes/%s/content?start=%zu",
                 j->node_id, start);
    else
        snprintf(path, sizeof path, "/v1/nodes/%s/content", j->node_id);
    if (api_call(j->t, j->t->h[w], "GET", path, NULL, &st, reply, j->res,
                 "GET content") < 0)
        return -1;
    if (st != 200) {
        fail_answer(j->res, "GET content", st, *reply);
        return -1;
    }
    return 0;
}

static int content_rev_of(const cJSON *reply, int64_t *rev)
{
    double d;
    if (jnum(reply, "content_rev", &d) < 0)
        return -1;
    *rev = (int64_t)d;
    return 0;
}

/* Fresh URLs for the whole list (items are in file order here). */
static int download_refresh(struct job *j, int w)
{
    cJSON *reply = NULL, *c;
    size_t k = 0, start = 0;
    int64_t rev;
    double count;
    const char *url;
    int ret = -1;

    for (;;) {
        if (get_content(j, w, start, 0, &reply) < 0)
            goto out;
        if (content_rev_of(reply, &rev) < 0 || rev != j->content_rev ||
            jnum(reply, "count", &count) < 0 || (size_t)count != j->n) {
            fail(j->res, 0, "changed", "the file changed during the download");
            goto out;
        }
        cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(reply, "chunks")) {
            url = jstr(c, "url");
            if (k < j->n && url) {
                char *u = strdup(url);
                if (u) {
                    pthread_mutex_lock(&j->mu);
                    free(j->items[k].url);
                    j->items[k].url = u;
                    pthread_mutex_unlock(&j->mu);
                }
            }
            k++;
        }
        cJSON_Delete(reply);
        reply = NULL;
        if (k >= j->n || k == start)
            break;
        start = k;
    }
    ret = 0;
out:
    cJSON_Delete(reply);
    return ret;
}

/* The whole chunk map into j->items; the first answer (less its chunks)
 * into res->node. */
static int load_content(struct job *j, uint64_t *size)
{
    cJSON *reply = NULL, *arr;
    size_t cap = 0;
    double count = 0, sz = 0;
    uint64_t expect = 0;
    size_t i;
    int ret = -1;

    for (;;) {
        if (get_content(j, 0, j->n, 0, &reply) < 0)
            goto out;
        arr = cJSON_GetObjectItemCaseSensitive(reply, "chunks");
        if (!cJSON_IsArray(arr) || jnum(reply, "count", &count) < 0 ||
            jnum(reply, "size", &sz) < 0 || count < 0 || sz < 0)
            goto bad;
        if (!j->res->node) {
            if (content_rev_of(reply, &j->content_rev) < 0)
                goto bad;
        } else {
            int64_t rev;
            if (content_rev_of(reply, &rev) < 0 || rev != j->content_rev) {
                fail(j->res, 0, "changed", "the file changed during listing");
                goto out;
            }
        }
        if (cJSON_GetArraySize(arr) == 0 && j->n < (size_t)count)
            goto bad;
        if (add_content_chunks(j, arr, &cap) < 0)
            goto bad;
        if (!j->res->node) {
            cJSON_DeleteItemFromObjectCaseSensitive(reply, "chunks");
            j->res->node = reply;
            reply = NULL;
        }
        cJSON_Delete(reply);
        reply = NULL;
        if (j->n >= (size_t)count)
            break;
    }
    /* The chunks must tile the file exactly. */
    for (i = 0; i < j->n; i++) {
        if (j->items[i].offset != expect)
            goto bad;
        expect += j->items[i].size;
    }
    if (expect != (uint64_t)sz || j->n != (size_t)count)
        goto bad;
    *size = expect;
    ret = 0;
    goto out;
bad:
    fail(j->res, 0, "bad_answer", "malformed content answer");
out:
    cJSON_Delete(reply);
    return ret;
}

int transfer_download_fd(transfer *t, const char *node_id, int fd,
                         transfer_result *res)
{
    struct job j;
    uint64_t size = 0;
    double t0 = now_sec(), t1;
    int ret = -1;

    result_init(res);
    job_init(&j, t, res, fd);
    j.download = 1;
    j.refresh = download_refresh;
    j.node_id = node_id;
    if (!node_id || !valid_id(node_id)) {
        fail(res, 0, "bad_request", "invalid node id");
        goto out;
    }
    if (load_content(&j, &size) < 0)
        goto out;
    res->size = size;
    res->chunks = j.n;
    if (ftruncate(fd, (off_t)size) < 0) {
        fail(res, 0, "", "truncating the file: %s", strerror(errno));
        goto out;
    }
    t1 = now_sec();
    res->scan_sec = t1 - t0;
    j.pr.phase = TRANSFER_RECEIVE;
    j.pr.bytes_total = size;
    j.pr.chunks_total = j.n;
    if (job_run(&j, 0) < 0)
        goto out;
    res->send_sec = now_sec() - t1;
    progress_phase(t, TRANSFER_DONE, size, j.n);
    ret = 0;
out:
    res->total_sec = now_sec() - t0;
    if (ret < 0) {
        cJSON_Delete(res->node);
        res->node = NULL;
    }
    job_destroy(&j);
    return ret;
}
