/* urlsign: HMAC-SHA256 signed, expiring URLs. A signature binds the HTTP
 * method, the path (so one object) and the expiry time:
 *     sig = hex(HMAC-SHA256(key, METHOD "\n" PATH "\n" EXP))
 * and is checked in constant time. The key belongs to the caller. */
#ifndef DBX_URLSIGN_H
#define DBX_URLSIGN_H

#include <stddef.h>
#include <stdint.h>

#define URLSIGN_KEY_LEN 32
#define URLSIGN_SIG_HEX_LEN 64

enum urlsign_result {
    URLSIGN_OK = 0,
    URLSIGN_BAD = -1,      /* malformed, forged, or for another method/path */
    URLSIGN_EXPIRED = -2,  /* authentic but past its expiry */
};

/* Writes the 64-hex-digit signature and a NUL into sig. 0 or -1. */
int urlsign_sign(const uint8_t key[URLSIGN_KEY_LEN], const char *method,
                 const char *path, int64_t exp, char sig[URLSIGN_SIG_HEX_LEN + 1]);

/* Writes "PATH?exp=EXP&sig=SIG" into out. PATH may carry a query of its
 * own ("P?u=7"), which is signed with it: then "P?u=7&exp=EXP&sig=SIG".
 * 0, or -1 if cap is too small. */
int urlsign_make(const uint8_t key[URLSIGN_KEY_LEN], const char *method,
                 const char *path, int64_t exp, char *out, size_t cap);

/* Checks exp_str (decimal digits only) and sig_hex against method and path
 * at time now. The signature is compared in constant time and is checked
 * before the expiry, so an attacker learns nothing from which check failed
 * about a forged URL. NULL strings are URLSIGN_BAD. */
enum urlsign_result urlsign_verify(const uint8_t key[URLSIGN_KEY_LEN],
                                   const char *method, const char *path,
                                   const char *exp_str, const char *sig_hex,
                                   int64_t now);

#endif
