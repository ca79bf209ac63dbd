/* fsbench: the timing tool of tests/bench/fs_run.sh (the mount benchmark).
 * Not a test. Each subcommand prints shell assignments (key=value ...) on
 * one line of stdout; diagnostics go to stderr.
 *
 *   fsbench write PATH BYTES [--seed S] [--commit MODE] [--timeout SEC]
 *       Writes BYTES of incompressible pseudo-random data in 1 MiB write()s
 *       (a 64 MiB buffer made once from S, each 4 KiB page stamped with its
 *       pass number so no two pages of the file are equal) and closes.
 *       close_s = open .. close returned. With --commit, commit_s = open ..
 *       the data is committed:
 *         fsync            open the file again and fsync it
 *         dbxfs:MNT        user.dbxfs.status of MNT idle (queued, dirty and
 *                          uploading 0), having been seen busy after open
 *         size:PATH        PATH (the file in the server's directory) has
 *                          st_size == BYTES
 *   fsbench read PATH [--seed S]
 *       Reads PATH to EOF in 1 MiB read()s: read_s, bytes. With --seed,
 *       compares 8 KiB of each MiB with what write made: bad = MiBs that
 *       differ (the rest of the data is not checked, to keep it cheap).
 *   fsbench creates DIR N SIZE [--seed S] [--commit MODE] [--timeout SEC]
 *       Creates N files DIR/fNNNNNN of SIZE distinct bytes each with
 *       open(O_CREAT|O_EXCL)/write/close in one thread: create_s. --commit
 *       dbxfs:MNT as above, or count:SRVDIR (SRVDIR holds N files of SIZE).
 *   fsbench latency WPATH RPATH REPS [--interval-ms MS] [--timeout SEC]
 *                   [--idle MNT] [--gap-ms MS]
 *       REPS times: write+close WPATH with new content (a timestamp, its
 *       length changing every time), then open/read/close RPATH every MS
 *       (2) until it holds those bytes. Prints p50_ms, p99_ms (nearest
 *       rank over all reps; -1 when that rank is a rep not seen within
 *       --timeout), max_ms (of those seen), n (seen), timeouts. --idle waits for MNT's dbxfs
 *       status to be idle before each rep; --gap-ms sleeps between reps.
 *   fsbench status MNT           prints MNT's user.dbxfs.status
 *   fsbench waitidle MNT SEC     waits until MNT's status is idle: idle_s
 *   fsbench waitsize PATH BYTES SEC   waits until PATH has BYTES: wait_s
 *   fsbench waitcontent PATH STRING SEC
 *       waits until PATH holds exactly STRING: wait_s (or -1)
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#define MIB (1024 * 1024)
#define BUFMIB 64
#define PAGE 4096

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void sleep_ms(double ms)
{
    struct timespec ts = { (time_t)(ms / 1000), (long)(((long long)(ms * 1e6)) % 1000000000LL) };
    nanosleep(&ts, NULL);
}

static void die(const char *what)
{
    fprintf(stderr, "fsbench: %s: %s\n", what, strerror(errno));
    exit(1);
}

/* splitmix64: fast, deterministic. */
static uint64_t mix(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static unsigned char *make_buffer(uint64_t seed)
{
    uint64_t *b = aligned_alloc(PAGE, (size_t)BUFMIB * MIB);
    if (!b)
        die("malloc");
    uint64_t s = seed * 0x2545F4914F6CDD1DULL + 1;
    for (size_t i = 0; i < (size_t)BUFMIB * MIB / 8; i++)
        b[i] = mix(&s);
    return (unsigned char *)b;
}

/* The content of MiB number `blk` of a written file, in place in buf:
 * returns a pointer to it. Each page starts with (pass, page index). */
static unsigned char *block_at(unsigned char *buf, uint64_t blk)
{
    unsigned char *p = buf + (blk % BUFMIB) * (size_t)MIB;
    uint64_t pass = blk / BUFMIB;
    for (size_t off = 0; off < MIB; off += PAGE) {
        uint64_t tag[2] = { pass ^ 0x5a5a5a5a00000000ULL, blk * (MIB / PAGE) + off / PAGE };
        memcpy(p + off, tag, sizeof tag);
    }
    return p;
}

/* ---- dbxfs status ---- */

static long json_num(const char *js, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\"", key);
    const char *p = strstr(js, pat);
    if (!p)
        return -1;
    p += strlen(pat);
    while (*p == ' ' || *p == ':')
        p++;
    return strtol(p, NULL, 10);
}

