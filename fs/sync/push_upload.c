/* push: uploading one dirty file. Its staging file is sent whole through
 * a resumable upload session (common/transfer: only chunks dbxd lacks
 * cross the wire), based on the content revision the local edit started
 * from, so a concurrent edit elsewhere ends as a conflicted copy, not a
 * loss. The dirty mark goes only if no write happened meanwhile. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "apply.h"
#include "node.h"
#include "plan.h"
#include "conn.h"
#include "log.h"
#include "names.h"
#include "ofile.h"
#include "oplog.h"
#include "push.h"
#include "pull.h"
#include "push_int.h"
#include "staging.h"
#include "tree.h"

/* Picks, from one page of the dirty set, a node whose create has reached
 * the server and that no other slot is uploading. 0 and slot claimed,
 * -ENOENT (none in this page; *after is where the next page starts), or
 * -ENODATA at the end of the set. Called with push->mu held. */
static int claim_page(struct push *p, metadb_txn *t, struct upload_slot *slot,
                      uint64_t *after, struct cnode *n, uint64_t *gen)
{
    uint64_t ids[64];
    int count = metadb_dirty_list(t, *after, ids, 64);

    for (int i = 0; i < count; i++) {
        int busy = 0;
        for (int s = 0; s < PUSH_UPLOADERS; s++)
            busy |= p->slots[s].id == ids[i];
        /* An orphan was unlinked here: its bytes are not wanted anywhere. */
        if (busy || push_upload_parked(p, ids[i]) || ofile_writing(p->fs->files, ids[i]) ||
            metadb_node_get(t, ids[i], n) || (n->flags & (CN_LOCAL | CN_ORPHAN)) ||
            (slot->max_size && n->size > slot->max_size) ||
            metadb_dirty_get(t, ids[i], gen))
            continue;
        slot->id = n->id;
        snprintf(slot->name, sizeof(slot->name), "%s", n->name);
        memset(&slot->progress, 0, sizeof(slot->progress));
        slot->started_at = time(NULL);
        return 0;
    }
    if (count > 0)
        *after = ids[count - 1];
    return count < 64 ? -ENODATA : -ENOENT;
}

static int claim(struct push *p, struct upload_slot *slot, struct cnode *n,
                 uint64_t *gen)
{
    uint64_t after = 0;
    metadb_txn *t;
    int rc = metadb_begin(p->fs->db, 0, &t);

    if (rc)
        return rc;
    pthread_mutex_lock(&p->mu);
    do
        rc = claim_page(p, t, slot, &after, n, gen);
    while (rc == -ENOENT);
    pthread_mutex_unlock(&p->mu);
    metadb_abort(t);
    return rc == -ENODATA ? -ENOENT : rc;
}

int push_upload_parked(struct push *p, uint64_t id)
{
    time_t now = time(NULL);

    for (int i = 0; i < p->nparked; i++)
        if (p->parked[i].id == id)
            return p->parked[i].until > now;
    return 0;
}

void push_upload_park(struct push *p, const struct cnode *n, const transfer_result *res)
{
    struct upload_park *k = NULL;
    char why[200];
    long wait;

    snprintf(why, sizeof(why), "%ld %s%s%.140s", res->status, res->error,
             res->message[0] ? ": " : "", res->message);
    pthread_mutex_lock(&p->mu);
    for (int i = 0; i < p->nparked && !k; i++)
        if (p->parked[i].id == n->id)
            k = &p->parked[i];
    if (!k && p->nparked < PUSH_PARKED_MAX)
        k = &p->parked[p->nparked++];
    if (!k)
        k = &p->parked[n->id % PUSH_PARKED_MAX];  /* full: one older entry goes */
    if (k->id != n->id)
        memset(k, 0, sizeof(*k));
    k->id = n->id;
    k->times++;
    k->until = time(NULL) + (k->times > 8 ? 1800 : 10 << (k->times - 1));
    snprintf(k->name, sizeof(k->name), "%s", n->name);
    memcpy(k->why, why, sizeof(why));
    wait = (long)(k->until - time(NULL));
    pthread_mutex_unlock(&p->mu);
    log_warn("upload of \"%s\" refused (%s): set aside, tried again in %lds", n->name,
             why, wait);
}

