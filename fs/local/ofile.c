/* ofile: see ofile.h. */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "ofile.h"

#define OFILE_BUCKETS 1024

struct ofile_table {
    pthread_mutex_t mu;
    struct ofile *bucket[OFILE_BUCKETS];
};

int ofile_table_new(struct ofile_table **out)
{
    struct ofile_table *t = calloc(1, sizeof(*t));

    if (!t)
        return -ENOMEM;
    pthread_mutex_init(&t->mu, NULL);
    *out = t;
    return 0;
}

void ofile_table_free(struct ofile_table *t)
{
    if (!t)
        return;
    for (int i = 0; i < OFILE_BUCKETS; i++)
        while (t->bucket[i]) {
            struct ofile *of = t->bucket[i];
            t->bucket[i] = of->next;
            ofile_free(of);
        }
    pthread_mutex_destroy(&t->mu);
    free(t);
}

static struct ofile **slot(struct ofile_table *t, uint64_t id)
{
    struct ofile **p = &t->bucket[(id ^ id >> 32) % OFILE_BUCKETS];
    while (*p && (*p)->id != id)
        p = &(*p)->next;
    return p;
}

struct ofile *ofile_acquire(struct ofile_table *t, uint64_t id)
{
    struct ofile **p, *of;

    pthread_mutex_lock(&t->mu);
    p = slot(t, id);
    of = *p;
    if (!of && (of = calloc(1, sizeof(*of)))) {
        of->id = id;
        of->fd = -1;
        pthread_mutex_init(&of->mu, NULL);
        pthread_mutex_init(&of->copy_mu, NULL);
        *p = of;
    }
    if (of)
        of->refs++;
    pthread_mutex_unlock(&t->mu);
    return of;
}

int ofile_release(struct ofile_table *t, struct ofile *of)
{
    int last;

    pthread_mutex_lock(&t->mu);
    last = --of->refs == 0;
    if (last)
        *slot(t, of->id) = of->next;
    pthread_mutex_unlock(&t->mu);
    return last;
}

void ofile_free(struct ofile *of)
{
    if (of->fd >= 0)
        close(of->fd);
    for (int i = 0; i < of->nretired; i++)
        close(of->retired[i]);
    pthread_mutex_destroy(&of->mu);
    pthread_mutex_destroy(&of->copy_mu);
    free(of);
}

/* Runs fn on the open file of id under its lock; 0 if it is not open. */
static int with_open(struct ofile_table *t, uint64_t id,
                     int (*fn)(struct ofile *of, void *arg), void *arg)
{
    struct ofile *of;
    int rc = 0;

    pthread_mutex_lock(&t->mu);
    of = *slot(t, id);
    if (of) {
        pthread_mutex_lock(&of->mu);
        rc = fn(of, arg);
        pthread_mutex_unlock(&of->mu);
    }
    pthread_mutex_unlock(&t->mu);
    return rc;
}

struct attr_arg {
    uint64_t *size;
    struct wire_time *mtime;
};

static int get_attr(struct ofile *of, void *arg)
{
    struct attr_arg *a = arg;
    if (of->fd < 0)
        return 0;
    *a->size = of->size;
    *a->mtime = of->mtime;
    return 1;
}

int ofile_attr(struct ofile_table *t, uint64_t id, uint64_t *size,
               struct wire_time *mtime)
{
    struct attr_arg a = { size, mtime };
    return with_open(t, id, get_attr, &a);
}

static int yes(struct ofile *of, void *arg)
{
    return 1;
}

int ofile_is_open(struct ofile_table *t, uint64_t id)
{
    return with_open(t, id, yes, NULL);
}

static int drop_copy(struct ofile *of, void *arg)
{
    /* A copy being written, or held by a writer, stays; one still being
     * made (fd -1) is made again from the new content (file.c). */
    if (of->fd >= 0 && (of->written || of->writers > 0 || of->nretired == 8)) {
        of->remote_changed = 1;
        return 0;
    }
    if (of->fd >= 0)
        of->retired[of->nretired++] = of->fd;
    of->fd = -1;
    of->drops++;
    return 1;
}

int ofile_drop_copy(struct ofile_table *t, uint64_t id,
                    void (*drop)(void *arg), void *arg)
{
    struct ofile *of;
    int rc = 1;

    pthread_mutex_lock(&t->mu);
    of = *slot(t, id);
    if (of) {
        pthread_mutex_lock(&of->mu);
        rc = drop_copy(of, NULL);
        pthread_mutex_unlock(&of->mu);
    }
    if (rc)
        drop(arg);
    pthread_mutex_unlock(&t->mu);
    return rc;
}

int ofile_evict_copy(struct ofile_table *t, uint64_t id,
                     void (*drop)(void *arg), void *arg)
{
    int closed;

    pthread_mutex_lock(&t->mu);
    closed = *slot(t, id) == NULL;
    if (closed)
        drop(arg);
    pthread_mutex_unlock(&t->mu);
    return closed;
}

static int writing(struct ofile *of, void *arg)
{
    return of->marked || of->written;
}

int ofile_writing(struct ofile_table *t, uint64_t id)
{
    return with_open(t, id, writing, NULL);
}

void ofile_writer(struct ofile *of, int delta)
{
    pthread_mutex_lock(&of->mu);
    of->writers += delta;
    pthread_mutex_unlock(&of->mu);
}

static int set_mtime(struct ofile *of, void *arg)
{
    of->mtime = *(struct wire_time *)arg;
    return 1;
}

void ofile_set_mtime(struct ofile_table *t, uint64_t id, struct wire_time mtime)
{
    with_open(t, id, set_mtime, &mtime);
}

int ofile_fd(struct ofile *of)
{
    int fd;

    pthread_mutex_lock(&of->mu);
    fd = of->fd;
    pthread_mutex_unlock(&of->mu);
    return fd;
}
