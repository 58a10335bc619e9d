/* Exact money: currencies, one half-even rounding, overflow, and random
   amounts against references computed another way. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "rating/money.h"

static struct tl_dec D(const char *s) {
        struct tl_dec d;

        cr_assert_eq(tl_dec_parse(s, strlen(s), &d, NULL), TL_OK, "%s", s);
        return d;
}

static const struct rate_currency *
C(const char *code)
{
        const struct rate_currency *c = rate_currency_find(code, strlen(code));

        cr_assert(c, "%s", code);
        return c;
}

static void assert_text(const struct tl_dec *d, const char *want)
{
        char buf[TL_DEC_STR_MAX];

        tl_dec_format(d, buf, sizeof buf);
        cr_assert_str_eq(buf, want);
}

Test(currency, knows_minor_units_of_common_and_odd_currencies)
{
        cr_assert_eq(C("USD")->minor_digits, 2);
        cr_assert_eq(C("EUR")->minor_digits, 2);
        cr_assert_eq(C("JPY")->minor_digits, 0);
        cr_assert_eq(C("KRW")->minor_digits, 0);
        cr_assert_eq(C("KWD")->minor_digits, 3);
        cr_assert_eq(C("BHD")->minor_digits, 3);
        cr_assert_eq(C("CLF")->minor_digits, 4);
        cr_assert_null(rate_currency_find("XYZ", 3));
        cr_assert_null(rate_currency_find("usd", 3), "codes are upper-case");
        cr_assert_null(rate_currency_find("US", 2));
        cr_assert_null(rate_currency_find("USDX", 4));
}

Test(currency, every_code_in_the_table_is_found)
{
        /* Binary search needs the table sorted: walk all three-letter
           codes and count what is found. */
        int found = 0;
        char code[4] = "AAA";

        for (code[0] = 'A'; code[0] <= 'Z'; code[0]++)
                for (code[1] = 'A'; code[1] <= 'Z'; code[1]++)
                        for (code[2] = 'A'; code[2] <= 'Z'; code[2]++)
                                if (rate_currency_find(code, 3)) {
                                        cr_assert_str_eq(
                                            rate_currency_find(code, 3)->code,
                                            code);
                                        found++;
                                }
        cr_assert_eq(found, 158, "every entry of currency.c");
}

static void assert_round(const char *value, const char *cur, const char *want)
{
        struct rate_amount a;
        struct tl_dec d = D(value), out;

        rate_amount_init(&a);
        rate_amount_set_dec(&a, &d);
        cr_assert_eq(rate_amount_round(&a, C(cur), &out, NULL), TL_OK);
        assert_text(&out, want);
        rate_amount_release(&a);
}

Test(money, rounds_half_to_even_at_each_currency_exponent)
{
        assert_round("0.125", "USD", "0.12");
        assert_round("0.135", "USD", "0.14");
        assert_round("0.1251", "USD", "0.13");
        assert_round("-0.125", "USD", "-0.12");
        assert_round("-0.135", "USD", "-0.14");
        assert_round("-0.1251", "USD", "-0.13");
        assert_round("2.5", "JPY", "2");
        assert_round("3.5", "JPY", "4");
        assert_round("-2.5", "JPY", "-2");
        assert_round("0.0005", "KWD", "0.000");
        assert_round("0.0015", "KWD", "0.002");
        assert_round("1.23456", "CLF", "1.2346");
        assert_round("7", "USD", "7.00");
}

/* value x num / den, rounded in 'cur'. */
static void assert_prorated(const char *value, unsigned long num,
                            unsigned long den, const char *cur,
                            const char *want)
{
        struct rate_amount a;
        struct tl_dec d = D(value), out;

        rate_amount_init(&a);
        rate_amount_set_dec(&a, &d);
        rate_amount_mul_ratio(&a, num, den);
        cr_assert_eq(rate_amount_round(&a, C(cur), &out, NULL), TL_OK);
        assert_text(&out, want);
        rate_amount_release(&a);
}

