/* be: big-endian integers in byte buffers. LMDB compares keys as bytes, so
 * numbers stored big-endian in a key sort in numeric order (the mount's
 * metadb and blockcache, dbxd's metastore). The buffers are the caller's
 * and need no alignment. */
#ifndef DBX_BE_H
#define DBX_BE_H

#include <stdint.h>

static inline void put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static inline uint64_t get_be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

static inline void put_be32(uint8_t *p, uint32_t v)
{
    for (int i = 3; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static inline uint32_t get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

#endif
