/* pathnode: see pathnode.h. */
#include "pathnode.h"

#include "api.h"

int pathnode_open(struct ctl *c, const char *path, struct pathnode *pn)
{
    char err[PATH_MAX + 256];
    long status;
    int rc;

    pn->path = path;
    pn->node = NULL;
    /* The mount first: a path outside one is an error even logged out. */
    if (mountpath_find_node(path, &pn->mp, err, sizeof(err)) != 0)
        return ctl_error(c, "%s", err);
    if ((rc = api_open(c)) ||
        (rc = api_request(c, "GET", pathnode_url(pn, NULL, NULL), NULL, &status,
                          &pn->node)))
        return rc;
    /* dbxd says 404 for a node it never had and for one this account may
     * not see alike; from the mount's side both are likely, so name both. */
    if (status == 404)
        return ctl_error(c, "%s is not on dbxd: not uploaded yet (see `dbxctl "
                            "status`), or %s cannot see it", path, c->conf.user);
    if (status != 200)
        return api_report(c, path, status, pn->node);
    return CTL_OK;
}

const char *pathnode_url(struct pathnode *pn, const char *what, const char *key)
{
    snprintf(pn->url, sizeof(pn->url), "/v1/nodes/%s%s%s%s%s", pn->mp.id,
             what ? "/" : "", what ? what : "", key ? "/" : "", key ? key : "");
    return pn->url;
}

void pathnode_close(struct pathnode *pn)
{
    cJSON_Delete(pn->node);
    pn->node = NULL;
}
