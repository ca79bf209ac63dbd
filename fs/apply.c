/* apply: see apply.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "apply.h"
#include "ofile.h"
#include "oplog.h"
#include "shared.h"
#include "staging.h"
#include "tree.h"

void apply_note(struct apply_notes *notes, int kind, uint64_t parent,
                uint64_t id, const char *name)
{
    if (notes->n == notes->cap) {
        size_t cap = notes->cap ? notes->cap * 2 : 16;
        struct apply_note *v = realloc(notes->v, cap * sizeof(*v));
        if (!v)
            return;   /* a missed notification only delays what the kernel shows */
        notes->v = v;
        notes->cap = cap;
    }
    notes->v[notes->n] = (struct apply_note){ kind, parent, id, "" };
    if (name)
        snprintf(notes->v[notes->n].name, 256, "%s", name);
    notes->n++;
}

/* Local state that the server's answer must not override. */
static int local_ahead(metadb_txn *t, const struct cnode *l)
{
    return metadb_pending(t, l->id) > 0 || (l->flags & (CN_LOCAL | CN_ORPHAN));
}

static int parent_listed(metadb_txn *t, uint64_t parent)
{
    struct cnode p;
    return metadb_node_get(t, parent, &p) == 0 && p.type == NODE_DIR &&
           (p.flags & CN_LISTED);
}

/* Links n under its parent/name. A name held by a node the server no longer
 * has there is dropped; one held by a local node not pushed yet wins for
 * now (the push settles it), and the parent is re-listed later. */
static int place(struct dbxfs *fs, metadb_txn *t, struct cnode *n,
                 struct apply_notes *notes)
{
    struct cnode o, dir;
    uint64_t occupant;
    int rc;

    if (metadb_dirent_get(t, n->parent, n->name, &occupant) == 0 &&
        occupant != n->id && metadb_node_get(t, occupant, &o) == 0) {
        /* The name is reserved for the virtual directory: the server's
         * node of that name stays hidden. */
        if (occupant == SHARED_ID)
            return metadb_node_del(t, n->id) == -EIO ? -EIO : 0;
        if (local_ahead(t, &o) || (o.flags & CN_DIRTY)) {
            if (metadb_node_get(t, n->parent, &dir) == 0) {
                dir.flags &= ~CN_LISTED;
                metadb_node_put(t, &dir);
            }
            return metadb_node_del(t, n->id) == -EIO ? -EIO : 0;
        }
        rc = tree_unlink_node(fs, t, &o);
        if (rc)
            return rc;
        apply_note(notes, APPLY_DELETE, o.parent, o.id, o.name);
    }
    rc = metadb_node_put(t, n);
    if (rc == 0)
        rc = metadb_dirent_put(t, n->parent, n->name, n->id);
    apply_note(notes, APPLY_INVAL_ENTRY, n->parent, 0, n->name);
    return rc;
}

/* The server's content moved on: drop what this device holds of the old
 * one, unless a handle has it open (then it waits for the last close). */
static void content_update(struct dbxfs *fs, const struct cnode *l,
                           struct cnode *n, struct apply_notes *notes)
{
    struct staging_ref copy = { fs->cache_dir, l->id };

    if (!ofile_drop_copy(fs->files, l->id, staging_drop, &copy)) {
        n->size = l->size;
        n->content_rev = l->content_rev;
        n->mtime = l->mtime;
        n->rev = l->rev;   /* so that the re-read after the last close applies */
        return;
    }
    n->flags &= ~CN_COPY;
    apply_note(notes, APPLY_INVAL_DATA, 0, l->id, NULL);
}

