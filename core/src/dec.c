/* Exact decimal arithmetic over signed 128-bit coefficients. */
#include "core/dec.h"

#include <string.h>

#define I128_MAX ((tl_i128)(~(tl_u128)0 >> 1))
#define U128_MAX (~(tl_u128)0)

tl_u128 tl_pow10_u128(unsigned n)
{
        tl_u128 p = 1;

        for (unsigned i = 0; i < n && i < 38; i++)
                p *= 10;
        return p;
}

static tl_u128 magnitude(tl_i128 v)
{
        return v < 0 ? (tl_u128)0 - (tl_u128)v : (tl_u128)v;
}

struct tl_dec tl_dec_from_i64(int64_t v)
{
        return (struct tl_dec){(tl_i128)v, 0};
}

tl_status tl_dec_from_u128(tl_u128 v, struct tl_dec *out, struct tl_error *err)
{
        if (v > (tl_u128)I128_MAX)
                return tl_fail(err, TL_EOVERFLOW, "count above 2^127 - 1");
        out->coef = (tl_i128)v;
        out->scale = 0;
        return TL_OK;
}

/* coef x 10^n, or false when it leaves the range. */
static bool scale_up(tl_i128 coef, unsigned n, tl_i128 *out)
{
        tl_i128 r = coef;

        for (unsigned i = 0; i < n; i++)
                if (__builtin_mul_overflow(r, 10, &r))
                        return false;
        *out = r;
        return true;
}

static bool is_digit(char c)
{
        return c >= '0' && c <= '9';
}

/*
** Accumulate a run of digits (with '_' only between two digits) into
** '*coef'. Counts digits in '*ndigits'. Returns false on a misplaced '_'
** or on overflow (then '*overflow' is set).
*/
static bool read_digits(const char *s, size_t len, size_t *i, tl_u128 *coef,
                        int *ndigits, bool *overflow)
{
        while (*i < len) {
                char c = s[*i];
                if (c == '_') {
                        if (*ndigits == 0 || *i + 1 >= len ||
                            !is_digit(s[*i + 1]))
                                return false;
                        (*i)++;
                        continue;
                }
                if (!is_digit(c))
                        break;
                unsigned digit = (unsigned)(c - '0');
                if (*coef > ((tl_u128)I128_MAX - digit) / 10) {
                        *overflow = true;
                        return false;
                }
                *coef = *coef * 10 + digit;
                (*ndigits)++;
                (*i)++;
        }
        return true;
}

static tl_status parse_exponent(const char *s, size_t len, size_t *i, int *exp,
                                struct tl_error *err)
{
        int sign = 1, v = 0, n = 0;

        (*i)++;
        if (*i < len && (s[*i] == '+' || s[*i] == '-'))
                sign = s[(*i)++] == '-' ? -1 : 1;
        while (*i < len && is_digit(s[*i])) {
                if (++n > 3)
                        return tl_fail(err, TL_ERANGE,
                                       "exponent too large in '%.*s'", (int)len,
                                       s);
                v = v * 10 + (s[(*i)++] - '0');
        }
        if (n == 0)
                return tl_fail(err, TL_EPARSE,
                               "exponent without digits in '%.*s'", (int)len,
                               s);
        *exp = sign * v;
        return TL_OK;
}

tl_status tl_dec_parse(const char *s, size_t len, struct tl_dec *out,
                       struct tl_error *err)
{
        size_t i = 0;
        bool neg = false, overflow = false;
        tl_u128 coef = 0;
        int int_digits = 0, frac_digits = 0, exp = 0, scale;
        tl_status rc;
        tl_i128 v;

