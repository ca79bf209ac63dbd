/* The local-directory implementation of chunkstore.h. */
#include "chunkstore.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "zframe.h"

#define HDR_LEN 24
#define TAG_LEN 16
#define WBUF_MAX (1u << 20)
static const char MAGIC[8] = "DBXCHK01";

struct chunkstore {
    char dir[PATH_MAX - 100];
    uint8_t key[CHUNKSTORE_KEY_LEN];
};

struct chunk_writer {
    chunkstore *cs;
    uint8_t hash[HASH_LEN];
    enum chunk_encoding enc;
    int fd;
    char tmp[PATH_MAX];
    EVP_CIPHER_CTX *aead;
    hash_ctx *hasher;
    zframe_dec *dec;
    uint64_t raw_size, stored_size;
    size_t wlen, wcap;
    uint8_t *wbuf;
};

struct chunk_reader {
    int fd;
    enum chunk_encoding enc;
    uint64_t size, done;
    EVP_CIPHER_CTX *aead;
};

static int errno_code(void)
{
    return (errno == ENOSPC || errno == EDQUOT) ? CS_NOSPACE : CS_IO;
}

static void chunk_path(const chunkstore *cs, const uint8_t hash[HASH_LEN], char *out, size_t cap)
{
    char hex[HASH_HEX_LEN + 1];
    hash_to_hex(hash, hex);
    snprintf(out, cap, "%s/%.2s/%s", cs->dir, hex, hex);
}

static void clean_tmp(const char *tmpdir)
{
    DIR *d = opendir(tmpdir);
    struct dirent *e;
    if (!d)
        return;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            unlinkat(dirfd(d), e->d_name, 0);
    closedir(d);
}

int chunkstore_open(const char *dir, const uint8_t key[CHUNKSTORE_KEY_LEN], chunkstore **out)
{
    char path[PATH_MAX];
    chunkstore *cs = calloc(1, sizeof *cs);
    if (!cs || strlen(dir) >= sizeof cs->dir)
        goto fail;
    strcpy(cs->dir, dir);
    memcpy(cs->key, key, CHUNKSTORE_KEY_LEN);
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        goto fail;
    for (int i = 0; i < 256; i++) {
        snprintf(path, sizeof path, "%s/%02x", dir, i);
        if (mkdir(path, 0700) != 0 && errno != EEXIST)
            goto fail;
    }
    const char *sub[] = {"tmp", "quarantine"};
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, sub[i]);
        if (mkdir(path, 0700) != 0 && errno != EEXIST)
            goto fail;
    }
    snprintf(path, sizeof path, "%s/tmp", dir);
    clean_tmp(path);  /* writes cut short by a crash */
    *out = cs;
    return 0;
fail:
    log_error("chunkstore %s: %s", dir, strerror(errno));
    free(cs);
    return CS_IO;
}

void chunkstore_close(chunkstore *cs)
{
    if (cs)
        OPENSSL_cleanse(cs->key, sizeof cs->key);
    free(cs);
}

/* AES-256-GCM bound to this file's header and the chunk's name. */
static EVP_CIPHER_CTX *aead_new(const chunkstore *cs, const uint8_t hdr[HDR_LEN],
                                const uint8_t hash[HASH_LEN], int encrypt)
{
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int len;
    if (!c)
        return NULL;
    if (EVP_CipherInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL, encrypt) != 1 ||
        EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, 12, NULL) != 1 ||
        EVP_CipherInit_ex(c, NULL, NULL, cs->key, hdr + 12, encrypt) != 1 ||
        EVP_CipherUpdate(c, NULL, &len, hdr, HDR_LEN) != 1 ||
        EVP_CipherUpdate(c, NULL, &len, hash, HASH_LEN) != 1) {
        EVP_CIPHER_CTX_free(c);
        return NULL;
    }
    return c;
}

int chunkstore_writer_new(chunkstore *cs, const uint8_t hash[HASH_LEN],
                          enum chunk_encoding enc, uint64_t size_hint, chunk_writer **out)
{
    uint8_t hdr[HDR_LEN] = {0};
    chunk_writer *w = calloc(1, sizeof *w);
    if (!w)
        return CS_IO;
    w->wcap = size_hint && size_hint < WBUF_MAX - HDR_LEN - TAG_LEN ? size_hint + HDR_LEN + TAG_LEN : WBUF_MAX;
    if (!(w->wbuf = malloc(w->wcap))) {
        free(w);
        return CS_IO;
    }
    w->cs = cs;
    w->enc = enc;
    w->fd = -1;
    memcpy(w->hash, hash, HASH_LEN);
    memcpy(hdr, MAGIC, 8);
    hdr[8] = (uint8_t)enc;
    if (RAND_bytes(hdr + 12, 12) != 1)
        goto fail;
    snprintf(w->tmp, sizeof w->tmp, "%s/tmp/put.XXXXXX", cs->dir);
    if ((w->fd = mkstemp(w->tmp)) < 0)
        goto fail;
    if (!(w->aead = aead_new(cs, hdr, hash, 1)) || !(w->hasher = hash_new()))
        goto fail;
    if (enc == CHUNK_ZSTD && !(w->dec = zframe_dec_new()))
        goto fail;
    memcpy(w->wbuf, hdr, HDR_LEN);
    w->wlen = HDR_LEN;
    *out = w;
    return 0;
fail:
    chunkstore_writer_free(w);
    return CS_IO;
}

