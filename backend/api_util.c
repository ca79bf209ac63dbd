#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "names.h"
#include "urlsign.h"

int api_node_access(struct http_req *r, ms_txn *t, uint64_t id, enum role need,
                    struct dbx_node *n, enum role *role)
{
    int rc = ms_node_get(t, id, n);
    enum role have = rc == 0 ? access_role(t, r->caller.uid, n) : ROLE_NONE;
    if (rc && rc != MS_NOTFOUND) {
        http_reply_ms_error(r, rc);
        return -1;
    }
    if (have == ROLE_NONE) {
        /* never say whether a node the caller cannot see exists; name the
         * id asked for, so that a client knows which of a move's nodes it is */
        cJSON *extra = cJSON_CreateObject();
        wire_add_id(extra, "id", id);
        http_reply_error_with(r, 404, "not_found", "no such node", extra);
        return -1;
    }
    if (have < need) {
        http_reply_error(r, 403, "forbidden", "this needs the %s role; you are %s",
                         access_role_name(need), access_role_name(have));
        return -1;
    }
    if (role)
        *role = have;
    return 0;
}

int api_only_keys(struct http_req *r, const char *const allowed[])
{
    const char *bad;
    if (wire_only_keys(r->json, allowed, &bad) == 0)
        return 0;
    http_reply_error(r, 400, "bad_request", "unknown field '%.64s'", bad ? bad : "");
    return -1;
}

int api_get_name(struct http_req *r, const char *key, int required, const char **out)
{
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(r->json, key);
    if (!f && !required)
        return 0;
    if (!cJSON_IsString(f))
        return api_bad_field(r, key), -1;
    int check = name_check(f->valuestring, strlen(f->valuestring));
    if (check != NAME_OK)
        return api_bad_name(r, check), -1;
    *out = f->valuestring;
    return 0;
}

int api_query_uint(struct http_req *r, const char *key, uint64_t max, uint64_t *out)
{
    const char *s = http_query(r, key);
    char *end;
    if (!s)
        return 0;
    if (*s < '0' || *s > '9')
        return -1;  /* strtoull would take a sign or spaces */
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end || errno == ERANGE || v > max)
        return -1;
    *out = v;
    return 0;
}

enum MHD_Result api_bad_field(struct http_req *r, const char *field)
{
    return http_reply_error(r, 400, "bad_request", "field '%s' is missing or invalid", field);
}

enum MHD_Result api_bad_name(struct http_req *r, int check)
{
    return http_reply_error(r, 400, "invalid_name", "%s", name_check_message((enum name_check)check));
}

int api_signed_url(struct http_req *r, const char *method, const char *path,
                   int64_t exp, char *out, size_t cap)
{
    const char *base = r->d->cfg.public_url;
    size_t blen = strlen(base);
    while (blen && base[blen - 1] == '/')
        blen--;
    if (blen + 1 >= cap)
        return -1;
    memcpy(out, base, blen);
    return urlsign_make(r->d->sign_key, method, path, exp, out + blen, cap - blen);
}

int api_check_signature(struct http_req *r, const char *method)
{
    char path[sizeof r->path + 32];
    const char *u = http_query(r, "u");
    enum urlsign_result v = URLSIGN_BAD;
    /* an upload URL names the account it was issued to: signed with it */
    if (!u || (u[0] && strlen(u) <= 10 && strspn(u, "0123456789") == strlen(u))) {
        snprintf(path, sizeof path, "%s%s%s", r->path, u ? "?u=" : "", u ? u : "");
        v = urlsign_verify(r->d->sign_key, method, path, http_query(r, "exp"),
                           http_query(r, "sig"), (int64_t)time(NULL));
    }
    if (v == URLSIGN_OK)
        return 0;
    if (v == URLSIGN_EXPIRED)
        http_reply_error(r, 403, "expired", "this signed URL has expired");
    else
        http_reply_error(r, 403, "bad_signature", "the URL signature is not valid for this request");
    return -1;
}

struct wire_time api_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (struct wire_time){ts.tv_sec, (uint32_t)ts.tv_nsec};
}
