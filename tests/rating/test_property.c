/* Property tests of the rater: random catalogs, customers and usage priced by
   rate_invoice_build and by an independent reference written from the
   spec text (property_ref.c), compared line by line. This file generates
   the cases, writes them as YAML and events, and compares. */
#include <criterion/criterion.h>
#include <gmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rating/catalog.h"
#include "rating/customers.h"
#include "rating/invoice.h"
#include "rating/usage.h"

#include "property.h"

/* ---- generating a case ----------------------------------------------- */

/* Counts of every magnitude up to 2^62. */
static uint64_t gen_count(struct rng *r)
{
        /* Two draws in one expression would be unsequenced: a seed must
           give the same case whatever the compiler. */
        uint64_t how = below(r, 4), shift = 2 + below(r, 62);

        return how == 0   ? below(r, 1000)
               : how == 1 ? (uint64_t)p10((unsigned)below(r, 19))
               : how == 2 ? below(r, (UINT64_C(1) << 62) + 1)
                          : rnext(r) >> shift;
}

/* A unit or package size: 1e0 ... 1e12, an integer, or down to 0.001. */
static tl_u128 gen_unit(struct rng *r)
{
        unsigned s = 1 + (unsigned)below(r, 3), how = (unsigned)below(r, 4);

        return how < 2    ? p10(12 + (unsigned)below(r, 13))
               : how == 2 ? (1 + below(r, 9999)) * E12
                          : (1 + below128(r, p10(s + 2))) * p10(12 - s);
}

/* A price; often an odd number of half minor units, so lines tie. */
static tl_u128 gen_price(struct rng *r, const struct tcase *k)
{
        unsigned s = MINOR[k->cur] + 1;

        if (chance(r, 15))
                return (below128(r, p10(s + 3)) * 10 + 5) * p10(12 - s - 1);
        return chance(r, 5) ? 0 : rnum(r, (unsigned)below(r, 4));
}

/* Some customer's quantity on 'ch' (x 10^12), so allowances and tier
   bounds fall where the usage is, often exactly on it. */
static tl_u128 hint(struct rng *r, const struct tcase *k,
                    const struct charge *ch, bool allowance)
{
        mpz_t q;
        tl_u128 v;

        mpz_init(q);
        ref_q(q, ch, k->cust[below(r, (uint64_t)k->ncust)].tot[ch->meter],
              allowance);
        v = u128_of(q);
        mpz_clear(q);
        return v;
}

/* 'v' (x 10^12) cut to a random number of fractional digits. */
static tl_u128 cut(struct rng *r, tl_u128 v)
{
        return v - v % p10((unsigned)below(r, 13));
}

static void gen_weights(struct rng *r, struct charge *ch)
{
        /* Some named values; now and then a weight of 0, or of up to 10^6
           (so q reaches ~10^26). */
        for (int v = 1; v < 4 && GROUPS[ch->meter]; v++)
                if (chance(r, 50)) {
                        ch->wvalue[ch->nweights] = v;
                        ch->weight[ch->nweights++] =
                            chance(r, 10) ? 0 : rnum(r, chance(r, 10) ? 6 : 1);
                }
}

/* Tiers around the usage: bounds often exactly at some customer's q. */
static void gen_tiers(struct rng *r, const struct tcase *k, struct charge *ch)
{
        tl_u128 b[MAX_TIERS], h = hint(r, k, ch, true);
        int n = (int)below(r, MAX_TIERS), kept = 0;

        for (int i = 0; i < n; i++) {
                tl_u128 any = p10(12 + (unsigned)below(r, 22));

                any *= 1 + below(r, 999);
                b[i] = h && chance(r, 35)   ? h
                       : h && chance(r, 60) ? cut(r, below128(r, 2 * h) + 1)
                                            : any;
        }
        for (int i = 1; i < n; i++) /* insertion sort */
                for (int j = i; j > 0 && b[j] < b[j - 1]; j--) {
                        tl_u128 x = b[j];

                        b[j] = b[j - 1], b[j - 1] = x;
                }
        for (int i = 0; i < n; i++) /* ascending: drop 0 and repeats */
                if (b[i] && (kept == 0 || b[i] != ch->up_to[kept - 1]))
                        ch->up_to[kept++] = b[i];
        ch->ntiers = kept + 1;
        for (int i = 0; i < ch->ntiers; i++)
                ch->tprice[i] = gen_price(r, k);
}