static int write_all(int fd, const uint8_t *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return errno_code();
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int flush_wbuf(chunk_writer *w)
{
    int rc = write_all(w->fd, w->wbuf, w->wlen);
    w->wlen = 0;
    return rc;
}

/* Sink results, positive so they cannot be mistaken for the decoder's -1. */
enum { SINK_TOO_LARGE = 1, SINK_IO = 2 };

/* Receives plaintext from the decoder (or straight from the request). */
static int hash_plain(void *arg, const void *buf, size_t len)
{
    chunk_writer *w = arg;
    w->raw_size += len;
    if (w->raw_size > CHUNK_MAX_RAW)
        return SINK_TOO_LARGE;  /* also what stops a decompression bomb */
    return hash_update(w->hasher, buf, len) == 0 ? 0 : SINK_IO;
}

int chunkstore_writer_write(chunk_writer *w, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    /* a frame of empty blocks decodes to nothing: bound the input too */
    if ((w->stored_size += len) > CHUNK_MAX_STORED)
        return CS_TOO_LARGE;
    int rc = w->dec ? zframe_dec_push(w->dec, buf, len, hash_plain, w) : hash_plain(w, buf, len);
    if (rc)
        return rc == SINK_TOO_LARGE ? CS_TOO_LARGE : rc == SINK_IO ? CS_IO : CS_BAD_INPUT;
    while (len > 0) {
        size_t n = len < w->wcap - TAG_LEN - w->wlen ? len : w->wcap - TAG_LEN - w->wlen;
        int outl;
        if (EVP_EncryptUpdate(w->aead, w->wbuf + w->wlen, &outl, p, (int)n) != 1)
            return CS_IO;
        w->wlen += (size_t)outl;
        p += n;
        len -= n;
        if (w->wlen == w->wcap - TAG_LEN && (rc = flush_wbuf(w)) != 0)
            return rc;
    }
    return 0;
}

int chunkstore_writer_finish(chunk_writer *w, uint32_t *raw_size, uint64_t *stored_size)
{
    uint8_t digest[HASH_LEN];
    int outl, rc;
    if (w->dec && zframe_dec_end(w->dec) != 0)
        return CS_BAD_INPUT;
    if (hash_final(w->hasher, digest) != 0)
        return CS_IO;
    if (CRYPTO_memcmp(digest, w->hash, HASH_LEN) != 0)
        return CS_MISMATCH;

    if (EVP_EncryptFinal_ex(w->aead, w->wbuf + w->wlen, &outl) != 1 ||
        EVP_CIPHER_CTX_ctrl(w->aead, EVP_CTRL_GCM_GET_TAG, TAG_LEN, w->wbuf + w->wlen + outl) != 1)
        return CS_IO;
    w->wlen += (size_t)outl + TAG_LEN;
    if ((rc = flush_wbuf(w)) != 0)
        return rc;
    if (fsync(w->fd) != 0)
        return errno_code();
    /* Written chunks are read back rarely and soon, if ever: keeping them
     * in the page cache costs more than it saves (measured: it halves
     * dbxd's CPU per uploaded GiB on this kind of machine). */
    posix_fadvise(w->fd, 0, 0, POSIX_FADV_DONTNEED);
    *raw_size = (uint32_t)w->raw_size;
    *stored_size = w->stored_size;
    return 0;
}

int chunkstore_writer_publish(chunk_writer *w)
{
    char path[PATH_MAX];
    chunk_path(w->cs, w->hash, path, sizeof path);
    if (rename(w->tmp, path) != 0)
        return errno_code();
    w->tmp[0] = '\0';
    return 0;
}

void chunkstore_writer_free(chunk_writer *w)
{
    if (!w)
        return;
    if (w->fd >= 0)
        close(w->fd);
    if (w->tmp[0] && w->fd >= 0)
        unlink(w->tmp);
    EVP_CIPHER_CTX_free(w->aead);
    hash_free(w->hasher);
    zframe_dec_free(w->dec);
    free(w->wbuf);
    free(w);
}

int chunkstore_sync(chunkstore *cs, const uint8_t hash[HASH_LEN])
{
    char path[PATH_MAX];
    chunk_path(cs, hash, path, sizeof path);
    *strrchr(path, '/') = '\0';
    int fd = open(path, O_RDONLY | O_DIRECTORY);
    if (fd < 0)
        return CS_IO;
    int rc = fsync(fd) == 0 ? 0 : CS_IO;
    close(fd);
    return rc;
}

int chunkstore_exists(chunkstore *cs, const uint8_t hash[HASH_LEN])
{
    char path[PATH_MAX];
    chunk_path(cs, hash, path, sizeof path);
    return access(path, F_OK) == 0;
}

int chunkstore_remove(chunkstore *cs, const uint8_t hash[HASH_LEN])
{
    char path[PATH_MAX];
    chunk_path(cs, hash, path, sizeof path);
    return (unlink(path) == 0 || errno == ENOENT) ? 0 : CS_IO;
}

int chunkstore_quarantine(chunkstore *cs, const uint8_t hash[HASH_LEN])
{
    char from[PATH_MAX], to[PATH_MAX], hex[HASH_HEX_LEN + 1];
    chunk_path(cs, hash, from, sizeof from);
    hash_to_hex(hash, hex);
    snprintf(to, sizeof to, "%s/quarantine/%s", cs->dir, hex);
    log_error("chunk %s is damaged: moved to quarantine", hex);
    return rename(from, to) == 0 ? 0 : CS_IO;
}

static int reader_verify_tag(chunk_reader *r)
{
    uint8_t tag[TAG_LEN], tail[16];
    int outl;
    if (pread(r->fd, tag, TAG_LEN, (off_t)(HDR_LEN + r->size)) != TAG_LEN ||
        EVP_CIPHER_CTX_ctrl(r->aead, EVP_CTRL_GCM_SET_TAG, TAG_LEN, tag) != 1 ||
        EVP_DecryptFinal_ex(r->aead, tail, &outl) != 1)
        return CS_CORRUPT;
    return 0;
}

int chunkstore_reader_open(chunkstore *cs, const uint8_t hash[HASH_LEN], chunk_reader **out)
{
    char path[PATH_MAX];
    uint8_t hdr[HDR_LEN];
    struct stat st;
    chunk_reader *r = calloc(1, sizeof *r);
    int rc = CS_IO;
    if (!r)
        return CS_IO;
    chunk_path(cs, hash, path, sizeof path);
    if ((r->fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
        rc = errno == ENOENT ? CS_NOTFOUND : CS_IO;
        goto fail;
    }
    rc = CS_CORRUPT;
    if (fstat(r->fd, &st) != 0 || st.st_size < HDR_LEN + TAG_LEN ||
        pread(r->fd, hdr, HDR_LEN, 0) != HDR_LEN || memcmp(hdr, MAGIC, 8) != 0 || hdr[8] > CHUNK_ZSTD)
        goto fail;
    r->enc = (enum chunk_encoding)hdr[8];
    r->size = (uint64_t)st.st_size - HDR_LEN - TAG_LEN;
    if (!(r->aead = aead_new(cs, hdr, hash, 0))) {
        rc = CS_IO;
        goto fail;
    }
    if (r->size == 0 && reader_verify_tag(r) != 0) {
        EVP_CIPHER_CTX_free(r->aead);
        goto fail;  /* no chunk is empty: a cut file */
    }
    *out = r;
    return 0;
fail:
    if (r->fd >= 0)
        close(r->fd);
    free(r);
    return rc;
}

enum chunk_encoding chunkstore_reader_encoding(const chunk_reader *r) { return r->enc; }


/* The last piece is handed out only after the tag checked out: a reader
 * that stops at the known size (an HTTP response with Content-Length) must
 * still never pass on damaged bytes as a whole chunk. */
ssize_t chunkstore_reader_read(chunk_reader *r, void *buf, size_t cap)
{
    if (r->done == r->size)
        return 0;
    size_t want = r->size - r->done < cap ? (size_t)(r->size - r->done) : cap;
    if (want > INT32_MAX)
        want = INT32_MAX;
    ssize_t n = pread(r->fd, buf, want, (off_t)(HDR_LEN + r->done));
    int outl;
    if (n <= 0)
        return CS_IO;
    /* GCM decrypts in place: no second buffer. */
    if (EVP_DecryptUpdate(r->aead, buf, &outl, buf, (int)n) != 1 || outl != n)
        return CS_CORRUPT;
    r->done += (uint64_t)n;
    if (r->done == r->size && reader_verify_tag(r) != 0)
        return CS_CORRUPT;
    return n;
}

void chunkstore_reader_free(chunk_reader *r)
{
    if (!r)
        return;
    close(r->fd);
    EVP_CIPHER_CTX_free(r->aead);
    free(r);
}
