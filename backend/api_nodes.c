/* GET/POST/PATCH/DELETE /v1/nodes[/{id}[/children]] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "change.h"
#include "names.h"

#define LIST_DEFAULT 1000
#define LIST_MAX 10000

enum MHD_Result api_node_get(struct http_req *r)
{
    struct dbx_node n;
    enum role role;
    ms_txn *t;
    int rc = ms_txn_begin(r->d->ms, 0, &t);
    if (rc)
        return http_reply_ms_error(r, rc);
    if (api_node_access(r, t, r->id, ROLE_VIEWER, &n, &role) == 0)
        http_reply_json(r, 200, change_node_json(t, &n, role));
    ms_txn_abort(t);
    return MHD_YES;
}

/* --- listing --- */

struct listing {
    ms_txn *t;
    enum role role;
    cJSON *entries;
    size_t count, limit;
    char last[256];
    int more, rc;
};

static int list_one(void *arg, uint64_t child, const char *name)
{
    struct listing *l = arg;
    struct dbx_node n;
    if (l->count == l->limit) {
        l->more = 1;
        return 1;
    }
    if ((l->rc = ms_node_get(l->t, child, &n)) != 0)
        return 1;
    cJSON *j = change_node_json(l->t, &n, l->role);
    if (!j || !cJSON_AddItemToArray(l->entries, j)) {
        l->rc = MS_IO;
        return 1;
    }
    snprintf(l->last, sizeof l->last, "%s", name);
    l->count++;
    return 0;
}

static enum MHD_Result list_children(struct http_req *r, ms_txn *t, const struct dbx_node *dir,
                                     enum role role)
{
    const char *after = http_query(r, "after");
    uint64_t limit = LIST_DEFAULT;
    if (api_query_uint(r, "limit", LIST_MAX, &limit) || limit == 0)
        return api_bad_field(r, "limit");
    if (after && name_check(after, strlen(after)) != NAME_OK)
        return api_bad_name(r, name_check(after, strlen(after)));
    if (dir->type != NODE_DIR)
        return http_reply_error(r, 409, "not_dir", "not a directory");
    struct listing l = {t, role, cJSON_CreateArray(), 0, limit, "", 0, 0};
    cJSON *j = cJSON_CreateObject();
    int rc = l.entries && j ? ms_dir_list(t, dir->id, after, list_one, &l) : MS_IO;
    if (rc > 0)
        rc = l.rc;  /* the walk stopped early: a full page, or l.rc */
    if (rc) {
        cJSON_Delete(l.entries);
        cJSON_Delete(j);
        return http_reply_ms_error(r, rc);
    }
    cJSON_AddItemToObject(j, "entries", l.entries);
    cJSON_AddItemToObject(j, "next", l.more ? cJSON_CreateString(l.last) : cJSON_CreateNull());
    return http_reply_json(r, 200, j);
}

enum MHD_Result api_node_children(struct http_req *r)
{
    struct dbx_node dir;
    enum role role;
    ms_txn *t;
    int rc = ms_txn_begin(r->d->ms, 0, &t);
    if (rc)
        return http_reply_ms_error(r, rc);
    if (api_node_access(r, t, r->id, ROLE_VIEWER, &dir, &role) == 0)
        list_children(r, t, &dir, role);
    ms_txn_abort(t);
    return MHD_YES;
}

/* --- create --- */

static const char *const create_keys[] = {"id", "parent", "name", "type", "mode", "uid", "gid",
                                          "mtime", "mtime_nsec", "target", NULL};

/* An optional 32-bit field: *out keeps its default when absent. */
static int read_u32(struct http_req *r, const char *key, uint64_t max, uint32_t *out)
{
    uint64_t v;
    int rc = wire_get_uint(r->json, key, max, &v);
    if (rc == WIRE_INVALID)
        return api_bad_field(r, key), -1;
    if (rc == WIRE_OK)
        *out = (uint32_t)v;
    return 0;
}

