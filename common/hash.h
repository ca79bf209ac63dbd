/* hash: SHA-256 fingerprints of chunks through OpenSSL EVP.
 * A hash_ctx is owned by one thread at a time; one-shot helpers need none. */
#ifndef DBX_HASH_H
#define DBX_HASH_H

#include <stddef.h>
#include <stdint.h>

#define HASH_LEN 32
#define HASH_HEX_LEN 64

typedef struct hash_ctx hash_ctx;

hash_ctx *hash_new(void);            /* NULL on allocation failure */
void hash_free(hash_ctx *h);
int hash_reset(hash_ctx *h);         /* start a new digest; 0 or -1 */
int hash_update(hash_ctx *h, const void *buf, size_t len);
int hash_final(hash_ctx *h, uint8_t out[HASH_LEN]);  /* then reset to reuse */

int hash_buf(const void *buf, size_t len, uint8_t out[HASH_LEN]);

void hash_to_hex(const uint8_t h[HASH_LEN], char out[HASH_HEX_LEN + 1]);
/* Strict: exactly 64 lowercase hex digits and a NUL. 0 or -1. */
int hash_from_hex(const char *hex, uint8_t out[HASH_LEN]);

#endif
