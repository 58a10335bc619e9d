/* Exact decimals: parsing, formatting, arithmetic, half-even rounding. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "core/dec.h"

static struct tl_dec D(const char *s) {
        struct tl_dec d;
        struct tl_error err;

        cr_assert_eq(tl_dec_parse(s, strlen(s), &d, &err), TL_OK,
                     "parse %s: %s", s, err.msg);
        return d;
}

static void
assert_text(const struct tl_dec *d, const char *want)
{
        char buf[TL_DEC_STR_MAX];

        cr_assert_neq(tl_dec_format(d, buf, sizeof buf), 0);
        cr_assert_str_eq(buf, want);
}

static void assert_parse_fails(const char *s, tl_status want, const char *frag)
{
        struct tl_dec d = {42, 1};
        struct tl_error err;

        cr_assert_eq(tl_dec_parse(s, strlen(s), &d, &err), want, "%s", s);
        cr_assert(strstr(err.msg, frag), "'%s' lacks '%s'", err.msg, frag);
        cr_assert_eq(d.coef, 42, "out written on failure");
}

Test(dec, parses_plain_numbers_keeping_written_scale)
{
        struct tl_dec d = D("0.60");

        cr_assert_eq(d.coef, 60);
        cr_assert_eq(d.scale, 2);
        assert_text(&d, "0.60");
        d = D("-12.340");
        assert_text(&d, "-12.340");
        d = D("+7");
        assert_text(&d, "7");
        d = D(".5");
        assert_text(&d, "0.5");
        d = D("5.");
        assert_text(&d, "5");
}

Test(dec, parses_exponents_and_underscores_exactly)
{
        struct tl_dec d = D("1e12");

        assert_text(&d, "1000000000000");
        d = D("1_000_000");
        assert_text(&d, "1000000");
        d = D("2.5E-3");
        assert_text(&d, "0.0025");
        d = D("1.25e1");
        assert_text(&d, "12.5");
        d = D("100000000000000000000000000000"); /* 10^29 */
        assert_text(&d, "100000000000000000000000000000");
}

Test(dec, drops_only_insignificant_digits_beyond_max_scale)
{
        struct tl_dec d = D("0.1000000000000000000000000000000000"); /* 34 */

        cr_assert_eq(d.scale, TL_DEC_MAX_SCALE);
        assert_parse_fails("0.0000000000000000000000000000001", TL_ERANGE,
                           "fractional digits");
}

Test(dec, rejects_malformed_numbers_with_reason)
{
        assert_parse_fails("", TL_EPARSE, "not a number");
        assert_parse_fails("-", TL_EPARSE, "not a number");
        assert_parse_fails("abc", TL_EPARSE, "not a number");
        assert_parse_fails("1.2.3", TL_EPARSE, "unexpected '.'");
        assert_parse_fails("1e", TL_EPARSE, "exponent without digits");
        assert_parse_fails("_1", TL_EPARSE, "'_' must sit between digits");
        assert_parse_fails("1__0", TL_EPARSE, "'_'");
        assert_parse_fails("1_", TL_EPARSE, "'_'");
        assert_parse_fails("0x10", TL_EPARSE, "unexpected 'x'");
        assert_parse_fails(" 1", TL_EPARSE, "not a number");
        assert_parse_fails("1e9999", TL_ERANGE, "exponent too large");
        assert_parse_fails("1e40", TL_ERANGE, "too large");
        assert_parse_fails("1234567890123456789012345678901234567890",
                           TL_ERANGE, "significant digits");
}

Test(dec, add_and_sub_align_scales)
{
        struct tl_dec a = D("0.1"), b = D("0.25"), r;

        cr_assert_eq(tl_dec_add(&a, &b, &r, NULL), TL_OK);
        assert_text(&r, "0.35");
        cr_assert_eq(tl_dec_sub(&a, &b, &r, NULL), TL_OK);
        assert_text(&r, "-0.15");
}

Test(dec, mul_is_exact)
{
        struct tl_dec a = D("11000000"), b = D("0.000000400"), r;

        cr_assert_eq(tl_dec_mul(&a, &b, &r, NULL), TL_OK);
        assert_text(&r, "4.400000000");
}

Test(dec, mul_overflow_is_error)
{
        struct tl_dec a = D("1e30"), b = D("1e10"), r = {7, 0};
        struct tl_error err;

        cr_assert_eq(tl_dec_mul(&a, &b, &r, &err), TL_EOVERFLOW);
        cr_assert_eq(r.coef, 7);
        cr_assert(strstr(err.msg, "overflows"));
}

Test(dec, add_overflow_is_error)
{
        struct tl_dec a = D("99999999999999999999999999999999999999"), r;

        cr_assert_eq(tl_dec_add(&a, &a, &r, NULL), TL_EOVERFLOW);
        a = D("1e30");
        struct tl_dec tiny = D("0.000000000000000000000000000001");
        cr_assert_eq(tl_dec_add(&a, &tiny, &r, NULL), TL_EOVERFLOW);
}

Test(dec, mul_scale_beyond_max_is_error)
{
        struct tl_dec a = D("0.0000000000000001"), r;

        cr_assert_eq(tl_dec_mul(&a, &a, &r, NULL), TL_ERANGE);
}

static void assert_round(const char *in, int scale, const char *want)
{
        struct tl_dec d = D(in), r;

        cr_assert_eq(tl_dec_round(&d, scale, &r, NULL), TL_OK);
        assert_text(&r, want);
}

