/* bench_transfer: the client's engines against a real dbxd, uploads
 * through the transfer engine (common/transfer*.c), downloads through the
 * mount's (fs/sync/fetch*.c, bench_download.c): updown (the throughput
 * figures of run.sh) and put / get (one transfer each, for
 * tests/api/test_transfer.py). */
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

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
    int tty;                   /* a progress bar on stderr */
    int lines;                 /* PROGRESS lines on stdout */
    unsigned calls;
};

static void progress_line(const char *phase, uint64_t bytes_done,
                          uint64_t bytes_total, uint64_t chunks_done,
                          uint64_t chunks_total)
{
    printf("PROGRESS %s %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 "\n",
           phase, bytes_done, bytes_total, chunks_done, chunks_total);
}

static void on_progress(void *arg, const transfer_progress *p)
{
    struct progress_state *ps = arg;
    static const char *names[] = { "", "scan", "send", "commit", "(none)",
                                   "done" };
    ps->calls++;
    if (ps->lines)
        progress_line(names[p->phase], p->bytes_done, p->bytes_total,
                      p->chunks_done, p->chunks_total);
    if (!ps->tty)
        return;
    fprintf(stderr, "\r  %-8s %6.1f%%  %" PRIu64 "/%" PRIu64 " chunks   ",
            names[p->phase],
            p->bytes_total ? 100.0 * p->bytes_done / p->bytes_total : 100.0,
            p->chunks_done, p->chunks_total);
    if (p->phase == TRANSFER_DONE)
        fputc('\n', stderr);
}

static void upload_figures(const transfer_result *r, struct figures *f)
{
    *f = (struct figures){
        .size = r->size, .chunks = r->chunks, .sent = r->chunks_sent,
        .sent_bytes = r->bytes_sent, .wire = r->wire_bytes,
        .retries = r->retries, .content_rev = json_int(r->node, "content_rev"),
        .first_sec = r->scan_sec, .chunks_sec = r->send_sec,
        .commit_sec = r->commit_sec, .total_sec = r->total_sec,
    };
}

static void print_xfer(const char *what, const char *key,
                       const struct figures *f, double cli, double srv)
{
    printf("%s: %" PRIu64 " bytes, %" PRIu64 " chunks (%" PRIu64
           " sent, %" PRIu64 " wire bytes, %" PRIu64 " retries): "
           "%.3f s = %.0f MB/s [first pass/listing %.3f s, chunks %.3f s, "
           "commit %.3f s; cpu client %.2f s, dbxd %.2f s]\n",
           what, f->size, f->chunks, f->sent, f->wire, f->retries,
           f->total_sec, f->size / f->total_sec / MB, f->first_sec,
           f->chunks_sec, f->commit_sec, cli, srv);
    printf("RESULT %s_MBps %.0f\n", key, f->size / f->total_sec / MB);
}

/* Uploads fd as id's content from base_rev and prints the figures; exits
 * on failure. The content_rev. */
static int64_t timed_upload(transfer *t, int fd, const char *id,
                            int64_t base_rev, int pid, const char *what,
                            const char *key)
{
    transfer_result r;
    struct figures f;
    double c0 = self_cpu(), s0 = proc_cpu(pid);

    if (transfer_upload_fd(t, fd, id, base_rev, NULL, &r) < 0) {
        fprintf(stderr, "%s: %s (%ld %s)\n", what, r.message, r.status,
                r.error);
        exit(1);
    }
    upload_figures(&r, &f);
    print_xfer(what, key, &f, self_cpu() - c0, proc_cpu(pid) - s0);
    transfer_result_free(&r);
    return f.content_rev;
}

/* The directory that holds path (a download's cache goes there). */
static const char *dir_of(const char *path, char *buf, size_t len)
{
    snprintf(buf, len, "%s", path);
    return dirname(buf);
}

/* Downloads id into the file at path (fd) with the mount's engine and
 * prints the figures; exits on failure. */
static void timed_download(struct session *s, const char *id, int fd,
                           const char *path, int pid, const char *what,
                           const char *key)
{
    char dir[4096], msg[256];
    struct figures f;
    double c0 = self_cpu(), s0 = proc_cpu(pid);

    if (download_node(s->pool, id, fd, dir_of(path, dir, sizeof dir), &f, msg,
                      sizeof msg) < 0) {
        fprintf(stderr, "%s: %s\n", what, msg);
        exit(1);
    }
    print_xfer(what, key, &f, self_cpu() - c0, proc_cpu(pid) - s0);
}

static void print_hwm(int pid, const char *when, const char *key)
{
    if (pid <= 0)
        return;
    printf("dbxd %s: VmHWM %ld KiB, VmRSS %ld KiB\n", when,
           proc_kib(pid, "VmHWM"), proc_kib(pid, "VmRSS"));
    printf("RESULT dbxd_hwm_%s_KiB %ld\n", key, proc_kib(pid, "VmHWM"));
}

/* node, or a new file under the root. */
static void target_node(struct session *s, const char *node, char id[17])
{
    httpc *h;
    char name[64];

    if (node) {
        snprintf(id, 17, "%s", node);
        return;
    }
    random_id(id);
    snprintf(name, sizeof name, "big-%s.bin", id);
    if (!(h = httpc_new(s->pool)) || create_node(h, id, s->root, name, "file") < 0)
        exit(1);
    httpc_free(h);
    printf("node %s\n", id);
}

