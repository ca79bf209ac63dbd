/* httpc: one handle and its requests: the curl easy handle, the callbacks
 * that route an answer's body (to a sink, through the zstd decoder, or into
 * a buffer for JSON), and the three kinds of request. See httpc.h. */
#include "httpc_int.h"

#include <ctype.h>
#include <stdatomic.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "log.h"
#include "zframe.h"

#define HTTPC_RECV_BUF (512L * 1024)        /* CURL_MAX_READ_SIZE */
#define HTTPC_SEND_BUF (2L * 1024 * 1024)   /* the largest curl allows */
#define HTTPC_JSON_MAX ((size_t)512 << 20)  /* JSON answer limit */
#define HTTPC_ERRBODY_MAX ((size_t)1 << 20) /* answer of a chunk request */
#define HTTPC_KEEP_BUF ((size_t)4 << 20)    /* reply buffer kept between calls */

struct rbuf {
    char *p;
    size_t len, cap, max;
};

struct httpc {
    httpc_pool *pool;
    CURL *curl;
    long timeout_ms;
    const atomic_int *cancel;     /* non-zero: abort the request in flight */
    char errbuf[CURL_ERROR_SIZE];
    char msg[CURL_ERROR_SIZE + 64];
    zframe_dec *dec;
    /* state of the request in flight */
    struct rbuf body;
    long status;                  /* from the last status line seen */
    int zstd;                     /* Content-Encoding: zstd */
    int ce_other;                 /* another content coding: refused */
    int routed;                   /* the body's destination is decided */
    int to_sink;
    httpc_sink sink;
    void *sink_arg;
    int stopped;                  /* sink or limit stopped the transfer */
    uint64_t wire;
    int api;                      /* an API call: a 2xx answer must be JSON */
    char *url;                    /* resolved URL of the request */
    struct curl_slist *hdrs;
};

/* ---- one handle ----------------------------------------------------------- */

static size_t on_header(char *buf, size_t size, size_t n, void *arg);
static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow,
                       curl_off_t ultotal, curl_off_t ulnow);
static size_t on_body(char *buf, size_t size, size_t n, void *arg);

static int easy_setup(httpc *h)
{
    CURL *c = h->curl;
    httpc_pool *p = h->pool;

    if (curl_easy_setopt(c, CURLOPT_SHARE, p->share) ||
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) ||
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, h->errbuf) ||
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https") ||
        curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L) ||
        curl_easy_setopt(c, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1) ||
        curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L) ||
        curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L) ||
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 10000L) ||
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L) ||
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L) ||
        curl_easy_setopt(c, CURLOPT_HTTP_CONTENT_DECODING, 0L) ||
        curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header) ||
        curl_easy_setopt(c, CURLOPT_HEADERDATA, h) ||
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body) ||
        curl_easy_setopt(c, CURLOPT_WRITEDATA, h) ||
        curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress) ||
        curl_easy_setopt(c, CURLOPT_XFERINFODATA, h) ||
        curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L))
        return -1;
    /* Large buffers: fewer callbacks and syscalls. Older curls cap them
     * silently, so their failure is not fatal. */
    curl_easy_setopt(c, CURLOPT_BUFFERSIZE, HTTPC_RECV_BUF);
    curl_easy_setopt(c, CURLOPT_UPLOAD_BUFFERSIZE, HTTPC_SEND_BUF);
    if (p->ca_file && curl_easy_setopt(c, CURLOPT_CAINFO, p->ca_file))
        return -1;
    return 0;
}

httpc *httpc_new(httpc_pool *p)
{
    httpc *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    h->pool = p;
    h->curl = curl_easy_init();
    if (!h->curl || easy_setup(h) < 0) {
        httpc_free(h);
        errno = ENOMEM;
        return NULL;
    }
    return h;
}

void httpc_free(httpc *h)
{
    if (!h)
        return;
    if (h->curl)
        curl_easy_cleanup(h->curl);
    zframe_dec_free(h->dec);
    free(h->body.p);
    free(h);
}

const char *httpc_error(const httpc *h)
{
    return h->msg;
}

void httpc_set_timeout(httpc *h, long ms)
{
    h->timeout_ms = ms > 0 ? ms : 0;
}