Test(dec, round_is_half_to_even)
{
        assert_round("0.125", 2, "0.12");
        assert_round("0.135", 2, "0.14");
        assert_round("0.1251", 2, "0.13");
        assert_round("-0.125", 2, "-0.12");
        assert_round("-0.135", 2, "-0.14");
        assert_round("2.5", 0, "2");
        assert_round("3.5", 0, "4");
        assert_round("-2.5", 0, "-2");
        assert_round("5.2903", 2, "5.29");
        assert_round("0.004999", 2, "0.00");
        assert_round("1.5", 3, "1.500");
}

static void assert_div(const char *a, const char *b, int scale,
                       const char *want)
{
        struct tl_dec x = D(a), y = D(b), r;

        cr_assert_eq(tl_dec_div_round(&x, &y, scale, &r, NULL), TL_OK);
        assert_text(&r, want);
}

Test(dec, div_round_matches_worked_example_proration)
{
        /* 49.00 x 17 / 31 = 26.870967... ; 41 seat-days / 31 x 4.00 */
        assert_div("833.00", "31", 2, "26.87");
        assert_div("164.00", "31", 2, "5.29");
        assert_div("189.00", "31", 2, "6.10");
        assert_div("1", "3", 4, "0.3333");
        assert_div("-1", "8", 2, "-0.12");
        assert_div("1", "-8", 2, "-0.12");
        assert_div("3", "8", 2, "0.38");
        assert_div("1", "1e30", 2, "0.00");
        assert_div("0.000000000000000000000000000001", "1e30", 30,
                   "0.000000000000000000000000000000");
}

Test(dec, div_by_zero_is_error)
{
        struct tl_dec a = D("1"), z = D("0.00"), r;

        cr_assert_eq(tl_dec_div_round(&a, &z, 2, &r, NULL), TL_EINVAL);
}

Test(dec, cmp_is_exact_across_scales)
{
        struct tl_dec a = D("1.50"), b = D("1.5"), c = D("1.51"), n = D("-2");
        struct tl_dec huge = D("99999999999999999999999999999999999999");
        struct tl_dec fine = D("0.000000000000000000000000000001");

        cr_assert_eq(tl_dec_cmp(&a, &b), 0);
        cr_assert_lt(tl_dec_cmp(&b, &c), 0);
        cr_assert_gt(tl_dec_cmp(&c, &b), 0);
        cr_assert_lt(tl_dec_cmp(&n, &a), 0);
        cr_assert_gt(tl_dec_cmp(&huge, &fine), 0);
        cr_assert_lt(tl_dec_cmp(&fine, &huge), 0);
}

Test(dec, u128_sums_reach_past_1e30_and_report_overflow)
{
        tl_u128 sum = 0, step = (tl_u128)1000000000000000ULL; /* 10^15 MAC */
        char buf[48];

        for (int i = 0; i < 1000; i++)
                cr_assert(tl_u128_add(sum, step * 1000000000000000ULL, &sum));
        tl_u128_format(sum, buf, sizeof buf);
        cr_assert_str_eq(buf, "1000000000000000000000000000000000"); /* 1e33 */
        cr_assert_not(tl_u128_add(~(tl_u128)0, 1, &sum));
}

Test(dec, from_u128_refuses_values_past_i128)
{
        struct tl_dec d;

        cr_assert_eq(tl_dec_from_u128(tl_pow10_u128(30), &d, NULL), TL_OK);
        assert_text(&d, "1000000000000000000000000000000");
        cr_assert_eq(tl_dec_from_u128(~(tl_u128)0, &d, NULL), TL_EOVERFLOW);
}

/*
** Property: for random a, b with up to 9 digits and scales 0..6, sum,
** product and half-even rounding agree with a long-hand reference that
** works on the digit strings in plain integers of a different width.
*/
static long long pow10ll(int n)
{
        long long p = 1;
        while (n--)
                p *= 10;
        return p;
}

Test(dec, random_ops_agree_with_integer_reference)
{
        unsigned long long seed = 0x9E3779B97F4A7C15ULL;

        for (int i = 0; i < 20000; i++) {
                seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
                long long ac = (long long)(seed >> 34) % 1000000000 - 500000000;
                int as = (int)((seed >> 8) % 7);
                seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
                long long bc = (long long)(seed >> 34) % 1000000000 - 500000000;
                int bs = (int)((seed >> 8) % 7);
                struct tl_dec a = {ac, as}, b = {bc, bs}, r;
                int s = as > bs ? as : bs;
                __int128 want_sum = (__int128)ac * pow10ll(s - as) +
                                    (__int128)bc * pow10ll(s - bs);

                cr_assert_eq(tl_dec_add(&a, &b, &r, NULL), TL_OK);
                cr_assert(r.coef == want_sum && r.scale == s);
                cr_assert_eq(tl_dec_mul(&a, &b, &r, NULL), TL_OK);
                cr_assert(r.coef == (__int128)ac * bc && r.scale == as + bs);
                if (as > 0) {
                        /* Reference half-even via floor arithmetic. */
                        long long p = pow10ll(as), q = ac / p, rem = ac % p;
                        if (rem < 0) {
                                q -= 1;
                                rem += p;
                        }
                        if (2 * rem > p || (2 * rem == p && (q & 1)))
                                q += 1;
                        cr_assert_eq(tl_dec_round(&a, 0, &r, NULL), TL_OK);
                        cr_assert(r.coef == q, "round %lld/10^%d", ac, as);
                }
        }
}
