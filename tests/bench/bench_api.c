/* bench_api: API figures against a real dbxd: how fast a long-poll wakes
 * after a change, and small-file commits per second. */
#include "bench.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* ---- long-poll wake latency ------------------------------------------------------ */

struct lp {
    httpc_pool *pool;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int reps;
    int polling;       /* the poller is about to send or has sent its request */
    int returned;      /* the poller got an event */
    double t_ret;
    int64_t cursor;
    int err;
};

static void *lp_poller(void *arg)
{
    struct lp *l = arg;
    httpc *h = httpc_new(l->pool);
    cJSON *reply = NULL;
    char path[96];
    long st = 0;
    int i, nchanges;
    double t;

    httpc_set_timeout(h, 40000);
    for (i = 0; i < l->reps;) {
        snprintf(path, sizeof path, "/v1/changes?cursor=%" PRId64 "&wait=30",
                 l->cursor);
        pthread_mutex_lock(&l->mu);
        l->polling = 1;
        pthread_cond_broadcast(&l->cv);
        pthread_mutex_unlock(&l->mu);
        if (httpc_json(h, "GET", path, NULL, &st, &reply) < 0 || st != 200) {
            fprintf(stderr, "poll: %s HTTP %ld\n", httpc_error(h), st);
            pthread_mutex_lock(&l->mu);
            l->err = 1;
            l->returned = 1;
            pthread_cond_broadcast(&l->cv);
            pthread_mutex_unlock(&l->mu);
            break;
        }
        t = now_sec();
        nchanges = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(reply,
                                                                       "changes"));
        if (json_int(reply, "cursor") >= 0)
            l->cursor = json_int(reply, "cursor");
        cJSON_Delete(reply);
        reply = NULL;
        if (nchanges == 0)
            continue;          /* the wait ran out: poll again */
        pthread_mutex_lock(&l->mu);
        l->polling = 0;
        l->returned = 1;
        l->t_ret = t;
        pthread_cond_broadcast(&l->cv);
        while (l->returned)
            pthread_cond_wait(&l->cv, &l->mu);
        pthread_mutex_unlock(&l->mu);
        i++;
    }
    httpc_free(h);
    return NULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(const double *v, int n, double p)
{
    int i = (int)(p * (n - 1) + 0.5);
    return v[i < n ? i : n - 1];
}

/* One change while the poller waits: a PATCH of the node, then the poll's
 * return. The delays in ms after the PATCH's answer and its start; -1 when
 * the poller failed. */
static int lp_one(struct lp *l, httpc *h, const char *path, int i,
                  double *ans, double *sent)
{
    cJSON *b = cJSON_CreateObject(), *reply = NULL;
    double t0, t1;
    long st = 0;
    int err;

    pthread_mutex_lock(&l->mu);
    while (!l->polling && !l->err)
        pthread_cond_wait(&l->cv, &l->mu);
    err = l->err;
    pthread_mutex_unlock(&l->mu);
    if (err)
        return -1;
    usleep(20000);             /* the poll reaches the server and waits */
    cJSON_AddNumberToObject(b, "mtime", 1700000000 + i);
    cJSON_AddNumberToObject(b, "mtime_nsec", 0);
    t0 = now_sec();
    if (httpc_json(h, "PATCH", path, b, &st, &reply) < 0 || st != 200) {
        fprintf(stderr, "PATCH: %s HTTP %ld\n", httpc_error(h), st);
        exit(1);
    }
    t1 = now_sec();
    cJSON_Delete(reply);
    cJSON_Delete(b);
    pthread_mutex_lock(&l->mu);
    while (!l->returned)
        pthread_cond_wait(&l->cv, &l->mu);
    *ans = (l->t_ret - t1) * 1e3;
    *sent = (l->t_ret - t0) * 1e3;
    l->returned = 0;
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu);
    return 0;
}

static void lp_report(double *d_ans, double *d_send, int n)
{
    qsort(d_ans, n, sizeof *d_ans, cmp_double);
    qsort(d_send, n, sizeof *d_send, cmp_double);
    printf("long-poll wake, %d changes: commit answer -> poll return: "
           "p50 %.3f ms, p99 %.3f ms, max %.3f ms; "
           "commit sent -> poll return: p50 %.3f ms, p99 %.3f ms, max %.3f ms\n",
           n, pct(d_ans, n, .5), pct(d_ans, n, .99), d_ans[n - 1],
           pct(d_send, n, .5), pct(d_send, n, .99), d_send[n - 1]);
    printf("RESULT longpoll_p50_ms %.3f\n", pct(d_ans, n, .5));
    printf("RESULT longpoll_p99_ms %.3f\n", pct(d_ans, n, .99));
    printf("RESULT longpoll_send_p99_ms %.3f\n", pct(d_send, n, .99));
}

