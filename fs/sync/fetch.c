/* fetch: the download engine (see fetch.h): a queue of chunk jobs, the
 * threads that run them, and the signed URLs they need. A chunk wanted by
 * a reader goes to the head of the queue; prefetches go to its tail; a
 * chunk already queued or in flight is never fetched twice. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conn.h"
#include "fetch.h"
#include "hash.h"
#include "log.h"
#include "transfer.h"

#define FETCH_THREADS 4
#define FETCH_TRIES 3          /* GETs of a chunk that get no or a busy answer */
#define FETCH_REFRESHES 3      /* fresh URLs for one chunk */
#define URLSETS 16
#define URL_PAGE 256
#define FETCH_WHY 256

struct urlset {
    uint64_t id, rev;
    time_t expires;
    uint32_t count;
    char **url;
};

struct job {
    uint64_t id, rev;
    uint32_t index, size;
    uint8_t hash[HASH_LEN];
    int running, done, rc, refs;
    struct job *next;
};

struct fetch {
    struct dbxfs *fs;
    pthread_mutex_t mu;
    pthread_cond_t work_cv, done_cv;
    struct job *jobs;              /* queued and running, queue order */
    struct urlset urls[URLSETS];
    int next_urlset, stop, nthreads;
    pthread_t threads[FETCH_THREADS];
    struct fetch_stats stats;
};

/* ---- signed URLs ---- */

static void urlset_clear(struct urlset *u)
{
    for (uint32_t i = 0; u->url && i < u->count; i++)
        free(u->url[i]);
    free(u->url);
    memset(u, 0, sizeof(*u));
}

static struct urlset *urlset_find(struct fetch *f, uint64_t id, uint64_t rev)
{
    for (int i = 0; i < URLSETS; i++)
        if (f->urls[i].url && f->urls[i].id == id && f->urls[i].rev == rev)
            return &f->urls[i];
    return NULL;
}

static struct urlset *urlset_make(struct fetch *f, uint64_t id, uint64_t rev,
                                  uint32_t count)
{
    struct urlset *u = urlset_find(f, id, rev);

    if (u && u->count >= count)
        return u;
    if (!u) {
        u = &f->urls[f->next_urlset];
        f->next_urlset = (f->next_urlset + 1) % URLSETS;
    }
    urlset_clear(u);
    u->url = calloc(count ? count : 1, sizeof(char *));
    if (!u->url)
        return NULL;
    u->id = id;
    u->rev = rev;
    u->count = count;
    return u;
}

int fetch_content(struct dbxfs *fs, uint64_t id, uint32_t start, int limit,
                  cJSON **reply)
{
    char path[160], hex[17];
    long status = 0;
    int rc;

    wire_id_format(id, hex);
    snprintf(path, sizeof(path), "/v1/nodes/%s/content?start=%u&limit=%d", hex,
             start, limit);
    rc = conn_json(fs, "GET", path, NULL, &status, reply);
    return rc == 0 && status != 200 ? -conn_errno(status, *reply) : rc;
}

void fetch_remember_urls(struct dbxfs *fs, uint64_t id, uint64_t content_rev,
                         uint32_t start, const cJSON *content)
{
    struct fetch *f = fs->fetch;
    const cJSON *c, *chunks = cJSON_GetObjectItem(content, "chunks");
    uint64_t count = 0, expires = 0;
    struct urlset *u;
    uint32_t i = start;

    wire_get_uint(content, "count", UINT32_MAX, &count);
    wire_get_uint(content, "expires", INT64_MAX, &expires);
    pthread_mutex_lock(&f->mu);
    u = urlset_make(f, id, content_rev, (uint32_t)count);
    if (u && (u->expires == 0 || (time_t)expires < u->expires))
        u->expires = (time_t)expires;
    cJSON_ArrayForEach(c, chunks) {
        const char *url;
        if (!u || i >= u->count || wire_get_string(c, "url", &url) != WIRE_OK)
            break;
        free(u->url[i]);
        u->url[i++] = strdup(url);
    }
    pthread_mutex_unlock(&f->mu);
}

static char *url_cached(struct fetch *f, const struct job *j)
{
    struct urlset *u;
    char *url = NULL;

    pthread_mutex_lock(&f->mu);
    u = urlset_find(f, j->id, j->rev);
    /* A minute of slack: the URL must still be good when the GET arrives. */
    if (u && u->expires > time(NULL) + 60 && j->index < u->count && u->url[j->index])
        url = strdup(u->url[j->index]);
    pthread_mutex_unlock(&f->mu);
    return url;
}