static void unpark(struct push *p, uint64_t id)
{
    pthread_mutex_lock(&p->mu);
    for (int i = 0; i < p->nparked; i++)
        if (p->parked[i].id == id)
            p->parked[i] = p->parked[--p->nparked];
    pthread_mutex_unlock(&p->mu);
}

static void release_slot(struct push *p, struct upload_slot *slot)
{
    pthread_mutex_lock(&p->mu);
    slot->id = 0;
    pthread_mutex_unlock(&p->mu);
}

void push_upload_progress(void *arg, const transfer_progress *pr)
{
    struct upload_slot *slot = arg;

    pthread_mutex_lock(&slot->push->mu);
    slot->progress = *pr;
    pthread_mutex_unlock(&slot->push->mu);
}

struct committed {
    uint64_t id, gen;
    const transfer_result *res;
    struct wire_time mtime;            /* what the commit recorded */
    int repatch;                       /* out */
    struct apply_notes notes;
};

static int do_committed(struct dbxfs *fs, metadb_txn *t, void *arg)
{
    struct committed *c = arg;
    struct cnode n;
    uint64_t gen, rev = 0;
    int rc = metadb_node_get(t, c->id, &n);

    if (rc == -ENOENT)
        return 0;                       /* deleted here meanwhile */
    if (rc || wire_get_uint(c->res->node, "rev", UINT64_MAX, &rev) != WIRE_OK)
        return rc ? rc : -EIO;
    /* Ahead of the mirror until the feed echoes the commit (then the node
     * takes whatever dbxd has, which may be newer still). */
    if (rev > n.rev)
        n.rev = rev;
    n.content_rev = c->res->content_rev;
    if (metadb_dirty_get(t, c->id, &gen) == 0 && gen == c->gen) {
        n.flags &= ~CN_DIRTY;
        rc = metadb_dirty_del(t, c->id);
        /* The commit recorded the mtime of the upload's start; a utimens
         * since, or one still queued (it would land after the commit),
         * must end as this device's mtime. A newer write's upload sends
         * its own. */
        c->repatch = n.mtime.sec != c->mtime.sec || n.mtime.nsec != c->mtime.nsec ||
                     metadb_pending(t, c->id) > 0;
        if (rc)
            return rc;
        if (c->repatch && (rc = oplog_patch(t, &n, OPLOG_MTIME)))
            return rc;
    }
    if ((rc = metadb_node_put(t, &n)))
        return rc;
    return apply_reconcile(fs, t, c->id, &c->notes);
}

/* Deleted on the server while dirty here: created again, then uploaded. */
static int do_recreate(struct dbxfs *fs, metadb_txn *t, void *arg)
{
    struct cnode n;
    int rc = metadb_node_get(t, *(uint64_t *)arg, &n);

    if (rc || (n.flags & (CN_LOCAL | CN_ORPHAN)))
        return rc == -ENOENT ? 0 : rc;
    return tree_recreate(t, &n);
}

/* No right to write the file any more (a share lowered to viewer, or gone
 * with its owner's tree): what this device wrote becomes a new file of
 * this user's, in the root, under a conflicted-copy name, and the node
 * itself goes back to dbxd's version. Waits while the file is open. */
struct relocate {
    uint64_t id;
    struct apply_notes notes;
};

static int do_relocate(struct dbxfs *fs, metadb_txn *t, void *arg)
{
    struct relocate *a = arg;
    struct cnode n, copy;
    char path[STAGING_PATH_MAX];
    uint64_t gen, holder;
    unsigned tries = 0;
    int rc = metadb_node_get(t, a->id, &n);

    if (rc || ofile_is_open(fs->files, n.id) || metadb_dirty_get(t, n.id, &gen))
        return rc ? rc : -EBUSY;
    copy = n;
    copy.id = node_new_id();
    copy.parent = fs->root_id;
    copy.flags = CN_LOCAL | CN_DIRTY | CN_COPY;
    copy.rev = copy.content_rev = copy.map_rev = 0;
    do
        name_conflicted(n.name, fs->opts->device, time(NULL), ++tries, copy.name);
    while (metadb_dirent_get(t, copy.parent, copy.name, &holder) == 0 && tries < 100000);
    staging_path(fs->cache_dir, n.id, path);
    if ((rc = staging_commit(fs->cache_dir, copy.id, path)))
        return rc;
    log_warn("no right to write \"%s\" any more: what this device wrote is \"%s\" in "
             "your own folder", n.name, copy.name);
    n.flags &= ~(CN_DIRTY | CN_COPY);
    if ((rc = metadb_node_put(t, &n)) || (rc = metadb_dirty_del(t, n.id)) ||
        (rc = metadb_node_put(t, &copy)) ||
        (rc = metadb_dirent_put(t, copy.parent, copy.name, copy.id)) ||
        (rc = metadb_dirty_put(t, copy.id, gen)) || (rc = oplog_create(t, &copy)))
        return rc;
    apply_note(&a->notes, APPLY_INVAL_ENTRY, copy.parent, 0, copy.name);
    return apply_reconcile(fs, t, n.id, &a->notes);
}

