/* apply: see apply.h. The decisions are plan.c's; this file gathers what
 * they look at and carries them out on the local store. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apply.h"
#include "idlist.h"
#include "log.h"
#include "ofile.h"
#include "oplog.h"
#include "plan.h"
#include "shared.h"
#include "staging.h"
#include "tree.h"

#define WORK_WALK_MAX 100000      /* nodes looked at below a directory */
#define PLACE_DEPTH 4             /* name holders reconciled to free a name */

static int reconcile(struct dbxfs *fs, metadb_txn *t, uint64_t id, int depth,
                     struct apply_notes *notes);

/* ---- what the plan looks at ---- */

static int has_work(metadb_txn *t, const struct cnode *n)
{
    uint64_t gen;

    return (n->flags & CN_LOCAL) || metadb_pending(t, n->id) > 0 ||
           metadb_dirty_get(t, n->id, &gen) == 0;
}

/* 1 when a node below dir has local work (or there are too many to tell). */
static int work_below(metadb_txn *t, uint64_t dir)
{
    struct idlist s = { 0 };
    struct cnode n;
    size_t seen = 0;
    /* A directory that cannot be read counts as one with work. */
    int found = metadb_dirent_each(t, dir, NULL, idlist_push_child, &s) != 0;

    while (!found && s.n > 0) {
        uint64_t id = s.ids[--s.n];
        if (++seen > WORK_WALK_MAX)
            found = 1;
        else if (metadb_node_get(t, id, &n) == 0) {
            found = has_work(t, &n);
            if (!found && n.type == NODE_DIR)
                found = metadb_dirent_each(t, id, NULL, idlist_push_child, &s) != 0;
        }
    }
    idlist_free(&s);
    return found;
}

/* Does this device follow the children of dir (their events go into the
 * mirror and the local tree)? */
static int is_tracked(metadb_txn *t, uint64_t dir)
{
    struct cnode p;

    return metadb_node_get(t, dir, &p) == 0 && p.type == NODE_DIR &&
           (p.flags & CN_TRACKED);
}

struct view {
    struct plan_node v;
    struct cnode local, remote;
};

static int gather(metadb_txn *t, uint64_t id, struct view *w)
{
    uint64_t gen;
    int rc;

    memset(w, 0, sizeof(*w));
    /* An orphan (unlinked, still open) is out of the tree already: its
     * record only serves its handles until the last close. */
    if ((rc = metadb_node_get(t, id, &w->local)) == 0 && !(w->local.flags & CN_ORPHAN))
        w->v.local = &w->local;
    else if (rc && rc != -ENOENT)
        return rc;
    if ((rc = metadb_remote_get(t, id, &w->remote)) == 0)
        w->v.remote = &w->remote;
    else if (rc != -ENOENT)
        return rc;
    w->v.remote_gone = metadb_rgone_get(t, id);
    w->v.gone = metadb_gone_get(t, id, &w->v.gone_rev) == 0;
    w->v.pending = metadb_pending(t, id);
    w->v.dirty = metadb_dirty_get(t, id, &gen) == 0;
    if (w->v.local && (w->local.flags & CN_SHARE_ROOT) && w->v.remote) {
        /* Shown in Shared with me, wherever its owner keeps it. */
        w->remote.parent = w->local.parent;
        memcpy(w->remote.name, w->local.name, sizeof(w->remote.name));
        w->v.tracked = 1;
    } else if (w->v.remote) {
        w->v.tracked = w->remote.parent == 0 || is_tracked(t, w->remote.parent);
    }
    if (w->v.local && w->local.type == NODE_DIR && (!w->v.remote || !w->v.tracked))
        w->v.work_below = work_below(t, id);
    if (w->v.local && w->local.parent) {
        uint64_t holder = 0;
        w->v.detached = metadb_dirent_get(t, w->local.parent, w->local.name, &holder) != 0 ||
                        holder != id;
    }
    return 0;
}

/* ---- carrying it out ---- */

