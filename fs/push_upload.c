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
#include "conn.h"
#include "evict.h"
#include "log.h"
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
        if (busy || ofile_writing(p->fs->files, ids[i]) ||
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
    int repatch, refresh;              /* out */
};

static int do_committed(struct dbxfs *fs, metadb_txn *t, void *arg)
{
    struct committed *c = arg;
    struct cnode n, srv;
    uint64_t gen;
    int rc = metadb_node_get(t, c->id, &n);

    if (rc == -ENOENT)
        return 0;                       /* deleted here meanwhile */
    if (rc || node_from_wire(c->res->node, &srv))
        return rc ? rc : -EIO;
    /* The feed brought a newer revision while the upload ran, and being
     * dirty the node did not take its content: read it again. */
    if (n.rev > srv.rev) {
        n.rev = srv.rev;
        c->refresh = 1;
    }
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
        if (rc == 0 && c->repatch)
            rc = oplog_patch(t, &n, OPLOG_MTIME);
    }
    c->refresh |= apply_own_reply(&n, &srv);
    return rc ? rc : metadb_node_put(t, &n);
}

/* Deleted on the server while dirty here: create it again, then upload. */
static int do_recreate(struct dbxfs *fs, metadb_txn *t, void *arg)
{
    struct cnode n;
    int rc = metadb_node_get(t, *(uint64_t *)arg, &n);

    if (rc || (n.flags & (CN_LOCAL | CN_ORPHAN)))
        return rc == -ENOENT ? 0 : rc;
    n.flags |= CN_LOCAL;
    n.rev = n.content_rev = 0;
    rc = metadb_node_put(t, &n);
    return rc ? rc : oplog_create(t, &n);
}

static int settle(struct push *p, struct upload_slot *slot, const struct cnode *n,
                  uint64_t gen, const transfer_result *res, int rc)
{
    struct committed c = { n->id, gen, res, n->mtime, 0, 0 };

    if (rc == 0) {
        if (res->conflict) {
            atomic_fetch_add(&p->fs->conflicts, 1);
            log_warn("\"%s\" was changed elsewhere too: the other version is "
                     "kept as a conflicted copy", n->name);
        }
        rc = tree_write(p->fs, do_committed, &c);
        if (rc == 0)
            evict_note(p->fs, n->size);   /* the copy may be clean now */
        if (c.repatch)
            push_signal(p);
        if (c.refresh)
            pull_refresh(p->fs, n->id);
        return rc;
    }
    if (res->status == 404) {
        uint64_t id = n->id;
        rc = tree_write(p->fs, do_recreate, &id);
        push_signal(p);
        return rc ? rc : -EAGAIN;
    }
    log_info("upload of \"%s\" not done yet (%ld %s%s%s): will retry", n->name,
             res->status, res->error, res->message[0] ? ": " : "", res->message);
    return -EAGAIN;
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
    rc = settle(p, slot, &n, gen, &res, rc);
    transfer_result_free(&res);
    release_slot(p, slot);
    return rc;
}
