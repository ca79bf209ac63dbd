/* push_int.h: what push.c (threads), push_journal.c and push_upload.c
 * share. */
#ifndef DBXFS_PUSH_INT_H
#define DBXFS_PUSH_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "dbxfs.h"
#include "transfer.h"

/* Upload slots, one thread each. Any slot takes any file; the small-file
 * slots only take files up to PUSH_SMALL_MAX, so that many small files
 * upload side by side (each costs three round trips: open, chunk, commit)
 * without as many large uploads holding their chunk buffers at once. */
#define PUSH_ANY_SLOTS 2
#define PUSH_SMALL_SLOTS 14
#define PUSH_UPLOADERS (PUSH_ANY_SLOTS + PUSH_SMALL_SLOTS)
#define PUSH_SMALL_MAX (1u << 20)

struct push;

struct upload_slot {
    struct push *push;
    pthread_t thread;
    int started;
    transfer *t;
    uint64_t max_size;           /* 0: any file; else files up to this size */
    /* What it uploads now (guarded by push->mu; id 0: idle). */
    uint64_t id;
    char name[256];
    transfer_progress progress;
    time_t started_at;
};

/* An upload dbxd refused in a way no retry mends soon (rights, space, an
 * answer not understood): skipped until `until`, and shown in the status. */
#define PUSH_PARKED_MAX 64

struct upload_park {
    uint64_t id;
    time_t until;
    unsigned times;
    char name[256];
    char why[200];
};

/* A journal operation set aside, as the last scan of the journal saw it. */
#define PUSH_SHOWN_MAX 16

struct held_op {
    uint64_t id;
    time_t until;
    char kind[8];
    char name[256];
    char why[300];
};

struct push {
    struct dbxfs *fs;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint64_t wake_gen;           /* bumped by push_signal; each thread keeps the last seen */
    atomic_llong last_local;     /* ms: the last local change (push_wake) */
    atomic_llong busy_since;     /* ms: when the current burst of them began */
    atomic_int urgent;           /* someone waits for the server (fsync_server) */
    atomic_int stop;
    pthread_t journal;
    int started;
    httpc *h;                    /* the journal thread's */
    int no_batch;                /* dbxd has no POST /v1/batch (older server) */
    struct upload_slot slots[PUSH_UPLOADERS];
    struct upload_park parked[PUSH_PARKED_MAX];   /* guarded by mu */
    int nparked;
    /* The journal's parked operations and those held back behind them,
     * from the last scan (guarded by mu). */
    struct held_op held[PUSH_SHOWN_MAX];
    int nheld, held_total, held_behind;
};

/* One journal entry as push_journal.c loaded it. */
struct push_op {
    uint64_t seq, id;
    char *text;
    cJSON *json;
    const char *kind;            /* "create", "patch" or "delete" */
    cJSON *body;                 /* inside json; NULL when the request has none */
};

void push_op_free(struct push_op *o);
/* Settles dbxd's answer to o (push_resolve.c): 0 when the journal may go
 * on at once, -EAGAIN when it should wait (backoff), or -errno. */
int push_settle(struct push *p, struct push_op *o, long status, const cJSON *reply);
/* Drops o unsent (an entry that cannot be read). */
int push_drop(struct push *p, struct push_op *o);

/* Wakes the push threads (for work they made themselves). */
static inline void push_signal(struct push *p)
{
    pthread_mutex_lock(&p->mu);
    p->wake_gen++;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}
/* The oldest journal operations sent, up to PUSH_BATCH in one request (0),
 * nothing to send (-ENOENT), or a failure worth retrying later (other
 * -errno). */
int push_journal_step(struct push *p);
/* One dirty file uploaded, or -ENOENT when none is ready. */
int push_upload_step(struct push *p, struct upload_slot *slot);
/* Sets n's upload aside after res (push_upload.c). */
void push_upload_park(struct push *p, const struct cnode *n, const transfer_result *res);
/* 1 while id's upload is set aside; called with push->mu held. */
int push_upload_parked(struct push *p, uint64_t id);
/* transfer's progress callback; arg is the upload_slot. */
void push_upload_progress(void *arg, const transfer_progress *pr);

#endif
