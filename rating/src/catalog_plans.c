/* Plans: `extends` resolved on the YAML nodes (a charge or fee with the same
   id merged key by key), then each merged plan validated and built. */
#include <stdio.h>
#include <string.h>

#include "catalog_load.h"
#include "controls_load.h"
#include "core/alloc.h"

/* A charge has at most 11 keys; the rest of the room is for unknown keys,
   which are reported where they are written. */
#define ITEM_KEYS 24

/* A list item (fee, charge, savings) with the keys it has after merging. */
struct mitem {
        const char *id;
        const struct tl_yaml_node *at; /* where it was first written */
        size_t n;
        struct tl_yaml_pair kv[ITEM_KEYS];
};

struct mlist {
        size_t n;
        struct mitem *items;
};

/* A plan with everything it inherits resolved, still as YAML nodes. */
struct mplan {
        const struct tl_yaml_node *name, *seats, *minimum;
        struct rate__ctl_nodes controls; /* each replaced whole by a child */
        struct mlist fees, charges, savings;
};

enum { PLAN_NEW, PLAN_VISITING, PLAN_DONE, PLAN_FAILED };

struct pstate {
        const char *id;
        const struct tl_yaml_node *node;
        const struct tl_yaml_node *extends;
        int state;
        struct mplan merged;
};

struct plans {
        struct rate__cload *c;
        size_t count;
        struct pstate *ps;
};

static const struct tl_yaml_node *mget(const struct mitem *it, const char *key)
{
        for (size_t i = 0; i < it->n; i++)
                if (strcmp(it->kv[i].key->text, key) == 0)
                        return it->kv[i].value;
        return NULL;
}

static void mset(struct mitem *it, const struct tl_yaml_pair *kv)
{
        for (size_t i = 0; i < it->n; i++)
                if (strcmp(it->kv[i].key->text, kv->key->text) == 0) {
                        it->kv[i] = *kv;
                        return;
                }
        if (it->n < ITEM_KEYS)
                it->kv[it->n++] = *kv;
}

/* Drop 'key' from a merged item, if there. */
static void munset(struct mitem *it, const char *key)
{
        for (size_t i = 0; i < it->n; i++)
                if (strcmp(it->kv[i].key->text, key) == 0) {
                        it->kv[i] = it->kv[--it->n];
                        return;
                }
}

/* Whether 'a' and 'b' are scalars with the same text. */
static bool same_scalar(const struct tl_yaml_node *a,
                        const struct tl_yaml_node *b)
{
        return a && b && a->kind == TL_YAML_SCALAR &&
               b->kind == TL_YAML_SCALAR && strcmp(a->text, b->text) == 0;
}

/* Whether an item before the 'i'th of list 'n' has 'idkey' equal to 'id'. */
static bool written_before(const struct tl_yaml_node *n, size_t i,
                           const char *idkey, const char *id)
{
        for (size_t j = 0; j < i; j++) {
                const struct tl_yaml_node *o = tl_yaml_get(n->items[j], idkey);

                if (o && o->kind == TL_YAML_SCALAR && strcmp(o->text, id) == 0)
                        return true;
        }
        return false;
}

