/* Name rules: what a node name may be, and UTF-8 well-formedness. */
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

int main(void)
{
    test_valid_names();
    test_reserved_and_bad_characters();
    test_lengths();
    test_bad_utf8();
    test_messages();
    return unit_done();
}
