/* dbxctl: the command-line companion of a dbxfs mount: logs in (for itself
 * and for dbxfs), shares files with other users, makes public links, and
 * shows the mount's sync state.
 *
 *   dbxctl [--config FILE] [--token-file FILE] COMMAND [ARGS]
 *
 * main() parses the options before the command, finds the command in the
 * table and runs it with its own arguments (argv[0] "dbxctl NAME"); each
 * cmd_*.c file holds the commands of one concept. Exit codes: 0, 1 for a
 * failure, 2 for a usage error (ctl.h). */
#include <curl/curl.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "ctl.h"

static const struct ctl_cmd *const commands[] = {
    &ctl_cmd_login, &ctl_cmd_logout, &ctl_cmd_whoami,
    &ctl_cmd_share, &ctl_cmd_unshare, &ctl_cmd_shares, &ctl_cmd_shared,
    &ctl_cmd_link, &ctl_cmd_status,
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

enum { OPT_VERSION = 'V' };

static void usage(FILE *out)
{
    fprintf(out, "usage: dbxctl [--config FILE] [--token-file FILE] COMMAND [ARGS]\n"
                 "       dbxctl --help | --version | help COMMAND\n\n"
                 "The command-line companion of dbxfs. PATH is a path inside a dbxfs\n"
                 "mount; the account is the one `dbxctl login` saved.\n\ncommands:\n");
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(out, "  %-8s %s\n", commands[i]->name, commands[i]->summary);
    fprintf(out, "\n`dbxctl COMMAND --help` describes a command.\n"
                 "Accounts are made and removed on the server, by its administrator:\n"
                 "  dbxd useradd -d DATADIR USER     (password from stdin or a prompt)\n"
                 "  dbxd passwd -d DATADIR USER\n"
                 "  dbxd userdel -d DATADIR USER\n");
}

static const struct ctl_cmd *find_command(const char *name)
{
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(commands[i]->name, name) == 0)
            return commands[i];
    return NULL;
}

/* `dbxctl help [COMMAND]`, the habit of git and others. */
static int help(int argc, char **argv)
{
    const struct ctl_cmd *cmd = argc > 1 ? find_command(argv[1]) : NULL;

    if (argc > 1 && !cmd) {
        fprintf(stderr, "dbxctl: unknown command '%s' (see dbxctl --help)\n", argv[1]);
        return CTL_USAGE;
    }
    if (cmd)
        ctl_cmd_usage(cmd, stdout);
    else
        usage(stdout);
    return CTL_OK;
}

/* The options before COMMAND; "+" stops at the first non-option. */
static int global_options(struct ctl *c, int argc, char **argv)
{
    static const struct option opts[] = {
        {"version", no_argument, NULL, OPT_VERSION},
        CTL_COMMON_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    int key;

    while ((key = getopt_long(argc, argv, "+" CTL_COMMON_SHORT "V", opts, NULL)) != -1) {
        switch (key) {
        case OPT_VERSION:
            printf("dbxctl %s\n", DBX_VERSION);
            return CTL_DONE;
        case CTL_OPT_HELP:
            usage(stdout);
            return CTL_DONE;
        case CTL_OPT_CONFIG:
        case CTL_OPT_TOKEN_FILE:
            ctl_common_option(c, key, optarg);
            break;
        default:   /* getopt_long said what, in one line */
            return CTL_USAGE;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "dbxctl: which command? (see dbxctl --help)\n");
        return CTL_USAGE;
    }
    return CTL_OK;
}

int main(int argc, char **argv)
{
    char prog[64] = "dbxctl";
    struct ctl c;
    int rc;

    memset(&c, 0, sizeof(c));
    argv[0] = prog;       /* getopt's messages start with it, not a path */
    if ((rc = global_options(&c, argc, argv)) != CTL_OK)
        return rc == CTL_DONE ? 0 : rc;
    argc -= optind;
    argv += optind;
    optind = 0;   /* glibc: start afresh on the command's own arguments */
    if (strcmp(argv[0], "help") == 0)
        return help(argc, argv);
    if (!(c.cmd = find_command(argv[0]))) {
        fprintf(stderr, "dbxctl: unknown command '%s' (see dbxctl --help)\n", argv[0]);
        return CTL_USAGE;
    }
    snprintf(prog, sizeof(prog), "dbxctl %s", c.cmd->name);
    argv[0] = prog;       /* "dbxctl share: unrecognized option ..." */
    /* Before any thread exists and before httpc (httpc.h). */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "dbxctl: cannot initialise libcurl\n");
        return CTL_FAIL;
    }
    rc = c.cmd->run(&c, argc, argv);
    api_close(&c);
    curl_global_cleanup();
    return rc == CTL_DONE ? 0 : rc;
}
