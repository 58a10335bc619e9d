/* Pricing one customer's period: the lines of docs/formats.md, in order. */
#include "rating/invoice.h"

#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "rating/money.h"

/* Work in progress on one invoice. */
struct build {
        const struct rate_catalog *cat;
        const struct rate_customers *customers;
        const struct rate_customer *cust;
        const struct rate_acc *acc;
        size_t ci;
        struct rate_invoice *inv;
        size_t line_cap;
        struct tl_error *err;
        /* The plan's seat-days by class (seat_lines), for allowances per
           seat; tl_free'd by the builder. */
        struct rate_seat_usage *seats;
        size_t seat_count;
};

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

static tl_status add_line(struct build *b, rate_line_kind kind,
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
        return TL_OK;
}

static tl_status round_money(struct build *b, const struct rate_amount *a,
                             struct tl_dec *out)
{
        tl_status rc = rate_amount_round(a, b->cat->currency, out, b->err);

        if (rc)
                tl_error_prefix(b->err, "customer %s", b->cust->id);
        return rc;
}

/*
** A shown quantity that may come from an allowance per seat (a multiple
** of seat-days / period days): exact when it has a finite decimal form,
** else rounded half to even to 4 digits like seat-months. The amount is
** always priced from the exact value.
*/
static tl_status shown_text(struct build *b, const struct rate_amount *a,
                            char *out)
{
        struct tl_dec d;
        tl_status rc;

        if (rate_amount_format_exact(a, out, RATE_QTY_MAX))
                return TL_OK;
        if ((rc = rate_amount_round_digits(a, 4, &d, b->err)))
                return rc;
        tl_dec_format(&d, out, RATE_QTY_MAX);
        return TL_OK;
}

static tl_status exact_text(struct build *b, const struct rate_amount *a,
                            char *out)
{
        if (rate_amount_format_exact(a, out, RATE_QTY_MAX) == 0)
                return tl_fail(b->err, TL_EOVERFLOW,
                               "customer %s: a quantity has no short exact "
                               "decimal form",
                               b->cust->id);
        return TL_OK;
}

/* Days of 'p' inside the subscription [start, end). */
static uint32_t active_days(const struct rate_customer *c,
                            const struct rate_period *p)
{
        int64_t from =
            c->start_day > p->start_day ? c->start_day : p->start_day;
        int64_t to = p->end_day;

        if (c->has_end && c->end_day < to)
                to = c->end_day;
        return to > from ? (uint32_t)(to - from) : 0;
}

/* ---- charge models
 * ------------------------------------------------------------ */

/* '*amt' = what billable quantity 'q' costs under charge 'ch'. */
static void price_charge(const struct rate_charge *ch,
                         const struct rate_amount *q, struct rate_amount *amt)
{
        struct rate_amount t, lo, hi;

        mpq_set_ui(amt->q, 0, 1);
        rate_amount_init(&t);
        rate_amount_init(&lo);
        rate_amount_init(&hi);
        switch (ch->model) {
        case RATE_MODEL_PER_UNIT:
                rate_amount_set(&t, q);
                rate_amount_mul_dec(&t, &ch->price);
                rate_amount_div_dec(&t, &ch->unit);
                rate_amount_set(amt, &t);
                break;
        case RATE_MODEL_GRADUATED:
                /* Each tier's units, at its own price. */
                for (size_t i = 0; i < ch->tier_count; i++) {
                        const struct rate_tier *tr = &ch->tiers[i];

                        if (rate_amount_cmp(q, &lo) <= 0)
                                break;
                        if (tr->open) {
                                rate_amount_set(&hi, q);
                        } else {
                                rate_amount_set_dec(&hi, &tr->up_to);
                                if (rate_amount_cmp(q, &hi) < 0)
                                        rate_amount_set(&hi, q);
                        }
                        rate_amount_set(&t, &hi);
                        rate_amount_sub(&t, &lo);
                        rate_amount_mul_dec(&t, &tr->price);
                        rate_amount_div_dec(&t, &ch->unit);
                        rate_amount_add(amt, &t);
                        rate_amount_set(&lo, &hi);
                }
                break;
        case RATE_MODEL_VOLUME:
                /* All of q at the price of the tier it falls in; a q equal
                   to an up_to falls in that tier. */
                for (size_t i = 0; i < ch->tier_count; i++) {
                        const struct rate_tier *tr = &ch->tiers[i];

                        if (!tr->open) {
                                rate_amount_set_dec(&hi, &tr->up_to);
                                if (rate_amount_cmp(q, &hi) > 0)
                                        continue;
                        }
                        rate_amount_set(&t, q);
                        rate_amount_mul_dec(&t, &tr->price);
                        rate_amount_div_dec(&t, &ch->unit);
                        rate_amount_set(amt, &t);
                        break;
                }
                break;
        case RATE_MODEL_PACKAGE:
                rate_amount_set(&t, q);
                rate_amount_div_dec(&t, &ch->size);
                rate_amount_ceil(&t);
                rate_amount_mul_dec(&t, &ch->price);
                rate_amount_set(amt, &t);
                break;
        case RATE_MODEL_FLAT:
                if (rate_amount_sign(q) > 0)
                        rate_amount_set_dec(amt, &ch->price);
                break;
        }
        rate_amount_release(&t);
        rate_amount_release(&lo);
        rate_amount_release(&hi);
}

