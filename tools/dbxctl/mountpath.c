/* mountpath: see mountpath.h. */
#include "mountpath.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#define MOUNTINFO "/proc/self/mountinfo"
#define DBXFS_FSTYPE "fuse.dbxfs"
#define ID_XATTR "user.dbxfs.id"
#define STATUS_XATTR "user.dbxfs.status"
#define STATUS_SLACK 256   /* the status may grow between two getxattr calls */

static int fail(int rc, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(int rc, char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return rc;
}

/* A mount whose dbxfs died answers everything with ENOTCONN. */
static int fail_errno(int e, const char *path, char *err, size_t errlen)
{
    return fail(-e, err, errlen, "%s: %s%s", path, strerror(e),
                e == ENOTCONN ? " (its dbxfs has stopped: unmount it with "
                                "fusermount3 -u and mount again)" : "");
}

/* ---- /proc/self/mountinfo ---- */

struct mount_entry {
    dev_t dev;
    const char *point;     /* unescaped, inside the line */
};

/* mountinfo writes space, tab, newline and backslash in paths as \ooo. */
static void unescape(char *s)
{
    char *out = s;

    while (*s) {
        if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' &&
            s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
            *out++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
            s += 4;
        } else {
            *out++ = *s++;
        }
    }
    *out = '\0';
}

/* "ID PARENT MAJ:MIN ROOT POINT OPTS [OPTIONAL...] - FSTYPE SOURCE SOPTS":
 * 0 for a dbxfs mount, -1 for anything else. */
static int parse_dbxfs_entry(char *line, struct mount_entry *e)
{
    char *save = NULL, *point = NULL, *tok;
    unsigned major, minor;
    int field = 0, have_dev = 0;

    for (tok = strtok_r(line, " \n", &save); tok; tok = strtok_r(NULL, " \n", &save)) {
        if (field == 2)
            have_dev = sscanf(tok, "%u:%u", &major, &minor) == 2;
        else if (field == 4)
            point = tok;
        else if (field > 5 && strcmp(tok, "-") == 0)
            break;
        field++;
    }
    tok = strtok_r(NULL, " \n", &save);   /* the type, after "-" */
    if (!have_dev || !point || !tok || strcmp(tok, DBXFS_FSTYPE) != 0)
        return -1;
    unescape(point);
    e->dev = makedev(major, minor);
    e->point = point;
    return 0;
}

typedef void (*mount_visit)(void *arg, const struct mount_entry *e);

static int each_dbxfs_mount(mount_visit visit, void *arg, char *err, size_t errlen)
{
    FILE *f = fopen(MOUNTINFO, "re");
    struct mount_entry e;
    char *line = NULL;
    size_t cap = 0;

    if (!f)
        return fail(-errno, err, errlen, "cannot read %s: %s", MOUNTINFO,
                    strerror(errno));
    while (getline(&line, &cap, f) >= 0)
        if (parse_dbxfs_entry(line, &e) == 0)
            visit(arg, &e);
    free(line);
    fclose(f);
    return 0;
}

/* ---- the mount of a path ---- */

static int is_under(const char *path, const char *dir)
{
    size_t len = strlen(dir);

    if (strcmp(dir, "/") == 0)
        return 1;
    return strncmp(path, dir, len) == 0 && (path[len] == '/' || path[len] == '\0');
}

/* The longest mount point above the path on its device: a bind mount of a
 * directory inside the mount is the nearer root. */
struct best_mount {
    const char *real;
    dev_t dev;
    char *root;          /* PATH_MAX */
    size_t len;
    int found;
};

static void visit_best(void *arg, const struct mount_entry *e)
{
    struct best_mount *b = arg;
    size_t len = strlen(e->point);

    if (e->dev != b->dev || !is_under(b->real, e->point) ||
        (b->found && len <= b->len) || len >= PATH_MAX)
        return;
    memcpy(b->root, e->point, len + 1);
    b->len = len;
    b->found = 1;
}

