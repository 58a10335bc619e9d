/* loadgen's randomness, shared by the generator's files: splitmix64. */
#ifndef LG_RNG_H
#define LG_RNG_H

#include <stdint.h>

/* splitmix64: tiny state, full period, good enough spread for test data. */
static inline uint64_t next_u64(uint64_t *s)
{
        uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));

        z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
        z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
        return z ^ (z >> 31);
}

/* Uniform enough in [0, n) for n far below 2^64; 0 when n is 0. */
static inline uint64_t below(uint64_t *s, uint64_t n)
{
        return n ? next_u64(s) % n : 0;
}

static inline uint32_t below32(uint64_t *s, uint32_t n)
{
        return (uint32_t)below(s, n);
}

#endif
