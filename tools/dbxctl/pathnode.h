/* pathnode: the file or directory a command names by a PATH inside a dbxfs
 * mount, as dbxd knows it: the mount PATH lies in and PATH's node id, both
 * asked of the mount (mountpath.h), then the node dbxd answers for that id
 * to the logged-in account.
 *
 * Every message names PATH as the user gave it, not the real path or the
 * id: the user typed it. The caller owns the struct pathnode and must
 * pathnode_close() it, even after pathnode_open() failed; PATHNODE_INIT
 * makes one that is safe to close before it was opened. */
#ifndef DBXCTL_PATHNODE_H
#define DBXCTL_PATHNODE_H

#include <cjson/cJSON.h>

#include "ctl.h"
#include "mountpath.h"

/* "/v1/nodes/ID/shares/USER", the longest URL of a node dbxctl makes. */
#define PATHNODE_URL_MAX 128

struct pathnode {
    const char *path;               /* as the user gave it */
    struct mountpath mp;            /* mp.id: the node's id */
    cJSON *node;                    /* dbxd's answer to GET /v1/nodes/ID */
    char url[PATHNODE_URL_MAX];     /* what pathnode_url() made last */
};

#define PATHNODE_INIT {.node = NULL}

/* Finds PATH's mount and node id, opens the logged-in client (api_open) and
 * GETs the node. CTL_OK, or CTL_FAIL after one line on stderr; a 404 is
 * explained (not uploaded yet, or not visible to this account). */
int pathnode_open(struct ctl *c, const char *path, struct pathnode *pn);

/* The API path of the node, "/v1/nodes/ID", or of what it has: with what,
 * "/v1/nodes/ID/WHAT", and with key too, "/v1/nodes/ID/WHAT/KEY". Valid
 * until the next call. */
const char *pathnode_url(struct pathnode *pn, const char *what, const char *key);

void pathnode_close(struct pathnode *pn);

#endif