/* Takes n out of its directory entry, if the entry is still n's. */
static int unlink_dirent(metadb_txn *t, const struct cnode *n, struct apply_notes *notes)
{
    uint64_t holder;
    int rc = 0;

    if (metadb_dirent_get(t, n->parent, n->name, &holder) == 0 && holder == n->id) {
        rc = metadb_dirent_del(t, n->parent, n->name);
        apply_note(notes, APPLY_DELETE, n->parent, n->id, n->name);
    }
    return rc;
}

/* Frees (parent, name) for n. 0 when free, 1 when the holder has local
 * work (or cannot be moved yet): n waits. */
static int free_name(struct dbxfs *fs, metadb_txn *t, const struct cnode *n, int depth,
                     struct apply_notes *notes)
{
    struct cnode o, ro;
    uint64_t holder;
    int rc;

    if (metadb_dirent_get(t, n->parent, n->name, &holder) || holder == n->id)
        return 0;
    if (holder == SHARED_ID || metadb_node_get(t, holder, &o) || has_work(t, &o))
        return 1;
    /* The holder may be on its way elsewhere: the mirror says where. */
    if (depth < PLACE_DEPTH && (rc = reconcile(fs, t, holder, depth + 1, notes)))
        return rc;
    if (metadb_dirent_get(t, n->parent, n->name, &holder) || holder == n->id)
        return 0;
    /* Still there, and the mirror puts it there too: the newer record wins
     * the name; the older is stale and waits for the feed to move it. */
    if (metadb_remote_get(t, holder, &ro) == 0 && ro.parent == n->parent &&
        strcmp(ro.name, n->name) == 0 && ro.rev > n->rev)
        return 1;
    rc = unlink_dirent(t, &o, notes);
    return rc ? rc : metadb_resync_put(t, holder);
}

/* Puts n (a new node, or old moved) at its parent and name. 1 when it
 * cannot go there yet. */
static int place(struct dbxfs *fs, metadb_txn *t, struct cnode *n, const struct cnode *old,
                 int depth, struct apply_notes *notes)
{
    int rc;

    if (n->type == NODE_DIR && tree_is_within(t, n->parent, n->id))
        return 1;                         /* a loop until our own move is answered */
    if ((rc = free_name(fs, t, n, depth, notes)))
        return rc;
    if (old && (rc = unlink_dirent(t, old, notes)))
        return rc;
    if ((rc = metadb_node_put(t, n)) == 0)
        rc = metadb_dirent_put(t, n->parent, n->name, n->id);
    apply_note(notes, APPLY_INVAL_ENTRY, n->parent, 0, n->name);
    return rc;
}

/* What a node placed under dir inherits: being in another user's tree,
 * and read-only there. */
static uint32_t inherited(metadb_txn *t, uint64_t dir)
{
    struct cnode p;

    if (dir == SHARED_ID || metadb_node_get(t, dir, &p))
        return 0;
    return p.flags & (CN_SHARED | CN_VIEWER);
}

static int add(struct dbxfs *fs, metadb_txn *t, const struct cnode *r, int depth,
               struct apply_notes *notes)
{
    struct cnode n = *r;

    if (r->parent == fs->root_id && strcmp(r->name, SHARED_NAME) == 0)
        return 0;                         /* the reserved name stays the virtual dir's */
    n.flags = inherited(t, r->parent);
    n.map_rev = 0;
    return place(fs, t, &n, NULL, depth, notes);
}

/* The content moved on at dbxd: what this device holds of the old one
 * goes, unless a handle writes it (then it waits for the last close). */
static int take_content(struct dbxfs *fs, const struct cnode *l, struct cnode *n,
                        struct apply_notes *notes)
{
    struct staging_ref copy = { fs->cache_dir, l->id };

    if (!ofile_drop_copy(fs->files, l->id, staging_drop, &copy)) {
        n->size = l->size;
        n->content_rev = l->content_rev;
        n->mtime = l->mtime;
        return 1;
    }
    n->flags &= ~CN_COPY;
    apply_note(notes, APPLY_INVAL_DATA, 0, l->id, NULL);
    return 0;
}

static int take(struct dbxfs *fs, metadb_txn *t, const struct view *w, int depth,
                struct apply_notes *notes)
{
    const struct cnode *l = &w->local, *r = &w->remote;
    struct cnode n = *r;
    int waits = 0, rc;

