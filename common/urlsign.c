#include "urlsign.h"
#include "hex.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#define URLSIGN_MAC_LEN 32
#define URLSIGN_EXP_MAX_DIGITS 19   /* INT64_MAX has 19 digits */

/* The message is built in pieces so that no path length needs a buffer. */
static int mac(const uint8_t key[URLSIGN_KEY_LEN], const char *method,
               const char *path, int64_t exp, uint8_t out[URLSIGN_MAC_LEN])
{
    char exp_buf[24];
    int rc = -1;
    size_t n = 0;
    EVP_MAC *m = NULL;
    EVP_MAC_CTX *ctx = NULL;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string("digest", (char *)"SHA256", 0),
        OSSL_PARAM_construct_end(),
    };

    int elen = snprintf(exp_buf, sizeof exp_buf, "%" PRId64, exp);
    m = EVP_MAC_fetch(NULL, "HMAC", NULL);
    ctx = m ? EVP_MAC_CTX_new(m) : NULL;
    if (!ctx || elen < 0 || !EVP_MAC_init(ctx, key, URLSIGN_KEY_LEN, params)
        || !EVP_MAC_update(ctx, (const uint8_t *)method, strlen(method))
        || !EVP_MAC_update(ctx, (const uint8_t *)"\n", 1)
        || !EVP_MAC_update(ctx, (const uint8_t *)path, strlen(path))
        || !EVP_MAC_update(ctx, (const uint8_t *)"\n", 1)
        || !EVP_MAC_update(ctx, (const uint8_t *)exp_buf, (size_t)elen)
        || !EVP_MAC_final(ctx, out, &n, URLSIGN_MAC_LEN) || n != URLSIGN_MAC_LEN)
        goto out;
    rc = 0;
out:
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(m);
    return rc;
}

int urlsign_sign(const uint8_t key[URLSIGN_KEY_LEN], const char *method,
                 const char *path, int64_t exp, char sig[URLSIGN_SIG_HEX_LEN + 1])
{
    uint8_t raw[URLSIGN_MAC_LEN];
    if (!key || !method || !path || !sig || mac(key, method, path, exp, raw) != 0)
        return -1;
    hex_encode(raw, sizeof raw, sig);
    OPENSSL_cleanse(raw, sizeof raw);
    return 0;
}

int urlsign_make(const uint8_t key[URLSIGN_KEY_LEN], const char *method,
                 const char *path, int64_t exp, char *out, size_t cap)
{
    char sig[URLSIGN_SIG_HEX_LEN + 1];
    if (!out || urlsign_sign(key, method, path, exp, sig) != 0)
        return -1;
    const char *sep = strchr(path, '?') ? "&" : "?";  /* a signed query of its own */
    int n = snprintf(out, cap, "%s%sexp=%" PRId64 "&sig=%s", path, sep, exp, sig);
    if (n < 0 || (size_t)n >= cap) {
        if (cap > 0)
            out[0] = '\0';   /* never hand back a cut-off URL */
        return -1;
    }
    return 0;
}

/* 1..19 digits and nothing else: no sign, space or suffix that strtoll
 * would let through, and nothing beyond INT64_MAX. */
static int parse_exp(const char *s, int64_t *exp)
{
    size_t len = strnlen(s, URLSIGN_EXP_MAX_DIGITS + 1);
    if (len == 0 || len > URLSIGN_EXP_MAX_DIGITS)
        return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (uint64_t)(s[i] - '0');   /* 19 digits fit in uint64_t */
    }
    if (v > INT64_MAX)
        return -1;
    *exp = (int64_t)v;
    return 0;
}

enum urlsign_result urlsign_verify(const uint8_t key[URLSIGN_KEY_LEN],
                                   const char *method, const char *path,
                                   const char *exp_str, const char *sig_hex,
                                   int64_t now)
{
    uint8_t want[URLSIGN_MAC_LEN], got[URLSIGN_MAC_LEN];
    int64_t exp;
    enum urlsign_result rc = URLSIGN_BAD;
    if (!key || !method || !path || !exp_str || !sig_hex
        || parse_exp(exp_str, &exp) != 0
        || strnlen(sig_hex, URLSIGN_SIG_HEX_LEN + 1) != URLSIGN_SIG_HEX_LEN
        || hex_decode(sig_hex, URLSIGN_SIG_HEX_LEN, got, sizeof got) != 0
        || mac(key, method, path, exp, want) != 0)
        goto out;
    if (CRYPTO_memcmp(want, got, sizeof want) != 0)
        goto out;
    rc = now > exp ? URLSIGN_EXPIRED : URLSIGN_OK;
out:
    OPENSSL_cleanse(want, sizeof want);
    return rc;
}
