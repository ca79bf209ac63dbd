/* cmd_link: `dbxctl link`: a public, expiring download URL for a file of a
 * dbxfs mount (docs/api.md, "Public links"). dbxd signs the URL; dbxctl
 * only makes it absolute, so that plain `curl -o FILE URL` fetches it. The
 * URL is the one thing on stdout, for `curl "$(dbxctl link f)"`. */
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "pathnode.h"
#include "units.h"
#include "wire.h"

#define LINK_TTL_DEFAULT 3600ULL
#define LINK_TTL_MAX (365ULL * 86400)   /* what dbxd accepts */

enum { OPT_EXPIRES = CTL_OPT_OWN };

struct link_args {
    const char *path;
    uint64_t ttl;
};

static int link_parse(struct ctl *c, int argc, char **argv, struct link_args *a)
{
    static const struct option opts[] = {
        {"expires", required_argument, NULL, OPT_EXPIRES},
        CTL_COMMON_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    int key, rc;

    a->ttl = LINK_TTL_DEFAULT;
    while ((rc = ctl_option(c, argc, argv, opts, &key)) == CTL_OK && key)
        if (units_parse_duration(optarg, LINK_TTL_MAX, &a->ttl) != 0)   /* --expires */
            return ctl_usage_error(c, "bad --expires '%s' (e.g. 30s, 10m, 2h, 7d; "
                                      "at most 365d)", optarg);
    if (rc || (rc = ctl_want_args(c, argc - optind, 1, 1)))
        return rc;
    a->path = argv[optind];
    return CTL_OK;
}

/* dbxd refuses anything but a file too; asked first, the message names
 * PATH and what it is. */
static int open_file(struct ctl *c, const char *path, struct pathnode *pn)
{
    const char *type = "";
    int rc;

    if ((rc = pathnode_open(c, path, pn)))
        return rc;
    wire_get_string(pn->node, "type", &type);
    if (strcmp(type, "file") == 0)
        return CTL_OK;
    return ctl_error(c, "%s is a %s: only files can be linked", path,
                     strcmp(type, "dir") == 0 ? "directory" : type);
}

static int link_run(struct ctl *c, int argc, char **argv)
{
    struct link_args a;
    struct pathnode pn = PATHNODE_INIT;
    cJSON *body = NULL, *reply = NULL;
    const char *url;
    char *full = NULL;
    int rc;

    if ((rc = link_parse(c, argc, argv, &a)) || (rc = open_file(c, a.path, &pn)))
        goto out;
    body = cJSON_CreateObject();
    if (!body || !cJSON_AddNumberToObject(body, "expires_in", (double)a.ttl)) {
        rc = ctl_error(c, "out of memory");
        goto out;
    }
    if ((rc = api_call(c, a.path, "POST", pathnode_url(&pn, "links", NULL), body, &reply)))
        goto out;
    /* dbxd answers a path, or an absolute URL when it runs with --public-url. */
    if (wire_get_string(reply, "url", &url) != WIRE_OK ||
        !(full = httpc_resolve(c->pool, url))) {
        rc = ctl_error(c, "unexpected answer from dbxd at %s", c->conf.server);
        goto out;
    }
    printf("%s\n", full);
out:
    free(full);
    cJSON_Delete(reply);
    cJSON_Delete(body);
    pathnode_close(&pn);
    return rc;
}

const struct ctl_cmd ctl_cmd_link = {
    "link", "PATH [--expires DURATION]",
    "print a public download URL for a file; anyone with it can fetch it",
    "The URL serves the file's content as dbxd has it at download time: a\n"
    "change still queued on this mount (see `dbxctl status`) is not in it\n"
    "yet. It cannot be revoked before it expires.\n\n"
    "  --expires DURATION   how long it works: 30s, 10m, 2h, 7d (default 1h,\n"
    "                       at most 365d)\n",
    link_run,
};
