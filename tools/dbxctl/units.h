/* units: numbers for people. Durations read from the command line ("30s",
 * "10m", "2h", "7d") and written back, byte counts with binary prefixes,
 * times of day, and progress bars. Pure functions; the caller owns every
 * buffer, and output is always NUL-terminated (cut short if too small). */
#ifndef DBXCTL_UNITS_H
#define DBXCTL_UNITS_H

#include <stddef.h>
#include <stdint.h>

/* Digits and one optional unit s, m, h or d (none: seconds); at least one
 * second. 0, or -1 for anything else or more than max seconds. */
int units_parse_duration(const char *s, uint64_t max, uint64_t *seconds);

/* "950 B", "1.5 KiB", "12.0 MiB" ... */
void units_bytes(uint64_t n, char *out, size_t len);
/* The two largest parts: "45 s", "3 min 20 s", "2 h 5 min", "7 d 1 h". */
void units_duration(uint64_t seconds, char *out, size_t len);
/* Local time "YYYY-MM-DD HH:MM:SS". */
void units_time(int64_t unix_seconds, char *out, size_t len);
/* "[#########-----------]" with width cells inside the brackets. */
void units_bar(uint64_t done, uint64_t total, int width, char *out, size_t len);

#endif