static void gen_charge(struct rng *r, const struct tcase *k, struct charge *ch,
                       int i)
{
        tl_u128 h;
        uint64_t how = below(r, 3);

        snprintf(ch->id, sizeof ch->id, "c%d", i);
        snprintf(ch->name, sizeof ch->name, "Charge %d v%u", i,
                 (unsigned)below(r, 1000));
        ch->meter = (int)below(r, 4);
        ch->model = (int)below(r, 5);
        ch->has_unit = chance(r, 70);
        ch->unit = ch->has_unit ? gen_unit(r) : E12;
        gen_weights(r, ch);
        h = hint(r, k, ch, false);
        ch->has_inc = chance(r, 70);
        ch->included = !ch->has_inc ? 0
                       : how == 0   ? h /* q = 0 exactly */
                       : how == 1   ? cut(r, below128(r, h + 1))
                                    : rnum(r, (unsigned)below(r, 8));
        if (ch->model == GRADUATED || ch->model == VOLUME)
                gen_tiers(r, k, ch);
        ch->price = gen_price(r, k);
        ch->size = gen_unit(r);
}

static void gen_plan(struct rng *r, struct tcase *k)
{
        struct plan *p = &k->plan;

        p->nfees = (int)below(r, MAX_FEES);
        for (int i = 0; i < p->nfees; i++) {
                snprintf(p->fees[i].id, sizeof p->fees[i].id, "f%d", i);
                snprintf(p->fees[i].name, sizeof p->fees[i].name, "Fee %d v%u",
                         i, (unsigned)below(r, 1000));
                p->fees[i].amount = rnum(r, (unsigned)below(r, 5));
        }
        p->ncharges = 1 + (int)below(r, MAX_CHARGES - 2);
        for (int i = 0; i < p->ncharges; i++)
                gen_charge(r, k, &p->charges[i], i);
        p->has_min = chance(r, 40);
        p->minimum = rnum(r, (unsigned)below(r, 6));
        p->savings = chance(r, 40) ? (int)below(r, (uint64_t)p->ncharges) : -1;
}

/* A customer: subscribed from inside or before the period, perhaps to a
   day inside, after or even before it; events mostly in the period, some
   exactly on its edges and some outside. */
static void gen_customer(struct rng *r, struct tcase *k, struct cust *c, int i)
{
        int64_t lo = k->pstart_day * DAY_US, hi = lo + k->days * DAY_US;

        snprintf(c->id, sizeof c->id, "cust_%d", i);
        c->start_day =
            chance(r, 60) ? k->pstart_day + (int64_t)below(r, (uint64_t)k->days)
                          : k->pstart_day - 1 - (int64_t)below(r, 500);
        c->has_end = chance(r, 50);
        c->end_day = c->start_day + 1 +
                     (int64_t)below(r, (uint64_t)(k->pstart_day + k->days + 40 -
                                                  c->start_day));
        c->has_tax = chance(r, 60);
        c->tax = chance(r, 10) ? E12 : rnum(r, 0);
        c->has_credits = chance(r, 50);
        c->credits = rnum(r, (unsigned)below(r, 7));
        c->nev = (int)below(r, MAX_EV + 1);
        for (int j = 0; j < c->nev; j++) {
                struct event *e = &c->ev[j];
                uint64_t w = below(r, 20);

                e->cloud = chance(r, 70);
                e->dec = chance(r, 80) ? 1 + (int)below(r, 2)
                                       : (chance(r, 50) ? 0 : 3);
                e->in = gen_count(r);
                e->out = gen_count(r);
                e->time_us =
                    w < 16    ? lo + (int64_t)below(r, (uint64_t)(hi - lo))
                    : w == 16 ? lo
                    : w == 17 ? hi - 1
                    : w == 18 ? hi
                              : lo - 1 - (int64_t)below(r, UINT64_C(1) << 40);
        }
        ref_usage(k, c);
}

