#include "clientconf.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int fail(int rc, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Every error path is "set the message, return -errno": one call. */
static int fail(int rc, char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return rc;
}

static int join(char *out, size_t outlen, const char *a, const char *b)
{
    int n = snprintf(out, outlen, "%s%s", a, b);
    return n < 0 || (size_t)n >= outlen ? -ENAMETOOLONG : 0;
}

/* The XDG spec says a relative XDG_CONFIG_HOME is invalid and to be
 * ignored; without HOME (a systemd unit, say) the passwd entry still
 * knows where the home is. */
int clientconf_dir(char *out, size_t outlen)
{
    const char *xdg = getenv("XDG_CONFIG_HOME");
    if (xdg && xdg[0] == '/')
        return join(out, outlen, xdg, "/dbxfs");
    const char *home = getenv("HOME");
    if (!home || home[0] != '/') {
        struct passwd *pw = getpwuid(geteuid());
        home = pw && pw->pw_dir && pw->pw_dir[0] == '/' ? pw->pw_dir : NULL;
    }
    if (!home)
        return -ENOENT;
    return join(out, outlen, home, "/.config/dbxfs");
}

/* ---- reading ---- */

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    char *e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' ||
                     e[-1] == '\r'))
        *--e = '\0';
    return s;
}

static char *field(clientconf *c, const char *name)
{
    if (strcmp(name, "server") == 0)
        return c->server;
    if (strcmp(name, "user") == 0)
        return c->user;
    if (strcmp(name, "ca_file") == 0)
        return c->ca_file;
    return NULL;
}

static int parse_line(clientconf *c, char *line, const char *path, int lineno,
                      char *err, size_t errlen)
{
    char *s = trim(line);
    if (*s == '\0' || *s == '#')
        return 0;
    char *eq = strchr(s, '=');
    if (!eq)
        return fail(-EINVAL, err, errlen, "%s:%d: expected `name = value'",
                    path, lineno);
    *eq = '\0';
    char *name = trim(s), *value = trim(eq + 1);
    char *dst = field(c, name);
    if (!dst)
        return fail(-EINVAL, err, errlen, "%s:%d: unknown setting '%s'", path,
                    lineno, name);
    if (strlen(value) >= CLIENTCONF_VALUE_MAX)
        return fail(-EINVAL, err, errlen, "%s:%d: value of '%s' too long",
                    path, lineno, name);
    strcpy(dst, value);
    return 0;
}

int clientconf_load(const char *path, clientconf *c, char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    FILE *f = fopen(path, "re");
    if (!f)
        return fail(-errno, err, errlen, "cannot read %s: %s", path,
                    strerror(errno));
    char *line = NULL;
    size_t cap = 0;
    int rc = 0, lineno = 0;
    while (rc == 0 && getline(&line, &cap, f) >= 0)
        rc = parse_line(c, line, path, ++lineno, err, errlen);
    if (rc == 0 && ferror(f))
        rc = fail(-EIO, err, errlen, "cannot read %s: read error", path);
    free(line);
    fclose(f);
    if (rc)
        memset(c, 0, sizeof *c);   /* all or nothing, never half a config */
    return rc;
}

/* ---- atomic writing ---- */

/* mkdir -p of path's parent; directories we create are 0700 because they
 * hold secrets. Existing ones are left as they are. */
static int make_parent(const char *path, char *err, size_t errlen)
{
    char dir[4096];
    if (join(dir, sizeof dir, path, "") != 0)
        return fail(-ENAMETOOLONG, err, errlen, "path too long: %s", path);
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir)
        return 0;
    *slash = '\0';
    for (char *p = dir + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char saved = *p;
        *p = '\0';
        if (mkdir(dir, 0700) != 0 && errno != EEXIST)
            return fail(-errno, err, errlen, "cannot create %s: %s", dir,
                        strerror(errno));
        *p = saved;
        if (saved == '\0')
            return 0;
    }
}

