/* dbxbench: throughput and latency figures of the client engine against a
 * real dbxd (tests/bench/run.sh drives it). Not a test.
 *
 *   dbxbench gen FILE MIB              random (incompressible) file
 *   dbxbench chunk MIB                 chunker + SHA-256 over memory
 *   dbxbench scan FILE                 the upload's first pass over a file
 *   dbxbench tcpcopy MIB               raw loopback TCP, thread to thread
 *   dbxbench updown URL USER FILE OUT [-p N] [--pid PID] [--multi]
 *   dbxbench longpoll URL USER [--reps N]
 *   dbxbench smallfiles URL USER [--files N] [--threads T] [--size B]
 *
 * The password comes from $DBXBENCH_PASSWORD. Figures are printed as lines
 * "RESULT key value" (MB = 10^6 bytes) for run.sh, plus human text. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <cjson/cJSON.h>

#include "chunker.h"
#include "hash.h"
#include "httpc.h"
#include "transfer.h"

#define MB 1e6
#define MIB ((size_t)1 << 20)

static double now_sec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
    fprintf(stderr, "dbxbench: %s\n", what);
    exit(1);
}

/* ---- fast random bytes (xoshiro256**) ------------------------------------ */

struct rng {
    uint64_t s[4];
};

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

static void rng_seed(struct rng *r)
{
    if (getrandom(r->s, sizeof r->s, 0) != sizeof r->s)
        die("getrandom");
}

static void rng_fill(struct rng *r, void *buf, size_t len)
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

static void random_id(char out[17])
{
    uint64_t v;
    do {
        if (getrandom(&v, sizeof v, 0) != sizeof v)
            die("getrandom");
    } while (v == 0);
    snprintf(out, 17, "%016" PRIx64, v);
}

/* ---- gen / chunk / scan ------------------------------------------------------ */

static int cmd_gen(int argc, char **argv)
{
    struct rng r;
    size_t piece = 8 * MIB, mib, done;
    char *buf;
    int fd;

    if (argc < 2)
        die("usage: gen FILE MIB");
    mib = strtoull(argv[1], NULL, 10);
    fd = open(argv[0], O_WRONLY | O_CREAT | O_TRUNC, 0644);
    buf = malloc(piece);
    if (fd < 0 || !buf)
        die("gen: cannot open the file");
    rng_seed(&r);
    for (done = 0; done < mib * MIB; done += piece) {
        rng_fill(&r, buf, piece);
        if (write(fd, buf, piece) != (ssize_t)piece)
            die("gen: write");
    }
    close(fd);
    free(buf);
    return 0;
}

static int cmd_chunk(int argc, char **argv)
{
    size_t len = (argc > 0 ? strtoull(argv[0], NULL, 10) : 1024) * MIB;
    uint8_t *buf = malloc(len), digest[HASH_LEN];
    chunker *c = chunker_new(NULL);
    hash_ctx *hc = hash_new();
    struct rng r;
    size_t used, k, nchunks = 0;
    int boundary;
    double t0, t_sha, t_cdc, t_both;

    if (!buf || !c || !hc)
        die("chunk: no memory");
    rng_seed(&r);
    rng_fill(&r, buf, len);
    /* SHA-256 alone (1 MiB updates, like openssl speed -bytes 1048576). */
    t0 = now_sec();
    for (used = 0; used < len; used += MIB)
        hash_update(hc, buf + used, MIB);
    hash_final(hc, digest);
    hash_reset(hc);
    t_sha = now_sec() - t0;
    /* chunker alone */
    t0 = now_sec();
    for (used = 0; used < len; used += k)
        k = chunker_feed(c, buf + used, len - used, &boundary);
    t_cdc = now_sec() - t0;
    chunker_reset(c);
    /* both, as the upload's scan does them */
    t0 = now_sec();
    for (used = 0; used < len; used += k) {
        k = chunker_feed(c, buf + used, len - used, &boundary);
        hash_update(hc, buf + used, k);
        if (boundary) {
            hash_final(hc, digest);
            hash_reset(hc);
            nchunks++;
        }
    }
    hash_final(hc, digest);
    nchunks++;
    t_both = now_sec() - t0;
    printf("memory %zu MiB: sha256 %.0f MB/s, chunker %.0f MB/s, "
           "chunker+sha256 %.0f MB/s (%zu chunks, avg %.2f MiB)\n",
           len / MIB, len / t_sha / MB, len / t_cdc / MB, len / t_both / MB,
           nchunks, (double)len / nchunks / MIB);
    printf("RESULT sha256_mem_MBps %.0f\n", len / t_sha / MB);
    printf("RESULT chunker_mem_MBps %.0f\n", len / t_cdc / MB);
    printf("RESULT chunk_sha_mem_MBps %.0f\n", len / t_both / MB);
    hash_free(hc);
    chunker_free(c);
    free(buf);
    return 0;
}

