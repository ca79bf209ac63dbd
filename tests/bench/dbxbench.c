/* dbxbench: throughput and latency figures of the client's engines against
 * a real dbxd (tests/bench/run.sh drives it), and the small commands through
 * which the API tests drive them (tests/api/test_transfer.py). Uploads go
 * through the transfer engine (common/transfer*.c), downloads through the
 * mount's (fs/sync/fetch*.c: chunk map in a metadata store, chunks verified
 * into a block cache, the file copied out of it), each download with a new
 * store and cache beside its output file. -p sets the upload's chunk
 * requests in flight; a download runs as many as the mount does (get takes
 * -p and ignores it).
 *
 *   dbxbench gen FILE MIB              random (incompressible) file
 *   dbxbench chunk MIB                 chunker + SHA-256 over memory
 *   dbxbench scan FILE [--verify] [--list] [--chunk-avg B]
 *                                      the upload's first pass over a file
 *   dbxbench tcpcopy MIB               raw loopback TCP, thread to thread
 *   dbxbench updown URL USER FILE OUT [-p N] [--pid PID] [--downloads N]
 *                                      [--zstd-off] [--node ID] [--chunk-avg B]
 *   dbxbench put URL USER NODE FILE [-p N] [--base-rev REV] [--zstd-off]
 *                                   [--chunk-avg B] [--progress]
 *   dbxbench get URL USER NODE FILE [-p N] [--progress]
 *   dbxbench longpoll URL USER [--reps N]
 *   dbxbench smallfiles URL USER [--files N] [--threads T] [--size B]
 *
 * The password comes from $DBXBENCH_PASSWORD; $DBXBENCH_CA names a CA file
 * to trust for an https:// URL (the system CAs otherwise). Figures are
 * printed as lines "RESULT key value" (MB = 10^6 bytes), progress (with
 * --progress) as "PROGRESS phase bytes_done bytes_total chunks_done
 * chunks_total" (get's only once it is done), and a scan's chunks (with
 * --list) as "CHUNK offset size hash". --chunk-avg B sets the chunker's
 * average to B (a power of two), its minimum to B/4 and its maximum to 4B. */
#include "bench.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "log.h"

double now_sec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void die(const char *what)
{
    fprintf(stderr, "dbxbench: %s\n", what);
    exit(1);
}

/* ---- fast random bytes (xoshiro256**) ------------------------------------ */

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(struct rng *r)
{
    uint64_t res = rotl(r->s[1] * 5, 7) * 9, t = r->s[1] << 17;
    r->s[2] ^= r->s[0];
    r->s[3] ^= r->s[1];
    r->s[1] ^= r->s[2];
    r->s[0] ^= r->s[3];
    r->s[2] ^= t;
    r->s[3] = rotl(r->s[3], 45);
    return res;
}

void rng_seed(struct rng *r)
{
    if (getrandom(r->s, sizeof r->s, 0) != sizeof r->s)
        die("getrandom");
}

void rng_fill(struct rng *r, void *buf, size_t len)
{
    uint64_t *p = buf, v;
    size_t i, n = len / 8;
    for (i = 0; i < n; i++)
        p[i] = rng_next(r);
    if (len % 8) {
        v = rng_next(r);
        memcpy((char *)buf + n * 8, &v, len % 8);
    }
}

void random_id(char out[17])
{
    uint64_t v;
    do {
        if (getrandom(&v, sizeof v, 0) != sizeof v)
            die("getrandom");
    } while (v == 0);
    snprintf(out, 17, "%016" PRIx64, v);
}

/* ---- options ----------------------------------------------------------------- */

