/* transfer_scan: the upload's first pass over a file. The file is read in
 * pieces; a reader cuts each piece with the content-defined chunker, noting
 * where chunks end, and a hasher SHA-256 hashes the piece's chunks. Large
 * files run the two on two threads through a ring of pieces, so the chunker
 * (~1.9 GB/s) and SHA-256 (~1.6-1.9 GB/s) run side by side instead of
 * adding up; small ones run them in turn on the calling thread. */
#include "transfer_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hash.h"

#define SCAN_PIECE ((size_t)4 << 20)   /* bytes read at a time */
#define SCAN_RING 4                    /* pieces in flight between threads */
#define SCAN_SMALL ((size_t)64 << 10)  /* smallest buffer of a small file */

/* A piece of the file, read and cut. */
struct piece {
    uint8_t *p;
    size_t cap, len;           /* len 0 with eof */
    uint64_t *ends;            /* file offsets where chunks cut in p end */
    size_t nends, ends_cap;
    int eof;
    int full;                  /* two threads: cut, not hashed yet */
};

/* The hasher's side: the chunk list so far. */
struct hasher {
    hash_ctx *hc;
    uint64_t start;            /* of the chunk being hashed */
    uint64_t pos;              /* file offset of the next piece */
    transfer_chunk *v;
    size_t n, cap;
    transfer_progress pr;
    transfer_progress_fn progress;
    void *progress_arg;
};

/* The two-thread scan's shared state. */
struct ring {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct piece piece[SCAN_RING];
    int failed;                /* either side gave up */
    int err;                   /* the errno of that */
    struct hasher *hs;
};

/* Fills s from file offset pos and cuts it. 0, or -1 (errno). */
static int read_piece(int fd, chunker *c, size_t min_size, struct piece *s,
                      uint64_t pos)
{
    size_t used, k, need;
    uint64_t *ne;
    ssize_t n;
    int boundary;

    do
        n = pread(fd, s->p, s->cap, (off_t)pos);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return -1;
    s->len = (size_t)n;
    s->eof = n == 0;
    s->nends = 0;
    need = s->len / min_size + 2;
    if (need > s->ends_cap) {
        if (!(ne = realloc(s->ends, need * sizeof *ne)))
            return -1;
        s->ends = ne;
        s->ends_cap = need;
    }
    for (used = 0; used < s->len; used += k) {
        k = chunker_feed(c, s->p + used, s->len - used, &boundary);
        if (boundary)
            s->ends[s->nends++] = pos + used + k;
    }
    return 0;
}

/* Ends the chunk being hashed at file offset end. */
static int end_chunk(struct hasher *hs, uint64_t end)
{
    transfer_chunk *nv;
    size_t cap;

    if (hs->n == hs->cap) {
        cap = hs->cap ? hs->cap * 2 : 256;
        if (!(nv = realloc(hs->v, cap * sizeof *nv)))
            return -1;
        hs->v = nv;
        hs->cap = cap;
    }
    if (hash_final(hs->hc, hs->v[hs->n].hash) < 0 || hash_reset(hs->hc) < 0)
        return -1;
    hs->v[hs->n].offset = hs->start;
    hs->v[hs->n].size = (uint32_t)(end - hs->start);
    hs->n++;
    hs->start = end;
    if (hs->progress) {
        hs->pr.bytes_done = end;
        hs->pr.chunks_done = hs->n;
        hs->progress(hs->progress_arg, &hs->pr);
    }
    return 0;
}

/* Hashes the next piece in file order. At the end of the file the last
 * chunk ends where the file does. 0, or -1 (errno). */
static int hash_piece(struct hasher *hs, const struct piece *s)
{
    size_t i, k, off = 0;

    for (i = 0; i < s->nends; i++) {
        k = (size_t)(s->ends[i] - hs->pos) - off;
        if (hash_update(hs->hc, s->p + off, k) < 0 ||
            end_chunk(hs, s->ends[i]) < 0)
            return -1;
        off += k;
    }
    if (hash_update(hs->hc, s->p + off, s->len - off) < 0)
        return -1;
    hs->pos += s->len;
    if (s->eof && hs->pos > hs->start)
        return end_chunk(hs, hs->pos);
    return 0;
}

static int scan_serial(int fd, chunker *c, size_t min_size, size_t bufsize,
                       struct hasher *hs)
{
    struct piece s = { .cap = bufsize };
    int ret = -1;

    if (!(s.p = malloc(bufsize)))
        goto out;
    do
        if (read_piece(fd, c, min_size, &s, hs->pos) < 0 ||
            hash_piece(hs, &s) < 0)
            goto out;
    while (!s.eof);
    ret = 0;
out:
    free(s.p);
    free(s.ends);
    return ret;
}