    n.flags = l->flags;
    n.map_rev = l->map_rev;
    if (w->v.dirty) {
        /* The edit's base stays: its upload conflicts, dbxd keeps both. */
        n.size = l->size;
        n.content_rev = l->content_rev;
        n.mtime = l->mtime;
    } else if (l->type == NODE_FILE && r->content_rev != l->content_rev) {
        waits = take_content(fs, l, &n, notes);
    }
    apply_note(notes, APPLY_INVAL_INODE, 0, l->id, NULL);
    if (!w->v.detached && l->parent == n.parent && strcmp(l->name, n.name) == 0)
        rc = metadb_node_put(t, &n);
    else if ((rc = place(fs, t, &n, l, depth, notes)) == 1) {
        /* Not yet placeable: the rest of it now, the move later. */
        n.parent = l->parent;
        memcpy(n.name, l->name, sizeof(n.name));
        n.rev = l->rev;
        rc = metadb_node_put(t, &n);
        waits = 1;
    }
    return rc ? rc : waits;
}

/* Only the content, while the rest of the node waits for local work; it
 * waits on (1) for that. */
static int take_content_only(struct dbxfs *fs, metadb_txn *t, const struct view *w,
                             struct apply_notes *notes)
{
    struct cnode n = w->local;
    int rc;

    n.size = w->remote.size;
    n.content_rev = w->remote.content_rev;
    n.mtime = w->remote.mtime;
    take_content(fs, &w->local, &n, notes);
    rc = metadb_node_put(t, &n);
    return rc ? rc : 1;
}

/* A node below one being forgotten that the mirror has somewhere else
 * (a move of it waits for a name to be free): it is not part of what goes. */
static int on_its_way(metadb_txn *t, const struct cnode *n)
{
    struct cnode r;

    return metadb_remote_get(t, n->id, &r) == 0 && r.parent != n->parent &&
           is_tracked(t, r.parent);
}

/* Takes node cur (n) out of both trees; a directory's children are
 * queued on s to follow. */
static int forget_one(struct dbxfs *fs, metadb_txn *t, uint64_t cur, struct cnode *n,
                      struct idlist *s, struct apply_notes *notes)
{
    int rc;

    if (n->type == NODE_DIR &&
        (rc = metadb_dirent_each(t, cur, NULL, idlist_push_child, s)))
        return rc;
    if ((rc = unlink_dirent(t, n, notes)))
        return rc;
    if ((rc = tree_unlink_node(fs, t, n)))
        return rc;
    if ((rc = metadb_remote_del(t, cur)))
        return rc;
    return metadb_resync_del(t, cur);
}

/* Drops id's subtree from the local tree (what is open stays until its
 * last close) and, out of sight now, from the mirror. */
static int forget(struct dbxfs *fs, metadb_txn *t, uint64_t id, struct apply_notes *notes)
{
    struct idlist s = { 0 };
    struct cnode n;
    int rc = idlist_push(&s, id);

    if (rc)
        goto out;
    while (s.n > 0) {
        uint64_t cur = s.ids[--s.n];
        if (metadb_node_get(t, cur, &n) || (cur != id && has_work(t, &n)))
            continue;             /* what is left to send stays (its answer settles it) */
        if (cur != id && on_its_way(t, &n)) {
            /* dbxd has it elsewhere, and it goes there when it can */
            rc = unlink_dirent(t, &n, notes);
        } else {
            rc = forget_one(fs, t, cur, &n, &s, notes);
        }
        if (rc)
            goto out;
    }
out:
    idlist_free(&s);
    return rc;
}

static int carry_out(struct dbxfs *fs, metadb_txn *t, uint64_t id, struct view *w,
                     enum plan_step step, int depth, struct apply_notes *notes)
{
    switch (step) {
    case PLAN_KEEP:
        return 0;
    case PLAN_WAIT:
        return 1;
    case PLAN_TAKE:
        return take(fs, t, w, depth, notes);
    case PLAN_ADD:
        return add(fs, t, &w->remote, depth, notes);
    case PLAN_FORGET:
        return forget(fs, t, id, notes);
    case PLAN_RESURRECT:
        return tree_recreate(t, &w->local);
    case PLAN_UNGONE:
        return metadb_gone_del(t, id);
    case PLAN_TAKE_CONTENT:
        return take_content_only(fs, t, w, notes);
    }
    return -EINVAL;
}

