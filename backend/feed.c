#include "feed.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#define BUCKETS 1024

struct feed {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    int shutdown;
    uint64_t counters[BUCKETS];
};

feed *feed_new(void)
{
    feed *f = calloc(1, sizeof *f);
    pthread_condattr_t attr;
    if (!f)
        return NULL;
    pthread_mutex_init(&f->lock, NULL);
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&f->changed, &attr);
    pthread_condattr_destroy(&attr);
    return f;
}

void feed_free(feed *f)
{
    if (!f)
        return;
    pthread_cond_destroy(&f->changed);
    pthread_mutex_destroy(&f->lock);
    free(f);
}

int64_t feed_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint64_t feed_counter(feed *f, uint32_t uid)
{
    pthread_mutex_lock(&f->lock);
    uint64_t v = f->counters[uid % BUCKETS];
    pthread_mutex_unlock(&f->lock);
    return v;
}

int feed_wait(feed *f, uint32_t uid, uint64_t seen, int64_t deadline_ms)
{
    struct timespec until = {deadline_ms / 1000, (deadline_ms % 1000) * 1000000};
    int woken = 0;
    pthread_mutex_lock(&f->lock);
    while (!f->shutdown && !(woken = f->counters[uid % BUCKETS] != seen))
        if (pthread_cond_timedwait(&f->changed, &f->lock, &until) != 0)
            break;
    int stopping = f->shutdown;
    pthread_mutex_unlock(&f->lock);
    return stopping ? -1 : woken;
}

void feed_notify(feed *f, const uint32_t *uids, size_t n)
{
    if (n == 0)
        return;
    pthread_mutex_lock(&f->lock);
    for (size_t i = 0; i < n; i++)
        f->counters[uids[i] % BUCKETS]++;
    pthread_cond_broadcast(&f->changed);
    pthread_mutex_unlock(&f->lock);
}

void feed_notify_all(feed *f)
{
    pthread_mutex_lock(&f->lock);
    for (size_t i = 0; i < BUCKETS; i++)
        f->counters[i]++;
    pthread_cond_broadcast(&f->changed);
    pthread_mutex_unlock(&f->lock);
}

void feed_shutdown(feed *f)
{
    pthread_mutex_lock(&f->lock);
    f->shutdown = 1;
    pthread_cond_broadcast(&f->changed);
    pthread_mutex_unlock(&f->lock);
}