static int update_known(struct dbxfs *fs, metadb_txn *t, const struct cnode *l,
                        const struct cnode *srv, struct apply_notes *notes)
{
    struct cnode n = *srv;
    int moved = l->parent != srv->parent || strcmp(l->name, srv->name) != 0;
    int rc;

    n.flags = l->flags;
    n.map_rev = l->map_rev;
    if (l->flags & CN_DIRTY) {
        /* Keep the base the local edit derives from: the upload then
         * conflicts and the server keeps both versions. */
        n.size = l->size;
        n.content_rev = l->content_rev;
        n.mtime = l->mtime;
    } else if (l->type == NODE_FILE && srv->content_rev != l->content_rev) {
        content_update(fs, l, &n, notes);
    }
    apply_note(notes, APPLY_INVAL_INODE, 0, l->id, NULL);
    if (!moved)
        return metadb_node_put(t, &n);
    rc = metadb_dirent_del(t, l->parent, l->name);
    if (rc && rc != -ENOENT)
        return rc;
    apply_note(notes, APPLY_INVAL_ENTRY, l->parent, 0, l->name);
    if (parent_listed(t, n.parent))
        return place(fs, t, &n, notes);
    /* Moved somewhere this device has not listed: forget it here. */
    return tree_unlink_node(fs, t, &n);
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

int apply_upsert(struct dbxfs *fs, metadb_txn *t, const struct cnode *srv,
                 struct apply_notes *notes)
{
    struct cnode l, n;
    int rc = metadb_node_get(t, srv->id, &l);

    if (rc == 0) {
        if (local_ahead(t, &l) || srv->rev <= l.rev)
            return 0;
        if ((l.flags & CN_SHARE_ROOT) && srv->parent != SHARED_ID) {
            /* In the owner's tree it lives elsewhere; here it stays an
             * entry of Shared with me (renamed at its next listing). */
            n = *srv;
            n.parent = l.parent;
            snprintf(n.name, sizeof(n.name), "%s", l.name);
            return update_known(fs, t, &l, &n, notes);
        }
        return update_known(fs, t, &l, srv, notes);
    }
    if (rc != -ENOENT)
        return rc;
    /* Deleted here (the delete maybe not even pushed yet): an older event
     * must not bring it back. */
    if (metadb_pending(t, srv->id) > 0 || metadb_gone_has(t, srv->id))
        return 0;
    if (srv->id == fs->root_id)
        return metadb_node_put(t, srv);
    if (!parent_listed(t, srv->parent))
        return 0;
    n = *srv;
    n.flags = inherited(t, n.parent);
    n.map_rev = 0;
    return place(fs, t, &n, notes);
}

/* Deleted on the server while edited here: the edit must not be lost, so
 * the node is created again (same id) and its content uploaded. */
static int resurrect(metadb_txn *t, struct cnode *l)
{
    l->flags |= CN_LOCAL;
    l->rev = l->content_rev = 0;
    int rc = metadb_node_put(t, l);
    return rc ? rc : oplog_create(t, l);
}

int apply_delete(struct dbxfs *fs, metadb_txn *t, uint64_t id,
                 struct apply_notes *notes)
{
    struct cnode l;
    uint64_t child;
    int rc = id == SHARED_ID ? -ENOENT : metadb_gone_del(t, id);

    if (rc == 0)
        rc = metadb_node_get(t, id, &l);
    if (rc == -ENOENT || (rc == 0 && local_ahead(t, &l)))
        return 0;
    if (rc)
        return rc;
    if (l.flags & CN_DIRTY)
        return resurrect(t, &l);
    if (metadb_dirent_get(t, l.parent, l.name, &child) == 0 && child == id) {
        rc = metadb_dirent_del(t, l.parent, l.name);
        if (rc)
            return rc;
        apply_note(notes, APPLY_DELETE, l.parent, id, l.name);
    }
    return tree_unlink_node(fs, t, &l);
}

int apply_own_reply(struct cnode *n, const struct cnode *srv)
{
    if (n->type == NODE_FILE && !(n->flags & CN_DIRTY) &&
        srv->content_rev != n->content_rev)
        return 1;
    if (srv->rev > n->rev) {
        n->rev = srv->rev;
        n->ctime = srv->ctime;
    }
    return 0;
}

void apply_notes_send(struct dbxfs *fs, struct apply_notes *notes)
{
    for (size_t i = 0; i < notes->n; i++) {
        struct apply_note *a = &notes->v[i];
        switch (a->kind) {
        case APPLY_INVAL_ENTRY: fs_inval_entry(fs, a->parent, a->name); break;
        case APPLY_INVAL_INODE: fs_inval_inode(fs, a->id, 0); break;
        case APPLY_INVAL_DATA: fs_inval_inode(fs, a->id, 1); break;
        case APPLY_DELETE: fs_notify_delete(fs, a->parent, a->id, a->name); break;
        }
    }
    free(notes->v);
    memset(notes, 0, sizeof(*notes));
}

struct async_notes {
    struct dbxfs *fs;
    struct apply_notes notes;
};

static void *send_later(void *arg)
{
    struct async_notes *a = arg;
    struct dbxfs *fs = a->fs;

    apply_notes_send(fs, &a->notes);
    free(a);
    atomic_fetch_sub(&fs->notifiers, 1);
    return NULL;
}

void apply_notes_send_async(struct dbxfs *fs, struct apply_notes *notes)
{
    struct async_notes *a;
    pthread_attr_t attr;
    pthread_t t;

    if (notes->n == 0 || !(a = malloc(sizeof(*a)))) {
        apply_notes_send(fs, notes);   /* nothing to send, or best effort */
        return;
    }
    a->fs = fs;
    a->notes = *notes;
    memset(notes, 0, sizeof(*notes));
    atomic_fetch_add(&fs->notifiers, 1);
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&t, &attr, send_later, a)) {
        /* Without a thread, dropping the notes is safer than a deadlock:
         * the kernel's caches then expire on their timeouts. */
        free(a->notes.v);
        free(a);
        atomic_fetch_sub(&fs->notifiers, 1);
    }
    pthread_attr_destroy(&attr);
}

void apply_notes_drain(struct dbxfs *fs)
{
    while (atomic_load(&fs->notifiers) > 0)
        usleep(10000);
}
