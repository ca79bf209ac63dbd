/* clientconf: the client's config and secret files, in a temp dir. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clientconf.h"
#include "unit.h"

static char base[] = "/tmp/test_clientconf.XXXXXX";

static const char *at(const char *name)
{
    static char path[4096];
    snprintf(path, sizeof path, "%s/%s", base, name);
    return path;
}

static void put(const char *name, const char *text, mode_t mode)
{
    FILE *f = fopen(at(name), "w");
    fputs(text, f);
    fclose(f);
    chmod(at(name), mode);
}

static int mode_of(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (int)(st.st_mode & 07777) : -1;
}

/* Entries of dir other than . and .., so a leftover temp file shows. */
static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            n++;
    closedir(d);
    return n;
}

static void test_round_trip(void)
{
    char err[256] = "";
    clientconf c = {0}, back;
    strcpy(c.server, "https://files.example.org:8420");
    strcpy(c.user, "alice");
    strcpy(c.ca_file, "/etc/dbxfs/ca.pem");
    /* the directory does not exist yet: save creates it 0700 */
    CHECK_EQ(clientconf_save(at("rt/dbxfs/config"), &c, err, sizeof err), 0);
    CHECK_EQ(mode_of(at("rt/dbxfs")), 0700);
    CHECK_EQ(mode_of(at("rt/dbxfs/config")), 0600);
    CHECK_EQ(clientconf_load(at("rt/dbxfs/config"), &back, err, sizeof err), 0);
    CHECK_STR(back.server, c.server);
    CHECK_STR(back.user, c.user);
    CHECK_STR(back.ca_file, c.ca_file);

    /* no ca_file: the field stays empty */
    c.ca_file[0] = '\0';
    CHECK_EQ(clientconf_save(at("rt/dbxfs/config"), &c, err, sizeof err), 0);
    CHECK_EQ(clientconf_load(at("rt/dbxfs/config"), &back, err, sizeof err), 0);
    CHECK_STR(back.ca_file, "");
    CHECK_STR(back.user, "alice");
    CHECK_EQ(count_entries(at("rt/dbxfs")), 1);

    strcpy(c.user, "bad\nuser");
    CHECK_EQ(clientconf_save(at("rt/dbxfs/config"), &c, err, sizeof err),
             -EINVAL);
}

static void test_comments_and_blanks(void)
{
    char err[256] = "";
    clientconf c;
    put("commented",
        "# a comment\n"
        "\n"
        "   \t\n"
        "  # an indented comment\n"
        "server=http://127.0.0.1:8420\n"
        "  user   =   bob  \r\n"
        "ca_file =\n",
        0644);
    CHECK_EQ(clientconf_load(at("commented"), &c, err, sizeof err), 0);
    CHECK_STR(c.server, "http://127.0.0.1:8420");
    CHECK_STR(c.user, "bob");
    CHECK_STR(c.ca_file, "");

    put("only-server", "server = http://h:1\n", 0644);   /* absent fields "" */
    CHECK_EQ(clientconf_load(at("only-server"), &c, err, sizeof err), 0);
    CHECK_STR(c.user, "");
}

static void test_bad_files(void)
{
    char err[256] = "";
    clientconf c;
    put("typo", "server = http://h:1\nusr = alice\n", 0644);
    CHECK_EQ(clientconf_load(at("typo"), &c, err, sizeof err), -EINVAL);
    CHECK(strstr(err, "unknown setting 'usr'") != NULL);
    CHECK(strstr(err, ":2:") != NULL);
    CHECK_STR(c.server, "");            /* nothing half-loaded */

    put("noeq", "server http://h:1\n", 0644);
    CHECK_EQ(clientconf_load(at("noeq"), &c, err, sizeof err), -EINVAL);

    char big[CLIENTCONF_VALUE_MAX + 32];
    memset(big, 'x', sizeof big);
    memcpy(big, "user = ", 7);
    big[sizeof big - 1] = '\0';
    put("long", big, 0644);
    CHECK_EQ(clientconf_load(at("long"), &c, err, sizeof err), -EINVAL);

    err[0] = '\0';
    CHECK_EQ(clientconf_load(at("nope"), &c, err, sizeof err), -ENOENT);
    CHECK(strstr(err, "nope") != NULL);
}

