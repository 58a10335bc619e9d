/* A fast 64-bit hash for in-memory tables (customers, groups, dedup). */
#ifndef TL_HASH_H
#define TL_HASH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/*
** Hash 'len' bytes at 'p', chained from 'seed'. Eight bytes a step with a
** multiply-xorshift mix and a final avalanche (MurmurHash3's fmix64): good
** spread for hash tables, several times faster than byte-wise FNV. Not a
** defence against chosen collisions: tables that key on it compare the
** full key, so a collision costs time, never correctness.
*/
static inline uint64_t tl_hash64(const void *p, size_t len, uint64_t seed)
{
        const unsigned char *s = p;
        const size_t total = len;
        uint64_t h = seed ^ (len * UINT64_C(0x9e3779b97f4a7c15));

        while (len >= 8) {
                uint64_t w;

                memcpy(&w, s, 8);
                h = (h ^ w) * UINT64_C(0xff51afd7ed558ccd);
                h ^= h >> 32;
                s += 8;
                len -= 8;
        }
        if (len) {
                /* The 1-7 tail bytes as a little-endian word, zeros above:
                   what memcpy(&w, s, len) into a zeroed word gives, without
                   the library call a variable length costs. */
                uint64_t w = 0;

                if (total >= 8) {
                        memcpy(&w, s + len - 8, 8);
                        w >>= (8 - len) * 8;
                } else {
                        size_t off = 0;

                        if (len & 4) {
                                uint32_t x;

                                memcpy(&x, s, 4);
                                w = x;
                                off = 4;
                        }
                        if (len & 2) {
                                uint16_t y;

                                memcpy(&y, s + off, 2);
                                w |= (uint64_t)y << (off * 8);
                                off += 2;
                        }
                        if (len & 1)
                                w |= (uint64_t)s[off] << (off * 8);
                }
                h = (h ^ w) * UINT64_C(0xc4ceb9fe1a85ec53);
                h ^= h >> 29;
        }
        h ^= h >> 33;
        h *= UINT64_C(0xff51afd7ed558ccd);
        h ^= h >> 33;
        h *= UINT64_C(0xc4ceb9fe1a85ec53);
        h ^= h >> 33;
        return h;
}

#endif
