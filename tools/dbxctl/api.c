/* api: see api.h. */
#include "api.h"

#include <errno.h>
#include <string.h>

#include "wire.h"

#define API_TIMEOUT_MS 30000
#define API_SECRET_MAX 1024

int api_open_server(struct ctl *c, const char *server, const char *ca_file)
{
    c->pool = httpc_pool_new(server, ca_file && ca_file[0] ? ca_file : NULL);
    if (!c->pool)
        return errno == EINVAL
                   ? ctl_error(c, "bad server URL '%s' (want http://HOST:PORT or "
                                  "https://HOST[:PORT])", server)
                   : ctl_error(c, "out of memory");
    c->http = httpc_new(c->pool);
    if (!c->http)
        return ctl_error(c, "out of memory");
    httpc_set_timeout(c->http, API_TIMEOUT_MS);
    return CTL_OK;
}

/* After a logout the config still names the account: say it in full. */
static int not_logged_in(struct ctl *c, const char *why)
{
    if (c->conf.server[0] && c->conf.user[0])
        return ctl_error(c, "not logged in (%s): run `dbxctl login %s %s`", why,
                         c->conf.server, c->conf.user);
    return ctl_error(c, "not logged in (%s): run `dbxctl login SERVER USER`", why);
}

static int load_config(struct ctl *c)
{
    char err[PATH_MAX + 128];
    int rc = clientconf_load(c->config_path, &c->conf, err, sizeof(err));

    if (rc == -ENOENT)
        return not_logged_in(c, "no config");
    if (rc)
        return ctl_error(c, "%s", err);
    if (!c->conf.server[0] || !c->conf.user[0])
        return not_logged_in(c, "the config names no server or user");
    return CTL_OK;
}

int api_open(struct ctl *c)
{
    char token[API_SECRET_MAX], err[PATH_MAX + 128];
    int rc;

    if ((rc = ctl_paths(c)) || (rc = load_config(c)))
        return rc;
    rc = clientconf_read_secret(c->token_path, token, sizeof(token), err, sizeof(err));
    if (rc == -ENOENT) {
        rc = not_logged_in(c, "no token");
        goto out;
    }
    if (rc) {
        rc = ctl_error(c, "%s", err);
        goto out;
    }
    if ((rc = api_open_server(c, c->conf.server, c->conf.ca_file)))
        goto out;
    if (httpc_pool_set_token(c->pool, token))
        rc = ctl_error(c, "the token in %s is malformed: run `dbxctl login`",
                       c->token_path);
out:
    explicit_bzero(token, sizeof(token));
    return rc;
}

void api_close(struct ctl *c)
{
    httpc_free(c->http);
    httpc_pool_free(c->pool);
    c->http = NULL;
    c->pool = NULL;
}

int api_request(struct ctl *c, const char *method, const char *path,
                const cJSON *body, long *status, cJSON **reply)
{
    const char *server = c->conf.server[0] ? c->conf.server : "the server";

    if (reply)
        *reply = NULL;
    if (httpc_json(c->http, method, path, body, status, reply) != 0)
        return ctl_error(c, "cannot reach dbxd at %s: %s", server,
                         httpc_error(c->http));
    return CTL_OK;
}

int api_report(struct ctl *c, const char *what, long status, const cJSON *reply)
{
    const char *msg = NULL;

    if (status == 401)
        return ctl_error(c, "dbxd refused the saved token (expired or revoked): "
                            "run `dbxctl login %s %s`", c->conf.server, c->conf.user);
    if (wire_get_string(reply, "message", &msg) != WIRE_OK)
        msg = NULL;
    if (status >= 500)
        return ctl_error(c, "dbxd failed (HTTP %ld)%s%.200s", status,
                         msg ? ": " : "", msg ? msg : "");
    if (!msg)
        return ctl_error(c, "%s%sdbxd answered HTTP %ld", what ? what : "",
                         what ? ": " : "", status);
    return ctl_error(c, "%s%s%.200s", what ? what : "", what ? ": " : "", msg);
}

int api_call(struct ctl *c, const char *what, const char *method,
             const char *path, const cJSON *body, cJSON **reply)
{
    cJSON *answer = NULL;
    long status;
    int rc = api_request(c, method, path, body, &status, &answer);

    if (rc == CTL_OK && (status < 200 || status > 299))
        rc = api_report(c, what, status, answer);
    if (rc == CTL_OK && reply) {
        *reply = answer;
        answer = NULL;
    }
    cJSON_Delete(answer);
    return rc;
}