static void gen_case(struct rng *r, struct tcase *k)
{
        memset(k, 0, sizeof *k);
        k->cur = (int)below(r, 3);
        k->year = 2000 + (int)below(r, 100);
        k->month = 1 + (int)below(r, 12);
        k->pstart_day = days_from_civil(k->year, k->month, 1);
        k->days =
            days_from_civil(k->year + (k->month == 12), k->month % 12 + 1, 1) -
            k->pstart_day;
        k->ncust = 1 + (int)below(r, MAX_CUST);
        for (int i = 0; i < k->ncust; i++)
                gen_customer(r, k, &k->cust[i], i);
        gen_plan(r, k);
}

/* ---- the case as YAML and events ------------------------------------- */

/*
** Append 'v' (x 10^12) in a spelling docs/pricing-rules.md allows, picked by
** 'r': plain, padded with zeros, quoted, with '_' between digits, or with
** an exponent ("1.120636E3"). Each must parse to the same exact number.
*/
static void put_num(struct tbuf *t, struct rng *r, tl_u128 v)
{
        char s[96], d[96];
        const char *dot;
        int n = 0, frac, ip, k;
        mpz_t z;

        mpz_init(z);
        z_u128(z, v);
        fixed_text(z, 12, true, s, sizeof s);
        mpz_clear(z);
        dot = strchr(s, '.');
        frac = dot ? (int)strlen(dot + 1) : 0;
        ip = dot ? (int)(dot - s) : (int)strlen(s);
        for (const char *c = s; *c; c++) /* the digits, no leading zeros */
                if (*c != '.' && (n || *c != '0' || !c[1]))
                        d[n++] = *c;
        d[n] = '\0';
        /* k == 1: padded with zeros, within 12 fractional digits. */
        k = (int)below(r, 6);
        if (k == 0 && n <= 25) /* d.ddd e X: n-1 digits written, less X */
                tp(t, "%c%s%s%c%d", d[0], n > 1 ? "." : "", d + 1,
                   chance(r, 50) ? 'e' : 'E', n - 1 - frac);
        else if (k == 1 && (k = (int)below(r, (uint64_t)(13 - frac))))
                tp(t, "%s%s%.*s", s, dot ? "" : ".", k, "000000000000");
        else if (k == 2)
                tp(t, "\"%s\"", s);
        else if (k == 3)
                for (int i = 0; s[i]; i++)
                        tp(t, "%s%c",
                           i && i < ip && (ip - i) % 3 == 0 ? "_" : "", s[i]);
        else
                tp(t, "%s", s);
}

static struct tbuf cat_yaml, cust_yaml, want, got;

/* ", key: number" into a flow mapping. */
static void kv(struct tbuf *t, struct rng *r, const char *key, tl_u128 v)
{
        tp(t, ", %s: ", key);
        put_num(t, r, v);
}

static void write_charge(struct tbuf *t, struct rng *r, const struct charge *ch)
{
        tp(t, "      - { id: %s, name: %s, meter: %s", ch->id, ch->name,
           METER[ch->meter]);
        if (ch->has_unit)
                kv(t, r, "unit", ch->unit);
        if (ch->has_inc)
                kv(t, r, "included", ch->included);
        for (int i = 0; i < ch->nweights; i++) {
                tp(t, "%s%s: ", i ? ", " : ", weights: { decoding: { ",
                   DECODING[ch->wvalue[i]]);
                put_num(t, r, ch->weight[i]);
        }
        tp(t, "%s", ch->nweights ? " } }" : "");
        tp(t, ", model: %s", MODEL[ch->model]);
        for (int i = 0; i < ch->ntiers; i++) {
                tp(t, "%s{ up_to: ", i ? ", " : ", tiers: [");
                if (i == ch->ntiers - 1)
                        tp(t, "null");
                else
                        put_num(t, r, ch->up_to[i]);
                kv(t, r, "price", ch->tprice[i]);
                tp(t, " }%s", i == ch->ntiers - 1 ? "]" : "");
        }
        if (!ch->ntiers)
                kv(t, r, "price", ch->price);
        if (ch->model == PACKAGE)
                kv(t, r, "size", ch->size);
        tp(t, " }\n");
}

