/* The reference of the property suite: invoices computed from the spec's
   text with GMP, sharing no code with the rater; and the helpers the
   generator uses. */
#include "property.h"

#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rating/invoice.h"

/* The fixed meters of every random catalog (see write_catalog). */
const char *const METER[4] = {"cloud-out", "cloud-in", "local-out",
                              "cloud-calls"};
const bool GROUPS[4] = {true, false, true, true};
/* Decoding values of events; 0: the field is absent (group ""). */
const char *const DECODING[4] = {NULL, "autoregressive", "diffusion", "beam"};
const char *const CURRENCY[3] = {"USD", "JPY", "KWD"};
const unsigned MINOR[3] = {2, 0, 3};
const char *const MODEL[5] = {"per_unit", "graduated", "volume", "package",
                              "flat"};

/* What was exercised, so a run shows it met the edges it claims to. */
struct prop_stats stats;

uint64_t rnext(struct rng *r)
{
        uint64_t z = (r->s += UINT64_C(0x9e3779b97f4a7c15));

        z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
        z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
        return z ^ (z >> 31);
}
uint64_t below(struct rng *r, uint64_t n)
{
        return n ? rnext(r) % n : 0;
}
bool chance(struct rng *r, unsigned pct)
{
        return below(r, 100) < pct;
}
tl_u128 below128(struct rng *r, tl_u128 n)
{
        tl_u128 v = (tl_u128)rnext(r) << 64;

        v |= rnext(r); /* a separate statement: draws stay in order */
        return n ? v % n : 0;
}
tl_u128 p10(unsigned n)
{
        tl_u128 v = 1;

        while (n--)
                v *= 10;
        return v;
}
/* A number x 10^12 up to 10^'int_digits', mostly with few fractional
   digits, so that money amounts often land exactly on ties. */
tl_u128 rnum(struct rng *r, unsigned int_digits)
{
        unsigned s = (unsigned)below(r, chance(r, 50) ? 4 : 13);

        return below128(r, p10(int_digits + s) + 1) * p10(12 - s);
}
void z_u128(mpz_t z, tl_u128 v)
{
        mpz_set_ui(z, (unsigned long)(v >> 64));
        mpz_mul_2exp(z, z, 64);
        mpz_add_ui(z, z, (unsigned long)v);
}
tl_u128 u128_of(const mpz_t z) /* 0 <= z < 2^128 */
{
        mpz_t h;
        tl_u128 v;

        mpz_init(h);
        mpz_fdiv_q_2exp(h, z, 64);
        v = (tl_u128)mpz_get_ui(h) << 64 | mpz_get_ui(z);
        mpz_clear(h);
        return v;
}
void tp(struct tbuf *t, const char *fmt, ...)
{
        va_list ap;
        int n;

        va_start(ap, fmt);
        n = vsnprintf(t->b + t->n, sizeof t->b - t->n, fmt, ap);
        va_end(ap);
        cr_assert(n >= 0 && (size_t)n < sizeof t->b - t->n, "text too long");
        t->n += (size_t)n;
}
/* Calendar, written out here (Hinnant's civil-days algorithms). */
int64_t days_from_civil(int64_t y, int m, int d)
{
        int64_t era, yoe, doy;

        y -= m <= 2;
        era = (y >= 0 ? y : y - 399) / 400;
        yoe = y - era * 400;
        doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
        return era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468;
}
void civil_text(int64_t z, char out[11])
{
        int64_t era, doe, yoe, doy, mp;
        int m;

        z += 719468;
        era = (z >= 0 ? z : z - 146096) / 146097;
        doe = z - era * 146097;
        yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
        doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        mp = (5 * doy + 2) / 153;
        m = (int)(mp < 10 ? mp + 3 : mp - 9);
        snprintf(out, 11, "%04d-%02d-%02d", (int)(yoe + era * 400 + (m <= 2)),
                 m, (int)(doy - (153 * mp + 2) / 5 + 1));
}
/* Usage by meter and decoding value, read off the meters' definitions:
   only events with time in [period start, period end) count. */
void ref_usage(const struct tcase *k, struct cust *c)
{
        int64_t lo = k->pstart_day * DAY_US, hi = lo + k->days * DAY_US;

        memset(c->tot, 0, sizeof c->tot);
        for (int i = 0; i < c->nev; i++) {
                const struct event *e = &c->ev[i];

                if (e->time_us < lo || e->time_us >= hi)
                        continue;
                if (e->cloud) {
                        c->tot[0][e->dec] += e->out;
                        c->tot[1][e->dec] += e->in;
                        c->tot[3][e->dec] += 1;
                } else {
                        c->tot[2][e->dec] += e->out;
                }
        }
}
/* '*q' x 10^12 = sum of count x weight (1 where not named); with
   'allowance', less included and never below 0. */