/* Asks dbxd for fresh URLs of the page holding the job's chunk; checks the
 * chunk is still the one there (-ESTALE: the content moved on). why: what
 * went wrong. */
static int url_refresh(struct fetch *f, const struct job *j, char *why)
{
    uint32_t start = j->index - j->index % URL_PAGE;
    cJSON *reply = NULL, *c;
    uint64_t rev = 0;
    uint8_t hash[HASH_LEN];
    int rc = fetch_content(f->fs, j->id, start, URL_PAGE, &reply);

    if (rc == 0 && (wire_get_uint(reply, "content_rev", UINT64_MAX, &rev) ||
                    rev != j->rev))
        rc = -ESTALE;
    c = rc ? NULL : cJSON_GetArrayItem(cJSON_GetObjectItem(reply, "chunks"),
                                       (int)(j->index - start));
    if (rc == 0 && (!c || wire_get_hash(c, "hash", hash) ||
                    memcmp(hash, j->hash, HASH_LEN)))
        rc = -ESTALE;
    if (rc == 0)
        fetch_remember_urls(f->fs, j->id, j->rev, start, reply);
    else
        snprintf(why, FETCH_WHY, "GET content for fresh chunk URLs: %s",
                 rc == -ESTALE ? "the content changed on dbxd" : strerror(-rc));
    cJSON_Delete(reply);
    return rc;
}

/* ---- one download ---- */

struct sink {
    char *buf;
    size_t len, cap;
    int too_long;
};

/* What one chunk's GETs came to so far. */
struct tries {
    int gets, refreshes, bad;
    uint64_t wire;             /* of the last GET */
    char why[FETCH_WHY];       /* what the last failure was */
};

static int sink_write(void *arg, const void *data, size_t len)
{
    struct sink *s = arg;

    if (len > s->cap - s->len) {
        s->too_long = 1;
        return 1;   /* longer than the chunk: wrong bytes, stop */
    }
    memcpy(s->buf + s->len, data, len);
    s->len += len;
    return 0;
}

/* The kind of failure an answer other than 200 is (see get_chunk). */
static int answer_fault(long status, const cJSON *reply, char *why)
{
    const char *code = httpc_errcode(reply);
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(reply, "message");

    if (status == 403)
        return -EKEYEXPIRED;
    snprintf(why, FETCH_WHY, "GET chunk: HTTP %ld%s%s%s%s", status,
             code ? " " : "", code ? code : "", cJSON_IsString(msg) ? ": " : "",
             cJSON_IsString(msg) ? msg->valuestring : "");
    return transfer_retryable(0, status) ? -EBUSY : -EIO;
}

/* One GET of the chunk into the block cache. 0, or what to do about it:
 * -EAGAIN no answer (a new connection at once), -EBUSY a busy answer
 * (after a pause), -EKEYEXPIRED the URL was refused (fresh URLs),
 * -EBADMSG wrong bytes (once more); another -errno fails the chunk. */
static int get_chunk(struct fetch *f, httpc *h, const struct job *j, char *url,
                     struct sink *s, struct tries *t)
{
    uint8_t got[HASH_LEN];
    cJSON *reply = NULL;
    long status = 0;
    int rc;

    s->len = 0;
    s->too_long = 0;
    rc = httpc_get_stream(h, url, 1, sink_write, s, &status, &reply, &t->wire);
    conn_note(f->fs, rc == 0 || status != 0 || s->too_long, status);
    if (rc == 0 && status != 200)
        rc = answer_fault(status, reply, t->why);
    else if (s->too_long || (rc == 0 && s->len != j->size))
        rc = -EBADMSG;
    else if (rc) {
        snprintf(t->why, FETCH_WHY, "GET chunk: %s", httpc_error(h));
        rc = -EAGAIN;
    }
    cJSON_Delete(reply);
    if (rc)
        return rc;
    hash_buf(s->buf, s->len, got);
    if (memcmp(got, j->hash, HASH_LEN)) {
        log_warn("chunk %02x%02x%02x... from dbxd does not match its hash",
                 j->hash[0], j->hash[1], j->hash[2]);
        return -EBADMSG;
    }
    return blockcache_put(f->fs->bc, j->hash, s->buf, s->len);
}

