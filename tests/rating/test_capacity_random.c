/* Capacity licences against an independent reference: random fleets
   (activations before and inside the period, deactivations at any time and
   at midnight, devices that change class) and random allowances, priced by
   the rater and by a day-by-day GMP model of the spec, to the minor unit. */
#include <criterion/criterion.h>
#include <gmp.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "rating/catalog.h"
#include "rating/customers.h"
#include "rating/invoice.h"
#include "rating/usage.h"
#include "schemas/decode.h"

#define CASES 300
#define MAX_SPANS 12
#define DAY 86400LL

static const char *const CLASS[3] = {"large", "medium", "small"};
static const char *const CUR[3] = {"USD", "JPY", "KWD"};
static const unsigned MINOR[3] = {2, 0, 3};
static const char *const PERIOD[3] = {"2026-02", "2026-04", "2026-10"};

static uint64_t rng = 0x5ea75eedULL;

static uint64_t next(void)
{
        uint64_t z = (rng += 0x9e3779b97f4a7c15ULL);

        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
}

static long long pick(long long lo, long long hi) /* [lo, hi] */
{
        return lo + (long long)(next() % (uint64_t)(hi - lo + 1));
}

/* One activity of a device: [from, to) in seconds since the epoch; 'open'
   when no deactivate ends it. */
struct span {
        int dev, cls;
        long long from, to;
        bool open;
};

struct fleet {
        int n;
        struct span s[MAX_SPANS];
};

