/* push: replaying the journal (push.c has the threads, push_resolve.c what
 * each answer leads to). The oldest operations go first, up to PUSH_BATCH
 * in one POST /v1/batch; an operation set aside (parked) is skipped, and so
 * is every later one that depends on it (the same node, or a node it puts
 * under it), so one operation dbxd will not take never holds back the
 * others. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conn.h"
#include "idlist.h"
#include "log.h"
#include "push_int.h"

#define PUSH_BATCH 128           /* operations sent in one request */
#define LOAD_SCAN 4096           /* journal entries looked at for one batch */

void push_op_free(struct push_op *o)
{
    free(o->text);
    cJSON_Delete(o->json);
    memset(o, 0, sizeof(*o));
}

/* Reads the operation after sequence number `after`. -EINVAL (with o->seq
 * set) when it cannot be parsed. */
static int op_load(metadb_txn *t, uint64_t after, struct push_op *o)
{
    const cJSON *kind;
    int rc;

    memset(o, 0, sizeof(*o));
    rc = metadb_journal_next(t, after, &o->seq, &o->id, &o->text);
    if (rc)
        return rc;
    o->json = cJSON_Parse(o->text);
    kind = cJSON_GetObjectItem(o->json, "op");
    if (!cJSON_IsString(kind))
        return -EINVAL;
    o->kind = kind->valuestring;
    o->body = cJSON_GetObjectItem(o->json, "body");
    return 0;
}

static int listed(const struct idlist *l, uint64_t id)
{
    for (size_t i = 0; id && i < l->n; i++)
        if (l->ids[i] == id)
            return 1;
    return 0;
}

/* What one scan of the journal found held back, for the status. */
struct held {
    struct idlist blocked;       /* nodes whose operations wait */
    struct held_op shown[PUSH_SHOWN_MAX];
    int nshown, total, behind;
};

static void show_parked(struct held *h, const struct push_op *o, double until)
{
    struct held_op *s = &h->shown[h->nshown];
    const char *why = cJSON_GetStringValue(cJSON_GetObjectItem(o->json, "why"));
    const char *name = cJSON_GetStringValue(cJSON_GetObjectItem(o->body, "name"));

    h->total++;
    if (h->nshown == PUSH_SHOWN_MAX)
        return;
    h->nshown++;
    s->id = o->id;
    s->until = (time_t)until;
    snprintf(s->kind, sizeof(s->kind), "%s", o->kind);
    snprintf(s->name, sizeof(s->name), "%s", name ? name : "");
    snprintf(s->why, sizeof(s->why), "%s", why ? why : "");
}

/* Parked until later, or behind a parked operation it depends on: its
 * node then joins the blocked list. */
static int held_back(const struct push_op *o, struct held *h, time_t now)
{
    double until = cJSON_GetNumberValue(cJSON_GetObjectItem(o->json, "parked_until"));
    uint64_t parent = 0, victim = 0;
    int parked = until == until && until > (double)now;

    wire_get_id(o->body, "parent", &parent);
    wire_get_id(o->body, "victim", &victim);
    if (!parked && !listed(&h->blocked, o->id) && !listed(&h->blocked, parent) &&
        !listed(&h->blocked, victim))
        return 0;
    if (parked)
        show_parked(h, o, until);
    else
        h->behind++;
    idlist_push(&h->blocked, o->id);
    return 1;
}

static void publish_held(struct push *p, struct held *h)
{
    pthread_mutex_lock(&p->mu);
    memcpy(p->held, h->shown, sizeof(h->shown[0]) * (size_t)h->nshown);
    p->nheld = h->nshown;
    p->held_total = h->total;
    p->held_behind = h->behind;
    pthread_mutex_unlock(&p->mu);
    idlist_free(&h->blocked);
}

/* Loads up to max operations that may go now, oldest first, and marks them
 * as on their way (fs->sending_*). How many (at least 1), -ENOENT, or
 * -EINVAL with ops[0] the unreadable oldest one. */
static int ops_load(struct push *p, struct push_op *ops, int max)
{
    struct dbxfs *fs = p->fs;
    struct held *h = calloc(1, sizeof(*h));
    time_t now = time(NULL);
    uint64_t after = 0;
    metadb_txn *t;
    int n = 0, rc;

    if (!h)
        return -ENOMEM;
    /* Under the lock: a local delete must see which entries are leaving. */
    pthread_mutex_lock(&fs->lock);
    if ((rc = metadb_begin(fs->db, 0, &t))) {
        pthread_mutex_unlock(&fs->lock);
        free(h);
        return rc;
    }
    for (int scanned = 0; n < max && scanned < LOAD_SCAN; scanned++) {
        if ((rc = op_load(t, after, &ops[n])))
            break;
        after = ops[n].seq;
        if (held_back(&ops[n], h, now))
            push_op_free(&ops[n]);
        else
            n++;
    }
    if (n > 0) {
        atomic_store(&fs->sending_lo, ops[0].seq);
        atomic_store(&fs->sending_hi, ops[n - 1].seq);
    }
    metadb_abort(t);
    pthread_mutex_unlock(&fs->lock);
    publish_held(p, h);
    free(h);
    if (n > 0) {
        if (rc)
            push_op_free(&ops[n]);
        return n;
    }
    if (rc != -EINVAL)
        push_op_free(&ops[0]);
    return rc ? rc : -ENOENT;
}

