/* transfer_job: the engine that runs a call's chunk requests, `parallel` at
 * a time, on worker threads that each keep their own keep-alive connection
 * (measured faster than one thread driving a curl multi handle). A worker
 * takes the next item in file order and makes attempts until it is done:
 * the upload (transfer_ops) prepares and judges each attempt, the engine
 * retries with backoff and refreshes expired signed URLs. */
#include "transfer_int.h"

#include <stdlib.h>
#include <string.h>

#define REFRESH_MAX 3          /* URL refreshes in a row without progress */

enum step { STEP_DONE, STEP_BACKOFF, STEP_REFRESH, STEP_FAIL };

void transfer_job_init(struct transfer_job *j, transfer *t,
                       transfer_result *res, int fd,
                       const struct transfer_ops *ops, void *ctx)
{
    memset(res, 0, sizeof *res);
    memset(j, 0, sizeof *j);
    j->t = t;
    j->res = res;
    j->fd = fd;
    j->ops = ops;
    j->ctx = ctx;
    pthread_mutex_init(&j->mu, NULL);
    pthread_mutex_init(&j->refresh_mu, NULL);
}

void transfer_job_clear_items(struct transfer_job *j)
{
    size_t i;
    for (i = 0; i < j->n; i++)
        free(j->items[i].url);
    free(j->items);
    j->items = NULL;
    j->n = 0;
}

void transfer_job_destroy(struct transfer_job *j)
{
    transfer_job_clear_items(j);
    pthread_mutex_destroy(&j->mu);
    pthread_mutex_destroy(&j->refresh_mu);
}

int transfer_job_set_url(struct transfer_job *j, struct transfer_item *it,
                         const char *url)
{
    char *u = strdup(url);
    if (!u)
        return -1;
    pthread_mutex_lock(&j->mu);
    free(it->url);
    it->url = u;
    pthread_mutex_unlock(&j->mu);
    return 0;
}

/* The item's current URL (a copy) and the refresh generation it is of. */
static char *item_url(struct transfer_job *j, const struct transfer_item *it,
                      unsigned *gen)
{
    char *url;
    pthread_mutex_lock(&j->mu);
    url = it->url ? strdup(it->url) : NULL;
    *gen = j->url_gen;
    pthread_mutex_unlock(&j->mu);
    if (!url)
        transfer_fail(j, 0, "", "no URL for a chunk (or no memory)");
    return url;
}

static void item_done(struct transfer_job *j, struct transfer_item *it,
                      uint64_t wire)
{
    transfer *t = j->t;

    pthread_mutex_lock(&j->mu);
    it->done = 1;
    j->res->chunks_sent++;
    j->res->bytes_sent += it->size;
    j->res->wire_bytes += wire;
    j->refreshes = 0;
    j->pr.bytes_done += it->size;
    j->pr.chunks_done++;
    if (t->o.progress)
        t->o.progress(t->o.progress_arg, &j->pr);
    pthread_mutex_unlock(&j->mu);
}

/* Fresh URLs, unless another worker got them since generation gen. */
static int refresh(struct transfer_worker *w, unsigned gen)
{
    struct transfer_job *j = w->j;
    int stale, over, rc = 0;

    pthread_mutex_lock(&j->refresh_mu);
    pthread_mutex_lock(&j->mu);
    stale = j->url_gen != gen;
    over = !stale && j->refreshes >= REFRESH_MAX;
    if (!stale && !over)
        j->refreshes++;
    pthread_mutex_unlock(&j->mu);
    if (over) {
        transfer_fail(j, 403, "expired", "signed chunk URLs keep expiring");
        rc = -1;
    } else if (!stale) {
        rc = j->ops->refresh(j, w->h);
        pthread_mutex_lock(&j->mu);
        j->url_gen++;
        pthread_mutex_unlock(&j->mu);
    }
    pthread_mutex_unlock(&j->refresh_mu);
    return rc;
}

