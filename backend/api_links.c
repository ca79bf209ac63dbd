/* POST /v1/nodes/{id}/links, GET /v1/links/{id}?exp=&sig=: public,
 * expiring download links that work with plain curl. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "chunkstream.h"

#define LINK_TTL_MAX (365L * 24 * 3600)

static const char *const link_keys[] = {"expires_in", NULL};

enum MHD_Result api_link_create(struct http_req *r)
{
    struct dbx_node n;
    uint64_t ttl = 3600;
    char path[64], url[1024], id[WIRE_ID_HEX_LEN + 1];
    ms_txn *t;
    if (r->json && api_only_keys(r, link_keys))
        return MHD_YES;
    if (r->json && wire_get_uint(r->json, "expires_in", LINK_TTL_MAX, &ttl) == WIRE_INVALID)
        return api_bad_field(r, "expires_in");
    if (ttl == 0)
        return api_bad_field(r, "expires_in");
    int rc = ms_txn_begin(r->d->ms, 0, &t);
    if (rc)
        return http_reply_ms_error(r, rc);
    rc = api_node_access(r, t, r->id, ROLE_EDITOR, &n, NULL);
    ms_txn_abort(t);
    if (rc)
        return MHD_YES;
    if (n.type != NODE_FILE)
        return http_reply_error(r, 409, n.type == NODE_DIR ? "is_dir" : "bad_request", "only files can be linked");
    int64_t exp = (int64_t)time(NULL) + (int64_t)ttl;
    wire_id_format(n.id, id);
    snprintf(path, sizeof path, "/v1/links/%s", id);
    if (api_signed_url(r, "GET", path, exp, url, sizeof url) != 0)
        return http_reply_error(r, 500, "internal", "cannot sign the link");
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "url", url);
    cJSON_AddNumberToObject(j, "expires", (double)exp);
    return http_reply_json(r, 200, j);
}

/* attachment; filename="ascii-fallback"; filename*=UTF-8''percent-encoded */
static void disposition(const char *name, char *out, size_t cap)
{
    char ascii[256], enc[800];
    size_t a = 0, e = 0;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        int plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                    strchr("-._~", *p);
        ascii[a++] = plain || *p == ' ' ? (char)*p : '_';
        e += (size_t)snprintf(enc + e, sizeof enc - e, plain ? "%c" : "%%%02X", *p);
    }
    ascii[a] = '\0';
    snprintf(out, cap, "attachment; filename=\"%s\"; filename*=UTF-8''%s", ascii, enc);
}

enum MHD_Result api_link_get(struct http_req *r)
{
    struct dbx_node n;
    struct dbx_chunk *chunks = NULL;
    uint32_t count = 0;
    char header[1200];
    ms_txn *t;
    if (api_check_signature(r, "GET"))
        return MHD_YES;
    int rc = ms_txn_begin(r->d->ms, 0, &t);
    if (rc)
        return http_reply_ms_error(r, rc);
    rc = ms_node_get(t, r->id, &n);
    if (rc == 0 && n.type != NODE_FILE)
        rc = MS_NOTFOUND;
    if (rc == 0)
        rc = ms_content_get(t, n.id, &chunks, &count);
    ms_txn_abort(t);
    if (rc)
        return http_reply_ms_error(r, rc);
    struct MHD_Response *resp = chunkstream_response(chunkstream_new(r->d, chunks, count, 0), n.size);
    if (!resp)
        return http_reply_error(r, 500, "internal", "out of memory");
    disposition(n.name, header, sizeof header);
    MHD_add_response_header(resp, "Content-Type", "application/octet-stream");
    MHD_add_response_header(resp, "Content-Disposition", header);
    MHD_add_response_header(resp, "Cache-Control", "private, no-store");
    return http_reply_response(r, 200, resp);
}
