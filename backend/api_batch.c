/* POST /v1/batch: node operations (create, patch, delete) run in order in
 * one request, so a client replaying a queue of them pays one round trip
 * for many. Each operation is routed and handled exactly as if it had come
 * alone, with the batch's caller and its rights checks; the batch stops
 * after the first one that does not succeed, because a later operation may
 * depend on it (a rename after the create it renames). */
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "log.h"

#define BATCH_MAX 256

static int batchable(const struct route *rt)
{
    return rt->handler == api_node_create || rt->handler == api_node_patch ||
           rt->handler == api_node_delete;
}

/* One operation, checked before any runs: 0, or a 400 queued and -1. */
static int check_op(struct http_req *r, const cJSON *op, int i)
{
    static const char *const keys[] = {"method", "path", "body", NULL};
    const cJSON *method = cJSON_GetObjectItem(op, "method");
    const cJSON *path = cJSON_GetObjectItem(op, "path");
    const cJSON *body = cJSON_GetObjectItem(op, "body");
    const char *bad = NULL;

    if (!cJSON_IsObject(op))
        return http_reply_error(r, 400, "bad_request", "ops[%d] is not an object", i), -1;
    if (wire_only_keys(op, keys, &bad))
        return http_reply_error(r, 400, "bad_request", "ops[%d]: unknown field '%.64s'", i,
                                bad ? bad : ""), -1;
    if (!cJSON_IsString(method) || !cJSON_IsString(path) ||
        strlen(path->valuestring) >= sizeof r->path || (body && !cJSON_IsObject(body)))
        return http_reply_error(r, 400, "bad_request",
                                "ops[%d] needs a method, a path and an object body", i), -1;
    return 0;
}

/* Runs one operation as its own request; returns its answer as
 * {"status": N, "body": ...} and its status in *status. */
static cJSON *run_op(struct http_req *r, const cJSON *op, unsigned *status)
{
    struct http_req sub = { .d = r->d, .conn = r->conn, .start_ms = r->start_ms,
                            .caller = r->caller, .capture = 1 };
    const cJSON *body = cJSON_GetObjectItem(op, "body");
    const struct route *rt;
    cJSON *res = cJSON_CreateObject();

    sub.method = cJSON_GetStringValue(cJSON_GetObjectItem(op, "method"));
    snprintf(sub.path, sizeof sub.path, "%s", cJSON_GetStringValue(cJSON_GetObjectItem(op, "path")));
    sub.json = (cJSON *)body;           /* borrowed: the handlers only read it */
    rt = http_route_find(&sub);
    if (rt && !batchable(rt))
        http_reply_error(&sub, 400, "bad_request", "%s %s cannot be batched", sub.method, sub.path);
    else if (rt && (rt->flags & ROUTE_JSON) && !body)
        http_reply_error(&sub, 400, "bad_json", "the operation needs a body");
    else if (rt && !(rt->flags & (ROUTE_JSON | ROUTE_JSON_OPT)) && body)
        http_reply_error(&sub, 400, "bad_request", "this operation takes no body");
    else if (rt) {
        sub.route = rt;
        rt->handler(&sub);
    }
    if (!sub.replied)
        http_reply_error(&sub, 500, "internal", "the operation gave no answer");
    *status = sub.status;
    log_debug("batch: %s %s %u", sub.method, sub.path, sub.status);
    if (!res) {
        cJSON_Delete(sub.captured);
        return NULL;
    }
    cJSON_AddNumberToObject(res, "status", sub.status);
    cJSON_AddItemToObject(res, "body", sub.captured ? sub.captured : cJSON_CreateObject());
    return res;
}

enum MHD_Result api_batch(struct http_req *r)
{
    static const char *const keys[] = {"ops", NULL};
    const cJSON *ops = cJSON_GetObjectItem(r->json, "ops"), *op;
    cJSON *out, *results;
    int n, i = 0;

    if (api_only_keys(r, keys))
        return MHD_YES;
    n = cJSON_IsArray(ops) ? cJSON_GetArraySize(ops) : -1;
    if (n < 1 || n > BATCH_MAX)
        return http_reply_error(r, 400, "bad_request", "ops must be an array of 1 to %d operations",
                                BATCH_MAX);
    cJSON_ArrayForEach(op, ops)
        if (check_op(r, op, i++))
            return MHD_YES;
    out = cJSON_CreateObject();
    results = out ? cJSON_AddArrayToObject(out, "results") : NULL;
    if (!results) {
        cJSON_Delete(out);
        return http_reply_error(r, 500, "internal", "out of memory");
    }
    cJSON_ArrayForEach(op, ops) {
        unsigned status = 500;
        cJSON *res = run_op(r, op, &status);
        if (!res) {
            cJSON_Delete(out);
            return http_reply_error(r, 500, "internal", "out of memory");
        }
        cJSON_AddItemToArray(results, res);
        if (status < 200 || status > 299)
            break;
    }
    return http_reply_json(r, 200, out);
}
