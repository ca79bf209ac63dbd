/* push: replaying one journal operation (see push.c for the policy). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conn.h"
#include "apply.h"
#include "log.h"
#include "pull.h"
#include "push_int.h"
#include "tree.h"

#define PUSH_BATCH 128           /* operations sent in one request */

struct op {
    uint64_t seq, id;
    char *text;
    cJSON *json;
    const char *kind;
    cJSON *body;                 /* inside json; NULL for delete */
};

void push_conflict_name(const char *name, char out[256])
{
    char stamp[48];
    const char *dot = strrchr(name, '.');
    time_t now = time(NULL);
    struct tm tm;
    int base;

    gmtime_r(&now, &tm);
    strftime(stamp, sizeof(stamp), " (conflicted copy %Y-%m-%d %H%M%S)", &tm);
    if (!dot || dot == name)
        dot = name + strlen(name);
    /* Keep the whole suffix and extension; shorten the stem to fit. */
    base = (int)(dot - name);
    if (base + strlen(stamp) + strlen(dot) > 255)
        base = 255 - (int)(strlen(stamp) + strlen(dot));
    snprintf(out, 256, "%.*s%s%s", base > 0 ? base : 0, name, stamp, dot);
}

static void op_free(struct op *o)
{
    free(o->text);
    cJSON_Delete(o->json);
}

/* Reads the operation after sequence number `after` in the read
 * transaction t. -EINVAL (with o->seq set) when it cannot be parsed. */
static int op_load(metadb_txn *t, uint64_t after, struct op *o)
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

/* Loads up to max operations, oldest first: how many (at least 1), or
 * -ENOENT, or -EINVAL with ops[0] the unreadable oldest one. An unreadable
 * one further on ends the list there (it comes first next time). */
static int ops_load(struct dbxfs *fs, struct op *ops, int max)
{
    metadb_txn *t;
    uint64_t after = 0;
    int n = 0, rc = metadb_begin(fs->db, 0, &t);

    if (rc)
        return rc;
    for (; n < max; n++) {
        if ((rc = op_load(t, after, &ops[n])))
            break;
        after = ops[n].seq;
    }
    metadb_abort(t);
    if (n > 0) {
        if (rc)
            op_free(&ops[n]);
        return n;
    }
    if (rc != -EINVAL)
        op_free(&ops[0]);
    return rc;
}

/* The operation is done (or dropped): out of the journal, and the node
 * takes the server's revision from the answer. */
struct done_arg {
    const struct op *op;
    const cJSON *reply;
    int refresh;                 /* apply_own_reply asked for it */
};

static int do_done(struct dbxfs *fs, metadb_txn *t, void *arg)
{
    struct done_arg *a = arg;
    const cJSON *node = strcmp(a->op->kind, "patch") == 0 ||
                        strcmp(a->op->kind, "create") == 0 ? a->reply : NULL;
    struct cnode n, srv;
    int rc = metadb_journal_del(t, a->op->seq);

    if (rc || metadb_node_get(t, a->op->id, &n))
        return rc;
    if (strcmp(a->op->kind, "create") == 0)
        n.flags &= ~CN_LOCAL;
    if (node && node_from_wire(node, &srv) == 0)
        a->refresh = apply_own_reply(&n, &srv);
    return metadb_node_put(t, &n);
}

static int op_done(struct dbxfs *fs, const struct op *o, const cJSON *reply)
{
    struct done_arg a = { o, reply, 0 };
    int rc = tree_write(fs, do_done, &a);

    if (rc == 0 && a.refresh)
        pull_refresh(fs, o->id);
    return rc;
}

/* Rewrites the operation's target (parent and/or name) locally and in the
 * journal, so the retry asks for a place that is free. */
struct move_arg {
    struct op *op;
    uint64_t parent;
    char name[256], old[256];
    uint64_t old_parent;
};