/* Reads the POST body into n; on failure a 400 is queued and -1 returned. */
static int read_create(struct http_req *r, struct dbx_node *n)
{
    const char *name, *type, *target = NULL;
    if (api_only_keys(r, create_keys))
        return -1;
    if (wire_get_id(r->json, "id", &n->id) != WIRE_OK)
        return http_reply_error(r, 400, "invalid_id", "field 'id' must be 16 hex digits, not zero"), -1;
    if (wire_get_id(r->json, "parent", &n->parent) != WIRE_OK)
        return http_reply_error(r, 400, "invalid_id", "field 'parent' must be 16 hex digits"), -1;
    if (wire_get_string(r->json, "type", &type) != WIRE_OK || wire_type_parse(type, &n->type))
        return api_bad_field(r, "type"), -1;
    if (api_get_name(r, "name", 1, &name))
        return -1;
    strcpy(n->name, name);
    n->mode = n->type == NODE_DIR ? 0755 : n->type == NODE_SYMLINK ? 0777 : 0644;
    if (read_u32(r, "mode", 07777, &n->mode) || read_u32(r, "uid", UINT32_MAX, &n->uid) ||
        read_u32(r, "gid", UINT32_MAX, &n->gid))
        return -1;
    n->mtime = api_now();
    if (wire_get_time(r->json, "mtime", &n->mtime) == WIRE_INVALID)
        return api_bad_field(r, "mtime"), -1;
    n->atime = n->mtime;
    int trc = wire_get_string(r->json, "target", &target);
    if (trc == WIRE_INVALID || (n->type == NODE_SYMLINK) != (trc == WIRE_OK))
        return api_bad_field(r, "target"), -1;
    if (target && (target[0] == '\0' || strlen(target) > WIRE_TARGET_MAX))
        return api_bad_field(r, "target"), -1;
    if (target)
        strcpy(n->target, target);
    return 0;
}

/* Removing a node from its directory, by a delete or a move, needs write
 * access to that directory, as unlink(2) and rename(2) do: a recipient
 * may edit a shared node but not take it out of its owner's directory
 * (leaving a share is DELETE /v1/nodes/{id}/shares/{self}). -1 with a 403
 * queued when the caller may not. */
static int may_take_out(struct http_req *r, ms_txn *t, const struct dbx_node *n)
{
    struct dbx_node parent;

    if (ms_node_get(t, n->parent, &parent) == 0 &&
        access_role(t, r->caller.uid, &parent) >= ROLE_EDITOR)
        return 0;
    return http_reply_error(r, 403, "forbidden", "the node's directory is not yours to "
                            "change: a share's root stays where its owner put it"), -1;
}

/* -1 with a 409 queued when name is the one the mount reserves in a root. */
static int reserved_name(struct http_req *r, const struct dbx_node *parent, const char *name)
{
    if (parent->parent != 0 || strcmp(name, NAME_RESERVED_AT_ROOT) != 0)
        return 0;
    return http_reply_error(r, 409, "reserved", "'%s' is reserved at the root: mounts "
                            "show what others shared there", NAME_RESERVED_AT_ROOT), -1;
}

static enum MHD_Result exists_error(struct http_req *r, uint64_t existing, const char *what)
{
    cJSON *extra = cJSON_CreateObject();
    wire_add_id(extra, "existing", existing);
    return http_reply_error_with(r, 409, "exists", what, extra);
}

/* With the transaction open: the checks and the write. 0 when the change
 * is ready to commit; 1 when an answer is already queued. */
