/* Exact amounts over GMP rationals; one half-to-even rounding. */
#include "rating/money.h"

#include <stdbool.h>
#include <string.h>

void rate_amount_init(struct rate_amount *a)
{
        mpq_init(a->q);
}

void rate_amount_release(struct rate_amount *a)
{
        mpq_clear(a->q);
}

/* A signed 128-bit integer into 'z'. */
static void mpz_set_i128(mpz_t z, tl_i128 v)
{
        tl_u128 mag = v < 0 ? (tl_u128)0 - (tl_u128)v : (tl_u128)v;
        uint64_t words[2] = {(uint64_t)mag, (uint64_t)(mag >> 64)};

        mpz_import(z, 2, -1, sizeof words[0], 0, 0, words);
        if (v < 0)
                mpz_neg(z, z);
}

void rate_amount_set_dec(struct rate_amount *a, const struct tl_dec *d)
{
        mpz_set_i128(mpq_numref(a->q), d->coef);
        mpz_ui_pow_ui(mpq_denref(a->q), 10, (unsigned long)d->scale);
        mpq_canonicalize(a->q);
}

void rate_amount_set_u128(struct rate_amount *a, tl_u128 v)
{
        uint64_t words[2] = {(uint64_t)v, (uint64_t)(v >> 64)};

        mpz_import(mpq_numref(a->q), 2, -1, sizeof words[0], 0, 0, words);
        mpz_set_ui(mpq_denref(a->q), 1);
}

void rate_amount_add(struct rate_amount *a, const struct rate_amount *b)
{
        mpq_add(a->q, a->q, b->q);
}

void rate_amount_mul_dec(struct rate_amount *a, const struct tl_dec *d)
{
        struct rate_amount t;

        rate_amount_init(&t);
        rate_amount_set_dec(&t, d);
        mpq_mul(a->q, a->q, t.q);
        rate_amount_release(&t);
}

void rate_amount_mul_ratio(struct rate_amount *a, unsigned long num,
                           unsigned long den)
{
        mpq_t t;

        mpq_init(t);
        mpq_set_ui(t, num, den);
        mpq_canonicalize(t);
        mpq_mul(a->q, a->q, t);
        mpq_clear(t);
}

/* 'z' as a tl_i128 when it fits in 127 bits and a sign. */
static int mpz_get_i128(const mpz_t z, tl_i128 *out)
{
        uint64_t words[2] = {0, 0};
        size_t count = 0;
        tl_u128 mag;

        if (mpz_sizeinbase(z, 2) > 127)
                return 0;
        mpz_export(words, &count, -1, sizeof words[0], 0, 0, z);
        mag = (tl_u128)words[1] << 64 | words[0];
        *out = mpz_sgn(z) < 0 ? -(tl_i128)mag : (tl_i128)mag;
        return 1;
}

tl_status rate_amount_round_digits(const struct rate_amount *a, unsigned digits,
                                   struct tl_dec *out, struct tl_error *err)
{
        mpz_t n, q, r;
        tl_i128 coef;
        int cmp, ok;

        if (digits > TL_DEC_MAX_SCALE)
                return tl_fail(err, TL_ERANGE, "%u digits is too fine", digits);
        mpz_inits(n, q, r, NULL);
        /* Scale, then floor-divide: 0 <= r < den since the denominator of
           a canonical rational is positive. Half to even from there. */
        mpz_ui_pow_ui(n, 10, digits);
        mpz_mul(n, n, mpq_numref(a->q));
        mpz_fdiv_qr(q, r, n, mpq_denref(a->q));
        mpz_mul_2exp(r, r, 1);
        cmp = mpz_cmp(r, mpq_denref(a->q));
        if (cmp > 0 || (cmp == 0 && mpz_odd_p(q)))
                mpz_add_ui(q, q, 1);
        ok = mpz_get_i128(q, &coef);
        mpz_clears(n, q, r, NULL);
        if (!ok)
                return tl_fail(err, TL_EOVERFLOW,
                               "amount too large for 38 digits");
        out->coef = coef;
        out->scale = (int32_t)digits;
        return TL_OK;
}