/*
** '*out' = the sum over meter 'mi's groups of quantity x weight, with the
** weights of charge 'ch' (which may price another meter, for savings: a
** weight applies where 'mi' groups by the same field).
*/
static void weighted(const struct build *b, const struct rate_charge *ch,
                     size_t mi, struct rate_amount *out)
{
        const struct rate_meter *m = &b->cat->meters[mi];
        const struct rate_meter *cm = &b->cat->meters[ch->meter];
        const struct rate_group_usage *gs = NULL;
        size_t ng = b->ci == RATE_NO_INDEX
                        ? 0
                        : rate_acc_groups(b->acc, b->ci, mi, &gs);
        struct rate_amount g;

        mpq_set_ui(out->q, 0, 1);
        rate_amount_init(&g);
        for (size_t i = 0; i < ng; i++) {
                rate_amount_set_u128(&g, gs[i].quantity);
                for (size_t w = 0; w < ch->weight_count; w++) {
                        const struct rate_weight *wt = &ch->weights[w];
                        const char *field = cm->group_by[wt->group_index].name;

                        for (size_t f = 0; f < m->group_by_count; f++)
                                if (strcmp(m->group_by[f].name, field) == 0 &&
                                    strcmp(gs[i].values[f], wt->value) == 0)
                                        rate_amount_mul_dec(&g, &wt->factor);
                }
                rate_amount_add(out, &g);
        }
        rate_amount_release(&g);
}

/* ---- the lines
 * ------------------------------------------------------------------- */

static tl_status fee_lines(struct build *b, struct rate_amount *sum)
{
        const struct rate_plan *p = b->inv->plan;
        struct rate_amount a;
        tl_status rc = TL_OK;

        rate_amount_init(&a);
        for (size_t i = 0; !rc && i < p->fee_count; i++) {
                struct rate_line *l;

                if ((rc = add_line(b, RATE_LINE_FEE, &l)))
                        break;
                l->ref = p->fees[i].id;
                l->name = p->fees[i].name;
                l->active_days = b->inv->active_days;
                rate_amount_set_dec(&a, &p->fees[i].amount);
                rate_amount_mul_ratio(&a, b->inv->active_days,
                                      b->inv->period.days);
                if (!(rc = round_money(b, &a, &l->amount))) {
                        rate_amount_set_dec(&a, &l->amount);
                        rate_amount_add(sum, &a);
                }
        }
        rate_amount_release(&a);
        return rc;
}

