/* Name rules: what a node name may be, and UTF-8 well-formedness. */
#include <stdio.h>
#include <string.h>

#include "names.h"
#include "unit.h"

static enum name_check check(const char *s)
{
    return name_check(s, strlen(s));
}

static void test_valid_names(void)
{
    CHECK_EQ(check("a"), NAME_OK);
    CHECK_EQ(check("report.pdf"), NAME_OK);
    CHECK_EQ(check("..."), NAME_OK);
    CHECK_EQ(check(".hidden"), NAME_OK);
    CHECK_EQ(check("a b\tc"), NAME_OK);
    CHECK_EQ(check("caf\xc3\xa9"), NAME_OK);              /* é */
    CHECK_EQ(check("\xe2\x82\xac"), NAME_OK);             /* € */
    CHECK_EQ(check("\xf0\x9f\x98\x80"), NAME_OK);         /* U+1F600 */
    CHECK_EQ(check("\xf4\x8f\xbf\xbf"), NAME_OK);         /* U+10FFFF, the last */
}

static void test_reserved_and_bad_characters(void)
{
    CHECK_EQ(check(""), NAME_EMPTY);
    CHECK_EQ(check("."), NAME_DOT);
    CHECK_EQ(check(".."), NAME_DOT);
    CHECK_EQ(check("a/b"), NAME_BAD_CHAR);
    CHECK_EQ(check("/"), NAME_BAD_CHAR);
    CHECK_EQ(check("../etc"), NAME_BAD_CHAR);
    CHECK_EQ(name_check("a\0b", 3), NAME_BAD_CHAR);     /* NUL inside the length */
}

static void test_lengths(void)
{
    char name[300];
    memset(name, 'x', sizeof name);
    CHECK_EQ(name_check(name, 255), NAME_OK);
    CHECK_EQ(name_check(name, 256), NAME_TOO_LONG);
    /* 255 bytes of multi-byte characters: 85 three-byte euro signs */
    for (int i = 0; i < 85; i++)
        memcpy(name + 3 * i, "\xe2\x82\xac", 3);
    CHECK_EQ(name_check(name, 255), NAME_OK);
    memcpy(name + 255, "\xe2\x82\xac", 3);
    CHECK_EQ(name_check(name, 258), NAME_TOO_LONG);
}

static void test_bad_utf8(void)
{
    const char *bad[] = {
        "\xff", "\xfe\xff", "abc\x80", "\xc0\xaf",         /* overlong '/' */
        "\xe0\x80\xaf", "\xf0\x80\x80\xaf",                /* more overlong '/' */
        "\xed\xa0\x80",                                    /* a surrogate */
        "\xf4\x90\x80\x80",                                /* above U+10FFFF */
        "\xe2\x82", "\xc3", "\xf0\x9f\x98",                /* cut short */
        "\xc3\x28",                                        /* bad continuation */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_EQ(check(bad[i]), NAME_BAD_UTF8);
        CHECK(!utf8_valid(bad[i], strlen(bad[i])));
    }
    CHECK(utf8_valid("", 0));
    CHECK(utf8_valid("plain ascii", 11));
}

static void test_messages(void)
{
    for (int r = NAME_OK; r <= NAME_BAD_UTF8; r++)
        CHECK(strlen(name_check_message((enum name_check)r)) > 0);
}

/* 2026-12-03 14:26:57 UTC */
#define WHEN ((time_t)1796308017)

static void test_conflicted_names(void)
{
    char out[NAME_MAX_BYTES + 1];

    name_conflicted("report.pdf", NULL, WHEN, 1, out);
    CHECK_STR(out, "report (conflicted copy 2026-12-03 142657).pdf");
    name_conflicted("report.pdf", "laptop", WHEN, 1, out);
    CHECK_STR(out, "report (conflicted copy 2026-12-03 142657 laptop).pdf");
    name_conflicted("report.pdf", "laptop", WHEN, 3, out);
    CHECK_STR(out, "report (conflicted copy 2026-12-03 142657 laptop 3).pdf");
    name_conflicted("n1", "", WHEN, 2, out);
    CHECK_STR(out, "n1 (conflicted copy 2026-12-03 142657 2)");
    name_conflicted(".bashrc", NULL, WHEN, 1, out);      /* a dot file has no extension */
    CHECK_STR(out, ".bashrc (conflicted copy 2026-12-03 142657)");
    name_conflicted("a.tar.gz", NULL, WHEN, 1, out);     /* the last dot */
    CHECK_STR(out, "a.tar (conflicted copy 2026-12-03 142657).gz");
    /* what a device name may not bring into a name */
    name_conflicted("x", "we/ird)\n\x01host", WHEN, 1, out);
    CHECK_STR(out, "x (conflicted copy 2026-12-03 142657 weirdhost)");
    CHECK_EQ(name_check(out, strlen(out)), NAME_OK);
}

static void test_conflicted_names_fit(void)
{
    char out[NAME_MAX_BYTES + 1], name[300], ext[80];

    /* a 255-byte name keeps its extension; the stem is cut */
    memset(name, 'a', 251);
    strcpy(name + 251, ".txt");
    name_conflicted(name, "device-with-a-long-name-0123456789", WHEN, 99, out);
    CHECK_EQ(strlen(out), 255);
    CHECK(strcmp(out + 251, ".txt") == 0);
    CHECK_EQ(name_check(out, strlen(out)), NAME_OK);
    /* a cut never splits a UTF-8 character (3-byte euro signs) */
    for (int i = 0; i < 85; i++)
        memcpy(name + 3 * i, "\xe2\x82\xac", 3);
    name[255] = '\0';
    for (unsigned attempt = 1; attempt < 2000; attempt += 97) {
        name_conflicted(name, "dev", WHEN, attempt, out);
        CHECK(strlen(out) <= 255);
        CHECK_EQ(name_check(out, strlen(out)), NAME_OK);
    }
    /* an extension over 64 bytes is part of the stem (and may be cut) */
    memset(ext, 'e', 70);
    ext[70] = '\0';
    snprintf(name, sizeof name, "short.%s", ext);
    name_conflicted(name, NULL, WHEN, 1, out);
    CHECK(strncmp(out, name, strlen(name)) == 0);
    CHECK(strstr(out, "(conflicted copy") == out + strlen(name) + 1);
    /* every attempt gives another name */
    char first[256];
    name_conflicted("n1", "a", WHEN, 1, first);
    name_conflicted("n1", "a", WHEN, 2, out);
    CHECK(strcmp(first, out) != 0);
}

int main(void)
{
    test_valid_names();
    test_reserved_and_bad_characters();
    test_lengths();
    test_bad_utf8();
    test_messages();
    test_conflicted_names();
    test_conflicted_names_fit();
    return unit_done();
}
