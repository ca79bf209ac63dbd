/* cmd_link: `dbxctl link`: a public, expiring download URL for a file of a
 * dbxfs mount (docs/api.md, "Public links"). dbxd signs the URL; dbxctl
 * only makes it absolute, so that plain `curl -o FILE URL` fetches it. The
 * URL is the one thing on stdout, for `curl "$(dbxctl link f)"`. */
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "units.h"
#include "wire.h"

#define LINK_TTL_DEFAULT 3600ULL
#define LINK_TTL_MAX (365ULL * 86400)   /* what dbxd accepts */

enum { OPT_EXPIRES = 0x200 };

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
    while ((key = getopt_long(argc, argv, CTL_COMMON_SHORT, opts, NULL)) != -1) {
        if (key != OPT_EXPIRES) {
            if ((rc = ctl_common_option(c, key, optarg)) != CTL_OK)
                return rc;
        } else if (units_parse_duration(optarg, LINK_TTL_MAX, &a->ttl) != 0) {
            return ctl_usage_error(c, "bad --expires '%s' (e.g. 30s, 10m, 2h, 7d; "
                                      "at most 365d)", optarg);
        }
    }
    if ((rc = ctl_want_args(c, argc - optind, 1, 1)))
        return rc;
    a->path = argv[optind];
    return CTL_OK;
}

static int need_file(struct ctl *c, const char *path, const cJSON *node)
{
    const char *type = "";

    wire_get_string(node, "type", &type);
    if (strcmp(type, "file") == 0)
        return CTL_OK;
    return ctl_error(c, "%s is a %s: only files can be linked", path,
                     strcmp(type, "dir") == 0 ? "directory" : type);
}

static int link_run(struct ctl *c, int argc, char **argv)
{
    struct link_args a;
    struct mountpath mp;
    cJSON *node = NULL, *body = NULL, *reply = NULL;
    const char *url;
    char path[64], *full = NULL;
    int rc;

    if ((rc = link_parse(c, argc, argv, &a)) ||
        (rc = api_path_node(c, a.path, &mp, &node)) ||
        (rc = need_file(c, a.path, node)))
        goto out;
    body = cJSON_CreateObject();
    if (!body || !cJSON_AddNumberToObject(body, "expires_in", (double)a.ttl)) {
        rc = ctl_error(c, "out of memory");
        goto out;
    }
    snprintf(path, sizeof(path), "/v1/nodes/%s/links", mp.id);
    if ((rc = api_call(c, a.path, "POST", path, body, &reply)))
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
    cJSON_Delete(node);
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
