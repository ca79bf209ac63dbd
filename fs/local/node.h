/* node: conversions between the local node record (cache/metadb.h's
 * cnode), the wire JSON and struct stat; new ids and times for nodes made
 * here. */
#ifndef DBXFS_NODE_H
#define DBXFS_NODE_H

#include <cjson/cJSON.h>
#include <sys/stat.h>

#include "dbxfs.h"

void node_to_stat(const struct dbxfs *fs, const struct cnode *n, struct stat *st);
void node_to_entry(const struct dbxfs *fs, const struct cnode *n,
                   struct fuse_entry_param *e);
/* Fills the server's view (from the API's node JSON) into n, keeping n's
 * local-only fields (flags, map_rev). 0 or -1. */
int node_from_wire(const cJSON *j, struct cnode *n);
uint64_t node_new_id(void);
struct wire_time node_now(void);

#endif