static tl_status seat_lines(struct build *b, struct rate_amount *sum)
{
        const struct rate_plan *p = b->inv->plan;
        struct rate_seat_usage *seats = NULL;
        struct rate_amount a;
        size_t n = 0;
        tl_status rc;

        if (p->seat_meter == RATE_NO_INDEX || b->ci == RATE_NO_INDEX)
                return TL_OK;
        rc = rate_acc_seats(b->acc, b->ci, p->seat_meter, &seats, &n, b->err);
        if (rc)
                return rc;
        b->seats = seats;
        b->seat_count = n;
        rate_amount_init(&a);
        for (size_t i = 0; !rc && i < n; i++) {
                const struct rate_seat_price *price = NULL;
                struct rate_line *l;
                struct tl_dec months;
                char *cls;

                for (size_t k = 0; k < p->seat_price_count; k++)
                        if (strcmp(p->seat_prices[k].model_class,
                                   seats[i].model_class) == 0)
                                price = &p->seat_prices[k];
                if (!price) {
                        rc = tl_fail(b->err, TL_EINVAL,
                                     "customer %s: devices of model_class "
                                     "'%s' were active but plan '%s' of %s "
                                     "has no seat price for it",
                                     b->cust->id, seats[i].model_class, p->id,
                                     b->cat->path);
                        break;
                }
                if ((rc = add_line(b, RATE_LINE_SEAT, &l)) ||
                    (rc = tl_arena_strndup(&b->inv->arena, seats[i].model_class,
                                           strlen(seats[i].model_class), &cls,
                                           b->err)))
                        break;
                l->ref = cls;
                l->name = "Seats";
                l->seat_days = seats[i].seat_days;
                l->price = price->price;
                /* Seat-months exact: days / period days. Shown at 4
                   digits; the amount uses the exact value. */
                rate_amount_set_u128(&a, seats[i].seat_days);
                rate_amount_mul_ratio(&a, 1, b->inv->period.days);
                if ((rc = rate_amount_round_digits(&a, 4, &months, b->err)))
                        break;
                tl_dec_format(&months, l->quantity, sizeof l->quantity);
                rate_amount_mul_dec(&a, &price->price);
                if (!(rc = round_money(b, &a, &l->amount))) {
                        rate_amount_set_dec(&a, &l->amount);
                        rate_amount_add(sum, &a);
                }
        }
        rate_amount_release(&a);
        return rc;
}

/*
** '*out' = charge 'ch''s allowance: `included` plus, with
** included_per_seat, each class's quantity per seat-month x its seat-days
** / the period's days (exact).
*/
static void allowance(const struct build *b, const struct rate_charge *ch,
                      struct rate_amount *out)
{
        struct rate_amount t;

        rate_amount_set_dec(out, &ch->included);
        if (!ch->per_seat)
                return;
        rate_amount_init(&t);
        for (size_t i = 0; i < b->seat_count; i++) {
                const struct tl_dec *per =
                    ch->per_seat_count ? NULL : &ch->per_seat_every;

                for (size_t k = 0; !per && k < ch->per_seat_count; k++)
                        if (strcmp(ch->per_seat_classes[k].model_class,
                                   b->seats[i].model_class) == 0)
                                per = &ch->per_seat_classes[k].quantity;
                if (!per)
                        continue;
                rate_amount_set_u128(&t, b->seats[i].seat_days);
                rate_amount_mul_dec(&t, per);
                rate_amount_mul_ratio(&t, 1, b->inv->period.days);
                rate_amount_add(out, &t);
        }
        rate_amount_release(&t);
}

/* The allowance 'inc' and how much of it usage 'used' took, shown on line
   'l'. */
static tl_status show_allowance(struct build *b, const struct rate_amount *inc,
                                const struct rate_amount *used,
                                struct rate_line *l)
{
        tl_status rc = shown_text(b, inc, l->capacity);

        if (!rc)
                rc = shown_text(b, rate_amount_cmp(used, inc) < 0 ? used : inc,
                                l->allowance_used);
        return rc;
}

