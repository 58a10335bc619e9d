/* tl_hash64: the word-wise tail must hash exactly as the byte copy it
   replaced, at every length and alignment, and the hash must spread. */
#include <criterion/criterion.h>
#include <string.h>

#include "core/hash.h"

/* The reference: the tail copied byte by byte into a zeroed word. */
static uint64_t reference(const void *p, size_t len, uint64_t seed)
{
        const unsigned char *s = p;
        uint64_t h = seed ^ (len * UINT64_C(0x9e3779b97f4a7c15));

        for (; len >= 8; s += 8, len -= 8) {
                uint64_t w = 0;

                for (int i = 0; i < 8; i++)
                        w |= (uint64_t)s[i] << (8 * i);
                h = (h ^ w) * UINT64_C(0xff51afd7ed558ccd);
                h ^= h >> 32;
        }
        if (len) {
                uint64_t w = 0;

                for (size_t i = 0; i < len; i++)
                        w |= (uint64_t)s[i] << (8 * i);
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

Test(hash, every_length_and_alignment_hashes_as_the_reference)
{
        unsigned char buf[80];
        unsigned long long r = 99;

        for (int round = 0; round < 200; round++) {
                for (size_t i = 0; i < sizeof buf; i++) {
                        r = r * 6364136223846793005ULL + 1;
                        buf[i] = (unsigned char)(r >> 56);
                }
                for (size_t at = 0; at < 8; at++)
                        for (size_t len = 0; len + at <= 64; len++)
                                cr_assert_eq(tl_hash64(buf + at, len, r),
                                             reference(buf + at, len, r),
                                             "len %zu at %zu", len, at);
        }
}

Test(hash, the_length_and_each_byte_change_the_hash)
{
        /* "ab" + "" and "a" + "b" chained must differ; so must a string
           and the same one with a trailing zero byte. */
        cr_assert_neq(tl_hash64("a\0", 2, 1), tl_hash64("a", 1, 1));
        cr_assert_neq(tl_hash64("cust_00001", 10, 1),
                      tl_hash64("cust_00002", 10, 1));
        cr_assert_neq(tl_hash64("cust_0000100", 12, 1),
                      tl_hash64("cust_0000101", 12, 1));
}
