/* Exact money for pricing: currencies (ISO 4217), amounts as exact
   rationals, and the one rounding every invoice line gets. */
#ifndef RATE_MONEY_H
#define RATE_MONEY_H

#include <stddef.h>

#include <gmp.h>

#include "core/dec.h"
#include "core/error.h"

/* A currency and the digits of its minor unit (USD 2, JPY 0, KWD 3). */
struct rate_currency {
        char code[4];
        unsigned minor_digits;
};

/*
** The ISO 4217 entry for 'len' bytes of 'code' (three upper-case letters),
** or NULL when it is not a currency code tally knows.
*/
const struct rate_currency *rate_currency_find(const char *code, size_t len);

/*
** An exact, unrounded amount: a rational of arbitrary size, so a line is
** computed exactly however large its quantity (10^30) or fine its price
** (12 fractional digits), and rounded once at the end. The caller owns
** it: rate_amount_init before use, rate_amount_release after.
*/
struct rate_amount {
        mpq_t q;
};

void rate_amount_init(struct rate_amount *a);
void rate_amount_release(struct rate_amount *a);

/* '*a' = 'd' exactly, or the count 'v'. */
void rate_amount_set_dec(struct rate_amount *a, const struct tl_dec *d);
void rate_amount_set_u128(struct rate_amount *a, tl_u128 v);

/* '*a' += 'b'; '*a' *= 'd'; '*a' *= 'num' / 'den' ('den' > 0). */
void rate_amount_add(struct rate_amount *a, const struct rate_amount *b);
void rate_amount_mul_dec(struct rate_amount *a, const struct tl_dec *d);
void rate_amount_mul_ratio(struct rate_amount *a, unsigned long num,
                           unsigned long den);

/* '*a' = 'b'; -= 'b'; *= 'b'; /= 'd' ('d' != 0); rounded up to an integer. */
void rate_amount_set(struct rate_amount *a, const struct rate_amount *b);
void rate_amount_sub(struct rate_amount *a, const struct rate_amount *b);
void rate_amount_mul(struct rate_amount *a, const struct rate_amount *b);
void rate_amount_div_dec(struct rate_amount *a, const struct tl_dec *d);
void rate_amount_ceil(struct rate_amount *a);

/* <0, 0, >0 as 'a' is below, equal to or above 'b'; the sign of 'a'. */
int rate_amount_cmp(const struct rate_amount *a, const struct rate_amount *b);
int rate_amount_sign(const struct rate_amount *a);

/*
** Write 'a' exactly in plain decimal notation ("11000000", "0.5") into
** 'out'. Returns the length, or 0 when 'a' has no finite decimal form or
** 'size' is too small. Quantities always have one: they are counts times
** weights of at most 12 fractional digits, less an allowance.
*/
size_t rate_amount_format_exact(const struct rate_amount *a, char *out,
                                size_t size);

/*
** Round 'a' once, half to even, to the minor unit of 'cur' into '*out'
** (scale = its minor digits). Returns TL_OK, or TL_EOVERFLOW when the
** rounded amount does not fit a tl_dec; '*out' only on success.
*/
tl_status rate_amount_round(const struct rate_amount *a,
                            const struct rate_currency *cur, struct tl_dec *out,
                            struct tl_error *err);

/*
** Round 'a' half to even to 'digits' fractional digits (for shown values
** such as seat-months at 4 digits). Statuses as rate_amount_round.
*/
tl_status rate_amount_round_digits(const struct rate_amount *a, unsigned digits,
                                   struct tl_dec *out, struct tl_error *err);

#endif
