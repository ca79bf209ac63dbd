/* transfer: the object, and what every part of a call uses: recording its
 * failure, API calls with retries, progress of whole phases. See transfer.h
 * and, for the parts, transfer_int.h. */
#include "transfer_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BACKOFF_FIRST_MS 100
#define BACKOFF_MAX_MS 5000

transfer *transfer_new(httpc_pool *pool, const transfer_opts *opts)
{
    transfer *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->pool = pool;
    if (opts)
        t->o = *opts;
    if (t->o.parallel <= 0)
        t->o.parallel = 4;
    if (t->o.parallel > TRANSFER_MAX_PARALLEL)
        t->o.parallel = TRANSFER_MAX_PARALLEL;
    if (t->o.retries <= 0)
        t->o.retries = 5;
    if (t->o.compress == 0)
        t->o.compress = 1;
    t->h[0] = httpc_new(pool);
    if (!t->h[0]) {
        free(t);
        return NULL;
    }
    return t;
}

void transfer_free(transfer *t)
{
    int i;
    if (!t)
        return;
    for (i = 0; i < TRANSFER_MAX_PARALLEL; i++) {
        httpc_free(t->h[i]);
        zframe_enc_free(t->enc[i]);
    }
    free(t);
}

void transfer_result_free(transfer_result *res)
{
    if (!res)
        return;
    cJSON_Delete(res->node);
    cJSON_Delete(res->conflict);
    res->node = res->conflict = NULL;
}

double transfer_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The jitter comes from the clock: no shared random state between threads. */
void transfer_backoff(int attempt)
{
    struct timespec ts;
    long ms = BACKOFF_FIRST_MS;
    uint64_t x;

    while (attempt-- > 0 && ms < BACKOFF_MAX_MS)
        ms *= 2;
    if (ms > BACKOFF_MAX_MS)
        ms = BACKOFF_MAX_MS;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    x = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ull;
    ms = ms / 2 + (long)((x >> 33) % (uint64_t)(ms / 2 + 1));
    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (ms % 1000) * 1000000L;
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* 501 and 507 (no space) will not get better by asking again. */
int transfer_retryable(int rc, long status)
{
    return rc < 0 || status == 408 || status == 429 ||
           (status >= 500 && status != 501 && status != 507);
}

void transfer_fail(struct transfer_job *j, long status, const char *code,
                   const char *fmt, ...)
{
    transfer_result *res = j->res;
    va_list ap;

    pthread_mutex_lock(&j->mu);
    if (res->message[0])           /* the first failure is the one told */
        goto out;
    res->status = status;
    snprintf(res->error, sizeof res->error, "%s", code ? code : "");
    va_start(ap, fmt);
    vsnprintf(res->message, sizeof res->message, fmt, ap);
    va_end(ap);
    if (!res->message[0])
        snprintf(res->message, sizeof res->message, "failed");
out:
    pthread_mutex_unlock(&j->mu);
}

void transfer_fail_answer(struct transfer_job *j, const char *what,
                          long status, const cJSON *reply)
{
    const char *m = transfer_json_str(reply, "message");
    const char *code = httpc_errcode(reply);
    transfer_fail(j, status, code ? code : "", "%s: HTTP %ld%s%s", what,
                  status, m ? ": " : "", m ? m : "");
}

void transfer_count_retry(struct transfer_job *j)
{
    pthread_mutex_lock(&j->mu);
    j->res->retries++;
    pthread_mutex_unlock(&j->mu);
}

long transfer_api(struct transfer_job *j, httpc *h, const char *method,
                  const char *path, const cJSON *body, cJSON **reply,
                  const char *what)
{
    long st = 0;
    int attempt = 0, rc;

    for (;;) {
        rc = httpc_json(h, method, path, body, &st, reply);
        if (!transfer_retryable(rc, st) || attempt >= j->t->o.retries)
            break;
        cJSON_Delete(*reply);
        *reply = NULL;
        transfer_count_retry(j);
        transfer_backoff(attempt++);
    }
    if (rc < 0) {
        transfer_fail(j, 0, "", "%s: %s", what, httpc_error(h));
        return -1;
    }
    return st;
}

int transfer_api_ok(struct transfer_job *j, httpc *h, const char *method,
                    const char *path, const cJSON *body, cJSON **reply,
                    const char *what)
{
    long st = transfer_api(j, h, method, path, body, reply, what);
    if (st < 0)
        return -1;
    if (st != 200 && st != 201) {
        transfer_fail_answer(j, what, st, *reply);
        return -1;
    }
    return 0;
}

void transfer_progress_phase(transfer *t, enum transfer_phase ph,
                             uint64_t bytes, uint64_t chunks)
{
    transfer_progress p = { .phase = ph, .bytes_done = bytes,
                            .bytes_total = bytes, .chunks_done = chunks,
                            .chunks_total = chunks };
    if (t->o.progress)
        t->o.progress(t->o.progress_arg, &p);
}

const char *transfer_json_str(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

int transfer_valid_id(const char *id)
{
    size_t i;
    if (!id)
        return 0;
    for (i = 0; i < 16; i++)
        if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
            return 0;
    return id[16] == '\0';
}
