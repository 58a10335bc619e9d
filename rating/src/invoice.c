/* Pricing one customer's period: the lines of docs/formats.md, in order. */
#include "rating/invoice.h"

#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "rating/money.h"

#include "invoice_int.h"

size_t rate_place(const struct rate_experiment *e,
                  const struct rate_customer *cust, bool *explicit_)
{
        for (size_t i = 0; i < cust->placement_count; i++) {
                const struct rate_placement *p = &cust->placements[i];

                if (strcmp(p->experiment, e->id) != 0)
                        continue;
                *explicit_ = true;
                for (size_t c = 0; c < e->cohort_count; c++)
                        if (strcmp(e->cohorts[c].name, p->cohort) == 0)
                                return c;
                return RATE_NO_INDEX;
        }
        *explicit_ = false;
        return rate_experiment_cohort(e, rate_bucket(e->salt, cust->id));
}

tl_status rate__add_line(struct build *b, rate_line_kind kind,
                         struct rate_line **out)
{
        struct rate_invoice *inv = b->inv;

        if (inv->line_count == b->line_cap) {
                size_t cap = b->line_cap ? b->line_cap * 2 : 16;
                struct rate_line *l;
                void *mem;

                if (tl_arena_alloc(&inv->arena, cap * sizeof *l, &mem, b->err))
                        return TL_ENOMEM;
                l = mem;
                if (inv->line_count)
                        memcpy(l, inv->lines, inv->line_count * sizeof *l);
                inv->lines = l;
                b->line_cap = cap;
        }
        *out = &inv->lines[inv->line_count++];
        memset(*out, 0, sizeof **out);
        (*out)->kind = kind;
        (*out)->segment = b->seg;
        return TL_OK;
}

tl_status rate__round_money(struct build *b, const struct rate_amount *a,
                            struct tl_dec *out)
{
        tl_status rc = rate_amount_round(a, b->cat->currency, out, b->err);

        if (rc)
                tl_error_prefix(b->err, "customer %s", b->cust->id);
        return rc;
}

/* ---- the lines
 * ------------------------------------------------------------------- */

static tl_status fee_lines(struct build *b, struct rate_amount *sum)
{
        const struct rate_plan *p = b->plan;
        struct rate_amount a;
        tl_status rc = TL_OK;

        rate_amount_init(&a);
        for (size_t i = 0; !rc && i < p->fee_count; i++) {
                struct rate_line *l;

                if ((rc = rate__add_line(b, RATE_LINE_FEE, &l)))
                        break;
                l->ref = p->fees[i].id;
                l->name = p->fees[i].name;
                l->active_days = b->active_days;
                rate_amount_set_dec(&a, &p->fees[i].amount);
                rate_amount_mul_ratio(&a, b->active_days, b->inv->period.days);
                if (!(rc = rate__round_money(b, &a, &l->amount))) {
                        rate_amount_set_dec(&a, &l->amount);
                        rate_amount_add(sum, &a);
                }
        }
        rate_amount_release(&a);
        return rc;
}

static bool plan_uses_meter(const struct rate_plan *p, size_t m)
{
        for (size_t i = 0; i < p->charge_count; i++)
                if (p->charges[i].meter == m)
                        return true;
        for (size_t i = 0; i < p->savings_count; i++)
                if (p->savings[i].meter == m)
                        return true;
        return false;
}

