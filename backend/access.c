#include "access.h"

#include <string.h>

struct role_walk {
    uint32_t uid;
    enum role best;
};

enum role access_role(ms_txn *t, uint32_t uid, const struct dbx_node *n)
{
    struct dbx_node cur;
    enum role best = ROLE_NONE, r;
    if (n->owner_uid == uid)
        return ROLE_OWNER;
    cur.parent = n->parent;
    if (ms_share_get(t, n->id, uid, &r) == 0 && r > best)
        best = r;
    for (int depth = 0; cur.parent && depth < ACCESS_MAX_DEPTH && best < ROLE_EDITOR; depth++) {
        uint64_t id = cur.parent;
        if (ms_node_get(t, id, &cur) != 0)
            break;
        if (ms_share_get(t, id, uid, &r) == 0 && r > best)
            best = r;
    }
    return best;
}

const char *access_role_name(enum role role)
{
    switch (role) {
    case ROLE_VIEWER: return "viewer";
    case ROLE_EDITOR: return "editor";
    case ROLE_OWNER: return "owner";
    default: return "none";
    }
}

int access_role_parse(const char *s, enum role *role)
{
    if (s && strcmp(s, "viewer") == 0)
        *role = ROLE_VIEWER;
    else if (s && strcmp(s, "editor") == 0)
        *role = ROLE_EDITOR;
    else
        return -1;
    return 0;
}

static void audience_add(struct audience *a, uint32_t uid, enum role role)
{
    for (size_t i = 0; i < a->count; i++)
        if (a->members[i].uid == uid) {
            if (role > a->members[i].role)
                a->members[i].role = role;
            return;
        }
    if (a->count == sizeof a->members / sizeof a->members[0]) {
        a->overflow = 1;
        return;
    }
    a->members[a->count].uid = uid;
    a->members[a->count++].role = role;
}

static int audience_share(void *arg, uint64_t node, uint32_t uid, enum role role)
{
    audience_add(arg, uid, role);
    return 0;
}

int access_audience(ms_txn *t, const struct dbx_node *n, struct audience *a)
{
    struct dbx_node cur = *n;
    int rc = 0;
    memset(a, 0, sizeof *a - sizeof a->members);
    audience_add(a, n->owner_uid, ROLE_OWNER);
    for (int depth = 0; depth < ACCESS_MAX_DEPTH; depth++) {
        if ((rc = ms_shares_of_node(t, cur.id, audience_share, a)) != 0)
            return rc;
        if (!cur.parent || ms_node_get(t, cur.parent, &cur) != 0)
            break;
    }
    return 0;
}

enum role audience_role(const struct audience *a, uint32_t uid)
{
    for (size_t i = 0; i < a->count; i++)
        if (a->members[i].uid == uid)
            return a->members[i].role;
    return ROLE_NONE;
}
