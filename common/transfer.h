/* transfer: the client's chunked upload engine (the mount's push and the
 * benchmark use it), and the retry rules of chunk requests, which the
 * client's one download engine, the mount's fs/sync/fetch.c, follows too
 * (the benchmark downloads through it). Files are reached through file
 * descriptors and read with pread in bounded pieces: memory is about
 * parallel x (max chunk size + its zstd bound), whatever the size of the
 * file.
 *
 * Upload (transfer_upload_fd):
 *   1. scan: read the file once, cut it with the content-defined chunker and
 *      hash each chunk (SHA-256), building the chunk list;
 *   2. POST /v1/uploads: the server opens (or, for the same node, base
 *      revision and chunk list, reopens) the session and lists the chunks
 *      it lacks, with signed PUT URLs;
 *   3. PUT the missing chunks, `parallel` at a time (worker threads, each
 *      with its own keep-alive connection), zstd-compressed when that pays;
 *      transport errors and 5xx are retried with backoff, expired URLs are
 *      refreshed through GET /v1/uploads/{id};
 *   4. POST /v1/uploads/{id}/commit (retried; the server answers a repeated
 *      commit with the same result).
 * Calling it again after a crash or a failure resumes: the server hands back
 * the same session and lists only what is still missing.
 *
 * A transfer object keeps its HTTP handles (and their connections) across
 * calls; it is used by one thread at a time. The caller owns the pool,
 * which must outlive it, and the file descriptors. transfer_int.h lists the
 * parts of the engine. */
#ifndef DBX_TRANSFER_H
#define DBX_TRANSFER_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <cjson/cJSON.h>

#include "chunker.h"
#include "httpc.h"

enum transfer_phase {
    TRANSFER_SCAN = 1,      /* reading and hashing the local file */
    TRANSFER_SEND,          /* PUTting chunks */
    TRANSFER_COMMIT,
    /* The number travels to dbxctl status (fs/sync/push.c), so it stays 5
     * now that 4, the download's phase, is gone. */
    TRANSFER_DONE = 5,
};

typedef struct transfer_progress {
    enum transfer_phase phase;
    uint64_t bytes_done, bytes_total;   /* of this phase */
    uint64_t chunks_done, chunks_total; /* of this phase */
} transfer_progress;

/* Called from the calling thread or one of the engine's (a worker, the
 * scan's hasher), never two at a time. */
typedef void (*transfer_progress_fn)(void *arg, const transfer_progress *p);

typedef struct transfer_opts {
    int parallel;             /* concurrent chunk requests; 0: 4, max 64 */
    int retries;              /* tries per chunk after the first; 0: 5 */
    int compress;             /* 1: zstd when it pays (default); -1: never */
    int zstd_level;           /* 0: zframe's default */
    chunker_params chunker;   /* zero: the chunker's defaults */
    transfer_progress_fn progress;
    void *progress_arg;
} transfer_opts;

typedef struct transfer_result {
    /* The committed node. Owned: transfer_result_free. */
    cJSON *node;
    cJSON *conflict;          /* the conflicted copy, or NULL */
    uint64_t content_rev;     /* the content revision the commit made (node
                               * may be newer when a retry answered) */
    /* On failure: the HTTP status and API error code of the answer that
     * stopped the transfer (0 and "" for a local or transport failure, or
     * "changed" when the file changed under the upload), and a message. */
    long status;
    char error[48];
    char message[256];
    /* Figures. */
    uint64_t size;            /* file size */
    uint64_t chunks;          /* chunks in the file */
    uint64_t chunks_sent;     /* chunks PUT */
    uint64_t bytes_sent;      /* uncompressed bytes of those */
    uint64_t wire_bytes;      /* bytes of chunk bodies on the wire */
    uint64_t retries;         /* chunk requests retried */
    double scan_sec, send_sec, commit_sec, total_sec;
} transfer_result;

typedef struct transfer transfer;

/* opts may be NULL (defaults). The pool must outlive the object. */
transfer *transfer_new(httpc_pool *pool, const transfer_opts *opts);
void transfer_free(transfer *t);

/* Uploads the whole content of fd (from offset 0 to its size at scan time)
 * as the new content of node_id (16 hex digits), edited from base_rev (the
 * content_rev the data derives from; 0 for a new file). mtime, when not
 * NULL, is recorded by the commit. 0 on success (res->node, res->conflict
 * set), -1 on failure (res->status/error/message). res is always filled;
 * release it with transfer_result_free. */
int transfer_upload_fd(transfer *t, int fd, const char *node_id,
                       int64_t base_rev, const struct timespec *mtime,
                       transfer_result *res);

void transfer_result_free(transfer_result *res);

/* The file's chunk list as the upload's scan builds it. Exposed for the
 * benchmark and for callers that cache it. */
typedef struct transfer_chunk {
    uint8_t hash[32];
    uint64_t offset;
    uint32_t size;
} transfer_chunk;

/* Scans fd from 0 to EOF. *chunks is malloc'd (free it); 0 or -1 (errno).
 * A non-NULL progress is called with TRANSFER_SCAN. */
int transfer_scan_fd(int fd, const chunker_params *params,
                     transfer_chunk **chunks, size_t *count, uint64_t *size,
                     transfer_progress_fn progress, void *progress_arg);

/* The retry rules of chunk transfers. Whether a request that ended so (rc
 * and status as httpc returns them) is worth making again: a transport
 * failure, 408, 429 or a 5xx other than 501 and 507. */
int transfer_retryable(int rc, long status);
/* Sleeps before retry number attempt + 1 (0 for the first): exponential
 * backoff from 100 ms to 5 s, jittered. */
void transfer_backoff(int attempt);

#endif