/*
** Merge the list 'n' (a plan's own `fees` / `charges` / `savings`) into
** 'l': an item whose key 'idkey' matches an inherited one overrides it key
** by key; others are added. Malformed items are reported and skipped.
** 'model_keys' (NULL for lists without models) are the keys an override
** naming a different `model` does not inherit: the base's tiers mean
** nothing to a per_unit price.
*/
static void merge_list(struct plans *pl, struct mlist *l,
                       const struct tl_yaml_node *n, const char *path,
                       const char *idkey, const char *const *keys,
                       const char *const *model_keys)
{
        struct rate__ld *ld = &pl->c->ld;
        struct mitem *items;

        if (!rate__is_seq(ld, n, path))
                return;
        items = rate__alloc(ld, l->n + n->count, sizeof *items);
        if (!items)
                return;
        if (l->n)
                memcpy(items, l->items, l->n * sizeof *items);
        l->items = items;
        for (size_t i = 0; i < n->count; i++) {
                const struct tl_yaml_node *it = n->items[i], *idn, *x;
                char p[RATE__PATH_MAX];
                struct mitem *dst = NULL;
                const char *id;

                snprintf(p, sizeof p, "%s[%zu]", path, i);
                if (!rate__is_map(ld, it, p))
                        continue;
                rate__known_keys(ld, it, p, keys);
                if (!(idn = rate__need(ld, it, p, idkey)) ||
                    !(id = rate__text(ld, idn, p)))
                        continue;
                /* Twice in this plan's own list is a duplicate, also when
                   both would override the same inherited item. */
                if (written_before(n, i, idkey, id)) {
                        rate__bad(ld, idn, p, "duplicate %s '%s'", idkey, id);
                        continue;
                }
                for (size_t j = 0; j < l->n; j++)
                        if (strcmp(l->items[j].id, id) == 0)
                                dst = &l->items[j];
                if (!dst) {
                        dst = &l->items[l->n++];
                        memset(dst, 0, sizeof *dst);
                        dst->id = id;
                        dst->at = it;
                } else if (model_keys &&
                           (x = tl_yaml_get(it, "model")) != NULL &&
                           !same_scalar(x, mget(dst, "model"))) {
                        for (size_t k = 0; model_keys[k]; k++)
                                munset(dst, model_keys[k]);
                        /* A key the new model misses is the child's to
                           write: report it there, not in the base. */
                        dst->at = it;
                }
                for (size_t k = 0; k < it->count; k++)
                        mset(dst, &it->pairs[k]);
        }
}

static const char *const PLAN_KEYS[] = {
    "name",    "extends", "fees",   "seats",       "charges", "minimum",
    "savings", "limits",  "alerts", "progressive", NULL};
static const char *const FEE_KEYS[] = {"id", "name", "amount", NULL};
static const char *const CHARGE_KEYS[] = {
    "id",      "name",  "meter", "unit",  "included", "included_per_seat",
    "weights", "model", "price", "tiers", "size",     NULL};
static const char *const SAVINGS_KEYS[] = {"meter", "priced_as", NULL};
/* What only some models use (docs/pricing-rules.md, `extends`). */
static const char *const MODEL_KEYS[] = {"tiers", "size", "price", NULL};

static bool resolve(struct plans *pl, size_t i);

static size_t find_plan(const struct plans *pl, const char *id)
{
        for (size_t i = 0; i < pl->count; i++)
                if (strcmp(pl->ps[i].id, id) == 0)
                        return i;
        return RATE_NO_INDEX;
}