const char *httpc_errcode(const cJSON *reply)
{
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(reply, "error");
    return cJSON_IsString(e) ? e->valuestring : NULL;
}

static void set_msg(httpc *h, const char *text)
{
    snprintf(h->msg, sizeof h->msg, "%s", text);
}

/* ---- callbacks ------------------------------------------------------------ */

static int rbuf_add(struct rbuf *b, const void *data, size_t len)
{
    size_t need = b->len + len + 1, cap;
    char *np;

    if (b->len + len > b->max)
        return -1;
    if (need > b->cap) {
        cap = b->cap ? b->cap : 4096;
        while (cap < need)
            cap *= 2;
        np = realloc(b->p, cap);
        if (!np)
            return -1;
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, data, len);
    b->len += len;
    b->p[b->len] = '\0';
    return 0;
}

/* Trims "  value \r\n" in place; returns the value. */
static char *hdr_value(char *v, char *end)
{
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && isspace((unsigned char)end[-1]))
        end--;
    *end = '\0';
    return v;
}

/* libcurl calls this at least once a second, even on an idle long-poll:
 * the place to notice that the owner wants the request to stop. */
static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow,
                       curl_off_t ultotal, curl_off_t ulnow)
{
    httpc *h = arg;
    return h->cancel && atomic_load(h->cancel);
}

void httpc_set_cancel(httpc *h, const atomic_int *flag)
{
    h->cancel = flag;
}

static size_t on_header(char *buf, size_t size, size_t n, void *arg)
{
    httpc *h = arg;
    size_t len = size * n;
    static const char ce[] = "content-encoding:";
    char line[256], *v;

    if (len >= 5 && memcmp(buf, "HTTP/", 5) == 0) {
        /* A new answer (after a 1xx, the real one): start over. */
        const char *sp = memchr(buf, ' ', len);
        h->status = sp ? strtol(sp + 1, NULL, 10) : 0;
        h->zstd = 0;
        h->ce_other = 0;
        return len;
    }
    if (len > sizeof ce - 1 && len < sizeof line &&
        strncasecmp(buf, ce, sizeof ce - 1) == 0) {
        memcpy(line, buf, len);
        v = hdr_value(line + sizeof ce - 1, line + len);
        if (strcasecmp(v, "zstd") == 0)
            h->zstd = 1;
        else if (*v && strcasecmp(v, "identity") != 0)
            h->ce_other = 1;
    }
    return len;
}

static int sink_body(void *arg, const void *buf, size_t len)
{
    httpc *h = arg;
    return rbuf_add(&h->body, buf, len) < 0 ? -1 : 0;
}

static size_t on_body(char *buf, size_t size, size_t n, void *arg)
{
    httpc *h = arg;
    size_t len = size * n;
    httpc_sink sink;
    void *sarg;
    int r;

    h->wire += len;
    if (!h->routed) {
        h->routed = 1;
        h->to_sink = h->sink && h->status >= 200 && h->status < 300;
        if (h->zstd) {
            if (!h->dec && !(h->dec = zframe_dec_new()))
                goto stop;
            zframe_dec_reset(h->dec);
        }
    }
    if (h->to_sink && h->ce_other)
        goto stop;
    sink = h->to_sink ? h->sink : sink_body;
    sarg = h->to_sink ? h->sink_arg : h;
    if (h->zstd)
        r = zframe_dec_push(h->dec, buf, len, sink, sarg);
    else
        r = sink(sarg, buf, len);
    if (r != 0)
        goto stop;
    return len;
stop:
    h->stopped = 1;
    return 0;
}

/* ---- requests ------------------------------------------------------------- */

struct req {
    const char *method;           /* "GET", "POST", "PUT", "PATCH", "DELETE" */
    const char *url;              /* relative or absolute */
    const void *body;             /* NULL: no body */
    size_t body_len;
    const char *content_type;
    const char *content_encoding;
    int api;                      /* an API call: token and JSON answer */
    int accept_zstd;
    httpc_sink sink;
    void *sink_arg;
};

static struct curl_slist *add_hdr(struct curl_slist *l, const char *hdr,
                                  int *err)
{
    struct curl_slist *n = curl_slist_append(l, hdr);
    if (!n) {
        *err = 1;
        return l;
    }
    return n;
}

