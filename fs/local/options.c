#ifndef FUSE_USE_VERSION
#define FUSE_USE_VERSION 34
#endif
#include "options.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

#define MIN_CACHE_SIZE (64ull << 20)
#define USAGE_HINT "(usage: dbxfs [options] MOUNTPOINT)"

/* fuse_opt_parse's data: the options being filled (offset templates point
 * into .o) plus what the callback needs besides. Copied out at the end. */
struct parse_ctx {
    struct dbxfs_opts o;
    const char *pos[2];          /* SOURCE and/or MOUNTPOINT, as given */
    const char *extra;           /* a third positional: an error later */
    int npos;
    char *err;
    size_t errlen;
};

enum opt_key {
    KEY_SERVER, KEY_USER, KEY_CA_FILE, KEY_CONFIG, KEY_TOKEN_FILE,
    KEY_PASSWORD_FILE, KEY_CACHE_DIR, KEY_DEVICE, /* the string settings */
    KEY_CACHE_SIZE, KEY_ATTR_TIMEOUT, KEY_ENTRY_TIMEOUT, KEY_LOG_LEVEL,
    KEY_UID, KEY_GID,
};

#define FLAG(t, field) { t, offsetof(struct parse_ctx, o.field), 1 }
#define KEEP(t) FUSE_OPT_KEY(t, FUSE_OPT_KEY_KEEP)
#define DROP(t) FUSE_OPT_KEY(t, FUSE_OPT_KEY_DISCARD)

/* Only options listed here reach fuse_session_new: anything else is ours
 * or an error, so a typo is reported by us in one line, not by libfuse. */
static const struct fuse_opt templates[] = {
    FUSE_OPT_KEY("server=", KEY_SERVER),
    FUSE_OPT_KEY("user=", KEY_USER),
    FUSE_OPT_KEY("ca_file=", KEY_CA_FILE),
    FUSE_OPT_KEY("config=", KEY_CONFIG),
    FUSE_OPT_KEY("token_file=", KEY_TOKEN_FILE),
    FUSE_OPT_KEY("password_file=", KEY_PASSWORD_FILE),
    FUSE_OPT_KEY("cache_dir=", KEY_CACHE_DIR),
    FUSE_OPT_KEY("device=", KEY_DEVICE),
    FUSE_OPT_KEY("cache_size=", KEY_CACHE_SIZE),
    FUSE_OPT_KEY("attr_timeout=", KEY_ATTR_TIMEOUT),
    FUSE_OPT_KEY("entry_timeout=", KEY_ENTRY_TIMEOUT),
    FUSE_OPT_KEY("log_level=", KEY_LOG_LEVEL),
    FUSE_OPT_KEY("uid=", KEY_UID),
    FUSE_OPT_KEY("gid=", KEY_GID),
    FLAG("fsync_server", fsync_server),
    FLAG("-f", foreground),
    FLAG("-d", debug),
    FLAG("debug", debug),            /* -o debug, as other FUSE programs */
    FLAG("-s", singlethread),
    FLAG("-h", show_help),
    FLAG("--help", show_help),
    FLAG("-V", show_version),
    FLAG("--version", show_version),
    /* allow_other is ours (to know) and the kernel's (to enforce) */
    FLAG("allow_other", allow_other),
    KEEP("allow_other"),
    /* what fuse_session_new of libfuse 3.14 accepts and makes sense here */
    KEEP("allow_root"), KEEP("auto_unmount"), KEEP("default_permissions"),
    KEEP("fsname="), KEEP("subtype="), KEEP("max_read="),
    KEEP("context="), KEEP("fscontext="), KEEP("defcontext="),
    KEEP("rootcontext="),
    KEEP("ro"), KEEP("rw"), KEEP("suid"), KEEP("nosuid"), KEEP("dev"),
    KEEP("nodev"), KEEP("exec"), KEEP("noexec"), KEEP("async"),
    KEEP("sync"), KEEP("dirsync"), KEEP("noatime"),
    /* fstab words for mount(8) and systemd, not for us; x-* in opt_proc */
    DROP("_netdev"), DROP("nofail"), DROP("noauto"), DROP("auto"),
    DROP("user"), DROP("users"), DROP("nouser"), DROP("defaults"),
    DROP("comment="), DROP("nonempty"),
    FUSE_OPT_END
};