static void write_catalog(struct tbuf *t, struct rng *r, const struct tcase *k)
{
        const struct plan *p = &k->plan;
        const char *cloud = chance(r, 50) ? "cloud" : "[cloud]";

        t->n = 0;
        tp(t,
           "catalog: prop\nversion: \"v1\"\neffective_from: 2000-01-01\n"
           "currency: %s\nmeters:\n",
           CURRENCY[k->cur]);
        tp(t,
           "  cloud-out: { event: inference.tokens, value: output_tokens, "
           "aggregation: sum, filter: { deployment: %s }, "
           "group_by: [decoding] }\n",
           cloud);
        tp(t,
           "  cloud-in: { event: inference.tokens, value: input_tokens, "
           "aggregation: sum, filter: { deployment: %s } }\n",
           cloud);
        tp(t, "  local-out: { event: inference.tokens, value: output_tokens, "
              "aggregation: sum, filter: { deployment: device }, "
              "group_by: [decoding] }\n");
        tp(t, "  cloud-calls: { event: inference.tokens, aggregation: count, "
              "filter: { deployment: cloud }, group_by: [decoding] }\n");
        tp(t, "plans:\n  base:\n    name: Base\n    charges:\n");
        for (int i = 0; i < p->ncharges; i++)
                write_charge(t, r, &p->charges[i]);
        for (int i = 0; i < p->nfees; i++) {
                tp(t, "%s      - { id: %s, name: %s", i ? "" : "    fees:\n",
                   p->fees[i].id, p->fees[i].name);
                kv(t, r, "amount", p->fees[i].amount);
                tp(t, " }\n");
        }
        if (p->has_min)
                tp(t, "    minimum: "), put_num(t, r, p->minimum), tp(t, "\n");
        if (p->savings >= 0)
                tp(t, "    savings: [{ meter: local-out, priced_as: %s }]\n",
                   p->charges[p->savings].id);
}

static void write_customers(struct tbuf *t, struct rng *r,
                            const struct tcase *k)
{
        char day[11];

        t->n = 0;
        tp(t, "customers:\n");
        for (int i = 0; i < k->ncust; i++) {
                const struct cust *c = &k->cust[i];

                civil_text(c->start_day, day);
                tp(t, "  - { id: %s, name: Customer %d, plan: base, start: %s",
                   c->id, i, day);
                civil_text(c->end_day, day);
                if (c->has_end)
                        tp(t, ", end: %s", day);
                if (c->has_tax)
                        kv(t, r, "tax_rate", c->tax);
                if (c->has_credits)
                        kv(t, r, "credits", c->credits);
                tp(t, " }\n");
                for (int j = 0; j < c->nev; j++) /* for a failure report */
                        tp(t, "    # t=%lld %s %s in=%llu out=%llu\n",
                           (long long)c->ev[j].time_us,
                           c->ev[j].cloud ? "cloud" : "device",
                           c->ev[j].dec ? DECODING[c->ev[j].dec] : "-",
                           (unsigned long long)c->ev[j].in,
                           (unsigned long long)c->ev[j].out);
        }
}

static struct sch_str S(const char *s) {
        return (struct sch_str){s, s ? (uint32_t)strlen(s) : 0};
}

