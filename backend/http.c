#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth.h"
#include "hex.h"
#include "log.h"
#include "sdnotify.h"

const char *http_query(struct http_req *r, const char *key)
{
    if (r->capture)
        return NULL;
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, key);
}

const char *http_header(struct http_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

enum MHD_Result http_reply_response(struct http_req *r, unsigned status, struct MHD_Response *resp)
{
    if (!resp)
        return MHD_NO;
    r->status = status;
    r->replied = 1;
    if (r->capture) {
        MHD_destroy_response(resp);
        return MHD_YES;
    }
    enum MHD_Result rc = MHD_queue_response(r->conn, status, resp);
    MHD_destroy_response(resp);
    return rc;
}

enum MHD_Result http_reply_json(struct http_req *r, unsigned status, cJSON *body)
{
    if (r->capture) {
        r->status = status;
        r->replied = 1;
        r->captured = body;
        return MHD_YES;
    }
    char *text = body ? cJSON_PrintUnformatted(body) : NULL;
    cJSON_Delete(body);
    if (!text)
        return http_reply_error(r, 500, "internal", "out of memory");
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", "application/json");
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    return http_reply_response(r, status, resp);
}

enum MHD_Result http_reply_error_with(struct http_req *r, unsigned status, const char *code,
                                      const char *message, cJSON *extra)
{
    cJSON *j = cJSON_CreateObject();
    if (j) {
        cJSON_AddStringToObject(j, "error", code);
        cJSON_AddStringToObject(j, "message", message);
        while (extra && extra->child) {
            cJSON *item = cJSON_DetachItemViaPointer(extra, extra->child);
            cJSON_AddItemToObject(j, item->string, item);
        }
    }
    cJSON_Delete(extra);
    if (status >= 500)
        log_error("%s %s: %s", r->method, r->path, message);
    if (!j) {
        static const char oom[] = "{\"error\":\"internal\",\"message\":\"out of memory\"}";
        return http_reply_response(r, 500, MHD_create_response_from_buffer(
            sizeof oom - 1, (void *)oom, MHD_RESPMEM_PERSISTENT));
    }
    return http_reply_json(r, status, j);
}

enum MHD_Result http_reply_error(struct http_req *r, unsigned status, const char *code,
                                 const char *fmt, ...)
{
    char message[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    return http_reply_error_with(r, status, code, message, NULL);
}

enum MHD_Result http_reply_ms_error(struct http_req *r, int ms_rc)
{
    switch (ms_rc) {
    case MS_NOTFOUND: return http_reply_error(r, 404, "not_found", "no such node");
    case MS_FULL: return http_reply_error(r, 507, "no_space", "the metadata store is full");
    default: return http_reply_error(r, 500, "internal", "metadata store error %d", ms_rc);
    }
}

/* --- routing --- */

static int segment_count(const char *path)
{
    int n = 0;
    for (const char *p = path; *p; p++)
        n += *p == '/';
    return n;
}

/* Compares one segment of the pattern and the path; fills a parameter.
 * 1: literal match or valid parameter; 0: literal mismatch; -1: a
 * parameter of the wrong form (the route is right, the request is bad). */
static int match_segment(struct http_req *r, const char *pat, size_t plen, const char *seg, size_t slen)
{
    char buf[128];
    if (pat[0] != '{')
        return plen == slen && memcmp(pat, seg, slen) == 0;
    if (slen >= sizeof buf)
        return -1;
    memcpy(buf, seg, slen);
    buf[slen] = '\0';
    if (strncmp(pat, "{id}", plen) == 0)
        return wire_id_parse(buf, &r->id) == 0 ? 1 : -1;
    if (strncmp(pat, "{hash}", plen) == 0)
        return hash_from_hex(buf, r->hash) == 0 ? 1 : -1;
    if (strncmp(pat, "{upload}", plen) == 0)
        return slen == 32 && hex_decode(buf, 32, r->upload_id, 16) == 0 ? 1 : -1;
    if (strncmp(pat, "{user}", plen) == 0 && wire_user_valid(buf)) {
        strcpy(r->user, buf);
        return 1;
    }
    return -1;
}

static int match_path(struct http_req *r, const char *pattern, const char **bad)
{
    const char *p = pattern, *s = r->path;
    if (segment_count(p) != segment_count(s))
        return 0;
    int result = 1;
    while (*p && *s) {
        p++, s++;  /* skip the '/' */
        size_t plen = strcspn(p, "/"), slen = strcspn(s, "/");
        int m = match_segment(r, p, plen, s, slen);
        if (m == 0)
            return 0;
        if (m < 0 && result == 1) {
            result = -1;
            *bad = p;
        }
        p += plen, s += slen;
    }
    return *p == *s ? result : 0;
}

static const char *param_error(const char *pat)
{
    if (strncmp(pat, "{hash}", 6) == 0)
        return "invalid_hash";
    if (strncmp(pat, "{user}", 6) == 0)
        return "bad_request";
    return "invalid_id";
}

const struct route *http_route_find(struct http_req *r)
{
    int path_known = 0;
    const char *bad = NULL;
    const char *method = strcmp(r->method, "HEAD") == 0 ? "GET" : r->method;
    for (const struct route *rt = http_routes; rt->method; rt++) {
        const char *b = NULL;
        int m = match_path(r, rt->pattern, &b);
        if (m == 0)
            continue;
        path_known = 1;
        if (strcmp(rt->method, method) != 0)
            continue;
        if (m > 0)
            return rt;
        bad = b;
    }
    if (bad)
        http_reply_error(r, 400, param_error(bad), "malformed parameter in the path");
    else if (path_known)
        http_reply_error(r, 405, "method_not_allowed", "%s is not allowed here", r->method);
    else
        http_reply_error(r, 404, "not_found", "no such endpoint");
    return NULL;
}

/* --- the request lifecycle --- */

static enum MHD_Result authenticate(struct http_req *r)
{
    const char *h = http_header(r, "Authorization");
    if (!h || strncasecmp(h, "Bearer ", 7) != 0)
        return http_reply_error(r, 401, "unauthorized", "a bearer token is required");
    int rc = auth_check_token(r->d, h + 7, &r->caller);
    if (rc == 0)
        return MHD_YES;
    if (rc == MS_NOTFOUND)
        return http_reply_error(r, 401, "unauthorized", "unknown, expired or revoked token");
    return http_reply_ms_error(r, rc);
}

/* Refuses a body announced larger than the route takes, before reading it. */
static void check_length(struct http_req *r)
{
    const char *cl = http_header(r, "Content-Length");
    if (cl && strtoull(cl, NULL, 10) > r->body_limit)
        http_reply_error(r, 413, "too_large", "the body is over %zu bytes", r->body_limit);
}

static enum MHD_Result add_header_size(void *cls, enum MHD_ValueKind kind, const char *key,
                                       const char *value)
{
    *(size_t *)cls += strlen(key) + (value ? strlen(value) : 0) + 4;
    return MHD_YES;
}

/* libmicrohttpd bounds headers by its memory pool, which must also be
 * large enough for fast body reads; the configured limit is checked here. */
static int headers_too_large(struct http_req *r, size_t url_len)
{
    size_t total = url_len;
    MHD_get_connection_values(r->conn, MHD_HEADER_KIND, add_header_size, &total);
    return total > r->d->cfg.max_header;
}

/* The request exists from its request line on (uri_seen), before its
 * method is known (method NULL) or its path decoded; the access handler
 * fills both in on its first call. */
static struct http_req *req_new(struct dbxd *d, struct MHD_Connection *conn)
{
    struct http_req *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->d = d;
    r->conn = conn;
    r->start_ms = feed_now_ms();
    return r;
}

/* libmicrohttpd calls this once a request line is read, before the headers:
 * creating the request here means that one libmicrohttpd answers itself (a
 * malformed header line, an unsupported HTTP version) still reaches
 * request_done and gets its log line. uri is raw and still carries the
 * query string, signatures included: only what is before the '?' is kept. */
static void *uri_seen(void *cls, const char *uri, struct MHD_Connection *conn)
{
    struct http_req *r = req_new(cls, conn);
    if (r)
        snprintf(r->path, sizeof r->path, "%.*s", (int)strcspn(uri, "?"), uri);
    return r;
}

static void req_begin(struct http_req *r, size_t url_len)
{
    if (headers_too_large(r, url_len)) {
        http_reply_error(r, 431, "too_large", "the request headers are over %u bytes", r->d->cfg.max_header);
        return;
    }
    if (url_len >= sizeof r->path) {
        http_reply_error(r, 404, "not_found", "no such endpoint");
        return;
    }
    if (!(r->route = http_route_find(r)))
        return;
    unsigned f = r->route->flags;
    r->body_limit = (f & ROUTE_STREAM) ? CHUNK_MAX_STORED
                  : (f & ROUTE_BIG) ? HTTP_BIG_JSON_LIMIT : HTTP_JSON_LIMIT;
    if ((f & ROUTE_AUTH) && authenticate(r) != MHD_YES)
        return;
    if (r->replied)
        return;
    check_length(r);
    if (!r->replied && r->route->stream_begin)
        r->route->stream_begin(r);
}

static void req_body(struct http_req *r, const char *data, size_t len)
{
    if (r->route->stream_data) {
        r->route->stream_data(r, data, len);
        return;
    }
    if (r->body_too_large || r->body_len + len > r->body_limit) {
        r->body_too_large = 1;
        return;
    }
    if (r->body_len + len + 1 > r->body_cap) {
        size_t cap = r->body_cap ? r->body_cap : 4096;
        while (cap < r->body_len + len + 1)
            cap *= 2;
        char *b = realloc(r->body, cap);
        if (!b) {
            r->body_too_large = 1;
            return;
        }
        r->body = b;
        r->body_cap = cap;
    }
    memcpy(r->body + r->body_len, data, len);
    r->body_len += len;
    r->body[r->body_len] = '\0';
}

static enum MHD_Result parse_json_body(struct http_req *r)
{
    unsigned f = r->route->flags;
    if (r->body_too_large)
        return http_reply_error(r, 413, "too_large", "the body is over %zu bytes", r->body_limit);
    if (!(f & (ROUTE_JSON | ROUTE_JSON_OPT)))
        return r->body_len ? http_reply_error(r, 400, "bad_request", "this call takes no body") : MHD_YES;
    if (r->body_len == 0 && (f & ROUTE_JSON_OPT))
        return MHD_YES;
    if (!wire_json_safe(r->body ? r->body : "", r->body_len))
        return http_reply_error(r, 400, "bad_json", "NUL characters are not allowed");
    const char *end = NULL;
    /* require_null_terminated: "{}garbage" is not JSON */
    r->json = cJSON_ParseWithLengthOpts(r->body ? r->body : "", r->body_len + 1, &end, 1);
    if (!r->json)
        return http_reply_error(r, 400, "bad_json", "the body is not valid JSON");
    if (!cJSON_IsObject(r->json))
        return http_reply_error(r, 400, "bad_json", "the body must be a JSON object");
    return MHD_YES;
}

static enum MHD_Result access_handler(void *cls, struct MHD_Connection *conn, const char *url,
                                      const char *method, const char *version,
                                      const char *upload_data, size_t *upload_data_size,
                                      void **req_cls)
{
    struct http_req *r = *req_cls;
    if (!r && !(r = *req_cls = req_new(cls, conn)))
        return MHD_NO;
    if (!r->method) {
        /* url is the decoded path, without the query string */
        r->method = method;
        snprintf(r->path, sizeof r->path, "%s", url);
        req_begin(r, strlen(url));
        return MHD_YES;
    }
    if (*upload_data_size) {
        if (!r->replied)
            req_body(r, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (r->replied)
        return MHD_YES;
    if (parse_json_body(r) != MHD_YES || r->replied)
        return MHD_YES;
    return r->route->handler(r);
}

/* How a request that did not complete ended, for its log line. */
static const char *ending(enum MHD_RequestTerminationCode toe)
{
    switch (toe) {
    case MHD_REQUEST_TERMINATED_COMPLETED_OK: return "";
    case MHD_REQUEST_TERMINATED_TIMEOUT_REACHED: return " (timed out)";
    case MHD_REQUEST_TERMINATED_DAEMON_SHUTDOWN: return " (shutdown)";
    case MHD_REQUEST_TERMINATED_WITH_ERROR: return " (failed)";
    default: return " (aborted)";   /* the client went away mid-request */
    }
}

static void request_done(void *cls, struct MHD_Connection *conn, void **req_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct http_req *r = *req_cls;
    if (!r)
        return;
    unsigned status = r->status;
    if (!r->replied) {
        /* libmicrohttpd's own answer (400, 431, 505), or none (0) */
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_HTTP_STATUS);
        status = ci ? ci->http_status : 0;
    }
    /* One line per request, whatever became of it. The path only: query
     * strings carry signatures, and no header or body is logged, so no
     * secret reaches the log. "-": the request never got as far as its
     * method (libmicrohttpd refused its headers). */
    log_info("%s %s %u %lldms%s%s%s", r->method ? r->method : "-", r->path, status,
             (long long)(feed_now_ms() - r->start_ms), r->caller.name[0] ? " user=" : "",
             r->caller.name, ending(toe));
    if (r->stream_free)
        r->stream_free(r->stream);
    cJSON_Delete(r->json);
    free(r->body);
    free(r);
    *req_cls = NULL;
}

/* --- the daemon --- */

/* libmicrohttpd's messages name no header, no body and no query string
 * (its URLs are paths). Those about a client's fault are debug: the
 * request's own line already says what happened (its status, or
 * "(aborted)"). */
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    static const char *const client_faults[] = {
        "Error processing request",
        "Connection was closed by remote side",
        "Connection socket is closed",
        "The connection was forcibly closed",
        "Failed to send",
        NULL,
    };
    char line[512];
    vsnprintf(line, sizeof line, fmt, ap);
    line[strcspn(line, "\n")] = '\0';
    for (int i = 0; client_faults[i]; i++)
        if (strncmp(line, client_faults[i], strlen(client_faults[i])) == 0) {
            log_debug("http: %s", line);
            return;
        }
    log_warn("http: %s", line);
}

static char *read_pem(const char *path)
{
    FILE *f = fopen(path, "r");
    char *buf = NULL;
    size_t len = 0;
    if (!f) {
        log_error("cannot read %s: %s", path, strerror(errno));
        return NULL;
    }
    if ((buf = malloc(1 << 20)) != NULL) {
        len = fread(buf, 1, (1 << 20) - 1, f);
        buf[len] = '\0';
    }
    fclose(f);
    if (!buf || len == 0) {
        log_error("%s: %s", path, buf ? "empty" : "out of memory");
        free(buf);
        return NULL;
    }
    return buf;
}

static int parse_listen(const struct dbxd_config *cfg, struct sockaddr_storage *ss, unsigned *flags)
{
    struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
    const char *addr = strcmp(cfg->listen, "localhost") == 0 ? "127.0.0.1" : cfg->listen;
    memset(ss, 0, sizeof *ss);
    if (inet_pton(AF_INET, addr, &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons((uint16_t)cfg->port);
        return 0;
    }
    if (inet_pton(AF_INET6, addr, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)cfg->port);
        *flags |= MHD_USE_IPv6;
        return 0;
    }
    log_error("--listen %s: not an IPv4 or IPv6 address", cfg->listen);
    return -1;
}

static int write_ready_file(const char *path, const char *url)
{
    char tmp[PATH_MAX + 8];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f || fprintf(f, "%s\n", url) < 0 || fclose(f) != 0 || rename(tmp, path) != 0) {
        log_error("cannot write ready file %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

unsigned http_bound_port(struct dbxd *d)
{
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d->mhd, MHD_DAEMON_INFO_BIND_PORT);
    return info ? info->port : d->cfg.port;
}

int http_start(struct dbxd *d)
{
    struct sockaddr_storage ss;
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                     MHD_USE_POLL | MHD_USE_ERROR_LOG;
    /* The pool holds the headers and the read buffer that body bytes
     * arrive through: larger means fewer, bigger reads of chunk uploads. */
    size_t pool = d->cfg.max_header * 2 < (1u << 20) ? (1u << 20) : d->cfg.max_header * 2;
    if (parse_listen(&d->cfg, &ss, &flags) != 0)
        return -1;
    if (d->cfg.tls_cert[0]) {
        flags |= MHD_USE_TLS;
        if (!(d->tls_cert_pem = read_pem(d->cfg.tls_cert)) || !(d->tls_key_pem = read_pem(d->cfg.tls_key)))
            return -1;
    }
    /* One thread per connection: a long-poll simply sleeps in its thread,
     * and a chunk upload streams without ever blocking another request. */
    d->mhd = MHD_start_daemon(flags, 0, NULL, NULL, access_handler, d,
        MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,   /* first: catches every message */
        MHD_OPTION_URI_LOG_CALLBACK, uri_seen, d,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
        MHD_OPTION_CONNECTION_LIMIT, d->cfg.max_connections,
        MHD_OPTION_CONNECTION_TIMEOUT, 300u,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, pool,
        MHD_OPTION_NOTIFY_COMPLETED, request_done, NULL,
        d->tls_cert_pem ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, d->tls_cert_pem,
        MHD_OPTION_HTTPS_MEM_KEY, d->tls_key_pem,
        MHD_OPTION_END);
    if (!d->mhd) {
        log_error("cannot listen on %s port %u", d->cfg.listen, d->cfg.port);
        return -1;
    }
    char url[600];
    int v6 = (flags & MHD_USE_IPv6) != 0;
    snprintf(url, sizeof url, "%s://%s%s%s:%u", d->tls_cert_pem ? "https" : "http", v6 ? "[" : "",
             d->cfg.listen, v6 ? "]" : "", http_bound_port(d));
    log_info("dbxd listening on %s", url);
    if (d->cfg.ready_file[0] && write_ready_file(d->cfg.ready_file, url) != 0)
        return -1;
    char state[sizeof url + 40];
    snprintf(state, sizeof state, "READY=1\nSTATUS=listening on %s", url);
    if (sdnotify(state) < 0)
        log_warn("cannot tell the service manager that dbxd is ready");
    return 0;
}

void http_stop(struct dbxd *d)
{
    if (d->mhd)
        MHD_stop_daemon(d->mhd);
    d->mhd = NULL;
    free(d->tls_cert_pem);
    free(d->tls_key_pem);
    d->tls_cert_pem = d->tls_key_pem = NULL;
}
