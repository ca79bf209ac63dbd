#include "names.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Length of the UTF-8 sequence starting at s, or 0 when it is malformed. */
static size_t utf8_seq(const unsigned char *s, size_t left)
{
    unsigned char c = s[0];
    if (c < 0x80)
        return 1;
    size_t n;
    uint32_t cp, min;
    if ((c & 0xe0) == 0xc0) { n = 2; cp = c & 0x1f; min = 0x80; }
    else if ((c & 0xf0) == 0xe0) { n = 3; cp = c & 0x0f; min = 0x800; }
    else if ((c & 0xf8) == 0xf0) { n = 4; cp = c & 0x07; min = 0x10000; }
    else return 0;
    if (n > left)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

int utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    while (len > 0) {
        size_t n = utf8_seq(p, len);
        if (n == 0)
            return 0;
        p += n;
        len -= n;
    }
    return 1;
}

enum name_check name_check(const char *name, size_t len)
{
    if (len == 0)
        return NAME_EMPTY;
    if (len > NAME_MAX_BYTES)
        return NAME_TOO_LONG;
    if (memchr(name, '/', len) || memchr(name, '\0', len))
        return NAME_BAD_CHAR;
    if ((len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.'))
        return NAME_DOT;
    if (!utf8_valid(name, len))
        return NAME_BAD_UTF8;
    return NAME_OK;
}

const char *name_check_message(enum name_check result)
{
    switch (result) {
    case NAME_OK: return "ok";
    case NAME_EMPTY: return "name is empty";
    case NAME_TOO_LONG: return "name is longer than 255 bytes";
    case NAME_BAD_CHAR: return "name contains '/' or NUL";
    case NAME_DOT: return "name is '.' or '..'";
    case NAME_BAD_UTF8: return "name is not valid UTF-8";
    }
    return "invalid name";
}

#define DEVICE_MAX 32
#define EXT_MAX 64

/* The device as it may appear in a name: printable, no '/' or ')', at most
 * DEVICE_MAX bytes and whole UTF-8 characters. */
static void device_part(const char *device, char out[DEVICE_MAX + 1])
{
    size_t n = 0;

    for (const char *p = device ? device : ""; *p && n < DEVICE_MAX; p++) {
        unsigned char c = (unsigned char)*p;
        if (c >= 0x20 && c != 0x7f && c != '/' && c != ')')
            out[n++] = (char)c;
    }
    while (n > 0 && !utf8_valid(out, n))
        n--;                          /* a character cut at the end */
    out[n] = '\0';
}

/* Length of the longest prefix of name[0..len) that ends on a character. */
static size_t utf8_cut(const char *name, size_t len)
{
    while (len > 0 && ((unsigned char)name[len] & 0xc0) == 0x80)
        len--;
    return len;
}

void name_conflicted(const char *name, const char *device, time_t when,
                     unsigned attempt, char out[NAME_MAX_BYTES + 1])
{
    char tag[128], dev[DEVICE_MAX + 1], count[16] = "";
    const char *dot = strrchr(name, '.');
    struct tm tm;
    size_t stem, ext;
    int n;

    gmtime_r(&when, &tm);
    device_part(device, dev);
    if (attempt > 1)
        snprintf(count, sizeof count, " %u", attempt);
    n = snprintf(tag, sizeof tag, " (conflicted copy %04d-%02d-%02d %02d%02d%02d%s%s%s)",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                 tm.tm_sec, dev[0] ? " " : "", dev, count);
    if (!dot || dot == name || strlen(dot) > EXT_MAX)
        dot = name + strlen(name);    /* no extension, or an odd one: all stem */
    ext = strlen(dot);
    stem = (size_t)(dot - name);
    if (stem > NAME_MAX_BYTES - (size_t)n - ext)
        stem = utf8_cut(name, NAME_MAX_BYTES - (size_t)n - ext);
    memcpy(out, name, stem);
    memcpy(out + stem, tag, (size_t)n);
    memcpy(out + stem + (size_t)n, dot, ext + 1);
}
