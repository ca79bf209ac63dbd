#include "urlsign.h"
#include "unit.h"

#define EXP 1700000000
#define EXP_STR "1700000000"
#define PATH_A "/chunks/ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
#define PATH_B "/chunks/e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static const uint8_t key[URLSIGN_KEY_LEN] = {
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
    16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31 };

/* Computed independently (Python hmac) to pin the message layout. */
static void test_known_vector(void)
{
    char sig[URLSIGN_SIG_HEX_LEN + 1];
    CHECK_EQ(urlsign_sign(key, "GET", "/chunks/abc", EXP, sig), 0);
    CHECK_STR(sig, "e2c8f913364dd230c361cd888fa95fcb"
                   "3685be7f13c8629cfec719dd46209d3c");
}

static void test_round_trip(char sig[URLSIGN_SIG_HEX_LEN + 1])
{
    CHECK_EQ(urlsign_sign(key, "PUT", PATH_A, EXP, sig), 0);
    CHECK_EQ(strlen(sig), URLSIGN_SIG_HEX_LEN);
    CHECK_EQ(urlsign_verify(key, "PUT", PATH_A, EXP_STR, sig, EXP - 100), URLSIGN_OK);
    CHECK_EQ(urlsign_verify(key, "PUT", PATH_A, EXP_STR, sig, EXP), URLSIGN_OK);
}

static void test_forgeries(const char *sig)
{
    char s[URLSIGN_SIG_HEX_LEN + 2];
    uint8_t other[URLSIGN_KEY_LEN];
    int64_t now = EXP - 100;
    CHECK_EQ(urlsign_verify(key, "GET", PATH_A, EXP_STR, sig, now), URLSIGN_BAD);
    CHECK_EQ(urlsign_verify(key, "PUT", PATH_B, EXP_STR, sig, now), URLSIGN_BAD);
    CHECK_EQ(urlsign_verify(key, "PUT", PATH_A, "1700000001", sig, now), URLSIGN_BAD);
    memset(other, 0x5a, sizeof other);
    CHECK_EQ(urlsign_verify(other, "PUT", PATH_A, EXP_STR, sig, now), URLSIGN_BAD);

    strcpy(s, sig);
    s[17] = s[17] == '0' ? '1' : '0';        /* one digit flipped */
    CHECK_EQ(urlsign_verify(key, "PUT", PATH_A, EXP_STR, s, now), URLSIGN_BAD);
    strcpy(s, sig);
    s[63] = '\0';                            /* truncated */
    CHECK_EQ(urlsign_verify(key, "PUT", PATH_A, EXP_STR, s, now), URLSIGN_BAD);
    strcpy(s, sig);
    strcat(s, "0");                          /* too long */
    CHECK_EQ(urlsign_verify(key, "PUT", PATH_A, EXP_STR, s, now), URLSIGN_BAD);
    strcpy(s, sig);
    s[5] = 'z';                              /* not hex */
    CHECK_EQ(urlsign_verify(key, "PUT", PATH_A, EXP_STR, s, now), URLSIGN_BAD);
    CHECK_EQ(urlsign_verify(key, "PUT", PATH_A, EXP_STR, "", now), URLSIGN_BAD);
}