void ref_q(mpz_t q, const struct charge *ch, const tl_u128 tot[4],
           bool allowance)
{
        mpz_t t, w;

        mpz_inits(t, w, NULL);
        mpz_set_ui(q, 0);
        for (int d = 0; d < 4; d++) {
                tl_u128 wt = E12;

                for (int i = 0; i < ch->nweights; i++)
                        if (ch->wvalue[i] == d)
                                wt = ch->weight[i];
                z_u128(t, tot[d]);
                z_u128(w, wt);
                mpz_addmul(q, t, w);
        }
        if (allowance) {
                z_u128(t, ch->included);
                mpz_sub(q, q, t);
                if (mpz_sgn(q) < 0)
                        mpz_set_ui(q, 0);
        }
        mpz_clears(t, w, NULL);
}
/* What 'q' (x 10^12) costs under 'ch', as 'num' / 'den'. */
static void ref_price(mpz_t num, mpz_t den, const struct charge *ch,
                      const mpz_t q)
{
        mpz_t b, lo, hi, p;

        mpz_inits(b, lo, hi, p, NULL);
        mpz_set_ui(num, 0);
        /* q x price / unit, each x 10^12: num over unit x 10^12. */
        z_u128(den, ch->unit);
        z_u128(p, E12);
        mpz_mul(den, den, p);
        switch (ch->model) {
        case PER_UNIT:
                z_u128(p, ch->price);
                mpz_mul(num, q, p);
                break;
        case GRADUATED: /* tier i holds (up_to[i-1], up_to[i]] */
                for (int i = 0; i < ch->ntiers && mpz_cmp(q, lo) > 0; i++) {
                        mpz_set(hi, q);
                        if (i < ch->ntiers - 1) {
                                z_u128(b, ch->up_to[i]);
                                stats.at_up_to += mpz_cmp(b, q) == 0;
                                if (mpz_cmp(b, q) < 0)
                                        mpz_set(hi, b);
                        }
                        z_u128(p, ch->tprice[i]);
                        mpz_sub(b, hi, lo);
                        mpz_addmul(num, b, p);
                        mpz_set(lo, hi);
                }
                break;
        case VOLUME: /* all of q at the first tier with up_to >= q */
                for (int i = 0; i < ch->ntiers; i++) {
                        if (i < ch->ntiers - 1) {
                                z_u128(b, ch->up_to[i]);
                                if (mpz_cmp(b, q) < 0)
                                        continue;
                                stats.at_up_to += mpz_cmp(b, q) == 0;
                        }
                        z_u128(p, ch->tprice[i]);
                        mpz_mul(num, q, p);
                        break;
                }
                break;
        case PACKAGE: /* ceil(q / size) x price: the spec names no unit */
                z_u128(p, ch->size);
                mpz_cdiv_q(b, q, p);
                z_u128(p, ch->price);
                mpz_mul(num, b, p);
                z_u128(den, E12);
                break;
        case FLAT:
                if (mpz_sgn(q) > 0)
                        z_u128(num, ch->price);
                z_u128(den, E12);
                break;
        }
        mpz_clears(b, lo, hi, p, NULL);
}
/* 'num' / 'den' (den > 0) rounded half to even to 'digits' places, as an
   integer count of those places. */
static void ref_round(mpz_t out, const mpz_t num, const mpz_t den,
                      unsigned digits)
{
        mpz_t n, r;
        int c;

        mpz_inits(n, r, NULL);
        mpz_ui_pow_ui(n, 10, digits);
        mpz_mul(n, n, num);
        mpz_fdiv_qr(out, r, n, den);
        mpz_mul_2exp(r, r, 1);
        c = mpz_cmp(r, den);
        stats.ties += c == 0;
        if (c > 0 || (c == 0 && mpz_odd_p(out)))
                mpz_add_ui(out, out, 1);
        mpz_clears(n, r, NULL);
}
/* 'v' / 10^'digits' with exactly 'digits' places ("-0.05", "7"); with
   'shortest', trailing fractional zeros (and a bare point) dropped. */
void fixed_text(const mpz_t v, unsigned digits, bool shortest, char *out,
                size_t size)
{
        void (*gmp_free)(void *, size_t);
        char *s = mpz_get_str(NULL, 10, v), *p = s + (*s == '-'), buf[160];
        size_t len = strlen(p), pad = len <= digits ? digits + 1 - len : 0;

        memset(buf, '0', pad);
        memcpy(buf + pad, p, len + 1);
        len += pad;
        snprintf(out, size, "%s%.*s%s%s", *s == '-' ? "-" : "",
                 (int)(len - digits), buf, digits ? "." : "",
                 buf + len - digits);
        for (len = strlen(out); shortest && digits && out[len - 1] == '0';)
                out[--len] = '\0';
        if (shortest && out[len - 1] == '.')
                out[--len] = '\0';
        mp_get_memory_functions(NULL, NULL, &gmp_free);
        gmp_free(s, strlen(s) + 1);
}
/* One invoice line in the form both sides are written in for comparing:
   kind, what it prices, name and quantity where the line has them. */
