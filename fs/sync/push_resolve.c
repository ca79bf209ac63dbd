/* push: what dbxd's answer to one journal operation leads to. plan.c
 * decides; this file carries the decision out in the local store, in one
 * transaction. Every outcome settles the operation or changes it so that
 * it can succeed: none sends it to fail the same way again. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "apply.h"
#include "idlist.h"
#include "log.h"
#include "names.h"
#include "oplog.h"
#include "plan.h"
#include "pull.h"
#include "push_int.h"
#include "shared.h"
#include "tree.h"

#define RENAME_MAX 100           /* conflicted-copy names tried for one operation */
#define PARK_MIN 10              /* seconds a parked operation waits, doubling */
#define PARK_MAX 1800

struct resolve {
    struct push_op *op;
    long status;
    const cJSON *reply;
    enum plan_verdict verdict;
    struct apply_notes notes;
    int refresh;                 /* the node must be read from dbxd again */
};

static uint64_t json_uint(const cJSON *j, const char *key)
{
    double v = cJSON_GetNumberValue(cJSON_GetObjectItem(j, key));
    return isnan(v) || v < 0 ? 0 : (uint64_t)v;
}

static void json_set_uint(cJSON *j, const char *key, uint64_t v)
{
    cJSON_DeleteItemFromObject(j, key);
    cJSON_AddNumberToObject(j, key, (double)v);
}

static void json_set_string(cJSON *j, const char *key, const char *v)
{
    cJSON_DeleteItemFromObject(j, key);
    cJSON_AddStringToObject(j, key, v);
}

/* Writes the changed operation back in its place. */
static int op_save(metadb_txn *t, const struct push_op *o)
{
    char *text = cJSON_PrintUnformatted(o->json);
    int rc = text ? metadb_journal_replace(t, o->seq, text) : -ENOMEM;

    free(text);
    return rc;
}

/* A rename's victim that it did not replace after all (the rename was
 * dropped, renamed, or dbxd kept the victim aside): if still removed
 * here, it is deleted on its own, as this device saw it. */
static int victim_left(metadb_txn *t, const cJSON *body)
{
    uint64_t victim, rev;

    if (wire_get_id(body, "victim", &victim) != WIRE_OK ||
        metadb_gone_get(t, victim, &rev) != 0)
        return 0;
    return oplog_delete_victim(t, body);
}

/* Takes o out of the journal unanswered (or answered without effect). */
static int op_del(metadb_txn *t, const struct push_op *o)
{
    int rc = metadb_journal_del(t, o->seq);

    if (rc == -ENOENT)
        return 0;
    return rc ? rc : victim_left(t, o->body);
}

/* ---- done ---- */

/* dbxd answered a rename with what it replaced: its victim is deleted
 * with it (its tombstone waits for that delete in the feed), or not. */
static int settle_victim(metadb_txn *t, const cJSON *body, const cJSON *reply, uint64_t rev)
{
    uint64_t victim, replaced = 0, was;

    if (wire_get_id(body, "victim", &victim) != WIRE_OK)
        return 0;
    wire_get_id(cJSON_GetObjectItem(reply, "replaced"), "id", &replaced);
    if (replaced != victim)
        return victim_left(t, body);
    return metadb_gone_get(t, victim, &was) == 0 ? metadb_gone_put(t, victim, rev) : 0;
}

static int do_done(struct dbxfs *fs, metadb_txn *t, void *arg)
{
    struct resolve *a = arg;
    struct push_op *o = a->op;
    uint64_t rev = json_uint(a->reply, "rev"), gone_rev, victim = 0;
    struct cnode n;
    int rc = metadb_journal_del(t, o->seq);

    if (rc && rc != -ENOENT)
        return rc;
    if (strcmp(o->kind, "delete") == 0) {
        /* A 404: the delete's own event may have come already, or will. */
        if (metadb_gone_get(t, o->id, &gone_rev) == 0 &&
            (rc = metadb_gone_put(t, o->id, a->status == 404 ? UINT64_MAX : rev)))
            return rc;
    } else if (metadb_node_get(t, o->id, &n) == 0) {
        if (strcmp(o->kind, "create") == 0)
            n.flags &= ~CN_LOCAL;
        if (rev > n.rev)
            n.rev = rev;              /* ahead of the mirror until the echo */
        if ((rc = metadb_node_put(t, &n)))
            return rc;
    }
    if ((rc = settle_victim(t, o->body, a->reply, rev)))
        return rc;
    if ((rc = apply_reconcile(fs, t, o->id, &a->notes)))
        return rc;
    if (wire_get_id(o->body, "victim", &victim) != WIRE_OK)
        return 0;
    return apply_reconcile(fs, t, victim, &a->notes);
}