        if (i < len && (s[i] == '+' || s[i] == '-'))
                neg = s[i++] == '-';
        if (!read_digits(s, len, &i, &coef, &int_digits, &overflow))
                goto bad_digits;
        if (i < len && s[i] == '.') {
                i++;
                if (!read_digits(s, len, &i, &coef, &frac_digits, &overflow))
                        goto bad_digits;
        }
        if (int_digits + frac_digits == 0)
                return tl_fail(err, TL_EPARSE, "'%.*s' is not a number",
                               (int)len, s);
        if (i < len && (s[i] == 'e' || s[i] == 'E')) {
                rc = parse_exponent(s, len, &i, &exp, err);
                if (rc)
                        return rc;
        }
        if (i != len)
                return tl_fail(err, TL_EPARSE,
                               "'%.*s' is not a number (unexpected '%c')",
                               (int)len, s, s[i]);
        v = neg ? -(tl_i128)coef : (tl_i128)coef;
        scale = frac_digits - exp;
        if (scale < 0) {
                if (!scale_up(v, (unsigned)-scale, &v))
                        return tl_fail(err, TL_ERANGE, "'%.*s' is too large",
                                       (int)len, s);
                scale = 0;
        }
        while (scale > TL_DEC_MAX_SCALE && v % 10 == 0) {
                v /= 10;
                scale--;
        }
        if (scale > TL_DEC_MAX_SCALE)
                return tl_fail(err, TL_ERANGE,
                               "'%.*s' has more than %d fractional digits",
                               (int)len, s, TL_DEC_MAX_SCALE);
        out->coef = v;
        out->scale = scale;
        return TL_OK;

bad_digits:
        if (overflow)
                return tl_fail(err, TL_ERANGE,
                               "'%.*s' has more than 38 significant digits",
                               (int)len, s);
        return tl_fail(err, TL_EPARSE,
                       "'%.*s' is not a number ('_' must sit between digits)",
                       (int)len, s);
}

size_t tl_u128_format(tl_u128 v, char *out, size_t size)
{
        char tmp[40];
        size_t n = 0;

        do {
                tmp[n++] = (char)('0' + (int)(v % 10));
                v /= 10;
        } while (v);
        if (n + 1 > size)
                return 0;
        for (size_t k = 0; k < n; k++)
                out[k] = tmp[n - 1 - k];
        out[n] = '\0';
        return n;
}

size_t tl_dec_format(const struct tl_dec *d, char *out, size_t size)
{
        char digits[41];
        size_t nd = tl_u128_format(magnitude(d->coef), digits, sizeof digits);
        size_t scale = (size_t)d->scale, o = 0, lead;

        /* At least one digit before the point: "0.05", never ".05". */
        lead = nd > scale ? 0 : scale + 1 - nd;
        if ((d->coef < 0) + lead + nd + (scale > 0) + 1 > size)
                return 0;
        if (d->coef < 0)
                out[o++] = '-';
        for (size_t k = 0; k < lead + nd; k++) {
                if (scale && k == lead + nd - scale)
                        out[o++] = '.';
                out[o++] = k < lead ? '0' : digits[k - lead];
        }
        out[o] = '\0';
        return o;
}

/* Bring 'a' and 'b' to a common scale; false when that overflows. */
static bool align(const struct tl_dec *a, const struct tl_dec *b, tl_i128 *ac,
                  tl_i128 *bc, int32_t *scale)
{
        *scale = a->scale > b->scale ? a->scale : b->scale;
        return scale_up(a->coef, (unsigned)(*scale - a->scale), ac) &&
               scale_up(b->coef, (unsigned)(*scale - b->scale), bc);
}

tl_status tl_dec_add(const struct tl_dec *a, const struct tl_dec *b,
                     struct tl_dec *out, struct tl_error *err)
{
        tl_i128 ac, bc, sum;
        int32_t scale;

        if (!align(a, b, &ac, &bc, &scale) ||
            __builtin_add_overflow(ac, bc, &sum))
                return tl_fail(err, TL_EOVERFLOW, "decimal sum overflows");
        out->coef = sum;
        out->scale = scale;
        return TL_OK;
}

tl_status tl_dec_sub(const struct tl_dec *a, const struct tl_dec *b,
                     struct tl_dec *out, struct tl_error *err)
{
        tl_i128 ac, bc, diff;
        int32_t scale;

        if (!align(a, b, &ac, &bc, &scale) ||
            __builtin_sub_overflow(ac, bc, &diff))
                return tl_fail(err, TL_EOVERFLOW,
                               "decimal difference overflows");
        out->coef = diff;
        out->scale = scale;
        return TL_OK;
}

