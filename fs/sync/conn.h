/* conn: the mount's HTTP handles for API calls made from FUSE threads
 * (directory listings, chunk maps). httpc handles are one-thread-at-a-time,
 * and FUSE threads come and go, so they borrow one from a small free list
 * (kept connections stay warm). The background threads own their handles.
 * Every exchange records whether dbxd answered (fs->online). */
#ifndef DBXFS_CONN_H
#define DBXFS_CONN_H

#include <cjson/cJSON.h>

#include "httpc.h"

struct dbxfs;
struct conn_pool;

int conn_pool_new(struct dbxfs *fs);
void conn_pool_free(struct dbxfs *fs);

/* httpc_json through a borrowed handle. Returns 0 (an answer came: see
 * *status) or -EIO (no answer: offline). */
int conn_json(struct dbxfs *fs, const char *method, const char *path,
              const cJSON *body, long *status, cJSON **reply);
/* Records the outcome of an exchange made with the caller's own handle:
 * ok = dbxd answered; status 401 marks the token refused. */
void conn_note(struct dbxfs *fs, int ok, long status);
/* The errno for an API error answer (docs/api.md's mapping). */
int conn_errno(long status, const cJSON *reply);

#endif