/* 1 idle, 0 busy, -1 error (no status) */
static int dbxfs_idle(const char *mnt, char *out, size_t outlen)
{
    char buf[4096];
    ssize_t n = getxattr(mnt, "user.dbxfs.status", buf, sizeof buf - 1);
    if (n < 0)
        return -1;
    buf[n] = 0;
    if (out)
        snprintf(out, outlen, "%s", buf);
    long q = json_num(buf, "queued"), d = json_num(buf, "dirty"),
         u = json_num(buf, "uploading");
    if (q < 0 || d < 0 || u < 0)
        return -1;
    return q == 0 && d == 0 && u == 0;
}

/* A thread that polls a dbxfs mount's status from the start of a workload,
 * so that a busy state during the write is seen. */
struct watcher {
    const char *mnt;
    pthread_t th;
    volatile int stop;
    volatile int seen_busy;
    volatile int errors;
};

static void *watch_main(void *arg)
{
    struct watcher *w = arg;
    while (!w->stop) {
        int r = dbxfs_idle(w->mnt, NULL, 0);
        if (r == 0)
            w->seen_busy = 1;
        else if (r < 0)
            w->errors++;
        sleep_ms(10);
    }
    return NULL;
}

/* ---- commit modes ---- */

struct commit {
    char mode[16];
    const char *arg;
    struct watcher w;
};

static void commit_parse(struct commit *c, const char *spec)
{
    memset(c, 0, sizeof *c);
    if (!spec)
        return;
    const char *colon = strchr(spec, ':');
    size_t n = colon ? (size_t)(colon - spec) : strlen(spec);
    if (n >= sizeof c->mode) {
        fprintf(stderr, "fsbench: bad --commit %s\n", spec);
        exit(2);
    }
    memcpy(c->mode, spec, n);
    c->arg = colon ? colon + 1 : NULL;
}

static void commit_start(struct commit *c)
{
    if (strcmp(c->mode, "dbxfs") == 0) {
        c->w.mnt = c->arg;
        if (pthread_create(&c->w.th, NULL, watch_main, &c->w) != 0)
            die("pthread_create");
    }
}

static int count_files(const char *dir, off_t size, long want, int check_sizes)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    long n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        if (check_sizes) {
            struct stat st;
            if (fstatat(dirfd(d), e->d_name, &st, 0) != 0 || st.st_size != size)
                continue;
        }
        n++;
    }
    closedir(d);
    (void)want;
    return (int)n;
}

/* Waits for the commit; returns seconds since t0, or -1 on timeout. */
static double commit_wait(struct commit *c, const char *path, double t0,
                          off_t bytes, long nfiles, double timeout)
{
    double r = -1;
    if (strcmp(c->mode, "fsync") == 0) {
        int fd = open(path, O_WRONLY);
        if (fd < 0 || fsync(fd) != 0)
            die("fsync");
        close(fd);
        r = now() - t0;
    } else if (strcmp(c->mode, "dbxfs") == 0) {
        double tclose = now();
        for (;;) {
            int idle = dbxfs_idle(c->arg, NULL, 0);
            double t = now();
            if (idle == 1 && (c->w.seen_busy || t - tclose > 2.0)) {
                if (!c->w.seen_busy)
                    fprintf(stderr, "fsbench: warning: dbxfs status never seen busy\n");
                r = t - t0;
                break;
            }
            if (idle == 0)
                c->w.seen_busy = 1;
            if (t - t0 > timeout)
                break;
            sleep_ms(5);
        }
        c->w.stop = 1;
        pthread_join(c->w.th, NULL);
        if (c->w.errors)
            fprintf(stderr, "fsbench: %d status reads failed\n", c->w.errors);
    } else if (strcmp(c->mode, "size") == 0) {
        for (;;) {
            struct stat st;
            double t = now();
            if (stat(c->arg, &st) == 0 && st.st_size == bytes) {
                r = t - t0;
                break;
            }
            if (t - t0 > timeout)
                break;
            sleep_ms(5);
        }
    } else if (strcmp(c->mode, "count") == 0) {
        for (;;) {
            double t = now();
            if (count_files(c->arg, bytes, nfiles, 0) >= nfiles &&
                count_files(c->arg, bytes, nfiles, 1) >= nfiles) {
                r = t - t0;
                break;
            }
            if (t - t0 > timeout)
                break;
            sleep_ms(20);
        }
    } else {
        fprintf(stderr, "fsbench: unknown commit mode %s\n", c->mode);
        exit(2);
    }
    return r;
}