/* Depth-first: a plan is merged after the plan it extends. */
static bool resolve(struct plans *pl, size_t i)
{
        struct pstate *s = &pl->ps[i];
        struct rate__ld *ld = &pl->c->ld;
        const struct tl_yaml_node *x;
        char path[RATE__PATH_MAX], p[RATE__PATH_MAX];

        if (s->state == PLAN_DONE)
                return true;
        if (s->state == PLAN_FAILED)
                return false;
        snprintf(path, sizeof path, "plans.%s", s->id);
        if (s->state == PLAN_VISITING) {
                char chain[RATE__PATH_MAX];
                size_t len = (size_t)snprintf(chain, sizeof chain, "%s", s->id);
                size_t j = i;

                do {
                        j = find_plan(pl, pl->ps[j].extends->text);
                        if (j == RATE_NO_INDEX)
                                break;
                        len += (size_t)snprintf(
                            chain + len,
                            len < sizeof chain ? sizeof chain - len : 0,
                            " -> %s", pl->ps[j].id);
                } while (j != i && len < sizeof chain);
                snprintf(p, sizeof p, "%s.extends", path);
                rate__bad(ld, s->extends, p, "extends cycle: %s", chain);
                s->state = PLAN_FAILED;
                return false;
        }
        s->state = PLAN_VISITING;
        if (s->extends) {
                size_t b = RATE_NO_INDEX;

                snprintf(p, sizeof p, "%s.extends", path);
                if (s->extends->kind != TL_YAML_SCALAR ||
                    (b = find_plan(pl, s->extends->text)) == RATE_NO_INDEX) {
                        rate__bad(ld, s->extends, p, "undefined plan '%s'",
                                  s->extends->kind == TL_YAML_SCALAR
                                      ? s->extends->text
                                      : "");
                        s->state = PLAN_FAILED;
                        return false;
                }
                if (!resolve(pl, b)) {
                        /* The cycle, or the base's fault, is reported once,
                           at its own place. */
                        if (s->state != PLAN_FAILED)
                                s->state = PLAN_FAILED;
                        return false;
                }
                s->merged = pl->ps[b].merged;
        }
        if ((x = tl_yaml_get(s->node, "name")) != NULL)
                s->merged.name = x;
        if ((x = tl_yaml_get(s->node, "seats")) != NULL)
                s->merged.seats = x;
        if ((x = tl_yaml_get(s->node, "minimum")) != NULL)
                s->merged.minimum = x;
        if ((x = tl_yaml_get(s->node, "limits")) != NULL)
                s->merged.controls.limits = x;
        if ((x = tl_yaml_get(s->node, "alerts")) != NULL)
                s->merged.controls.alerts = x;
        if ((x = tl_yaml_get(s->node, "progressive")) != NULL)
                s->merged.controls.progressive = x;
        snprintf(p, sizeof p, "%s.fees", path);
        if ((x = tl_yaml_get(s->node, "fees")) != NULL)
                merge_list(pl, &s->merged.fees, x, p, "id", FEE_KEYS, NULL);
        snprintf(p, sizeof p, "%s.charges", path);
        if ((x = tl_yaml_get(s->node, "charges")) != NULL)
                merge_list(pl, &s->merged.charges, x, p, "id", CHARGE_KEYS,
                           MODEL_KEYS);
        snprintf(p, sizeof p, "%s.savings", path);
        if ((x = tl_yaml_get(s->node, "savings")) != NULL)
                merge_list(pl, &s->merged.savings, x, p, "meter", SAVINGS_KEYS,
                           NULL);
        s->state = PLAN_DONE;
        return true;
}

/* ---- building one plan from its merged nodes ------------------------------
 */

static const char *const MODEL_NAMES[] = {"per_unit", "graduated", "volume",
                                          "package", "flat"};

/*
** A money value (fee, minimum, price): a number that, rounded to the
** currency's minor unit as an invoice line is, fits the 38 digits of an
** amount. One that cannot would fail every rating that used it, so it is
** refused here. Without a currency (reported already) only the number.
*/
static bool money(struct rate__ld *ld, const struct rate_currency *cur,
                  const struct tl_yaml_node *n, const char *path,
                  struct tl_dec *out)
{
        struct tl_dec r;

        if (!rate__number(ld, n, path, true, out))
                return false;
        if (!cur ||
            tl_dec_round(out, (int32_t)cur->minor_digits, &r, NULL) == TL_OK)
                return true;
        rate__bad(ld, n, path,
                  "'%s' is too large: an amount in %s has at most 38 digits "
                  "with its %u decimals (about 1.7e%u at most)",
                  n->text, cur->code, cur->minor_digits,
                  38 - cur->minor_digits);
        return false;
}

static void load_weights(struct rate__ld *ld, const struct rate_meter *m,
                         const struct tl_yaml_node *n, const char *path,
                         struct rate_charge *ch)
{
        struct rate_weight *ws;
        size_t count = 0, k = 0;