/* The informational usage section: each meter the plan reads, raw. */
static tl_status usage_report(struct build *b)
{
        struct rate_invoice *inv = b->inv;
        struct rate_amount q, g;
        tl_status rc = TL_OK;
        void *mem;

        if (tl_arena_alloc(&inv->arena,
                           (b->cat->meter_count + 1) * sizeof *inv->usage, &mem,
                           b->err))
                return TL_ENOMEM;
        inv->usage = mem;
        rate_amount_init(&q);
        rate_amount_init(&g);
        for (size_t m = 0; !rc && m < b->cat->meter_count; m++) {
                const struct rate_group_usage *gs = NULL;
                struct rate_usage_report *r;
                size_t ng;

                bool used = false;

                for (size_t k = 0; k < b->seg_count; k++)
                        used = used || plan_uses_meter(b->use[k].plan, m);
                if (!used)
                        continue;
                ng = b->ci == RATE_NO_INDEX
                         ? 0
                         : rate_acc_groups(b->acc, b->ci, m, &gs);
                r = &inv->usage[inv->usage_count++];
                memset(r, 0, sizeof *r);
                r->meter = &b->cat->meters[m];
                mpq_set_ui(q.q, 0, 1);
                if (ng && tl_arena_alloc(&inv->arena, ng * sizeof *r->groups,
                                         &mem, b->err)) {
                        rc = TL_ENOMEM;
                        break;
                }
                r->groups = ng ? mem : NULL;
                for (size_t i = 0; !rc && i < ng; i++) {
                        rate_amount_set_u128(&g, gs[i].quantity);
                        rate_amount_add(&q, &g);
                        r->groups[i].values = gs[i].values;
                        rc = rate__exact_text(b, &g, r->groups[i].quantity);
                        r->group_count++;
                }
                if (!rc)
                        rc = rate__exact_text(b, &q, r->quantity);
        }
        rate_amount_release(&q);
        rate_amount_release(&g);
        return rc;
}

static tl_status adjustment_lines(struct build *b,
                                  const struct rate_invoice_opts *opts,
                                  struct rate_amount *adj)
{
        struct rate_amount a;
        tl_status rc = TL_OK;

        if (!opts)
                return TL_OK;
        rate_amount_init(&a);
        for (size_t i = 0; !rc && i < opts->adjustment_count; i++) {
                const struct rate_adjustment *x = &opts->adjustments[i];
                struct rate_line *l;
                char *name;
                size_t n = strlen(x->period) + 32;

                if ((rc = rate__add_line(b, RATE_LINE_ADJUSTMENT, &l)) ||
                    (rc = tl_arena_alloc(&b->inv->arena, n, (void **)&name,
                                         b->err)) ||
                    (rc = tl_arena_strndup(&b->inv->arena, x->period,
                                           strlen(x->period), (char **)&l->ref,
                                           b->err)))
                        break;
                snprintf(name, n, "Late usage of %s", x->period);
                l->name = name;
                rate_amount_set_dec(&a, &x->amount);
                if (!(rc = rate__round_money(b, &a, &l->amount))) {
                        rate_amount_set_dec(&a, &l->amount);
                        rate_amount_add(adj, &a);
                }
        }
        rate_amount_release(&a);
        return rc;
}

/* The current segment's minimum: it floors 'sum' (its fee + seat +
   usage), prorated by its active days / the period's. */
static tl_status minimum_line(struct build *b, struct rate_amount *sum)
{
        struct rate_invoice *inv = b->inv;
        const struct rate_plan *p = b->plan;
        struct rate_amount a;
        struct rate_line *l;
        tl_status rc = TL_OK;

        rate_amount_init(&a);
        if (p->has_minimum) {
                struct tl_dec floor;

                rate_amount_set_dec(&a, &p->minimum);
                rate_amount_mul_ratio(&a, b->active_days, inv->period.days);
                if ((rc = rate__round_money(b, &a, &floor)))
                        goto out;
                rate_amount_set_dec(&a, &floor);
                rate_amount_sub(&a, sum);
                if (rate_amount_sign(&a) > 0) {
                        if ((rc = rate__add_line(b, RATE_LINE_MINIMUM, &l)))
                                goto out;
                        l->name = "Minimum commitment";
                        l->active_days = b->active_days;
                        if ((rc = rate__round_money(b, &a, &l->amount)))
                                goto out;
                        rate_amount_add(sum, &a);
                }
        }
out:
        rate_amount_release(&a);
        return rc;
}

