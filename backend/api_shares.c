/* POST/GET /v1/nodes/{id}/shares, DELETE /v1/nodes/{id}/shares/{user},
 * GET /v1/shared */
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "change.h"

static const char *const share_keys[] = {"users", "role", NULL};

/* A walk over shares that builds a JSON array. */
struct share_list {
    ms_txn *t;
    cJSON *array;
    int rc;
};

static int list_share(void *arg, uint64_t node, uint32_t uid, enum role role)
{
    struct share_list *l = arg;
    char name[WIRE_USER_MAX + 1];
    if (ms_user_name(l->t, uid, name) != 0)
        return 0;  /* an account deleted since */
    cJSON *s = cJSON_CreateObject();
    if (!s || !cJSON_AddItemToArray(l->array, s) || !cJSON_AddStringToObject(s, "user", name) ||
        !cJSON_AddStringToObject(s, "role", access_role_name(role)))
        return l->rc = MS_IO;
    return 0;
}

static enum MHD_Result reply_shares(struct http_req *r, ms_txn *t, uint64_t node)
{
    cJSON *j = cJSON_CreateObject();
    struct share_list l = {t, cJSON_AddArrayToObject(j, "shares"), 0};
    int rc = l.array ? ms_shares_of_node(t, node, list_share, &l) : MS_IO;
    if (rc || l.rc) {
        cJSON_Delete(j);
        return http_reply_ms_error(r, rc ? rc : l.rc);
    }
    return http_reply_json(r, 200, j);
}

/* Checks every named user before changing anything. */
static int resolve_users(struct http_req *r, ms_txn *t, const cJSON *users, uint32_t *uids, int n)
{
    const cJSON *u;
    int i = 0;
    cJSON_ArrayForEach(u, users) {
        struct ms_user acct;
        if (!cJSON_IsString(u) || !wire_user_valid(u->valuestring))
            return api_bad_field(r, "users"), -1;
        if (ms_user_by_name(t, u->valuestring, &acct) != 0)
            return http_reply_error(r, 404, "not_found", "no user '%s'", u->valuestring), -1;
        if (acct.uid == r->caller.uid)
            return http_reply_error(r, 400, "bad_request", "you cannot share with yourself"), -1;
        uids[i++] = acct.uid;
    }
    return i == n ? 0 : -1;
}

static int share_in(struct http_req *r, struct change *c, struct dbx_node *n)
{
    const cJSON *users = cJSON_GetObjectItemCaseSensitive(r->json, "users");
    const char *role_name = NULL;
    enum role role;
    int count = cJSON_IsArray(users) ? cJSON_GetArraySize(users) : 0;
    uint32_t uids[256];
    if (api_only_keys(r, share_keys))
        return -1;
    if (count < 1 || count > 256)
        return api_bad_field(r, "users"), -1;
    if (wire_get_string(r->json, "role", &role_name) != WIRE_OK || access_role_parse(role_name, &role))
        return api_bad_field(r, "role"), -1;
    if (api_node_access(r, c->t, r->id, ROLE_OWNER, n, NULL) || resolve_users(r, c->t, users, uids, count))
        return -1;
    int rc = 0;
    for (int i = 0; i < count && rc == 0; i++)
        if ((rc = ms_share_put(c->t, n->id, uids[i], role)) == 0)
            rc = change_tell(c, uids[i], "share", n, role);
    return rc ? (http_reply_ms_error(r, rc), -1) : 0;
}

enum MHD_Result api_share_add(struct http_req *r)
{
    struct dbx_node n;
    struct change c;
    int rc = change_begin(r->d, &c);
    if (rc)
        return http_reply_ms_error(r, rc);
    if (share_in(r, &c, &n) != 0) {
        change_abort(&c);
        return MHD_YES;
    }
    if ((rc = change_commit(&c)) != 0)
        return http_reply_ms_error(r, rc);
    ms_txn *t;
    if ((rc = ms_txn_begin(r->d->ms, 0, &t)) != 0)
        return http_reply_ms_error(r, rc);
    reply_shares(r, t, n.id);
    ms_txn_abort(t);
    return MHD_YES;
}

enum MHD_Result api_share_list(struct http_req *r)
{
    struct dbx_node n;
    ms_txn *t;
    int rc = ms_txn_begin(r->d->ms, 0, &t);
    if (rc)
        return http_reply_ms_error(r, rc);
    if (api_node_access(r, t, r->id, ROLE_OWNER, &n, NULL) == 0)
        reply_shares(r, t, n.id);
    ms_txn_abort(t);
    return MHD_YES;
}

static int unshare_in(struct http_req *r, struct change *c)
{
    struct dbx_node n;
    struct ms_user acct;
    enum role role;
    if (api_node_access(r, c->t, r->id, ROLE_VIEWER, &n, &role))
        return -1;
    int rc = ms_user_by_name(c->t, r->user, &acct);
    /* the owner revokes anyone; a recipient may leave a share */
    if (rc == 0 && role != ROLE_OWNER && acct.uid != r->caller.uid)
        return http_reply_error(r, 403, "forbidden", "only the owner revokes shares"), -1;
    if (rc == 0)
        rc = ms_share_del(c->t, n.id, acct.uid);
    if (rc == MS_NOTFOUND)
        return http_reply_error(r, 404, "not_found", "%s has no share of this node", r->user), -1;
    if (rc == 0)
        rc = change_tell(c, acct.uid, "unshare", &n, ROLE_NONE);
    return rc ? (http_reply_ms_error(r, rc), -1) : 0;
}

enum MHD_Result api_share_delete(struct http_req *r)
{
    struct change c;
    int rc = change_begin(r->d, &c);
    if (rc)
        return http_reply_ms_error(r, rc);
    if (unshare_in(r, &c) != 0) {
        change_abort(&c);
        return MHD_YES;
    }
    if ((rc = change_commit(&c)) != 0)
        return http_reply_ms_error(r, rc);
    return http_reply_json(r, 200, cJSON_CreateObject());
}

static int add_shared(void *arg, uint64_t node, uint32_t uid, enum role role)
{
    struct share_list *w = arg;
    struct dbx_node n;
    if (ms_node_get(w->t, node, &n) != 0)
        return 0;
    cJSON *e = cJSON_CreateObject(), *nj = change_node_json(w->t, &n, role);
    if (!e || !nj || !cJSON_AddItemToArray(w->array, e)) {
        cJSON_Delete(e);
        cJSON_Delete(nj);
        return w->rc = MS_IO;
    }
    cJSON_AddItemToObject(e, "node", nj);
    cJSON_AddStringToObject(e, "role", access_role_name(role));
    cJSON_AddStringToObject(e, "owner", cJSON_GetObjectItem(nj, "owner")->valuestring);
    return 0;
}

enum MHD_Result api_shared(struct http_req *r)
{
    ms_txn *t;
    int rc = ms_txn_begin(r->d->ms, 0, &t);
    if (rc)
        return http_reply_ms_error(r, rc);
    cJSON *j = cJSON_CreateObject();
    struct share_list w = {t, cJSON_AddArrayToObject(j, "entries"), 0};
    rc = w.array ? ms_shares_of_user(t, r->caller.uid, add_shared, &w) : MS_IO;
    ms_txn_abort(t);
    if (rc || w.rc) {
        cJSON_Delete(j);
        return http_reply_ms_error(r, rc ? rc : w.rc);
    }
    return http_reply_json(r, 200, j);
}