/* ---- subcommands ---- */

struct args {
    uint64_t seed;
    int have_seed;
    const char *commit;
    double timeout;
    double interval_ms, gap_ms;
    const char *idle;
};

static int parse_opts(int argc, char **argv, int first, struct args *a)
{
    a->seed = 1;
    a->timeout = 600;
    a->interval_ms = 2;
    for (int i = first; i < argc; i++) {
        const char *o = argv[i];
        if (i + 1 >= argc) {
            fprintf(stderr, "fsbench: %s needs a value\n", o);
            exit(2);
        }
        const char *v = argv[++i];
        if (!strcmp(o, "--seed")) {
            a->seed = strtoull(v, NULL, 0);
            a->have_seed = 1;
        } else if (!strcmp(o, "--commit"))
            a->commit = v;
        else if (!strcmp(o, "--timeout"))
            a->timeout = atof(v);
        else if (!strcmp(o, "--interval-ms"))
            a->interval_ms = atof(v);
        else if (!strcmp(o, "--gap-ms"))
            a->gap_ms = atof(v);
        else if (!strcmp(o, "--idle"))
            a->idle = v;
        else {
            fprintf(stderr, "fsbench: unknown option %s\n", o);
            exit(2);
        }
    }
    return 0;
}

static int cmd_write(const char *path, off_t bytes, struct args *a)
{
    unsigned char *buf = make_buffer(a->seed);
    struct commit c;
    commit_parse(&c, a->commit);
    commit_start(&c);
    double t0 = now();
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        die(path);
    uint64_t blocks = (bytes + MIB - 1) / MIB;
    for (uint64_t b = 0; b < blocks; b++) {
        unsigned char *p = block_at(buf, b);
        size_t len = (b + 1) * (uint64_t)MIB > (uint64_t)bytes ? bytes - b * MIB : MIB;
        size_t done = 0;
        while (done < len) {
            ssize_t n = write(fd, p + done, len - done);
            if (n < 0) {
                if (errno == EINTR)
                    continue;
                die("write");
            }
            done += n;
        }
    }
    double t1 = now();
    if (close(fd) != 0)
        die("close");
    double t2 = now();
    double commit_s = c.mode[0] ? commit_wait(&c, path, t0, bytes, 0, a->timeout) : 0;
    printf("close_s=%.4f lastwrite_s=%.4f commit_s=%.4f bytes=%lld\n", t2 - t0,
           t1 - t0, c.mode[0] ? commit_s : -1, (long long)bytes);
    return 0;
}