/* Credit and tax once over every segment, then the totals: all from
   rounded lines. 'adj' (adjustments) is added to 'sum' first. */
static tl_status close_lines(struct build *b, struct rate_amount *sum,
                             const struct rate_amount *adj)
{
        struct rate_invoice *inv = b->inv;
        struct rate_amount a, t;
        struct rate_line *l;
        tl_status rc = TL_OK;

        rate_amount_init(&a);
        rate_amount_init(&t);
        rate_amount_add(sum, adj);
        if ((rc = rate__round_money(b, sum, &inv->subtotal)))
                goto out;
        /* Credit: the balance in money, at most the subtotal; the rest
           carries over. Cut to the minor unit, never rounded up: an invoice
           draws no more than the grants hold (a grant may have 6 digits). */
        inv->credit = b->cust->credits;
        while (inv->credit.scale > (int32_t)b->cat->currency->minor_digits) {
                inv->credit.coef /= 10;
                inv->credit.scale--;
        }
        rate_amount_set_dec(&a, &inv->credit);
        if (rate_amount_cmp(&a, sum) > 0)
                rate_amount_set(&a, sum);
        if (rate_amount_sign(&a) < 0)
                mpq_set_ui(a.q, 0, 1);
        mpq_neg(a.q, a.q);
        if ((rc = rate__round_money(b, &a, &inv->credit)))
                goto out;
        if (rate_amount_sign(&a) < 0) {
                if ((rc = rate__add_line(b, RATE_LINE_CREDIT, &l)))
                        goto out;
                l->name = "Prepaid credit applied";
                l->amount = inv->credit;
        }
        rate_amount_add(&a, sum); /* the subtotal after credit */
        inv->tax = (struct tl_dec){0, (int32_t)b->cat->currency->minor_digits};
        if (!tl_dec_is_zero(&b->cust->tax_rate)) {
                rate_amount_mul_dec(&a, &b->cust->tax_rate);
                if ((rc = rate__add_line(b, RATE_LINE_TAX, &l)) ||
                    (rc = rate__round_money(b, &a, &l->amount)))
                        goto out;
                l->name = "Tax";
                l->price = b->cust->tax_rate;
                inv->tax = l->amount;
        }
        rate_amount_set_dec(&t, &inv->credit);
        rate_amount_add(sum, &t);
        rate_amount_set_dec(&t, &inv->tax);
        rate_amount_add(sum, &t);
        rc = rate__round_money(b, sum, &inv->total);
out:
        rate_amount_release(&a);
        rate_amount_release(&t);
        return rc;
}

/* The plan segment 'sg' prices: its subscribed plan, or the cohort's in
   an experiment on it. Cohort choices join the invoice's, once each. */
static tl_status choose_plan(struct build *b, const struct rate_segment *sg,
                             const struct rate_plan **out)
{
        const struct rate_customer *c = b->cust;
        struct rate_invoice *inv = b->inv;
        size_t pi = rate_catalog_plan(b->cat, sg->plan);

        if (pi == RATE_NO_INDEX)
                return tl_fail(b->err, TL_EINVAL,
                               "%s:%u:%u: customers[%s].plan: undefined plan "
                               "'%s' in catalog %s version %s (%s)",
                               b->customers ? b->customers->path : "customers",
                               sg->plan_line, sg->plan_col, c->id, sg->plan,
                               b->cat->name, b->cat->version, b->cat->path);
        *out = &b->cat->plans[pi];
        for (size_t i = 0; i < b->cat->experiment_count; i++) {
                const struct rate_experiment *e = &b->cat->experiments[i];
                struct rate_cohort_choice *ch;
                bool expl, seen = false;
                size_t k;

                if (e->plan != pi)
                        continue;
                k = rate_place(e, c, &expl);
                if (k == RATE_NO_INDEX) {
                        const struct rate_placement *pl = NULL;

                        for (size_t j = 0; j < c->placement_count; j++)
                                if (strcmp(c->placements[j].experiment,
                                           e->id) == 0)
                                        pl = &c->placements[j];
                        return tl_fail(
                            b->err, TL_EINVAL,
                            "%s:%u:%u: customers[%s].cohorts.%s: "
                            "experiment '%s' has no cohort '%s'",
                            b->customers ? b->customers->path : "customers",
                            pl ? pl->line : c->line, pl ? pl->col : c->col,
                            c->id, e->id, e->id, pl ? pl->cohort : "?");
                }
                for (size_t j = 0; j < inv->cohort_count; j++)
                        seen = seen || inv->cohorts[j].experiment == e->id;
                if (!seen) {
                        ch = &inv->cohorts[inv->cohort_count++];
                        ch->experiment = e->id;
                        ch->cohort = e->cohorts[k].name;
                        ch->explicit_ = expl;
                }
                *out = &b->cat->plans[e->cohorts[k].plan];
        }
        return TL_OK;
}