static int create_in(struct http_req *r, struct change *c, struct dbx_node *n, int *replay)
{
    struct dbx_node parent, old;
    uint64_t existing;
    if (api_node_access(r, c->t, n->parent, ROLE_EDITOR, &parent, NULL))
        return 1;
    if (parent.type != NODE_DIR)
        return http_reply_error(r, 409, "not_dir", "the parent is not a directory"), 1;
    if (reserved_name(r, &parent, n->name))
        return 1;
    int rc = ms_node_get(c->t, n->id, &old);
    if (rc == 0) {
        if (old.parent == n->parent && old.type == n->type && strcmp(old.name, n->name) == 0) {
            *n = old;  /* a retry of a create that already happened */
            *replay = 1;
            return 0;
        }
        return exists_error(r, n->id, "a node with this id exists"), 1;
    }
    if (rc != MS_NOTFOUND)
        return http_reply_ms_error(r, rc), 1;
    if ((rc = ms_dirent_get(c->t, n->parent, n->name, &existing)) == 0)
        return exists_error(r, existing, "a node with this name exists in the directory"), 1;
    n->owner_uid = parent.owner_uid;
    if ((rc = change_put_node(c, n, 0, NULL)) != 0)
        return http_reply_ms_error(r, rc), 1;
    return 0;
}

enum MHD_Result api_node_create(struct http_req *r)
{
    struct dbx_node n;
    struct change c;
    enum role role;
    int replay = 0;
    memset(&n, 0, sizeof n);
    if (read_create(r, &n))
        return MHD_YES;
    int rc = change_begin(r->d, &c);
    if (rc)
        return http_reply_ms_error(r, rc);
    if (create_in(r, &c, &n, &replay) != 0) {
        change_abort(&c);
        return MHD_YES;
    }
    role = access_role(c.t, r->caller.uid, &n);
    cJSON *j = change_node_json(c.t, &n, role);
    if (replay)
        change_abort(&c);
    else if ((rc = change_commit(&c)) != 0) {
        cJSON_Delete(j);
        return http_reply_ms_error(r, rc);
    }
    return http_reply_json(r, replay ? 200 : 201, j);
}

/* --- patch: rename, move, attributes --- */

static const char *const patch_keys[] = {"parent", "name", "replace", "victim",
                                         "victim_content_rev", "mode", "uid", "gid",
                                         "atime", "atime_nsec", "mtime", "mtime_nsec",
                                         "if_rev", NULL};

struct patch {
    uint64_t parent;
    const char *name;
    int replace, has_mode, has_uid, has_gid, has_atime, has_mtime, has_if_rev;
    uint64_t mode, uid, gid, if_rev;
    /* replace: the node the caller means to replace, as it saw it (0: any) */
    uint64_t victim, victim_content_rev;
    int has_victim_content_rev;
    struct wire_time atime, mtime;
};

static int read_patch(struct http_req *r, struct patch *p)
{
    int rc;
    memset(p, 0, sizeof *p);
    if (api_only_keys(r, patch_keys))
        return -1;
    if ((rc = wire_get_id(r->json, "parent", &p->parent)) == WIRE_INVALID)
        return http_reply_error(r, 400, "invalid_id", "field 'parent' must be 16 hex digits"), -1;
    if (api_get_name(r, "name", 0, &p->name))
        return -1;
    struct { const char *key; uint64_t max; uint64_t *out; int *has; } nums[] = {
        {"mode", 07777, &p->mode, &p->has_mode}, {"uid", UINT32_MAX, &p->uid, &p->has_uid},
        {"gid", UINT32_MAX, &p->gid, &p->has_gid}, {"if_rev", WIRE_MAX_SAFE_INT, &p->if_rev, &p->has_if_rev},
    };
    for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) {
        if ((rc = wire_get_uint(r->json, nums[i].key, nums[i].max, nums[i].out)) == WIRE_INVALID)
            return api_bad_field(r, nums[i].key), -1;
        *nums[i].has = rc == WIRE_OK;
    }
    if ((rc = wire_get_time(r->json, "atime", &p->atime)) == WIRE_INVALID)
        return api_bad_field(r, "atime"), -1;
    p->has_atime = rc == WIRE_OK;
    if ((rc = wire_get_time(r->json, "mtime", &p->mtime)) == WIRE_INVALID)
        return api_bad_field(r, "mtime"), -1;
    p->has_mtime = rc == WIRE_OK;
    if (wire_get_bool(r->json, "replace", &p->replace) == WIRE_INVALID)
        return api_bad_field(r, "replace"), -1;
    if (wire_get_id(r->json, "victim", &p->victim) == WIRE_INVALID)
        return http_reply_error(r, 400, "invalid_id", "field 'victim' must be 16 hex digits"), -1;
    rc = wire_get_uint(r->json, "victim_content_rev", WIRE_MAX_SAFE_INT, &p->victim_content_rev);
    if (rc == WIRE_INVALID)
        return api_bad_field(r, "victim_content_rev"), -1;
    p->has_victim_content_rev = rc == WIRE_OK;
    return 0;
}