/* ---- revert, undelete: dbxd's version stands ---- */

static int do_revert(struct dbxfs *fs, metadb_txn *t, void *arg)
{
    struct resolve *a = arg;
    int rc = op_del(t, a->op);

    return rc ? rc : apply_reconcile(fs, t, a->op->id, &a->notes);
}

static int do_undelete(struct dbxfs *fs, metadb_txn *t, void *arg)
{
    struct resolve *a = arg;
    struct cnode r;
    int rc = op_del(t, a->op);

    rc = rc ? rc : metadb_gone_del(t, a->op->id);
    a->refresh = metadb_remote_get(t, a->op->id, &r) != 0;
    log_warn("\"%s\" was not deleted: %s on another device since; it is back",
             a->refresh ? "?" : r.name, a->status == 409 ? "filled" : "changed");
    return rc ? rc : apply_reconcile(fs, t, a->op->id, &a->notes);
}

/* ---- rename: the place is taken there ---- */

/* Moves the local node from (parent, old) to (parent, name), if it is
 * still there. */
static int rename_local(metadb_txn *t, uint64_t id, uint64_t parent, const char *old,
                        const char *name, struct apply_notes *notes)
{
    struct cnode n;

    if (metadb_node_get(t, id, &n) || n.parent != parent || strcmp(n.name, old) != 0)
        return 0;
    apply_note(notes, APPLY_INVAL_ENTRY, parent, 0, old);
    apply_note(notes, APPLY_INVAL_ENTRY, parent, 0, name);
    return tree_move_local(t, &n, parent, name);
}

/* A conflicted-copy name for the operation's node that no node here has
 * (each try of one operation counts on, so it never asks for one twice). */
static unsigned conflict_name(struct dbxfs *fs, metadb_txn *t, const struct push_op *o,
                              const char *base, uint64_t parent, char out[256])
{
    unsigned tries = (unsigned)json_uint(o->json, "tries");
    uint64_t holder;

    do
        name_conflicted(base, fs->opts->device, time(NULL), ++tries, out);
    while (metadb_dirent_get(t, parent, out, &holder) == 0 && holder != o->id &&
           tries < 100000);
    return tries;
}

static int do_rename(struct dbxfs *fs, metadb_txn *t, void *arg)
{
    struct resolve *a = arg;
    struct push_op *o = a->op;
    const char *name = cJSON_GetStringValue(cJSON_GetObjectItem(o->body, "name"));
    const char *name0 = cJSON_GetStringValue(cJSON_GetObjectItem(o->json, "name0"));
    char old[256], base[256], copy[256];
    uint64_t parent = 0;
    unsigned tries;
    int rc;

    if (!name || wire_get_id(o->body, "parent", &parent) != WIRE_OK)
        return -EINVAL;
    /* copies: the JSON's strings go when their fields are set anew */
    snprintf(old, sizeof(old), "%s", name);
    snprintf(base, sizeof(base), "%s", name0 ? name0 : name);
    tries = conflict_name(fs, t, o, base, parent, copy);
    if (json_uint(o->json, "tries") == 0) {
        atomic_fetch_add(&fs->conflicts, 1);
        log_warn("\"%s\" is taken on dbxd (%s): keeping this device's as \"%s\"", old,
                 httpc_errcode(a->reply) ? httpc_errcode(a->reply) : "?", copy);
    }
    json_set_string(o->json, "name0", base);
    json_set_uint(o->json, "tries", tries);
    json_set_string(o->body, "name", copy);
    if ((rc = rename_local(t, o->id, parent, old, copy, &a->notes)))
        return rc;
    /* What it was to replace is not replaced now: deleted on its own. */
    if (cJSON_GetObjectItem(o->body, "replace")) {
        rc = victim_left(t, o->body);
        cJSON_DeleteItemFromObject(o->body, "replace");
        cJSON_DeleteItemFromObject(o->body, "victim");
        cJSON_DeleteItemFromObject(o->body, "victim_content_rev");
        if (rc)
            return rc;
    }
    return op_save(t, o);
}