static struct curl_slist *build_headers(httpc *h, const struct req *r,
                                        const char *url)
{
    struct curl_slist *l = NULL;
    char line[128];
    int err = 0;

    /* No "Expect: 100-continue": one round trip less per chunk. */
    l = add_hdr(l, "Expect:", &err);
    if (r->body) {
        snprintf(line, sizeof line, "Content-Type: %s", r->content_type);
        l = add_hdr(l, line, &err);
    }
    if (r->content_encoding) {
        snprintf(line, sizeof line, "Content-Encoding: %s",
                 r->content_encoding);
        l = add_hdr(l, line, &err);
    }
    if (r->api)
        l = add_hdr(l, "Accept: application/json", &err);
    l = add_hdr(l, r->accept_zstd ? "Accept-Encoding: zstd"
                                  : "Accept-Encoding: identity", &err);
    if (r->api && !err && httpc_pool_add_auth(h->pool, url, &l) < 0)
        err = 1;
    if (err) {
        curl_slist_free_all(l);
        return NULL;
    }
    return l;
}

static int set_method(CURL *c, const struct req *r)
{
    if (r->body) {
        /* POSTFIELDS sends straight from the caller's buffer. */
        if (curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
                             (curl_off_t)r->body_len) ||
            curl_easy_setopt(c, CURLOPT_POSTFIELDS, r->body))
            return -1;
    } else if (curl_easy_setopt(c, CURLOPT_HTTPGET, 1L)) {
        return -1;
    }
    if (strcmp(r->method, r->body ? "POST" : "GET") == 0)
        return curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, NULL) ? -1 : 0;
    return curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, r->method) ? -1 : 0;
}

static void reset_state(httpc *h, const struct req *r)
{
    h->msg[0] = '\0';
    h->errbuf[0] = '\0';
    h->body.len = 0;
    /* A chunk request's answer is a short JSON note, never a listing. */
    h->body.max = r->api ? HTTPC_JSON_MAX : HTTPC_ERRBODY_MAX;
    h->status = 0;
    h->zstd = h->ce_other = 0;
    h->routed = h->to_sink = 0;
    h->sink = r->sink;
    h->sink_arg = r->sink_arg;
    h->stopped = 0;
    h->wire = 0;
}

/* Answers carry tokens (login) and signed URLs: none stays in memory
 * after its request. */
static void trim_body(httpc *h)
{
    if (h->body.p)
        explicit_bzero(h->body.p, h->body.len);
    if (h->body.cap > HTTPC_KEEP_BUF) {
        free(h->body.p);
        h->body.p = NULL;
        h->body.cap = 0;
    }
    h->body.len = 0;
}

/* The answer's body into *reply. -1 when a 2xx API answer is not JSON. */
static int parse_reply(httpc *h, long status, cJSON **reply)
{
    cJSON *j = NULL;

    if (h->body.len > 0) {
        j = cJSON_ParseWithLength(h->body.p, h->body.len);
        if (!j && h->api && status >= 200 && status < 300) {
            set_msg(h, "invalid JSON in answer");
            return -1;
        }
    }
    if (reply)
        *reply = j;
    else
        cJSON_Delete(j);
    return 0;
}

static int transport_error(httpc *h, CURLcode rc)
{
    if (h->stopped && h->ce_other)
        set_msg(h, "unsupported Content-Encoding in answer");
    else if (h->stopped && h->to_sink)
        set_msg(h, "stopped by receiver");
    else if (h->stopped)
        set_msg(h, "answer too large or not decodable");
    else
        set_msg(h, h->errbuf[0] ? h->errbuf : curl_easy_strerror(rc));
    /* Not the token, not the signed URL: only what went wrong. */
    return -1;
}