void line_text(struct tbuf *t, const char *kind, const char *ref,
               const char *name, const char *qty, const char *amount)
{
        tp(t, "%s %s%s%s%s%s %s\n", kind, ref ? ref : "-", name ? " \"" : "",
           name ? name : "", name ? "\"" : "", qty ? qty : "", amount);
}
static void ref_line(struct tbuf *t, const char *kind, const char *ref,
                     const char *name, const mpz_t q, const mpz_t v, unsigned m)
{
        char amount[96], qty[RATE_QTY_MAX + 8] = " q=";

        fixed_text(v, m, false, amount, sizeof amount);
        if (q)
                fixed_text(q, 12, true, qty + 3, sizeof qty - 3);
        line_text(t, kind, ref, name, q ? qty : NULL, amount);
        stats.lines++;
}
/* The invoice of 'c' as docs/formats.md and docs/pricing-rules.md describe it.
 */
void ref_invoice(const struct tcase *k, const struct cust *c, struct tbuf *t)
{
        const struct plan *p = &k->plan;
        unsigned m = MINOR[k->cur];
        int64_t from =
            c->start_day > k->pstart_day ? c->start_day : k->pstart_day;
        int64_t to = k->pstart_day + k->days;
        unsigned long active;
        char sub[96], cr[96], tax[96], tot[96];
        mpz_t sum, num, den, q, v, e12;

        tp(t, "%s\n", c->id);
        if (c->has_end && c->end_day < to)
                to = c->end_day; /* end: the first day not subscribed */
        active = to > from ? (unsigned long)(to - from) : 0;
        mpz_inits(sum, num, den, q, v, e12, NULL);
        z_u128(e12, E12);
        mpz_mul_ui(den, e12, (unsigned long)k->days);
        for (int i = 0; i < p->nfees; i++) { /* x active / period days */
                z_u128(num, p->fees[i].amount);
                mpz_mul_ui(num, num, active);
                ref_round(v, num, den, m);
                ref_line(t, "fee", p->fees[i].id, p->fees[i].name, NULL, v, m);
                mpz_add(sum, sum, v);
        }
        for (int i = 0; i < p->ncharges; i++) {
                const struct charge *ch = &p->charges[i];

                ref_q(q, ch, c->tot[ch->meter], true);
                stats.zero_q += mpz_sgn(q) == 0;
                ref_price(num, den, ch, q);
                ref_round(v, num, den, m);
                ref_line(t, "usage", ch->id, ch->name, q, v, m);
                mpz_add(sum, sum, v);
        }
        if (p->has_min) { /* the rounded prorated floor less the lines */
                z_u128(num, p->minimum);
                mpz_mul_ui(num, num, active);
                mpz_mul_ui(den, e12, (unsigned long)k->days);
                ref_round(v, num, den, m);
                if (mpz_cmp(v, sum) > 0) {
                        mpz_sub(q, v, sum);
                        ref_line(t, "minimum", NULL, NULL, NULL, q, m);
                        mpz_set(sum, v);
                        stats.minimum++;
                }
        }
        fixed_text(sum, m, false, sub, sizeof sub);
        /* Credit: min(credits, subtotal), cut (never rounded up) to the
           minor unit, negative. */
        mpz_set_ui(v, 0);
        if (c->has_credits) {
                z_u128(num, c->credits);
                mpz_ui_pow_ui(q, 10, m);
                mpz_mul(q, q, num);
                mpz_mul(den, sum, e12);
                if (mpz_cmp(q, den) >= 0)
                        mpz_set(v, sum);
                else
                        mpz_tdiv_q(v, q, e12);
                mpz_neg(v, v);
        }
        if (mpz_sgn(v) != 0) {
                ref_line(t, "credit", NULL, NULL, NULL, v, m);
                stats.credit++;
        }
        fixed_text(v, m, false, cr, sizeof cr);
        mpz_add(sum, sum, v);
        /* Tax: the subtotal after credit (x 10^-m) x the rate. */
        mpz_set_ui(v, 0);
        if (c->has_tax && c->tax) {
                z_u128(num, c->tax);
                mpz_mul(num, num, sum);
                mpz_ui_pow_ui(den, 10, m);
                mpz_mul(den, den, e12);
                ref_round(v, num, den, m);
                ref_line(t, "tax", NULL, NULL, NULL, v, m);
        }
        fixed_text(v, m, false, tax, sizeof tax);
        mpz_add(sum, sum, v);
        fixed_text(sum, m, false, tot, sizeof tot);
        tp(t, "subtotal %s credit %s tax %s total %s\n", sub, cr, tax, tot);
        if (p->savings >= 0) { /* local-out as the cloud charge, no allowance */
                const struct charge *ch = &p->charges[p->savings];

                ref_q(q, ch, c->tot[2], false);
                ref_price(num, den, ch, q);
                ref_round(v, num, den, m);
                ref_line(t, "savings", ch->id, NULL, q, v, m);
        }
        mpz_clears(sum, num, den, q, v, e12, NULL);
}