int cmd_updown(int argc, char **argv)
{
    struct cli c = { .downloads = 1 };
    struct progress_state ps = { .tty = isatty(2) };
    struct session s;
    transfer *t;
    char id[17];
    int in, out, k;
    int64_t rev;

    if (argc < 4)
        die("usage: updown URL USER FILE OUT [-p N] [--pid PID] [--zstd-off] "
            "[--downloads N] [--node ID] [--chunk-avg B]");
    parse_cli(argc - 4, argv + 4,
              "-p --pid --zstd-off --downloads --node --chunk-avg", &c);
    c.o.progress = on_progress;
    c.o.progress_arg = &ps;
    login(&s, argv[0], argv[1]);
    t = transfer_new(s.pool, &c.o);
    in = open(argv[2], O_RDONLY);
    out = open(argv[3], O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (!t || in < 0 || out < 0)
        die("updown: setup");
    target_node(&s, c.node, id);
    rev = timed_upload(t, in, id, 0, c.pid, "upload", "upload");
    print_hwm(c.pid, "after the upload", "after_upload");
    for (k = 0; k < c.downloads; k++) {
        if (k > 0) {           /* a new file each time: fresh page cache */
            close(out);
            unlink(argv[3]);
            if ((out = open(argv[3], O_RDWR | O_CREAT | O_TRUNC, 0644)) < 0)
                die("updown: reopen");
        }
        timed_download(&s, id, out, argv[3], c.pid,
                       k ? "download again (into just-freed pages)" : "download",
                       k ? "download_again" : "download");
    }
    /* The same content again: the server has every chunk (dedup). */
    timed_upload(t, in, id, rev, c.pid, "re-upload, all chunks present",
                 "reupload");
    print_hwm(c.pid, "at the end", "end");
    if (ps.calls == 0)
        die("no progress callback was made");
    close(in);
    close(out);
    transfer_free(t);
    httpc_pool_free(s.pool);
    return 0;
}

/* ---- put / get: one transfer, for the API tests ----------------------------------- */

struct xfer_cmd {
    struct cli c;
    struct progress_state ps;
    struct session s;
};

/* argv: URL USER NODE FILE [options]. */
static void xfer_start(struct xfer_cmd *x, int argc, char **argv,
                       const char *usage, const char *allowed)
{
    if (argc < 4)
        die(usage);
    parse_cli(argc - 4, argv + 4, allowed, &x->c);
    x->ps.lines = x->c.progress_lines;
    x->c.o.progress = on_progress;
    x->c.o.progress_arg = &x->ps;
    login(&x->s, argv[0], argv[1]);
}

/* Prints the outcome (msg: why it failed) and frees; the exit status. */
static int xfer_end(struct xfer_cmd *x, const char *what, int rc,
                    const struct figures *f, const char *msg)
{
    if (rc < 0) {
        fprintf(stderr, "%s: %s\n", what, msg);
    } else {
        printf("RESULT size %" PRIu64 "\nRESULT chunks %" PRIu64 "\n"
               "RESULT chunks_sent %" PRIu64 "\nRESULT bytes_sent %" PRIu64
               "\nRESULT wire_bytes %" PRIu64 "\nRESULT retries %" PRIu64
               "\nRESULT content_rev %" PRId64 "\n", f->size, f->chunks,
               f->sent, f->sent_bytes, f->wire, f->retries, f->content_rev);
    }
    httpc_pool_free(x->s.pool);
    return rc < 0 ? 1 : 0;
}

int cmd_put(int argc, char **argv)
{
    struct xfer_cmd x = { .c.base_rev = 0 };
    transfer_result r;
    struct figures f;
    char msg[512];
    transfer *t;
    int fd, rc;

    xfer_start(&x, argc, argv, "usage: put URL USER NODE FILE [-p N] "
               "[--base-rev REV] [--zstd-off] [--chunk-avg B] [--progress]",
               "-p --base-rev --zstd-off --chunk-avg --progress");
    if (!(t = transfer_new(x.s.pool, &x.c.o)))
        die("no memory");
    if ((fd = open(argv[3], O_RDONLY)) < 0)
        die("put: cannot open the file");
    rc = transfer_upload_fd(t, fd, argv[2], x.c.base_rev, NULL, &r);
    close(fd);
    upload_figures(&r, &f);
    snprintf(msg, sizeof msg, "%s (%ld %s)", r.message, r.status, r.error);
    transfer_result_free(&r);
    transfer_free(t);
    return xfer_end(&x, "put", rc, &f, msg);
}

/* The file appears only once the download is whole: a failed one leaves
 * nothing behind. The mount's engine shows no progress as it goes, so
 * --progress tells the end only. */
int cmd_get(int argc, char **argv)
{
    struct xfer_cmd x = { .c.base_rev = 0 };
    struct figures f = { 0 };
    char part[4096], dir[4096], msg[256];
    int fd, rc;

    xfer_start(&x, argc, argv, "usage: get URL USER NODE FILE [-p N] "
               "[--progress]", "-p --progress");
    if ((size_t)snprintf(part, sizeof part, "%s.part", argv[3]) >= sizeof part ||
        (fd = open(part, O_RDWR | O_CREAT | O_TRUNC, 0644)) < 0)
        die("get: cannot create the file");
    rc = download_node(x.s.pool, argv[2], fd, dir_of(part, dir, sizeof dir),
                       &f, msg, sizeof msg);
    if ((close(fd) < 0 || (rc == 0 && rename(part, argv[3]) < 0)) && rc == 0) {
        snprintf(msg, sizeof msg, "finishing the file: %s", strerror(errno));
        rc = -1;
    }
    if (rc < 0)
        unlink(part);
    if (rc == 0 && x.ps.lines) {
        progress_line("receive", f.size, f.size, f.chunks, f.chunks);
        progress_line("done", f.size, f.size, f.chunks, f.chunks);
    }
    return xfer_end(&x, "get", rc, &f, msg);
}
