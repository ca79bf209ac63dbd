/* oplog: see oplog.h. */
#include <errno.h>
#include <stdlib.h>

#include "oplog.h"

static int append(metadb_txn *t, uint64_t id, const char *op, cJSON *body)
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
        rc = metadb_journal_append(t, id, text);
out:
    cJSON_Delete(body);
    cJSON_Delete(j);
    free(text);
    return rc;
}

int oplog_create(metadb_txn *t, const struct cnode *n)
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
    return append(t, n->id, "create", b);
}

int oplog_patch(metadb_txn *t, const struct cnode *n, unsigned mask)
{
    cJSON *b = cJSON_CreateObject();
    int bad = !b;

    if (!bad && (mask & OPLOG_MODE))
        bad = !cJSON_AddNumberToObject(b, "mode", n->mode & 07777);
    if (!bad && (mask & OPLOG_OWNER))
        bad = !cJSON_AddNumberToObject(b, "uid", n->uid) ||
              !cJSON_AddNumberToObject(b, "gid", n->gid);
    if (!bad && (mask & OPLOG_ATIME))
        bad = wire_add_time(b, "atime", n->atime);
    if (!bad && (mask & OPLOG_MTIME))
        bad = wire_add_time(b, "mtime", n->mtime);
    if (!bad && (mask & OPLOG_MOVE))
        bad = wire_add_id(b, "parent", n->parent) ||
              !cJSON_AddStringToObject(b, "name", n->name);
    if (!bad && (mask & OPLOG_REPLACE))
        bad = !cJSON_AddBoolToObject(b, "replace", 1);
    if (bad) {
        cJSON_Delete(b);
        return -ENOMEM;
    }
    return append(t, n->id, "patch", b);
}

int oplog_delete(metadb_txn *t, uint64_t id)
{
    return append(t, id, "delete", NULL);
}
