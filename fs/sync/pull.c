/* pull: see pull.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "apply.h"
#include "conn.h"
#include "log.h"
#include "node.h"
#include "pull.h"
#include "shared.h"
#include "shared_list.h"
#include "tree.h"

#define PULL_WAIT 60          /* seconds a long-poll may be held */
#define REFRESH_MAX 256
#define PRUNE_EVERY_MS 10000

struct pull {
    struct dbxfs *fs;
    pthread_t thread;
    int started;
    atomic_int stop;
    atomic_int interrupt;        /* cuts the request in flight short: stop or a refresh */
    httpc *h;
    pthread_mutex_t mu;
    uint64_t refresh[REFRESH_MAX];
    int nrefresh;
};

void pull_refresh(struct dbxfs *fs, uint64_t id)
{
    struct pull *p = fs->pull;

    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    if (p->nrefresh < REFRESH_MAX)
        p->refresh[p->nrefresh++] = id;
    pthread_mutex_unlock(&p->mu);
    atomic_store(&p->interrupt, 1);
}

struct batch {
    const cJSON *changes;
    uint64_t cursor;
    struct apply_notes notes;
    int shares;                  /* a share or unshare: list Shared with me again */
};

static int apply_change(struct dbxfs *fs, metadb_txn *t, const cJSON *c,
                        struct batch *b)
{
    struct apply_notes *notes = &b->notes;
    const cJSON *op = cJSON_GetObjectItem(c, "op"), *node = cJSON_GetObjectItem(c, "node");
    struct cnode n;
    uint64_t id, seq = 0;

    /* Unknown or malformed events: nothing this version can apply. */
    if (!cJSON_IsString(op))
        return 0;
    if (strcmp(op->valuestring, "share") == 0 || strcmp(op->valuestring, "unshare") == 0) {
        b->shares = 1;
        return 0;
    }
    if (wire_get_uint(c, "seq", UINT64_MAX, &seq) != WIRE_OK)
        seq = b->cursor;
    if (strcmp(op->valuestring, "delete") == 0)
        return wire_get_id(node, "id", &id) == WIRE_OK ?
               apply_remote_delete(fs, t, id, seq, notes) : 0;
    memset(&n, 0, sizeof(n));
    if (strcmp(op->valuestring, "upsert") == 0 && node_from_wire(node, &n) == 0)
        return apply_remote(fs, t, &n, notes);
    return 0;
}

static int do_batch(struct dbxfs *fs, metadb_txn *t, void *arg)
{
    struct batch *b = arg;
    const cJSON *c;
    int rc = 0;

    cJSON_ArrayForEach(c, b->changes)
        if ((rc = apply_change(fs, t, c, b)))
            return rc;
    return metadb_kv_put(t, "cursor", b->cursor);
}

static int read_cursor(struct dbxfs *fs, uint64_t *cursor)
{
    metadb_txn *t;
    int rc = metadb_begin(fs->db, 0, &t);

    if (rc)
        return rc;
    rc = metadb_kv_get(t, "cursor", cursor);
    metadb_abort(t);
    if (rc == -ENOENT) {
        *cursor = 0;
        rc = 0;
    }
    return rc;
}

/* Applies one answer of the feed. 1: more are ready at once; 0; -errno. */
static int take_batch(struct pull *p, const cJSON *reply)
{
    struct batch b = { 0 };
    int more, rc;

    if (wire_get_uint(reply, "cursor", UINT64_MAX, &b.cursor))
        return -EIO;
    b.changes = cJSON_GetObjectItem(reply, "changes");
    more = cJSON_IsTrue(cJSON_GetObjectItem(reply, "more"));
    rc = fs_write(p->fs, do_batch, &b);
    apply_notes_send(p->fs, &b.notes);
    if (rc)
        return rc;
    if (b.shares)
        shared_list(p->fs);
    return more;
}

/* One long-poll and its events (wait 0 asks without holding: after a
 * failure, so that coming back online shows at once). 1: more are ready
 * at once; 0; -errno. */
static int poll_once(struct pull *p, int wait)
{
    char path[96];
    cJSON *reply = NULL;
    uint64_t cursor;
    long status = 0;
    int rc = read_cursor(p->fs, &cursor);

    if (rc)
        return rc;
    snprintf(path, sizeof(path), "/v1/changes?cursor=%llu&wait=%d&limit=1000",
             (unsigned long long)cursor, wait);
    rc = httpc_json(p->h, "GET", path, NULL, &status, &reply);
    if (atomic_load(&p->stop) || (rc && atomic_load(&p->interrupt))) {
        cJSON_Delete(reply);
        return atomic_load(&p->stop) ? -EINTR : 1;   /* refreshes first */
    }
    conn_note(p->fs, rc == 0, rc == 0 ? status : 0);
    if (rc)
        goto out;
    rc = status == 200 ? take_batch(p, reply) : -EAGAIN;
out:
    cJSON_Delete(reply);
    return rc;
}