tl_status rate_amount_round(const struct rate_amount *a,
                            const struct rate_currency *cur, struct tl_dec *out,
                            struct tl_error *err)
{
        return rate_amount_round_digits(a, cur->minor_digits, out, err);
}

void rate_amount_set(struct rate_amount *a, const struct rate_amount *b)
{
        mpq_set(a->q, b->q);
}

void rate_amount_sub(struct rate_amount *a, const struct rate_amount *b)
{
        mpq_sub(a->q, a->q, b->q);
}

void rate_amount_mul(struct rate_amount *a, const struct rate_amount *b)
{
        mpq_mul(a->q, a->q, b->q);
}

void rate_amount_div_dec(struct rate_amount *a, const struct tl_dec *d)
{
        struct rate_amount t;

        rate_amount_init(&t);
        rate_amount_set_dec(&t, d);
        mpq_div(a->q, a->q, t.q);
        rate_amount_release(&t);
}

void rate_amount_ceil(struct rate_amount *a)
{
        mpz_cdiv_q(mpq_numref(a->q), mpq_numref(a->q), mpq_denref(a->q));
        mpz_set_ui(mpq_denref(a->q), 1);
}

int rate_amount_cmp(const struct rate_amount *a, const struct rate_amount *b)
{
        return mpq_cmp(a->q, b->q);
}

int rate_amount_sign(const struct rate_amount *a)
{
        return mpq_sgn(a->q);
}

/* How many times 'f' divides 'z' (which it divides out). */
static unsigned strip(mpz_t z, unsigned long f)
{
        mpz_t fz;
        unsigned n;

        mpz_init_set_ui(fz, f);
        n = (unsigned)mpz_remove(z, z, fz);
        mpz_clear(fz);
        return n;
}

size_t rate_amount_format_exact(const struct rate_amount *a, char *out,
                                size_t size)
{
        void (*gmp_free)(void *, size_t);
        mpz_t den, n;
        unsigned twos, fives, digits;
        size_t nd, w = 0, need;
        bool neg;
        char *s;

        /* Only a denominator of 2^i 5^j has a finite decimal: 10^max(i, j)
           clears it. */
        mpz_init_set(den, mpq_denref(a->q));
        twos = strip(den, 2);
        fives = strip(den, 5);
        if (mpz_cmp_ui(den, 1) != 0) {
                mpz_clear(den);
                return 0;
        }
        mpz_clear(den);
        digits = twos > fives ? twos : fives;
        mpz_init(n);
        mpz_ui_pow_ui(n, 10, digits);
        mpz_mul(n, n, mpq_numref(a->q));
        mpz_divexact(n, n, mpq_denref(a->q));
        neg = mpz_sgn(n) < 0;
        mpz_abs(n, n);
        s = mpz_get_str(NULL, 10, n);
        mpz_clear(n);
        nd = strlen(s);
        need = neg + (nd > digits ? nd : digits + 1) + (digits ? 1 : 0) + 1;
        if (need <= size) {
                if (neg)
                        out[w++] = '-';
                if (nd <= digits) {
                        out[w++] = '0';
                        out[w++] = '.';
                        for (size_t z = nd; z < digits; z++)
                                out[w++] = '0';
                        memcpy(out + w, s, nd);
                        w += nd;
                } else {
                        memcpy(out + w, s, nd - digits);
                        w += nd - digits;
                        if (digits) {
                                out[w++] = '.';
                                memcpy(out + w, s + nd - digits, digits);
                                w += digits;
                        }
                }
                out[w] = '\0';
        }
        mp_get_memory_functions(NULL, NULL, &gmp_free);
        gmp_free(s, nd + 1);
        return w;
}