static int reconcile(struct dbxfs *fs, metadb_txn *t, uint64_t id, int depth,
                     struct apply_notes *notes)
{
    struct view w;
    int rc = 0;

    /* UNGONE clears the way for a second step (a node made again after our
     * delete is added); nothing else leads to another. */
    for (int round = 0; round < 2; round++) {
        enum plan_step step;
        if ((rc = gather(t, id, &w)))
            return rc;
        step = plan_reconcile(&w.v);
        if (step != PLAN_KEEP)
            log_debug("sync %016llx \"%s\": %s (rev %llu/%llu, pending %llu%s%s%s%s)",
                      (unsigned long long)id, w.v.local ? w.local.name : w.remote.name,
                      plan_step_name(step), (unsigned long long)w.local.rev,
                      (unsigned long long)w.remote.rev, (unsigned long long)w.v.pending,
                      w.v.dirty ? ", dirty" : "", w.v.gone ? ", gone" : "",
                      w.v.remote_gone ? ", deleted there" : "",
                      w.v.remote && !w.v.tracked ? ", out of sight" : "");
        rc = carry_out(fs, t, id, &w, step, depth, notes);
        if (rc || step != PLAN_UNGONE)
            break;
    }
    if (rc == 1)
        return metadb_resync_put(t, id);
    return rc ? rc : metadb_resync_del(t, id);
}

int apply_reconcile(struct dbxfs *fs, metadb_txn *t, uint64_t id, struct apply_notes *notes)
{
    return reconcile(fs, t, id, 0, notes);
}

/* ---- the mirror ---- */

int apply_remote(struct dbxfs *fs, metadb_txn *t, const struct cnode *srv,
                 struct apply_notes *notes)
{
    struct cnode old, l;
    int known = metadb_remote_get(t, srv->id, &old) == 0;
    uint64_t dead = metadb_rgone_get(t, srv->id);
    int rc;

    /* Only what this device follows: a child of a tracked directory, or a
     * node it has already. */
    if (!known && srv->parent != 0 && !is_tracked(t, srv->parent) &&
        metadb_node_get(t, srv->id, &l) != 0)
        return 0;
    if (dead && dead >= srv->rev)
        return 0;                         /* deleted since this record */
    /* Older news changes nothing in the mirror; the node is reconciled all
     * the same (a listing of a directory just tracked places it now). */
    if (!known || old.rev < srv->rev) {
        if ((rc = metadb_remote_put(t, srv)))
            return rc;
        if ((rc = metadb_rgone_del(t, srv->id)))
            return rc;
    }
    return reconcile(fs, t, srv->id, 0, notes);
}

int apply_remote_delete(struct dbxfs *fs, metadb_txn *t, uint64_t id, uint64_t seq,
                        struct apply_notes *notes)
{
    struct cnode old;
    int rc;

    if (id == SHARED_ID)
        return 0;
    if (metadb_remote_get(t, id, &old) == 0 && old.rev > seq)
        return 0;                         /* made again since */
    if ((rc = metadb_remote_del(t, id)))
        return rc;
    if ((rc = metadb_rgone_put(t, id, seq)))
        return rc;
    return reconcile(fs, t, id, 0, notes);
}

int apply_share_root(struct dbxfs *fs, metadb_txn *t, const struct cnode *srv,
                     const char *name, struct apply_notes *notes)
{
    struct cnode old, n;
    int rc = 0;

    if (metadb_remote_get(t, srv->id, &old) != 0 || old.rev < srv->rev)
        rc = metadb_remote_put(t, srv);
    if (rc || metadb_node_get(t, srv->id, &n) == 0)
        return rc ? rc : reconcile(fs, t, srv->id, 0, notes);
    n = *srv;
    n.parent = SHARED_ID;
    snprintf(n.name, sizeof(n.name), "%s", name);
    n.flags = CN_SHARED | CN_SHARE_ROOT;
    n.map_rev = 0;
    rc = place(fs, t, &n, NULL, 0, notes);
    return rc == 1 ? metadb_resync_put(t, n.id) : rc;
}