        if (!rate__is_map(ld, n, path))
                return;
        for (size_t i = 0; i < n->count; i++)
                if (n->pairs[i].value->kind == TL_YAML_MAP)
                        count += n->pairs[i].value->count;
        ws = rate__alloc(ld, count, sizeof *ws);
        if (!ws)
                return;
        for (size_t i = 0; i < n->count; i++) {
                const struct tl_yaml_node *f = n->pairs[i].key;
                const struct tl_yaml_node *vals = n->pairs[i].value;
                size_t g = 0;
                char p[RATE__PATH_MAX];

                snprintf(p, sizeof p, "%s.%s", path, f->text);
                while (g < m->group_by_count &&
                       strcmp(m->group_by[g].name, f->text) != 0)
                        g++;
                if (g == m->group_by_count) {
                        rate__bad(ld, f, p,
                                  "meter '%s' does not group by '%s', so it "
                                  "cannot be weighted",
                                  m->id, f->text);
                        continue;
                }
                if (!rate__is_map(ld, vals, p))
                        continue;
                for (size_t j = 0; j < vals->count; j++) {
                        char vp[RATE__PATH_MAX];

                        snprintf(vp, sizeof vp, "%s.%s", p,
                                 vals->pairs[j].key->text);
                        ws[k].group_index = g;
                        ws[k].value = rate__text(ld, vals->pairs[j].key, vp);
                        if (ws[k].value &&
                            rate__number(ld, vals->pairs[j].value, vp, true,
                                         &ws[k].factor))
                                k++;
                }
        }
        ch->weights = ws;
        ch->weight_count = k;
}

static void load_tiers(struct rate__ld *ld, const struct rate_currency *cur,
                       const struct tl_yaml_node *n, const char *path,
                       struct rate_charge *ch)
{
        static const char *const KEYS[] = {"up_to", "price", NULL};
        struct rate_tier *ts;

        if (!rate__is_seq(ld, n, path))
                return;
        if (n->count == 0) {
                rate__bad(ld, n, path, "needs at least one tier");
                return;
        }
        ts = rate__alloc(ld, n->count, sizeof *ts);
        if (!ts)
                return;
        for (size_t i = 0; i < n->count; i++) {
                const struct tl_yaml_node *t = n->items[i], *up, *pr;
                bool last = i + 1 == n->count;
                char p[RATE__PATH_MAX], q[RATE__PATH_MAX];

                snprintf(p, sizeof p, "%s[%zu]", path, i);
                if (!rate__is_map(ld, t, p))
                        return;
                rate__known_keys(ld, t, p, KEYS);
                up = rate__need(ld, t, p, "up_to");
                if ((pr = rate__need(ld, t, p, "price")) != NULL) {
                        snprintf(q, sizeof q, "%s.price", p);
                        money(ld, cur, pr, q, &ts[i].price);
                }
                if (!up)
                        return;
                snprintf(q, sizeof q, "%s.up_to", p);
                ts[i].open = tl_yaml_is_null(up);
                if (ts[i].open && !last) {
                        rate__bad(ld, up, q,
                                  "only the last tier may be open (up_to: "
                                  "null)");
                        return;
                }
                if (!ts[i].open && last) {
                        rate__bad(ld, up, q,
                                  "the last tier must be open (up_to: null)");
                        return;
                }
                if (ts[i].open)
                        continue;
                if (!rate__number(ld, up, q, true, &ts[i].up_to))
                        return;
                if (tl_dec_is_zero(&ts[i].up_to) ||
                    (i > 0 &&
                     tl_dec_cmp(&ts[i].up_to, &ts[i - 1].up_to) <= 0)) {
                        rate__bad(ld, up, q,
                                  "tiers must ascend (up_to %s is not above "
                                  "the tier before)",
                                  up->text);
                        return;
                }
        }
        ch->tiers = ts;
        ch->tier_count = n->count;
}

/* A key that model 'm' does not use must not be there: a price the model
   would ignore is a mistake the author wants to hear about. */
static void refuse_key(struct rate__ld *ld, const struct mitem *it,
                       const char *path, const char *key, rate_model m)
{
        const struct tl_yaml_node *x = mget(it, key);

        if (x)
                rate__bad(ld, x, path, "'%s' is not used by model %s", key,
                          MODEL_NAMES[m]);
}