/* Recomputes the chunk list the plain way and compares. */
static void verify_scan(int fd, const transfer_chunk *chunks, size_t n,
                        uint64_t size)
{
    chunker *c = chunker_new(NULL);
    hash_ctx *hc = hash_new();
    size_t blen = 3 * MIB + 17, used, k, i = 0;  /* odd pieces on purpose */
    uint8_t *buf = malloc(blen), d[HASH_LEN];
    uint64_t pos = 0, start = 0;
    ssize_t got;
    int boundary, bad = 0;

    if (!c || !hc || !buf)
        die("verify: no memory");
    while ((got = pread(fd, buf, blen, (off_t)pos)) > 0) {
        for (used = 0; used < (size_t)got; used += k) {
            k = chunker_feed(c, buf + used, (size_t)got - used, &boundary);
            hash_update(hc, buf + used, k);
            if (!boundary)
                continue;
            hash_final(hc, d);
            hash_reset(hc);
            if (i >= n || chunks[i].offset != start ||
                chunks[i].size != pos + used + k - start ||
                memcmp(chunks[i].hash, d, HASH_LEN) != 0)
                bad = 1;
            i++;
            start = pos + used + k;
        }
        pos += (uint64_t)got;
    }
    if (pos > start) {
        hash_final(hc, d);
        if (i >= n || chunks[i].offset != start || chunks[i].size != pos - start ||
            memcmp(chunks[i].hash, d, HASH_LEN) != 0)
            bad = 1;
        i++;
    }
    if (bad || i != n || pos != size)
        die("verify: the scan differs from the plain computation");
    printf("verify: %zu chunks identical to the plain computation\n", n);
    free(buf);
    hash_free(hc);
    chunker_free(c);
}

static int cmd_scan(int argc, char **argv)
{
    transfer_chunk *chunks = NULL;
    size_t n = 0;
    uint64_t size = 0;
    double t0, dt;
    int fd;

    if (argc < 1)
        die("usage: scan FILE");
    fd = open(argv[0], O_RDONLY);
    if (fd < 0)
        die("scan: open");
    t0 = now_sec();
    if (transfer_scan_fd(fd, NULL, &chunks, &n, &size, NULL, NULL) < 0)
        die("scan failed");
    dt = now_sec() - t0;
    printf("scan of %s: %" PRIu64 " bytes, %zu chunks in %.3f s = %.0f MB/s\n",
           argv[0], size, n, dt, size / dt / MB);
    printf("RESULT scan_file_MBps %.0f\n", size / dt / MB);
    if (argc > 1 && strcmp(argv[1], "--verify") == 0)
        verify_scan(fd, chunks, n, size);
    free(chunks);
    close(fd);
    return 0;
}

/* ---- raw loopback TCP --------------------------------------------------------- */

struct tcp_send {
    int port;
    size_t len;
};

