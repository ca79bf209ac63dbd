#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

enum opt_kind { OPT_STR, OPT_UINT, OPT_LONG, OPT_ULONG, OPT_FLAG, OPT_LEVEL };

struct option_def {
    const char *name;
    enum opt_kind kind;
    size_t offset;
    size_t size;   /* strings: buffer size */
    const char *help;
};

#define STR(field, help) {#field, OPT_STR, offsetof(struct dbxd_config, field), \
                          sizeof(((struct dbxd_config *)0)->field), help}
#define NUM(kind, field, help) {#field, kind, offsetof(struct dbxd_config, field), 0, help}

static const struct option_def options[] = {
    STR(data_dir, "DIR: where dbxd keeps everything (default /var/lib/dbxd)"),
    STR(config_file, "FILE: read settings from FILE first"),
    STR(listen, "ADDR: address to listen on (default 127.0.0.1)"),
    NUM(OPT_UINT, port, "PORT: TCP port (default 8420; 0 picks a free one)"),
    STR(tls_cert, "FILE: PEM certificate chain; turns on HTTPS"),
    STR(tls_key, "FILE: PEM private key for --tls-cert"),
    STR(public_url, "URL: base URL clients reach dbxd at, for absolute signed URLs"),
    STR(ready_file, "FILE: write the base URL here once accepting connections"),
    NUM(OPT_FLAG, insecure_bind, ": allow a non-loopback address without TLS"),
    NUM(OPT_UINT, max_connections, "N: simultaneous connections (default 1024)"),
    NUM(OPT_UINT, max_header, "BYTES: request header limit (default 32768)"),
    NUM(OPT_UINT, login_attempts, "N: failed logins allowed per client address and minute (default 20)"),
    NUM(OPT_LONG, token_ttl, "SECONDS: login token lifetime (default 30 days)"),
    NUM(OPT_LONG, url_ttl, "SECONDS: signed chunk URL lifetime (default 3600)"),
    NUM(OPT_LONG, upload_ttl, "SECONDS: upload session lifetime (default 86400)"),
    NUM(OPT_LONG, gc_grace, "SECONDS: keep unreferenced chunks this long (default 3600)"),
    NUM(OPT_LONG, gc_interval, "SECONDS: garbage collection period (default 600)"),
    NUM(OPT_ULONG, map_size_mb, "MiB: metadata map size limit (default 65536)"),
    NUM(OPT_LEVEL, log_level, "LEVEL: error, warn, info (default) or debug"),
};

#define NOPTIONS (sizeof options / sizeof options[0])

void config_defaults(struct dbxd_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    strcpy(cfg->data_dir, "/var/lib/dbxd");
    strcpy(cfg->listen, "127.0.0.1");
    cfg->port = 8420;
    cfg->max_connections = 1024;
    cfg->max_header = 32768;
    cfg->login_attempts = 20;
    cfg->token_ttl = 30L * 24 * 3600;
    cfg->url_ttl = 3600;
    cfg->upload_ttl = 24 * 3600;
    cfg->gc_grace = 3600;
    cfg->gc_interval = 600;
    cfg->map_size_mb = 65536;
    cfg->log_level = LOG_INFO;
}

/* "url-ttl" and "url_ttl" both name the field url_ttl. */
static const struct option_def *find_option(const char *name, size_t len)
{
    for (size_t i = 0; i < NOPTIONS; i++) {
        const char *o = options[i].name;
        size_t j = 0;
        for (; j < len && o[j]; j++)
            if (!(name[j] == o[j] || (name[j] == '-' && o[j] == '_')))
                break;
        if (j == len && o[j] == '\0')
            return &options[i];
    }
    return NULL;
}

static int parse_number(const char *v, long long min, long long max, long long *out)
{
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (errno || end == v || *end || n < min || n > max)
        return -1;
    *out = n;
    return 0;
}

static int set_option(struct dbxd_config *cfg, const struct option_def *o, const char *v)
{
    char *field = (char *)cfg + o->offset;
    long long n;
    switch (o->kind) {
    case OPT_STR:
        if (strlen(v) >= o->size)
            return -1;
        strcpy(field, v);
        return 0;
    case OPT_FLAG:
        /* bare (`--insecure-bind`, a line without `=`) or an explicit word */
        if (!*v || !strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "on") || !strcmp(v, "1"))
            *(int *)field = 1;
        else if (!strcmp(v, "no") || !strcmp(v, "false") || !strcmp(v, "off") || !strcmp(v, "0"))
            *(int *)field = 0;
        else
            return -1;
        return 0;
    case OPT_LEVEL:
        return (*(int *)field = log_level_parse(v)) < 0 ? -1 : 0;
    case OPT_UINT:
        if (parse_number(v, 0, 65535 * 16, &n))
            return -1;
        *(unsigned *)field = (unsigned)n;
        return 0;
    case OPT_LONG:
        if (parse_number(v, 0, 10L * 365 * 24 * 3600, &n))
            return -1;
        *(long *)field = (long)n;
        return 0;
    case OPT_ULONG:
        if (parse_number(v, 16, 1LL << 30, &n))
            return -1;
        *(unsigned long *)field = (unsigned long)n;
        return 0;
    }
    return -1;
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    char *e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
        *--e = '\0';
    return s;
}

