/* bench.h: what the parts of dbxbench share (see dbxbench.c for the
 * commands). Nothing here is a library: each helper dies on failure, but
 * download_node, whose failure get reports as the API tests expect.
 *
 *   dbxbench.c        main, options, random bytes, logging in, API helpers
 *   bench_local.c     gen, chunk, scan, tcpcopy: no server involved
 *   bench_transfer.c  updown, put, get: uploads through the transfer
 *                     engine, downloads through the mount's, against dbxd
 *   bench_download.c  the mount's download engine without a mount
 *   bench_api.c       longpoll, smallfiles: API latency and rate */
#ifndef DBX_BENCH_H
#define DBX_BENCH_H

#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>

#include "httpc.h"
#include "transfer.h"

#define MB 1e6
#define MIB ((size_t)1 << 20)

double now_sec(void);
void die(const char *what) __attribute__((noreturn));

/* Fast random bytes (xoshiro256**), seeded from getrandom. */
struct rng {
    uint64_t s[4];
};

void rng_seed(struct rng *r);
void rng_fill(struct rng *r, void *buf, size_t len);
void random_id(char out[17]);

/* The options of the commands that read and move files. */
struct cli {
    transfer_opts o;
    int pid, downloads, progress_lines, verify, list;
    const char *node;
    int64_t base_rev;
};

/* Parses argv (the options after a command's operands) into c; any option
 * not among the space-separated words of allowed is an error. */
void parse_cli(int argc, char **argv, const char *allowed, struct cli *c);

/* A logged-in pool: the password comes from $DBXBENCH_PASSWORD, a CA file
 * from $DBXBENCH_CA. */
struct session {
    httpc_pool *pool;
    char root[17];
};

void login(struct session *s, const char *url, const char *user);
/* POST /v1/nodes; 0 or -1 (message on stderr). */
int create_node(httpc *h, const char *id, const char *parent,
                const char *name, const char *type);
/* An integer field, or -1. */
int64_t json_int(const cJSON *o, const char *k);

/* The figures of one upload or download, as the RESULT lines tell them. */
struct figures {
    uint64_t size, chunks;         /* of the file */
    uint64_t sent, sent_bytes;     /* chunks PUT or GET, and their bytes */
    uint64_t wire, retries;        /* chunk body bytes on the wire */
    int64_t content_rev;
    double first_sec;              /* upload: scan; download: node and map */
    double chunks_sec, commit_sec, total_sec;
};

/* Downloads node id's current content into fd (truncated to its size) with
 * the mount's engine, its block cache in a new directory under beside.
 * 0, or -1 with a message in msg (fd then holds part of the content, or
 * none). */
int download_node(httpc_pool *pool, const char *id, int fd, const char *beside,
                  struct figures *fig, char *msg, size_t msglen);

int cmd_gen(int argc, char **argv);
int cmd_chunk(int argc, char **argv);
int cmd_scan(int argc, char **argv);
int cmd_tcpcopy(int argc, char **argv);
int cmd_updown(int argc, char **argv);
int cmd_put(int argc, char **argv);
int cmd_get(int argc, char **argv);
int cmd_longpoll(int argc, char **argv);
int cmd_smallfiles(int argc, char **argv);

#endif
