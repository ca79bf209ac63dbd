/* dirlist: the first look into a directory this device has never listed
 * fetches its children from dbxd (paged), folds them in with apply.c and
 * marks the directory listed; from then on the change feed keeps it
 * current and lookups and readdir never leave the machine. */
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apply.h"
#include "conn.h"
#include "dirlist.h"
#include "dbxfs.h"
#include "log.h"
#include "node.h"
#include "shared.h"
#include "shared_list.h"
#include "tree.h"

static int is_listed(struct dbxfs *fs, uint64_t dir)
{
    struct cnode n;
    metadb_txn *t;
    int rc = metadb_begin(fs->db, 0, &t);

    if (rc)
        return rc;
    rc = metadb_node_get(t, dir, &n);
    metadb_abort(t);
    if (rc)
        return rc;
    if (n.type != NODE_DIR)
        return -ENOTDIR;
    return (n.flags & CN_LISTED) ? 1 : 0;
}

/* All pages of GET /v1/nodes/DIR/children, as one array. */
static int fetch_children(struct dbxfs *fs, uint64_t dir, cJSON **out)
{
    cJSON *all = cJSON_CreateArray(), *reply = NULL, *e, *next;
    char path[512], id[17], after[256 * 3 + 1] = "";
    long status;
    int rc;

    if (!all)
        return -ENOMEM;
    wire_id_format(dir, id);
    for (;;) {
        char *q = after[0] ? curl_easy_escape(NULL, after, 0) : NULL;
        snprintf(path, sizeof(path), "/v1/nodes/%s/children?limit=10000%s%s",
                 id, q ? "&after=" : "", q ? q : "");
        curl_free(q);
        if ((rc = conn_json(fs, "GET", path, NULL, &status, &reply)))
            goto out;
        if (status != 200) {
            rc = -conn_errno(status, reply);
            goto out;
        }
        while ((e = cJSON_DetachItemFromArray(cJSON_GetObjectItem(reply, "entries"), 0)))
            cJSON_AddItemToArray(all, e);
        next = cJSON_GetObjectItem(reply, "next");
        if (!cJSON_IsString(next))
            break;
        snprintf(after, sizeof(after), "%s", next->valuestring);
        cJSON_Delete(reply);
        reply = NULL;
    }
out:
    cJSON_Delete(reply);
    if (rc)
        cJSON_Delete(all);
    else
        *out = all;
    return rc;
}

struct merge_arg {
    uint64_t dir;
    const cJSON *listing;
    struct apply_notes notes;
};

/* From now on the feed's events for dir's children are kept: those that
 * come while the listing is on its way are then not lost, and the
 * listing's own entries are taken only where they are newer. */
static int do_track(struct dbxfs *fs, metadb_txn *t, void *arg)
{
    struct cnode dir;
    int rc = metadb_node_get(t, *(uint64_t *)arg, &dir);

    if (rc || (dir.flags & CN_TRACKED))
        return rc;
    dir.flags |= CN_TRACKED;
    return metadb_node_put(t, &dir);
}

/* The listing's entries go into the mirror like events. Nothing is taken
 * away for being absent from it: whatever left the directory before the
 * listing did so in an event the feed still has to bring (it came after
 * the cursor, or the directory would have been tracked already). */
static int do_merge(struct dbxfs *fs, metadb_txn *t, void *arg)
{
    struct merge_arg *a = arg;
    struct cnode dir, n;
    const cJSON *e;
    int rc = metadb_node_get(t, a->dir, &dir);

    if (rc || (dir.flags & CN_LISTED))
        return rc;
    cJSON_ArrayForEach(e, a->listing) {
        memset(&n, 0, sizeof(n));
        if (node_from_wire(e, &n) == 0 && n.parent == a->dir &&
            (rc = apply_remote(fs, t, &n, &a->notes)))
            return rc;
    }
    if ((rc = metadb_node_get(t, a->dir, &dir)))
        return rc;
    dir.flags |= CN_LISTED | CN_TRACKED;
    return metadb_node_put(t, &dir);
}

int dirlist_ensure(struct dbxfs *fs, uint64_t dir)
{
    struct merge_arg a = { .dir = dir };
    cJSON *listing = NULL;
    int rc = is_listed(fs, dir);

    if (rc)
        return rc < 0 ? rc : 0;
    if (dir == SHARED_ID)
        return shared_list(fs);
    if ((rc = fs_write(fs, do_track, &dir)))
        return rc;
    atomic_fetch_add(&fs->listings, 1);
    rc = fetch_children(fs, dir, &listing);
    if (rc) {
        atomic_fetch_sub(&fs->listings, 1);
        log_warn("cannot list directory %016llx: %s", (unsigned long long)dir,
                 rc == -EIO ? "dbxd unreachable" : strerror(-rc));
        return rc == -ENOENT ? -ENOENT : -EIO;
    }
    a.listing = listing;
    rc = fs_write(fs, do_merge, &a);
    atomic_fetch_sub(&fs->listings, 1);
    apply_notes_send_async(fs, &a.notes);
    cJSON_Delete(listing);
    return rc;
}