static int parse_file_line(struct dbxd_config *cfg, const char *path, int lineno, char *line)
{
    char *s = trim(line), *eq;
    if (*s == '\0' || *s == '#')
        return 0;
    const struct option_def *o = NULL;
    if ((eq = strchr(s, '=')) != NULL) {
        *eq = '\0';
        char *key = trim(s);
        o = find_option(key, strlen(key));
    } else {
        o = find_option(s, strlen(s));
    }
    const char *value = eq ? trim(eq + 1) : "";
    if (!o || (o->kind != OPT_FLAG && !eq) || set_option(cfg, o, value) != 0) {
        fprintf(stderr, "dbxd: %s:%d: bad setting\n", path, lineno);
        return -1;
    }
    return 0;
}

static int parse_file(struct dbxd_config *cfg, const char *path)
{
    char line[4096];
    int lineno = 0, rc = 0;
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "dbxd: cannot read config %s: %s\n", path, strerror(errno));
        return -1;
    }
    while (rc == 0 && fgets(line, sizeof line, f))
        rc = parse_file_line(cfg, path, ++lineno, line);
    fclose(f);
    return rc;
}

/* Finds --config (or --config-file, -c) first, so the command line can
 * override the file. */
static const char *find_config_arg(int argc, char **argv, int first)
{
    static const char *const names[] = {"--config", "--config-file", "--config_file"};

    for (int i = first; i < argc; i++) {
        for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
            size_t len = strlen(names[k]);
            if (strncmp(argv[i], names[k], len) == 0 && argv[i][len] == '=')
                return argv[i] + len + 1;
            if (strcmp(argv[i], names[k]) == 0 && i + 1 < argc)
                return argv[i + 1];
        }
        if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
            return argv[i + 1];
    }
    return NULL;
}

static const char *short_option(char c)
{
    switch (c) {
    case 'd': return "data-dir";
    case 'c': return "config-file";
    case 'l': return "listen";
    case 'p': return "port";
    default: return NULL;
    }
}

int config_parse(struct dbxd_config *cfg, int argc, char **argv, int first)
{
    const char *file = find_config_arg(argc, argv, first);
    if (file && parse_file(cfg, file) != 0)
        return -1;
    const char *arg = NULL;
    for (int i = first; i < argc; i++) {
        const char *name, *value = NULL;
        arg = argv[i];
        if (arg[0] == '-' && arg[1] && !arg[2] && short_option(arg[1]))
            name = short_option(arg[1]);
        else if (strncmp(arg, "--", 2) == 0)
            name = arg + 2;
        else
            goto bad;
        const char *eq = strchr(name, '=');
        size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
        if (nlen == 6 && strncmp(name, "config", 6) == 0)
            nlen = 11, name = "config-file";
        if (nlen == 4 && strncmp(name, "data", 4) == 0)
            nlen = 8, name = "data-dir";
        const struct option_def *o = find_option(name, nlen);
        if (!o)
            goto bad;
        if (o->kind != OPT_FLAG)
            value = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
        else if (eq)
            value = eq + 1;
        if ((o->kind != OPT_FLAG && !value) || set_option(cfg, o, value ? value : "") != 0) {
            fprintf(stderr, "dbxd: bad value for --%s\n", o->name);
            return -1;
        }
    }
    return 0;
bad:
    fprintf(stderr, "dbxd: unknown option '%s' (see dbxd --help)\n", arg);
    return -1;
}

static int is_loopback(const char *addr)
{
    return strncmp(addr, "127.", 4) == 0 || strcmp(addr, "::1") == 0 || strcmp(addr, "localhost") == 0;
}

int config_check(const struct dbxd_config *cfg)
{
    if (cfg->token_ttl <= 0 || cfg->url_ttl <= 0 || cfg->upload_ttl <= 0 || cfg->gc_interval <= 0 ||
        cfg->login_attempts == 0) {
        fprintf(stderr, "dbxd: --token-ttl, --url-ttl, --upload-ttl, --gc-interval and "
                        "--login-attempts must be positive\n");
        return -1;
    }
    if (cfg->port > 65535) {
        fprintf(stderr, "dbxd: --port %u is not a TCP port (0 to 65535)\n", cfg->port);
        return -1;
    }
    if (!!cfg->tls_cert[0] != !!cfg->tls_key[0]) {
        fprintf(stderr, "dbxd: --tls-cert and --tls-key go together\n");
        return -1;
    }
    if (!is_loopback(cfg->listen) && !cfg->tls_cert[0] && !cfg->insecure_bind) {
        fprintf(stderr, "dbxd: refusing to listen on %s without TLS: give --tls-cert/--tls-key, "
                        "or --insecure-bind if something in front of dbxd encrypts\n", cfg->listen);
        return -1;
    }
    return 0;
}

void config_usage(FILE *out)
{
    fprintf(out, "options (also as `name = value` lines in a --config file):\n");
    for (size_t i = 0; i < NOPTIONS; i++) {
        char name[64];
        size_t j = 0;
        for (; options[i].name[j] && j < sizeof name - 1; j++)
            name[j] = options[i].name[j] == '_' ? '-' : options[i].name[j];
        name[j] = '\0';
        const char *help = options[i].help;
        const char *colon = strchr(help, ':');
        fprintf(out, "  --%s %.*s\n      %s\n", name, (int)(colon - help), help, colon + 2);
    }
}
