/* idlist: see idlist.h. */
#include <errno.h>
#include <stdlib.h>

#include "idlist.h"

int idlist_push(struct idlist *l, uint64_t id)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 64;
        uint64_t *p = realloc(l->ids, cap * sizeof(*p));
        if (!p)
            return -ENOMEM;
        l->ids = p;
        l->cap = cap;
    }
    l->ids[l->n++] = id;
    return 0;
}

int idlist_push_child(void *arg, const char *name, uint64_t child)
{
    (void)name;
    return idlist_push(arg, child);
}

void idlist_free(struct idlist *l)
{
    free(l->ids);
    l->ids = NULL;
    l->n = l->cap = 0;
}