static void iso(long long t, char *out, size_t size)
{
        time_t tt = (time_t)t;
        struct tm tm;

        gmtime_r(&tt, &tm);
        strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* A random time: often on a midnight, to meet the half-open edges. */
static long long when(long long lo, long long hi)
{
        long long t = pick(lo, hi);

        return next() % 3 == 0 ? t - t % DAY : t;
}

static void make_fleet(struct fleet *f, long long start, long long end)
{
        int devices = (int)pick(0, 4);

        f->n = 0;
        for (int d = 0; d < devices; d++) {
                long long at = when(start - 40 * DAY, end - DAY);
                int spans = (int)pick(1, 3);

                for (int k = 0; k < spans && f->n < MAX_SPANS && at < end;
                     k++) {
                        struct span *s = &f->s[f->n++];

                        s->dev = d;
                        s->cls = (int)pick(0, 2);
                        s->from = at;
                        s->to = s->from + pick(3600, 20 * DAY);
                        if (s->to % DAY && next() % 3 == 0)
                                s->to -= s->to % DAY;
                        if (s->to <= s->from)
                                s->to = s->from + DAY;
                        s->open = k + 1 == spans && next() % 2;
                        at = s->to + pick(0, 3 * DAY);
                }
        }
}

/* Seat-days of class 'cls', the spec's way: each day of the period on
   which a device was active at any moment counts once per device. */
static long long ref_days(const struct fleet *f, int cls, long long start,
                          int days, long long end)
{
        long long n = 0;

        for (int dev = 0; dev < 5; dev++)
                for (int day = 0; day < days; day++) {
                        long long lo = start + day * DAY, hi = lo + DAY;
                        bool on = false;

                        for (int i = 0; i < f->n; i++) {
                                const struct span *s = &f->s[i];
                                long long to = s->open ? end : s->to;

                                on |= s->dev == dev && s->cls == cls &&
                                      s->from < hi && to > lo;
                        }
                        n += on;
                }
        return n;
}

/* 'q' rounded half to even to 'digits' places, as decimal text. */
static void ref_text(const mpq_t q, unsigned digits, char *out, size_t size)
{
        void (*gmp_free)(void *, size_t);
        mpz_t n, r, p;
        char *s;
        size_t len;

        mpz_inits(n, r, p, NULL);
        mpz_ui_pow_ui(p, 10, digits);
        mpz_mul(n, mpq_numref(q), p);
        mpz_fdiv_qr(n, r, n, mpq_denref(q));
        mpz_mul_2exp(r, r, 1);
        if (mpz_cmp(r, mpq_denref(q)) > 0 ||
            (mpz_cmp(r, mpq_denref(q)) == 0 && mpz_odd_p(n)))
                mpz_add_ui(n, n, 1);
        s = mpz_get_str(NULL, 10, n);
        len = strlen(s);
        if (!digits)
                snprintf(out, size, "%s", s);
        else if (len > digits)
                snprintf(out, size, "%.*s.%s", (int)(len - digits), s,
                         s + len - digits);
        else
                snprintf(out, size, "0.%0*d%s", (int)(digits - len), 0, s);
        mp_get_memory_functions(NULL, NULL, &gmp_free);
        gmp_free(s, strlen(s) + 1);
        mpz_clears(n, r, p, NULL);
}

struct charge {
        long long included, usage, price; /* price in 10^-4 */
        long long unit;
        bool scalar;
        bool has[3];
        long long per[3]; /* per seat-month, in 10^-3 */
};

static void write_catalog(char *yaml, size_t size, int cur,
                          const struct charge *c)
{
        char per[256];
        size_t n = 0;

        if (c->scalar) {
                snprintf(per, sizeof per, "%lld.%03lld", c->per[0] / 1000,
                         c->per[0] % 1000);
        } else {
                n += (size_t)snprintf(per, sizeof per, "{");
                for (int k = 0; k < 3; k++)
                        if (c->has[k])
                                n += (size_t)snprintf(
                                    per + n, sizeof per - n,
                                    "%s %s: %lld.%03lld", n > 1 ? "," : "",
                                    CLASS[k], c->per[k] / 1000,
                                    c->per[k] % 1000);
                snprintf(per + n, sizeof per - n, " }");
        }
        snprintf(yaml, size,
                 "catalog: t\nversion: \"1\"\neffective_from: 2020-01-01\n"
                 "currency: %s\nmeters:\n"
                 "  local: { event: inference.tokens, value: output_tokens,\n"
                 "           aggregation: sum }\n"
                 "  devices: { event: device.seat, aggregation: seats }\n"
                 "plans:\n  p:\n"
                 "    seats: { meter: devices, prices: { small: 1, medium: "
                 "1, large: 1 } }\n"
                 "    charges:\n"
                 "      - { id: local, meter: local, unit: %lld, included: "
                 "%lld,\n"
                 "          included_per_seat: %s, model: per_unit,\n"
                 "          price: %lld.%04lld }\n",
                 CUR[cur], c->unit, c->included, per, c->price / 10000,
                 c->price % 10000);
}

static void add(struct rate_acc *acc, struct sch_decoder *dec, const char *json)
{
        struct sch_event ev;
        struct tl_error err;

        cr_assert_eq(sch_decode_json(dec, json, strlen(json), &ev, &err), TL_OK,
                     "%s: %s", err.msg, json);
        cr_assert_eq(rate_acc_add(acc, &ev, &err), TL_OK, "%s", err.msg);
}

static void seat_event(struct rate_acc *acc, struct sch_decoder *dec, int id,
                       int dev, const char *action, int cls, long long t)
{
        char json[512], time[32];

        iso(t, time, sizeof time);
        snprintf(json, sizeof json,
                 "{\"specversion\":\"1.0\",\"id\":\"s%d\",\"source\":\"d\","
                 "\"type\":\"device.seat\",\"subject\":\"c\",\"time\":\"%s\","
                 "\"data\":{\"device_id\":\"dev%d\",\"action\":\"%s\","
                 "\"model_class\":\"%s\"}}",
                 id, time, dev, action, CLASS[cls]);
        add(acc, dec, json);
}

/* One random case: the rater's usage line against the reference. */
static void one_case(int n)
{
        struct rate_catalog *cat = NULL;
        struct rate_customers *cs = NULL;
        struct rate_acc *acc = NULL;
        struct rate_invoice *inv = NULL;
        struct sch_decoder *dec = NULL;
        struct rate_period period;
        struct tl_error err;
        struct fleet f;
        struct charge c;
        char yaml[2048], json[512], time[32], want[64], got[64];
        const char *cust = "customers:\n  - { id: c, plan: p, start: "
                           "2020-01-01 }\n";
        int cur = (int)pick(0, 2), id = 0;
        long long start, end;
        mpq_t q, t;

        memset(&c, 0, sizeof c);
        c.included = next() % 2 ? pick(0, 1000000) : 0;
        c.usage = pick(0, 20000000);
        c.price = pick(1, 9999999);
        c.unit = (const long long[]){1, 1000, 1000000}[pick(0, 2)];
        c.scalar = next() % 2;
        for (int k = 0; k < 3; k++) {
                c.has[k] = c.scalar || next() % 3 != 0;
                c.per[k] = pick(0, 5000000000LL);
        }
        if (!c.scalar && !c.has[0] && !c.has[1] && !c.has[2])
                c.has[2] = true;
        write_catalog(yaml, sizeof yaml, cur, &c);
        cr_assert_eq(
            rate_catalog_parse("t.yaml", yaml, strlen(yaml), &cat, NULL, &err),
            TL_OK, "%s\n%s", err.msg, yaml);
        cr_assert_eq(
            rate_customers_parse("c.yaml", cust, strlen(cust), &cs, NULL, &err),
            TL_OK);
        cr_assert_eq(rate_period_parse(PERIOD[n % 3], &period, &err), TL_OK);
        cr_assert_eq(rate_acc_new(cat, &period, &acc, &err), TL_OK);
        cr_assert_eq(sch_decoder_new(NULL, &dec, NULL), TL_OK);
        start = period.start_us / 1000000;
        end = period.end_us / 1000000;
        make_fleet(&f, start, end);
        for (int i = 0; i < f.n; i++) {
                seat_event(acc, dec, id++, f.s[i].dev, "activate", f.s[i].cls,
                           f.s[i].from);
                if (!f.s[i].open && f.s[i].to < end)
                        seat_event(acc, dec, id++, f.s[i].dev, "deactivate",
                                   f.s[i].cls, f.s[i].to);
                else if (!f.s[i].open)
                        f.s[i].open = true; /* ends after the period */
        }
        iso(start + DAY, time, sizeof time);
        snprintf(json, sizeof json,
                 "{\"specversion\":\"1.0\",\"id\":\"u\",\"source\":\"s\","
                 "\"type\":\"inference.tokens\",\"subject\":\"c\","
                 "\"time\":\"%s\",\"data\":{\"model\":\"m\","
                 "\"deployment\":\"device\",\"decoding\":\"autoregressive\","
                 "\"input_tokens\":0,\"output_tokens\":%lld}}",
                 time, c.usage);
        add(acc, dec, json);
        cr_assert_eq(rate_invoice_build(cat, cs, &cs->items[0], acc,
                                        rate_acc_find(acc, "c"), &inv, &err),
                     TL_OK, "%s", err.msg);

        /* q = usage - included - sum per x days / period days, at least 0;
           amount = q x price / unit. */
        mpq_inits(q, t, NULL);
        mpq_set_si(q, c.usage - c.included, 1);
        for (int k = 0; k < 3; k++) {
                long long days = ref_days(&f, k, start, (int)period.days, end);

                if (!c.has[k] || !days)
                        continue;
                mpz_set_si(mpq_numref(t), c.per[c.scalar ? 0 : k]);
                mpz_mul_si(mpq_numref(t), mpq_numref(t), days);
                mpz_set_si(mpq_denref(t), 1000LL * period.days);
                mpq_canonicalize(t);
                mpq_sub(q, q, t);
        }
        if (mpq_sgn(q) < 0)
                mpq_set_ui(q, 0, 1);
        mpz_set_si(mpq_numref(t), c.price);
        mpz_set_si(mpq_denref(t), 10000LL * c.unit);
        mpq_canonicalize(t);
        mpq_mul(q, q, t);
        ref_text(q, MINOR[cur], want, sizeof want);
        for (size_t i = 0; i < inv->line_count; i++)
                if (inv->lines[i].kind == RATE_LINE_USAGE) {
                        tl_dec_format(&inv->lines[i].amount, got, sizeof got);
                        cr_assert_str_eq(got, want, "case %d (%s %s)\n%s", n,
                                         CUR[cur], PERIOD[n % 3], yaml);
                }
        for (size_t i = 0; i < inv->line_count; i++)
                if (inv->lines[i].kind == RATE_LINE_SEAT) {
                        int k = 0;

                        while (strcmp(CLASS[k], inv->lines[i].ref))
                                k++;
                        cr_assert_eq(
                            (long long)inv->lines[i].seat_days,
                            ref_days(&f, k, start, (int)period.days, end),
                            "case %d: %s seat-days", n, CLASS[k]);
                }
        mpq_clears(q, t, NULL);
        rate_invoice_free(&inv);
        rate_acc_free(&acc);
        rate_customers_free(&cs);
        rate_catalog_free(&cat);
        sch_decoder_free(&dec);
}

Test(capacity_random,
     the_rater_matches_a_day_by_day_reference_to_the_minor_unit)
{
        for (int n = 0; n < CASES; n++)
                one_case(n);
}
