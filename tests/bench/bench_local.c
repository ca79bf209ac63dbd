/* bench_local: figures that need no server: random files, the chunker
 * and SHA-256 over memory, the upload's first pass over a file, and a raw
 * loopback TCP copy (the limits the transfer figures are set against). */
#include "bench.h"

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
#include <sys/socket.h>
#include <unistd.h>

#include "chunker.h"
#include "hash.h"

/* ---- gen / chunk / scan ------------------------------------------------------ */

int cmd_gen(int argc, char **argv)
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

int cmd_chunk(int argc, char **argv)
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
static void verify_scan(int fd, const chunker_params *params,
                        const transfer_chunk *chunks, size_t n, uint64_t size)
{
    chunker *c = chunker_new(params->avg_size ? params : NULL);
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

int cmd_scan(int argc, char **argv)
{
    struct cli c = { .o.compress = 0 };
    transfer_chunk *chunks = NULL;
    char hex[HASH_HEX_LEN + 1];
    size_t n = 0, i;
    uint64_t size = 0;
    double t0, dt;
    int fd;

    if (argc < 1)
        die("usage: scan FILE [--verify] [--list] [--chunk-avg B]");
    parse_cli(argc - 1, argv + 1, "--verify --list --chunk-avg", &c);
    fd = open(argv[0], O_RDONLY);
    if (fd < 0)
        die("scan: open");
    t0 = now_sec();
    if (transfer_scan_fd(fd, &c.o.chunker, &chunks, &n, &size, NULL, NULL) < 0)
        die("scan failed");
    dt = now_sec() - t0;
    printf("scan of %s: %" PRIu64 " bytes, %zu chunks in %.3f s = %.0f MB/s\n",
           argv[0], size, n, dt, size / dt / MB);
    printf("RESULT scan_file_MBps %.0f\n", size / dt / MB);
    for (i = 0; c.list && i < n; i++) {
        hash_to_hex(chunks[i].hash, hex);
        printf("CHUNK %" PRIu64 " %" PRIu32 " %s\n", chunks[i].offset,
               chunks[i].size, hex);
    }
    if (c.verify)
        verify_scan(fd, &c.o.chunker, chunks, n, size);
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

int cmd_tcpcopy(int argc, char **argv)
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