static void *tcp_sender(void *arg)
{
    struct tcp_send *s = arg;
    struct sockaddr_in a = { .sin_family = AF_INET };
    size_t buflen = 2 * MIB, done = 0, k;
    char *buf = calloc(1, buflen);
    ssize_t n;
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

    a.sin_port = htons((uint16_t)s->port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (!buf || connect(fd, (struct sockaddr *)&a, sizeof a) < 0)
        die("tcpcopy: connect");
    while (done < s->len) {
        k = s->len - done < buflen ? s->len - done : buflen;
        n = write(fd, buf, k);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            die("tcpcopy: write");
        done += (size_t)n;
    }
    close(fd);
    free(buf);
    return NULL;
}

static int cmd_tcpcopy(int argc, char **argv)
{
    struct tcp_send s = { .len = (argc > 0 ? strtoull(argv[0], NULL, 10)
                                           : 1024) * MIB };
    struct sockaddr_in a = { .sin_family = AF_INET };
    socklen_t alen = sizeof a;
    size_t buflen = 512 * 1024, got = 0;
    char *buf = malloc(buflen);
    pthread_t tid;
    ssize_t n;
    double t0, dt;
    int lfd = socket(AF_INET, SOCK_STREAM, 0), fd;

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (!buf || bind(lfd, (struct sockaddr *)&a, sizeof a) < 0 ||
        listen(lfd, 1) < 0 || getsockname(lfd, (struct sockaddr *)&a, &alen) < 0)
        die("tcpcopy: listen");
    s.port = ntohs(a.sin_port);
    t0 = now_sec();
    pthread_create(&tid, NULL, tcp_sender, &s);
    fd = accept(lfd, NULL, NULL);
    if (fd < 0)
        die("tcpcopy: accept");
    while ((n = read(fd, buf, buflen)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            die("tcpcopy: read");
        got += (size_t)n;
    }
    dt = now_sec() - t0;
    pthread_join(tid, NULL);
    if (got != s.len)
        die("tcpcopy: short");
    printf("raw loopback TCP: %zu MiB in %.3f s = %.0f MB/s\n", got / MIB, dt,
           got / dt / MB);
    printf("RESULT tcpcopy_MBps %.0f\n", got / dt / MB);
    close(fd);
    close(lfd);
    free(buf);
    return 0;
}

/* ---- API helpers ---------------------------------------------------------------- */

struct session {
    httpc_pool *pool;
    char root[17];
};

static const char *password(void)
{
    const char *p = getenv("DBXBENCH_PASSWORD");
    if (!p)
        die("set DBXBENCH_PASSWORD");
    return p;
}

static void login(struct session *s, const char *url, const char *user)
{
    cJSON *body = cJSON_CreateObject(), *reply = NULL;
    const cJSON *tok, *root;
    httpc *h;
    long st = 0;

    s->pool = httpc_pool_new(url, NULL);
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

/* POST /v1/nodes; returns 0 or -1 (message on stderr). */
static int create_node(httpc *h, const char *id, const char *parent,
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

static int64_t json_int(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? (int64_t)v->valuedouble : -1;
}

/* ---- updown ---------------------------------------------------------------------- */

static double proc_cpu(int pid)
{
    char path[64], buf[1024], *p;
    unsigned long ut = 0, stt = 0;
    FILE *f;
    int i;

    if (pid <= 0)
        return 0;
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    f = fopen(path, "r");
    if (!f)
        return 0;
    if (!fgets(buf, sizeof buf, f)) {
        fclose(f);
        return 0;
    }
    fclose(f);
    p = strrchr(buf, ')');
    if (!p)
        return 0;
    for (i = 0; i < 12 && p; i++)           /* fields 3..14: utime is 14 */
        p = strchr(p + 1, ' ');
    if (!p || sscanf(p + 1, "%lu %lu", &ut, &stt) != 2)
        return 0;
    return (double)(ut + stt) / (double)sysconf(_SC_CLK_TCK);
}

static double self_cpu(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
           ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static long proc_kib(int pid, const char *field)
{
    char path[64], line[256];
    size_t fl = strlen(field);
    long v = -1;
    FILE *f;

    snprintf(path, sizeof path, "/proc/%d/status", pid);
    f = fopen(path, "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, field, fl) == 0 && line[fl] == ':')
            v = strtol(line + fl + 1, NULL, 10);
    fclose(f);
    return v;
}

struct progress_state {
    int tty;
    enum transfer_phase last_phase;
    unsigned calls;
};

static void on_progress(void *arg, const transfer_progress *p)
{
    struct progress_state *ps = arg;
    static const char *names[] = { "", "scan", "send", "commit", "receive",
                                   "done" };
    ps->calls++;
    if (!ps->tty)
        return;
    fprintf(stderr, "\r  %-8s %6.1f%%  %" PRIu64 "/%" PRIu64 " chunks   ",
            names[p->phase],
            p->bytes_total ? 100.0 * p->bytes_done / p->bytes_total : 100.0,
            p->chunks_done, p->chunks_total);
    if (p->phase == TRANSFER_DONE)
        fputc('\n', stderr);
}

static void print_xfer(const char *what, const char *key,
                       const transfer_result *r, double cli, double srv)
{
    printf("%s: %" PRIu64 " bytes, %" PRIu64 " chunks (%" PRIu64
           " sent, %" PRIu64 " wire bytes, %" PRIu64 " retries): "
           "%.3f s = %.0f MB/s [first pass/listing %.3f s, chunks %.3f s, "
           "commit %.3f s; cpu client %.2f s, dbxd %.2f s]\n",
           what, r->size, r->chunks, r->chunks_sent, r->wire_bytes,
           r->retries, r->total_sec, r->size / r->total_sec / MB, r->scan_sec,
           r->send_sec, r->commit_sec, cli, srv);
    printf("RESULT %s_MBps %.0f\n", key, r->size / r->total_sec / MB);
}

static int cmd_updown(int argc, char **argv)
{
    struct session s;
    struct progress_state ps = { .tty = isatty(2) };
    transfer_opts o = { .progress = on_progress, .progress_arg = &ps };
    transfer_result r;
    transfer *t;
    httpc *h;
    char id[17], name[64];
    int i, pid = 0, in, out, downloads = 1, k;
    int64_t rev;
    double c0, s0;

    if (argc < 4)
        die("usage: updown URL USER FILE OUT [-p N] [--pid PID] [--zstd-off] "
            "[--multi] [--downloads N] [--parallel-writes]");
    for (i = 4; i < argc; i++) {
        if (strcmp(argv[i], "-p") == 0 && i + 1 < argc)
            o.parallel = atoi(argv[++i]);
        else if (strcmp(argv[i], "--downloads") == 0 && i + 1 < argc)
            downloads = atoi(argv[++i]);
        else if (strcmp(argv[i], "--pid") == 0 && i + 1 < argc)
            pid = atoi(argv[++i]);
        else if (strcmp(argv[i], "--zstd-off") == 0)
            o.compress = -1;
        else if (strcmp(argv[i], "--parallel-writes") == 0)
            o.parallel_writes = 1;
        else if (strcmp(argv[i], "--multi") == 0)
            o.engine = TRANSFER_ENGINE_MULTI;
    }
    login(&s, argv[0], argv[1]);
    h = httpc_new(s.pool);
    t = transfer_new(s.pool, &o);
    in = open(argv[2], O_RDONLY);
    out = open(argv[3], O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (!h || !t || in < 0 || out < 0)
        die("updown: setup");
    random_id(id);
    snprintf(name, sizeof name, "big-%s.bin", id);
    if (create_node(h, id, s.root, name, "file") < 0)
        return 1;

    c0 = self_cpu();
    s0 = proc_cpu(pid);
    if (transfer_upload_fd(t, in, id, 0, NULL, &r) < 0) {
        fprintf(stderr, "upload: %s (%ld %s)\n", r.message, r.status, r.error);
        return 1;
    }
    print_xfer("upload", "upload", &r, self_cpu() - c0, proc_cpu(pid) - s0);
    rev = json_int(r.node, "content_rev");
    transfer_result_free(&r);
    if (pid > 0) {
        printf("dbxd after the upload: VmHWM %ld KiB, VmRSS %ld KiB\n",
               proc_kib(pid, "VmHWM"), proc_kib(pid, "VmRSS"));
        printf("RESULT dbxd_hwm_after_upload_KiB %ld\n", proc_kib(pid, "VmHWM"));
    }

    for (k = 0; k < downloads; k++) {
        if (k > 0) {           /* a new file each time: fresh page cache */
            close(out);
            unlink(argv[3]);
            out = open(argv[3], O_RDWR | O_CREAT | O_TRUNC, 0644);
            if (out < 0)
                die("updown: reopen");
        }
        c0 = self_cpu();
        s0 = proc_cpu(pid);
        if (transfer_download_fd(t, id, out, &r) < 0) {
            fprintf(stderr, "download: %s (%ld %s)\n", r.message, r.status,
                    r.error);
            return 1;
        }
        print_xfer("download", "download", &r, self_cpu() - c0,
                   proc_cpu(pid) - s0);
        transfer_result_free(&r);
    }

    /* The same content again: the server has every chunk (dedup). */
    c0 = self_cpu();
    s0 = proc_cpu(pid);
    if (transfer_upload_fd(t, in, id, rev, NULL, &r) < 0) {
        fprintf(stderr, "re-upload: %s (%ld %s)\n", r.message, r.status, r.error);
        return 1;
    }
    print_xfer("re-upload, all chunks present", "reupload", &r,
               self_cpu() - c0, proc_cpu(pid) - s0);
    transfer_result_free(&r);
    if (pid > 0) {
        printf("dbxd at the end: VmHWM %ld KiB\n", proc_kib(pid, "VmHWM"));
        printf("RESULT dbxd_hwm_end_KiB %ld\n", proc_kib(pid, "VmHWM"));
    }
    if (ps.calls == 0)
        die("no progress callback was made");
    close(in);
    close(out);
    transfer_free(t);
    httpc_free(h);
    httpc_pool_free(s.pool);
    return 0;
}

/* ---- long-poll wake latency ------------------------------------------------------ */

struct lp {
    httpc_pool *pool;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int reps;
    int polling;       /* the poller is about to send or has sent its request */
    int returned;      /* the poller got an event */
    double t_ret;
    int64_t cursor;
    int err;
};

static void *lp_poller(void *arg)
{
    struct lp *l = arg;
    httpc *h = httpc_new(l->pool);
    cJSON *reply = NULL;
    char path[96];
    long st = 0;
    int i, nchanges;
    double t;

    httpc_set_timeout(h, 40000);
    for (i = 0; i < l->reps;) {
        snprintf(path, sizeof path, "/v1/changes?cursor=%" PRId64 "&wait=30",
                 l->cursor);
        pthread_mutex_lock(&l->mu);
        l->polling = 1;
        pthread_cond_broadcast(&l->cv);
        pthread_mutex_unlock(&l->mu);
        if (httpc_json(h, "GET", path, NULL, &st, &reply) < 0 || st != 200) {
            fprintf(stderr, "poll: %s HTTP %ld\n", httpc_error(h), st);
            pthread_mutex_lock(&l->mu);
            l->err = 1;
            l->returned = 1;
            pthread_cond_broadcast(&l->cv);
            pthread_mutex_unlock(&l->mu);
            break;
        }
        t = now_sec();
        nchanges = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(reply,
                                                                       "changes"));
        if (json_int(reply, "cursor") >= 0)
            l->cursor = json_int(reply, "cursor");
        cJSON_Delete(reply);
        reply = NULL;
        if (nchanges == 0)
            continue;          /* the wait ran out: poll again */
        pthread_mutex_lock(&l->mu);
        l->polling = 0;
        l->returned = 1;
        l->t_ret = t;
        pthread_cond_broadcast(&l->cv);
        while (l->returned)
            pthread_cond_wait(&l->cv, &l->mu);
        pthread_mutex_unlock(&l->mu);
        i++;
    }
    httpc_free(h);
    return NULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(const double *v, int n, double p)
{
    int i = (int)(p * (n - 1) + 0.5);
    return v[i < n ? i : n - 1];
}

static int cmd_longpoll(int argc, char **argv)
{
    struct session s;
    struct lp l = { .reps = 200 };
    pthread_t tid;
    httpc *h;
    cJSON *reply = NULL, *b;
    char id[17], path[64];
    double *d_ans, *d_send, t0, t1;
    long st = 0;
    int i;

    if (argc < 2)
        die("usage: longpoll URL USER [--reps N]");
    for (i = 2; i < argc; i++)
        if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc)
            l.reps = atoi(argv[++i]);
    login(&s, argv[0], argv[1]);
    l.pool = s.pool;
    pthread_mutex_init(&l.mu, NULL);
    pthread_cond_init(&l.cv, NULL);
    d_ans = calloc(l.reps, sizeof *d_ans);
    d_send = calloc(l.reps, sizeof *d_send);
    h = httpc_new(s.pool);
    random_id(id);
    if (create_node(h, id, s.root, "longpoll-target", "file") < 0)
        return 1;
    if (httpc_json(h, "GET", "/v1/changes?cursor=latest", NULL, &st, &reply) < 0
        || st != 200)
        die("changes?cursor=latest failed");
    l.cursor = json_int(reply, "cursor");
    cJSON_Delete(reply);
    pthread_create(&tid, NULL, lp_poller, &l);
    snprintf(path, sizeof path, "/v1/nodes/%s", id);
    for (i = 0; i < l.reps; i++) {
        pthread_mutex_lock(&l.mu);
        while (!l.polling && !l.err)
            pthread_cond_wait(&l.cv, &l.mu);
        pthread_mutex_unlock(&l.mu);
        if (l.err)
            break;
        usleep(20000);             /* the poll reaches the server and waits */
        b = cJSON_CreateObject();
        cJSON_AddNumberToObject(b, "mtime", 1700000000 + i);
        cJSON_AddNumberToObject(b, "mtime_nsec", 0);
        t0 = now_sec();
        if (httpc_json(h, "PATCH", path, b, &st, &reply) < 0 || st != 200) {
            fprintf(stderr, "PATCH: %s HTTP %ld\n", httpc_error(h), st);
            exit(1);
        }
        t1 = now_sec();
        cJSON_Delete(reply);
        cJSON_Delete(b);
        pthread_mutex_lock(&l.mu);
        while (!l.returned)
            pthread_cond_wait(&l.cv, &l.mu);
        d_ans[i] = (l.t_ret - t1) * 1e3;
        d_send[i] = (l.t_ret - t0) * 1e3;
        l.returned = 0;
        pthread_cond_broadcast(&l.cv);
        pthread_mutex_unlock(&l.mu);
    }
    pthread_join(tid, NULL);
    if (l.err)
        die("long-poll failed");
    qsort(d_ans, l.reps, sizeof *d_ans, cmp_double);
    qsort(d_send, l.reps, sizeof *d_send, cmp_double);
    printf("long-poll wake, %d changes: commit answer -> poll return: "
           "p50 %.3f ms, p99 %.3f ms, max %.3f ms; "
           "commit sent -> poll return: p50 %.3f ms, p99 %.3f ms, max %.3f ms\n",
           l.reps, pct(d_ans, l.reps, .5), pct(d_ans, l.reps, .99),
           d_ans[l.reps - 1], pct(d_send, l.reps, .5), pct(d_send, l.reps, .99),
           d_send[l.reps - 1]);
    printf("RESULT longpoll_p50_ms %.3f\n", pct(d_ans, l.reps, .5));
    printf("RESULT longpoll_p99_ms %.3f\n", pct(d_ans, l.reps, .99));
    printf("RESULT longpoll_send_p99_ms %.3f\n", pct(d_send, l.reps, .99));
    httpc_free(h);
    httpc_pool_free(s.pool);
    free(d_ans);
    free(d_send);
    return 0;
}

/* ---- small files ------------------------------------------------------------------ */

struct sf {
    struct session *s;
    char dir[17];
    int files, threads, size, index;
    int done, failed;
    pthread_mutex_t mu;
};

static void *sf_worker(void *arg)
{
    struct sf *f = arg;
    transfer_opts o = { .parallel = 1 };
    httpc *h = httpc_new(f->s->pool);
    transfer *t = transfer_new(f->s->pool, &o);
    transfer_result r;
    struct rng rg;
    char id[17], name[64], *buf = malloc(f->size + 1);
    int fd = memfd_create("dbxbench", 0), me;

    rng_seed(&rg);
    pthread_mutex_lock(&f->mu);
    me = f->index++;
    pthread_mutex_unlock(&f->mu);
    if (!h || !t || !buf || fd < 0)
        die("smallfiles: setup");
    for (;;) {
        pthread_mutex_lock(&f->mu);
        if (f->done + f->failed >= f->files) {
            pthread_mutex_unlock(&f->mu);
            break;
        }
        f->done++;                     /* claimed; failures move it below */
        pthread_mutex_unlock(&f->mu);
        memset(&r, 0, sizeof r);
        random_id(id);
        snprintf(name, sizeof name, "f-%d-%s", me, id);
        rng_fill(&rg, buf, f->size);
        if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, f->size, 0) != f->size)
            die("smallfiles: memfd");
        if (create_node(h, id, f->dir, name, "file") < 0 ||
            transfer_upload_fd(t, fd, id, 0, NULL, &r) < 0) {
            if (r.message[0])
                fprintf(stderr, "upload: %s\n", r.message);
            pthread_mutex_lock(&f->mu);
            f->done--;
            f->failed++;
            pthread_mutex_unlock(&f->mu);
            transfer_result_free(&r);
            continue;
        }
        transfer_result_free(&r);
    }
    close(fd);
    free(buf);
    transfer_free(t);
    httpc_free(h);
    return NULL;
}

static int cmd_smallfiles(int argc, char **argv)
{
    struct session s;
    struct sf f = { .s = &s, .files = 2000, .threads = 8, .size = 4096 };
    pthread_t tid[64];
    httpc *h;
    double t0, dt;
    int i;

    if (argc < 2)
        die("usage: smallfiles URL USER [--files N] [--threads T] [--size B]");
    for (i = 2; i + 1 < argc; i++) {
        if (strcmp(argv[i], "--files") == 0)
            f.files = atoi(argv[++i]);
        else if (strcmp(argv[i], "--threads") == 0)
            f.threads = atoi(argv[++i]);
        else if (strcmp(argv[i], "--size") == 0)
            f.size = atoi(argv[++i]);
    }
    if (f.threads < 1 || f.threads > 64 || f.size < 1)
        die("smallfiles: bad arguments");
    login(&s, argv[0], argv[1]);
    pthread_mutex_init(&f.mu, NULL);
    h = httpc_new(s.pool);
    random_id(f.dir);
    if (create_node(h, f.dir, s.root, "small-files", "dir") < 0)
        return 1;
    t0 = now_sec();
    for (i = 0; i < f.threads; i++)
        pthread_create(&tid[i], NULL, sf_worker, &f);
    for (i = 0; i < f.threads; i++)
        pthread_join(tid[i], NULL);
    dt = now_sec() - t0;
    printf("small files: %d files of %d bytes with %d threads "
           "(create + upload + commit each): %.3f s = %.0f files/s, %d failed\n",
           f.done, f.size, f.threads, dt, f.done / dt, f.failed);
    printf("RESULT smallfiles_per_s %.0f\n", f.done / dt);
    httpc_free(h);
    httpc_pool_free(s.pool);
    return f.failed ? 1 : 0;
}

int main(int argc, char **argv)
{
    int rc;
    if (argc < 2) {
        fprintf(stderr, "usage: dbxbench gen|chunk|scan|tcpcopy|updown|"
                        "longpoll|smallfiles ARGS\n");
        return 2;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (strcmp(argv[1], "gen") == 0)
        rc = cmd_gen(argc - 2, argv + 2);
    else if (strcmp(argv[1], "chunk") == 0)
        rc = cmd_chunk(argc - 2, argv + 2);
    else if (strcmp(argv[1], "scan") == 0)
        rc = cmd_scan(argc - 2, argv + 2);
    else if (strcmp(argv[1], "tcpcopy") == 0)
        rc = cmd_tcpcopy(argc - 2, argv + 2);
    else if (strcmp(argv[1], "updown") == 0)
        rc = cmd_updown(argc - 2, argv + 2);
    else if (strcmp(argv[1], "longpoll") == 0)
        rc = cmd_longpoll(argc - 2, argv + 2);
    else if (strcmp(argv[1], "smallfiles") == 0)
        rc = cmd_smallfiles(argc - 2, argv + 2);
    else {
        fprintf(stderr, "dbxbench: unknown command %s\n", argv[1]);
        rc = 2;
    }
    curl_global_cleanup();
    return rc;
}
