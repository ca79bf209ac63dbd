#include "hex.h"
#include "unit.h"

static void test_encode(void)
{
    const uint8_t bin[] = { 0x00, 0x01, 0x7f, 0x80, 0xab, 0xff };
    char out[2 * sizeof bin + 1];
    memset(out, 'x', sizeof out);
    hex_encode(bin, sizeof bin, out);
    CHECK_STR(out, "00017f80abff");

    char empty[1] = { 'x' };
    hex_encode(bin, 0, empty);
    CHECK_EQ(empty[0], '\0');
}

static void test_decode(void)
{
    uint8_t out[4];
    CHECK_EQ(hex_decode("deadBEEF", 8, out, 4), 0);
    CHECK_MEM(out, "\xde\xad\xbe\xef", 4);
    CHECK_EQ(hex_decode("00ff10a9", 8, out, 4), 0);
    CHECK_MEM(out, "\x00\xff\x10\xa9", 4);
    CHECK_EQ(hex_decode("", 0, out, 0), 0);
}

static void test_decode_rejects(void)
{
    uint8_t out[4];
    CHECK_EQ(hex_decode("deadbee", 7, out, 4), -1);     /* too short */
    CHECK_EQ(hex_decode("deadbeef00", 10, out, 4), -1); /* too long */
    CHECK_EQ(hex_decode("deadbeef", 8, out, 3), -1);    /* len mismatch */
    CHECK_EQ(hex_decode("deadbeeg", 8, out, 4), -1);
    CHECK_EQ(hex_decode("dead beef", 8, out, 4), -1);
    CHECK_EQ(hex_decode("dead\0eef", 8, out, 4), -1);
    CHECK_EQ(hex_decode("0x0dbeef", 8, out, 4), -1);
    CHECK_EQ(hex_decode("+1234567", 8, out, 4), -1);
}

static void test_round_trip(void)
{
    uint8_t bin[256], back[256];
    char hex[2 * sizeof bin + 1];
    for (int i = 0; i < 256; i++)
        bin[i] = (uint8_t)(255 - i);
    hex_encode(bin, sizeof bin, hex);
    CHECK_EQ(strlen(hex), 512);
    CHECK_EQ(hex_decode(hex, strlen(hex), back, sizeof back), 0);
    CHECK_MEM(bin, back, sizeof bin);
}

int main(void)
{
    test_encode();
    test_decode();
    test_decode_rejects();
    test_round_trip();
    return unit_done();
}