/* Fold the events of 'c' into 'acc' as inference.tokens events. */
static tl_status
feed(struct rate_acc *acc, const struct cust *c, struct tl_error *err)
{
        tl_status rc = TL_OK;

        for (int i = 0; !rc && i < c->nev; i++) {
                struct sch_event ev = {0};
                char id[32];

                snprintf(id, sizeof id, "%s-%d", c->id, i);
                ev.id = S(id);
                ev.source = S("prop");
                ev.subject = S(c->id);
                ev.type = SCH_TYPE_TOKENS;
                ev.time_us = c->ev[i].time_us;
                ev.model = S("m");
                ev.deployment =
                    c->ev[i].cloud ? SCH_DEPLOY_CLOUD : SCH_DEPLOY_DEVICE;
                ev.decoding = S(DECODING[c->ev[i].dec]);
                ev.input_tokens = c->ev[i].in;
                ev.output_tokens = c->ev[i].out;
                rc = rate_acc_add(acc, &ev, err);
        }
        return rc;
}

/* ---- comparing --------------------------------------------------------- */

/* The rater's invoice in the form of ref_invoice, or 'brief': the line
   amounts and the total only ("id: 1.00 0.50 = 1.50"). */
static void rater_text(const struct rate_invoice *inv, struct tbuf *t,
                       bool brief)
{
        char a[4][TL_DEC_STR_MAX], qty[RATE_QTY_MAX + 8];

        tp(t, "%s%s", inv->customer, brief ? ":" : "\n");
        for (size_t i = 0; i < inv->line_count; i++) {
                const struct rate_line *l = &inv->lines[i];
                bool usage = l->kind == RATE_LINE_USAGE;

                tl_dec_format(&l->amount, a[0], sizeof a[0]);
                snprintf(qty, sizeof qty, " q=%s", l->quantity);
                if (brief)
                        tp(t, " %s", a[0]);
                else
                        line_text(t, rate_line_kind_name(l->kind), l->ref,
                                  usage || l->kind == RATE_LINE_FEE ? l->name
                                                                    : NULL,
                                  usage ? qty : NULL, a[0]);
        }
        tl_dec_format(&inv->subtotal, a[0], sizeof a[0]);
        tl_dec_format(&inv->credit, a[1], sizeof a[1]);
        tl_dec_format(&inv->tax, a[2], sizeof a[2]);
        tl_dec_format(&inv->total, a[3], sizeof a[3]);
        if (brief) {
                tp(t, " = %s\n", a[3]);
                return;
        }
        tp(t, "subtotal %s credit %s tax %s total %s\n", a[0], a[1], a[2],
           a[3]);
        for (size_t i = 0; i < inv->savings_count; i++) {
                tl_dec_format(&inv->savings[i].cloud_equivalent, a[0],
                              sizeof a[0]);
                snprintf(qty, sizeof qty, " q=%s", inv->savings[i].quantity);
                line_text(t, "savings", inv->savings[i].priced_as, NULL, qty,
                          a[0]);
        }
}

/* What holds whatever the prices: every amount is in minor units and the
   invoice adds up (total = sum of its lines; subtotal = the lines before
   credit and tax). NULL, or what does not hold. */
static const char *adds_up(const struct rate_invoice *inv, unsigned m)
{
        tl_i128 all = 0, sub = 0;

        for (size_t i = 0; i < inv->line_count; i++) {
                const struct rate_line *l = &inv->lines[i];

                if (l->amount.scale != (int32_t)m)
                        return "a line is not in minor units";
                all += l->amount.coef;
                if (l->kind != RATE_LINE_CREDIT && l->kind != RATE_LINE_TAX)
                        sub += l->amount.coef;
        }
        if (inv->total.scale != (int32_t)m || all != inv->total.coef)
                return "total is not the sum of the line amounts";
        if (inv->subtotal.scale != (int32_t)m || sub != inv->subtotal.coef)
                return "subtotal is not the sum of its lines";
        if (sub + inv->credit.coef + inv->tax.coef != inv->total.coef)
                return "total is not subtotal + credit + tax";
        return NULL;
}

