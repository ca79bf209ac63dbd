/* oplog: see oplog.h. */
#include <errno.h>
#include <stdlib.h>

#include "oplog.h"

typedef int (*journal_add_fn)(metadb_txn *t, uint64_t id, uint64_t also, const char *op);

static int add(metadb_txn *t, uint64_t id, uint64_t also, const char *op, cJSON *body,
               journal_add_fn fn)
{
    cJSON *j = cJSON_CreateObject();
    char *text = NULL;
    int rc = -ENOMEM;

    if (!j || !cJSON_AddStringToObject(j, "op", op) || wire_add_id(j, "id", id))
        goto out;
    if (body) {
        cJSON_AddItemToObject(j, "body", body);
        body = NULL;
    }
    text = cJSON_PrintUnformatted(j);
    if (text)
        rc = fn(t, id, also, text);
out:
    cJSON_Delete(body);
    cJSON_Delete(j);
    free(text);
    return rc;
}

static int create(metadb_txn *t, const struct cnode *n, journal_add_fn fn)
{
    cJSON *b = cJSON_CreateObject();

    if (!b || wire_add_id(b, "id", n->id) || wire_add_id(b, "parent", n->parent) ||
        !cJSON_AddStringToObject(b, "name", n->name) ||
        !cJSON_AddStringToObject(b, "type", wire_type_name(n->type)) ||
        !cJSON_AddNumberToObject(b, "mode", n->mode & 07777) ||
        !cJSON_AddNumberToObject(b, "uid", n->uid) ||
        !cJSON_AddNumberToObject(b, "gid", n->gid) ||
        wire_add_time(b, "mtime", n->mtime) ||
        (n->type == NODE_SYMLINK && !cJSON_AddStringToObject(b, "target", n->target))) {
        cJSON_Delete(b);
        return -ENOMEM;
    }
    return add(t, n->id, 0, "create", b, fn);
}

int oplog_create(metadb_txn *t, const struct cnode *n)
{
    return create(t, n, metadb_journal_append);
}

int oplog_create_first(metadb_txn *t, const struct cnode *n)
{
    int rc = create(t, n, metadb_journal_prepend);

    /* A journal numbered by an older version: last is the best there is. */
    return rc == -ERANGE ? create(t, n, metadb_journal_append) : rc;
}

int oplog_patch(metadb_txn *t, const struct cnode *n, unsigned mask)
{
    cJSON *b = cJSON_CreateObject();

    if (!b ||
        ((mask & OPLOG_MODE) && !cJSON_AddNumberToObject(b, "mode", n->mode & 07777)) ||
        ((mask & OPLOG_OWNER) && (!cJSON_AddNumberToObject(b, "uid", n->uid) ||
                                  !cJSON_AddNumberToObject(b, "gid", n->gid))) ||
        ((mask & OPLOG_ATIME) && wire_add_time(b, "atime", n->atime)) ||
        ((mask & OPLOG_MTIME) && wire_add_time(b, "mtime", n->mtime))) {
        cJSON_Delete(b);
        return -ENOMEM;
    }
    return add(t, n->id, 0, "patch", b, metadb_journal_append);
}

int oplog_move(metadb_txn *t, const struct cnode *n, const struct cnode *victim)
{
    cJSON *b = cJSON_CreateObject();

    if (!b || wire_add_id(b, "parent", n->parent) ||
        !cJSON_AddStringToObject(b, "name", n->name) ||
        (victim && (!cJSON_AddBoolToObject(b, "replace", 1) ||
                    wire_add_id(b, "victim", victim->id) ||
                    (victim->type == NODE_FILE &&
                     !cJSON_AddNumberToObject(b, "victim_content_rev",
                                              (double)victim->content_rev))))) {
        cJSON_Delete(b);
        return -ENOMEM;
    }
    /* the victim counts as pending while its replacement is queued */
    return add(t, n->id, victim ? victim->id : 0, "patch", b, metadb_journal_append);
}

int oplog_delete(metadb_txn *t, const struct cnode *n)
{
    cJSON *b = NULL;

    if (n->type == NODE_FILE &&
        (!(b = cJSON_CreateObject()) ||
         !cJSON_AddNumberToObject(b, "if_content_rev", (double)n->content_rev))) {
        cJSON_Delete(b);
        return -ENOMEM;
    }
    return add(t, n->id, 0, "delete", b, metadb_journal_append);
}

int oplog_delete_victim(metadb_txn *t, const cJSON *body)
{
    struct cnode v = { .type = NODE_DIR };
    const cJSON *rev = cJSON_GetObjectItem(body, "victim_content_rev");

    if (wire_get_id(body, "victim", &v.id) != WIRE_OK)
        return 0;
    if (cJSON_IsNumber(rev)) {
        v.type = NODE_FILE;
        v.content_rev = (uint64_t)rev->valuedouble;
    }
    return oplog_delete(t, &v);
}

/* Drops the entry at seq, which is id's own; a rename it carried over
 * another node leaves that node's delete to do on its own. */
static int drop_one(metadb_txn *t, uint64_t seq, uint64_t id)
{
    uint64_t owner;
    char *text = NULL;
    cJSON *j = NULL;
    int rc = metadb_journal_get(t, seq, &owner, &text);

    if (rc)
        goto out;
    if (owner != id)
        goto out;                 /* another node's rename that replaced id */
    rc = metadb_journal_del(t, seq);
    if (rc)
        goto out;
    j = cJSON_Parse(text);
    if (j)
        rc = oplog_delete_victim(t, cJSON_GetObjectItem(j, "body"));
out:
    cJSON_Delete(j);
    free(text);
    return rc;
}

#define DROP_MAX 1024

int oplog_drop_node(metadb_txn *t, uint64_t id, uint64_t busy_lo, uint64_t busy_hi)
{
    uint64_t seqs[DROP_MAX];
    int n = metadb_journal_of(t, id, seqs, DROP_MAX), rc;

    if (n < 0)
        return n;
    if (n == DROP_MAX)
        return 0;                 /* too many to look at: let them go their way */
    for (int i = 0; i < n; i++)
        if (busy_hi && seqs[i] >= busy_lo && seqs[i] <= busy_hi)
            return 0;
    for (int i = 0; i < n; i++)
        if ((rc = drop_one(t, seqs[i], id)))
            return rc;
    return 1;
}