int apply_has_work(metadb_txn *t, const struct cnode *n)
{
    uint64_t gen;

    if (metadb_dirty_get(t, n->id, &gen) == 0)
        return 1;
    return n->type == NODE_DIR && work_below(t, n->id);
}

int apply_forget(struct dbxfs *fs, metadb_txn *t, uint64_t id, struct apply_notes *notes)
{
    return forget(fs, t, id, notes);
}

int apply_resync(struct dbxfs *fs, metadb_txn *t, uint64_t *after, int max,
                 struct apply_notes *notes)
{
    uint64_t ids[64];
    int n, rc = 0;

    while (max > 0) {
        n = metadb_resync_list(t, *after, ids, max < 64 ? max : 64);
        if (n <= 0)
            return n < 0 ? n : 1;
        for (int i = 0; i < n; i++)
            if ((rc = reconcile(fs, t, ids[i], 0, notes)))
                break;
        *after = ids[n - 1];
        if (rc)
            return rc;
        max -= n;
    }
    return 0;
}

struct one {
    uint64_t id;
    struct apply_notes notes;
};

static int do_closed(struct dbxfs *fs, metadb_txn *t, void *arg)
{
    struct one *a = arg;
    return reconcile(fs, t, a->id, 0, &a->notes);
}

void apply_closed(struct dbxfs *fs, uint64_t id)
{
    struct one a = { id, { 0 } };

    fs_write(fs, do_closed, &a);
    apply_notes_send_async(fs, &a.notes);
}

/* ---- sweeping ---- */

#define SWEEP_CHUNK 256           /* nodes reconciled in one transaction */
#define SWEEP_EVERY_MS 200
#define PRUNE_CHUNK 1024

struct sweep {
    uint64_t after;
    int done;
    struct apply_notes notes;
};

static int do_sweep(struct dbxfs *fs, metadb_txn *t, void *arg)
{
    struct sweep *s = arg;
    int rc = apply_resync(fs, t, &s->after, SWEEP_CHUNK, &s->notes);

    s->done = rc == 1;
    return rc < 0 ? rc : 0;
}

void apply_sweep(struct dbxfs *fs, long long now_ms)
{
    struct sweep s = { 0 };
    long long last = atomic_load(&fs->last_sweep);
    metadb_txn *t;
    uint64_t waiting = 0;

    if (now_ms - last < SWEEP_EVERY_MS ||
        !atomic_compare_exchange_strong(&fs->last_sweep, &last, now_ms))
        return;
    if (metadb_begin(fs->db, 0, &t) == 0) {
        waiting = metadb_resync_count(t);
        metadb_abort(t);
    }
    while (waiting > 0 && !s.done && fs_write(fs, do_sweep, &s) == 0)
        ;
    apply_notes_send(fs, &s.notes);
}

/* Remote tombstones guard against older news of a deleted node; once no
 * listing is in flight and the node is in neither tree, nothing older can
 * come (the feed is in order), and they go. */
static int do_prune(struct dbxfs *fs, metadb_txn *t, void *arg)
{
    uint64_t ids[64], *after = arg, rev;
    struct cnode n;
    int count, rc = 0, seen = 0;

    do {
        count = metadb_rgone_list(t, *after, ids, 64);
        for (int i = 0; i < count; i++)
            if (metadb_node_get(t, ids[i], &n) == -ENOENT &&
                metadb_gone_get(t, ids[i], &rev) == -ENOENT &&
                (rc = metadb_rgone_del(t, ids[i])))
                break;
        if (count > 0)
            *after = ids[count - 1];
        seen += count;
        if (rc)
            break;
    } while (count == 64 && seen < PRUNE_CHUNK);
    if (count < 64)
        *after = 0;
    return rc ? rc : count < 0 ? count : 0;
}

void apply_prune(struct dbxfs *fs)
{
    static const int rounds = 16;
    uint64_t after = 0;

    for (int i = 0; i < rounds && atomic_load(&fs->listings) == 0; i++)
        if (fs_write(fs, do_prune, &after) || after == 0)
            break;
}