/*
** The segments of the period, each with its usage and plan. With one, the
** period's own usage; with more, 'opts->segs''s.
*/
static tl_status plan_segments(struct build *b,
                               const struct rate_invoice_opts *opts,
                               const struct rate_acc *acc, size_t ci)
{
        struct rate_invoice *inv = b->inv;
        size_t cap = b->cust->sub_count ? b->cust->sub_count : 1;
        tl_status rc = TL_OK;
        void *mem;

        if (tl_arena_alloc(&inv->arena, cap * sizeof *inv->segments, &mem,
                           b->err))
                return TL_ENOMEM;
        inv->segments = mem;
        inv->segment_count = rate_segments(b->cust, &inv->period, mem);
        b->seg_count = inv->segment_count;
        if (b->seg_count > 1 && (!opts || !opts->segs ||
                                 rate_segs_count(opts->segs) != b->seg_count))
                return tl_fail(b->err, TL_EINVAL,
                               "customer %s: the plan changes in %s but its "
                               "usage was not kept per segment",
                               b->cust->id, inv->period.label);
        if (tl_arena_alloc(&inv->arena,
                           b->seg_count * sizeof *b->use +
                               (b->cat->experiment_count + 1) *
                                   sizeof *inv->cohorts,
                           &mem, b->err))
                return TL_ENOMEM;
        b->use = mem;
        inv->cohorts = (struct rate_cohort_choice *)(b->use + b->seg_count);
        for (size_t k = 0; !rc && k < b->seg_count; k++) {
                struct seg_use *u = &b->use[k];

                if (b->seg_count == 1) {
                        u->acc = acc;
                        u->ci = ci;
                } else {
                        u->acc = rate_segs_acc(opts->segs, k);
                        u->ci = rate_acc_find(u->acc, b->cust->id);
                }
                rc = choose_plan(b, &inv->segments[k], &u->plan);
                inv->active_days += inv->segments[k].active_days;
        }
        return rc;
}

/* Make segment 'k' the current one. */
static void enter(struct build *b, size_t k)
{
        b->acc = b->use[k].acc;
        b->ci = b->use[k].ci;
        b->plan = b->use[k].plan;
        b->active_days = b->inv->segments[k].active_days;
        b->seg = b->seg_count > 1 ? &b->inv->segments[k] : NULL;
        b->inc_num = b->inc_den = 1;
        if (b->seg_count > 1) {
                b->inc_num = (uint32_t)(b->seg->end_day - b->seg->start_day);
                b->inc_den = b->inv->period.days;
        }
        tl_free(b->seats);
        b->seats = NULL;
        b->seat_count = 0;
        b->inv->plan = b->plan;
        b->inv->subscribed_plan = b->inv->segments[k].plan;
}

tl_status rate_invoice_build(const struct rate_catalog *cat,
                             const struct rate_customers *customers,
                             const struct rate_customer *cust,
                             const struct rate_acc *acc, size_t ci,
                             struct rate_invoice **out, struct tl_error *err)
{
        return rate_invoice_build_opts(cat, customers, cust, acc, ci, NULL, out,
                                       err);
}

