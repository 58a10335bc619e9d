/* Catalog comparison, price by price, for `tally rules diff`. */
#include "rules_diff.h"

#include <string.h>

struct differ {
        FILE *out;
        size_t changes;
};

static void line(struct differ *d, char sign, const char *path, const char *old,
                 const char *new_)
{
        d->changes++;
        if (old && new_)
                fprintf(d->out, "%c %s: %s -> %s\n", sign, path, old, new_);
        else
                fprintf(d->out, "%c %s\n", sign, path);
}

static void text(struct differ *d, const char *path, const char *a,
                 const char *b)
{
        if (strcmp(a ? a : "", b ? b : "") != 0)
                line(d, '~', path, a ? a : "(none)", b ? b : "(none)");
}

static void number(struct differ *d, const char *path, bool has_a,
                   const struct tl_dec *a, bool has_b, const struct tl_dec *b)
{
        char x[TL_DEC_STR_MAX] = "(none)", y[TL_DEC_STR_MAX] = "(none)";

        if (has_a == has_b && (!has_a || tl_dec_cmp(a, b) == 0))
                return;
        if (has_a)
                tl_dec_format(a, x, sizeof x);
        if (has_b)
                tl_dec_format(b, y, sizeof y);
        line(d, '~', path, x, y);
}

static void meter(struct differ *d, const struct rate_meter *a,
                  const struct rate_meter *b)
{
        char p[256];
        bool same = a->event == b->event && a->aggregation == b->aggregation &&
                    a->filter_count == b->filter_count &&
                    a->group_by_count == b->group_by_count &&
                    strcmp(a->value.name ? a->value.name : "",
                           b->value.name ? b->value.name : "") == 0;

        for (size_t i = 0; same && i < a->filter_count; i++) {
                same = strcmp(a->filters[i].field.name,
                              b->filters[i].field.name) == 0 &&
                       a->filters[i].value_count == b->filters[i].value_count;
                for (size_t j = 0; same && j < a->filters[i].value_count; j++)
                        same = strcmp(a->filters[i].values[j],
                                      b->filters[i].values[j]) == 0;
        }
        for (size_t i = 0; same && i < a->group_by_count; i++)
                same = strcmp(a->group_by[i].name, b->group_by[i].name) == 0;
        snprintf(p, sizeof p, "meters.%s", a->id);
        if (!same)
                line(d, '~', p, "definition", "changed");
}

static void tiers(struct differ *d, const char *path,
                  const struct rate_charge *a, const struct rate_charge *b)
{
        size_t n =
            a->tier_count > b->tier_count ? a->tier_count : b->tier_count;
        char p[300];

        for (size_t i = 0; i < n; i++) {
                const struct rate_tier *x =
                    i < a->tier_count ? &a->tiers[i] : NULL;
                const struct rate_tier *y =
                    i < b->tier_count ? &b->tiers[i] : NULL;

                snprintf(p, sizeof p, "%s.tiers[%zu]", path, i);
                if (!x || !y) {
                        line(d, x ? '-' : '+', p, NULL, NULL);
                        continue;
                }
                snprintf(p, sizeof p, "%s.tiers[%zu].up_to", path, i);
                if (x->open != y->open)
                        line(d, '~', p, x->open ? "null" : "bounded",
                             y->open ? "null" : "bounded");
                else
                        number(d, p, !x->open, &x->up_to, !y->open, &y->up_to);
                snprintf(p, sizeof p, "%s.tiers[%zu].price", path, i);
                number(d, p, true, &x->price, true, &y->price);
        }
}

/* The quantity charge 'c' adds per seat-month of class 'cls' by name (NULL:
   none there); the scalar form when 'cls' is NULL. */
static const struct tl_dec *per_seat_of(const struct rate_charge *c,
                                        const char *cls)
{
        if (!c->per_seat)
                return NULL;
        if (!cls)
                return c->per_seat_count ? NULL : &c->per_seat_every;
        for (size_t i = 0; i < c->per_seat_count; i++)
                if (strcmp(c->per_seat_classes[i].model_class, cls) == 0)
                        return &c->per_seat_classes[i].quantity;
        return NULL;
}