static enum MHD_Result rev_mismatch(struct http_req *r, ms_txn *t, const struct dbx_node *n, enum role role)
{
    cJSON *extra = cJSON_CreateObject();
    if (extra)
        cJSON_AddItemToObject(extra, "node", change_node_json(t, n, role));
    return http_reply_error_with(r, 412, "rev_mismatch", "the node changed since that revision", extra);
}

/* 1 when `ancestor` is `id` or one of its ancestors. */
static int is_within(ms_txn *t, uint64_t id, uint64_t ancestor)
{
    struct dbx_node cur;
    for (int depth = 0; id && depth < ACCESS_MAX_DEPTH; depth++) {
        if (id == ancestor)
            return 1;
        if (ms_node_get(t, id, &cur) != 0)
            return 0;
        id = cur.parent;
    }
    return 0;
}

/* The name's holder is not what the caller replaced on its side: another
 * node took the name, or the file's content changed since the caller saw
 * it. Its bytes then were never seen by the caller, and are kept. */
static int unseen_victim(const struct patch *p, const struct dbx_node *holder)
{
    if (p->victim && p->victim != holder->id)
        return 1;
    return p->has_victim_content_rev && holder->type == NODE_FILE &&
           holder->content_rev != p->victim_content_rev;
}

/* The target of a rename that takes an existing name, as rename(2) judges
 * it. 0: go on (*victim set when something is to be replaced; *keep when
 * it is to be kept aside, not deleted). */
static int check_target(struct http_req *r, ms_txn *t, const struct dbx_node *n,
                        const struct patch *p, uint64_t parent, const char *name,
                        struct dbx_node *victim, int *keep)
{
    uint64_t existing;
    victim->id = 0;
    *keep = 0;
    if (ms_dirent_get(t, parent, name, &existing) != 0 || existing == n->id)
        return 0;
    if (!p->replace)
        return exists_error(r, existing, "a node with this name exists in the directory"), -1;
    if (ms_node_get(t, existing, victim) != 0)
        return http_reply_ms_error(r, MS_CORRUPT), -1;
    if (n->type == NODE_DIR && victim->type != NODE_DIR)
        return http_reply_error(r, 409, "not_dir", "cannot replace a non-directory with a directory"), -1;
    if (n->type != NODE_DIR && victim->type == NODE_DIR)
        return http_reply_error(r, 409, "is_dir", "cannot replace a directory with a non-directory"), -1;
    *keep = victim->type != NODE_DIR && unseen_victim(p, victim);
    if (victim->type == NODE_DIR && !ms_dir_is_empty(t, victim->id)) {
        cJSON *extra = cJSON_CreateObject();
        wire_add_id(extra, "existing", victim->id);
        return http_reply_error_with(r, 409, "not_empty", "the directory to replace is not empty",
                                     extra), -1;
    }
    return 0;
}

/* Checks a rename/move and prepares it; *victim is what it replaces (kept
 * aside when *keep). */