static void sending_done(struct dbxfs *fs)
{
    pthread_mutex_lock(&fs->lock);
    atomic_store(&fs->sending_lo, 0);
    atomic_store(&fs->sending_hi, 0);
    pthread_mutex_unlock(&fs->lock);
}

/* The method and path of the request that carries o. */
static const char *op_request(const struct push_op *o, char path[64])
{
    char id[17];

    if (strcmp(o->kind, "create") == 0) {
        snprintf(path, 64, "/v1/nodes");
        return "POST";
    }
    wire_id_format(o->id, id);
    snprintf(path, 64, "/v1/nodes/%s", id);
    return strcmp(o->kind, "patch") == 0 ? "PATCH" : "DELETE";
}

static int sent(struct push *p, int rc, long status)
{
    if (atomic_load(&p->stop))
        return -EINTR;
    conn_note(p->fs, rc == 0, rc == 0 ? status : 0);
    return rc ? -EIO : 0;
}

static int send_one(struct push *p, struct push_op *o)
{
    cJSON *reply = NULL;
    long status = 0;
    char path[64];
    const char *method = op_request(o, path);
    int rc;

    log_debug("push %s", o->text);
    /* two statements: status is only set once httpc_json has returned */
    rc = httpc_json(p->h, method, path, o->body, &status, &reply);
    rc = sent(p, rc, status);
    if (rc)
        goto out;
    if (status >= 400)
        log_debug("push answer %ld %s", status, httpc_errcode(reply) ? httpc_errcode(reply) : "");
    rc = push_settle(p, o, status, reply);
out:
    cJSON_Delete(reply);
    return rc;
}

static cJSON *batch_body(struct push_op *ops, int n)
{
    cJSON *req = cJSON_CreateObject(), *list = cJSON_AddArrayToObject(req, "ops");

    for (int i = 0; list && i < n; i++) {
        char path[64];
        const char *method = op_request(&ops[i], path);
        cJSON *item = cJSON_CreateObject();
        if (!item || !cJSON_AddItemToArray(list, item) ||
            !cJSON_AddStringToObject(item, "method", method) ||
            !cJSON_AddStringToObject(item, "path", path) ||
            (ops[i].body && !cJSON_AddItemReferenceToObject(item, "body", ops[i].body)))
            list = NULL;
        log_debug("push %s", ops[i].text);
    }
    if (!list) {
        cJSON_Delete(req);
        return NULL;
    }
    return req;
}

/* Settles the answers to ops[0..n) in order, up to the first that fails. */
static int settle_results(struct push *p, struct push_op *ops, int n, const cJSON *results)
{
    const cJSON *res;
    int i = 0, rc;

    cJSON_ArrayForEach(res, results) {
        const cJSON *st = cJSON_GetObjectItem(res, "status");
        if (i == n || !cJSON_IsNumber(st))
            break;
        if ((long)st->valuedouble >= 400)
            log_debug("push answer %ld %s", (long)st->valuedouble,
                      httpc_errcode(cJSON_GetObjectItem(res, "body")) ?: "");
        rc = push_settle(p, &ops[i++], (long)st->valuedouble, cJSON_GetObjectItem(res, "body"));
        if (rc)
            return rc;
    }
    return 0;
}

/* Sends ops[0..n) in one POST /v1/batch and settles each answer in order;
 * dbxd stops at the first that fails, so the rest stay queued. */
static int send_batch(struct push *p, struct push_op *ops, int n)
{
    cJSON *req = batch_body(ops, n), *reply = NULL;
    long status = 0;
    int rc;

    if (!req)
        return -ENOMEM;
    rc = httpc_json(p->h, "POST", "/v1/batch", req, &status, &reply);
    rc = sent(p, rc, status);
    cJSON_Delete(req);
    if (rc)
        goto out;
    if (status == 404 || status == 405) {
        log_info("dbxd has no /v1/batch: one operation per request");
        p->no_batch = 1;
    } else if (status != 200) {
        /* Not an answer per operation: the oldest, sent alone, tells. */
        if (status >= 500 || status == 429 || status == 401 || status == 408)
            rc = -EAGAIN;
        else
            rc = send_one(p, &ops[0]);
    } else {
        rc = settle_results(p, ops, n, cJSON_GetObjectItem(reply, "results"));
    }
out:
    cJSON_Delete(reply);
    return rc;
}

int push_journal_step(struct push *p)
{
    struct push_op ops[PUSH_BATCH];
    int n = ops_load(p, ops, p->no_batch ? 1 : PUSH_BATCH), rc;

    if (n == -EINVAL) {
        log_error("unreadable journal entry %llu dropped", (unsigned long long)ops[0].seq);
        rc = push_drop(p, &ops[0]);
        push_op_free(&ops[0]);
        sending_done(p->fs);
        return rc;
    }
    if (n < 0)
        return n;
    rc = n == 1 ? send_one(p, &ops[0]) : send_batch(p, ops, n);
    for (int i = 0; i < n; i++)
        push_op_free(&ops[i]);
    sending_done(p->fs);
    return rc;
}
