/* dbxd: the dbxfs server. `dbxd [serve] [options]` runs it; the other
 * subcommands administer the data directory (safe while it runs). */
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "auth.h"
#include "config.h"
#include "gc.h"
#include "log.h"
#include "scrub.h"
#include "server.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: dbxd [serve] [options]      run the server\n"
            "       dbxd useradd -d DIR USER    add an account (password from stdin or a prompt)\n"
            "       dbxd userdel -d DIR USER    remove an account and end its sessions\n"
            "       dbxd passwd -d DIR USER     set a new password and end its sessions\n"
            "       dbxd gc -d DIR [--gc-grace S]  collect unreferenced chunks now\n"
            "       dbxd scrub -d DIR           verify every chunk; quarantine damaged ones\n"
            "       dbxd --version | --help\n\n");
    config_usage(out);
}

/* One line from stdin, or a no-echo prompt (asked twice) on a terminal. */
static int read_password(char *buf, size_t cap)
{
    int tty = isatty(STDIN_FILENO);
    struct termios old, quiet;
    char again[1024];
    if (tty) {
        tcgetattr(STDIN_FILENO, &old);
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
        fprintf(stderr, "password: ");
    }
    int ok = fgets(buf, (int)cap, stdin) != NULL;
    if (tty && ok) {
        fprintf(stderr, "\nagain: ");
        ok = fgets(again, sizeof again, stdin) != NULL && strcmp(again, buf) == 0;
        fprintf(stderr, "\n");
    }
    if (tty)
        tcsetattr(STDIN_FILENO, TCSANOW, &old);
    buf[strcspn(buf, "\r\n")] = '\0';
    if (!ok || buf[0] == '\0') {
        fprintf(stderr, "dbxd: %s\n", ok ? "the password is empty" : "no password (or they differ)");
        return -1;
    }
    return 0;
}

static const char *ms_message(int rc)
{
    switch (rc) {
    case MS_NOTFOUND: return "no such user";
    case MS_EXISTS: return "the user exists";
    case MS_FULL: return "the store is full";
    default: return "store error";
    }
}

static int account_command(struct dbxd *d, const char *cmd, const char *user)
{
    char password[1024];
    int rc;
    if (!wire_user_valid(user)) {
        fprintf(stderr, "dbxd: '%s' is not a valid user name (1-32 of a-z 0-9 . _ -)\n", user);
        return 2;
    }
    if (strcmp(cmd, "userdel") != 0 && read_password(password, sizeof password) != 0)
        return 1;
    if (dbxd_open_stores(d) != 0)
        return 1;
    if (strcmp(cmd, "useradd") == 0)
        rc = auth_user_add(d->ms, user, password);
    else if (strcmp(cmd, "passwd") == 0)
        rc = auth_user_passwd(d->ms, user, password);
    else
        rc = auth_user_del(d->ms, user);
    dbxd_close_stores(d);
    memset(password, 0, sizeof password);
    if (rc) {
        fprintf(stderr, "dbxd %s %s: %s\n", cmd, user, ms_message(rc));
        return 1;
    }
    fprintf(stderr, "dbxd: %s %s: done\n", cmd, user);
    return 0;
}

static int gc_command(struct dbxd *d)
{
    struct gc_stats st;
    if (dbxd_open_stores(d) != 0)
        return 1;
    int rc = gc_run(d, d->cfg.gc_grace, &st);
    dbxd_close_stores(d);
    printf("gc: removed %llu chunks (%llu bytes), %llu expired upload sessions\n",
           (unsigned long long)st.chunks, (unsigned long long)st.bytes, (unsigned long long)st.sessions);
    return rc ? 1 : 0;
}

static int scrub_command(struct dbxd *d)
{
    struct scrub_stats st;
    if (dbxd_open_stores(d) != 0)
        return 1;
    int rc = scrub_run(d, &st);
    dbxd_close_stores(d);
    printf("scrub: checked %llu chunks (%llu bytes), %llu damaged\n", (unsigned long long)st.checked,
           (unsigned long long)st.bytes, (unsigned long long)st.damaged);
    return rc || st.damaged ? 1 : 0;
}

/* root running an admin command on the data directory of a dbxd that
 * runs as its own user (dbxd.service): the files it creates (LMDB's lock
 * file, new chunk directories) must stay that user's, so it becomes that
 * user first. A directory not there yet is created as whoever runs. */
static int become_data_dir_owner(const struct dbxd_config *cfg)
{
    struct stat st;

    if (geteuid() != 0 || stat(cfg->data_dir, &st) != 0 || st.st_uid == 0)
        return 0;
    if (setgroups(0, NULL) != 0 || setgid(st.st_gid) != 0 || setuid(st.st_uid) != 0) {
        fprintf(stderr, "dbxd: cannot become the owner (uid %u) of %s: %s\n",
                (unsigned)st.st_uid, cfg->data_dir, strerror(errno));
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    static struct dbxd d;  /* the process context; see dbxd.h */
    const char *cmd = "serve";
    int first = 1;
    if (argc > 1 && argv[1][0] != '-')
        cmd = argv[1], first = 2;
    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        usage(stdout);
        return 0;
    }
    if (argc > 1 && strcmp(argv[1], "--version") == 0) {
        printf("dbxd %s\n", DBX_VERSION);
        return 0;
    }
    config_defaults(&d.cfg);
    /* account commands take the user name last */
    int account = !strcmp(cmd, "useradd") || !strcmp(cmd, "userdel") || !strcmp(cmd, "passwd");
    int nargs = account ? argc - 1 : argc;
    if (account && argc <= first) {
        fprintf(stderr, "dbxd %s: which user?\n", cmd);
        return 2;
    }
    if (config_parse(&d.cfg, nargs, argv, first) != 0)
        return 2;
    log_set_level((enum log_level)d.cfg.log_level);
    if (strcmp(cmd, "serve") != 0 && become_data_dir_owner(&d.cfg) != 0)
        return 1;
    if (account)
        return account_command(&d, cmd, argv[argc - 1]);
    if (strcmp(cmd, "gc") == 0)
        return gc_command(&d);
    if (strcmp(cmd, "scrub") == 0)
        return scrub_command(&d);
    if (strcmp(cmd, "serve") != 0) {
        fprintf(stderr, "dbxd: unknown command '%s' (see dbxd --help)\n", cmd);
        return 2;
    }
    if (config_check(&d.cfg) != 0)
        return 2;
    return server_run(&d) == 0 ? 0 : 1;
}
