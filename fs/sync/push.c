/* push: see push.h. One thread replays the journal in order (a rename
 * must follow the create it renames); upload threads send dirty files
 * meanwhile, each once its node exists on the server. A failure that may
 * pass (no answer, 5xx, 429) is retried with backoff and never drops work;
 * a refusal is settled by push_resolve.c (rebased, made a conflicted copy,
 * dropped as moot, or parked with its reason). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "apply.h"
#include "conn.h"
#include "dbxfs.h"
#include "log.h"
#include "push.h"
#include "push_int.h"

#define PUSH_NICE 10
#define PUSH_QUIET_MS 20
#define PUSH_DEFER_MS 5000

/* Sleeps up to `seconds`; new work cuts the sleep short unless the wait is
 * a backoff after a failure (then every new operation would retry at once
 * against a server that is away). */
static void wait_for_work(struct push *p, double seconds, int wakeable,
                          uint64_t *seen)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += (time_t)seconds;
    ts.tv_nsec += (long)((seconds - (double)(time_t)seconds) * 1e9);
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&p->mu);
    while (!atomic_load(&p->stop) && (!wakeable || p->wake_gen == *seen))
        if (pthread_cond_timedwait(&p->cv, &p->mu, &ts) == ETIMEDOUT)
            break;
    *seen = p->wake_gen;
    pthread_mutex_unlock(&p->mu);
}

static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void push_wake(struct dbxfs *fs)
{
    struct push *p = fs->push;
    long long now = now_ms();

    if (!p)
        return;
    if (now - atomic_load(&p->last_local) >= PUSH_QUIET_MS)
        atomic_store(&p->busy_since, now);
    atomic_store(&p->last_local, now);
    push_signal(p);
}

/* A burst of local changes (tar, git checkout, a build) runs first: the
 * push starts once the mount has been quiet for PUSH_QUIET_MS, or after
 * PUSH_DEFER_MS of a burst that does not end, so that uploading never
 * competes with the burst for the CPU longer than that. A single save
 * waits PUSH_QUIET_MS. */
static void wait_for_quiet(struct push *p)
{
    while (!atomic_load(&p->stop) && !atomic_load(&p->urgent)) {
        long long now = now_ms(), last = atomic_load(&p->last_local);
        if (now - last >= PUSH_QUIET_MS ||
            now - atomic_load(&p->busy_since) >= PUSH_DEFER_MS)
            return;
        usleep((useconds_t)(PUSH_QUIET_MS - (now - last)) * 1000);
    }
}

static double backoff(int failures)
{
    double s = 0.2;
    for (int i = 0; i < failures && s < 5; i++)
        s *= 2;
    return s > 5 ? 5 : s;
}

/* Background work yields the CPU to the programs using the mount: on a
 * busy machine they go first and the push catches up once they pause
 * (Linux nice is per thread). */
static void background(void)
{
    setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), PUSH_NICE);
}

/* The loop of every push thread: a step (0: done one, go on; -ENOENT:
 * nothing to do; other -errno: failed, worth retrying later) until the
 * mount stops. */
static void work_loop(struct push *p, int (*step)(struct push *p, void *arg), void *arg)
{
    uint64_t seen = 0;
    int failures = 0;

    background();
    while (!atomic_load(&p->stop)) {
        wait_for_quiet(p);
        int rc = step(p, arg);
        if (rc == -ENOENT) {
            failures = 0;
            wait_for_work(p, 5, 1, &seen);
        } else if (rc) {
            wait_for_work(p, backoff(failures++), 0, &seen);
        } else {
            failures = 0;
        }
    }
}

static int journal_step(struct push *p, void *arg)
{
    int rc = push_journal_step(p);

    (void)arg;
    /* Answers may let nodes waiting in the resync set go. */
    apply_sweep(p->fs, now_ms());
    if (rc)
        return rc;
    push_signal(p);                 /* creates may unblock uploads */
    return 0;
}

static int upload_step(struct push *p, void *slot)
{
    return push_upload_step(p, slot);
}

static void *journal_thread(void *arg)
{
    work_loop(arg, journal_step, NULL);
    return NULL;
}

static void *upload_thread(void *arg)
{
    struct upload_slot *slot = arg;

    work_loop(slot->push, upload_step, slot);
    return NULL;
}

