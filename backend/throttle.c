#include "throttle.h"

#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SLOTS 4096
#define WINDOW 60

struct slot {
    int64_t window;    /* start of the minute the count is for */
    unsigned failures;
};

struct throttle {
    pthread_mutex_t lock;
    unsigned limit;
    struct slot slots[SLOTS];
};

throttle *throttle_new(unsigned per_minute)
{
    throttle *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    pthread_mutex_init(&t->lock, NULL);
    t->limit = per_minute;
    return t;
}

void throttle_free(throttle *t)
{
    if (!t)
        return;
    pthread_mutex_destroy(&t->lock);
    free(t);
}

/* FNV-1a over the address bytes (not the port). */
static struct slot *slot_of(throttle *t, const struct sockaddr *addr)
{
    const uint8_t *p = NULL;
    size_t len = 0;
    uint32_t h = 2166136261u;
    if (addr && addr->sa_family == AF_INET) {
        p = (const uint8_t *)&((const struct sockaddr_in *)addr)->sin_addr;
        len = 4;
    } else if (addr && addr->sa_family == AF_INET6) {
        p = (const uint8_t *)&((const struct sockaddr_in6 *)addr)->sin6_addr;
        len = 16;
    }
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 16777619u;
    return &t->slots[h % SLOTS];
}

static void roll(struct slot *s, int64_t now)
{
    if (now - s->window >= WINDOW) {
        s->window = now;
        s->failures = 0;
    }
}

int throttle_allow(throttle *t, const struct sockaddr *addr)
{
    int64_t now = (int64_t)time(NULL);
    pthread_mutex_lock(&t->lock);
    struct slot *s = slot_of(t, addr);
    roll(s, now);
    int ok = s->failures < t->limit;
    pthread_mutex_unlock(&t->lock);
    return ok;
}

void throttle_failed(throttle *t, const struct sockaddr *addr)
{
    int64_t now = (int64_t)time(NULL);
    pthread_mutex_lock(&t->lock);
    struct slot *s = slot_of(t, addr);
    roll(s, now);
    s->failures++;
    pthread_mutex_unlock(&t->lock);
}