struct one_node {
    uint64_t id;
    long status;
    const cJSON *node;
    struct apply_notes notes;
};

/* dbxd's answer for one node, applied as an event would be (a 404: gone,
 * as of the cursor, which every older event is behind). */
static int do_one(struct dbxfs *fs, metadb_txn *t, void *arg)
{
    struct one_node *a = arg;
    struct cnode n;
    uint64_t cursor = 0;

    memset(&n, 0, sizeof(n));
    if (a->status == 200)
        return node_from_wire(a->node, &n) ? -EIO : apply_remote(fs, t, &n, &a->notes);
    metadb_kv_get(t, "cursor", &cursor);
    return apply_remote_delete(fs, t, a->id, cursor, &a->notes);
}

/* Reads node id from dbxd (through h, or a borrowed handle when NULL). */
static int fetch_node(struct dbxfs *fs, httpc *h, uint64_t id, struct apply_notes *notes)
{
    struct one_node a = { .id = id };
    char path[64], hex[17];
    cJSON *reply = NULL;
    int rc;

    wire_id_format(id, hex);
    snprintf(path, sizeof(path), "/v1/nodes/%s", hex);
    rc = h ? (httpc_json(h, "GET", path, NULL, &a.status, &reply) ? -EIO : 0)
           : conn_json(fs, "GET", path, NULL, &a.status, &reply);
    if (rc)
        goto out;
    if (a.status != 200 && a.status != 404) {
        rc = -conn_errno(a.status, reply);
        goto out;
    }
    a.node = reply;
    rc = fs_write(fs, do_one, &a);
out:
    *notes = a.notes;
    cJSON_Delete(reply);
    return rc;
}

int pull_node_now(struct dbxfs *fs, uint64_t id)
{
    struct apply_notes notes = { 0 };
    int rc = fetch_node(fs, NULL, id, &notes);

    apply_notes_send_async(fs, &notes);
    return rc;
}

/* Nodes asked for again (pull_refresh): read them anew. */
static int refresh_one(struct pull *p, uint64_t id)
{
    struct apply_notes notes = { 0 };
    int rc = fetch_node(p->fs, p->h, id, &notes);

    apply_notes_send(p->fs, &notes);
    return rc;
}

static void refresh_pending(struct pull *p)
{
    uint64_t ids[REFRESH_MAX];
    int n;

    pthread_mutex_lock(&p->mu);
    n = p->nrefresh;
    memcpy(ids, p->refresh, (size_t)n * sizeof(ids[0]));
    p->nrefresh = 0;
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < n; i++)
        if (refresh_one(p, ids[i]) == -EIO)
            pull_refresh(p->fs, ids[i]);
}

static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void *pull_thread(void *arg)
{
    struct pull *p = arg;
    long long pruned = now_ms();
    int failures = 0;

    for (;;) {
        /* Reset before looking at stop and taking the list: a stop or a
         * refresh asked for after this cuts the next request short. */
        atomic_store(&p->interrupt, 0);
        if (atomic_load(&p->stop))
            break;
        refresh_pending(p);
        int rc = poll_once(p, failures ? 0 : PULL_WAIT);
        /* What the feed brought may let nodes waiting in the resync set go. */
        apply_sweep(p->fs, now_ms());
        if (now_ms() - pruned > PRUNE_EVERY_MS) {
            apply_prune(p->fs);
            pruned = now_ms();
        }
        if (rc >= 0) {
            failures = 0;
            continue;
        }
        /* Offline or refused: try again soon, a little later each time. */
        for (int i = 0; i < (failures < 5 ? failures + 1 : 5) * 5 &&
                        !atomic_load(&p->stop); i++)
            usleep(200000);
        failures++;
    }
    return NULL;
}

int pull_start(struct dbxfs *fs)
{
    struct pull *p = calloc(1, sizeof(*p));

    if (!p)
        return -ENOMEM;
    p->fs = fs;
    pthread_mutex_init(&p->mu, NULL);
    p->h = httpc_new(fs->pool);
    if (!p->h) {
        free(p);
        return -ENOMEM;
    }
    httpc_set_timeout(p->h, (PULL_WAIT + 30) * 1000L);
    httpc_set_cancel(p->h, &p->interrupt);
    fs->pull = p;
    if (pthread_create(&p->thread, NULL, pull_thread, p))
        return -EAGAIN;
    p->started = 1;
    return 0;
}

void pull_stop(struct dbxfs *fs)
{
    struct pull *p = fs->pull;

    if (!p)
        return;
    atomic_store(&p->stop, 1);
    atomic_store(&p->interrupt, 1);
    if (p->started)
        pthread_join(p->thread, NULL);
    httpc_free(p->h);
    pthread_mutex_destroy(&p->mu);
    free(p);
    fs->pull = NULL;
}
