#include "hash.h"
#include "hex.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

struct hash_ctx {
    EVP_MD *md;        /* fetched once: implicit fetches per digest are slow */
    EVP_MD_CTX *ctx;
};

hash_ctx *hash_new(void)
{
    hash_ctx *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    h->md = EVP_MD_fetch(NULL, "SHA256", NULL);
    h->ctx = EVP_MD_CTX_new();
    if (!h->md || !h->ctx || hash_reset(h) != 0) {
        hash_free(h);
        return NULL;
    }
    return h;
}

void hash_free(hash_ctx *h)
{
    if (!h)
        return;
    EVP_MD_CTX_free(h->ctx);
    EVP_MD_free(h->md);
    free(h);
}

int hash_reset(hash_ctx *h)
{
    return EVP_DigestInit_ex2(h->ctx, h->md, NULL) == 1 ? 0 : -1;
}

int hash_update(hash_ctx *h, const void *buf, size_t len)
{
    return EVP_DigestUpdate(h->ctx, buf, len) == 1 ? 0 : -1;
}

int hash_final(hash_ctx *h, uint8_t out[HASH_LEN])
{
    unsigned int n = 0;
    if (EVP_DigestFinal_ex(h->ctx, out, &n) != 1 || n != HASH_LEN)
        return -1;
    return 0;
}

int hash_buf(const void *buf, size_t len, uint8_t out[HASH_LEN])
{
    unsigned int n = 0;
    if (EVP_Digest(buf, len, out, &n, EVP_sha256(), NULL) != 1 || n != HASH_LEN)
        return -1;
    return 0;
}

void hash_to_hex(const uint8_t h[HASH_LEN], char out[HASH_HEX_LEN + 1])
{
    hex_encode(h, HASH_LEN, out);
}

/* Hashes name objects in paths and keys, so exactly one spelling of each may
 * be accepted: uppercase or a longer string would alias the same chunk. */
int hash_from_hex(const char *hex, uint8_t out[HASH_LEN])
{
    if (!hex || strnlen(hex, HASH_HEX_LEN + 1) != HASH_HEX_LEN)
        return -1;
    for (size_t i = 0; i < HASH_HEX_LEN; i++) {
        char c = hex[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return -1;
    }
    return hex_decode(hex, HASH_HEX_LEN, out, HASH_LEN);
}
