/* POST /v1/login, POST /v1/logout, GET /v1/me */
#include <string.h>

#include "api.h"
#include "auth.h"

static const char *const login_keys[] = {"user", "password", NULL};

enum MHD_Result api_login(struct http_req *r)
{
    const char *user, *password;
    char token[AUTH_TOKEN_HEX_LEN + 1], root[WIRE_ID_HEX_LEN + 1];
    int64_t expires;
    if (api_only_keys(r, login_keys))
        return MHD_YES;
    if (wire_get_string(r->json, "user", &user) != WIRE_OK)
        return api_bad_field(r, "user");
    if (wire_get_string(r->json, "password", &password) != WIRE_OK || strlen(password) > 1024)
        return api_bad_field(r, "password");
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *addr = ci ? ci->client_addr : NULL;
    if (!throttle_allow(r->d->logins, addr))
        return http_reply_error(r, 429, "too_many_attempts", "too many failed logins; wait a minute");
    int rc = auth_login(r->d, user, password, token, &expires, &r->caller);
    /* A wrong password fills in the account: the request's log line names
     * a user only when the caller proved to be that user. */
    if (rc)
        memset(&r->caller, 0, sizeof r->caller);
    if (rc == MS_NOTFOUND)
        throttle_failed(r->d->logins, addr);
    if (rc == MS_NOTFOUND)
        return http_reply_error(r, 401, "unauthorized", "wrong user name or password");
    if (rc)
        return http_reply_ms_error(r, rc);
    cJSON *j = cJSON_CreateObject();
    wire_id_format(r->caller.root, root);
    if (j) {
        cJSON_AddStringToObject(j, "token", token);
        cJSON_AddNumberToObject(j, "expires", (double)expires);
        cJSON_AddStringToObject(j, "user", r->caller.name);
        cJSON_AddStringToObject(j, "root", root);
    }
    memset(token, 0, sizeof token);
    return http_reply_json(r, 200, j);
}

static const char *bearer(struct http_req *r)
{
    return http_header(r, "Authorization") + 7;  /* checked by authenticate */
}

enum MHD_Result api_logout(struct http_req *r)
{
    int rc = auth_revoke_token(r->d, bearer(r));
    return rc ? http_reply_ms_error(r, rc) : http_reply_json(r, 200, cJSON_CreateObject());
}

enum MHD_Result api_me(struct http_req *r)
{
    int64_t expires = 0;
    char root[WIRE_ID_HEX_LEN + 1];
    auth_token_expiry(r->d, bearer(r), &expires);
    cJSON *j = cJSON_CreateObject();
    wire_id_format(r->caller.root, root);
    if (j) {
        cJSON_AddStringToObject(j, "user", r->caller.name);
        cJSON_AddStringToObject(j, "root", root);
        cJSON_AddNumberToObject(j, "expires", (double)expires);
    }
    return http_reply_json(r, 200, j);
}