/* ---- relocate: no right to write there any more ---- */

static int clear_shared_below(metadb_txn *t, uint64_t id)
{
    struct idlist s = { 0 };
    struct cnode n;
    int rc = idlist_push(&s, id);

    if (rc)
        goto out;
    while (s.n > 0) {
        if (metadb_node_get(t, s.ids[--s.n], &n))
            continue;
        n.flags &= ~(CN_SHARED | CN_VIEWER);
        if ((rc = metadb_node_put(t, &n)))
            goto out;
        if (n.type == NODE_DIR &&
            (rc = metadb_dirent_each(t, n.id, NULL, idlist_push_child, &s)))
            goto out;
    }
out:
    idlist_free(&s);
    return rc;
}

/* The node (created here, in another user's tree) moves to this user's
 * root as a conflicted copy: what was written is kept, as this user's. */
static int do_relocate(struct dbxfs *fs, metadb_txn *t, void *arg)
{
    struct resolve *a = arg;
    struct push_op *o = a->op;
    struct cnode n;
    char copy[256];
    int rc;

    if (metadb_node_get(t, o->id, &n) || (n.flags & CN_ORPHAN) ||
        strcmp(o->kind, "create") != 0)
        return do_revert(fs, t, arg);
    json_set_uint(o->json, "tries", conflict_name(fs, t, o, n.name, fs->root_id, copy));
    log_warn("no right to write \"%s\" where it was made: it is \"%s\" in your own folder now",
             n.name, copy);
    apply_note(&a->notes, APPLY_DELETE, n.parent, n.id, n.name);
    apply_note(&a->notes, APPLY_INVAL_ENTRY, fs->root_id, 0, copy);
    if ((rc = tree_move_local(t, &n, fs->root_id, copy)) || (rc = clear_shared_below(t, n.id)))
        return rc;
    cJSON_DeleteItemFromObject(o->body, "parent");
    wire_add_id(o->body, "parent", n.parent);
    json_set_string(o->body, "name", copy);
    return op_save(t, o);
}

/* ---- reparent, recreate: dbxd lost a node this operation needs ---- */

static int do_reparent(struct dbxfs *fs, metadb_txn *t, void *arg)
{
    struct resolve *a = arg;
    struct push_op *o = a->op;
    struct cnode n, dir;
    uint64_t parent = 0;

    if (metadb_node_get(t, o->id, &n) || wire_get_id(o->body, "parent", &parent) != WIRE_OK)
        return op_del(t, o);
    if (n.parent != parent) {
        /* It moved on here since: it goes where it is now. */
        cJSON_DeleteItemFromObject(o->body, "parent");
        wire_add_id(o->body, "parent", n.parent);
        json_set_string(o->body, "name", n.name);
        return op_save(t, o);
    }
    if (metadb_node_get(t, parent, &dir) || parent == fs->root_id)
        return op_del(t, o);
    if (dir.flags & CN_SHARED)
        return do_relocate(fs, t, arg);   /* its owner deleted it: ours stays ours */
    return tree_recreate(t, &dir);
}

static int do_recreate(struct dbxfs *fs, metadb_txn *t, void *arg)
{
    struct resolve *a = arg;
    struct cnode n;

    if (metadb_node_get(t, a->op->id, &n))
        return op_del(t, a->op);
    if ((n.flags & CN_SHARED) && n.parent == SHARED_ID)
        return op_del(t, a->op);          /* a share root: not ours to make */
    return tree_recreate(t, &n);
}

/* ---- park: an answer not understood ---- */

