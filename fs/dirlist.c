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
#include "dbxfs.h"
#include "idlist.h"
#include "log.h"
#include "shared.h"
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
    int rc = all ? 0 : -ENOMEM;

    wire_id_format(dir, id);
    while (rc == 0) {
        char *q = after[0] ? curl_easy_escape(NULL, after, 0) : NULL;
        snprintf(path, sizeof(path), "/v1/nodes/%s/children?limit=10000%s%s",
                 id, q ? "&after=" : "", q ? q : "");
        curl_free(q);
        rc = conn_json(fs, "GET", path, NULL, &status, &reply);
        if (rc == 0 && status != 200)
            rc = -node_api_errno(status, reply);
        if (rc)
            break;
        while ((e = cJSON_DetachItemFromArray(cJSON_GetObjectItem(reply, "entries"), 0)))
            cJSON_AddItemToArray(all, e);
        next = cJSON_GetObjectItem(reply, "next");
        if (!cJSON_IsString(next))
            break;
        snprintf(after, sizeof(after), "%s", next->valuestring);
        cJSON_Delete(reply);
        reply = NULL;
    }
    cJSON_Delete(reply);
    if (rc)
        cJSON_Delete(all);
    else
        *out = all;
    return rc;
}

static int cmp_id(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The listing's ids, sorted, for bsearch. */
static uint64_t *listing_ids(const cJSON *listing, size_t *n)
{
    uint64_t *ids = malloc(((size_t)cJSON_GetArraySize(listing) + 1) * sizeof(*ids));
    const cJSON *e;

    *n = 0;
    if (!ids)
        return NULL;
    cJSON_ArrayForEach(e, listing)
        if (wire_get_id(e, "id", &ids[*n]) == WIRE_OK)
            (*n)++;
    qsort(ids, *n, sizeof(*ids), cmp_id);
    return ids;
}

struct merge_arg {
    uint64_t dir;
    const cJSON *listing;
    struct apply_notes notes;
};

/* Local children the server did not list were deleted there (unless
 * this device made them and has not pushed them yet: apply knows). */
static int drop_unlisted(struct dbxfs *fs, metadb_txn *t, struct merge_arg *a)
{
    struct idlist s = { 0 };
    size_t nlisted;
    uint64_t *listed = listing_ids(a->listing, &nlisted);
    int rc = listed ? metadb_dirent_each(t, a->dir, NULL, idlist_push_child, &s) : -ENOMEM;

    for (size_t i = 0; rc == 0 && i < s.n; i++)
        if (!bsearch(&s.ids[i], listed, nlisted, sizeof(*listed), cmp_id))
            rc = apply_delete(fs, t, s.ids[i], &a->notes);
    idlist_free(&s);
    free(listed);
    return rc;
}

static int do_merge(struct dbxfs *fs, metadb_txn *t, void *arg)
{
    struct merge_arg *a = arg;
    struct cnode dir, n;
    const cJSON *e;
    int rc = metadb_node_get(t, a->dir, &dir);

    if (rc || (dir.flags & CN_LISTED))
        return rc;
    dir.flags |= CN_LISTED;     /* first: apply places children of listed dirs */
    rc = metadb_node_put(t, &dir);
    if (rc == 0)
        rc = drop_unlisted(fs, t, a);
    cJSON_ArrayForEach(e, a->listing) {
        if (rc)
            break;
        memset(&n, 0, sizeof(n));
        if (node_from_wire(e, &n) == 0 && n.parent == a->dir)
            rc = apply_upsert(fs, t, &n, &a->notes);
    }
    return rc;
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
    rc = fetch_children(fs, dir, &listing);
    if (rc) {
        log_warn("cannot list directory %016llx: %s", (unsigned long long)dir,
                 rc == -EIO ? "dbxd unreachable" : strerror(-rc));
        return rc == -ENOENT ? -ENOENT : -EIO;
    }
    a.listing = listing;
    rc = tree_write(fs, do_merge, &a);
    apply_notes_send_async(fs, &a.notes);
    cJSON_Delete(listing);
    return rc;
}
