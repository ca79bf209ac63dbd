#include "chunker.h"

#include <errno.h>
#include <stdlib.h>

/* Changing the seed changes every boundary ever computed (see chunker.h). */
#define GEAR_SEED 0x64627866732d6364ull   /* "dbxfs-cd" */
#define CHUNKER_MAX_LIMIT ((size_t)64 << 20)

struct chunker {
    size_t min_size, avg_size, max_size;
    uint64_t mask_s;   /* harder to match: used before avg_size */
    uint64_t mask_l;   /* easier to match: used from avg_size on */
    size_t n;          /* bytes of the current chunk seen so far */
    uint64_t fp;       /* gear fingerprint of the current chunk */
    uint64_t gear[256];
};

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static int params_valid(const chunker_params *p)
{
    size_t a = p->avg_size;
    return p->min_size >= 64 && a > p->min_size && (a & (a - 1)) == 0
        && p->max_size > a && p->max_size <= CHUNKER_MAX_LIMIT;
}

static unsigned log2_pow2(size_t v)
{
    unsigned b = 0;
    while (v >>= 1)
        b++;
    return b;
}

/* The gear hash shifts left, so its top bits depend on the most recent 64
 * bytes while low bits see only the last few; masks therefore take the top
 * bits. Normalization level 2: two bits more before avg, two fewer after,
 * which squeezes chunk sizes towards avg (FastCDC, Xia et al. 2016). */
static uint64_t top_mask(unsigned bits)
{
    return ~0ull << (64 - bits);
}

chunker *chunker_new(const chunker_params *params)
{
    static const chunker_params defaults = {
        CHUNKER_MIN_DEFAULT, CHUNKER_AVG_DEFAULT, CHUNKER_MAX_DEFAULT };
    const chunker_params *p = params ? params : &defaults;
    if (!params_valid(p)) {
        errno = EINVAL;
        return NULL;
    }
    chunker *c = malloc(sizeof *c);
    if (!c)
        return NULL;
    c->min_size = p->min_size;
    c->avg_size = p->avg_size;
    c->max_size = p->max_size;
    unsigned bits = log2_pow2(p->avg_size);
    c->mask_s = top_mask(bits + 2);
    c->mask_l = top_mask(bits - 2);
    uint64_t seed = GEAR_SEED;
    for (int i = 0; i < 256; i++)
        c->gear[i] = splitmix64(&seed);
    chunker_reset(c);
    return c;
}

void chunker_free(chunker *c)
{
    free(c);
}

void chunker_reset(chunker *c)
{
    c->n = 0;
    c->fp = 0;
}

/* Rolls the fingerprint over p[0..len). Returns how many bytes were taken:
 * up to and including the first one after which fp & mask is zero (*hit is
 * then set), or len. */
static size_t gear_scan(const uint64_t *gear, uint64_t *fpp, uint64_t mask,
                        const uint8_t *p, size_t len, int *hit)
{
    uint64_t fp = *fpp;
    for (size_t i = 0; i < len; i++) {
        fp = (fp << 1) + gear[p[i]];
        if (!(fp & mask)) {
            *fpp = fp;
            *hit = 1;
            return i + 1;
        }
    }
    *fpp = fp;
    return len;
}

/* Scans buf[*used..len) with mask while the chunk is shorter than limit. */
static int scan_until(chunker *c, const uint8_t *buf, size_t len,
                      size_t *used, size_t limit, uint64_t mask)
{
    int hit = 0;
    if (c->n >= limit || *used >= len)
        return 0;
    size_t want = limit - c->n;
    size_t avail = len - *used;
    size_t k = gear_scan(c->gear, &c->fp, mask, buf + *used,
                         want < avail ? want : avail, &hit);
    *used += k;
    c->n += k;
    return hit;
}

size_t chunker_feed(chunker *c, const uint8_t *buf, size_t len, int *boundary)
{
    size_t used = 0;
    *boundary = 0;
    if (c->n < c->min_size) {
        /* Cut-point skipping: no boundary can fall here, so don't hash. */
        size_t skip = c->min_size - c->n;
        used = skip < len ? skip : len;
        c->n += used;
    }
    if (scan_until(c, buf, len, &used, c->avg_size, c->mask_s)
        || scan_until(c, buf, len, &used, c->max_size, c->mask_l)
        || c->n >= c->max_size) {
        *boundary = 1;
        chunker_reset(c);
    }
    return used;
}
