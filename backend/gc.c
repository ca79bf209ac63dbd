#include "gc.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "change.h"
#include "log.h"

#define BATCH 256

struct batch {
    size_t n;
    int64_t now;
    uint8_t ids[BATCH][HASH_LEN];  /* chunk hashes, or session ids */
};

static int collect_expired(void *arg, const struct ms_upload *u)
{
    struct batch *b = arg;
    if (u->expires > b->now)
        return 0;
    memcpy(b->ids[b->n++], u->id, 16);
    return b->n == BATCH;
}

static int expire_sessions(struct dbxd *d, struct batch *b, struct gc_stats *st)
{
    struct change c;
    int rc = change_begin(d, &c);
    for (size_t i = 0; rc == 0 && i < b->n; i++) {
        struct ms_upload u;
        if (ms_upload_get(c.t, b->ids[i], &u) != 0)
            continue;
        if (u.state == UPLOAD_OPEN)
            rc = change_chunk_pins(&c, u.chunks, u.nchunks, -1);
        if (rc == 0 && (rc = ms_upload_del(c.t, u.id)) == 0)
            st->sessions++;
        ms_upload_release(&u);
    }
    if (rc == 0)
        return change_commit(&c);
    change_abort(&c);
    return rc;
}

static int collect_queued(void *arg, const uint8_t hash[HASH_LEN])
{
    struct batch *b = arg;
    memcpy(b->ids[b->n++], hash, HASH_LEN);
    return b->n == BATCH;
}

static int sweep_chunk(struct dbxd *d, ms_txn *t, const uint8_t hash[HASH_LEN], int64_t cutoff,
                       struct gc_stats *st)
{
    struct ms_chunkrec rec;
    int rc = ms_chunk_get(t, hash, &rec);
    if (rc == MS_NOTFOUND || (rc == 0 && (rec.refs || rec.pins)))
        return ms_gcq_del(t, hash);  /* in use again: off the queue */
    if (rc || rec.touched > cutoff)
        return rc;                   /* too young: stays queued */
    if (chunkstore_remove(d->cs, hash) != 0)
        return MS_IO;
    /* a record may be only a pin of a chunk that never arrived */
    if ((rc = ms_chunk_del(t, hash)) == 0 && (rc = ms_gcq_del(t, hash)) == 0 &&
        (rc = ms_holds_drop(t, hash)) == 0 && rec.present) {
        st->chunks++;
        st->bytes += rec.raw_size;
    }
    return rc;
}

/* One batch of the queue after `after` (NULL: from the start). */
static int sweep_batch(struct dbxd *d, int64_t cutoff, struct gc_stats *st, const uint8_t *after,
                       struct batch *b)
{
    ms_txn *t;
    b->n = 0;
    int rc = ms_txn_begin(d->ms, 1, &t);
    if (rc)
        return rc;
    if ((rc = ms_gcq_scan(t, after, collect_queued, b)) > 0)
        rc = 0;  /* stopped at a full batch */
    for (size_t i = 0; rc == 0 && i < b->n; i++)
        rc = sweep_chunk(d, t, b->ids[i], cutoff, st);
    if (rc == 0)
        return ms_txn_commit(t);
    ms_txn_abort(t);
    return rc;
}

static int sweep_chunks(struct dbxd *d, int64_t cutoff, struct gc_stats *st, struct batch *b)
{
    uint8_t last[HASH_LEN];
    int rc, started = 0;
    do {
        if ((rc = sweep_batch(d, cutoff, st, started ? last : NULL, b)) != 0 || b->n == 0)
            return rc;
        memcpy(last, b->ids[b->n - 1], HASH_LEN);
        started = 1;
    } while (b->n == BATCH);
    return 0;
}

static int expire_all_sessions(struct dbxd *d, struct batch *b, struct gc_stats *st)
{
    int rc;
    do {
        ms_txn *t;
        b->n = 0;
        if ((rc = ms_txn_begin(d->ms, 0, &t)) != 0)
            return rc;
        rc = ms_upload_scan(t, collect_expired, b);
        ms_txn_abort(t);
        if (rc < 0 || (rc = expire_sessions(d, b, st)) != 0)
            return rc;
    } while (b->n == BATCH);
    return 0;
}

int gc_run(struct dbxd *d, int64_t grace, struct gc_stats *st)
{
    struct batch *b = malloc(sizeof *b);
    int rc;
    memset(st, 0, sizeof *st);
    if (!b)
        return MS_IO;
    b->now = (int64_t)time(NULL);
    if ((rc = expire_all_sessions(d, b, st)) == 0)
        rc = sweep_chunks(d, b->now - grace, st, b);
    free(b);
    if (st->chunks || st->sessions)
        log_info("gc: removed %llu chunks (%llu bytes) and %llu expired upload sessions",
                 (unsigned long long)st->chunks, (unsigned long long)st->bytes,
                 (unsigned long long)st->sessions);
    return rc;
}

static void *gc_main(void *arg)
{
    struct dbxd *d = arg;
    struct gc_stats st;
    pthread_mutex_lock(&d->stop_lock);
    while (!d->stopping) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += d->cfg.gc_interval;
        pthread_cond_timedwait(&d->stop_cond, &d->stop_lock, &until);
        if (d->stopping)
            break;
        pthread_mutex_unlock(&d->stop_lock);
        if (gc_run(d, d->cfg.gc_grace, &st) != 0)
            log_warn("gc: a pass failed; it will be tried again");
        pthread_mutex_lock(&d->stop_lock);
    }
    pthread_mutex_unlock(&d->stop_lock);
    return NULL;
}

int gc_thread_start(struct dbxd *d)
{
    if (pthread_create(&d->gc_thread, NULL, gc_main, d) != 0)
        return -1;
    d->gc_running = 1;
    return 0;
}

void gc_thread_stop(struct dbxd *d)
{
    pthread_mutex_lock(&d->stop_lock);
    d->stopping = 1;
    pthread_cond_broadcast(&d->stop_cond);
    pthread_mutex_unlock(&d->stop_lock);
    if (d->gc_running)
        pthread_join(d->gc_thread, NULL);
    d->gc_running = 0;
}