static tl_status usage_lines(struct build *b, struct rate_amount *sum)
{
        const struct rate_plan *p = b->inv->plan;
        struct rate_amount q, inc, a;
        tl_status rc = TL_OK;

        rate_amount_init(&q);
        rate_amount_init(&inc);
        rate_amount_init(&a);
        for (size_t i = 0; !rc && i < p->charge_count; i++) {
                const struct rate_charge *ch = &p->charges[i];
                struct rate_line *l;

                if ((rc = add_line(b, RATE_LINE_USAGE, &l)))
                        break;
                l->ref = ch->id;
                l->name = ch->name;
                l->unit = ch->unit;
                weighted(b, ch, ch->meter, &q);
                allowance(b, ch, &inc);
                if (ch->per_seat && (rc = show_allowance(b, &inc, &q, l)))
                        break;
                rate_amount_sub(&q, &inc);
                if (rate_amount_sign(&q) < 0)
                        mpq_set_ui(q.q, 0, 1);
                if ((rc = ch->per_seat ? shown_text(b, &q, l->quantity)
                                       : exact_text(b, &q, l->quantity)))
                        break;
                price_charge(ch, &q, &a);
                if (!(rc = round_money(b, &a, &l->amount))) {
                        rate_amount_set_dec(&a, &l->amount);
                        rate_amount_add(sum, &a);
                }
        }
        rate_amount_release(&q);
        rate_amount_release(&inc);
        rate_amount_release(&a);
        return rc;
}

static tl_status savings(struct build *b)
{
        const struct rate_plan *p = b->inv->plan;
        struct rate_invoice *inv = b->inv;
        struct rate_amount q, a;
        tl_status rc = TL_OK;
        void *mem;

        if (p->savings_count == 0)
                return TL_OK;
        if (tl_arena_alloc(&inv->arena, p->savings_count * sizeof *inv->savings,
                           &mem, b->err))
                return TL_ENOMEM;
        inv->savings = mem;
        rate_amount_init(&q);
        rate_amount_init(&a);
        for (size_t i = 0; !rc && i < p->savings_count; i++) {
                const struct rate_charge *ch =
                    &p->charges[p->savings[i].charge];
                struct rate_savings_line *s = &inv->savings[i];

                memset(s, 0, sizeof *s);
                s->meter = b->cat->meters[p->savings[i].meter].id;
                s->priced_as = ch->id;
                /* Priced as the cloud charge, weights and tiers, with no
                   allowance. */
                weighted(b, ch, p->savings[i].meter, &q);
                if ((rc = exact_text(b, &q, s->quantity)))
                        break;
                price_charge(ch, &q, &a);
                rc = round_money(b, &a, &s->cloud_equivalent);
                inv->savings_count++;
        }
        rate_amount_release(&q);
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

                if (!plan_uses_meter(inv->plan, m))
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
                        rc = exact_text(b, &g, r->groups[i].quantity);
                        r->group_count++;
                }
                if (!rc)
                        rc = exact_text(b, &q, r->quantity);
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

                if ((rc = add_line(b, RATE_LINE_ADJUSTMENT, &l)) ||
                    (rc = tl_arena_alloc(&b->inv->arena, n, (void **)&name,
                                         b->err)) ||
                    (rc = tl_arena_strndup(&b->inv->arena, x->period,
                                           strlen(x->period), (char **)&l->ref,
                                           b->err)))
                        break;
                snprintf(name, n, "Late usage of %s", x->period);
                l->name = name;
                rate_amount_set_dec(&a, &x->amount);
                if (!(rc = round_money(b, &a, &l->amount))) {
                        rate_amount_set_dec(&a, &l->amount);
                        rate_amount_add(adj, &a);
                }
        }
        rate_amount_release(&a);
        return rc;
}

/* Minimum, credit and tax, then the totals: all from rounded lines. The
   minimum floors 'sum' (fee + seat + usage); 'adj' (adjustments) is added
   after it. */