/* ---- running cases ----------------------------------------------------- */

static uint64_t env_u64(const char *name, uint64_t dflt)
{
        const char *v = getenv(name);

        return v && *v ? strtoull(v, NULL, 0) : dflt;
}

/*
** Price customers 'kc' (their ids and events) of the YAML texts 'cat' and
** 'cust' for period 'label' with the rater, appending each invoice to 'out'
** as rater_text writes it and checking adds_up. NULL, or what failed.
*/
static const char *rate_all(const char *cat, const char *cust,
                            const char *label, const struct cust *kc, int n,
                            bool brief, struct tbuf *out, struct tl_error *err)
{
        struct rate_catalog *c = NULL;
        struct rate_customers *cs = NULL;
        struct rate_acc *acc = NULL;
        struct rate_period period;
        const char *why = NULL;

        if (rate_catalog_parse("prop.yaml", cat, strlen(cat), &c, NULL, err) ||
            rate_customers_parse("customers.yaml", cust, strlen(cust), &cs,
                                 NULL, err) ||
            rate_period_parse(label, &period, err) ||
            rate_acc_new(c, &period, &acc, err))
                why = "loading failed";
        for (int i = 0; !why && i < n; i++)
                if (feed(acc, &kc[i], err))
                        why = "rate_acc_add failed";
        for (int i = 0; !why && i < n; i++) {
                struct rate_invoice *inv = NULL;

                if (rate_invoice_build(
                        c, cs,
                        rate_customers_find(cs, kc[i].id, strlen(kc[i].id)),
                        acc, rate_acc_find(acc, kc[i].id), &inv, err)) {
                        why = "rate_invoice_build failed";
                        break;
                }
                why = adds_up(inv, c->currency->minor_digits);
                rater_text(inv, out, brief);
                rate_invoice_free(&inv);
                stats.invoices++;
        }
        rate_acc_free(&acc);
        rate_customers_free(&cs);
        rate_catalog_free(&c);
        return why;
}

/* Generate case 'k' from 'seed', price it both ways and compare (only the
   invariants unless 'reference'). NULL, or what went wrong. */
static const char *run_case(struct tcase *k, uint64_t seed, bool reference,
                            struct tl_error *err)
{
        struct rng r = {seed};
        char label[16];
        const char *why;

        gen_case(&r, k);
        write_catalog(&cat_yaml, &r, k);
        write_customers(&cust_yaml, &r, k);
        snprintf(label, sizeof label, "%04d-%02d", k->year, k->month);
        why = rate_all(cat_yaml.b, cust_yaml.b, label, k->cust, k->ncust, false,
                       &got, err);
        for (int c = 0; !why && reference && c < k->ncust; c++)
                ref_invoice(k, &k->cust[c], &want);
        if (!why && reference && strcmp(want.b, got.b) != 0)
                why = "the rater and the reference differ";
        return why;
}

/* Run 'n' cases from 'seed'. TALLY_PROP_SEED and TALLY_PROP_CASES
   override them; TALLY_PROP_CASE=i runs case i only, to rerun a failure. */
static void run_cases(uint64_t seed, unsigned n, bool reference)
{
        static struct tcase k;
        uint64_t only = env_u64("TALLY_PROP_CASE", UINT64_MAX);
        struct tl_error err = {0};
        const char *why;

        seed = env_u64("TALLY_PROP_SEED", seed);
        n = (unsigned)env_u64("TALLY_PROP_CASES", n);
        for (unsigned i = 0; i < n; i++) {
                struct rng h = {seed ^ (i * UINT64_C(0xd1b54a32d192ed03))};

                if (only != UINT64_MAX && i != only)
                        continue;
                want.n = got.n = 0;
                if (!(why = run_case(&k, rnext(&h), reference, &err)))
                        continue;
                fprintf(stderr, "--- catalog\n%s--- customers\n%s", cat_yaml.b,
                        cust_yaml.b);
                fprintf(stderr, "--- rater\n%s--- reference\n%s", got.b,
                        want.b);
                cr_assert_fail("%s (%s) in period %04d-%02d; rerun with "
                               "TALLY_PROP_SEED=%#llx TALLY_PROP_CASE=%u",
                               why, err.msg[0] ? err.msg : "-", k.year, k.month,
                               (unsigned long long)seed, i);
        }
        fprintf(stderr,
                "property: %u cases (seed %#llx): %lu invoices, %lu lines "
                "compared, %lu half-even ties, %lu q at an up_to, %lu q = 0, "
                "%lu minimum lines, %lu credits\n",
                n, (unsigned long long)seed, stats.invoices, stats.lines,
                stats.ties, stats.at_up_to, stats.zero_q, stats.minimum,
                stats.credit);
}