static void load_charge(struct rate__cload *c, const struct mitem *it,
                        const char *plan_path, const struct rate_plan *pl,
                        bool seats_written, struct rate_charge *ch)
{
        struct rate__ld *ld = &c->ld;
        const struct tl_yaml_node *x, *model;
        char path[RATE__PATH_MAX], p[RATE__PATH_MAX];
        size_t m;

        snprintf(path, sizeof path, "%s.charges.%s", plan_path, it->id);
        ch->id = it->id;
        ch->name = it->id;
        ch->unit = tl_dec_from_i64(1);
        ch->meter = RATE_NO_INDEX;
        if ((x = mget(it, "name")) != NULL)
                ch->name = rate__text(ld, x, path);
        snprintf(p, sizeof p, "%s.unit", path);
        if ((x = mget(it, "unit")) != NULL &&
            rate__number(ld, x, p, true, &ch->unit) &&
            tl_dec_is_zero(&ch->unit))
                rate__bad(ld, x, p, "must be greater than 0");
        snprintf(p, sizeof p, "%s.included", path);
        if ((x = mget(it, "included")) != NULL)
                rate__number(ld, x, p, true, &ch->included);
        snprintf(p, sizeof p, "%s.included_per_seat", path);
        if ((x = mget(it, "included_per_seat")) != NULL)
                rate__load_per_seat(ld, pl, seats_written, x, p, ch);
        snprintf(p, sizeof p, "%s.meter", path);
        if (!(x = mget(it, "meter"))) {
                rate__bad(ld, it->at, path, "missing required key 'meter'");
        } else if (x->kind != TL_YAML_SCALAR ||
                   (ch->meter = rate_catalog_meter(c->cat, x->text)) ==
                       RATE_NO_INDEX) {
                rate__bad(ld, x, p, "undefined meter '%s'",
                          x->kind == TL_YAML_SCALAR ? x->text : "");
        } else if (c->cat->meters[ch->meter].aggregation == RATE_AGG_SEATS) {
                rate__bad(ld, x, p,
                          "meter '%s' counts seats: price it under 'seats'",
                          x->text);
                ch->meter = RATE_NO_INDEX;
        }
        snprintf(p, sizeof p, "%s.weights", path);
        if ((x = mget(it, "weights")) != NULL && ch->meter != RATE_NO_INDEX)
                load_weights(ld, &c->cat->meters[ch->meter], x, p, ch);
        if (!(model = mget(it, "model"))) {
                rate__bad(ld, it->at, path, "missing required key 'model'");
                return;
        }
        snprintf(p, sizeof p, "%s.model", path);
        for (m = 0; m < sizeof MODEL_NAMES / sizeof *MODEL_NAMES; m++)
                if (model->kind == TL_YAML_SCALAR &&
                    strcmp(model->text, MODEL_NAMES[m]) == 0)
                        break;
        if (m == sizeof MODEL_NAMES / sizeof *MODEL_NAMES) {
                rate__bad(ld, model, p,
                          "unknown model '%s' (per_unit, graduated, volume, "
                          "package, flat)",
                          model->kind == TL_YAML_SCALAR ? model->text : "");
                return;
        }
        ch->model = (rate_model)m;
        if (ch->model == RATE_MODEL_GRADUATED ||
            ch->model == RATE_MODEL_VOLUME) {
                refuse_key(ld, it, path, "price", ch->model);
                refuse_key(ld, it, path, "size", ch->model);
                snprintf(p, sizeof p, "%s.tiers", path);
                if (!(x = mget(it, "tiers")))
                        rate__bad(ld, it->at, path,
                                  "missing required key 'tiers' (model %s)",
                                  MODEL_NAMES[m]);
                else
                        load_tiers(ld, c->cat->currency, x, p, ch);
                return;
        }
        refuse_key(ld, it, path, "tiers", ch->model);
        if (ch->model != RATE_MODEL_PACKAGE)
                refuse_key(ld, it, path, "size", ch->model);
        snprintf(p, sizeof p, "%s.price", path);
        if (!(x = mget(it, "price")))
                rate__bad(ld, it->at, path,
                          "missing required key 'price' (model %s)",
                          MODEL_NAMES[m]);
        else
                money(ld, c->cat->currency, x, p, &ch->price);
        if (ch->model != RATE_MODEL_PACKAGE)
                return;
        snprintf(p, sizeof p, "%s.size", path);
        if (!(x = mget(it, "size")))
                rate__bad(ld, it->at, path,
                          "missing required key 'size' (model package)");
        else if (rate__number(ld, x, p, true, &ch->size) &&
                 tl_dec_is_zero(&ch->size))
                rate__bad(ld, x, p, "must be greater than 0");
}

