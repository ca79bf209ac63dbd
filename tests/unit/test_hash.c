#include "hash.h"
#include "unit.h"

#include <stdlib.h>

static const char empty_hex[] =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
static const char abc_hex[] =
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
static const char million_a_hex[] =
    "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";

static void check_hex(const uint8_t h[HASH_LEN], const char *want)
{
    char hex[HASH_HEX_LEN + 1];
    hash_to_hex(h, hex);
    CHECK_STR(hex, want);
}

static void test_one_shot(void)
{
    uint8_t h[HASH_LEN];
    CHECK_EQ(hash_buf("", 0, h), 0);
    check_hex(h, empty_hex);
    CHECK_EQ(hash_buf("abc", 3, h), 0);
    check_hex(h, abc_hex);
}

/* Uneven pieces cross the 64-byte SHA-256 block size in every way. */
static void test_million_a(void)
{
    static const size_t pieces[] = { 1, 63, 64, 65, 127, 1000, 4093, 65536 };
    char *a = malloc(1000000);
    hash_ctx *h = hash_new();
    uint8_t out[HASH_LEN];
    if (!CHECK(a && h))
        goto out;
    memset(a, 'a', 1000000);
    size_t done = 0, failed = 0;
    for (size_t i = 0; done < 1000000; i++) {
        size_t n = pieces[i % (sizeof pieces / sizeof pieces[0])];
        if (n > 1000000 - done)
            n = 1000000 - done;
        failed += hash_update(h, a + done, n) != 0;
        done += n;
    }
    CHECK_EQ(failed, 0);
    CHECK_EQ(hash_final(h, out), 0);
    check_hex(out, million_a_hex);
    CHECK_EQ(hash_buf(a, 1000000, out), 0);
    check_hex(out, million_a_hex);
out:
    hash_free(h);
    free(a);
}

static void test_reuse(void)
{
    hash_ctx *h = hash_new();
    uint8_t out[HASH_LEN];
    if (!CHECK(h))
        return;
    CHECK_EQ(hash_update(h, "ab", 2), 0);
    CHECK_EQ(hash_update(h, "c", 1), 0);
    CHECK_EQ(hash_final(h, out), 0);
    check_hex(out, abc_hex);
    CHECK_EQ(hash_reset(h), 0);
    CHECK_EQ(hash_final(h, out), 0);
    check_hex(out, empty_hex);
    /* A reset drops bytes fed before it. */
    CHECK_EQ(hash_reset(h), 0);
    CHECK_EQ(hash_update(h, "junk", 4), 0);
    CHECK_EQ(hash_reset(h), 0);
    CHECK_EQ(hash_update(h, "abc", 3), 0);
    CHECK_EQ(hash_final(h, out), 0);
    check_hex(out, abc_hex);
    hash_free(h);
    hash_free(NULL);
}

static void test_hex_round_trip(void)
{
    uint8_t h[HASH_LEN], back[HASH_LEN];
    char hex[HASH_HEX_LEN + 1];
    CHECK_EQ(hash_buf("abc", 3, h), 0);
    hash_to_hex(h, hex);
    CHECK_EQ(strlen(hex), HASH_HEX_LEN);
    CHECK_EQ(hash_from_hex(hex, back), 0);
    CHECK_MEM(h, back, HASH_LEN);
}

static void test_from_hex_rejects(void)
{
    uint8_t out[HASH_LEN];
    char s[HASH_HEX_LEN + 2];
    strcpy(s, abc_hex);
    s[10] = 'F';                        /* uppercase */
    CHECK_EQ(hash_from_hex(s, out), -1);
    strcpy(s, abc_hex);
    s[0] = 'g';
    CHECK_EQ(hash_from_hex(s, out), -1);
    strcpy(s, abc_hex);
    s[63] = ' ';
    CHECK_EQ(hash_from_hex(s, out), -1);
    strcpy(s, abc_hex);
    s[63] = '\0';                       /* 63 digits */
    CHECK_EQ(hash_from_hex(s, out), -1);
    strcpy(s, abc_hex);
    strcat(s, "0");                     /* 65 digits */
    CHECK_EQ(hash_from_hex(s, out), -1);
    CHECK_EQ(hash_from_hex("", out), -1);
    CHECK_EQ(hash_from_hex(NULL, out), -1);
    CHECK_EQ(hash_from_hex(abc_hex, out), 0);
}

int main(void)
{
    test_one_shot();
    test_million_a();
    test_reuse();
    test_hex_round_trip();
    test_from_hex_rejects();
    return unit_done();
}