static int plan_move(struct http_req *r, ms_txn *t, struct dbx_node *n, const struct patch *p,
                     struct dbx_node *victim, int *keep)
{
    struct dbx_node parent;
    uint64_t to = p->parent ? p->parent : n->parent;
    const char *name = p->name ? p->name : n->name;
    if (n->parent == 0)
        return http_reply_error(r, 403, "forbidden", "the root cannot be renamed or moved"), -1;
    if (may_take_out(r, t, n))
        return -1;
    if (api_node_access(r, t, to, ROLE_EDITOR, &parent, NULL))
        return -1;
    if (parent.type != NODE_DIR)
        return http_reply_error(r, 409, "not_dir", "the new parent is not a directory"), -1;
    if (parent.owner_uid != n->owner_uid)
        return http_reply_error(r, 403, "forbidden", "a node cannot move to another owner's tree"), -1;
    /* (a node that had the name before it was reserved may keep it) */
    if ((to != n->parent || strcmp(name, n->name) != 0) && reserved_name(r, &parent, name))
        return -1;
    if (n->type == NODE_DIR && is_within(t, to, n->id))
        return http_reply_error(r, 400, "invalid_move", "a directory cannot move into itself"), -1;
    if (check_target(r, t, n, p, to, name, victim, keep))
        return -1;
    n->parent = to;
    memmove(n->name, name, strlen(name) + 1);
    return 0;
}

static void apply_attrs(struct dbx_node *n, const struct patch *p)
{
    if (p->has_mode) n->mode = (uint32_t)p->mode;
    if (p->has_uid) n->uid = (uint32_t)p->uid;
    if (p->has_gid) n->gid = (uint32_t)p->gid;
    if (p->has_atime) n->atime = p->atime;
    if (p->has_mtime) n->mtime = p->mtime;
}

/* Moves a replaced node aside to a conflicted-copy name in its directory
 * instead of deleting it (last writer wins the name, no bytes lost). */
static int keep_aside(struct change *c, struct dbx_node *holder)
{
    char name[256];
    uint64_t existing;
    unsigned attempt = 1;

    do
        name_conflicted(holder->name, NULL, (time_t)c->now.sec, attempt, name);
    while (ms_dirent_get(c->t, holder->parent, name, &existing) == 0 && ++attempt < 100000);
    memcpy(holder->name, name, sizeof name);
    return change_put_node(c, holder, 0, NULL);
}

/* With the transaction open; 0 when ready to commit, else answered. */
static int patch_in(struct http_req *r, struct change *c, const struct patch *p,
                    struct dbx_node *n, struct dbx_node *victim, int *keep)
{
    struct audience *before = NULL;
    enum role role;
    int rc = 0;
    victim->id = 0;
    *keep = 0;
    if (api_node_access(r, c->t, r->id, ROLE_EDITOR, n, &role))
        return -1;
    if (p->has_if_rev && p->if_rev != n->rev)
        return rev_mismatch(r, c->t, n, role), -1;
    if (p->parent || p->name) {
        if (!(before = malloc(sizeof *before)) || (rc = access_audience(c->t, n, before)) != 0)
            goto fail;
        if (plan_move(r, c->t, n, p, victim, keep)) {
            free(before);
            return -1;
        }
    }
    if (victim->id && *keep)
        rc = keep_aside(c, victim);
    else if (victim->id)
        rc = change_delete_node(c, victim);
    if (rc)
        goto fail;
    apply_attrs(n, p);
    if ((rc = change_put_node(c, n, 0, before)) != 0)
        goto fail;
    free(before);
    return 0;
fail:
    free(before);
    return http_reply_ms_error(r, rc ? rc : MS_IO), -1;
}

