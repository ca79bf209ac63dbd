/* access: who may do what to a node, and who hears about its changes.
 * The owner of a node has every right; anyone else has the strongest role
 * shared with them on the node or any of its ancestors (sharing a folder
 * shares its subtree). The same walk gives a change's audience. */
#ifndef DBX_ACCESS_H
#define DBX_ACCESS_H

#include <stddef.h>
#include <stdint.h>

#include "metastore.h"

#define ACCESS_MAX_DEPTH 4096

enum role access_role(ms_txn *t, uint32_t uid, const struct dbx_node *n);
const char *access_role_name(enum role role);
int access_role_parse(const char *s, enum role *role);  /* viewer|editor */

/* The users who see n: its owner, then every recipient of a share on n or
 * an ancestor, each once, with their role. */
struct audience {
    size_t count;
    struct { uint32_t uid; enum role role; } members[256];
    int overflow;  /* more than fit: wake everyone, see feed_notify_all */
};

int access_audience(ms_txn *t, const struct dbx_node *n, struct audience *a);
enum role audience_role(const struct audience *a, uint32_t uid);

#endif