static int cmd_read(const char *path, struct args *a)
{
    unsigned char *buf = a->have_seed ? make_buffer(a->seed) : NULL;
    unsigned char *rb = aligned_alloc(PAGE, MIB);
    if (!rb)
        die("malloc");
    double t0 = now();
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        die(path);
    long long total = 0, bad = 0;
    uint64_t blk = 0;
    for (;;) {
        size_t got = 0;
        while (got < MIB) {
            ssize_t n = read(fd, rb + got, MIB - got);
            if (n < 0) {
                if (errno == EINTR)
                    continue;
                die("read");
            }
            if (n == 0)
                break;
            got += n;
        }
        if (got == 0)
            break;
        total += got;
        if (buf) {
            unsigned char *e = block_at(buf, blk);
            size_t mid = ((blk * 7 + 3) % (MIB / PAGE)) * PAGE;
            size_t l1 = got < PAGE ? got : PAGE;
            if (memcmp(rb, e, l1) != 0 ||
                (mid + PAGE <= got && memcmp(rb + mid, e + mid, PAGE) != 0))
                bad++;
        }
        blk++;
        if (got < MIB)
            break;
    }
    close(fd);
    double t1 = now();
    printf("read_s=%.4f bytes=%lld bad=%lld\n", t1 - t0, total, bad);
    return 0;
}

static int cmd_creates(const char *dir, long n, size_t size, struct args *a)
{
    unsigned char *buf = make_buffer(a->seed);
    struct commit c;
    commit_parse(&c, a->commit);
    char path[4096];
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        die(dir);
    commit_start(&c);
    double t0 = now();
    for (long i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/f%06ld", dir, i);
        unsigned char *p = buf + ((size_t)i * size) % ((size_t)BUFMIB * MIB - size);
        uint64_t tag[2] = { a->seed, (uint64_t)i };
        memcpy(p, tag, size < sizeof tag ? size : sizeof tag);
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
        if (fd < 0)
            die(path);
        if (write(fd, p, size) != (ssize_t)size)
            die("write");
        if (close(fd) != 0)
            die("close");
    }
    double t1 = now();
    double commit_s = c.mode[0] ? commit_wait(&c, dir, t0, size, n, a->timeout) : -1;
    printf("create_s=%.4f commit_s=%.4f files=%ld\n", t1 - t0, commit_s, n);
    return 0;
}

static int read_whole(const char *path, char *out, size_t cap)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, out, cap - 1);
    close(fd);
    if (n < 0)
        return -1;
    out[n] = 0;
    return (int)n;
}

