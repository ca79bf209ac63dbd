/* push: the worker that replays the journal to dbxd in order, and the
 * upload threads that send dirty files (staging content) through resumable
 * upload sessions (common/transfer). Offline, both wait and retry; the
 * journal and the dirty set are in LMDB, so a remount resumes them. */
#ifndef DBXFS_PUSH_H
#define DBXFS_PUSH_H

#include <cjson/cJSON.h>
#include <stdint.h>

struct dbxfs;

int push_start(struct dbxfs *fs);
void push_stop(struct dbxfs *fs);
/* A local change was journaled or marked dirty (it starts or extends a
 * burst: see push.c for when the push begins). */
void push_wake(struct dbxfs *fs);
/* Adds "uploading" (count) and "uploads" (per file progress) to obj. */
void push_status(struct dbxfs *fs, cJSON *obj);
/* Waits until id is no longer dirty (fsync_server). 0 or -EIO/-ETIMEDOUT. */
int push_wait_clean(struct dbxfs *fs, uint64_t id, int timeout_sec);

#endif
