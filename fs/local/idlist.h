/* idlist: a growing array of node ids, for work that first collects the
 * ids a store walk yields and then changes the store (a cursor must not
 * see its own writes). The caller owns the list and frees it. */
#ifndef DBXFS_IDLIST_H
#define DBXFS_IDLIST_H

#include <stddef.h>
#include <stdint.h>

struct idlist {
    uint64_t *ids;
    size_t n, cap;
};

/* 0, or -ENOMEM (the list is left as it was). */
int idlist_push(struct idlist *l, uint64_t id);
/* A metadb_dirent_fn: collects each child into the idlist at arg. */
int idlist_push_child(void *arg, const char *name, uint64_t child);
void idlist_free(struct idlist *l);

#endif