/* included_per_seat: the scalar form, then each class either side has. */
static void per_seat(struct differ *d, const char *path,
                     const struct rate_charge *a, const struct rate_charge *b)
{
        const struct tl_dec *x = per_seat_of(a, NULL),
                            *y = per_seat_of(b, NULL);
        char p[400];

        snprintf(p, sizeof p, "%s.included_per_seat", path);
        number(d, p, x != NULL, x, y != NULL, y);
        for (size_t i = 0; i < a->per_seat_count; i++) {
                const char *cls = a->per_seat_classes[i].model_class;

                y = per_seat_of(b, cls);
                snprintf(p, sizeof p, "%s.included_per_seat.%s", path, cls);
                number(d, p, true, &a->per_seat_classes[i].quantity, y != NULL,
                       y);
        }
        for (size_t j = 0; j < b->per_seat_count; j++) {
                const char *cls = b->per_seat_classes[j].model_class;

                snprintf(p, sizeof p, "%s.included_per_seat.%s", path, cls);
                if (!per_seat_of(a, cls))
                        number(d, p, false, NULL, true,
                               &b->per_seat_classes[j].quantity);
        }
}

static void charge(struct differ *d, const char *plan_path,
                   const struct rate_catalog *ca, const struct rate_charge *a,
                   const struct rate_catalog *cb, const struct rate_charge *b)
{
        char path[200], p[300];

        snprintf(path, sizeof path, "%s.charges.%s", plan_path, a->id);
        snprintf(p, sizeof p, "%s.name", path);
        text(d, p, a->name, b->name);
        snprintf(p, sizeof p, "%s.meter", path);
        text(d, p, ca->meters[a->meter].id, cb->meters[b->meter].id);
        snprintf(p, sizeof p, "%s.model", path);
        text(d, p, rate_model_name(a->model), rate_model_name(b->model));
        snprintf(p, sizeof p, "%s.unit", path);
        number(d, p, true, &a->unit, true, &b->unit);
        snprintf(p, sizeof p, "%s.included", path);
        number(d, p, true, &a->included, true, &b->included);
        per_seat(d, path, a, b);
        snprintf(p, sizeof p, "%s.price", path);
        number(d, p, a->tier_count == 0, &a->price, b->tier_count == 0,
               &b->price);
        snprintf(p, sizeof p, "%s.size", path);
        number(d, p, a->model == RATE_MODEL_PACKAGE, &a->size,
               b->model == RATE_MODEL_PACKAGE, &b->size);
        tiers(d, path, a, b);
        for (size_t i = 0; i < a->weight_count; i++) {
                const struct rate_weight *x = &a->weights[i], *y = NULL;

                for (size_t j = 0; j < b->weight_count; j++)
                        if (strcmp(b->weights[j].value, x->value) == 0)
                                y = &b->weights[j];
                snprintf(p, sizeof p, "%s.weights.%s", path, x->value);
                number(d, p, true, &x->factor, y != NULL,
                       y ? &y->factor : &x->factor);
        }
        for (size_t j = 0; j < b->weight_count; j++) {
                bool found = false;

                for (size_t i = 0; i < a->weight_count; i++)
                        found |= strcmp(a->weights[i].value,
                                        b->weights[j].value) == 0;
                snprintf(p, sizeof p, "%s.weights.%s", path,
                         b->weights[j].value);
                if (!found)
                        number(d, p, false, &b->weights[j].factor, true,
                               &b->weights[j].factor);
        }
}

static const struct rate_limit *limit_of(const struct rate_controls *c,
                                         const char *meter)
{
        for (size_t i = 0; i < c->limit_count; i++)
                if (strcmp(c->limits[i].meter_id, meter) == 0)
                        return &c->limits[i];
        return NULL;
}

static const struct rate_alert *alert_of(const struct rate_alert *list,
                                         size_t n, const char *id)
{
        for (size_t i = 0; i < n; i++)
                if (strcmp(list[i].id, id) == 0)
                        return &list[i];
        return NULL;
}

/* One list of alerts (or progressive thresholds), both ways by id. */
static void alerts(struct differ *d, const char *path,
                   const struct rate_alert *a, size_t na,
                   const struct rate_alert *b, size_t nb)
{
        char p[400];

        for (size_t i = 0; i < na; i++) {
                const struct rate_alert *y = alert_of(b, nb, a[i].id);

                snprintf(p, sizeof p, "%s.%s", path, a[i].id);
                if (!y) {
                        line(d, '-', p, NULL, NULL);
                        continue;
                }
                text(d, strcat(p, ".meter"), a[i].meter_id, y->meter_id);
                snprintf(p, sizeof p, "%s.%s.%s", path, a[i].id,
                         y->by_quantity ? "quantity_at_least"
                                        : "spend_at_least");
                number(d, p, true, &a[i].at_least, true, &y->at_least);
        }
        for (size_t j = 0; j < nb; j++) {
                snprintf(p, sizeof p, "%s.%s", path, b[j].id);
                if (!alert_of(a, na, b[j].id))
                        line(d, '+', p, NULL, NULL);
        }
}