static int do_move(struct dbxfs *fs, metadb_txn *t, void *arg)
{
    struct move_arg *a = arg;
    struct cnode n, dir;
    uint64_t holder;
    char *text, copy[256];
    int rc = metadb_node_get(t, a->op->id, &n);

    if (rc)
        return rc;
    if (metadb_dirent_get(t, a->parent, a->name, &holder) == 0 && holder != n.id) {
        push_conflict_name(a->name, copy);
        memcpy(a->name, copy, sizeof(copy));
    }
    a->old_parent = n.parent;
    snprintf(a->old, sizeof(a->old), "%s", n.name);
    metadb_dirent_del(t, n.parent, n.name);
    n.parent = a->parent;
    snprintf(n.name, sizeof(n.name), "%s", a->name);
    rc = metadb_node_put(t, &n);
    if (rc == 0)
        rc = metadb_dirent_put(t, n.parent, n.name, n.id);
    /* The name's holder on the server shows up at the next listing. */
    if (rc == 0 && metadb_node_get(t, n.parent, &dir) == 0) {
        dir.flags &= ~CN_LISTED;
        rc = metadb_node_put(t, &dir);
    }
    cJSON_ReplaceItemInObject(a->op->body, "name", cJSON_CreateString(a->name));
    cJSON_DeleteItemFromObject(a->op->body, "parent");
    wire_add_id(a->op->body, "parent", a->parent);
    text = cJSON_PrintUnformatted(a->op->json);
    if (rc == 0)
        rc = text ? metadb_journal_replace(t, a->op->seq, a->op->id, text) : -ENOMEM;
    free(text);
    return rc;
}

static int op_move(struct dbxfs *fs, struct op *o, uint64_t parent, const char *name)
{
    struct move_arg a = { .op = o, .parent = parent };
    int rc;

    snprintf(a.name, sizeof(a.name), "%s", name);
    rc = tree_write(fs, do_move, &a);
    if (rc == 0) {
        fs_inval_entry(fs, a.old_parent, a.old);
        fs_inval_entry(fs, parent, a.name);
    }
    return rc;
}

/* Ours moves aside to a conflicted-copy name, and the operation is retried
 * there. */
static int keep_as_conflicted_copy(struct dbxfs *fs, struct op *o, const char *why)
{
    const cJSON *name = cJSON_GetObjectItem(o->body, "name");
    uint64_t parent = 0;
    char copy[256];

    if (!cJSON_IsString(name) || wire_get_id(o->body, "parent", &parent))
        return -EINVAL;
    push_conflict_name(name->valuestring, copy);
    log_warn("\"%s\" %s: keeping this device's as \"%s\"", name->valuestring, why, copy);
    atomic_fetch_add(&fs->conflicts, 1);
    return op_move(fs, o, parent, copy);
}

/* 409 exists: another device took the name first. Ours becomes the
 * conflicted copy (unless the holder is this very node: a replay). */
static int resolve_exists(struct dbxfs *fs, struct op *o, const cJSON *reply)
{
    uint64_t existing = 0;

    if (wire_get_id(reply, "existing", &existing) == WIRE_OK && existing == o->id)
        return op_done(fs, o, NULL);
    return keep_as_conflicted_copy(fs, o, "exists on the server");
}

static int do_undelete(struct dbxfs *fs, metadb_txn *t, void *arg)
{
    int rc = metadb_gone_del(t, *(uint64_t *)arg);
    return rc == -ENOENT ? 0 : rc;
}

/* A node removed here that the server kept: no longer a tombstone, and
 * read again from dbxd, so that it comes back into its directory. */
static int undelete(struct dbxfs *fs, uint64_t id)
{
    int rc = tree_write(fs, do_undelete, &id);

    if (rc == 0)
        pull_refresh(fs, id);
    return rc;
}

/* 409 not_empty on a rename over a directory: another device put files in
 * the directory this rename replaced here. It stays, back on this device
 * too, and ours becomes the conflicted copy beside it. */
static int resolve_replace_not_empty(struct dbxfs *fs, struct op *o, const cJSON *reply)
{
    uint64_t victim = 0;
    int rc = keep_as_conflicted_copy(fs, o, "replaced a folder that has new files on the server");

    if (rc == 0 && wire_get_id(reply, "existing", &victim) == WIRE_OK)
        rc = undelete(fs, victim);
    return rc;
}

/* 409 not_empty on a delete: another device put files in the directory
 * this one removed, unseen here. Deleting them would lose that work, so
 * the directory comes back here, holding only those files (what this
 * device deleted inside it stays deleted: those deletes went first). */
static int resolve_not_empty(struct dbxfs *fs, struct op *o)
{
    uint64_t id = o->id;
    int rc = op_done(fs, o, NULL);

    if (rc == 0)
        rc = undelete(fs, id);
    if (rc == 0)
        log_warn("node %016llx was not deleted: it holds files added on another "
                 "device; it is back", (unsigned long long)id);
    return rc;
}

/* The method and path of the request that carries o. */
static const char *op_request(const struct op *o, char path[64])
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