static void ring_fail(struct ring *r, int err)
{
    pthread_mutex_lock(&r->mu);
    if (!r->failed) {
        r->failed = 1;
        r->err = err ? err : EIO;
    }
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

/* Waits until piece s is full (want 1) or empty (0); 0 when the other side
 * failed meanwhile. */
static int ring_wait(struct ring *r, struct piece *s, int want)
{
    int ok;
    pthread_mutex_lock(&r->mu);
    while (s->full != want && !r->failed)
        pthread_cond_wait(&r->cv, &r->mu);
    ok = s->full == want && !r->failed;
    pthread_mutex_unlock(&r->mu);
    return ok;
}

static void ring_set(struct ring *r, struct piece *s, int full)
{
    pthread_mutex_lock(&r->mu);
    s->full = full;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

static void *hasher_main(void *arg)
{
    struct ring *r = arg;
    struct piece *s;
    int i, eof;

    for (i = 0;; i = (i + 1) % SCAN_RING) {
        s = &r->piece[i];
        if (!ring_wait(r, s, 1))
            return NULL;
        if (hash_piece(r->hs, s) < 0) {
            ring_fail(r, errno);
            return NULL;
        }
        eof = s->eof;
        ring_set(r, s, 0);
        if (eof)
            return NULL;
    }
}

/* The calling thread reads and cuts, a second one hashes. */
static int scan_pipelined(int fd, chunker *c, size_t min_size,
                          struct hasher *hs)
{
    struct ring r = { .hs = hs };
    struct piece *s;
    pthread_t tid;
    uint64_t pos = 0;          /* the reader's; hs->pos is the hasher's */
    int i, ret = -1;

    pthread_mutex_init(&r.mu, NULL);
    pthread_cond_init(&r.cv, NULL);
    for (i = 0; i < SCAN_RING; i++) {
        r.piece[i].cap = SCAN_PIECE;
        if (!(r.piece[i].p = malloc(SCAN_PIECE)))
            goto out;
    }
    if ((errno = pthread_create(&tid, NULL, hasher_main, &r)) != 0)
        goto out;
    for (i = 0;; i = (i + 1) % SCAN_RING) {
        s = &r.piece[i];
        if (!ring_wait(&r, s, 0))
            break;
        if (read_piece(fd, c, min_size, s, pos) < 0) {
            ring_fail(&r, errno);
            break;
        }
        pos += s->len;
        ring_set(&r, s, 1);
        if (s->eof)
            break;
    }
    pthread_join(tid, NULL);
    ret = r.failed ? -1 : 0;
    errno = r.err;
out:
    for (i = 0; i < SCAN_RING; i++) {
        free(r.piece[i].p);
        free(r.piece[i].ends);
    }
    pthread_mutex_destroy(&r.mu);
    pthread_cond_destroy(&r.cv);
    return ret;
}

int transfer_scan_fd(int fd, const chunker_params *params,
                     transfer_chunk **chunks, size_t *count, uint64_t *size,
                     transfer_progress_fn progress, void *progress_arg)
{
    struct hasher hs = { .progress = progress, .progress_arg = progress_arg,
                         .pr.phase = TRANSFER_SCAN };
    chunker *c = NULL;
    struct stat st;
    size_t min_size, small;
    int regular, ret = -1, err;

    if (params && !params->avg_size)
        params = NULL;
    min_size = params ? params->min_size : CHUNKER_MIN_DEFAULT;
    regular = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
    if (regular)
        hs.pr.bytes_total = (uint64_t)st.st_size;
    c = chunker_new(params);
    hs.hc = hash_new();
    if (!c || !hs.hc)
        goto out;
    posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    /* A small file is read whole, and once more to see its end. */
    small = hs.pr.bytes_total < SCAN_SMALL ? SCAN_SMALL
                                           : (size_t)hs.pr.bytes_total + 1;
    if (!regular)
        ret = scan_serial(fd, c, min_size, SCAN_PIECE, &hs);
    else if (hs.pr.bytes_total >= 2 * SCAN_PIECE)
        ret = scan_pipelined(fd, c, min_size, &hs);
    else
        ret = scan_serial(fd, c, min_size, small, &hs);
    if (ret < 0)
        goto out;
    if (progress) {
        hs.pr.bytes_done = hs.pr.bytes_total = hs.pos;
        hs.pr.chunks_done = hs.pr.chunks_total = hs.n;
        progress(progress_arg, &hs.pr);
    }
    *chunks = hs.v;
    *count = hs.n;
    *size = hs.pos;
    hs.v = NULL;
out:
    err = errno;
    free(hs.v);
    hash_free(hs.hc);
    chunker_free(c);
    errno = err;
    return ret;
}