int cmd_longpoll(int argc, char **argv)
{
    struct session s;
    struct lp l = { .reps = 200 };
    pthread_t tid;
    httpc *h;
    cJSON *reply = NULL;
    char id[17], path[64];
    double *d_ans, *d_send;
    long st = 0;
    int i;

    if (argc < 2)
        die("usage: longpoll URL USER [--reps N]");
    for (i = 2; i < argc; i++)
        if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc)
            l.reps = atoi(argv[++i]);
    if (l.reps < 1)
        die("longpoll: bad --reps");
    login(&s, argv[0], argv[1]);
    l.pool = s.pool;
    pthread_mutex_init(&l.mu, NULL);
    pthread_cond_init(&l.cv, NULL);
    d_ans = calloc(l.reps, sizeof *d_ans);
    d_send = calloc(l.reps, sizeof *d_send);
    h = httpc_new(s.pool);
    random_id(id);
    if (!d_ans || !d_send || !h ||
        create_node(h, id, s.root, "longpoll-target", "file") < 0)
        return 1;
    if (httpc_json(h, "GET", "/v1/changes?cursor=latest", NULL, &st, &reply) < 0
        || st != 200)
        die("changes?cursor=latest failed");
    l.cursor = json_int(reply, "cursor");
    cJSON_Delete(reply);
    pthread_create(&tid, NULL, lp_poller, &l);
    snprintf(path, sizeof path, "/v1/nodes/%s", id);
    for (i = 0; i < l.reps; i++)
        if (lp_one(&l, h, path, i, &d_ans[i], &d_send[i]) < 0)
            break;
    pthread_join(tid, NULL);
    if (l.err)
        die("long-poll failed");
    lp_report(d_ans, d_send, l.reps);
    httpc_free(h);
    httpc_pool_free(s.pool);
    free(d_ans);
    free(d_send);
    return 0;
}

/* ---- small files ------------------------------------------------------------------ */

struct sf {
    struct session *s;
    char dir[17];
    int files, threads, size, index;
    int done, failed;
    pthread_mutex_t mu;
};

static void *sf_worker(void *arg)
{
    struct sf *f = arg;
    transfer_opts o = { .parallel = 1 };
    httpc *h = httpc_new(f->s->pool);
    transfer *t = transfer_new(f->s->pool, &o);
    transfer_result r;
    struct rng rg;
    char id[17], name[64], *buf = malloc(f->size + 1);
    int fd = memfd_create("dbxbench", 0), me;

    rng_seed(&rg);
    pthread_mutex_lock(&f->mu);
    me = f->index++;
    pthread_mutex_unlock(&f->mu);
    if (!h || !t || !buf || fd < 0)
        die("smallfiles: setup");
    for (;;) {
        pthread_mutex_lock(&f->mu);
        if (f->done + f->failed >= f->files) {
            pthread_mutex_unlock(&f->mu);
            break;
        }
        f->done++;                     /* claimed; failures move it below */
        pthread_mutex_unlock(&f->mu);
        memset(&r, 0, sizeof r);
        random_id(id);
        snprintf(name, sizeof name, "f-%d-%s", me, id);
        rng_fill(&rg, buf, f->size);
        if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, f->size, 0) != f->size)
            die("smallfiles: memfd");
        if (create_node(h, id, f->dir, name, "file") < 0 ||
            transfer_upload_fd(t, fd, id, 0, NULL, &r) < 0) {
            if (r.message[0])
                fprintf(stderr, "upload: %s\n", r.message);
            pthread_mutex_lock(&f->mu);
            f->done--;
            f->failed++;
            pthread_mutex_unlock(&f->mu);
            transfer_result_free(&r);
            continue;
        }
        transfer_result_free(&r);
    }
    close(fd);
    free(buf);
    transfer_free(t);
    httpc_free(h);
    return NULL;
}

int cmd_smallfiles(int argc, char **argv)
{
    struct session s;
    struct sf f = { .s = &s, .files = 2000, .threads = 8, .size = 4096 };
    pthread_t tid[64];
    char dname[64];
    httpc *h;
    double t0, dt;
    int i;

    if (argc < 2)
        die("usage: smallfiles URL USER [--files N] [--threads T] [--size B]");
    for (i = 2; i + 1 < argc; i++) {
        if (strcmp(argv[i], "--files") == 0)
            f.files = atoi(argv[++i]);
        else if (strcmp(argv[i], "--threads") == 0)
            f.threads = atoi(argv[++i]);
        else if (strcmp(argv[i], "--size") == 0)
            f.size = atoi(argv[++i]);
    }
    if (f.threads < 1 || f.threads > 64 || f.size < 1)
        die("smallfiles: bad arguments");
    login(&s, argv[0], argv[1]);
    pthread_mutex_init(&f.mu, NULL);
    h = httpc_new(s.pool);
    random_id(f.dir);
    snprintf(dname, sizeof dname, "small-files-%s", f.dir);
    if (create_node(h, f.dir, s.root, dname, "dir") < 0)
        return 1;
    t0 = now_sec();
    for (i = 0; i < f.threads; i++)
        pthread_create(&tid[i], NULL, sf_worker, &f);
    for (i = 0; i < f.threads; i++)
        pthread_join(tid[i], NULL);
    dt = now_sec() - t0;
    printf("small files: %d files of %d bytes with %d threads "
           "(create + upload + commit each): %.3f s = %.0f files/s, %d failed\n",
           f.done, f.size, f.threads, dt, f.done / dt, f.failed);
    printf("RESULT smallfiles_per_s %.0f\n", f.done / dt);
    httpc_free(h);
    httpc_pool_free(s.pool);
    return f.failed ? 1 : 0;
}