/* One GET, through the remembered URL or a fresh one. */
static int attempt(struct fetch *f, httpc *h, const struct job *j,
                   struct sink *s, struct tries *t)
{
    char *url = url_cached(f, j), *full;
    int rc = 0;

    if (!url && (rc = url_refresh(f, j, t->why)) == 0)
        url = url_cached(f, j);
    full = url ? httpc_resolve(f->fs->pool, url) : NULL;
    if (rc == 0)
        rc = full ? get_chunk(f, h, j, full, s, t) : -ENOMEM;
    free(url);
    free(full);
    return rc;
}

static void count_retry(struct fetch *f)
{
    pthread_mutex_lock(&f->mu);
    f->stats.retries++;
    pthread_mutex_unlock(&f->mu);
}

/* After a failed attempt: 1 to make another (after a pause or with fresh
 * URLs), 0 to give up with *rc. */
static int again(struct fetch *f, const struct job *j, int *rc, struct tries *t)
{
    switch (*rc) {
    case -EAGAIN:   /* a dropped keep-alive connection: a new one at once */
    case -EBUSY:
        if (++t->gets >= FETCH_TRIES)
            return 0;
        if (*rc == -EBUSY)
            transfer_backoff(t->gets - 1);
        count_retry(f);
        return 1;
    case -EBADMSG:  /* damaged on the way, or at rest on dbxd: once more */
        if (t->bad++ == 0) {
            count_retry(f);
            return 1;
        }
        snprintf(t->why, FETCH_WHY, "GET chunk: hash_mismatch: chunk %u came "
                 "twice with a wrong hash or size", j->index);
        return 0;
    case -EKEYEXPIRED:
        if (t->refreshes++ == FETCH_REFRESHES) {
            snprintf(t->why, FETCH_WHY, "GET chunk: expired: dbxd keeps "
                     "refusing chunk %u's signed URL", j->index);
            return 0;
        }
        *rc = url_refresh(f, j, t->why);
        return *rc == 0;
    }
    return 0;
}

static void count_end(struct fetch *f, const struct job *j, int rc,
                      const struct tries *t)
{
    pthread_mutex_lock(&f->mu);
    if (rc == 0) {
        f->stats.chunks++;
        f->stats.bytes += j->size;
        f->stats.wire_bytes += t->wire;
    } else {
        snprintf(f->stats.error, sizeof(f->stats.error), "%s",
                 t->why[0] ? t->why : strerror(-rc));
    }
    pthread_mutex_unlock(&f->mu);
}

static int download(struct fetch *f, httpc *h, const struct job *j)
{
    struct sink s = { malloc(j->size ? j->size : 1), 0, j->size, 0 };
    struct tries t = { 0 };
    int rc = -ENOMEM;

    if (s.buf)
        do
            rc = attempt(f, h, j, &s, &t);
        while (rc && again(f, j, &rc, &t));
    count_end(f, j, rc, &t);
    free(s.buf);
    /* The reader sees EIO for what the network did; -EAGAIN would tell it
     * the content changed. */
    return rc == -EAGAIN || rc == -EBUSY || rc == -EBADMSG || rc == -EKEYEXPIRED
           ? -EIO : rc;
}

/* ---- the queue ---- */

static void job_unref(struct job *j, int n)
{
    j->refs -= n;
    if (j->refs == 0)
        free(j);
}

static void unlink_job(struct fetch *f, struct job *j)
{
    for (struct job **p = &f->jobs; *p; p = &(*p)->next)
        if (*p == j) {
            *p = j->next;
            return;
        }
}

static void *worker(void *arg)
{
    struct fetch *f = arg;
    httpc *h = httpc_new(f->fs->pool);
    struct job *j;

    if (h)
        httpc_set_timeout(h, 120000);
    pthread_mutex_lock(&f->mu);
    while (!f->stop) {
        for (j = f->jobs; j && j->running; j = j->next)
            ;
        if (!j) {
            pthread_cond_wait(&f->work_cv, &f->mu);
            continue;
        }
        j->running = 1;
        j->refs++;
        pthread_mutex_unlock(&f->mu);
        int rc = h ? download(f, h, j) : -ENOMEM;
        pthread_mutex_lock(&f->mu);
        j->done = 1;
        j->rc = rc;
        unlink_job(f, j);
        job_unref(j, 2);   /* the queue's and ours */
        pthread_cond_broadcast(&f->done_cv);
    }
    pthread_mutex_unlock(&f->mu);
    httpc_free(h);
    return NULL;
}