static int write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* The rename is only durable once the directory entry is on disk. */
static void sync_parent(const char *path)
{
    char dir[4096];
    if (join(dir, sizeof dir, path, "") != 0)
        return;
    char *slash = strrchr(dir, '/');
    if (!slash)
        strcpy(dir, ".");
    else if (slash == dir)
        strcpy(dir, "/");
    else
        *slash = '\0';
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

/* Writes the parts to a 0600 temporary file beside path, then renames it
 * over path: a reader sees the old file or the new one, never half. */
static int write_atomic(const char *path, const char *const *parts,
                        size_t nparts, char *err, size_t errlen)
{
    int rc = make_parent(path, err, errlen);
    if (rc)
        return rc;
    char tmp[4096];
    if (join(tmp, sizeof tmp, path, ".tmpXXXXXX") != 0)
        return fail(-ENAMETOOLONG, err, errlen, "path too long: %s", path);
    int fd = mkostemp(tmp, O_CLOEXEC);   /* created 0600 */
    if (fd < 0)
        return fail(-errno, err, errlen, "cannot create %s: %s", tmp,
                    strerror(errno));
    for (size_t i = 0; rc == 0 && i < nparts; i++)
        rc = write_all(fd, parts[i], strlen(parts[i]));
    if (rc == 0 && fchmod(fd, 0600) != 0)   /* whatever the umask was */
        rc = -errno;
    if (rc == 0 && fsync(fd) != 0)
        rc = -errno;
    if (close(fd) != 0 && rc == 0)
        rc = -errno;
    if (rc == 0 && rename(tmp, path) != 0)
        rc = -errno;
    if (rc) {
        unlink(tmp);
        return fail(rc, err, errlen, "cannot write %s: %s", path,
                    strerror(-rc));
    }
    sync_parent(path);
    return 0;
}

/* A newline inside a value would be read back as another line. */
static int check_value(const char *name, const char *v, char *err,
                       size_t errlen)
{
    if (strpbrk(v, "\r\n"))
        return fail(-EINVAL, err, errlen, "%s must not contain a newline",
                    name);
    return 0;
}

int clientconf_save(const char *path, const clientconf *c, char *err,
                    size_t errlen)
{
    int rc;
    if ((rc = check_value("server", c->server, err, errlen)) ||
        (rc = check_value("user", c->user, err, errlen)) ||
        (rc = check_value("ca_file", c->ca_file, err, errlen)))
        return rc;
    const char *parts[] = {
        "# written by dbxctl login\n",
        "server = ", c->server, "\n",
        "user = ", c->user, "\n",
        c->ca_file[0] ? "ca_file = " : "", c->ca_file, c->ca_file[0] ? "\n" : "",
    };
    return write_atomic(path, parts, sizeof parts / sizeof parts[0], err,
                        errlen);
}

int clientconf_write_secret(const char *path, const char *secret, char *err,
                            size_t errlen)
{
    int rc = check_value("a secret", secret, err, errlen);
    if (rc)
        return rc;
    const char *parts[] = {secret, "\n"};
    return write_atomic(path, parts, 2, err, errlen);
}

/* ---- secrets ---- */

static ssize_t read_full(int fd, char *buf, size_t len)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = read(fd, buf + got, len - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        if (n == 0)
            break;
        got += (size_t)n;
    }
    return (ssize_t)got;
}

/* Checked on the open descriptor (fstat), so the file cannot be swapped
 * between the check and the read. */
static int check_secret_file(int fd, const char *path, char *err,
                             size_t errlen)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return fail(-errno, err, errlen, "cannot stat %s: %s", path,
                    strerror(errno));
    if (!S_ISREG(st.st_mode))
        return fail(-EINVAL, err, errlen, "%s is not a regular file", path);
    if (st.st_mode & 077)
        return fail(-EPERM, err, errlen,
                    "permissions %04o on %s are too open (chmod 600 it)",
                    (unsigned)(st.st_mode & 07777), path);
    return 0;
}

/* Reads straight into out: no copy of the secret is left elsewhere. */
static int read_first_line(int fd, const char *path, char *out, size_t outlen,
                           char *err, size_t errlen)
{
    ssize_t n = read_full(fd, out, outlen - 1);
    if (n < 0)
        return fail((int)n, err, errlen, "cannot read %s: %s", path,
                    strerror((int)-n));
    out[n] = '\0';
    char *nl = memchr(out, '\n', (size_t)n);
    if (nl) {
        *nl = '\0';
    } else if ((size_t)n == outlen - 1) {
        char next;
        if (read_full(fd, &next, 1) == 1 && next != '\n')
            return fail(-EOVERFLOW, err, errlen, "%s: secret too long", path);
    }
    size_t len = strlen(out);
    if (len > 0 && out[len - 1] == '\r')
        out[--len] = '\0';
    if (len == 0)
        return fail(-EINVAL, err, errlen, "%s is empty", path);
    return 0;
}

int clientconf_read_secret(const char *path, char *out, size_t outlen,
                           char *err, size_t errlen)
{
    if (outlen < 2)
        return fail(-EINVAL, err, errlen, "no room for a secret");
    out[0] = '\0';
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return fail(-errno, err, errlen, "cannot read %s: %s", path,
                    strerror(errno));
    int rc = check_secret_file(fd, path, err, errlen);
    if (rc == 0)
        rc = read_first_line(fd, path, out, outlen, err, errlen);
    close(fd);
    if (rc)
        memset(out, 0, outlen);   /* no partial secret left for the caller */
    return rc;
}