enum MHD_Result api_node_patch(struct http_req *r)
{
    struct patch p;
    struct change c;
    struct dbx_node *n = malloc(2 * sizeof *n), *victim = n + 1;
    int keep = 0;
    if (!n)
        return http_reply_error(r, 500, "internal", "out of memory");
    if (read_patch(r, &p) || change_begin(r->d, &c) != 0) {
        if (!r->replied)
            http_reply_ms_error(r, MS_IO);
        free(n);
        return MHD_YES;
    }
    if (patch_in(r, &c, &p, n, victim, &keep) != 0) {
        change_abort(&c);
        free(n);
        return MHD_YES;
    }
    cJSON *j = change_node_json(c.t, n, access_role(c.t, r->caller.uid, n));
    if (j && victim->id)
        cJSON_AddItemToObject(j, keep ? "kept" : "replaced",
                              change_node_json(c.t, victim, ROLE_OWNER));
    int rc = change_commit(&c);
    free(n);
    if (rc) {
        cJSON_Delete(j);
        return http_reply_ms_error(r, rc);
    }
    return http_reply_json(r, 200, j);
}

/* --- delete --- */

/* The delete's conditions: if_rev (any change since) and if_content_rev
 * (a file's content changed since: the caller would delete bytes it never
 * saw), from the query or a JSON body (a batched delete has no query). */
struct delete_cond {
    int has_rev, has_content_rev;
    uint64_t rev, content_rev;
};

static int read_delete(struct http_req *r, struct delete_cond *d)
{
    static const char *const keys[] = {"if_rev", "if_content_rev", NULL};
    const char *names[2] = {"if_rev", "if_content_rev"};
    uint64_t *vals[2] = {&d->rev, &d->content_rev};
    int *has[2] = {&d->has_rev, &d->has_content_rev};

    memset(d, 0, sizeof *d);
    if (r->json && api_only_keys(r, keys))
        return -1;
    for (int i = 0; i < 2; i++) {
        int rc = r->json ? wire_get_uint(r->json, names[i], WIRE_MAX_SAFE_INT, vals[i]) : WIRE_ABSENT;
        if (rc == WIRE_INVALID)
            return api_bad_field(r, names[i]), -1;
        *has[i] = rc == WIRE_OK || http_query(r, names[i]) != NULL;
        if (rc == WIRE_ABSENT && api_query_uint(r, names[i], UINT64_MAX, vals[i]))
            return api_bad_field(r, names[i]), -1;
    }
    return 0;
}

static int delete_in(struct http_req *r, struct change *c)
{
    struct delete_cond d;
    struct dbx_node n;
    enum role role;
    if (read_delete(r, &d))
        return -1;
    if (api_node_access(r, c->t, r->id, ROLE_EDITOR, &n, &role))
        return -1;
    if ((d.has_rev && d.rev != n.rev) ||
        (d.has_content_rev && n.type == NODE_FILE && d.content_rev != n.content_rev))
        return rev_mismatch(r, c->t, &n, role), -1;
    if (n.parent == 0)
        return http_reply_error(r, 403, "forbidden", "the root cannot be deleted"), -1;
    if (may_take_out(r, c->t, &n))
        return -1;
    if (n.type == NODE_DIR && !ms_dir_is_empty(c->t, n.id))
        return http_reply_error(r, 409, "not_empty", "the directory is not empty"), -1;
    int rc = change_delete_node(c, &n);
    return rc ? (http_reply_ms_error(r, rc), -1) : 0;
}

enum MHD_Result api_node_delete(struct http_req *r)
{
    struct change c;
    int rc = change_begin(r->d, &c);
    if (rc)
        return http_reply_ms_error(r, rc);
    if (delete_in(r, &c) != 0) {
        change_abort(&c);
        return MHD_YES;
    }
    uint64_t seq = ms_seq_last(c.t);
    if ((rc = change_commit(&c)) != 0)
        return http_reply_ms_error(r, rc);
    cJSON *j = cJSON_CreateObject();
    if (j)
        cJSON_AddNumberToObject(j, "rev", (double)seq);
    return http_reply_json(r, 200, j);
}
