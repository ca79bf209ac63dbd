/* shared_list: see shared_list.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "apply.h"
#include "idlist.h"
#include "conn.h"
#include "log.h"
#include "node.h"
#include "shared.h"
#include "shared_list.h"
#include "tree.h"

struct merge {
    const cJSON *entries;
    struct apply_notes notes;
};

static int listed(const cJSON *entries, uint64_t id)
{
    const cJSON *e;
    uint64_t x;

    cJSON_ArrayForEach(e, entries)
        if (wire_get_id(cJSON_GetObjectItem(e, "node"), "id", &x) == WIRE_OK && x == id)
            return 1;
    return 0;
}

/* Shares revoked (or gone) since the last listing leave the directory. */
static int drop_revoked(struct dbxfs *fs, metadb_txn *t, struct merge *m)
{
    struct idlist c = { 0 };
    struct cnode n;
    int rc = metadb_dirent_each(t, SHARED_ID, NULL, idlist_push_child, &c);

    if (rc)
        goto out;
    for (size_t i = 0; i < c.n; i++) {
        if (listed(m->entries, c.ids[i]) || metadb_node_get(t, c.ids[i], &n))
            continue;
        if ((rc = apply_forget(fs, t, n.id, &m->notes)))
            goto out;
    }
out:
    idlist_free(&c);
    return rc;
}

/* NAME, or `NAME (OWNER)` when another entry has the same name. */
static void display_name(const cJSON *entries, const char *name, const char *owner,
                         char out[256])
{
    const cJSON *e;
    int same = 0;

    cJSON_ArrayForEach(e, entries) {
        const cJSON *nm = cJSON_GetObjectItem(cJSON_GetObjectItem(e, "node"), "name");
        same += cJSON_IsString(nm) && strcmp(nm->valuestring, name) == 0;
    }
    if (same < 2) {
        snprintf(out, 256, "%s", name);
        return;
    }
    int room = 255 - (int)strlen(owner) - 3;
    snprintf(out, 256, "%.*s (%s)", room > 0 ? room : 0, name, owner);
}

/* A role changed: the nodes already known below the share root took the
 * old one when they were placed, and take the new one now. */
static int set_role_below(metadb_txn *t, uint64_t root, int viewer,
                          struct apply_notes *notes)
{
    struct idlist s = { 0 };
    struct cnode n;
    int rc = idlist_push(&s, root);

    if (rc)
        goto out;
    while (s.n > 0) {
        uint64_t id = s.ids[--s.n];
        if (metadb_node_get(t, id, &n))
            continue;
        if (id != root) {
            n.flags = viewer ? n.flags | CN_VIEWER : n.flags & ~CN_VIEWER;
            rc = metadb_node_put(t, &n);
            apply_note(notes, APPLY_INVAL_INODE, 0, id, NULL);
            if (rc)
                goto out;
        }
        if (n.type == NODE_DIR &&
            (rc = metadb_dirent_each(t, id, NULL, idlist_push_child, &s)))
            goto out;
    }
out:
    idlist_free(&s);
    return rc;
}

static int place_entry(struct dbxfs *fs, metadb_txn *t, const cJSON *e, struct merge *m)
{
    const cJSON *role = cJSON_GetObjectItem(e, "role"), *owner = cJSON_GetObjectItem(e, "owner");
    struct cnode srv, n;
    char name[256];
    int rc;

    memset(&srv, 0, sizeof(srv));
    if (node_from_wire(cJSON_GetObjectItem(e, "node"), &srv) || !cJSON_IsString(owner))
        return 0;                    /* nothing this version can show */
    display_name(m->entries, srv.name, owner->valuestring, name);
    rc = apply_share_root(fs, t, &srv, name, &m->notes);
    if (rc || metadb_node_get(t, srv.id, &n))
        return rc;
    int renamed = n.parent == SHARED_ID && strcmp(n.name, name) != 0;
    if (renamed) {
        /* Known already, and its display name changed (a clash came or went). */
        apply_note(&m->notes, APPLY_INVAL_ENTRY, SHARED_ID, 0, n.name);
        if ((rc = metadb_dirent_del(t, SHARED_ID, n.name)) && rc != -ENOENT)
            return rc;
        memcpy(n.name, name, sizeof(name));
        if ((rc = metadb_dirent_put(t, SHARED_ID, n.name, n.id)))
            return rc;
        apply_note(&m->notes, APPLY_INVAL_ENTRY, SHARED_ID, 0, n.name);
    }
    uint32_t was = n.flags;
    int viewer = !cJSON_IsString(role) || strcmp(role->valuestring, "editor") != 0;
    n.flags |= CN_SHARED | CN_SHARE_ROOT;
    n.flags = viewer ? n.flags | CN_VIEWER : n.flags & ~CN_VIEWER;
    if (n.flags == was && !renamed)
        return 0;                    /* every listing lists every share */
    if ((rc = metadb_node_put(t, &n)))
        return rc;
    apply_note(&m->notes, APPLY_INVAL_INODE, 0, n.id, NULL);
    return (was & CN_SHARE_ROOT) && (was ^ n.flags) & CN_VIEWER
               ? set_role_below(t, n.id, viewer, &m->notes) : 0;
}

static int do_merge(struct dbxfs *fs, metadb_txn *t, void *arg)
{
    struct merge *m = arg;
    struct cnode dir;
    const cJSON *e;
    int rc = metadb_node_get(t, SHARED_ID, &dir);

    if (rc)
        return rc;
    dir.flags |= CN_LISTED | CN_TRACKED;
    if ((rc = metadb_node_put(t, &dir)))
        return rc;
    if ((rc = drop_revoked(fs, t, m)))
        return rc;
    cJSON_ArrayForEach(e, m->entries)
        if ((rc = place_entry(fs, t, e, m)))
            return rc;
    return 0;
}

/* GET /v1/shared. *reply, whatever the outcome, is the caller's to free. */
static int fetch_shared(struct dbxfs *fs, cJSON **reply)
{
    long status = 0;
    int rc = conn_json(fs, "GET", "/v1/shared", NULL, &status, reply);

    if (rc)
        return rc;
    return status == 200 ? 0 : -conn_errno(status, *reply);
}

int shared_list(struct dbxfs *fs)
{
    struct merge m = { 0 };
    cJSON *reply = NULL;
    int rc;

    atomic_fetch_add(&fs->listings, 1);   /* its records may be older than a tombstone */
    rc = fetch_shared(fs, &reply);
    if (rc) {
        log_warn("cannot list %s: %s", SHARED_NAME,
                 rc == -EIO ? "dbxd unreachable" : strerror(-rc));
        goto out;
    }
    m.entries = cJSON_GetObjectItem(reply, "entries");
    rc = fs_write(fs, do_merge, &m);
    apply_note(&m.notes, APPLY_INVAL_INODE, 0, SHARED_ID, NULL);
    apply_notes_send_async(fs, &m.notes);
out:
    atomic_fetch_sub(&fs->listings, 1);
    cJSON_Delete(reply);
    return rc == -ENOENT ? -EIO : rc;
}
