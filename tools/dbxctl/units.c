/* units: see units.h. */
#include "units.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int units_parse_duration(const char *s, uint64_t max, uint64_t *seconds)
{
    static const struct { char unit; uint64_t mult; } units[] = {
        {'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400},
    };
    size_t digits = strspn(s, "0123456789");
    uint64_t mult = 1, n;

    /* Digits only, checked first: strtoull would also take "-1" and " 5". */
    if (digits == 0 || digits > 12)
        return -1;
    if (s[digits] != '\0') {
        size_t i = 0;
        while (i < sizeof(units) / sizeof(units[0]) && units[i].unit != s[digits])
            i++;
        if (i == sizeof(units) / sizeof(units[0]) || s[digits + 1] != '\0')
            return -1;
        mult = units[i].mult;
    }
    n = strtoull(s, NULL, 10);
    if (n == 0 || n > max / mult)
        return -1;
    *seconds = n * mult;
    return 0;
}

void units_bytes(uint64_t n, char *out, size_t len)
{
    static const char *const prefix[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    double v = (double)n;
    int i = -1;

    if (n < 1024) {
        snprintf(out, len, "%llu B", (unsigned long long)n);
        return;
    }
    while (v >= 1024 && i < 5) {
        v /= 1024;
        i++;
    }
    snprintf(out, len, "%.1f %s", v, prefix[i]);
}

void units_duration(uint64_t s, char *out, size_t len)
{
    unsigned long long d = s / 86400, h = s / 3600 % 24, m = s / 60 % 60,
                       sec = s % 60;

    if (d)
        snprintf(out, len, "%llu d %llu h", d, h);
    else if (h)
        snprintf(out, len, "%llu h %llu min", h, m);
    else if (m)
        snprintf(out, len, "%llu min %llu s", m, sec);
    else
        snprintf(out, len, "%llu s", sec);
}

void units_time(int64_t unix_seconds, char *out, size_t len)
{
    time_t t = (time_t)unix_seconds;
    struct tm tm;

    if (!localtime_r(&t, &tm) || strftime(out, len, "%Y-%m-%d %H:%M:%S", &tm) == 0)
        snprintf(out, len, "%lld", (long long)unix_seconds);
}

void units_bar(uint64_t done, uint64_t total, int width, char *out, size_t len)
{
    int full = total ? (int)((double)(done > total ? total : done) / (double)total * width)
                     : 0;
    size_t i = 0;

    if (len < (size_t)width + 3) {
        if (len)
            out[0] = '\0';
        return;
    }
    out[i++] = '[';
    for (int k = 0; k < width; k++)
        out[i++] = k < full ? '#' : '-';
    out[i++] = ']';
    out[i] = '\0';
}
