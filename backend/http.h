/* http: dbxd's HTTP front on libmicrohttpd. It owns the request lifecycle:
 * route matching (routes.c holds the table), path parameters checked by
 * type before any handler runs, authentication, body limits, JSON parsing,
 * streaming of chunk bodies, JSON error answers and one log line per
 * request. Handlers (api_*.c) see a parsed, authenticated struct http_req
 * and answer with the http_reply_* helpers exactly once. */
#ifndef DBX_HTTP_H
#define DBX_HTTP_H

#include <cjson/cJSON.h>
#include <microhttpd.h>
#include <stdint.h>

#include "dbxd.h"
#include "metastore.h"

#define HTTP_JSON_LIMIT (1u << 20)
#define HTTP_BIG_JSON_LIMIT (64u << 20)

struct http_req;
typedef enum MHD_Result (*http_handler)(struct http_req *r);
typedef void (*http_stream_begin)(struct http_req *r);
typedef void (*http_stream_data)(struct http_req *r, const char *buf, size_t len);

enum route_flags {
    ROUTE_AUTH = 1,       /* needs a bearer token */
    ROUTE_JSON = 2,       /* the body is a JSON object (required) */
    ROUTE_JSON_OPT = 4,   /* a JSON object body may be given */
    ROUTE_BIG = 8,        /* JSON up to HTTP_BIG_JSON_LIMIT */
    ROUTE_STREAM = 16,    /* the body goes to stream_data as it arrives */
};

struct route {
    const char *method;
    const char *pattern;  /* segments; {id} {hash} {upload} {user} are parameters */
    unsigned flags;
    http_handler handler;
    http_stream_begin stream_begin;
    http_stream_data stream_data;
};

struct http_req {
    struct dbxd *d;
    struct MHD_Connection *conn;
    const struct route *route;
    const char *method;
    char path[256];
    int64_t start_ms;
    unsigned status;
    int replied;
    /* path parameters */
    uint64_t id;
    uint8_t hash[HASH_LEN];
    uint8_t upload_id[16];
    char user[WIRE_USER_MAX + 1];
    /* the authenticated caller */
    struct ms_user caller;
    /* the body */
    char *body;
    size_t body_len, body_cap, body_limit;
    int body_too_large;
    cJSON *json;
    /* owned by a streaming handler; freed by its route's cleanup */
    void *stream;
    void (*stream_free)(void *stream);
    /* An operation inside POST /v1/batch: the answer is kept here (the
     * caller owns it) instead of being sent, and the query is empty. */
    cJSON *captured;
    int capture;
};

/* The route table (routes.c). */
extern const struct route http_routes[];

/* The route of r->method and r->path (its parameters filled in), or NULL
 * with the 404, 405 or 400 answered. */
const struct route *http_route_find(struct http_req *r);

int http_start(struct dbxd *d);
void http_stop(struct dbxd *d);
unsigned http_bound_port(struct dbxd *d);

const char *http_query(struct http_req *r, const char *key);
const char *http_header(struct http_req *r, const char *name);

/* Each takes ownership of what it is given and returns what the access
 * handler returns. */
enum MHD_Result http_reply_json(struct http_req *r, unsigned status, cJSON *body);
enum MHD_Result http_reply_error(struct http_req *r, unsigned status, const char *code,
                                 const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* An error with extra fields: `extra` is a JSON object whose members are
 * moved into the answer. */
enum MHD_Result http_reply_error_with(struct http_req *r, unsigned status, const char *code,
                                      const char *message, cJSON *extra);
enum MHD_Result http_reply_response(struct http_req *r, unsigned status, struct MHD_Response *resp);
/* Maps a metastore error to an answer (404, 507, 500). */
enum MHD_Result http_reply_ms_error(struct http_req *r, int ms_rc);

#endif