static void load_seats(struct rate__cload *c, const struct tl_yaml_node *n,
                       const char *plan_path, struct rate_plan *pl)
{
        static const char *const KEYS[] = {"meter", "prices", NULL};
        struct rate__ld *ld = &c->ld;
        const struct tl_yaml_node *m, *prices;
        struct rate_seat_price *sp;
        char path[RATE__PATH_MAX], p[RATE__PATH_MAX];

        snprintf(path, sizeof path, "%s.seats", plan_path);
        if (!rate__is_map(ld, n, path))
                return;
        rate__known_keys(ld, n, path, KEYS);
        m = rate__need(ld, n, path, "meter");
        prices = rate__need(ld, n, path, "prices");
        if (!m || !prices)
                return;
        snprintf(p, sizeof p, "%s.meter", path);
        if (m->kind != TL_YAML_SCALAR ||
            (pl->seat_meter = rate_catalog_meter(c->cat, m->text)) ==
                RATE_NO_INDEX) {
                rate__bad(ld, m, p, "undefined meter '%s'",
                          m->kind == TL_YAML_SCALAR ? m->text : "");
                return;
        }
        if (c->cat->meters[pl->seat_meter].aggregation != RATE_AGG_SEATS) {
                rate__bad(ld, m, p, "meter '%s' must have aggregation seats",
                          m->text);
                pl->seat_meter = RATE_NO_INDEX;
                return;
        }
        snprintf(p, sizeof p, "%s.prices", path);
        if (!rate__is_map(ld, prices, p))
                return;
        sp = rate__alloc(ld, prices->count, sizeof *sp);
        if (!sp)
                return;
        for (size_t i = 0; i < prices->count; i++) {
                char q[RATE__PATH_MAX];
                size_t j = i;

                snprintf(q, sizeof q, "%s.%s", p, prices->pairs[i].key->text);
                /* Kept sorted by class: seat lines print in that order. */
                while (j > 0 && strcmp(sp[j - 1].model_class,
                                       prices->pairs[i].key->text) > 0) {
                        sp[j] = sp[j - 1];
                        j--;
                }
                sp[j].model_class = rate__text(ld, prices->pairs[i].key, q);
                if (!sp[j].model_class)
                        sp[j].model_class = "";
                money(ld, c->cat->currency, prices->pairs[i].value, q,
                      &sp[j].price);
        }
        pl->seat_prices = sp;
        pl->seat_price_count = prices->count;
}

static void build_plan(struct rate__cload *c, const struct pstate *s,
                       struct rate_plan *pl)
{
        struct rate__ld *ld = &c->ld;
        const struct mplan *mp = &s->merged;
        struct rate_fee *fees;
        struct rate_charge *charges;
        struct rate_savings *sv;
        char path[RATE__PATH_MAX], p[RATE__PATH_MAX];