static void finish_cleanup(httpc *h)
{
    /* The header list and body belong to this request only. */
    curl_easy_setopt(h->curl, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(h->curl, CURLOPT_POSTFIELDS, NULL);
    curl_slist_free_all(h->hdrs);
    h->hdrs = NULL;
    free(h->url);
    h->url = NULL;
    trim_body(h);
    h->sink = NULL;
    h->sink_arg = NULL;
}

/* Sets h up for request r. 0, or -1 (message set, nothing left over). */
static int start(httpc *h, const struct req *r)
{
    reset_state(h, r);
    h->api = r->api;
    h->url = httpc_resolve(h->pool, r->url);
    if (!h->url) {
        set_msg(h, errno == EINVAL ? "not an http(s) URL" : "no memory");
        goto fail;
    }
    h->hdrs = build_headers(h, r, h->url);
    if (!h->hdrs) {
        set_msg(h, "no memory");
        goto fail;
    }
    if (curl_easy_setopt(h->curl, CURLOPT_URL, h->url) ||
        curl_easy_setopt(h->curl, CURLOPT_HTTPHEADER, h->hdrs) ||
        curl_easy_setopt(h->curl, CURLOPT_TIMEOUT_MS, h->timeout_ms) ||
        set_method(h->curl, r) < 0) {
        set_msg(h, "cannot set up the request");
        goto fail;
    }
    return 0;
fail:
    finish_cleanup(h);
    return -1;
}

/* The outcome of the request started on h, which curl ended with rc. */
static int finish(httpc *h, CURLcode rc, long *status, cJSON **reply,
                  uint64_t *wire)
{
    long st = 0;
    int ret = -1;

    if (wire)
        *wire = h->wire;
    if (rc != CURLE_OK) {
        transport_error(h, rc);
        goto out;
    }
    curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &st);
    if (h->to_sink && h->zstd && zframe_dec_end(h->dec) < 0) {
        set_msg(h, "zstd answer cut short");
        goto out;
    }
    if (h->ce_other && st >= 200 && st < 300) {
        set_msg(h, "unsupported Content-Encoding in answer");
        goto out;
    }
    if (status)
        *status = st;
    ret = parse_reply(h, st, reply);
out:
    finish_cleanup(h);
    return ret;
}

static long long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int perform(httpc *h, const struct req *r, long *status,
                   cJSON **reply, uint64_t *wire)
{
    long st = 0;
    int ret;

    if (reply)
        *reply = NULL;
    if (status)
        *status = 0;
    if (wire)
        *wire = 0;
    if (start(h, r) < 0)
        return -1;
    long long t0 = mono_ms();
    ret = finish(h, curl_easy_perform(h->curl), &st, reply, wire);
    if (status)
        *status = st;
    /* The path, never the query: a signed URL carries its signature
     * there. No header (the token) and no body (a login's password). */
    log_debug("http: %s %.*s %ld %lldms%s%s", r->method, (int)strcspn(r->url, "?#"),
              r->url, st, mono_ms() - t0,
              ret ? ": " : "", ret ? h->msg : "");
    return ret;
}

int httpc_json(httpc *h, const char *method, const char *path,
               const cJSON *body, long *status, cJSON **reply)
{
    struct req r = {
        .method = method, .url = path, .api = 1,
        .content_type = "application/json",
    };
    char *text = NULL;
    int ret;

    if (body) {
        text = cJSON_PrintUnformatted(body);
        if (!text) {
            if (reply)
                *reply = NULL;
            set_msg(h, "no memory");
            return -1;
        }
        r.body = text;
        r.body_len = strlen(text);
    }
    ret = perform(h, &r, status, reply, NULL);
    if (text)
        explicit_bzero(text, r.body_len);   /* a login sends the password */
    cJSON_free(text);
    return ret;
}

int httpc_put_buf(httpc *h, const char *url, const void *buf, size_t len,
                  const char *content_encoding, long *status, cJSON **reply)
{
    struct req r = {
        .method = "PUT", .url = url, .body = buf ? buf : "",
        .body_len = len, .content_type = "application/octet-stream",
        .content_encoding = content_encoding,
    };
    return perform(h, &r, status, reply, NULL);
}

int httpc_get_stream(httpc *h, const char *url, int accept_zstd,
                     httpc_sink sink, void *arg, long *status, cJSON **reply,
                     uint64_t *wire_bytes)
{
    struct req r = {
        .method = "GET", .url = url, .accept_zstd = accept_zstd,
        .sink = sink, .sink_arg = arg,
    };
    return perform(h, &r, status, reply, wire_bytes);
}