tl_status rate_invoice_base(const struct rate_invoice *inv, struct tl_dec *out,
                            struct tl_error *err)
{
        struct rate_amount sum, a;
        tl_status rc;

        rate_amount_init(&sum);
        rate_amount_init(&a);
        for (size_t i = 0; i < inv->line_count; i++) {
                rate_line_kind k = inv->lines[i].kind;

                if (k == RATE_LINE_FEE || k == RATE_LINE_SEAT ||
                    k == RATE_LINE_USAGE || k == RATE_LINE_MINIMUM) {
                        rate_amount_set_dec(&a, &inv->lines[i].amount);
                        rate_amount_add(&sum, &a);
                }
        }
        rc = rate_amount_round(&sum, inv->catalog->currency, out, err);
        rate_amount_release(&sum);
        rate_amount_release(&a);
        return rc;
}

tl_status rate_invoice_build_opts(const struct rate_catalog *cat,
                                  const struct rate_customers *customers,
                                  const struct rate_customer *cust,
                                  const struct rate_acc *acc, size_t ci,
                                  const struct rate_invoice_opts *opts,
                                  struct rate_invoice **out,
                                  struct tl_error *err)
{
        struct rate_invoice *inv = tl_calloc(1, sizeof *inv);
        struct build b = {.cat = cat,
                          .customers = customers,
                          .cust = cust,
                          .inv = inv,
                          .err = err};
        struct rate_amount sum, seg, adj;
        tl_status rc;

        if (!inv)
                return tl_fail(err, TL_ENOMEM, "out of memory");
        tl_arena_init(&inv->arena, 8192, 0);
        inv->customer = cust->id;
        inv->customer_name = cust->name;
        inv->subscribed_plan = cust->plan;
        inv->catalog = cat;
        inv->period = *rate_acc_period(acc);
        rate_amount_init(&sum);
        rate_amount_init(&seg);
        rate_amount_init(&adj);
        rc = plan_segments(&b, opts, acc, ci);
        /* With one segment its minimum comes after the adjustments, as it
           always has; with more, each segment's closes it. */
        for (size_t k = 0; !rc && k < b.seg_count; k++) {
                enter(&b, k);
                mpq_set_ui(seg.q, 0, 1);
                rc = fee_lines(&b, &seg);
                if (!rc)
                        rc = rate__seat_lines(&b, &seg);
                if (!rc)
                        rc = rate__usage_lines(&b, &seg);
                if (!rc && b.seg_count > 1)
                        rc = minimum_line(&b, &seg);
                rate_amount_add(&sum, &seg);
        }
        b.seg = NULL;
        if (!rc)
                rc = adjustment_lines(&b, opts, &adj);
        if (!rc && b.seg_count == 1)
                rc = minimum_line(&b, &sum);
        if (!rc)
                rc = close_lines(&b, &sum, &adj);
        b.acc = acc;
        b.ci = ci;
        if (!rc)
                rc = usage_report(&b);
        if (!rc)
                rc = rate__savings(&b);
        rate_amount_release(&sum);
        rate_amount_release(&seg);
        rate_amount_release(&adj);
        tl_free(b.seats);
        if (rc) {
                if (rc == TL_ENOMEM)
                        tl_fail(err, TL_ENOMEM, "out of memory");
                rate_invoice_free(&inv);
                return rc;
        }
        *out = inv;
        return TL_OK;
}

void rate_invoice_free(struct rate_invoice **pp)
{
        if (!pp || !*pp)
                return;
        tl_arena_release(&(*pp)->arena);
        tl_free(*pp);
        *pp = NULL;
}

const char *rate_line_kind_name(rate_line_kind k)
{
        static const char *const N[] = {
            "fee", "seat", "usage", "adjustment", "minimum", "credit", "tax"};
        return (unsigned)k < sizeof N / sizeof *N ? N[k] : "?";
}