Test(money, reproduces_the_worked_example_amounts)
{
        struct rate_amount a, b;
        struct tl_dec out, p;

        assert_prorated("4.00", 41, 31, "USD", "5.29"); /* seat-days */
        assert_prorated("9.00", 21, 31, "USD", "6.10");
        assert_prorated("49.00", 17, 31, "USD", "26.87");  /* fee */
        assert_prorated("100.00", 17, 31, "USD", "54.84"); /* minimum */
        assert_prorated("4.84", 19, 100, "USD", "0.92");   /* tax */
        /* 3.5e15 MAC x 0.0001 / 1e12 */
        rate_amount_init(&a);
        rate_amount_set_u128(&a, (tl_u128)3500000000000000ULL);
        p = D("0.0001");
        rate_amount_mul_dec(&a, &p);
        p = D("1e12");
        rate_amount_init(&b);
        rate_amount_set_dec(&b, &p);
        mpq_div(a.q, a.q, b.q);
        cr_assert_eq(rate_amount_round(&a, C("USD"), &out, NULL), TL_OK);
        assert_text(&out, "0.35");
        /* seat-months shown at 4 digits: 41 / 31 */
        rate_amount_set_u128(&a, 41);
        rate_amount_mul_ratio(&a, 1, 31);
        cr_assert_eq(rate_amount_round_digits(&a, 4, &out, NULL), TL_OK);
        assert_text(&out, "1.3226");
        rate_amount_release(&a);
        rate_amount_release(&b);
}

Test(money, sums_are_exact_before_the_one_rounding)
{
        struct rate_amount a, b;
        struct tl_dec third = D("0.005"), out;

        /* 3 x 0.005 = 0.015 -> 0.02 (even); rounding each first would give
           3 x 0.00 = 0.00. */
        rate_amount_init(&a);
        rate_amount_init(&b);
        rate_amount_set_dec(&b, &third);
        for (int i = 0; i < 3; i++)
                rate_amount_add(&a, &b);
        cr_assert_eq(rate_amount_round(&a, C("USD"), &out, NULL), TL_OK);
        assert_text(&out, "0.02");
        rate_amount_release(&a);
        rate_amount_release(&b);
}

Test(money, an_amount_past_38_digits_is_overflow_not_a_wrap)
{
        struct rate_amount a;
        struct tl_dec q = D("1e30"), p = D("1e10"), out = {7, 0};
        struct tl_error err;

        rate_amount_init(&a);
        rate_amount_set_dec(&a, &q);
        rate_amount_mul_dec(&a, &p);
        cr_assert_eq(rate_amount_round(&a, C("USD"), &out, &err), TL_EOVERFLOW);
        cr_assert(strstr(err.msg, "too large"), "%s", err.msg);
        cr_assert_eq(out.coef, 7, "out untouched");
        rate_amount_release(&a);
}

static unsigned long long rng = 0x853c49e6748fea9bULL;

static unsigned long long next64(void)
{
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        return rng;
}

/*
** Property, small range: q (up to 10^9) x price (up to 6 fractional
** digits) x num / den, rounded to 0..3 digits, against half-even computed
** in plain __int128 with floor division: no GMP on the reference side.
*/
Test(money, random_lines_agree_with_int128_reference)
{
        for (int i = 0; i < 20000; i++) {
                long long q = (long long)(next64() % 1000000000ULL);
                long long pc = (long long)(next64() % 100000000ULL) -
                               (i % 7 == 0 ? 50000000 : 0);
                int ps = (int)(next64() % 7);
                unsigned long num = 1 + next64() % 31, den = 1 + next64() % 31;
                unsigned digits = (unsigned)(next64() % 4);
                struct tl_dec qd = {q, 0}, pd = {pc, ps}, out;
                struct rate_amount a;
                __int128 n = (__int128)q * pc * (__int128)num, d = den, p10 = 1;

                for (int k = 0; k < ps; k++)
                        d *= 10;
                for (unsigned k = 0; k < digits; k++)
                        p10 *= 10;
                n *= p10;
                __int128 fq = n / d, fr = n % d;
                if (fr < 0) { /* floor */
                        fq -= 1;
                        fr += d;
                }
                if (2 * fr > d || (2 * fr == d && (fq & 1)))
                        fq += 1;

                rate_amount_init(&a);
                rate_amount_set_dec(&a, &qd);
                rate_amount_mul_dec(&a, &pd);
                rate_amount_mul_ratio(&a, num, den);
                cr_assert_eq(rate_amount_round_digits(&a, digits, &out, NULL),
                             TL_OK);
                cr_assert(out.coef == fq && out.scale == (int)digits,
                          "case %d: %lld x %lld e-%d x %lu/%lu", i, q, pc, ps,
                          num, den);
                rate_amount_release(&a);
        }
}