Test(rating_property, random_invoices_match_the_reference)
{
        run_cases(DEFAULT_SEED, 10000, true);
        /* The edges were met, not only the middle (full runs only). */
        if (!getenv("TALLY_PROP_CASE") && !getenv("TALLY_PROP_CASES")) {
                cr_assert_gt(stats.ties, 0);
                cr_assert_gt(stats.at_up_to, 0);
                cr_assert_gt(stats.minimum, 0);
        }
}

Test(rating_property, invoice_total_is_the_sum_of_its_lines)
{
        run_cases(DEFAULT_SEED ^ UINT64_C(0x5eed), 5000, false);
}

/* ---- edges checked by hand --------------------------------------------- */

/* Customer 'id' with one cloud event of 'out' output tokens in 2026-10. */
static struct cust one_event(const char *id, int dec, uint64_t out)
{
        struct cust c = {.nev = out ? 1 : 0};

        snprintf(c.id, sizeof c.id, "%s", id);
        c.ev[0] = (struct event){true, dec, 0, out,
                                 days_from_civil(2026, 10, 15) * DAY_US};
        return c;
}

/* Customers 'kc' of 'cust' priced under 'cat' for 2026-10 must read
   'want', one "id: line amounts = total" each. */
static void expect(const char *cat, const char *cust, const struct cust *kc,
                   int n, const char *want)
{
        struct tl_error err = {0};
        const char *why;

        got.n = 0;
        why = rate_all(cat, cust, "2026-10", kc, n, true, &got, &err);
        cr_assert_null(why, "%s: %s", why, err.msg);
        cr_assert_str_eq(got.b, want);
}

#define HEAD(currency)                                                         \
        "catalog: t\nversion: \"1\"\neffective_from: 2026-01-01\n"             \
        "currency: " currency "\nmeters:\n  cloud-out: { event: "              \
        "inference.tokens, value: output_tokens, aggregation: sum, filter: "   \
        "{ deployment: cloud }, group_by: [decoding] }\nplans:\n"

