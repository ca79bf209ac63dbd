/* cmd_share: `dbxctl share`, `unshare`, `shares` and `shared`: who may see
 * a file or directory of this account, and what others shared with it
 * (docs/api.md, "Sharing"). A PATH is a path inside a dbxfs mount; its
 * node id comes from the mount, everything else from dbxd. */
#include <string.h>

#include "api.h"
#include "pathnode.h"
#include "wire.h"

enum { OPT_ROLE = CTL_OPT_OWN };

/* "docs/" for a directory, "report.pdf" for a file: as ls -F would. */
static void print_name(const cJSON *node)
{
    const char *name = "?", *type = "";

    wire_get_string(node, "name", &name);
    wire_get_string(node, "type", &type);
    printf("%s%s\n", name, strcmp(type, "dir") == 0 ? "/" : "");
}

/* The argument parser of share, unshare and shares: PATH, then users. */
struct share_args {
    const char *path;
    char **users;
    int nusers;
    const char *role;
};

/* max_users < 0: no limit. --role is share's alone. */
static int share_parse(struct ctl *c, int argc, char **argv, int min_users,
                       int max_users, struct share_args *a)
{
    static const struct option share_opts[] = {
        {"role", required_argument, NULL, OPT_ROLE},
        CTL_COMMON_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    static const struct option plain_opts[] = {CTL_COMMON_OPTIONS, {NULL, 0, NULL, 0}};
    const struct option *opts = c->cmd == &ctl_cmd_share ? share_opts : plain_opts;
    int key, rc;

    a->role = "viewer";
    while ((rc = ctl_option(c, argc, argv, opts, &key)) == CTL_OK && key)
        a->role = optarg;   /* --role, the one own option */
    if (rc || (rc = ctl_want_args(c, argc - optind, 1 + min_users,
                                  max_users < 0 ? -1 : 1 + max_users)))
        return rc;
    if (strcmp(a->role, "viewer") != 0 && strcmp(a->role, "editor") != 0)
        return ctl_usage_error(c, "bad role '%s' (viewer or editor)", a->role);
    a->path = argv[optind];
    a->users = argv + optind + 1;
    a->nusers = argc - optind - 1;
    /* Checked here, as the names go into the URL of unshare. */
    for (int i = 0; i < a->nusers; i++)
        if (!wire_user_valid(a->users[i]))
            return ctl_usage_error(c, "'%s' is not a valid user name", a->users[i]);
    return CTL_OK;
}

/* Sharing and listing shares are the owner's: say so before dbxd does,
 * with who the owner is, which dbxd's refusal would not tell. */
static int open_owned(struct ctl *c, const char *path, struct pathnode *pn)
{
    const char *role = "owner", *owner = "?";
    int rc;

    if ((rc = pathnode_open(c, path, pn)))
        return rc;
    wire_get_string(pn->node, "role", &role);
    wire_get_string(pn->node, "owner", &owner);
    if (strcmp(role, "owner") == 0)
        return CTL_OK;
    return ctl_error(c, "%s belongs to %s (you are %s): only its owner can do this",
                     path, owner, role);
}

static void print_shares(const cJSON *reply)
{
    const cJSON *shares = cJSON_GetObjectItemCaseSensitive(reply, "shares"), *s;

    cJSON_ArrayForEach(s, shares) {
        const char *user, *role;
        if (wire_get_string(s, "user", &user) == WIRE_OK &&
            wire_get_string(s, "role", &role) == WIRE_OK)
            printf("%s %s\n", user, role);
    }
}

/* ---- share ---- */

static cJSON *share_body(const struct share_args *a)
{
    cJSON *body = cJSON_CreateObject();
    cJSON *users = cJSON_AddArrayToObject(body, "users");

    for (int i = 0; users && i < a->nusers; i++)
        if (!cJSON_AddItemToArray(users, cJSON_CreateString(a->users[i])))
            users = NULL;
    if (!users || !cJSON_AddStringToObject(body, "role", a->role)) {
        cJSON_Delete(body);
        return NULL;
    }
    return body;
}

static int share_run(struct ctl *c, int argc, char **argv)
{
    struct share_args a;
    struct pathnode pn = PATHNODE_INIT;
    cJSON *body = NULL;
    int rc;

    if ((rc = share_parse(c, argc, argv, 1, -1, &a)) ||
        (rc = open_owned(c, a.path, &pn)))
        goto out;
    if (!(body = share_body(&a))) {
        rc = ctl_error(c, "out of memory");
        goto out;
    }
    if ((rc = api_call(c, a.path, "POST", pathnode_url(&pn, "shares", NULL), body,
                       NULL)))
        goto out;
    for (int i = 0; i < a.nusers; i++)
        printf("%s%s", i ? ", " : "shared with ", a.users[i]);
    printf(" as %s: ", a.role);
    print_name(pn.node);
out:
    cJSON_Delete(body);
    pathnode_close(&pn);
    return rc;
}

const struct ctl_cmd ctl_cmd_share = {
    "share", "PATH USER... [--role viewer|editor]",
    "share a file or directory of a dbxfs mount with other users",
    "A directory is shared with everything below it. Sharing again changes\n"
    "the role. Only the owner shares.\n\n"
    "  --role viewer|editor   what they may do (default viewer: read only)\n",
    share_run,
};

/* ---- unshare ---- */

static int unshare_run(struct ctl *c, int argc, char **argv)
{
    struct share_args a;
    struct pathnode pn = PATHNODE_INIT;
    cJSON *reply = NULL;
    long status;
    int rc;

    /* Not open_owned(): a recipient leaves a share with their own name. */
    if ((rc = share_parse(c, argc, argv, 1, 1, &a)) ||
        (rc = pathnode_open(c, a.path, &pn)) ||
        (rc = api_request(c, "DELETE", pathnode_url(&pn, "shares", a.users[0]), NULL,
                          &status, &reply)))
        goto out;
    if (status == 404)
        rc = ctl_error(c, "%s has no share of %s", a.users[0], a.path);
    else if (status != 200)
        rc = api_report(c, a.path, status, reply);
    else
        printf("stopped sharing %s with %s\n", a.path, a.users[0]);
out:
    cJSON_Delete(reply);
    pathnode_close(&pn);
    return rc;
}

const struct ctl_cmd ctl_cmd_unshare = {
    "unshare", "PATH USER",
    "take back a share (or, given your own name, leave one)",
    NULL,
    unshare_run,
};

/* ---- shares ---- */

static int shares_run(struct ctl *c, int argc, char **argv)
{
    struct share_args a;
    struct pathnode pn = PATHNODE_INIT;
    cJSON *reply = NULL;
    int rc;

    if ((rc = share_parse(c, argc, argv, 0, 0, &a)) ||
        (rc = open_owned(c, a.path, &pn)) ||
        (rc = api_call(c, a.path, "GET", pathnode_url(&pn, "shares", NULL), NULL, &reply)))
        goto out;
    print_shares(reply);
out:
    cJSON_Delete(reply);
    pathnode_close(&pn);
    return rc;
}

const struct ctl_cmd ctl_cmd_shares = {
    "shares", "PATH",
    "list who has access to PATH: one `USER ROLE` line per user",
    "Lists the shares made on PATH itself (not those of a directory above\n"
    "it). Only the owner may list them.\n",
    shares_run,
};

/* ---- shared ---- */

static void print_shared(const cJSON *reply)
{
    const cJSON *entries = cJSON_GetObjectItemCaseSensitive(reply, "entries"), *e;

    cJSON_ArrayForEach(e, entries) {
        const char *role, *owner;
        if (wire_get_string(e, "role", &role) != WIRE_OK ||
            wire_get_string(e, "owner", &owner) != WIRE_OK)
            continue;
        printf("%-6s  %-*s  ", role, WIRE_USER_MAX / 2, owner);
        print_name(cJSON_GetObjectItemCaseSensitive(e, "node"));
    }
}

static int shared_run(struct ctl *c, int argc, char **argv)
{
    cJSON *reply = NULL;
    int rc;

    if ((rc = ctl_parse_noargs(c, argc, argv)) || (rc = api_open(c)) ||
        (rc = api_call(c, NULL, "GET", "/v1/shared", NULL, &reply)))
        goto out;
    print_shared(reply);
out:
    cJSON_Delete(reply);
    return rc;
}

const struct ctl_cmd ctl_cmd_shared = {
    "shared", "",
    "list what others shared with you: role, owner and name, one per line",
    "A dbxfs mount shows them under `Shared with me/`.\n",
    shared_run,
};