int mountpath_find(const char *path, struct mountpath *mp, char *err, size_t errlen)
{
    struct best_mount b = {.real = mp->real, .root = mp->root};
    struct stat st;
    int rc;

    if (!realpath(path, mp->real) || stat(mp->real, &st) != 0)
        return fail_errno(errno, path, err, errlen);
    b.dev = st.st_dev;
    rc = each_dbxfs_mount(visit_best, &b, err, errlen);
    if (rc == 0 && !b.found)
        rc = fail(-ENOENT, err, errlen, "%s is not inside a dbxfs mount", path);
    return rc;
}

int mountpath_find_node(const char *path, struct mountpath *mp, char *err,
                        size_t errlen)
{
    uint64_t id;
    ssize_t n;
    int rc = mountpath_find(path, mp, err, errlen);

    if (rc)
        return rc;
    n = getxattr(mp->real, ID_XATTR, mp->id, WIRE_ID_HEX_LEN);
    if (n < 0 && errno == ENODATA)
        return fail(-ENODATA, err, errlen, "%s is a view the mount makes (\"Shared with "
                    "me\"), not a file or directory on dbxd: name an entry inside it", path);
    if (n < 0)
        return fail_errno(errno, path, err, errlen);
    mp->id[n] = '\0';
    if (n != WIRE_ID_HEX_LEN || wire_id_parse(mp->id, &id) != 0)
        return fail(-EPROTO, err, errlen, "%s: the mount gave a malformed node id",
                    path);
    return 0;
}

/* ---- no path given ---- */

struct only_mount {
    char *root;          /* PATH_MAX */
    int count;
};

static void visit_count(void *arg, const struct mount_entry *e)
{
    struct only_mount *o = arg;

    if (o->count++ == 0)
        snprintf(o->root, PATH_MAX, "%s", e->point);
}

int mountpath_find_default(struct mountpath *mp, char *err, size_t errlen)
{
    struct only_mount o = {.root = mp->root};
    int rc;

    if (mountpath_find(".", mp, err, errlen) == 0)
        return 0;
    if ((rc = each_dbxfs_mount(visit_count, &o, err, errlen)))
        return rc;
    if (o.count == 0)
        return fail(-ENOENT, err, errlen, "no dbxfs mount found: mount one, or "
                                          "name a path inside one");
    if (o.count > 1)
        return fail(-EINVAL, err, errlen, "%d dbxfs mounts: name a path inside "
                                          "the one you mean (e.g. %s)", o.count,
                    mp->root);
    return mountpath_find(mp->root, mp, err, errlen);
}

/* ---- the sync state ---- */

/* A whole xattr value, malloc'd and NUL-terminated; -errno. */
static int read_xattr(const char *path, const char *name, char **out)
{
    for (int tries = 0; tries < 4; tries++) {
        ssize_t size = getxattr(path, name, NULL, 0), n;
        char *buf;

        if (size < 0)
            return -errno;
        if (!(buf = malloc((size_t)size + STATUS_SLACK + 1)))
            return -ENOMEM;
        n = getxattr(path, name, buf, (size_t)size + STATUS_SLACK);
        if (n >= 0) {
            buf[n] = '\0';
            *out = buf;
            return 0;
        }
        free(buf);
        if (errno != ERANGE)
            return -errno;
    }
    return -ERANGE;
}

int mountpath_status(const struct mountpath *mp, char **json, char *err,
                     size_t errlen)
{
    int rc = read_xattr(mp->root, STATUS_XATTR, json);

    if (rc == -ENODATA)   /* a bind mount of a directory inside the mount */
        return fail(rc, err, errlen, "%s: not the root of a dbxfs mount; name "
                                     "a path in the mount itself", mp->root);
    if (rc == -ERANGE)
        return fail(rc, err, errlen, "%s: the status keeps growing", mp->root);
    return rc ? fail_errno(-rc, mp->root, err, errlen) : 0;
}