static int cmpd(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

static int cmd_latency(const char *wpath, const char *rpath, int reps, struct args *a)
{
    double *lat = calloc(reps, sizeof *lat);
    int n = 0, timeouts = 0;
    char want[256], got[256];
    for (int r = 0; r < reps; r++) {
        if (a->idle) {
            double ts = now();
            while (dbxfs_idle(a->idle, NULL, 0) != 1 && now() - ts < a->timeout)
                sleep_ms(5);
        }
        struct timespec rt;
        clock_gettime(CLOCK_REALTIME, &rt);
        int len = snprintf(want, sizeof want, "rep %d at %lld.%09ld pid %d\n", r,
                           (long long)rt.tv_sec, rt.tv_nsec, (int)getpid());
        /* a different length every rep (rclone's webdav fingerprint is
         * size + a modtime of one-second resolution) */
        int pad = r % 2 ? 8 + r % 5 : r % 5;
        for (int i = 0; i < pad; i++)
            want[len++] = '.';
        want[len] = 0;
        double t0 = now();
        int fd = open(wpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0)
            die(wpath);
        if (write(fd, want, len) != len)
            die("write");
        if (close(fd) != 0)
            die("close");
        double t;
        int g;
        for (;;) {
            g = read_whole(rpath, got, sizeof got);
            t = now();
            if (g == len && memcmp(got, want, len) == 0)
                break;
            if (t - t0 > a->timeout)
                break;
            sleep_ms(a->interval_ms);
        }
        if (t - t0 > a->timeout) {
            timeouts++;
            if (g > 0 && got[g - 1] == '\n')
                got[g - 1] = 0;
            fprintf(stderr, "fsbench: latency rep %d: not seen in %.0f s; B still reads %d bytes: \"%.60s\"\n",
                    r, a->timeout, g, g > 0 ? got : "");
        } else {
            lat[n++] = (t - t0) * 1000;
        }
        if (a->gap_ms > 0)
            sleep_ms(a->gap_ms);
    }
    /* Percentiles over all reps, a rep never seen counting as the latest:
     * -1 when the rank falls on one. */
    qsort(lat, n, sizeof *lat, cmpd);
    double p50 = -1, p99 = -1, max = -1;
    int all = n + timeouts;
    if (all) {
        int i50 = (all * 50 + 99) / 100 - 1, i99 = (all * 99 + 99) / 100 - 1;
        i50 = i50 < 0 ? 0 : i50;
        i99 = i99 < 0 ? 0 : i99;
        p50 = i50 < n ? lat[i50] : -1;
        p99 = i99 < n ? lat[i99] : -1;
        max = n ? lat[n - 1] : -1;
    }
    printf("p50_ms=%.1f p99_ms=%.1f max_ms=%.1f min_ms=%.1f n=%d timeouts=%d\n", p50, p99,
           max, n ? lat[0] : -1.0, n, timeouts);
    return 0;
}

int main(int argc, char **argv)
{
    struct args a;
    memset(&a, 0, sizeof a);
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc >= 4 && !strcmp(argv[1], "write")) {
        parse_opts(argc, argv, 4, &a);
        return cmd_write(argv[2], strtoll(argv[3], NULL, 0), &a);
    }
    if (argc >= 3 && !strcmp(argv[1], "read")) {
        parse_opts(argc, argv, 3, &a);
        return cmd_read(argv[2], &a);
    }
    if (argc >= 5 && !strcmp(argv[1], "creates")) {
        parse_opts(argc, argv, 5, &a);
        return cmd_creates(argv[2], atol(argv[3]), strtoul(argv[4], NULL, 0), &a);
    }
    if (argc >= 5 && !strcmp(argv[1], "latency")) {
        parse_opts(argc, argv, 5, &a);
        return cmd_latency(argv[2], argv[3], atoi(argv[4]), &a);
    }
    if (argc == 3 && !strcmp(argv[1], "status")) {
        char s[4096];
        int r = dbxfs_idle(argv[2], s, sizeof s);
        if (r < 0 && !s[0])
            die("getxattr user.dbxfs.status");
        printf("%s\n", s);
        return 0;
    }
    if (argc == 4 && !strcmp(argv[1], "waitidle")) {
        double t0 = now(), to = atof(argv[3]);
        while (dbxfs_idle(argv[2], NULL, 0) != 1) {
            if (now() - t0 > to) {
                printf("idle_s=-1\n");
                return 1;
            }
            sleep_ms(5);
        }
        printf("idle_s=%.4f\n", now() - t0);
        return 0;
    }
    if (argc == 5 && !strcmp(argv[1], "waitsize")) {
        double t0 = now(), to = atof(argv[4]);
        long long want = strtoll(argv[3], NULL, 0);
        struct stat st;
        while (stat(argv[2], &st) != 0 || st.st_size != want) {
            if (now() - t0 > to) {
                printf("wait_s=-1\n");
                return 1;
            }
            sleep_ms(50);
        }
        printf("wait_s=%.4f\n", now() - t0);
        return 0;
    }
    if (argc == 5 && !strcmp(argv[1], "waitcontent")) {
        double t0 = now(), to = atof(argv[4]);
        char got[4096];
        size_t len = strlen(argv[3]);
        for (;;) {
            int g = read_whole(argv[2], got, sizeof got);
            if (g == (int)len && memcmp(got, argv[3], len) == 0)
                break;
            if (now() - t0 > to) {
                printf("wait_s=-1\n");
                return 1;
            }
            sleep_ms(2);
        }
        printf("wait_s=%.4f\n", now() - t0);
        return 0;
    }
    fprintf(stderr,
            "usage: fsbench write PATH BYTES [--seed S] [--commit fsync|dbxfs:MNT|size:PATH]\n"
            "       fsbench read PATH [--seed S]\n"
            "       fsbench creates DIR N SIZE [--seed S] [--commit dbxfs:MNT|count:DIR]\n"
            "       fsbench latency WPATH RPATH REPS [--interval-ms MS] [--timeout S] [--idle MNT]\n"
            "       fsbench status MNT | waitidle MNT SEC | waitsize PATH BYTES SEC\n"
            "       fsbench waitcontent PATH STRING SEC\n");
    return 2;
}
