/* transfer_int.h: what the transfer*.c files share; nothing else includes
 * it (the API is transfer.h). The parts:
 *
 *   transfer.c           the object; failures, API calls with retries
 *   transfer_scan.c      the upload's first pass: chunker + SHA-256
 *   transfer_job.c       the engine: chunk requests on worker threads, with
 *                        retries and signed-URL refreshes
 *   transfer_upload.c    session, PUT of the missing chunks, commit
 *
 * Ownership: a transfer owns its HTTP handles and zstd encoders, kept across
 * calls; during a job, slot w of each belongs to worker w alone. A job lives
 * for one upload call and owns its items; the upload owns the per-worker
 * state it hangs on transfer_worker.priv. */
#ifndef DBX_TRANSFER_INT_H
#define DBX_TRANSFER_INT_H

#include <pthread.h>

#include "transfer.h"
#include "zframe.h"

#define TRANSFER_MAX_PARALLEL 64

struct transfer {
    httpc_pool *pool;
    transfer_opts o;
    httpc *h[TRANSFER_MAX_PARALLEL];     /* h[0] is the calling thread's */
    zframe_enc *enc[TRANSFER_MAX_PARALLEL];
};

/* One chunk request: a PUT. */
struct transfer_item {
    uint8_t hash[32];
    uint64_t offset;
    uint32_t size;
    char *url;                 /* under job.mu: a refresh replaces it */
    int done;                  /* under job.mu */
};

struct transfer_job;

/* A worker thread's view of the job. */
struct transfer_worker {
    struct transfer_job *j;
    int index;                 /* into t->h and t->enc */
    httpc *h;
    void *priv;                /* the upload's state; NULL at the start */
};

/* The upload's verdict on an attempt. */
enum transfer_verdict {
    TRANSFER_V_DONE,           /* the item is done */
    TRANSFER_V_RULES,          /* the engine's rules decide: refresh an
                                * expired URL, back off and retry a
                                * transport error or 5xx, or fail */
};

/* What the upload does to each item (transfer_upload.c); the engine does
 * the rest. */
struct transfer_ops {
    const char *what;          /* "PUT chunk": for messages */
    /* Before an item's first attempt. 0, or -1 with the failure recorded. */
    int (*prepare)(struct transfer_worker *w, const struct transfer_item *it);
    /* One request for the item prepared last, as httpc returns it; *wire:
     * body bytes on the wire. */
    int (*attempt)(struct transfer_worker *w, const char *url, long *status,
                   cJSON **reply, uint64_t *wire);
    enum transfer_verdict (*judge)(struct transfer_worker *w, int rc,
                                   long status);
    void (*worker_end)(void *priv);    /* frees a worker's state */
    /* Fresh URLs for the items not done, asked through h; called by one
     * worker at a time. 0, or -1 with the failure recorded. */
    int (*refresh)(struct transfer_job *j, httpc *h);
};

/* One upload call. */
struct transfer_job {
    transfer *t;
    transfer_result *res;      /* under mu: workers record failures */
    int fd;
    const struct transfer_ops *ops;
    void *ctx;                 /* the upload's, for refresh */
    /* Guards the items' url and done, next, failed, url_gen, refreshes,
     * pr and *res. A leaf lock: nothing is called while it is held but
     * the progress callback. */
    pthread_mutex_t mu;
    pthread_mutex_t refresh_mu;        /* one refresh at a time */
    struct transfer_item *items;       /* in file order */
    size_t n, next;
    int failed;
    unsigned url_gen;                  /* bumped by each refresh */
    int refreshes;                     /* in a row without an item done */
    transfer_progress pr;              /* of the phase the job runs */
};

/* ---- transfer.c ---------------------------------------------------------- */

double transfer_now(void);

/* Records the failure of j's call; the first one recorded is the one told.
 * Takes j->mu. */
void transfer_fail(struct transfer_job *j, long status, const char *code,
                   const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Records an API error answer (status, code, message) as the failure. */
void transfer_fail_answer(struct transfer_job *j, const char *what,
                          long status, const cJSON *reply);
void transfer_count_retry(struct transfer_job *j);

/* An API call through h, retried on transport errors and 5xx. Returns the
 * HTTP status, or -1 (transport failure, recorded). */
long transfer_api(struct transfer_job *j, httpc *h, const char *method,
                  const char *path, const cJSON *body, cJSON **reply,
                  const char *what);
/* The same, and a status other than 200 or 201 is a failure too: 0 or
 * -1. */
int transfer_api_ok(struct transfer_job *j, httpc *h, const char *method,
                    const char *path, const cJSON *body, cJSON **reply,
                    const char *what);

/* Calls the progress callback with one finished phase. */
void transfer_progress_phase(transfer *t, enum transfer_phase ph,
                             uint64_t bytes, uint64_t chunks);

const char *transfer_json_str(const cJSON *o, const char *k);
int transfer_valid_id(const char *id);

/* ---- transfer_job.c ------------------------------------------------------ */

/* res is cleared; ctx is the upload's (ops->refresh gets it). */
void transfer_job_init(struct transfer_job *j, transfer *t,
                       transfer_result *res, int fd,
                       const struct transfer_ops *ops, void *ctx);
void transfer_job_destroy(struct transfer_job *j);
/* Frees the items (the job may be given new ones). */
void transfer_job_clear_items(struct transfer_job *j);

/* Runs every item not done with up to `parallel` requests in flight, the
 * calling thread being worker 0. j->pr must hold the phase and its totals.
 * 0 when every item is done. */
int transfer_job_run(struct transfer_job *j);
/* Gives it a new URL (a copy); -1 on no memory. */
int transfer_job_set_url(struct transfer_job *j, struct transfer_item *it,
                         const char *url);

#endif