        snprintf(path, sizeof path, "plans.%s", s->id);
        pl->id = s->id;
        pl->name = mp->name ? rate__text(ld, mp->name, path) : s->id;
        pl->seat_meter = RATE_NO_INDEX;
        snprintf(p, sizeof p, "%s.minimum", path);
        if (mp->minimum)
                pl->has_minimum =
                    money(ld, c->cat->currency, mp->minimum, p, &pl->minimum);
        if (mp->seats)
                load_seats(c, mp->seats, path, pl);
        fees = rate__alloc(ld, mp->fees.n, sizeof *fees);
        charges = rate__alloc(ld, mp->charges.n, sizeof *charges);
        sv = rate__alloc(ld, mp->savings.n, sizeof *sv);
        if (!fees || !charges || !sv)
                return;
        for (size_t i = 0; i < mp->fees.n; i++) {
                const struct mitem *it = &mp->fees.items[i];
                const struct tl_yaml_node *x;

                snprintf(p, sizeof p, "%s.fees.%s", path, it->id);
                fees[i].id = it->id;
                fees[i].name = it->id;
                if ((x = mget(it, "name")) != NULL)
                        fees[i].name = rate__text(ld, x, p);
                if (!(x = mget(it, "amount")))
                        rate__bad(ld, it->at, p,
                                  "missing required key 'amount'");
                else
                        money(ld, c->cat->currency, x, p, &fees[i].amount);
        }
        for (size_t i = 0; i < mp->charges.n; i++)
                load_charge(c, &mp->charges.items[i], path, pl,
                            mp->seats != NULL, &charges[i]);
        pl->fees = fees;
        pl->fee_count = mp->fees.n;
        pl->charges = charges;
        pl->charge_count = mp->charges.n;
        for (size_t i = 0; i < mp->savings.n; i++) {
                const struct mitem *it = &mp->savings.items[i];
                const struct tl_yaml_node *x;

                snprintf(p, sizeof p, "%s.savings.%s", path, it->id);
                sv[i].meter = rate_catalog_meter(c->cat, it->id);
                if (sv[i].meter == RATE_NO_INDEX)
                        rate__bad(ld, mget(it, "meter"), p,
                                  "undefined meter '%s'", it->id);
                if (!(x = mget(it, "priced_as"))) {
                        rate__bad(ld, it->at, p,
                                  "missing required key 'priced_as'");
                } else if (x->kind != TL_YAML_SCALAR ||
                           (sv[i].charge = rate_plan_charge(pl, x->text)) ==
                               RATE_NO_INDEX) {
                        rate__bad(
                            ld, x, p, "undefined charge '%s' in plan '%s'",
                            x->kind == TL_YAML_SCALAR ? x->text : "", s->id);
                }
        }
        pl->savings = sv;
        pl->savings_count = mp->savings.n;
        rate__load_controls(ld, c->cat, &mp->controls, path, &pl->controls);
}

void rate__load_plans(struct rate__cload *c, const struct tl_yaml_node *n)
{
        struct plans pl = {c, 0, NULL};
        struct rate_plan *plans;

        if (!rate__is_map(&c->ld, n, "plans"))
                return;
        if (n->count == 0) {
                rate__bad(&c->ld, n, "plans", "needs at least one plan");
                return;
        }
        pl.count = n->count;
        pl.ps = tl_calloc(n->count, sizeof *pl.ps);
        plans = rate__alloc(&c->ld, n->count, sizeof *plans);
        if (!pl.ps || !plans) {
                c->ld.oom = true;
                tl_free(pl.ps);
                return;
        }
        for (size_t i = 0; i < n->count; i++) {
                char path[RATE__PATH_MAX];

                pl.ps[i].id = rate__text(&c->ld, n->pairs[i].key, "plans");
                if (!pl.ps[i].id)
                        pl.ps[i].id = "";
                pl.ps[i].node = n->pairs[i].value;
                snprintf(path, sizeof path, "plans.%s", pl.ps[i].id);
                if (rate__is_map(&c->ld, pl.ps[i].node, path)) {
                        rate__known_keys(&c->ld, pl.ps[i].node, path,
                                         PLAN_KEYS);
                        pl.ps[i].extends =
                            tl_yaml_get(pl.ps[i].node, "extends");
                } else {
                        pl.ps[i].state = PLAN_FAILED;
                }
        }
        /* Plan ids must be known before any plan is built: savings and
           experiments look them up. */
        c->cat->plans = plans;
        c->cat->plan_count = n->count;
        for (size_t i = 0; i < n->count; i++) {
                plans[i].id = pl.ps[i].id;
                plans[i].seat_meter = RATE_NO_INDEX;
        }
        for (size_t i = 0; i < n->count; i++)
                if (resolve(&pl, i))
                        build_plan(c, &pl.ps[i], &plans[i]);
        tl_free(pl.ps);
}