/*
** Property, full range: quantities up to 10^30, prices with 12 fractional
** digits, per-unit divisors, proration. The reference multiplies and
** divides integers step by step (mpz only, no rationals) and applies half
** to even by comparing twice the remainder with the divisor.
*/
Test(money, random_large_lines_agree_with_integer_reference)
{
        mpz_t n, d, q, r, t;

        mpz_inits(n, d, q, r, t, NULL);
        for (int i = 0; i < 20000; i++) {
                char qs[40], ps[40], us[16];
                tl_u128 qty =
                    ((tl_u128)next64() << 36 ^ next64()) % tl_pow10_u128(30);
                unsigned long long pcoef = next64() % 1000000000000000ULL;
                unsigned long unit = 1 + next64() % 1000000;
                unsigned long num = 1 + next64() % 31, den = 28 + next64() % 4;
                struct tl_dec qd, pd, ud, out;
                struct rate_amount a, u;

                tl_u128_format(qty, qs, sizeof qs);
                snprintf(ps, sizeof ps, "%llu", pcoef);
                snprintf(us, sizeof us, "%lu", unit);
                tl_dec_parse(qs, strlen(qs), &qd, NULL);
                pd = (struct tl_dec){(tl_i128)pcoef, 12};
                ud = (struct tl_dec){(tl_i128)unit, 0};

                /* reference: n = qty * pcoef * num * 100; d = 10^12 * unit *
                 * den */
                mpz_set_str(n, qs, 10);
                mpz_set_str(t, ps, 10);
                mpz_mul(n, n, t);
                mpz_mul_ui(n, n, num);
                mpz_mul_ui(n, n, 100);
                mpz_ui_pow_ui(d, 10, 12);
                mpz_mul_ui(d, d, unit);
                mpz_mul_ui(d, d, den);
                mpz_fdiv_qr(q, r, n, d);
                mpz_mul_ui(r, r, 2);
                if (mpz_cmp(r, d) > 0 || (mpz_cmp(r, d) == 0 && mpz_odd_p(q)))
                        mpz_add_ui(q, q, 1);

                rate_amount_init(&a);
                rate_amount_init(&u);
                rate_amount_set_dec(&a, &qd);
                rate_amount_mul_dec(&a, &pd);
                rate_amount_set_dec(&u, &ud);
                mpq_div(a.q, a.q, u.q);
                rate_amount_mul_ratio(&a, num, den);
                tl_status rc = rate_amount_round(&a, C("USD"), &out, NULL);
                if (mpz_sizeinbase(q, 2) > 126) {
                        cr_assert_eq(rc, TL_EOVERFLOW);
                } else {
                        char want[64], got[TL_DEC_STR_MAX];
                        struct tl_dec expect;
                        mpz_get_str(want, 10, q);
                        tl_dec_parse(want, strlen(want), &expect, NULL);
                        expect.scale = 2;
                        tl_dec_format(&out, got, sizeof got);
                        cr_assert_eq(rc, TL_OK);
                        cr_assert(tl_dec_cmp(&out, &expect) == 0,
                                  "case %d: %s x %s e-12 / %s x %lu/%lu: got "
                                  "%s, want %s e-2",
                                  i, qs, ps, us, num, den, got, want);
                }
                rate_amount_release(&a);
                rate_amount_release(&u);
        }
        mpz_clears(n, d, q, r, t, NULL);
}
