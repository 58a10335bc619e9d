/* Exact decimal numbers for money and quantities: no binary floating point. */
#ifndef TL_DEC_H
#define TL_DEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

__extension__ typedef __int128 tl_i128;
__extension__ typedef unsigned __int128 tl_u128;

/*
** value = coef x 10^-scale, exactly. |coef| < 2^127 (38 full digits), so a
** quantity up to 10^30 keeps 8 fractional digits. Arithmetic that would
** leave this range fails with TL_EOVERFLOW instead of wrapping; the rater
** moves to wider integers where its products demand it.
*/
struct tl_dec {
        tl_i128 coef;
        int32_t scale; /* 0 ... TL_DEC_MAX_SCALE */
};

#define TL_DEC_MAX_SCALE 30
/* Longest text tl_dec_format writes, NUL included: sign, 39 digits, point. */
#define TL_DEC_STR_MAX 48

#define TL_DEC_ZERO ((struct tl_dec){0, 0})

/* An integer as a decimal of scale 0. */
struct tl_dec tl_dec_from_i64(int64_t v);
/* An unsigned 128-bit count as a decimal: TL_OK or TL_EOVERFLOW (>= 2^127). */
tl_status tl_dec_from_u128(tl_u128 v, struct tl_dec *out, struct tl_error *err);

/*
** Parse 'len' bytes of 's' exactly: [+-]digits[.digits][(e|E)[+-]digits],
** with '_' allowed between digits ("1_000_000"). The scale is the number of
** fractional digits written, less the exponent (never below 0): "0.60" has
** scale 2, "1e12" scale 0. Trailing fractional zeros beyond
** TL_DEC_MAX_SCALE are dropped (they change nothing); more significant
** fractional digits than that are TL_ERANGE. Returns TL_OK, TL_EPARSE (not a
** number, with where) or TL_ERANGE; '*out' is written only on success.
*/
tl_status tl_dec_parse(const char *s, size_t len, struct tl_dec *out,
                       struct tl_error *err);

/*
** Write 'd' in plain notation with exactly d->scale fractional digits
** ("-12.340", "0.05", "7") into 'out'. Returns the length, or 0 when 'size'
** is below what is needed (TL_DEC_STR_MAX always suffices).
*/
size_t tl_dec_format(const struct tl_dec *d, char *out, size_t size);

/* Exact sum, difference and product. TL_OK, TL_EOVERFLOW or TL_ERANGE
   (product scale above TL_DEC_MAX_SCALE); '*out' only on success. */
tl_status tl_dec_add(const struct tl_dec *a, const struct tl_dec *b,
                     struct tl_dec *out, struct tl_error *err);
tl_status tl_dec_sub(const struct tl_dec *a, const struct tl_dec *b,
                     struct tl_dec *out, struct tl_error *err);
tl_status tl_dec_mul(const struct tl_dec *a, const struct tl_dec *b,
                     struct tl_dec *out, struct tl_error *err);

/*
** 'a' / 'b' rounded once, half to even, to 'scale' fractional digits.
** Returns TL_OK, TL_EINVAL (division by zero), TL_ERANGE (bad scale) or
** TL_EOVERFLOW.
*/
tl_status tl_dec_div_round(const struct tl_dec *a, const struct tl_dec *b,
                           int32_t scale, struct tl_dec *out,
                           struct tl_error *err);

/*
** 'd' at 'scale' fractional digits: rounded half to even when digits are
** dropped, zero-extended when added. TL_OK, TL_ERANGE or TL_EOVERFLOW.
*/
tl_status tl_dec_round(const struct tl_dec *d, int32_t scale,
                       struct tl_dec *out, struct tl_error *err);

/* Exact comparison across scales: <0, 0, >0. */
int tl_dec_cmp(const struct tl_dec *a, const struct tl_dec *b);

static inline bool tl_dec_is_zero(const struct tl_dec *d)
{
        return d->coef == 0;
}

static inline bool tl_dec_is_negative(const struct tl_dec *d)
{
        return d->coef < 0;
}

/* 10^n as an unsigned 128-bit integer, n = 0 ... 38. */
tl_u128 tl_pow10_u128(unsigned n);

/* Checked unsigned 128-bit sum for usage aggregation; false on overflow. */
static inline bool tl_u128_add(tl_u128 a, tl_u128 b, tl_u128 *out)
{
        if (a > ~(tl_u128)0 - b)
                return false;
        *out = a + b;
        return true;
}

/* Decimal digits of 'v' into 'out' (at least 40 bytes); returns length. */
size_t tl_u128_format(tl_u128 v, char *out, size_t size);

#endif
