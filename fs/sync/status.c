/* status: the mount's sync state, as the user.dbxfs.status xattr of the
 * root shows it (dbxctl status and the tests read it). */
#include <stdlib.h>

#include "dbxfs.h"
#include "status.h"
#include "push.h"

/* What the block cache got over by itself: damaged chunks it dropped (read
 * again from dbxd) and lost recency updates (only eviction order suffers). */
static void add_cache_faults(struct dbxfs *fs, cJSON *j)
{
    struct blockcache_faults f;

    blockcache_faults(fs->bc, &f);
    cJSON_AddNumberToObject(j, "cache_damaged", (double)f.damaged);
    cJSON_AddNumberToObject(j, "cache_recency_lost", (double)f.recency_lost);
}

char *status_json(struct dbxfs *fs)
{
    cJSON *j = cJSON_CreateObject();
    uint64_t queued = 0, dirty = 0, cursor = 0, bytes = 0, chunks = 0, cap = 0, waiting = 0;
    metadb_txn *t;
    char *out;

    if (!j)
        return NULL;
    if (metadb_begin(fs->db, 0, &t) == 0) {
        queued = metadb_journal_count(t);
        dirty = metadb_dirty_count(t);
        waiting = metadb_resync_count(t);
        metadb_kv_get(t, "cursor", &cursor);
        metadb_abort(t);
    }
    blockcache_stats(fs->bc, &bytes, &chunks, &cap);
    cJSON_AddBoolToObject(j, "online", atomic_load(&fs->online));
    cJSON_AddBoolToObject(j, "unauthorized", atomic_load(&fs->unauthorized));
    cJSON_AddNumberToObject(j, "queued", (double)queued);
    cJSON_AddNumberToObject(j, "dirty", (double)dirty);
    /* nodes whose dbxd version waits for this device's work to settle */
    cJSON_AddNumberToObject(j, "waiting", (double)waiting);
    push_status(fs, j);
    cJSON_AddNumberToObject(j, "cursor", (double)cursor);
    cJSON_AddNumberToObject(j, "last_sync", (double)atomic_load(&fs->last_sync));
    cJSON_AddNumberToObject(j, "conflicts", (double)atomic_load(&fs->conflicts));
    cJSON_AddNumberToObject(j, "cache_bytes", (double)bytes);
    cJSON_AddNumberToObject(j, "cache_cap", (double)cap);
    add_cache_faults(fs, j);
    out = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    return out;
}
