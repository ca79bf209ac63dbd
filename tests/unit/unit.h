/* unit: minimal check macros for the C unit tests. Each test is one program:
 * checks count passes and failures, and unit_done() prints the tally as
 * "test_NAME: P passed, F failed" and gives the exit status. */
#ifndef DBX_UNIT_H
#define DBX_UNIT_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

static struct { int pass, fail; } unit_tally;

static inline int unit_check(int ok, const char *expr, const char *file, int line)
{
    if (ok) {
        unit_tally.pass++;
        return 1;
    }
    unit_tally.fail++;
    fflush(stdout);
    fprintf(stderr, "%s:%d: CHECK failed: %s\n", file, line, expr);
    return 0;
}

static inline int unit_check_eq(long long a, long long b, const char *ea,
                                const char *eb, const char *file, int line)
{
    if (a == b) {
        unit_tally.pass++;
        return 1;
    }
    unit_tally.fail++;
    fflush(stdout);
    fprintf(stderr, "%s:%d: CHECK_EQ failed: %s == %lld, %s == %lld\n",
            file, line, ea, a, eb, b);
    return 0;
}

static inline int unit_check_str(const char *a, const char *b, const char *ea,
                                 const char *eb, const char *file, int line)
{
    if (a && b && strcmp(a, b) == 0) {
        unit_tally.pass++;
        return 1;
    }
    unit_tally.fail++;
    fflush(stdout);
    fprintf(stderr, "%s:%d: CHECK_STR failed: %s == \"%s\", %s == \"%s\"\n",
            file, line, ea, a ? a : "(null)", eb, b ? b : "(null)");
    return 0;
}

/* Each evaluates to 1 on success, so a test can stop early on failure. */
#define CHECK(cond) unit_check(!!(cond), #cond, __FILE__, __LINE__)
#define CHECK_EQ(a, b) \
    unit_check_eq((long long)(a), (long long)(b), #a, #b, __FILE__, __LINE__)
#define CHECK_STR(a, b) unit_check_str((a), (b), #a, #b, __FILE__, __LINE__)
#define CHECK_MEM(a, b, n) CHECK(memcmp((a), (b), (n)) == 0)

/* A directory walk as its callback saw it: the first 16 entries, how many
 * came, and the entry (stop_at, counted from 1) whose callback returns
 * stop_with to end the walk. */
struct unit_listing {
    char names[16][256];
    uint64_t ids[16];
    int n, stop_at, stop_with;
};

static inline int unit_listing_add(struct unit_listing *l, const char *name, uint64_t id)
{
    if (l->n < 16) {
        snprintf(l->names[l->n], sizeof(l->names[0]), "%s", name);
        l->ids[l->n] = id;
    }
    l->n++;
    return l->n == l->stop_at ? l->stop_with : 0;
}

/* Checks the names seen, in order, against want (NULL-terminated). */
#define CHECK_LISTING(l, want) unit_check_listing((l), (want), __FILE__, __LINE__)
static inline void unit_check_listing(const struct unit_listing *l, const char *const *want,
                                      const char *file, int line)
{
    int n = 0;

    while (want[n])
        n++;
    if (!unit_check_eq(l->n, n, "entries seen", "entries wanted", file, line))
        return;
    for (int i = 0; i < n; i++)
        unit_check_str(l->names[i], want[i], "name seen", "name wanted", file, line);
}

static inline int unit_finish(const char *file)
{
    const char *name = strrchr(file, '/');
    name = name ? name + 1 : file;
    int len = (int)strcspn(name, ".");
    printf("%.*s: %d passed, %d failed\n", len, name,
           unit_tally.pass, unit_tally.fail);
    return unit_tally.fail ? 1 : 0;
}

#define unit_done() unit_finish(__FILE__)

/* Deterministic test data: xorshift64*, never rand(), so every run and
 * every machine sees the same bytes. */
static inline uint64_t unit_rand(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545f4914f6cdd1dull;
}

static inline void unit_fill_random(uint8_t *buf, size_t len, uint64_t seed)
{
    uint64_t s = seed ? seed : 1;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        /* Byte by byte from the low end, so the data is endian-independent. */
        if (i % 8 == 0)
            v = unit_rand(&s);
        buf[i] = (uint8_t)(v >> (8 * (i % 8)));
    }
}

#endif