static int committed(struct push *p, const struct cnode *n, uint64_t gen,
                     const transfer_result *res)
{
    struct committed c = { n->id, gen, res, n->mtime, 0, { 0 } };
    int rc;

    if (res->conflict) {
        atomic_fetch_add(&p->fs->conflicts, 1);
        log_warn("\"%s\" was changed elsewhere too: the other version is "
                 "kept as a conflicted copy", n->name);
    }
    rc = fs_write(p->fs, do_committed, &c);
    apply_notes_send(p->fs, &c.notes);
    if (rc)
        goto out;
    fs_copy_grew(p->fs, n->size);   /* the copy may be clean now */
out:
    if (c.repatch)
        push_signal(p);
    return rc;
}

/* The upload failed: what its answer leads to. */
static int refused(struct push *p, const struct cnode *n, const transfer_result *res)
{
    struct plan_reply r = { .op = PLAN_OP_UPLOAD, .status = res->status, .code = res->error };
    uint64_t id = n->id;
    int rc;

    switch (plan_answer(&r)) {
    case PLAN_RECREATE:
        rc = fs_write(p->fs, do_recreate, &id);
        push_signal(p);
        return rc;
    case PLAN_RELOCATE: {
        struct relocate a = { n->id, { 0 } };
        rc = fs_write(p->fs, do_relocate, &a);
        apply_notes_send(p->fs, &a.notes);
        if (rc) {
            push_upload_park(p, n, res);   /* open: relocated once closed */
            return 0;
        }
        push_signal(p);
        return 0;
    }
    case PLAN_PARK:
        push_upload_park(p, n, res);
        return 0;
    case PLAN_RETRY:
    default:
        log_info("upload of \"%s\" not done yet (%ld %s%s%s): will retry", n->name,
                 res->status, res->error, res->message[0] ? ": " : "", res->message);
        return -EAGAIN;
    }
}

static int settle(struct push *p, const struct cnode *n, uint64_t gen,
                  const transfer_result *res, int rc)
{
    if (rc)
        return refused(p, n, res);
    unpark(p, n->id);
    return committed(p, n, gen, res);
}

int push_upload_step(struct push *p, struct upload_slot *slot)
{
    transfer_result res;
    struct cnode n;
    uint64_t gen;
    char id[17];
    int fd, rc = claim(p, slot, &n, &gen);

    if (rc)
        return rc;
    /* O_NOATIME: the upload reading a copy is not a use of it (evict.c
     * ranks copies by atime). */
    fd = staging_open(p->fs->cache_dir, n.id, O_RDONLY | O_NOATIME);
    if (fd < 0) {
        release_slot(p, slot);
        return fd;
    }
    wire_id_format(n.id, id);
    struct timespec mtime = { n.mtime.sec, n.mtime.nsec };
    log_debug("upload %s \"%s\": %llu bytes on content_rev %llu, gen %llu", id, n.name,
              (unsigned long long)n.size, (unsigned long long)n.content_rev,
              (unsigned long long)gen);
    rc = transfer_upload_fd(slot->t, fd, id, (int64_t)n.content_rev, &mtime, &res);
    close(fd);
    log_debug("upload %s: %d, status %ld%s", id, rc, res.status,
              res.conflict ? ", the other version kept as a conflicted copy" : "");
    conn_note(p->fs, rc == 0 || res.status != 0, res.status);
    rc = settle(p, &n, gen, &res, rc);
    transfer_result_free(&res);
    release_slot(p, slot);
    return rc;
}
