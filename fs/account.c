/* account: see account.h. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "account.h"
#include "clientconf.h"
#include "conn.h"
#include "dbxfs.h"
#include "log.h"
#include "node.h"

#define SECRET_MAX 1024

/* The login request: 0 with dbxd's answer in *reply, or -errno with err
 * set (*reply may still hold an answer). */
static int post_login(struct dbxfs *fs, cJSON *body, cJSON **reply, char *err,
                      size_t errlen)
{
    const struct dbxfs_opts *o = fs->opts;
    long status;

    if (conn_json(fs, "POST", "/v1/login", body, &status, reply)) {
        snprintf(err, errlen, "cannot reach dbxd at %s", o->server);
        return -EHOSTUNREACH;
    }
    if (status != 200) {
        snprintf(err, errlen, status == 401 ? "login refused for %s at %s: wrong user or password"
                                            : "login failed for %s at %s", o->user, o->server);
        return -EACCES;
    }
    return 0;
}

static int login(struct dbxfs *fs, char *err, size_t errlen)
{
    const struct dbxfs_opts *o = fs->opts;
    char password[SECRET_MAX];
    cJSON *body = cJSON_CreateObject(), *reply = NULL;
    const char *token;
    int rc = clientconf_read_secret(o->password_file, password, sizeof(password),
                                    err, errlen);

    if (rc)
        goto out;
    if (!body || !cJSON_AddStringToObject(body, "user", o->user) ||
        !cJSON_AddStringToObject(body, "password", password)) {
        rc = -ENOMEM;
        goto out;
    }
    rc = post_login(fs, body, &reply, err, errlen);
    if (rc)
        goto out;
    if (wire_get_string(reply, "token", &token) != WIRE_OK) {
        rc = -EPROTO;
        goto out;
    }
    if (httpc_pool_set_token(fs->pool, token)) {
        rc = -EINVAL;
        goto out;
    }
    rc = clientconf_write_secret(o->token_file, token, err, errlen);
out:
    explicit_bzero(password, sizeof(password));
    cJSON_Delete(body);
    cJSON_Delete(reply);
    return rc;
}

static int use_token_file(struct dbxfs *fs, char *err, size_t errlen)
{
    char token[SECRET_MAX];
    int rc = clientconf_read_secret(fs->opts->token_file, token, sizeof(token),
                                    err, errlen);

    if (rc == -ENOENT)
        snprintf(err, errlen, "not logged in: run `dbxctl login %s %s` or give "
                 "-o password_file=FILE", fs->opts->server, fs->opts->user);
    if (rc)
        goto out;
    if (httpc_pool_set_token(fs->pool, token))
        rc = -EINVAL;
out:
    explicit_bzero(token, sizeof(token));
    return rc;
}

static int get_json(struct dbxfs *fs, const char *path, cJSON **reply, char *err,
                    size_t errlen)
{
    long status;

    if (conn_json(fs, "GET", path, NULL, &status, reply)) {
        snprintf(err, errlen, "cannot reach dbxd at %s", fs->opts->server);
        return -EHOSTUNREACH;
    }
    if (status == 401)
        snprintf(err, errlen, "dbxd refused the saved token (expired or revoked): "
                 "log in again");
    else if (status != 200)
        snprintf(err, errlen, "dbxd answered %ld to %s", status, path);
    return status == 200 ? 0 : -EACCES;
}

/* Stores the root node n and the feed position to follow from. */
static int store_root(struct dbxfs *fs, struct cnode *n, uint64_t cursor)
{
    metadb_txn *t;
    int rc = metadb_begin(fs->db, 1, &t);

    if (rc)
        return rc;
    n->flags = CN_TRACKED;       /* events for its children count from here */
    rc = metadb_node_put(t, n);
    if (rc)
        goto out;
    rc = metadb_remote_put(t, n);
    if (rc)
        goto out;
    rc = metadb_kv_put(t, "cursor", cursor);
    if (rc)
        goto out;
    rc = metadb_kv_put(t, "root", n->id);
out:
    return rc ? (metadb_abort(t), rc) : metadb_commit(t);
}

/* A first mount: the root node and the feed position to follow from. */
static int first_state(struct dbxfs *fs, const cJSON *me, char *err, size_t errlen)
{
    cJSON *node = NULL, *latest = NULL;
    char path[64];
    const char *root;
    struct cnode n;
    uint64_t cursor;
    int rc = -EPROTO;

    memset(&n, 0, sizeof(n));
    if (wire_get_string(me, "root", &root) != WIRE_OK)
        goto out;
    /* The cursor first: whatever changes after it is applied on top. */
    rc = get_json(fs, "/v1/changes?cursor=latest", &latest, err, errlen);
    if (rc)
        goto out;
    snprintf(path, sizeof(path), "/v1/nodes/%s", root);
    rc = get_json(fs, path, &node, err, errlen);
    if (rc)
        goto out;
    if (node_from_wire(node, &n) ||
        wire_get_uint(latest, "cursor", UINT64_MAX, &cursor)) {
        rc = -EPROTO;
        goto out;
    }
    rc = store_root(fs, &n, cursor);
out:
    if (rc == -EPROTO)
        snprintf(err, errlen, "unexpected answer from dbxd at %s", fs->opts->server);
    fs->root_id = n.id;
    cJSON_Delete(node);
    cJSON_Delete(latest);
    return rc;
}

static int known_root(struct dbxfs *fs)
{
    metadb_txn *t;
    int rc = metadb_begin(fs->db, 0, &t);

    if (rc)
        return rc;
    rc = metadb_kv_get(t, "root", &fs->root_id);
    metadb_abort(t);
    return rc;
}

int account_connect(struct dbxfs *fs, char *err, size_t errlen)
{
    cJSON *me = NULL;
    int cached = known_root(fs) == 0;
    int rc = fs->opts->password_file[0] ? login(fs, err, errlen)
                                        : use_token_file(fs, err, errlen);

    /* Offline with a cache: start anyway, with the token saved last time. */
    if (rc == -EHOSTUNREACH && cached) {
        if (fs->opts->password_file[0])
            use_token_file(fs, err, errlen);
        rc = 0;
    }
    if (rc)
        return rc;
    rc = get_json(fs, "/v1/me", &me, err, errlen);
    if (rc == -EHOSTUNREACH && cached) {
        log_warn("%s: starting offline from the cache", err);
        err[0] = '\0';
        rc = 0;
        goto out;
    }
    if (rc)
        goto out;
    if (!cached)
        rc = first_state(fs, me, err, errlen);
out:
    cJSON_Delete(me);
    return rc;
}