static void test_bad_exp(const char *sig)
{
    static const char *bad[] = {
        "", "+1700000000", "-1700000000", " 1700000000", "1700000000 ",
        "1700000000x", "17000000OO", "0x65536", "1.7e9",
        "12345678901234567890",              /* 20 digits */
        "9223372036854775808",               /* INT64_MAX + 1 */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_EQ(urlsign_verify(key, "PUT", PATH_A, bad[i], sig, 0), URLSIGN_BAD);

    /* A negative expiry can be signed but never verified. */
    char neg[URLSIGN_SIG_HEX_LEN + 1];
    CHECK_EQ(urlsign_sign(key, "PUT", PATH_A, -5, neg), 0);
    CHECK_EQ(urlsign_verify(key, "PUT", PATH_A, "-5", neg, -10), URLSIGN_BAD);

    char max[URLSIGN_SIG_HEX_LEN + 1];
    CHECK_EQ(urlsign_sign(key, "GET", PATH_A, INT64_MAX, max), 0);
    CHECK_EQ(urlsign_verify(key, "GET", PATH_A, "9223372036854775807", max, EXP),
             URLSIGN_OK);
}

static void test_nulls(const char *sig)
{
    char out[URLSIGN_SIG_HEX_LEN + 1];
    int64_t now = EXP - 1;
    CHECK_EQ(urlsign_verify(NULL, "PUT", PATH_A, EXP_STR, sig, now), URLSIGN_BAD);
    CHECK_EQ(urlsign_verify(key, NULL, PATH_A, EXP_STR, sig, now), URLSIGN_BAD);
    CHECK_EQ(urlsign_verify(key, "PUT", NULL, EXP_STR, sig, now), URLSIGN_BAD);
    CHECK_EQ(urlsign_verify(key, "PUT", PATH_A, NULL, sig, now), URLSIGN_BAD);
    CHECK_EQ(urlsign_verify(key, "PUT", PATH_A, EXP_STR, NULL, now), URLSIGN_BAD);
    CHECK_EQ(urlsign_sign(key, NULL, PATH_A, EXP, out), -1);
    CHECK_EQ(urlsign_sign(key, "PUT", NULL, EXP, out), -1);
}

static void test_expiry(const char *sig)
{
    CHECK_EQ(urlsign_verify(key, "PUT", PATH_A, EXP_STR, sig, EXP + 1),
             URLSIGN_EXPIRED);
    /* Forged and expired: the forgery is what gets reported. */
    CHECK_EQ(urlsign_verify(key, "GET", PATH_A, EXP_STR, sig, EXP + 1),
             URLSIGN_BAD);
}

static void test_make(const char *sig)
{
    char url[256], want[256];
    snprintf(want, sizeof want, "%s?exp=%s&sig=%s", PATH_A, EXP_STR, sig);
    CHECK_EQ(urlsign_make(key, "PUT", PATH_A, EXP, url, sizeof url), 0);
    CHECK_STR(url, want);
    size_t need = strlen(want) + 1;
    CHECK_EQ(urlsign_make(key, "PUT", PATH_A, EXP, url, need), 0);
    CHECK_STR(url, want);
    CHECK_EQ(urlsign_make(key, "PUT", PATH_A, EXP, url, need - 1), -1);
    CHECK_EQ(url[0], '\0');
    CHECK_EQ(urlsign_make(key, "PUT", PATH_A, EXP, url, 0), -1);
}

/* A path with a query of its own is signed with that query. */
static void test_make_with_query(void)
{
    char path[256], url[512], sig[URLSIGN_SIG_HEX_LEN + 1], want[512];
    snprintf(path, sizeof path, "%s?u=7", PATH_A);
    CHECK_EQ(urlsign_make(key, "PUT", path, EXP, url, sizeof url), 0);
    CHECK_EQ(urlsign_sign(key, "PUT", path, EXP, sig), 0);
    snprintf(want, sizeof want, "%s&exp=%s&sig=%s", path, EXP_STR, sig);
    CHECK_STR(url, want);
    CHECK_EQ(urlsign_verify(key, "PUT", path, EXP_STR, sig, EXP), URLSIGN_OK);
    snprintf(path, sizeof path, "%s?u=8", PATH_A);  /* another account */
    CHECK_EQ(urlsign_verify(key, "PUT", path, EXP_STR, sig, EXP), URLSIGN_BAD);
    CHECK_EQ(urlsign_verify(key, "PUT", PATH_A, EXP_STR, sig, EXP), URLSIGN_BAD);
}

int main(void)
{
    char sig[URLSIGN_SIG_HEX_LEN + 1];
    test_known_vector();
    test_round_trip(sig);
    test_forgeries(sig);
    test_bad_exp(sig);
    test_nulls(sig);
    test_expiry(sig);
    test_make(sig);
    test_make_with_query();
    return unit_done();
}