int push_start(struct dbxfs *fs)
{
    struct push *p = calloc(1, sizeof(*p));

    if (!p)
        return -ENOMEM;
    p->fs = fs;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    p->h = httpc_new(fs->pool);
    if (!p->h) {
        free(p);
        return -ENOMEM;
    }
    httpc_set_timeout(p->h, 60000);
    httpc_set_cancel(p->h, &p->stop);
    fs->push = p;
    if (pthread_create(&p->journal, NULL, journal_thread, p))
        return -EAGAIN;
    p->started = 1;
    for (int i = 0; i < PUSH_UPLOADERS; i++) {
        p->slots[i].push = p;
        p->slots[i].max_size = i < PUSH_ANY_SLOTS ? 0 : PUSH_SMALL_MAX;
        transfer_opts o = { .progress = push_upload_progress,
                            .progress_arg = &p->slots[i] };
        p->slots[i].t = transfer_new(fs->pool, &o);
        if (p->slots[i].t &&
            pthread_create(&p->slots[i].thread, NULL, upload_thread, &p->slots[i]) == 0)
            p->slots[i].started = 1;
    }
    return 0;
}

void push_stop(struct dbxfs *fs)
{
    struct push *p = fs->push;

    if (!p)
        return;
    atomic_store(&p->stop, 1);
    push_signal(p);
    if (p->started)
        pthread_join(p->journal, NULL);
    for (int i = 0; i < PUSH_UPLOADERS; i++) {
        if (p->slots[i].started)
            pthread_join(p->slots[i].thread, NULL);
        transfer_free(p->slots[i].t);
    }
    httpc_free(p->h);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p);
    fs->push = NULL;
}

static void add_problem(cJSON *list, uint64_t id, const char *what, const char *name,
                        const char *why, time_t until)
{
    cJSON *j = cJSON_CreateObject();

    if (!j || !cJSON_AddItemToArray(list, j)) {
        cJSON_Delete(j);
        return;
    }
    wire_add_id(j, "id", id);
    cJSON_AddStringToObject(j, "op", what);
    cJSON_AddStringToObject(j, "name", name);
    cJSON_AddStringToObject(j, "why", why);
    cJSON_AddNumberToObject(j, "retry_in", until > time(NULL) ? (double)(until - time(NULL)) : 0);
}

/* What dbxd would not take and waits to be tried again ("parked", with the
 * reasons in "problems"); called with p->mu held. */
static void status_held(struct push *p, cJSON *obj)
{
    cJSON *list = cJSON_AddArrayToObject(obj, "problems");
    time_t now = time(NULL);
    int uploads = 0;

    for (int i = 0; list && i < p->nheld; i++)
        add_problem(list, p->held[i].id, p->held[i].kind, p->held[i].name, p->held[i].why,
                    p->held[i].until);
    for (int i = 0; i < p->nparked; i++) {
        if (p->parked[i].until <= now)
            continue;
        uploads++;
        if (list)
            add_problem(list, p->parked[i].id, "upload", p->parked[i].name, p->parked[i].why,
                        p->parked[i].until);
    }
    cJSON_AddNumberToObject(obj, "parked", p->held_total + uploads);
    cJSON_AddNumberToObject(obj, "held_back", p->held_behind);
}

void push_status(struct dbxfs *fs, cJSON *obj)
{
    struct push *p = fs->push;
    cJSON *list = cJSON_AddArrayToObject(obj, "uploads");
    int n = 0;

    if (!p || !list)
        return;
    pthread_mutex_lock(&p->mu);
    for (int i = 0; i < PUSH_UPLOADERS; i++) {
        struct upload_slot *s = &p->slots[i];
        cJSON *u;
        if (!s->id || !(u = cJSON_CreateObject()))
            continue;
        n++;
        wire_add_id(u, "id", s->id);
        cJSON_AddStringToObject(u, "name", s->name);
        cJSON_AddNumberToObject(u, "phase", s->progress.phase);
        cJSON_AddNumberToObject(u, "bytes_done", (double)s->progress.bytes_done);
        cJSON_AddNumberToObject(u, "bytes_total", (double)s->progress.bytes_total);
        cJSON_AddNumberToObject(u, "chunks_done", (double)s->progress.chunks_done);
        cJSON_AddNumberToObject(u, "chunks_total", (double)s->progress.chunks_total);
        cJSON_AddNumberToObject(u, "started", (double)s->started_at);
        cJSON_AddItemToArray(list, u);
    }
    cJSON_AddNumberToObject(obj, "uploading", n);
    status_held(p, obj);
    pthread_mutex_unlock(&p->mu);
}

int push_wait_clean(struct dbxfs *fs, uint64_t id, int timeout_sec)
{
    int rc = -ETIMEDOUT;

    atomic_fetch_add(&fs->push->urgent, 1);
    for (int i = 0; i < timeout_sec * 20; i++) {
        metadb_txn *t;
        uint64_t gen;
        if ((rc = metadb_begin(fs->db, 0, &t)))
            break;
        rc = metadb_dirty_get(t, id, &gen);
        metadb_abort(t);
        if (rc == -ENOENT) {
            rc = 0;
            break;
        }
        rc = -ETIMEDOUT;
        usleep(50000);
    }
    atomic_fetch_sub(&fs->push->urgent, 1);
    return rc;
}
