/* plan: see plan.h. */
#include <string.h>

#include "plan.h"

/* A node this device removed: the tombstone stays until the mirror shows
 * the delete (or shows the node made again after it). */
static enum plan_step reconcile_gone(const struct plan_node *v)
{
    if (v->pending)
        return PLAN_WAIT;                 /* the delete is not answered yet */
    if (v->gone_rev == 0)
        return PLAN_UNGONE;               /* and never will be: the node comes back */
    if (v->remote && v->remote->rev <= v->gone_rev)
        return PLAN_WAIT;                 /* answered, not yet in the feed */
    return PLAN_UNGONE;
}

static enum plan_step reconcile_absent(const struct plan_node *v)
{
    if (v->gone)
        return reconcile_gone(v);
    if (v->remote && v->tracked && !v->pending)
        return PLAN_ADD;
    return PLAN_KEEP;
}

/* The mirror has no record: deleted on dbxd (a tombstone), or never known
 * (the root before its first listing, the virtual directory). */
static enum plan_step reconcile_unknown(const struct plan_node *v)
{
    if (!v->remote_gone)
        return PLAN_KEEP;
    if (v->remote_gone < v->local->rev)
        return PLAN_WAIT;                 /* made again since, by this device */
    return v->dirty || v->work_below ? PLAN_RESURRECT : PLAN_FORGET;
}

static int newer_content(const struct plan_node *v)
{
    const struct cnode *l = v->local, *r = v->remote;

    return r && l->type == NODE_FILE && r->type == NODE_FILE && !v->dirty &&
           !(l->flags & CN_LOCAL) && r->content_rev > l->content_rev;
}

static int same_time(struct wire_time a, struct wire_time b)
{
    return a.sec == b.sec && a.nsec == b.nsec;
}

/* Everything the mirror knows of the node is what the local record says. */
static int in_step(const struct plan_node *v)
{
    const struct cnode *l = v->local, *r = v->remote;
    int content = v->dirty || (l->size == r->size && l->content_rev == r->content_rev &&
                               same_time(l->mtime, r->mtime));

    return !v->detached && l->rev == r->rev && l->parent == r->parent &&
           strcmp(l->name, r->name) == 0 &&
           l->type == r->type && l->mode == r->mode && l->uid == r->uid &&
           l->gid == r->gid && strcmp(l->target, r->target) == 0 && content;
}

enum plan_step plan_reconcile(const struct plan_node *v)
{
    const struct cnode *l = v->local, *r = v->remote;

    if (!l)
        return reconcile_absent(v);
    /* What this device still has to send goes first: dbxd settles it, and
     * the answer comes back through the mirror. Content is apart from
     * names and attributes: newer content there, none here, is taken. */
    if (v->pending || (l->flags & CN_LOCAL))
        return newer_content(v) ? PLAN_TAKE_CONTENT : PLAN_WAIT;
    if (!r)
        return reconcile_unknown(v);
    if (r->rev < l->rev)
        return PLAN_WAIT;                 /* our own change, not yet in the feed */
    if (!v->tracked)
        return v->dirty || v->work_below ? PLAN_WAIT : PLAN_FORGET;
    return in_step(v) ? PLAN_KEEP : PLAN_TAKE;
}

const char *plan_step_name(enum plan_step s)
{
    static const char *const names[] = { "keep", "wait", "take", "add", "forget",
                                         "resurrect", "ungone", "take content" };
    return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] : "?";
}

/* ---- answers ---- */

static int is(const char *code, const char *want)
{
    return strcmp(code, want) == 0;
}

static enum plan_verdict delete_answer(long status, const char *code)
{
    if (status == 404)
        return PLAN_DONE;                 /* gone already: what we wanted */
    /* Refused because of work done elsewhere (a directory filled, a file
     * written since we saw it) or rights: the node comes back. */
    if ((status == 409 && is(code, "not_empty")) || status == 412 || status == 403)
        return PLAN_UNDELETE;
    return PLAN_PARK;
}

static enum plan_verdict upload_answer(const struct plan_reply *r, const char *code)
{
    if (r->status == 404)
        return PLAN_RECREATE;             /* deleted elsewhere while edited here */
    if (r->status == 403)
        return PLAN_RELOCATE;
    if (r->status == 409 && is(code, "missing_chunks"))
        return PLAN_RETRY;                /* a chunk went missing: send it again */
    return PLAN_PARK;
}

/* create and patch */
static enum plan_verdict node_answer(const struct plan_reply *r, const char *code)
{
    long s = r->status;

    if (s == 409 && is(code, "exists"))
        return r->existing_is_self ? PLAN_DONE : r->names_place ? PLAN_RENAME : PLAN_PARK;
    if (s == 409 && is(code, "reserved") && r->names_place)
        return PLAN_RENAME;
    if (s == 409 && r->replaces && (is(code, "not_empty") || is(code, "not_dir") ||
                                    is(code, "is_dir")))
        return PLAN_RENAME;               /* replace: what holds the name is another kind */
    if (s == 404 && r->op == PLAN_OP_PATCH && r->missing_is_self)
        return r->has_work ? PLAN_RECREATE : PLAN_REVERT;
    if (s == 404)
        return PLAN_REPARENT;
    if (s == 403)
        return r->op == PLAN_OP_CREATE ? PLAN_RELOCATE : PLAN_REVERT;
    if ((s == 400 && is(code, "invalid_move")) || s == 412)
        return PLAN_REVERT;               /* a move made a loop there, or went stale */
    return PLAN_PARK;
}

enum plan_verdict plan_answer(const struct plan_reply *r)
{
    const char *code = r->code ? r->code : "";
    long s = r->status;
    enum plan_verdict v;

    if (s >= 200 && s < 300)
        return PLAN_DONE;
    /* No answer, or not one about the operation: the same again later. */
    if (s == 0 || s == 401 || s == 408 || s == 429 || s == 503)
        return PLAN_RETRY;
    if (s == 507)
        return PLAN_PARK;                 /* no room on dbxd: not soon */
    if (s >= 500)
        return r->failures + 1 >= PLAN_MAX_FAILURES ? PLAN_PARK : PLAN_RETRY;
    if (r->op == PLAN_OP_DELETE)
        return delete_answer(s, code);
    v = r->op == PLAN_OP_UPLOAD ? upload_answer(r, code) : node_answer(r, code);
    /* Removed here since it was queued: a later delete settles it, and
     * nothing of it needs to reach dbxd. */
    if (r->local_gone && (v == PLAN_RENAME || v == PLAN_REPARENT || v == PLAN_RECREATE ||
                          v == PLAN_RELOCATE))
        return r->op == PLAN_OP_UPLOAD ? PLAN_DONE : PLAN_REVERT;
    return v;
}

const char *plan_verdict_name(enum plan_verdict v)
{
    static const char *const names[] = { "done", "retry", "rename", "reparent", "recreate",
                                         "revert", "undelete", "relocate", "park" };
    return (unsigned)v < sizeof(names) / sizeof(names[0]) ? names[v] : "?";
}