Test(rating_property, half_even_ties_round_to_the_even_digit)
{
        /* Per currency: a price of half a minor unit, so 1, 3, 5 and 7
           tokens cost 0.5, 1.5, 2.5, 3.5 minor units: 0, 2, 2, 4. Plan t
           adds a fee of 3 minor units, taxed at 0.5 (1.5 -> 2), or less a
           credit of 2.5 minor units (-2.5 -> -2). */
        static const char *const CUR[3][4] = {
            {"USD", "0.005", "0.03", "0.025"},
            {"JPY", "0.5", "3", "2.5"},
            {"KWD", "0.0005", "0.003", "0.0025"}};
        static const char *const WANT[3] = {
            "q1: 0.00 = 0.00\nq3: 0.02 = 0.02\nq5: 0.02 = 0.02\n"
            "q7: 0.04 = 0.04\ntax: 0.03 0.00 0.02 = 0.05\n"
            "cred: 0.03 0.00 -0.02 = 0.01\n",
            "q1: 0 = 0\nq3: 2 = 2\nq5: 2 = 2\nq7: 4 = 4\n"
            "tax: 3 0 2 = 5\ncred: 3 0 -2 = 1\n",
            "q1: 0.000 = 0.000\nq3: 0.002 = 0.002\nq5: 0.002 = 0.002\n"
            "q7: 0.004 = 0.004\ntax: 0.003 0.000 0.002 = 0.005\n"
            "cred: 0.003 0.000 -0.002 = 0.001\n"};
        struct cust kc[6] = {one_event("q1", 1, 1),  one_event("q3", 1, 3),
                             one_event("q5", 1, 5),  one_event("q7", 1, 7),
                             one_event("tax", 1, 0), one_event("cred", 1, 0)};

        for (int c = 0; c < 3; c++) {
                char cat[1024], cust[512];

                snprintf(
                    cat, sizeof cat,
                    HEAD("%s") "  p: { charges: [{ id: u, meter: "
                               "cloud-out, model: per_unit, price: %s }] }\n"
                               "  t: { extends: p, fees: [{ id: f, "
                               "amount: %s }] }\n",
                    CUR[c][0], CUR[c][1], CUR[c][2]);
                snprintf(cust, sizeof cust,
                         "customers:\n"
                         "  - { id: q1, plan: p, start: 2026-01-01 }\n"
                         "  - { id: q3, plan: p, start: 2026-01-01 }\n"
                         "  - { id: q5, plan: p, start: 2026-01-01 }\n"
                         "  - { id: q7, plan: p, start: 2026-01-01 }\n"
                         "  - { id: tax, plan: t, start: 2026-01-01, "
                         "tax_rate: 0.5 }\n"
                         "  - { id: cred, plan: t, start: 2026-01-01, "
                         "credits: %s }\n",
                         CUR[c][3]);
                expect(cat, cust, kc, 6, WANT[c]);
        }
}

Test(rating_property, quantity_at_an_up_to_falls_in_that_tier)
{
        /* Tiers 100 @ 1, 200 @ 0.5, then 0.25. Graduated at 200: 100 + 50;
           volume at 200: all of it in the second tier, 100; at 201: 50.25.
           Plan w reaches q = 200 through a weight (0.5) and an allowance. */
        static const char *const cat = HEAD(
            "USD") "  plain:\n    charges:\n"
                   "      - { id: g, meter: cloud-out, model: graduated, "
                   "tiers: "
                   "[{up_to: 100, price: 1}, {up_to: 200, price: 0.5}, "
                   "{up_to: null, price: 0.25}] }\n"
                   "      - { id: v, meter: cloud-out, model: volume, tiers: "
                   "[{up_to: 100, price: 1}, {up_to: 200, price: 0.5}, "
                   "{up_to: null, price: 0.25}] }\n"
                   "  w:\n    extends: plain\n    charges:\n"
                   "      - { id: g, included: 50, weights: { decoding: "
                   "{ diffusion: 0.5 } } }\n"
                   "      - { id: v, included: 50, weights: { decoding: "
                   "{ diffusion: 0.5 } } }\n";
        static const char *const cust =
            "customers:\n"
            "  - { id: b0, plan: plain, start: 2026-01-01 }\n"
            "  - { id: b100, plan: plain, start: 2026-01-01 }\n"
            "  - { id: b200, plan: plain, start: 2026-01-01 }\n"
            "  - { id: b201, plan: plain, start: 2026-01-01 }\n"
            "  - { id: w500, plan: w, start: 2026-01-01 }\n";
        static const char *const want =
            "b0: 0.00 0.00 = 0.00\nb100: 100.00 100.00 = 200.00\n"
            "b200: 150.00 100.00 = 250.00\nb201: 150.25 50.25 = 200.50\n"
            "w500: 150.00 100.00 = 250.00\n";
        struct cust kc[5] = {one_event("b0", 1, 0), one_event("b100", 1, 100),
                             one_event("b200", 1, 200),
                             one_event("b201", 1, 201),
                             one_event("w500", 2, 500)};

        expect(cat, cust, kc, 5, want);
}
