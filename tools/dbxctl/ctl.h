/* ctl: what every dbxctl subcommand shares: the one context of the
 * process (struct ctl), the table entry a subcommand is described by
 * (struct ctl_cmd), exit codes, one-line error messages and the options
 * every subcommand accepts (--help, --config, --token-file).
 *
 * Ownership: main() owns the struct ctl and tears it down after the
 * subcommand returned; api.c fills and frees its client half (conf, pool,
 * http). Everything else a subcommand needs lives on its own stack. */
#ifndef DBXCTL_CTL_H
#define DBXCTL_CTL_H

#include <getopt.h>
#include <limits.h>
#include <stdio.h>

#include "clientconf.h"
#include "httpc.h"

/* Exit codes. CTL_DONE is "stop here, successfully" (--help printed); the
 * process exits 0 for it. */
enum ctl_rc { CTL_OK = 0, CTL_FAIL = 1, CTL_USAGE = 2, CTL_DONE = -1 };

struct ctl;

struct ctl_cmd {
    const char *name;
    const char *args;      /* synopsis after the name: "PATH USER..." */
    const char *summary;   /* one line, for `dbxctl --help` */
    const char *help;      /* the rest of `dbxctl NAME --help`, or NULL */
    int (*run)(struct ctl *c, int argc, char **argv);  /* argv[0]: "dbxctl NAME" */
};

/* The subcommands, defined in the cmd_*.c file of their concept. */
extern const struct ctl_cmd ctl_cmd_login, ctl_cmd_logout, ctl_cmd_whoami;
extern const struct ctl_cmd ctl_cmd_share, ctl_cmd_unshare, ctl_cmd_shares,
    ctl_cmd_shared;
extern const struct ctl_cmd ctl_cmd_link;
extern const struct ctl_cmd ctl_cmd_status;

struct ctl {
    const struct ctl_cmd *cmd;     /* the running subcommand, for messages */
    const char *config_opt;        /* --config FILE, or NULL: the default */
    const char *token_opt;         /* --token-file FILE, or NULL */
    char config_path[PATH_MAX];    /* resolved by ctl_paths() */
    char token_path[PATH_MAX];
    /* the API client (api.c) */
    clientconf conf;
    httpc_pool *pool;
    httpc *http;
};

/* "dbxctl CMD: MESSAGE" on stderr; returns CTL_FAIL. */
int ctl_error(const struct ctl *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* The same for a bad command line; returns CTL_USAGE. */
int ctl_usage_error(const struct ctl *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* `dbxctl CMD --help`. */
void ctl_cmd_usage(const struct ctl_cmd *cmd, FILE *out);

/* The long options every subcommand accepts; put them in its table. A
 * command numbers its own from CTL_OPT_OWN, so that ctl_option() can tell
 * them from these without a list. */
enum { CTL_OPT_CONFIG = 0x100, CTL_OPT_TOKEN_FILE, CTL_OPT_HELP = 'h' };
enum { CTL_OPT_OWN = 0x200 };
#define CTL_COMMON_OPTIONS                                                  \
    {"help", no_argument, NULL, CTL_OPT_HELP},                              \
    {"config", required_argument, NULL, CTL_OPT_CONFIG},                    \
    {"token-file", required_argument, NULL, CTL_OPT_TOKEN_FILE}
#define CTL_COMMON_SHORT "h"

/* For a getopt_long key that is not the command's own: handles the common
 * options (CTL_OK), prints help (CTL_DONE), or, for the '?' of a bad
 * option that getopt_long has reported already, returns CTL_USAGE. */
int ctl_common_option(struct ctl *c, int key, const char *arg);

/* One step through a command's options (opts: its own, then
 * CTL_COMMON_OPTIONS). It deals with the common ones itself, so that the
 * loop of a command holds only the command's own: CTL_OK with *key the next
 * own option (its argument in optarg), or 0 after the last option; else
 * what the command returns at once (CTL_DONE, CTL_USAGE). */
int ctl_option(struct ctl *c, int argc, char **argv, const struct option *opts,
               int *key);

/* Checks the number of positional arguments left after the options;
 * max < 0: no limit. */
int ctl_want_args(const struct ctl *c, int n, int min, int max);
/* The whole parse of a command that takes only the common options. */
int ctl_parse_noargs(struct ctl *c, int argc, char **argv);

/* Fills config_path and token_path from the options or clientconf_dir(). */
int ctl_paths(struct ctl *c);

#endif