static struct job *find_job(struct fetch *f, const uint8_t hash[HASH_LEN])
{
    for (struct job *j = f->jobs; j; j = j->next)
        if (memcmp(j->hash, hash, HASH_LEN) == 0)
            return j;
    return NULL;
}

/* Queues a job (at the head when urgent). Called with f->mu held. */
static struct job *enqueue(struct fetch *f, const struct cnode *n,
                           const struct map_entry *e, int urgent)
{
    struct job *j = calloc(1, sizeof(*j)), **p = &f->jobs;

    if (!j)
        return NULL;
    j->id = n->id;
    j->rev = n->content_rev;
    j->index = e->index;
    j->size = e->size;
    memcpy(j->hash, e->hash, HASH_LEN);
    j->refs = 1;
    if (!urgent)
        while (*p)
            p = &(*p)->next;
    j->next = *p;
    *p = j;
    pthread_cond_signal(&f->work_cv);
    return j;
}

int fetch_chunk(struct dbxfs *fs, const struct cnode *n, const struct map_entry *e)
{
    struct fetch *f = fs->fetch;
    struct job *j;
    int rc;

    if (blockcache_has(fs->bc, e->hash))
        return 0;
    pthread_mutex_lock(&f->mu);
    j = find_job(f, e->hash);
    if (j && !j->running) {      /* a prefetch the reader now waits for */
        unlink_job(f, j);
        j->next = f->jobs;
        f->jobs = j;
    }
    if (!j)
        j = enqueue(f, n, e, 1);
    if (!j) {
        pthread_mutex_unlock(&f->mu);
        return -ENOMEM;
    }
    j->refs++;
    while (!j->done && !f->stop)
        pthread_cond_wait(&f->done_cv, &f->mu);
    rc = j->done ? j->rc : -EIO;
    job_unref(j, 1);
    pthread_mutex_unlock(&f->mu);
    return rc;
}

static int any_running(const struct fetch *f)
{
    for (const struct job *j = f->jobs; j; j = j->next)
        if (j->running)
            return 1;
    return 0;
}

void fetch_stats(struct dbxfs *fs, struct fetch_stats *out)
{
    struct fetch *f = fs->fetch;

    pthread_mutex_lock(&f->mu);
    /* A chunk is in the block cache, where a reader finds it, a moment
     * before its worker counts it: wait for downloads in flight. */
    while (any_running(f) && !f->stop)
        pthread_cond_wait(&f->done_cv, &f->mu);
    *out = f->stats;
    pthread_mutex_unlock(&f->mu);
}

void fetch_prefetch(struct dbxfs *fs, const struct cnode *n, const struct map_entry *e)
{
    struct fetch *f = fs->fetch;

    if (blockcache_has(fs->bc, e->hash))
        return;
    pthread_mutex_lock(&f->mu);
    if (!find_job(f, e->hash))
        enqueue(f, n, e, 0);
    pthread_mutex_unlock(&f->mu);
}

int fetch_start(struct dbxfs *fs)
{
    struct fetch *f = calloc(1, sizeof(*f));

    if (!f)
        return -ENOMEM;
    f->fs = fs;
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->work_cv, NULL);
    pthread_cond_init(&f->done_cv, NULL);
    fs->fetch = f;
    for (; f->nthreads < FETCH_THREADS; f->nthreads++)
        if (pthread_create(&f->threads[f->nthreads], NULL, worker, f))
            break;
    return f->nthreads ? 0 : -EAGAIN;
}

void fetch_stop(struct dbxfs *fs)
{
    struct fetch *f = fs->fetch;

    if (!f)
        return;
    pthread_mutex_lock(&f->mu);
    f->stop = 1;
    pthread_cond_broadcast(&f->work_cv);
    pthread_cond_broadcast(&f->done_cv);
    pthread_mutex_unlock(&f->mu);
    for (int i = 0; i < f->nthreads; i++)
        pthread_join(f->threads[i], NULL);
    while (f->jobs) {
        struct job *j = f->jobs;
        f->jobs = j->next;
        free(j);
    }
    for (int i = 0; i < URLSETS; i++)
        urlset_clear(&f->urls[i]);
    pthread_cond_destroy(&f->work_cv);
    pthread_cond_destroy(&f->done_cv);
    pthread_mutex_destroy(&f->mu);
    free(f);
    fs->fetch = NULL;
}