static int do_park(struct dbxfs *fs, metadb_txn *t, void *arg)
{
    struct resolve *a = arg;
    struct push_op *o = a->op;
    uint64_t parks = json_uint(o->json, "parks") + 1;
    uint64_t wait = parks > 8 ? PARK_MAX : PARK_MIN << (parks - 1);
    const char *msg = cJSON_GetStringValue(cJSON_GetObjectItem(a->reply, "message"));
    char why[300];

    snprintf(why, sizeof(why), "%ld %s%s%s", a->status,
             httpc_errcode(a->reply) ? httpc_errcode(a->reply) : "", msg ? ": " : "",
             msg ? msg : "");
    log_warn("dbxd refused %s of node %016llx (%s): set aside, tried again in %llus",
             o->kind, (unsigned long long)o->id, why,
             (unsigned long long)(wait < PARK_MAX ? wait : PARK_MAX));
    json_set_uint(o->json, "parks", parks);
    json_set_uint(o->json, "parked_until", (uint64_t)time(NULL) + (wait < PARK_MAX ? wait : PARK_MAX));
    json_set_string(o->json, "why", why);
    return op_save(t, o);
}

static int do_count_failure(struct dbxfs *fs, metadb_txn *t, void *arg)
{
    struct push_op *o = ((struct resolve *)arg)->op;

    json_set_uint(o->json, "fails", json_uint(o->json, "fails") + 1);
    return op_save(t, o);
}

/* ---- settling ---- */

/* What plan_answer needs to know besides the answer. */
static void describe(struct dbxfs *fs, const struct push_op *o, long status,
                     const cJSON *reply, struct plan_reply *r)
{
    uint64_t named = 0;
    int has_named = wire_get_id(reply, status == 404 ? "id" : "existing", &named) == WIRE_OK;
    struct cnode n;
    metadb_txn *t;

    memset(r, 0, sizeof(*r));
    r->op = strcmp(o->kind, "create") == 0 ? PLAN_OP_CREATE :
            strcmp(o->kind, "patch") == 0 ? PLAN_OP_PATCH : PLAN_OP_DELETE;
    r->status = status;
    r->code = httpc_errcode(reply);
    r->names_place = cJSON_GetObjectItem(o->body, "name") != NULL;
    r->replaces = cJSON_IsTrue(cJSON_GetObjectItem(o->body, "replace"));
    r->existing_is_self = has_named && named == o->id;
    r->missing_is_self = has_named ? named == o->id : !r->names_place;
    r->failures = (int)json_uint(o->json, "fails");
    if (metadb_begin(fs->db, 0, &t) == 0) {
        r->local_gone = metadb_node_get(t, o->id, &n) != 0 || (n.flags & CN_ORPHAN);
        r->has_work = !r->local_gone && apply_has_work(t, &n);
        metadb_abort(t);
    }
}

static const fs_txn_fn verdict_fn[] = {
    [PLAN_DONE] = do_done, [PLAN_RENAME] = do_rename, [PLAN_REPARENT] = do_reparent,
    [PLAN_RECREATE] = do_recreate, [PLAN_REVERT] = do_revert,
    [PLAN_UNDELETE] = do_undelete, [PLAN_RELOCATE] = do_relocate, [PLAN_PARK] = do_park,
};

int push_settle(struct push *p, struct push_op *o, long status, const cJSON *reply)
{
    struct resolve a = { .op = o, .status = status, .reply = reply };
    struct plan_reply r;
    int rc;

    describe(p->fs, o, status, reply, &r);
    a.verdict = plan_answer(&r);
    if (a.verdict == PLAN_RENAME && json_uint(o->json, "tries") >= RENAME_MAX)
        a.verdict = PLAN_PARK;
    if (a.verdict != PLAN_DONE)
        log_debug("push: %s of %016llx answered %ld %s: %s", o->kind,
                  (unsigned long long)o->id, status, r.code ? r.code : "",
                  plan_verdict_name(a.verdict));
    if (a.verdict == PLAN_RETRY) {
        if (status >= 500)
            fs_write(p->fs, do_count_failure, &a);
        return -EAGAIN;
    }
    rc = fs_write(p->fs, verdict_fn[a.verdict], &a);
    apply_notes_send(p->fs, &a.notes);
    if (rc) {
        log_warn("cannot settle %s of node %016llx: %s", o->kind,
                 (unsigned long long)o->id, strerror(-rc));
        return -EAGAIN;
    }
    if (a.refresh)
        pull_refresh(p->fs, o->id);
    return 0;
}

static int do_drop(struct dbxfs *fs, metadb_txn *t, void *arg)
{
    return op_del(t, ((struct resolve *)arg)->op);
}

int push_drop(struct push *p, struct push_op *o)
{
    struct resolve a = { .op = o };
    return fs_write(p->fs, do_drop, &a);
}
