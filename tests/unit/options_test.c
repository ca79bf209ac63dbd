/* dbxfs's command line (fs/local/options.c): both forms, precedence, fstab
 * words, defaults and errors. Not named test_*.c: it needs libfuse, which
 * the tests/unit glob does not link. */
#define FUSE_USE_VERSION 34
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "options.h"
#include "unit.h"

static char base[] = "/tmp/options_test.XXXXXX";
static char mnt[4200], mnt_real[4200], conf_home[4200], conf_file[4300];
static char err[512];

/* Parses "dbxfs" followed by the NULL-terminated arguments. */
static int parse(struct dbxfs_opts *o, ...)
{
    char *argv[64] = {"dbxfs"};
    int argc = 1;
    va_list ap;
    va_start(ap, o);
    char *a;
    while ((a = va_arg(ap, char *)) != NULL && argc < 63)
        argv[argc++] = a;
    va_end(ap);
    argv[argc] = NULL;
    err[0] = '\0';
    return options_parse(argc, argv, o, err, sizeof err);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

static void write_config(const char *text)
{
    char dir[4300];
    snprintf(dir, sizeof dir, "%s/dbxfs", conf_home);
    mkdir(dir, 0700);
    write_file(conf_file, text);
}

/* "-o a,b" as fuse_opt leaves it for fuse_session_new; "" if nothing. */
static const char *fuse_opts(const struct dbxfs_opts *o)
{
    if (o->fuse_args.argc == 1)
        return "";
    if (o->fuse_args.argc == 3 && strcmp(o->fuse_args.argv[1], "-o") == 0)
        return o->fuse_args.argv[2];
    return "(unexpected shape)";
}

/* What is left must be acceptable to libfuse itself (no mount needed). */
static int fuse_accepts(struct dbxfs_opts *o)
{
    static const struct fuse_lowlevel_ops ops;
    struct fuse_args copy = FUSE_ARGS_INIT(0, NULL);
    for (int i = 0; i < o->fuse_args.argc; i++)
        fuse_opt_add_arg(&copy, o->fuse_args.argv[i]);
    struct fuse_session *se = fuse_session_new(&copy, &ops, sizeof ops, NULL);
    if (se)
        fuse_session_destroy(se);
    fuse_opt_free_args(&copy);
    return se != NULL;
}

static void test_plain_form(void)
{
    struct dbxfs_opts o;
    write_config("");  /* empty config: no effect */
    CHECK_EQ(parse(&o, "-f", "-o", "server=http://127.0.0.1:8420,user=alice",
                   mnt, NULL), 0);
    CHECK_STR(o.server, "http://127.0.0.1:8420");
    CHECK_STR(o.user, "alice");
    CHECK_STR(o.mountpoint, mnt_real);
    CHECK_EQ(o.foreground, 1);
    CHECK_EQ(o.debug, 0);
    CHECK_STR(fuse_opts(&o), "");
    CHECK_STR(o.fuse_args.argv[0], "dbxfs");
    /* the defaults */
    CHECK_EQ(o.cache_size, 10ull << 30);
    CHECK(o.attr_timeout == 60 && o.entry_timeout == 60);
    CHECK_EQ(o.log_level, LOG_INFO);
    CHECK_EQ(o.root_uid, -1);
    CHECK_EQ(o.root_gid, -1);
    CHECK_EQ(o.singlethread, 0);
    CHECK_STR(o.config, conf_file);
    char token[4300];
    snprintf(token, sizeof token, "%s/dbxfs/token", conf_home);
    CHECK_STR(o.token_file, token);
    options_free(&o);
    options_free(&o);   /* twice is harmless */
}

static void test_mount_helper_form(void)
{
    struct dbxfs_opts o;
    write_config("");
    /* what mount.fuse3 runs: SOURCE MOUNTPOINT -o opts */
    CHECK_EQ(parse(&o, "alice@http://127.0.0.1:8420", mnt, "-o",
                   "allow_other,_netdev", NULL), 0);
    CHECK_STR(o.user, "alice");
    CHECK_STR(o.server, "http://127.0.0.1:8420");
    CHECK_EQ(o.allow_other, 1);
    CHECK_STR(fuse_opts(&o), "allow_other");
    CHECK(fuse_accepts(&o));
    options_free(&o);

    /* options first; https with a prefix; trailing slash dropped */
    CHECK_EQ(parse(&o, "-o", "ro,user=bob", "https://files.example.org/dbx/",
                   mnt, NULL), 0);
    CHECK_STR(o.server, "https://files.example.org/dbx");
    CHECK_STR(o.user, "bob");
    CHECK_STR(fuse_opts(&o), "ro");
    options_free(&o);

    /* a placeholder SOURCE defers to the config */
    write_config("server = http://cfg.example:9000\nuser = carol\n"
                 "ca_file = /etc/ca.pem\n");
    CHECK_EQ(parse(&o, "dbxfs", mnt, NULL), 0);
    CHECK_STR(o.server, "http://cfg.example:9000");
    CHECK_STR(o.user, "carol");
    CHECK_STR(o.ca_file, "/etc/ca.pem");
    options_free(&o);
}

static void test_precedence(void)
{
    struct dbxfs_opts o;
    write_config("server = http://cfg:1\nuser = carol\nca_file = /cfg.pem\n");
    /* -o beats SOURCE beats config, setting by setting */
    CHECK_EQ(parse(&o, "bob@http://src:2", mnt, "-o", "server=http://opt:3",
                   NULL), 0);
    CHECK_STR(o.server, "http://opt:3");
    CHECK_STR(o.user, "bob");
    CHECK_STR(o.ca_file, "/cfg.pem");
    options_free(&o);

    CHECK_EQ(parse(&o, "-o", "user=dave,ca_file=/opt.pem", "bob@http://src:2",
                   mnt, NULL), 0);
    CHECK_STR(o.server, "http://src:2");
    CHECK_STR(o.user, "dave");
    CHECK_STR(o.ca_file, "/opt.pem");
    options_free(&o);

    CHECK_EQ(parse(&o, "http://src:2", mnt, NULL), 0);  /* no user in SOURCE */
    CHECK_STR(o.server, "http://src:2");
    CHECK_STR(o.user, "carol");
    options_free(&o);

    /* an explicit config= replaces the default one */
    char other[4300];
    snprintf(other, sizeof other, "%s/other.conf", base);
    write_file(other, "# another\nserver = https://other:443\nuser = erin\n");
    char opt[4400];
    snprintf(opt, sizeof opt, "config=%s", other);
    CHECK_EQ(parse(&o, mnt, "-o", opt, NULL), 0);
    CHECK_STR(o.server, "https://other:443");
    CHECK_STR(o.user, "erin");
    CHECK_STR(o.ca_file, "");
    CHECK_STR(o.config, other);
    options_free(&o);
}

static void test_fstab_words(void)
{
    struct dbxfs_opts o;
    write_config("server = http://cfg:1\nuser = carol\n");
    CHECK_EQ(parse(&o, "dbxfs", mnt, "-o",
                   "_netdev,nofail,noauto,auto,user,users,nouser,defaults,"
                   "x-systemd.automount,x-systemd.requires=network-online.target,"
                   "x-systemd.idle-timeout=60,comment=systemd.automount,nonempty,"
                   "rw,nosuid,nodev,default_permissions,max_read=131072,"
                   "fsync_server",
                   NULL), 0);
    CHECK_EQ(o.fsync_server, 1);
    CHECK_EQ(o.allow_other, 0);
    CHECK_STR(fuse_opts(&o), "rw,nosuid,nodev,default_permissions,max_read=131072");
    CHECK(fuse_accepts(&o));
    CHECK_STR(o.user, "carol");   /* the bare word `user` is fstab's */
    options_free(&o);
}

static void test_values(void)
{
    struct dbxfs_opts o;
    write_config("server = http://cfg:1\nuser = carol\n");
    CHECK_EQ(parse(&o, mnt, "-o", "cache_size=64M,attr_timeout=0.5,"
                   "entry_timeout=0,log_level=warn,uid=1000,gid=0", "-s",
                   NULL), 0);
    CHECK_EQ(o.cache_size, 64ull << 20);
    CHECK(o.attr_timeout == 0.5);
    CHECK(o.entry_timeout == 0);
    CHECK_EQ(o.log_level, LOG_WARN);
    CHECK_EQ(o.root_uid, 1000);
    CHECK_EQ(o.root_gid, 0);
    CHECK_EQ(o.singlethread, 1);
    options_free(&o);

    CHECK_EQ(parse(&o, mnt, "-o", "cache_size=2g", NULL), 0);
    CHECK_EQ(o.cache_size, 2ull << 30);
    options_free(&o);
    CHECK_EQ(parse(&o, mnt, "-o", "cache_size=1T", NULL), 0);
    CHECK_EQ(o.cache_size, 1ull << 40);
    options_free(&o);
    CHECK_EQ(parse(&o, mnt, "-o", "cache_size=68719476736", NULL), 0);
    CHECK_EQ(o.cache_size, 64ull << 30);
    options_free(&o);

    /* -d: debug, foreground and debug logging, whatever log_level said */
    CHECK_EQ(parse(&o, "-d", mnt, "-o", "log_level=error", NULL), 0);
    CHECK_EQ(o.debug, 1);
    CHECK_EQ(o.foreground, 1);
    CHECK_EQ(o.log_level, LOG_DEBUG);
    CHECK_STR(fuse_opts(&o), "");
    options_free(&o);
}

static void check_bad(const char *opt, const char *want)
{
    struct dbxfs_opts o;
    if (!CHECK_EQ(parse(&o, mnt, "-o", opt, NULL), -1))
        return;
    if (!CHECK(strstr(err, want) != NULL))
        fprintf(stderr, "  -o %s: got \"%s\"\n", opt, err);
    CHECK(o.mountpoint == NULL && o.fuse_args.argc == 0);
    options_free(&o);
}

static void test_bad_values(void)
{
    write_config("server = http://cfg:1\nuser = carol\n");
    check_bad("frobnicate", "unknown option 'frobnicate'");
    check_bad("ro,frob=1", "unknown option 'frob=1'");
    check_bad("max_write=4096", "unknown option 'max_write=4096'");
    check_bad("cache_size=1M", "cache_size '1M' is too small");
    check_bad("cache_size=abc", "bad cache_size 'abc'");
    check_bad("cache_size=10X", "bad cache_size");
    check_bad("cache_size=-5", "bad cache_size");
    check_bad("cache_size=10 G", "bad cache_size");
    check_bad("cache_size=10GB", "bad cache_size");
    check_bad("cache_size=", "bad cache_size");
    check_bad("cache_size=99999999999T", "bad cache_size");
    check_bad("cache_size=99999999999999999999999", "bad cache_size");
    check_bad("attr_timeout=-1", "bad attr_timeout '-1'");
    check_bad("entry_timeout=1e3", "bad entry_timeout");
    check_bad("attr_timeout=nan", "bad attr_timeout");
    check_bad("attr_timeout=.", "bad attr_timeout");
    check_bad("log_level=loud", "bad log_level 'loud'");
    check_bad("uid=abc", "bad uid 'abc'");
    check_bad("gid=-1", "bad gid");
    check_bad("server=", "empty value");
    check_bad("server=ftp://x", "bad server URL 'ftp://x'");
    check_bad("server=http://", "bad server URL");
    check_bad("server=127.0.0.1:8420", "bad server URL");

    struct dbxfs_opts o;
    CHECK_EQ(parse(&o, "-x", mnt, NULL), -1);
    CHECK_STR(err, "unknown option '-x'");
    options_free(&o);
    CHECK_EQ(parse(&o, "a", "b", "c", NULL), -1);
    CHECK(strstr(err, "unexpected argument 'c'") != NULL);
    options_free(&o);
}

static void test_mountpoint(void)
{
    struct dbxfs_opts o;
    write_config("server = http://cfg:1\nuser = carol\n");
    CHECK_EQ(parse(&o, "-f", "-o", "server=http://h:1", NULL), -1);
    CHECK_STR(err, "missing mountpoint (usage: dbxfs [options] MOUNTPOINT)");
    options_free(&o);

    char path[4300];
    snprintf(path, sizeof path, "%s/absent", base);
    CHECK_EQ(parse(&o, path, NULL), -1);
    CHECK(strstr(err, path) != NULL);
    CHECK(strstr(err, "No such file") != NULL);
    options_free(&o);

    snprintf(path, sizeof path, "%s/file", base);
    write_file(path, "x");
    CHECK_EQ(parse(&o, path, NULL), -1);
    CHECK(strstr(err, path) != NULL);
    CHECK(strstr(err, "not a directory") != NULL);
    options_free(&o);

    /* a relative mountpoint comes back absolute */
    char cwd[4300];
    CHECK(getcwd(cwd, sizeof cwd) != NULL);
    CHECK_EQ(chdir(base), 0);
    CHECK_EQ(parse(&o, "mnt/.", NULL), 0);
    CHECK_STR(o.mountpoint, mnt_real);
    options_free(&o);
    CHECK_EQ(chdir(cwd), 0);

    /* help and version need nothing else */
    CHECK_EQ(parse(&o, "--help", NULL), 0);
    CHECK_EQ(o.show_help, 1);
    CHECK(o.mountpoint == NULL);
    options_free(&o);
    CHECK_EQ(parse(&o, "-V", NULL), 0);
    CHECK_EQ(o.show_version, 1);
    options_free(&o);
}

static void test_missing_account(void)
{
    struct dbxfs_opts o;
    unlink(conf_file);   /* no default config: fine, but nothing from it */
    CHECK_EQ(parse(&o, mnt, NULL), -1);
    CHECK_STR(err, "no server: give -o server=URL, a SOURCE, or run "
                   "`dbxctl login`");
    options_free(&o);
    CHECK_EQ(parse(&o, "http://h:1", mnt, NULL), -1);
    CHECK(strncmp(err, "no user:", 8) == 0);
    options_free(&o);
    CHECK_EQ(parse(&o, "@http://h:1", mnt, NULL), -1);
    CHECK(strstr(err, "bad SOURCE") != NULL);
    options_free(&o);
    CHECK_EQ(parse(&o, "u@http://h:1", mnt, NULL), 0);
    options_free(&o);

    /* an explicit config that is missing or wrong is an error */
    CHECK_EQ(parse(&o, "u@http://h:1", mnt, "-o", "config=/nonexistent/c",
                   NULL), -1);
    CHECK(strstr(err, "/nonexistent/c") != NULL);
    options_free(&o);
    write_config("server = http://cfg:1\nusr = carol\n");
    CHECK_EQ(parse(&o, "u@http://h:1", mnt, NULL), -1);
    CHECK(strstr(err, "unknown setting 'usr'") != NULL);
    options_free(&o);
}

static void check_cache_dir(const char *want)
{
    struct dbxfs_opts o;
    if (CHECK_EQ(parse(&o, mnt, "-o", "server=http://127.0.0.1:8420,user=alice",
                       NULL), 0))
        CHECK_STR(o.cache_dir, want);
    options_free(&o);
}

static void test_cache_dir(void)
{
    struct dbxfs_opts o;
    char want[4300];
    write_config("");
    if (geteuid() == 0) {
        check_cache_dir("/var/cache/dbxfs/alice@127.0.0.1_8420");
        CHECK_EQ(parse(&o, "a b/c@https://h.example/dbx", mnt, NULL), 0);
        CHECK_STR(o.cache_dir, "/var/cache/dbxfs/a_b_c@h.example_dbx");
        options_free(&o);
        /* the non-root defaults, as another user (base is 0755; the
         * root-only config directory would be unreadable) */
        snprintf(want, sizeof want, "%s/no-config", base);
        setenv("XDG_CONFIG_HOME", want, 1);
        if (!CHECK_EQ(seteuid(65534), 0))
            return;
    }
    setenv("XDG_CACHE_HOME", "/xdg/cache", 1);
    check_cache_dir("/xdg/cache/dbxfs/alice@127.0.0.1_8420");
    unsetenv("XDG_CACHE_HOME");
    snprintf(want, sizeof want, "%s/.cache/dbxfs/alice@127.0.0.1_8420",
             getenv("HOME"));
    check_cache_dir(want);
    if (getuid() == 0)
        CHECK_EQ(seteuid(0), 0);
    setenv("XDG_CONFIG_HOME", conf_home, 1);

    CHECK_EQ(parse(&o, mnt, "-o", "server=http://h:1,user=u,cache_dir=/c,"
                   "token_file=/t", NULL), 0);
    CHECK_STR(o.cache_dir, "/c");
    CHECK_STR(o.token_file, "/t");
    options_free(&o);
}

int main(void)
{
    if (!mkdtemp(base) || chmod(base, 0755) != 0) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(mnt, sizeof mnt, "%s/mnt", base);
    mkdir(mnt, 0755);
    if (!realpath(mnt, mnt_real))
        return 1;
    snprintf(conf_home, sizeof conf_home, "%s/config", base);
    mkdir(conf_home, 0755);
    snprintf(conf_file, sizeof conf_file, "%s/dbxfs/config", conf_home);
    setenv("XDG_CONFIG_HOME", conf_home, 1);
    setenv("HOME", base, 1);
    unsetenv("XDG_CACHE_HOME");

    test_plain_form();
    test_mount_helper_form();
    test_precedence();
    test_fstab_words();
    test_values();
    test_bad_values();
    test_mountpoint();
    test_missing_account();
    test_cache_dir();

    char cmd[4300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", base);
    return unit_done();
}