static int send_op(struct push *p, struct op *o, long *status, cJSON **reply)
{
    char path[64];
    const char *method = op_request(o, path);
    int rc;

    log_debug("push %s", o->text);
    rc = httpc_json(p->h, method, path, o->body, status, reply);
    if (rc == 0 && *status >= 400)
        log_debug("push answer %ld %s", *status, httpc_errcode(*reply) ? httpc_errcode(*reply) : "");
    return sent(p, rc, *status);
}

static cJSON *batch_body(struct op *ops, int n)
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

static int settle(struct push *p, struct op *o, long status, const cJSON *reply)
{
    const char *code = httpc_errcode(reply);

    if (status >= 200 && status < 300)
        return op_done(p->fs, o, reply);
    if (status >= 500 || status == 429 || status == 401 || status == 408)
        return -EAGAIN;
    if (status == 409 && code && strcmp(code, "exists") == 0 &&
        cJSON_GetObjectItem(o->body, "name"))
        return resolve_exists(p->fs, o, reply);
    if (status == 409 && code && strcmp(code, "not_empty") == 0)
        return strcmp(o->kind, "delete") == 0 ? resolve_not_empty(p->fs, o)
                                              : resolve_replace_not_empty(p->fs, o, reply);
    if (status == 404 && strcmp(o->kind, "create") == 0) {
        const cJSON *name = cJSON_GetObjectItem(o->body, "name");
        log_warn("the folder of \"%s\" was deleted on the server: moving it to the root",
                 cJSON_IsString(name) ? name->valuestring : "?");
        return op_move(p->fs, o, p->fs->root_id,
                       cJSON_IsString(name) ? name->valuestring : "recovered");
    }
    if (!(status == 404 && strcmp(o->kind, "delete") == 0))
        log_warn("dbxd refused %s of node %016llx (%ld %s): dropped", o->kind,
                 (unsigned long long)o->id, status, code ? code : "");
    return op_done(p->fs, o, NULL);
}

static int send_one(struct push *p, struct op *o)
{
    cJSON *reply = NULL;
    long status = 0;
    int rc = send_op(p, o, &status, &reply);

    if (rc == 0)
        rc = settle(p, o, status, reply);
    cJSON_Delete(reply);
    return rc;
}

/* Sends ops[0..n) in one POST /v1/batch and settles each answer in order;
 * dbxd stops at the first that fails, so the rest stay queued. */
static int send_batch(struct push *p, struct op *ops, int n)
{
    cJSON *req = batch_body(ops, n), *reply = NULL;
    const cJSON *results, *res;
    long status = 0;
    int rc = req ? 0 : -ENOMEM, i = 0;

    if (rc == 0)
        rc = sent(p, httpc_json(p->h, "POST", "/v1/batch", req, &status, &reply), status);
    cJSON_Delete(req);
    if (rc == 0 && (status == 404 || status == 405)) {
        log_info("dbxd has no /v1/batch: one operation per request");
        p->no_batch = 1;
    } else if (rc == 0 && status != 200) {
        /* Not an answer per operation: the oldest, sent alone, tells. */
        if (status >= 500 || status == 429 || status == 401 || status == 408)
            rc = -EAGAIN;
        else
            rc = send_one(p, &ops[0]);
        status = 0;
    }
    results = rc == 0 && status == 200 ? cJSON_GetObjectItem(reply, "results") : NULL;
    cJSON_ArrayForEach(res, results) {
        const cJSON *st = cJSON_GetObjectItem(res, "status");
        if (i == n || !cJSON_IsNumber(st) || rc)
            break;
        if ((long)st->valuedouble >= 400)
            log_debug("push answer %ld", (long)st->valuedouble);
        rc = settle(p, &ops[i++], (long)st->valuedouble, cJSON_GetObjectItem(res, "body"));
    }
    cJSON_Delete(reply);
    return rc;
}

int push_journal_step(struct push *p)
{
    struct op ops[PUSH_BATCH];
    int n = ops_load(p->fs, ops, p->no_batch ? 1 : PUSH_BATCH), rc;

    if (n == -EINVAL) {
        log_error("unreadable journal entry %llu dropped", (unsigned long long)ops[0].seq);
        rc = op_done(p->fs, &ops[0], NULL);
        op_free(&ops[0]);
        return rc;
    }
    if (n < 0)
        return n;
    rc = n == 1 ? send_one(p, &ops[0]) : send_batch(p, ops, n);
    for (int i = 0; i < n; i++)
        op_free(&ops[i]);
    return rc;
}