/* Limits by meter, alerts and progressive thresholds by id. */
static void controls(struct differ *d, const char *path,
                     const struct rate_controls *a,
                     const struct rate_controls *b)
{
        char p[400];

        for (size_t i = 0; i < a->limit_count; i++) {
                const struct rate_limit *y = limit_of(b, a->limits[i].meter_id);

                snprintf(p, sizeof p, "%s.limits.%s.hard", path,
                         a->limits[i].meter_id);
                number(d, p, true, &a->limits[i].hard, y != NULL,
                       y ? &y->hard : &a->limits[i].hard);
        }
        for (size_t j = 0; j < b->limit_count; j++) {
                snprintf(p, sizeof p, "%s.limits.%s.hard", path,
                         b->limits[j].meter_id);
                if (!limit_of(a, b->limits[j].meter_id))
                        number(d, p, false, &b->limits[j].hard, true,
                               &b->limits[j].hard);
        }
        snprintf(p, sizeof p, "%s.alerts", path);
        alerts(d, p, a->alerts, a->alert_count, b->alerts, b->alert_count);
        snprintf(p, sizeof p, "%s.progressive", path);
        alerts(d, p, a->progressive, a->progressive_count, b->progressive,
               b->progressive_count);
}

static void plan(struct differ *d, const struct rate_catalog *ca,
                 const struct rate_plan *a, const struct rate_catalog *cb,
                 const struct rate_plan *b)
{
        char path[160], p[300];

        snprintf(path, sizeof path, "plans.%s", a->id);
        snprintf(p, sizeof p, "%s.name", path);
        text(d, p, a->name, b->name);
        snprintf(p, sizeof p, "%s.minimum", path);
        number(d, p, a->has_minimum, &a->minimum, b->has_minimum, &b->minimum);
        controls(d, path, &a->controls, &b->controls);
        for (size_t i = 0; i < a->fee_count; i++) {
                const struct rate_fee *y = NULL;

                for (size_t j = 0; j < b->fee_count; j++)
                        if (strcmp(b->fees[j].id, a->fees[i].id) == 0)
                                y = &b->fees[j];
                snprintf(p, sizeof p, "%s.fees.%s.amount", path, a->fees[i].id);
                number(d, p, true, &a->fees[i].amount, y != NULL,
                       y ? &y->amount : &a->fees[i].amount);
        }
        for (size_t j = 0; j < b->fee_count; j++) {
                bool found = false;

                for (size_t i = 0; i < a->fee_count; i++)
                        found |= strcmp(a->fees[i].id, b->fees[j].id) == 0;
                snprintf(p, sizeof p, "%s.fees.%s.amount", path, b->fees[j].id);
                if (!found)
                        number(d, p, false, &b->fees[j].amount, true,
                               &b->fees[j].amount);
        }
        for (size_t i = 0; i < a->seat_price_count; i++) {
                const struct rate_seat_price *y = NULL;

                for (size_t j = 0; j < b->seat_price_count; j++)
                        if (strcmp(b->seat_prices[j].model_class,
                                   a->seat_prices[i].model_class) == 0)
                                y = &b->seat_prices[j];
                snprintf(p, sizeof p, "%s.seats.prices.%s", path,
                         a->seat_prices[i].model_class);
                number(d, p, true, &a->seat_prices[i].price, y != NULL,
                       y ? &y->price : &a->seat_prices[i].price);
        }
        for (size_t j = 0; j < b->seat_price_count; j++) {
                snprintf(p, sizeof p, "%s.seats.prices.%s", path,
                         b->seat_prices[j].model_class);
                bool found = false;

                for (size_t i = 0; i < a->seat_price_count; i++)
                        found |= strcmp(a->seat_prices[i].model_class,
                                        b->seat_prices[j].model_class) == 0;
                if (!found)
                        number(d, p, false, &b->seat_prices[j].price, true,
                               &b->seat_prices[j].price);
        }
        for (size_t i = 0; i < a->charge_count; i++) {
                size_t j = rate_plan_charge(b, a->charges[i].id);

                snprintf(p, sizeof p, "%s.charges.%s", path, a->charges[i].id);
                if (j == RATE_NO_INDEX)
                        line(d, '-', p, NULL, NULL);
                else
                        charge(d, path, ca, &a->charges[i], cb, &b->charges[j]);
        }
        for (size_t j = 0; j < b->charge_count; j++) {
                snprintf(p, sizeof p, "%s.charges.%s", path, b->charges[j].id);
                if (rate_plan_charge(a, b->charges[j].id) == RATE_NO_INDEX)
                        line(d, '+', p, NULL, NULL);
        }
}