tl_status tl_dec_mul(const struct tl_dec *a, const struct tl_dec *b,
                     struct tl_dec *out, struct tl_error *err)
{
        tl_i128 prod;

        if (a->scale + b->scale > TL_DEC_MAX_SCALE)
                return tl_fail(err, TL_ERANGE,
                               "decimal product needs %d fractional digits",
                               a->scale + b->scale);
        if (__builtin_mul_overflow(a->coef, b->coef, &prod))
                return tl_fail(err, TL_EOVERFLOW, "decimal product overflows");
        out->coef = prod;
        out->scale = a->scale + b->scale;
        return TL_OK;
}

/*
** Round the exact quotient num / den (den > 0) half to even. Works on
** magnitudes in unsigned arithmetic so 2 x remainder cannot overflow.
*/
static tl_i128 div_half_even(tl_u128 mag, tl_u128 den, bool negative)
{
        tl_u128 q = mag / den, r = mag % den;

        if (r > den - r || (r == den - r && (q & 1)))
                q++;
        return negative ? -(tl_i128)q : (tl_i128)q;
}

tl_status tl_dec_round(const struct tl_dec *d, int32_t scale,
                       struct tl_dec *out, struct tl_error *err)
{
        tl_i128 c;

        if (scale < 0 || scale > TL_DEC_MAX_SCALE)
                return tl_fail(err, TL_ERANGE, "scale %d out of range", scale);
        if (scale >= d->scale) {
                if (!scale_up(d->coef, (unsigned)(scale - d->scale), &c))
                        return tl_fail(err, TL_EOVERFLOW,
                                       "decimal rescale overflows");
        } else {
                c = div_half_even(magnitude(d->coef),
                                  tl_pow10_u128((unsigned)(d->scale - scale)),
                                  d->coef < 0);
        }
        out->coef = c;
        out->scale = scale;
        return TL_OK;
}

tl_status tl_dec_div_round(const struct tl_dec *a, const struct tl_dec *b,
                           int32_t scale, struct tl_dec *out,
                           struct tl_error *err)
{
        /* a/b = ac x 10^(bs - as) / bc; at 'scale' digits the integer result
           is round(ac x 10^(bs + scale - as) / bc). */
        int32_t e = b->scale + scale - a->scale;
        tl_i128 num = a->coef;
        tl_u128 den = magnitude(b->coef);

        if (b->coef == 0)
                return tl_fail(err, TL_EINVAL, "division by zero");
        if (scale < 0 || scale > TL_DEC_MAX_SCALE)
                return tl_fail(err, TL_ERANGE, "scale %d out of range", scale);
        if (e >= 0) {
                if (!scale_up(num, (unsigned)e, &num))
                        return tl_fail(err, TL_EOVERFLOW,
                                       "decimal quotient overflows");
        } else {
                /* A divisor beyond 2^128 exceeds twice any coefficient,
                   so the rounded quotient is exactly zero. */
                tl_u128 p = tl_pow10_u128((unsigned)(-e > 38 ? 38 : -e));
                if (-e > 38 || den > U128_MAX / p) {
                        out->coef = 0;
                        out->scale = scale;
                        return TL_OK;
                }
                den *= p;
        }
        out->coef =
            div_half_even(magnitude(num), den, (num < 0) != (b->coef < 0));
        out->scale = scale;
        return TL_OK;
}

int tl_dec_cmp(const struct tl_dec *a, const struct tl_dec *b)
{
        tl_i128 ac, bc;
        int32_t scale;

        if ((a->coef < 0) != (b->coef < 0))
                return a->coef < 0 ? -1 : 1;
        if (!align(a, b, &ac, &bc, &scale)) {
                /* The one that overflowed when scaled up has the larger
                   magnitude; same signs, so the sign decides the order. */
                bool a_big = a->scale < b->scale;
                int mag = a_big ? 1 : -1;
                return a->coef < 0 ? -mag : mag;
        }
        return (ac > bc) - (ac < bc);
}