static int fail(struct parse_ctx *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Sets the one-line message; returns -1, what fuse_opt_proc_t wants. */
static int fail(struct parse_ctx *c, const char *fmt, ...)
{
    if (c->err && c->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->err, c->errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static char *string_field(struct dbxfs_opts *o, int key)
{
    switch (key) {
    case KEY_SERVER: return o->server;
    case KEY_USER: return o->user;
    case KEY_CA_FILE: return o->ca_file;
    case KEY_CONFIG: return o->config;
    case KEY_TOKEN_FILE: return o->token_file;
    case KEY_PASSWORD_FILE: return o->password_file;
    case KEY_CACHE_DIR: return o->cache_dir;
    case KEY_DEVICE: return o->device;
    default: return NULL;
    }
}

/* ---- values ---- */

static int copy_value(char *dst, const char *src, size_t len)
{
    if (len >= CLIENTCONF_VALUE_MAX)
        return -1;
    memcpy(dst, src, len);
    dst[len] = '\0';
    return 0;
}

/* Bytes, or a count of KiB/MiB/GiB/TiB ("10G"). Digits only before the
 * suffix: strtoull would also take "-1", " 5" and "0x10". */
static int parse_size(const char *s, uint64_t *out)
{
    static const char suffixes[] = "KMGT";
    size_t digits = strspn(s, "0123456789");
    if (digits == 0 || digits > 20)
        return -1;
    int shift = 0;
    if (s[digits] != '\0') {
        const char *p = memchr(suffixes, toupper((unsigned char)s[digits]), 4);
        if (!p || s[digits + 1] != '\0')
            return -1;
        shift = 10 * (int)(p - suffixes + 1);
    }
    errno = 0;
    unsigned long long n = strtoull(s, NULL, 10);
    if (errno || n > (UINT64_MAX >> shift))
        return -1;
    *out = (uint64_t)n << shift;
    return 0;
}

/* Non-negative decimal seconds ("60", "0.5"); no signs, exponents, hex,
 * inf or nan, which strtod alone would let through. */
static int parse_seconds(const char *s, double *out)
{
    static const char digits[] = "0123456789";
    size_t i = strspn(s, digits), ndigits = i;
    if (s[i] == '.') {
        size_t frac = strspn(s + i + 1, digits);
        ndigits += frac;
        i += 1 + frac;
    }
    if (ndigits == 0 || s[i] != '\0' || i > 32)
        return -1;
    *out = strtod(s, NULL);
    return 0;
}

static int parse_id(const char *s, int *out)
{
    size_t digits = strspn(s, "0123456789");
    if (digits == 0 || digits != strlen(s) || digits > 10)
        return -1;
    long long n = strtoll(s, NULL, 10);
    if (n > INT_MAX)
        return -1;
    *out = (int)n;
    return 0;
}

static int set_number(struct parse_ctx *c, int key, const char *arg,
                      const char *v)
{
    struct dbxfs_opts *o = &c->o;
    switch (key) {
    case KEY_CACHE_SIZE:
        if (parse_size(v, &o->cache_size) != 0)
            return fail(c, "bad cache_size '%s' (bytes, or a number with "
                           "K, M, G or T)", v);
        if (o->cache_size < MIN_CACHE_SIZE)
            return fail(c, "cache_size '%s' is too small (at least 64M)", v);
        return 0;
    case KEY_ATTR_TIMEOUT:
    case KEY_ENTRY_TIMEOUT:
        if (parse_seconds(v, key == KEY_ATTR_TIMEOUT ? &o->attr_timeout
                                                     : &o->entry_timeout))
            return fail(c, "bad %.*s '%s' (seconds, e.g. 60 or 0.5)",
                        (int)(v - arg - 1), arg, v);
        return 0;
    case KEY_LOG_LEVEL:
        if ((o->log_level = log_level_parse(v)) < 0)
            return fail(c, "bad log_level '%s' (error, warn, info or debug)",
                        v);
        return 0;
    case KEY_UID:
    case KEY_GID:
        if (parse_id(v, key == KEY_UID ? &o->root_uid : &o->root_gid))
            return fail(c, "bad %.*s '%s' (a number)", (int)(v - arg - 1),
                        arg, v);
        return 0;
    }
    return fail(c, "unknown option '%s'", arg);
}

/* Called for keyed templates, unmatched options and positionals. */
static int opt_proc(void *data, const char *arg, int key,
                    struct fuse_args *outargs)
{
    struct parse_ctx *c = data;
    if (key == FUSE_OPT_KEY_NONOPT) {
        if (c->npos < 2)
            c->pos[c->npos++] = arg;
        else if (!c->extra)
            c->extra = arg;
        return 0;
    }
    if (key == FUSE_OPT_KEY_OPT) {
        /* fstab(5): x-* options belong to userspace tools (systemd...) */
        if (strncmp(arg, "x-", 2) == 0)
            return 0;
        return fail(c, "unknown option '%s'", arg);
    }
    const char *v = strchr(arg, '=') + 1;   /* every keyed template has = */
    char *field = string_field(&c->o, key);
    if (!field)
        return set_number(c, key, arg, v);
    if (*v == '\0')
        return fail(c, "empty value in '%s'", arg);
    if (copy_value(field, v, strlen(v)) != 0)
        return fail(c, "value of '%.*s' is too long", (int)(v - arg - 1), arg);
    return 0;
}

/* ---- after parsing ---- */

/* mount.fuse3's drop_privileges mounts itself and hands over the open
 * /dev/fuse as /dev/fd/N, which libfuse takes as the mountpoint as is. */
static int is_fuse_fd(const char *path)
{
    unsigned fd;
    int len = 0;
    return sscanf(path, "/dev/fd/%u%n", &fd, &len) == 1 &&
           (size_t)len == strlen(path);
}

static int set_mountpoint(struct parse_ctx *c, const char *path)
{
    struct stat st;
    if (is_fuse_fd(path)) {
        c->o.mountpoint = strdup(path);
        return c->o.mountpoint ? 0 : fail(c, "out of memory");
    }
    c->o.mountpoint = realpath(path, NULL);
    if (!c->o.mountpoint)
        return fail(c, "mountpoint '%s': %s", path, strerror(errno));
    if (stat(c->o.mountpoint, &st) != 0)
        return fail(c, "mountpoint '%s': %s", path, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return fail(c, "mountpoint '%s' is not a directory", path);
    return 0;
}

/* SOURCE fills what -o did not: `URL`, `USER@URL`, or a placeholder word
 * without "://" that defers to the config. */
static int apply_source(struct parse_ctx *c, const char *src)
{
    const char *scheme = strstr(src, "://");
    if (!scheme)
        return 0;
    const char *at = memchr(src, '@', (size_t)(scheme - src));
    const char *url = at ? at + 1 : src;
    if (at == src)
        return fail(c, "bad SOURCE '%s': empty user before '@'", src);
    if (at && !c->o.user[0] &&
        copy_value(c->o.user, src, (size_t)(at - src)) != 0)
        return fail(c, "bad SOURCE '%s': user name too long", src);
    if (!c->o.server[0] && copy_value(c->o.server, url, strlen(url)) != 0)
        return fail(c, "bad SOURCE '%s': URL too long", src);
    return 0;
}

static void fill_empty(char *dst, const char *src)
{
    if (!dst[0])
        strcpy(dst, src);   /* both CLIENTCONF_VALUE_MAX */
}

/* The config comes last in precedence. A missing default config is the
 * normal case before `dbxctl login`; a missing config= is a mistake. */
static int apply_config(struct parse_ctx *c)
{
    struct dbxfs_opts *o = &c->o;
    int explicit = o->config[0] != '\0';
    char dir[CLIENTCONF_VALUE_MAX - 8];
    if (!explicit) {
        if (clientconf_dir(dir, sizeof dir) != 0)
            return 0;   /* no home to look in; nothing to read */
        snprintf(o->config, sizeof o->config, "%s/config", dir);
    }
    clientconf cc;
    int rc = clientconf_load(o->config, &cc, c->err, c->errlen);
    if (rc == -ENOENT && !explicit) {
        if (c->err && c->errlen)
            c->err[0] = '\0';
        return 0;
    }
    if (rc != 0)
        return -1;
    fill_empty(o->server, cc.server);
    fill_empty(o->user, cc.user);
    fill_empty(o->ca_file, cc.ca_file);
    return 0;
}

/* http[s]://HOST... with a non-empty host; trailing slashes dropped so
 * that paths join cleanly and the cache directory name is stable. */
static int check_server(struct parse_ctx *c)
{
    char *s = c->o.server;
    size_t skip = strncmp(s, "http://", 7) == 0    ? 7
                  : strncmp(s, "https://", 8) == 0 ? 8
                                                   : 0;
    if (!skip || strchr("/:", s[skip]) || strpbrk(s, " \t\r\n"))
        return fail(c, "bad server URL '%s' (want http://HOST:PORT or "
                       "https://HOST[:PORT][/PREFIX])", s);
    size_t len = strlen(s);
    while (len > skip + 1 && s[len - 1] == '/')
        s[--len] = '\0';
    return 0;
}

static int check_account(struct parse_ctx *c)
{
    if (!c->o.server[0])
        return fail(c, "no server: give -o server=URL, a SOURCE, or run "
                       "`dbxctl login`");
    if (check_server(c) != 0)
        return -1;
    if (!c->o.user[0])
        return fail(c, "no user: give -o user=NAME, a SOURCE like USER@URL, "
                       "or run `dbxctl login`");
    return 0;
}

/* The home directory even without $HOME (systemd units run without). */
static const char *home_dir(void)
{
    const char *home = getenv("HOME");
    if (home && home[0] == '/')
        return home;
    struct passwd *pw = getpwuid(geteuid());
    return pw && pw->pw_dir && pw->pw_dir[0] == '/' ? pw->pw_dir : NULL;
}

/* A name safe as one path component: [A-Za-z0-9._-] kept, the rest '_'. */
static void append_safe(char *dst, size_t dstlen, const char *src)
{
    size_t n = strlen(dst);
    for (; *src && n + 1 < dstlen; src++)
        dst[n++] = strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                          "0123456789._-", *src) ? *src : '_';
    dst[n] = '\0';
}

/* USER@HOST_PORT: one directory per account, so two mounts of different
 * accounts or servers never share a cache. */
static int default_cache_dir(struct parse_ctx *c)
{
    struct dbxfs_opts *o = &c->o;
    char name[2 * CLIENTCONF_VALUE_MAX] = "";
    append_safe(name, sizeof name, o->user);
    strcat(name, "@");
    append_safe(name, sizeof name, strstr(o->server, "://") + 3);
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = home_dir();
    int n;
    if (geteuid() == 0)
        n = snprintf(o->cache_dir, sizeof o->cache_dir, "/var/cache/dbxfs/%s",
                     name);
    else if (xdg && xdg[0] == '/')
        n = snprintf(o->cache_dir, sizeof o->cache_dir, "%s/dbxfs/%s", xdg,
                     name);
    else if (home)
        n = snprintf(o->cache_dir, sizeof o->cache_dir, "%s/.cache/dbxfs/%s",
                     home, name);
    else
        return fail(c, "no cache directory: set HOME or give -o cache_dir=DIR");
    if (n < 0 || (size_t)n >= sizeof o->cache_dir)
        return fail(c, "cache directory name too long; give -o cache_dir=DIR");
    return 0;
}

static int default_paths(struct parse_ctx *c)
{
    struct dbxfs_opts *o = &c->o;
    if (!o->token_file[0]) {
        char dir[CLIENTCONF_VALUE_MAX - 8];
        if (clientconf_dir(dir, sizeof dir) != 0)
            return fail(c, "no config directory for the token: set HOME or "
                           "give -o token_file=PATH");
        snprintf(o->token_file, sizeof o->token_file, "%s/token", dir);
    }
    /* This device's name in the conflicted copies it makes. */
    if (!o->device[0] && gethostname(o->device, sizeof o->device - 1) != 0)
        snprintf(o->device, sizeof o->device, "dbxfs");
    return o->cache_dir[0] ? 0 : default_cache_dir(c);
}

/* Precedence, per setting: -o > SOURCE > config file > default. */
static int finish(struct parse_ctx *c)
{
    struct dbxfs_opts *o = &c->o;
    if (o->show_help || o->show_version)
        return 0;
    if (o->debug) {
        o->foreground = 1;
        o->log_level = LOG_DEBUG;
    }
    if (c->npos == 0)
        return fail(c, "missing mountpoint " USAGE_HINT);
    if (c->extra)
        return fail(c, "unexpected argument '%s' " USAGE_HINT, c->extra);
    if (set_mountpoint(c, c->pos[c->npos - 1]) != 0 ||
        (c->npos == 2 && apply_source(c, c->pos[0]) != 0) ||
        apply_config(c) != 0 || check_account(c) != 0)
        return -1;
    return default_paths(c);
}

static void set_defaults(struct dbxfs_opts *o)
{
    memset(o, 0, sizeof *o);
    o->cache_size = 10ull << 30;
    o->attr_timeout = 60;
    o->entry_timeout = 60;
    o->log_level = LOG_INFO;
    o->root_uid = -1;
    o->root_gid = -1;
}

int options_parse(int argc, char **argv, struct dbxfs_opts *o, char *err,
                  size_t errlen)
{
    struct parse_ctx *c = calloc(1, sizeof *c);   /* ~7 KiB: not the stack */
    if (!c) {
        if (err && errlen)
            snprintf(err, errlen, "out of memory");
        return -1;
    }
    c->err = err;
    c->errlen = errlen;
    if (err && errlen)
        err[0] = '\0';
    set_defaults(&c->o);
    struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
    int rc = fuse_opt_parse(&args, c, templates, opt_proc);
    if (rc)
        goto out;
    rc = finish(c);
out:
    *o = c->o;
    o->fuse_args = args;
    free(c);
    if (rc != 0) {
        /* libfuse printed its own message for e.g. a bare -o */
        if (err && errlen && !err[0])
            snprintf(err, errlen, "bad command line (see dbxfs --help)");
        options_free(o);
        return -1;
    }
    return 0;
}

void options_free(struct dbxfs_opts *o)
{
    free(o->mountpoint);
    o->mountpoint = NULL;
    fuse_opt_free_args(&o->fuse_args);
}

void options_usage(const char *prog)
{
    printf(
"usage: %s [-f] [-d] [-s] [-o OPT,...] MOUNTPOINT\n"
"       %s SOURCE MOUNTPOINT [-o OPT,...]\n"
"SOURCE is URL or USER@URL (URL = http[s]://HOST[:PORT][/PREFIX]), or a\n"
"word without \"://\" (e.g. dbxfs) meaning \"from the config\".\n"
"\n"
"dbxfs options (-o):\n"
"  server=URL            dbxd base URL (else SOURCE's, else the config's)\n"
"  user=NAME             account (else SOURCE's, else the config's)\n"
"  config=PATH           config file (default ~/.config/dbxfs/config)\n"
"  token_file=PATH       bearer token file (default: token beside the config)\n"
"  password_file=PATH    log in with the password in this 0600 file and save\n"
"                        the token to token_file\n"
"  ca_file=PATH          PEM CA bundle for https\n"
"  cache_dir=DIR         local state (default $XDG_CACHE_HOME/dbxfs/USER@HOST_PORT,\n"
"                        ~/.cache/...; for root /var/cache/dbxfs/USER@HOST_PORT)\n"
"  cache_size=SIZE       cache cap (chunks and local copies already on the\n"
"                        server): bytes or K/M/G/T (default 10G, min 64M)\n"
"  attr_timeout=SEC      kernel attribute cache lifetime (default 60)\n"
"  entry_timeout=SEC     kernel name cache lifetime (default 60)\n"
"  log_level=LEVEL       error, warn, info (default) or debug\n"
"  fsync_server          fsync() waits until the file is on the server\n"
"  device=NAME           this device's name in the conflicted copies it makes\n"
"                        (default: the host name)\n"
"  uid=N, gid=N          owner shown for the root and for shared nodes\n"
"                        (default: the mounting user)\n"
"  _netdev, nofail, noauto, auto, user, users, nouser, defaults, x-*,\n"
"  comment=*, nonempty   fstab words, accepted and ignored\n"
"\n"
"FUSE options (-o): allow_other, allow_root, auto_unmount,\n"
"  default_permissions, ro, rw, [no]suid, [no]dev, [no]exec, async, sync,\n"
"  dirsync, noatime, max_read=N, fsname=NAME, subtype=NAME, context=...\n"
"\n"
"flags:\n"
"  -f                    stay in the foreground\n"
"  -d, -o debug          debug: foreground and log_level=debug\n"
"  -s                    single-threaded\n"
"  -h, --help            this text\n"
"  -V, --version         version\n",
        prog, prog);
}