static void experiments(struct differ *d, const struct rate_catalog *a,
                        const struct rate_catalog *b)
{
        char p[300];

        for (size_t i = 0; i < a->experiment_count; i++) {
                const struct rate_experiment *x = &a->experiments[i], *y = NULL;

                for (size_t j = 0; j < b->experiment_count; j++)
                        if (strcmp(b->experiments[j].id, x->id) == 0)
                                y = &b->experiments[j];
                snprintf(p, sizeof p, "experiments.%s", x->id);
                if (!y) {
                        line(d, '-', p, NULL, NULL);
                        continue;
                }
                snprintf(p, sizeof p, "experiments.%s.salt", x->id);
                text(d, p, x->salt, y->salt);
                for (size_t k = 0; k < x->cohort_count; k++) {
                        const struct rate_cohort *cx = &x->cohorts[k],
                                                 *cy = NULL;

                        for (size_t m = 0; m < y->cohort_count; m++)
                                if (strcmp(y->cohorts[m].name, cx->name) == 0)
                                        cy = &y->cohorts[m];
                        snprintf(p, sizeof p, "experiments.%s.cohorts.%s",
                                 x->id, cx->name);
                        if (!cy) {
                                line(d, '-', p, NULL, NULL);
                                continue;
                        }
                        snprintf(p, sizeof p,
                                 "experiments.%s.cohorts.%s.weight", x->id,
                                 cx->name);
                        number(d, p, true, &cx->weight, true, &cy->weight);
                        snprintf(p, sizeof p, "experiments.%s.cohorts.%s.plan",
                                 x->id, cx->name);
                        text(d, p, a->plans[cx->plan].id,
                             b->plans[cy->plan].id);
                }
                for (size_t m = 0; m < y->cohort_count; m++) {
                        bool found = false;

                        for (size_t k = 0; k < x->cohort_count; k++)
                                found |= strcmp(x->cohorts[k].name,
                                                y->cohorts[m].name) == 0;
                        snprintf(p, sizeof p, "experiments.%s.cohorts.%s",
                                 x->id, y->cohorts[m].name);
                        if (!found)
                                line(d, '+', p, NULL, NULL);
                }
        }
        for (size_t j = 0; j < b->experiment_count; j++) {
                bool found = false;

                for (size_t i = 0; i < a->experiment_count; i++)
                        found |= strcmp(a->experiments[i].id,
                                        b->experiments[j].id) == 0;
                snprintf(p, sizeof p, "experiments.%s", b->experiments[j].id);
                if (!found)
                        line(d, '+', p, NULL, NULL);
        }
}

size_t cli_rules_diff(const struct rate_catalog *a,
                      const struct rate_catalog *b, FILE *out)
{
        struct differ d = {out, 0};
        char x[16], y[16];

        text(&d, "catalog", a->name, b->name);
        text(&d, "version", a->version, b->version);
        snprintf(x, sizeof x, "%lld", (long long)a->effective_from_day);
        snprintf(y, sizeof y, "%lld", (long long)b->effective_from_day);
        if (a->effective_from_day != b->effective_from_day)
                line(&d, '~', "effective_from (days since 1970-01-01)", x, y);
        text(&d, "currency", a->currency->code, b->currency->code);
        for (size_t i = 0; i < a->meter_count; i++) {
                size_t j = rate_catalog_meter(b, a->meters[i].id);
                char p[200];

                snprintf(p, sizeof p, "meters.%s", a->meters[i].id);
                if (j == RATE_NO_INDEX)
                        line(&d, '-', p, NULL, NULL);
                else
                        meter(&d, &a->meters[i], &b->meters[j]);
        }
        for (size_t j = 0; j < b->meter_count; j++) {
                char p[200];

                snprintf(p, sizeof p, "meters.%s", b->meters[j].id);
                if (rate_catalog_meter(a, b->meters[j].id) == RATE_NO_INDEX)
                        line(&d, '+', p, NULL, NULL);
        }
        for (size_t i = 0; i < a->plan_count; i++) {
                size_t j = rate_catalog_plan(b, a->plans[i].id);
                char p[200];

                snprintf(p, sizeof p, "plans.%s", a->plans[i].id);
                if (j == RATE_NO_INDEX)
                        line(&d, '-', p, NULL, NULL);
                else
                        plan(&d, a, &a->plans[i], b, &b->plans[j]);
        }
        for (size_t j = 0; j < b->plan_count; j++) {
                char p[200];

                snprintf(p, sizeof p, "plans.%s", b->plans[j].id);
                if (rate_catalog_plan(a, b->plans[j].id) == RATE_NO_INDEX)
                        line(&d, '+', p, NULL, NULL);
        }
        experiments(&d, a, b);
        return d.changes;
}
