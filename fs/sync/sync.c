/* sync: see sync.h. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "apply.h"
#include "dbxfs.h"
#include "evict.h"
#include "fetch.h"
#include "pull.h"
#include "push.h"
#include "sync.h"

/* The store is written without flushes; this is its periodic commit to
 * disk (ext4 does the same every 5 s). The cache's cap is checked on the
 * same tick. */
#define SYNC_TICK_SEC 5

struct housekeeping {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;
};

static void *housekeeping_thread(void *arg)
{
    struct dbxfs *fs = arg;
    struct housekeeping *h = fs->housekeeping;
    struct timespec ts;

    pthread_mutex_lock(&h->mu);
    while (!h->stop) {
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += SYNC_TICK_SEC;
        if (pthread_cond_timedwait(&h->cv, &h->mu, &ts) != ETIMEDOUT)
            continue;
        pthread_mutex_unlock(&h->mu);
        metadb_sync(fs->db);
        evict_copies(fs);
        pthread_mutex_lock(&h->mu);
    }
    pthread_mutex_unlock(&h->mu);
    return NULL;
}

static int housekeeping_start(struct dbxfs *fs)
{
    struct housekeeping *h = calloc(1, sizeof(*h));

    if (!h)
        return -ENOMEM;
    pthread_mutex_init(&h->mu, NULL);
    pthread_cond_init(&h->cv, NULL);
    fs->housekeeping = h;
    if (pthread_create(&h->thread, NULL, housekeeping_thread, fs) == 0)
        return 0;
    fs->housekeeping = NULL;
    pthread_cond_destroy(&h->cv);
    pthread_mutex_destroy(&h->mu);
    free(h);
    return -EAGAIN;
}

static void housekeeping_stop(struct dbxfs *fs)
{
    struct housekeeping *h = fs->housekeeping;

    if (!h)
        return;
    pthread_mutex_lock(&h->mu);
    h->stop = 1;
    pthread_cond_signal(&h->cv);
    pthread_mutex_unlock(&h->mu);
    pthread_join(h->thread, NULL);
    pthread_cond_destroy(&h->cv);
    pthread_mutex_destroy(&h->mu);
    free(h);
    fs->housekeeping = NULL;
}

int sync_start(struct dbxfs *fs)
{
    int rc;

    fs->hooks.changed = push_wake;
    fs->hooks.fetch_copy = fetch_copy;
    fs->hooks.refresh = pull_node_now;
    if ((rc = fetch_start(fs)) || (rc = push_start(fs)) || (rc = pull_start(fs)))
        return rc;
    return housekeeping_start(fs);
}

void sync_stop(struct dbxfs *fs)
{
    housekeeping_stop(fs);
    pull_stop(fs);
    push_stop(fs);
    fetch_stop(fs);
    apply_notes_drain(fs);
}
