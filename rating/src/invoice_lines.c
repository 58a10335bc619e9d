/* Pricing one customer's period: seat and usage lines by charge model,
   allowances, and the savings section. */
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "invoice_int.h"

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

tl_status rate__exact_text(struct build *b, const struct rate_amount *a,
                           char *out)
{
        if (rate_amount_format_exact(a, out, RATE_QTY_MAX) == 0)
                return tl_fail(b->err, TL_EOVERFLOW,
                               "customer %s: a quantity has no short exact "
                               "decimal form",
                               b->cust->id);
        return TL_OK;
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

tl_status rate__seat_lines(struct build *b, struct rate_amount *sum)
{
        const struct rate_plan *p = b->plan;
        struct rate_seat_usage *seats = NULL;
        struct rate_amount a;
        size_t n = 0;
        tl_status rc;

        if (p->seat_meter == RATE_NO_INDEX || b->ci == RATE_NO_INDEX)
                return TL_OK;
        rc = rate_acc_seats(b->acc, b->ci, p->seat_meter, &seats, &n, b->err);
        if (rc)
                return rc;
        tl_free(b->seats);
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
                if ((rc = rate__add_line(b, RATE_LINE_SEAT, &l)) ||
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
                if (!(rc = rate__round_money(b, &a, &l->amount))) {
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
        if (b->inc_num != b->inc_den)
                rate_amount_mul_ratio(out, b->inc_num, b->inc_den);
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

tl_status rate__usage_lines(struct build *b, struct rate_amount *sum)
{
        const struct rate_plan *p = b->plan;
        struct rate_amount q, inc, a;
        tl_status rc = TL_OK;

        rate_amount_init(&q);
        rate_amount_init(&inc);
        rate_amount_init(&a);
        for (size_t i = 0; !rc && i < p->charge_count; i++) {
                const struct rate_charge *ch = &p->charges[i];
                /* A prorated `included` is no short decimal in general:
                   shown like an allowance per seat, and as one. */
                bool shown =
                    ch->per_seat || (b->seg && !tl_dec_is_zero(&ch->included));
                struct rate_line *l;

                if ((rc = rate__add_line(b, RATE_LINE_USAGE, &l)))
                        break;
                l->ref = ch->id;
                l->name = ch->name;
                l->unit = ch->unit;
                l->meter = b->cat->meters[ch->meter].id;
                weighted(b, ch, ch->meter, &q);
                allowance(b, ch, &inc);
                if ((rc = shown_text(b, &q, l->used)) ||
                    (rc = shown_text(b, &inc, l->included)))
                        break;
                if (shown && (rc = show_allowance(b, &inc, &q, l)))
                        break;
                rate_amount_sub(&q, &inc);
                if (rate_amount_sign(&q) < 0)
                        mpq_set_ui(q.q, 0, 1);
                if ((rc = shown ? shown_text(b, &q, l->quantity)
                                : rate__exact_text(b, &q, l->quantity)))
                        break;
                price_charge(ch, &q, &a);
                if (!(rc = rate__round_money(b, &a, &l->amount))) {
                        rate_amount_set_dec(&a, &l->amount);
                        rate_amount_add(sum, &a);
                }
        }
        rate_amount_release(&q);
        rate_amount_release(&inc);
        rate_amount_release(&a);
        return rc;
}

/* Savings entries of every segment's plan, one per local meter: the
   quantities and amounts summed, the amount rounded once. */
tl_status rate__savings(struct build *b)
{
        struct rate_invoice *inv = b->inv;
        struct rate_amount q, a, *qs = NULL, *as = NULL;
        size_t cap = 0;
        tl_status rc = TL_OK;
        void *mem;

        for (size_t k = 0; k < b->seg_count; k++)
                cap += b->use[k].plan->savings_count;
        if (cap == 0)
                return TL_OK;
        if (tl_arena_alloc(&inv->arena, cap * sizeof *inv->savings, &mem,
                           b->err))
                return TL_ENOMEM;
        inv->savings = mem;
        qs = tl_calloc(cap, sizeof *qs);
        as = tl_calloc(cap, sizeof *as);
        if (!qs || !as) {
                tl_free(qs);
                tl_free(as);
                return TL_ENOMEM;
        }
        for (size_t i = 0; i < cap; i++) {
                rate_amount_init(&qs[i]);
                rate_amount_init(&as[i]);
        }
        rate_amount_init(&q);
        rate_amount_init(&a);
        for (size_t k = 0; k < b->seg_count; k++) {
                const struct rate_plan *p = b->use[k].plan;

                b->acc = b->use[k].acc;
                b->ci = b->use[k].ci;
                for (size_t i = 0; i < p->savings_count; i++) {
                        const struct rate_charge *ch =
                            &p->charges[p->savings[i].charge];
                        const char *meter =
                            b->cat->meters[p->savings[i].meter].id;
                        /* Within one plan every entry stands alone. */
                        size_t e = k == 0 ? inv->savings_count : 0;

                        while (e < inv->savings_count &&
                               strcmp(inv->savings[e].meter, meter) != 0)
                                e++;
                        if (e == inv->savings_count) {
                                memset(&inv->savings[e], 0,
                                       sizeof inv->savings[e]);
                                inv->savings[e].meter = meter;
                                inv->savings[e].priced_as = ch->id;
                                inv->savings_count++;
                        }
                        /* Priced as the cloud charge, weights and tiers,
                           with no allowance. */
                        weighted(b, ch, p->savings[i].meter, &q);
                        price_charge(ch, &q, &a);
                        rate_amount_add(&qs[e], &q);
                        rate_amount_add(&as[e], &a);
                }
        }
        for (size_t e = 0; !rc && e < inv->savings_count; e++) {
                rc = rate__exact_text(b, &qs[e], inv->savings[e].quantity);
                if (!rc)
                        rc = rate__round_money(
                            b, &as[e], &inv->savings[e].cloud_equivalent);
        }
        for (size_t i = 0; i < cap; i++) {
                rate_amount_release(&qs[i]);
                rate_amount_release(&as[i]);
        }
        tl_free(qs);
        tl_free(as);
        rate_amount_release(&q);
        rate_amount_release(&a);
        return rc;
}
