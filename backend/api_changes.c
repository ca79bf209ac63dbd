/* GET /v1/changes?cursor=&wait=&limit=: the change feed, with long-poll. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"

#define WAIT_MAX 120
#define LIMIT_DEFAULT 1000
#define LIMIT_MAX 10000

/* The answer is built as text from the stored event texts, which are
 * already JSON: no parse and re-print per event. */
struct page {
    char *buf;
    size_t len, cap;
    unsigned count, limit;
    uint64_t last;
    int more, oom;
};

static void page_add(struct page *p, const char *s, size_t len)
{
    if (p->oom || p->len + len + 1 > p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 8192;
        while (cap < p->len + len + 1)
            cap *= 2;
        char *b = p->oom ? NULL : realloc(p->buf, cap);
        if (!b) {
            p->oom = 1;
            return;
        }
        p->buf = b, p->cap = cap;
    }
    memcpy(p->buf + p->len, s, len);
    p->len += len;
    p->buf[p->len] = '\0';
}

static int page_event(void *arg, uint64_t seq, const char *json, size_t len)
{
    struct page *p = arg;
    if (p->count == p->limit) {
        p->more = 1;
        return 1;
    }
    if (p->count++)
        page_add(p, ",", 1);
    page_add(p, json, len);
    p->last = seq;
    return p->oom;
}

static enum MHD_Result reply_page(struct http_req *r, struct page *p, uint64_t cursor)
{
    char head[96];
    int n = snprintf(head, sizeof head, "{\"cursor\":%llu,\"more\":%s,\"changes\":[",
                     (unsigned long long)(p->count ? p->last : cursor), p->more ? "true" : "false");
    struct page out = {0};
    page_add(&out, head, (size_t)n);
    if (p->len)
        page_add(&out, p->buf, p->len);
    page_add(&out, "]}", 2);
    free(p->buf);
    if (out.oom) {
        free(out.buf);
        return http_reply_error(r, 500, "internal", "out of memory");
    }
    struct MHD_Response *resp = MHD_create_response_from_buffer(out.len, out.buf, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(resp, "Content-Type", "application/json");
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    return http_reply_response(r, 200, resp);
}

static enum MHD_Result reply_latest(struct http_req *r)
{
    ms_txn *t;
    int rc = ms_txn_begin(r->d->ms, 0, &t);
    if (rc)
        return http_reply_ms_error(r, rc);
    struct page p = {0};
    uint64_t last = ms_seq_last(t);
    ms_txn_abort(t);
    return reply_page(r, &p, last);
}

enum MHD_Result api_changes(struct http_req *r)
{
    const char *cursor_arg = http_query(r, "cursor");
    uint64_t cursor = 0, wait = 0, limit = LIMIT_DEFAULT;
    if (cursor_arg && strcmp(cursor_arg, "latest") == 0)
        return reply_latest(r);
    if (api_query_uint(r, "cursor", WIRE_MAX_SAFE_INT, &cursor))
        return api_bad_field(r, "cursor");
    if (api_query_uint(r, "wait", WAIT_MAX, &wait))
        return api_bad_field(r, "wait");
    if (api_query_uint(r, "limit", LIMIT_MAX, &limit) || limit == 0)
        return api_bad_field(r, "limit");
    int64_t deadline = feed_now_ms() + (int64_t)wait * 1000;
    for (;;) {
        /* Read the counter before looking, so a commit in between wakes us. */
        uint64_t seen = feed_counter(r->d->feed, r->caller.uid);
        struct page p = {.limit = (unsigned)limit};
        ms_txn *t;
        int rc = ms_txn_begin(r->d->ms, 0, &t);
        if (rc)
            return http_reply_ms_error(r, rc);
        rc = ms_feed_read(t, r->caller.uid, cursor, page_event, &p);
        ms_txn_abort(t);
        if (rc < 0 || p.oom) {
            free(p.buf);
            return http_reply_ms_error(r, rc < 0 ? rc : MS_IO);
        }
        if (p.count || feed_now_ms() >= deadline)
            return reply_page(r, &p, cursor);
        free(p.buf);
        if (feed_wait(r->d->feed, r->caller.uid, seen, deadline) < 0)
            return reply_page(r, &(struct page){0}, cursor);
    }
}