/* Whether opt is one of the space-separated words of allowed. */
static int takes(const char *allowed, const char *opt)
{
    size_t n = strlen(opt);
    const char *p;
    for (p = allowed; (p = strstr(p, opt)); p += n)
        if ((p == allowed || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
            return 1;
    return 0;
}

static const char *opt_value(int argc, char **argv, int *i)
{
    if (*i + 1 >= argc) {
        fprintf(stderr, "dbxbench: %s needs a value\n", argv[*i]);
        exit(2);
    }
    return argv[++*i];
}

static long long opt_num(int argc, char **argv, int *i)
{
    const char *v = opt_value(argc, argv, i);
    char *end;
    long long n = strtoll(v, &end, 10);
    if (end == v || *end) {
        fprintf(stderr, "dbxbench: %s: not a number: %s\n", argv[*i - 1], v);
        exit(2);
    }
    return n;
}

void parse_cli(int argc, char **argv, const char *allowed,
                      struct cli *c)
{
    const char *a;
    size_t avg;
    int i;

    for (i = 0; i < argc; i++) {
        a = argv[i];
        if (!takes(allowed, a)) {
            fprintf(stderr, "dbxbench: unknown option %s (takes: %s)\n", a,
                    allowed);
            exit(2);
        }
        if (strcmp(a, "-p") == 0)
            c->o.parallel = (int)opt_num(argc, argv, &i);
        else if (strcmp(a, "--pid") == 0)
            c->pid = (int)opt_num(argc, argv, &i);
        else if (strcmp(a, "--downloads") == 0)
            c->downloads = (int)opt_num(argc, argv, &i);
        else if (strcmp(a, "--base-rev") == 0)
            c->base_rev = opt_num(argc, argv, &i);
        else if (strcmp(a, "--node") == 0)
            c->node = opt_value(argc, argv, &i);
        else if (strcmp(a, "--chunk-avg") == 0) {
            avg = (size_t)opt_num(argc, argv, &i);
            c->o.chunker = (chunker_params){ avg / 4, avg, avg * 4 };
        } else if (strcmp(a, "--zstd-off") == 0)
            c->o.compress = -1;
        else if (strcmp(a, "--progress") == 0)
            c->progress_lines = 1;
        else if (strcmp(a, "--verify") == 0)
            c->verify = 1;
        else if (strcmp(a, "--list") == 0)
            c->list = 1;
    }
}

/* ---- API helpers ---------------------------------------------------------------- */

static const char *password(void)
{
    const char *p = getenv("DBXBENCH_PASSWORD");
    if (!p)
        die("set DBXBENCH_PASSWORD");
    return p;
}

void login(struct session *s, const char *url, const char *user)
{
    cJSON *body = cJSON_CreateObject(), *reply = NULL;
    const cJSON *tok, *root;
    httpc *h;
    long st = 0;

    s->pool = httpc_pool_new(url, getenv("DBXBENCH_CA"));
    if (!s->pool)
        die("bad URL");
    h = httpc_new(s->pool);
    cJSON_AddStringToObject(body, "user", user);
    cJSON_AddStringToObject(body, "password", password());
    if (httpc_json(h, "POST", "/v1/login", body, &st, &reply) < 0) {
        fprintf(stderr, "login: %s\n", httpc_error(h));
        exit(1);
    }
    tok = cJSON_GetObjectItemCaseSensitive(reply, "token");
    root = cJSON_GetObjectItemCaseSensitive(reply, "root");
    if (st != 200 || !cJSON_IsString(tok) || !cJSON_IsString(root)) {
        fprintf(stderr, "login: HTTP %ld\n", st);
        exit(1);
    }
    httpc_pool_set_token(s->pool, tok->valuestring);
    snprintf(s->root, sizeof s->root, "%s", root->valuestring);
    cJSON_Delete(reply);
    cJSON_Delete(body);
    httpc_free(h);
}

int create_node(httpc *h, const char *id, const char *parent,
                       const char *name, const char *type)
{
    cJSON *b = cJSON_CreateObject(), *reply = NULL;
    long st = 0;
    int ret = -1;

    cJSON_AddStringToObject(b, "id", id);
    cJSON_AddStringToObject(b, "parent", parent);
    cJSON_AddStringToObject(b, "name", name);
    cJSON_AddStringToObject(b, "type", type);
    cJSON_AddNumberToObject(b, "mode", strcmp(type, "dir") ? 0644 : 0755);
    cJSON_AddNumberToObject(b, "uid", getuid());
    cJSON_AddNumberToObject(b, "gid", getgid());
    if (httpc_json(h, "POST", "/v1/nodes", b, &st, &reply) < 0)
        fprintf(stderr, "create %s: %s\n", name, httpc_error(h));
    else if (st != 201 && st != 200)
        fprintf(stderr, "create %s: HTTP %ld %s\n", name, st,
                httpc_errcode(reply) ? httpc_errcode(reply) : "");
    else
        ret = 0;
    cJSON_Delete(reply);
    cJSON_Delete(b);
    return ret;
}

int64_t json_int(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? (int64_t)v->valuedouble : -1;
}

/* ---- main ------------------------------------------------------------------------ */

static const struct {
    const char *name;
    int (*fn)(int argc, char **argv);
} commands[] = {
    { "gen", cmd_gen },         { "chunk", cmd_chunk },
    { "scan", cmd_scan },       { "tcpcopy", cmd_tcpcopy },
    { "updown", cmd_updown },   { "put", cmd_put },
    { "get", cmd_get },         { "longpoll", cmd_longpoll },
    { "smallfiles", cmd_smallfiles },
};

int main(int argc, char **argv)
{
    size_t i;
    int rc = 2;

    if (argc < 2) {
        fprintf(stderr, "usage: dbxbench gen|chunk|scan|tcpcopy|updown|put|"
                        "get|longpoll|smallfiles ARGS\n");
        return 2;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    setvbuf(stdout, NULL, _IOLBF, 0);
    /* The mount's engine logs what it gets over (a damaged chunk fetched
     * again); here a command's own message is what stderr must hold. */
    log_set_level(LOG_ERROR);
    for (i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            break;
    if (i < sizeof commands / sizeof commands[0])
        rc = commands[i].fn(argc - 2, argv + 2);
    else
        fprintf(stderr, "dbxbench: unknown command %s\n", argv[1]);
    curl_global_cleanup();
    return rc;
}