static int is_expired(long status, const cJSON *reply)
{
    const char *code = httpc_errcode(reply);
    return status == 403 && code &&
           (strcmp(code, "expired") == 0 || strcmp(code, "bad_signature") == 0);
}

/* What follows an attempt that returned rc. */
static enum step next_step(struct transfer_worker *w, int rc, long st,
                           const cJSON *reply, int attempt)
{
    struct transfer_job *j = w->j;

    if (j->ops->judge(w, rc, st) == TRANSFER_V_DONE)
        return STEP_DONE;
    if (rc == 0 && is_expired(st, reply))
        return STEP_REFRESH;
    if (transfer_retryable(rc, st) && attempt < j->t->o.retries) {
        transfer_count_retry(j);
        return STEP_BACKOFF;
    }
    if (rc < 0)
        transfer_fail(j, 0, "", "%s: %s", j->ops->what, httpc_error(w->h));
    else
        transfer_fail_answer(j, j->ops->what, st, reply);
    return STEP_FAIL;
}

/* Attempts the item until it is done (0) or has failed (-1). */
static int run_item(struct transfer_worker *w, struct transfer_item *it)
{
    struct transfer_job *j = w->j;
    cJSON *reply;
    uint64_t wire;
    unsigned gen;
    char *url;
    long st;
    int attempt = 0, rc;
    enum step step;

    if (j->ops->prepare(w, it) < 0)
        return -1;
    for (;;) {
        if (!(url = item_url(j, it, &gen)))
            return -1;
        reply = NULL;
        st = 0;
        wire = 0;
        rc = j->ops->attempt(w, url, &st, &reply, &wire);
        free(url);
        step = next_step(w, rc, st, reply, attempt);
        cJSON_Delete(reply);
        if (step == STEP_DONE) {
            item_done(j, it, wire);
            return 0;
        }
        if (step == STEP_FAIL)
            return -1;
        if (step == STEP_BACKOFF)
            transfer_backoff(attempt++);
        if (step == STEP_REFRESH && refresh(w, gen) < 0)
            return -1;
    }
}

/* The next item not done, or NULL (none left, or the job failed). */
static struct transfer_item *take(struct transfer_job *j)
{
    struct transfer_item *it = NULL;
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

static void *worker_main(void *arg)
{
    struct transfer_worker *w = arg;
    struct transfer_job *j = w->j;
    struct transfer_item *it;

    while ((it = take(j)))
        if (run_item(w, it) < 0) {
            pthread_mutex_lock(&j->mu);
            j->failed = 1;
            pthread_mutex_unlock(&j->mu);
            break;
        }
    if (w->priv)
        j->ops->worker_end(w->priv);
    w->priv = NULL;
    return NULL;
}

/* How many workers: `parallel`, but no more than items to do. */
static int workers_for(const struct transfer_job *j)
{
    size_t todo = 0, k;
    for (k = 0; k < j->n; k++)
        todo += !j->items[k].done;
    return todo < (size_t)j->t->o.parallel ? (int)todo : j->t->o.parallel;
}

int transfer_job_run(struct transfer_job *j)
{
    struct transfer_worker w[TRANSFER_MAX_PARALLEL];
    pthread_t tid[TRANSFER_MAX_PARALLEL];
    transfer *t = j->t;
    int nw = workers_for(j), started, i;

    if (nw == 0)
        return 0;
    for (i = 0; i < nw; i++) {
        if (!t->h[i] && !(t->h[i] = httpc_new(t->pool))) {
            transfer_fail(j, 0, "", "out of memory");
            return -1;
        }
        w[i] = (struct transfer_worker){ .j = j, .index = i, .h = t->h[i] };
    }
    j->next = 0;
    j->failed = 0;
    for (started = 1; started < nw; started++)
        if (pthread_create(&tid[started], NULL, worker_main, &w[started]))
            break;             /* fewer workers: slower, not wrong */
    worker_main(&w[0]);
    for (i = 1; i < started; i++)
        pthread_join(tid[i], NULL);
    return j->failed ? -1 : 0;
}