static void test_secrets(void)
{
    char err[256] = "", out[128];
    CHECK_EQ(clientconf_write_secret(at("sec/token"), "tok-123", err,
                                     sizeof err), 0);
    CHECK_EQ(mode_of(at("sec/token")), 0600);
    CHECK_EQ(mode_of(at("sec")), 0700);
    CHECK_EQ(clientconf_read_secret(at("sec/token"), out, sizeof out, err,
                                    sizeof err), 0);
    CHECK_STR(out, "tok-123");

    /* replacing a too-open file leaves a 0600 one, and no temp file */
    chmod(at("sec/token"), 0644);
    CHECK_EQ(clientconf_write_secret(at("sec/token"), "tok-456", err,
                                     sizeof err), 0);
    CHECK_EQ(mode_of(at("sec/token")), 0600);
    CHECK_EQ(count_entries(at("sec")), 1);
    CHECK_EQ(clientconf_read_secret(at("sec/token"), out, sizeof out, err,
                                    sizeof err), 0);
    CHECK_STR(out, "tok-456");

    /* the same under a restrictive umask: still exactly 0600 */
    mode_t old = umask(0277);
    CHECK_EQ(clientconf_write_secret(at("sec/token"), "tok-789", err,
                                     sizeof err), 0);
    umask(old);
    CHECK_EQ(mode_of(at("sec/token")), 0600);
}

static void test_secret_refusals(void)
{
    char err[256] = "", out[16];
    put("open", "hunter2\n", 0644);
    CHECK_EQ(clientconf_read_secret(at("open"), out, sizeof out, err,
                                    sizeof err), -EPERM);
    CHECK(strstr(err, "0644") != NULL);
    CHECK_STR(out, "");
    put("group", "hunter2\n", 0640);
    CHECK_EQ(clientconf_read_secret(at("group"), out, sizeof out, err,
                                    sizeof err), -EPERM);

    /* first line only, CRLF tolerated, no newline at the end tolerated */
    put("lines", "first\r\nsecond\n", 0600);
    CHECK_EQ(clientconf_read_secret(at("lines"), out, sizeof out, err,
                                    sizeof err), 0);
    CHECK_STR(out, "first");
    put("bare", "bare", 0600);
    CHECK_EQ(clientconf_read_secret(at("bare"), out, sizeof out, err,
                                    sizeof err), 0);
    CHECK_STR(out, "bare");

    /* exactly fits (15 bytes + NUL), then one byte too many */
    put("fits", "123456789012345\n", 0600);
    CHECK_EQ(clientconf_read_secret(at("fits"), out, sizeof out, err,
                                    sizeof err), 0);
    CHECK_STR(out, "123456789012345");
    put("toolong", "1234567890123456\n", 0600);
    CHECK_EQ(clientconf_read_secret(at("toolong"), out, sizeof out, err,
                                    sizeof err), -EOVERFLOW);

    put("empty", "\n", 0600);
    CHECK_EQ(clientconf_read_secret(at("empty"), out, sizeof out, err,
                                    sizeof err), -EINVAL);
    CHECK_EQ(clientconf_read_secret(at("absent"), out, sizeof out, err,
                                    sizeof err), -ENOENT);
}

static void test_dir(void)
{
    char dir[4096];
    setenv("XDG_CONFIG_HOME", "/x/conf", 1);
    setenv("HOME", "/home/alice", 1);
    CHECK_EQ(clientconf_dir(dir, sizeof dir), 0);
    CHECK_STR(dir, "/x/conf/dbxfs");

    /* unset, empty or relative XDG_CONFIG_HOME falls back to HOME */
    unsetenv("XDG_CONFIG_HOME");
    CHECK_EQ(clientconf_dir(dir, sizeof dir), 0);
    CHECK_STR(dir, "/home/alice/.config/dbxfs");
    setenv("XDG_CONFIG_HOME", "", 1);
    CHECK_EQ(clientconf_dir(dir, sizeof dir), 0);
    CHECK_STR(dir, "/home/alice/.config/dbxfs");
    setenv("XDG_CONFIG_HOME", "relative/conf", 1);
    CHECK_EQ(clientconf_dir(dir, sizeof dir), 0);
    CHECK_STR(dir, "/home/alice/.config/dbxfs");

    char small[8];
    CHECK_EQ(clientconf_dir(small, sizeof small), -ENAMETOOLONG);
}

int main(void)
{
    if (!mkdtemp(base)) {
        perror("mkdtemp");
        return 1;
    }
    test_round_trip();
    test_comments_and_blanks();
    test_bad_files();
    test_secrets();
    test_secret_refusals();
    test_dir();
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", base);
    return unit_done();
}
