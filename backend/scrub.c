#include "scrub.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chunkstream.h"
#include "log.h"

/* 0 when the chunk reads back whole and hashes to its name. */
static int check_chunk(struct dbxd *d, const uint8_t hash[HASH_LEN], char *buf, size_t cap,
                       uint64_t *bytes)
{
    struct dbx_chunk *one = malloc(sizeof *one);
    uint8_t got[HASH_LEN];
    hash_ctx *h = hash_new();
    struct chunkstream *s = one ? chunkstream_new(d, one, 1, 0) : NULL;
    ssize_t n = -1;
    if (one)
        memcpy(one->hash, hash, HASH_LEN), one->size = 0;
    while (s && h && (n = chunkstream_read(s, buf, cap)) > 0) {
        hash_update(h, buf, (size_t)n);
        *bytes += (uint64_t)n;
    }
    int rc = n == 0 && hash_final(h, got) == 0 && memcmp(got, hash, HASH_LEN) == 0 ? 0 : -1;
    if (rc && n == 0)
        chunkstream_damaged(d, hash);  /* authentic but wrong: damaged before sealing */
    chunkstream_free(s);
    hash_free(h);
    return rc;
}

static void scrub_dir(struct dbxd *d, const char *path, char *buf, size_t cap, struct scrub_stats *st)
{
    DIR *dir = opendir(path);
    struct dirent *e;
    uint8_t hash[HASH_LEN];
    if (!dir)
        return;
    while ((e = readdir(dir)) != NULL) {
        if (hash_from_hex(e->d_name, hash) != 0)
            continue;
        st->checked++;
        if (check_chunk(d, hash, buf, cap, &st->bytes) != 0) {
            st->damaged++;
            log_error("scrub: chunk %s is damaged", e->d_name);
        }
    }
    closedir(dir);
}

int scrub_run(struct dbxd *d, struct scrub_stats *st)
{
    char path[PATH_MAX];
    size_t cap = 1u << 20;
    char *buf = malloc(cap);
    memset(st, 0, sizeof *st);
    if (!buf)
        return -1;
    for (int i = 0; i < 256; i++) {
        snprintf(path, sizeof path, "%s/chunks/%02x", d->cfg.data_dir, i);
        scrub_dir(d, path, buf, cap, st);
    }
    free(buf);
    return 0;
}
