#include "change.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

int change_begin(struct dbxd *d, struct change *c)
{
    struct timespec ts;
    memset(c, 0, sizeof *c);
    c->d = d;
    clock_gettime(CLOCK_REALTIME, &ts);
    c->now = (struct wire_time){ts.tv_sec, (uint32_t)ts.tv_nsec};
    return ms_txn_begin(d->ms, 1, &c->t);
}

int change_commit(struct change *c)
{
    int rc = ms_txn_commit(c->t);
    c->t = NULL;
    if (rc || !c->d->feed)  /* admin commands run without a feed */
        return rc;
    if (c->wake_all)
        feed_notify_all(c->d->feed);
    else
        feed_notify(c->d->feed, c->wake, c->nwake);
    return rc;
}

void change_abort(struct change *c)
{
    ms_txn_abort(c->t);
    c->t = NULL;
}

cJSON *change_node_json(ms_txn *t, const struct dbx_node *n, enum role role)
{
    struct dbx_node shown = *n;
    if (ms_user_name(t, n->owner_uid, shown.owner) != 0)
        strcpy(shown.owner, "?");
    cJSON *j = wire_node_to_json(&shown);
    if (j && !cJSON_AddStringToObject(j, "role", access_role_name(role))) {
        cJSON_Delete(j);
        return NULL;
    }
    return j;
}

static void remember_wake(struct change *c, uint32_t uid)
{
    for (size_t i = 0; i < c->nwake; i++)
        if (c->wake[i] == uid)
            return;
    if (c->nwake == sizeof c->wake / sizeof c->wake[0])
        c->wake_all = 1;
    else
        c->wake[c->nwake++] = uid;
}

/* One event in uid's feed. Users may share a sequence number (the key is
 * (user, seq)); one user never gets two events of one number. */
static int emit(struct change *c, uint32_t uid, uint64_t seq, const char *op,
                const struct dbx_node *n, enum role role)
{
    int rc;
    cJSON *ev = cJSON_CreateObject();
    cJSON *node = change_node_json(c->t, n, role);
    char *text = NULL;
    if (ev && node && cJSON_AddNumberToObject(ev, "seq", (double)seq) &&
        cJSON_AddStringToObject(ev, "op", op)) {
        cJSON_AddItemToObject(ev, "node", node);
        node = NULL;
        if (strcmp(op, "share") == 0)
            cJSON_AddStringToObject(ev, "role", access_role_name(role));
        text = cJSON_PrintUnformatted(ev);
    }
    cJSON_Delete(node);
    cJSON_Delete(ev);
    rc = text ? ms_feed_append(c->t, uid, seq, text) : MS_IO;
    free(text);
    if (rc == 0)
        remember_wake(c, uid);
    return rc;
}

int change_tell(struct change *c, uint32_t uid, const char *op, const struct dbx_node *n, enum role role)
{
    uint64_t seq;
    int rc = ms_seq_next(c->t, &seq);
    return rc ? rc : emit(c, uid, seq, op, n, role);
}

static int tell_audience(struct change *c, uint64_t seq, const char *op, const struct dbx_node *n,
                         const struct audience *a)
{
    int rc = 0;
    if (a->overflow)
        c->wake_all = 1;
    for (size_t i = 0; i < a->count && rc == 0; i++)
        rc = emit(c, a->members[i].uid, seq, op, n, a->members[i].role);
    return rc;
}

int change_put_node(struct change *c, struct dbx_node *n, unsigned flags,
                    const struct audience *before)
{
    struct audience *now = malloc(sizeof *now);
    int rc = now ? ms_seq_next(c->t, &n->rev) : MS_IO;
    if (rc)
        goto out;
    if (flags & CHANGE_CONTENT)
        n->content_rev = n->rev;
    n->ctime = c->now;
    if ((rc = ms_node_put(c->t, n)) != 0 || (rc = access_audience(c->t, n, now)) != 0)
        goto out;
    /* the node's rev is the number of this change's events */
    for (size_t i = 0; before && i < before->count && rc == 0; i++)
        if (audience_role(now, before->members[i].uid) == ROLE_NONE)
            rc = emit(c, before->members[i].uid, n->rev, "delete", n, before->members[i].role);
    if (rc == 0)
        rc = tell_audience(c, n->rev, "upsert", n, now);
out:
    free(now);
    return rc;
}

/* Adjusts one counter of each chunk; a chunk whose counters both reach
 * zero joins the garbage-collection queue (gc.c decides after the grace). */
static int adjust_chunks(struct change *c, const struct dbx_chunk *chunks, uint32_t n,
                         int delta, int pins)
{
    int rc = 0;
    for (uint32_t i = 0; i < n && rc == 0; i++) {
        struct ms_chunkrec rec;
        memset(&rec, 0, sizeof rec);
        rc = ms_chunk_get(c->t, chunks[i].hash, &rec);
        if (rc == MS_NOTFOUND && delta > 0)
            rc = 0;  /* a pin for a chunk that has not arrived yet */
        else if (rc)
            break;
        uint64_t *counter = pins ? &rec.pins : &rec.refs;
        if (delta < 0 && *counter < (uint64_t)-delta) {
            log_error("chunk reference count underflow");
            *counter = 0;
        } else {
            *counter = (uint64_t)((int64_t)*counter + delta);
        }
        if (!rec.present)
            rec.raw_size = chunks[i].size;  /* what the session says, until it arrives */
        if (rec.refs == 0 && rec.pins == 0) {
            rec.touched = c->now.sec;
            rc = ms_gcq_put(c->t, chunks[i].hash);
        }
        if (rc == 0)
            rc = ms_chunk_put(c->t, chunks[i].hash, &rec);
    }
    return rc;
}

int change_chunk_refs(struct change *c, const struct dbx_chunk *chunks, uint32_t n, int delta)
{
    return adjust_chunks(c, chunks, n, delta, 0);
}

int change_chunk_pins(struct change *c, const struct dbx_chunk *chunks, uint32_t n, int delta)
{
    return adjust_chunks(c, chunks, n, delta, 1);
}

int change_delete_node(struct change *c, const struct dbx_node *n)
{
    struct dbx_chunk *chunks = NULL;
    uint32_t nchunks = 0;
    struct audience *a = malloc(sizeof *a);
    uint64_t seq = 0;
    int rc = a ? access_audience(c->t, n, a) : MS_IO;
    if (rc == 0)
        rc = ms_seq_next(c->t, &seq);
    if (rc == 0 && n->type == NODE_FILE && (rc = ms_content_get(c->t, n->id, &chunks, &nchunks)) == 0 &&
        (rc = change_chunk_refs(c, chunks, nchunks, -1)) == 0)
        rc = ms_content_del(c->t, n->id);
    if (rc == 0)
        rc = ms_node_del(c->t, n->id);
    /* shares of the node go with it; its recipients are in the audience */
    for (size_t i = 0; rc == 0 && a && i < a->count; i++)
        if (ms_share_del(c->t, n->id, a->members[i].uid) == MS_IO)
            rc = MS_IO;
    if (rc == 0)
        rc = tell_audience(c, seq, "delete", n, a);
    free(chunks);
    free(a);
    return rc;
}
