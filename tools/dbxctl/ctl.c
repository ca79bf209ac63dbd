/* ctl: see ctl.h. */
#include "ctl.h"

#include <stdarg.h>
#include <string.h>

/* fmt was checked at the callers' format attributes; saying so keeps
 * clang's -Wformat=2 from refusing a format that is not a literal. */
__attribute__((format(printf, 2, 0)))
static void vreport(const struct ctl *c, const char *fmt, va_list ap)
{
    fprintf(stderr, "dbxctl%s%s: ", c->cmd ? " " : "", c->cmd ? c->cmd->name : "");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

int ctl_error(const struct ctl *c, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vreport(c, fmt, ap);
    va_end(ap);
    return CTL_FAIL;
}

int ctl_usage_error(const struct ctl *c, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vreport(c, fmt, ap);
    va_end(ap);
    return CTL_USAGE;
}

void ctl_cmd_usage(const struct ctl_cmd *cmd, FILE *out)
{
    fprintf(out, "usage: dbxctl %s%s%s\n\n%s\n", cmd->name, cmd->args[0] ? " " : "",
            cmd->args, cmd->summary);
    if (cmd->help)
        fprintf(out, "\n%s", cmd->help);
    fprintf(out, "\ncommon options:\n"
                 "  --config FILE       the config `dbxctl login` wrote "
                 "(default ~/.config/dbxfs/config)\n"
                 "  --token-file FILE   the token file (default ~/.config/dbxfs/token)\n"
                 "  -h, --help          this help\n");
}

int ctl_common_option(struct ctl *c, int key, const char *arg)
{
    switch (key) {
    case CTL_OPT_CONFIG:
        c->config_opt = arg;
        return CTL_OK;
    case CTL_OPT_TOKEN_FILE:
        c->token_opt = arg;
        return CTL_OK;
    case CTL_OPT_HELP:
        ctl_cmd_usage(c->cmd, stdout);
        return CTL_DONE;
    default:   /* getopt_long has already said what was wrong, in one line */
        return CTL_USAGE;
    }
}

int ctl_option(struct ctl *c, int argc, char **argv, const struct option *opts,
               int *key)
{
    int rc;

    while ((*key = getopt_long(argc, argv, CTL_COMMON_SHORT, opts, NULL)) != -1) {
        if (*key >= CTL_OPT_OWN)
            return CTL_OK;
        if ((rc = ctl_common_option(c, *key, optarg)) != CTL_OK)
            return rc;
    }
    *key = 0;
    return CTL_OK;
}

int ctl_parse_noargs(struct ctl *c, int argc, char **argv)
{
    static const struct option opts[] = {CTL_COMMON_OPTIONS, {NULL, 0, NULL, 0}};
    int key, rc;

    /* No own options in opts: the first step either ends or fails. */
    if ((rc = ctl_option(c, argc, argv, opts, &key)))
        return rc;
    return ctl_want_args(c, argc - optind, 0, 0);
}

int ctl_want_args(const struct ctl *c, int n, int min, int max)
{
    const char *args = c->cmd->args;

    if (n >= min && (max < 0 || n <= max))
        return CTL_OK;
    return ctl_usage_error(c, "%s (usage: dbxctl %s%s%s)",
                           n < min ? "missing argument" : "too many arguments",
                           c->cmd->name, args[0] ? " " : "", args);
}

static int set_path(const struct ctl *c, char *dst, const char *given,
                    const char *dir, const char *name)
{
    int n = given ? snprintf(dst, PATH_MAX, "%s", given)
                  : snprintf(dst, PATH_MAX, "%s/%s", dir, name);

    if (n < 0 || n >= PATH_MAX)
        return ctl_error(c, "path too long: %s", given ? given : dir);
    return CTL_OK;
}

int ctl_paths(struct ctl *c)
{
    char dir[PATH_MAX - 16] = "";

    /* Without HOME or XDG_CONFIG_HOME only explicit paths can work. */
    if ((!c->config_opt || !c->token_opt) && clientconf_dir(dir, sizeof(dir)) != 0)
        return ctl_error(c, "no config directory: set HOME, or give --config "
                            "and --token-file");
    if (set_path(c, c->config_path, c->config_opt, dir, "config") ||
        set_path(c, c->token_path, c->token_opt, dir, "token"))
        return CTL_FAIL;
    return CTL_OK;
}