static tl_status close_lines(struct build *b, struct rate_amount *sum,
                             const struct rate_amount *adj)
{
        struct rate_invoice *inv = b->inv;
        const struct rate_plan *p = inv->plan;
        struct rate_amount a, t;
        struct rate_line *l;
        tl_status rc = TL_OK;

        rate_amount_init(&a);
        rate_amount_init(&t);
        if (p->has_minimum) {
                struct tl_dec floor;

                rate_amount_set_dec(&a, &p->minimum);
                rate_amount_mul_ratio(&a, inv->active_days, inv->period.days);
                if ((rc = round_money(b, &a, &floor)))
                        goto out;
                rate_amount_set_dec(&a, &floor);
                rate_amount_sub(&a, sum);
                if (rate_amount_sign(&a) > 0) {
                        if ((rc = add_line(b, RATE_LINE_MINIMUM, &l)))
                                goto out;
                        l->name = "Minimum commitment";
                        l->active_days = inv->active_days;
                        if ((rc = round_money(b, &a, &l->amount)))
                                goto out;
                        rate_amount_add(sum, &a);
                }
        }
        rate_amount_add(sum, adj);
        if ((rc = round_money(b, sum, &inv->subtotal)))
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
        if ((rc = round_money(b, &a, &inv->credit)))
                goto out;
        if (rate_amount_sign(&a) < 0) {
                if ((rc = add_line(b, RATE_LINE_CREDIT, &l)))
                        goto out;
                l->name = "Prepaid credit applied";
                l->amount = inv->credit;
        }
        rate_amount_add(&a, sum); /* the subtotal after credit */
        inv->tax = (struct tl_dec){0, (int32_t)b->cat->currency->minor_digits};
        if (!tl_dec_is_zero(&b->cust->tax_rate)) {
                rate_amount_mul_dec(&a, &b->cust->tax_rate);
                if ((rc = add_line(b, RATE_LINE_TAX, &l)) ||
                    (rc = round_money(b, &a, &l->amount)))
                        goto out;
                l->name = "Tax";
                l->price = b->cust->tax_rate;
                inv->tax = l->amount;
        }
        rate_amount_set_dec(&t, &inv->credit);
        rate_amount_add(sum, &t);
        rate_amount_set_dec(&t, &inv->tax);
        rate_amount_add(sum, &t);
        rc = round_money(b, sum, &inv->total);
out:
        rate_amount_release(&a);
        rate_amount_release(&t);
        return rc;
}

/* The plan priced: the subscribed plan, or the cohort's in an experiment. */
static tl_status choose_plan(struct build *b)
{
        const struct rate_customer *c = b->cust;
        struct rate_invoice *inv = b->inv;
        size_t pi = rate_catalog_plan(b->cat, c->plan);
        void *mem;

        if (pi == RATE_NO_INDEX)
                return tl_fail(b->err, TL_EINVAL,
                               "%s:%u:%u: customers[%s].plan: undefined plan "
                               "'%s' in catalog %s version %s (%s)",
                               b->customers ? b->customers->path : "customers",
                               c->plan_line, c->plan_col, c->id, c->plan,
                               b->cat->name, b->cat->version, b->cat->path);
        inv->plan = &b->cat->plans[pi];
        if (tl_arena_alloc(&inv->arena,
                           (b->cat->experiment_count + 1) *
                               sizeof *inv->cohorts,
                           &mem, b->err))
                return TL_ENOMEM;
        inv->cohorts = mem;
        for (size_t i = 0; i < b->cat->experiment_count; i++) {
                const struct rate_experiment *e = &b->cat->experiments[i];
                struct rate_cohort_choice *ch;
                bool expl;
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
                ch = &inv->cohorts[inv->cohort_count++];
                ch->experiment = e->id;
                ch->cohort = e->cohorts[k].name;
                ch->explicit_ = expl;
                inv->plan = &b->cat->plans[e->cohorts[k].plan];
        }
        return TL_OK;
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
        struct build b = {cat, customers, cust, acc, ci, inv, 0, err, NULL, 0};
        struct rate_amount sum, adj;
        tl_status rc;

        if (!inv)
                return tl_fail(err, TL_ENOMEM, "out of memory");
        tl_arena_init(&inv->arena, 8192, 0);
        inv->customer = cust->id;
        inv->customer_name = cust->name;
        inv->subscribed_plan = cust->plan;
        inv->catalog = cat;
        inv->period = *rate_acc_period(acc);
        inv->active_days = active_days(cust, &inv->period);
        rate_amount_init(&sum);
        rate_amount_init(&adj);
        rc = choose_plan(&b);
        if (!rc)
                rc = fee_lines(&b, &sum);
        if (!rc)
                rc = seat_lines(&b, &sum);
        if (!rc)
                rc = usage_lines(&b, &sum);
        if (!rc)
                rc = adjustment_lines(&b, opts, &adj);
        if (!rc)
                rc = close_lines(&b, &sum, &adj);
        if (!rc)
                rc = usage_report(&b);
        if (!rc)
                rc = savings(&b);
        rate_amount_release(&sum);
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
