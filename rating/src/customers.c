/* The customers file loader. */
#include "rating/customers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/hash.h"
#include "controls_load.h"
#include "core/time.h"
#include "loader.h"

/* `credits`: a number (one grant without expiry) or a list of grants
   `{amount, expires_at?}`, expires_at a date (00:00 UTC). */
static void load_credits(struct rate__ld *ld, const struct tl_yaml_node *x,
                         const char *path, struct rate_customer *c)
{
        static const char *const KEYS[] = {"amount", "expires_at", NULL};
        struct rate_grant *g;
        char p[RATE_DIAG_MSG_MAX / 2];
        size_t n = x->kind == TL_YAML_SEQ ? x->count : 1;

        if (!(g = rate__alloc(ld, n, sizeof *g)))
                return;
        c->grants = g;
        c->grant_count = n;
        if (x->kind != TL_YAML_SEQ) {
                if (rate__number(ld, x, path, true, &g[0].amount))
                        c->credits = g[0].amount;
                return;
        }
        for (size_t i = 0; i < n; i++) {
                const struct tl_yaml_node *it = x->items[i], *v;

                snprintf(p, sizeof p, "%s[%zu]", path, i);
                if (!rate__is_map(ld, it, p))
                        continue;
                rate__known_keys(ld, it, p, KEYS);
                if ((v = rate__need(ld, it, p, "amount")) != NULL) {
                        snprintf(p, sizeof p, "%s[%zu].amount", path, i);
                        if (rate__number(ld, v, p, true, &g[i].amount) &&
                            tl_dec_add(&c->credits, &g[i].amount, &c->credits,
                                       NULL))
                                rate__bad(ld, v, p, "credits too large");
                }
                snprintf(p, sizeof p, "%s[%zu].expires_at", path, i);
                if ((v = tl_yaml_get(it, "expires_at")) != NULL)
                        g[i].expires = rate__date(ld, v, p, &g[i].expires_day);
        }
}

struct tl_dec rate_customer_credit_on(const struct rate_customer *c,
                                      int64_t day)
{
        struct tl_dec sum = {0, 0};

        for (size_t i = 0; i < c->grant_count; i++)
                if (!c->grants[i].expires || c->grants[i].expires_day > day)
                        /* The sum of all fits: checked when loaded. */
                        (void)tl_dec_add(&sum, &c->grants[i].amount, &sum,
                                         NULL);
        return sum;
}

static int by_start(const void *a, const void *b)
{
        const struct rate_subscription *x = a, *y = b;

        return (x->start_day > y->start_day) - (x->start_day < y->start_day);
}

static void iso(int64_t day, char out[11])
{
        int64_t y;
        unsigned m, d;

        tl_civil_from_days(day, &y, &m, &d);
        snprintf(out, 11, "%04d-%02u-%02u", (int)y, m, d);
}

size_t rate_subscriptions_check(struct rate_subscription *subs, size_t n,
                                char *why, size_t len)
{
        char a[11], b[11], c[11];

        qsort(subs, n, sizeof *subs, by_start);
        for (size_t i = 0; i < n; i++) {
                if (subs[i].has_end && subs[i].end_day <= subs[i].start_day) {
                        iso(subs[i].start_day, a);
                        iso(subs[i].end_day, b);
                        snprintf(why, len, "end %s must be after start %s", b,
                                 a);
                        return i;
                }
                if (i + 1 < n && (!subs[i].has_end ||
                                  subs[i].end_day > subs[i + 1].start_day)) {
                        iso(subs[i + 1].start_day, a);
                        iso(subs[i].start_day, b);
                        if (subs[i].has_end)
                                iso(subs[i].end_day, c);
                        snprintf(why, len,
                                 "start %s overlaps the subscription to '%s' "
                                 "[%s, %s)",
                                 a, subs[i].plan ? subs[i].plan : "?", b,
                                 subs[i].has_end ? c : "open");
                        return i + 1;
                }
        }
        return SIZE_MAX;
}

void rate_customer_from_subs(struct rate_customer *c)
{
        const struct rate_subscription *last = &c->subs[c->sub_count - 1];

        c->plan = last->plan;
        c->plan_line = last->plan_line;
        c->plan_col = last->plan_col;
        c->start_day = c->subs[0].start_day;
        c->has_end = last->has_end;
        c->end_day = last->end_day;
}

/* The long form: `subscriptions:` a list of {plan, start, end?}. */
static void load_subs(struct rate__ld *ld, const struct tl_yaml_node *x,
                      const char *path, struct rate_customer *c)
{
        static const char *const KEYS[] = {"plan", "start", "end", NULL};
        struct rate_subscription *subs;
        char p[RATE_DIAG_MSG_MAX / 2], q[RATE_DIAG_MSG_MAX / 2],
            why[RATE_DIAG_MSG_MAX / 2];
        const struct tl_yaml_node *v;
        size_t bad, before = ld->errors;

        snprintf(p, sizeof p, "%s.subscriptions", path);
        if (!rate__is_seq(ld, x, p))
                return;
        if (x->count == 0) {
                rate__bad(ld, x, p, "at least one subscription");
                return;
        }
        if (!(subs = rate__alloc(ld, x->count, sizeof *subs)))
                return;
        for (size_t i = 0; i < x->count; i++) {
                const struct tl_yaml_node *n = x->items[i];
                struct rate_subscription *s = &subs[i];

                snprintf(p, sizeof p, "%s.subscriptions[%zu]", path, i);
                if (!rate__is_map(ld, n, p))
                        continue;
                rate__known_keys(ld, n, p, KEYS);
                snprintf(q, sizeof q, "%s.plan", p);
                if ((v = rate__need(ld, n, p, "plan")) != NULL) {
                        s->plan = rate__text(ld, v, q);
                        s->plan_line = v->line;
                        s->plan_col = v->col;
                }
                snprintf(q, sizeof q, "%s.start", p);
                if ((v = rate__need(ld, n, p, "start")) != NULL) {
                        rate__date(ld, v, q, &s->start_day);
                        s->start_line = v->line;
                        s->start_col = v->col;
                }
                snprintf(q, sizeof q, "%s.end", p);
                if ((v = tl_yaml_get(n, "end")) != NULL)
                        s->has_end = rate__date(ld, v, q, &s->end_day);
        }
        if (ld->errors != before)
                return;
        bad = rate_subscriptions_check(subs, x->count, why, sizeof why);
        if (bad != SIZE_MAX) {
                snprintf(p, sizeof p, "%s.subscriptions", path);
                rate__bad(ld,
                          &(struct tl_yaml_node){.line = subs[bad].start_line,
                                                 .col = subs[bad].start_col},
                          p, "%s", why);
                return;
        }
        c->subs = subs;
        c->sub_count = x->count;
        rate_customer_from_subs(c);
}

static void load_customer(struct rate__ld *ld, const struct tl_yaml_node *n,
                          size_t index, struct rate_customer *c)
{
        static const char *const KEYS[] = {
            "id",       "name",          "plan",     "start",  "end",
            "tax_rate", "credits",       "cohorts",  "limits", "alerts",
            "wallet",   "subscriptions", "currency", NULL};
        struct rate__ctl_nodes cn = {NULL, NULL, NULL, NULL};
        const struct tl_yaml_node *x;
        char path[RATE_DIAG_MSG_MAX / 2], p[RATE_DIAG_MSG_MAX / 2];

        snprintf(path, sizeof path, "customers[%zu]", index);
        c->line = n->line;
        c->col = n->col;
        if (!rate__is_map(ld, n, path))
                return;
        rate__known_keys(ld, n, path, KEYS);
        if ((x = rate__need(ld, n, path, "id")) != NULL &&
            (c->id = rate__text(ld, x, path)) != NULL) {
                c->id_len = (uint32_t)strlen(c->id);
                snprintf(path, sizeof path, "customers[%s]", c->id);
        }
        snprintf(p, sizeof p, "%s.name", path);
        if ((x = tl_yaml_get(n, "name")) != NULL)
                c->name = rate__text(ld, x, p);
        if ((x = tl_yaml_get(n, "subscriptions")) != NULL) {
                static const char *const SHORT[] = {"plan", "start", "end"};

                for (size_t i = 0; i < 3; i++) {
                        const struct tl_yaml_node *k = NULL;

                        for (size_t j = 0; j < n->count; j++)
                                if (strcmp(n->pairs[j].key->text, SHORT[i]) ==
                                    0)
                                        k = n->pairs[j].key;
                        if (k)
                                rate__bad(ld, k, path,
                                          "'%s' and 'subscriptions' at once: "
                                          "write the history in "
                                          "subscriptions only",
                                          SHORT[i]);
                }
                load_subs(ld, x, path, c);
                goto rest;
        }
        snprintf(p, sizeof p, "%s.plan", path);
        if ((x = rate__need(ld, n, path, "plan")) != NULL) {
                c->plan = rate__text(ld, x, p);
                c->plan_line = x->line;
                c->plan_col = x->col;
        }
        snprintf(p, sizeof p, "%s.start", path);
        if ((x = rate__need(ld, n, path, "start")) != NULL)
                rate__date(ld, x, p, &c->start_day);
        snprintf(p, sizeof p, "%s.end", path);
        if ((x = tl_yaml_get(n, "end")) != NULL &&
            (c->has_end = rate__date(ld, x, p, &c->end_day)) &&
            c->end_day <= c->start_day)
                rate__bad(ld, x, p, "must be after start");
rest:
        snprintf(p, sizeof p, "%s.currency", path);
        if ((x = tl_yaml_get(n, "currency")) != NULL) {
                c->currency = x->kind == TL_YAML_SCALAR
                                  ? rate_currency_find(x->text, x->len)
                                  : NULL;
                if (!c->currency)
                        rate__bad(ld, x, p,
                                  "'%s' is not an ISO 4217 currency code",
                                  x->kind == TL_YAML_SCALAR ? x->text : "");
        }
        snprintf(p, sizeof p, "%s.tax_rate", path);
        if ((x = tl_yaml_get(n, "tax_rate")) != NULL &&
            rate__number(ld, x, p, true, &c->tax_rate)) {
                struct tl_dec one = tl_dec_from_i64(1);

                if (tl_dec_cmp(&c->tax_rate, &one) > 0)
                        rate__bad(ld, x, p,
                                  "a rate between 0 and 1 (0.19 is 19 %%), "
                                  "got %s",
                                  x->text);
        }
        snprintf(p, sizeof p, "%s.credits", path);
        if ((x = tl_yaml_get(n, "credits")) != NULL)
                load_credits(ld, x, p, c);
        cn.limits = tl_yaml_get(n, "limits");
        cn.alerts = tl_yaml_get(n, "alerts");
        cn.wallet = tl_yaml_get(n, "wallet");
        if (cn.limits || cn.alerts || cn.wallet) {
                struct rate_controls *ctl = rate__alloc(ld, 1, sizeof *ctl);

                if (ctl) {
                        rate__load_controls(ld, NULL, &cn, path, ctl);
                        c->controls = ctl;
                }
        }
        snprintf(p, sizeof p, "%s.cohorts", path);
        if ((x = tl_yaml_get(n, "cohorts")) != NULL && rate__is_map(ld, x, p)) {
                struct rate_placement *pl =
                    rate__alloc(ld, x->count, sizeof *pl);

                if (!pl)
                        return;
                for (size_t i = 0; i < x->count; i++) {
                        pl[i].experiment = rate__text(ld, x->pairs[i].key, p);
                        pl[i].cohort = rate__text(ld, x->pairs[i].value, p);
                        pl[i].line = x->pairs[i].value->line;
                        pl[i].col = x->pairs[i].value->col;
                }
                c->placements = pl;
                c->placement_count = x->count;
        }
}

/* By id, then by position: qsort need not be stable, and a duplicate is
   reported at the later of two entries. */
static int by_id(const void *a, const void *b)
{
        const struct rate_customer *x = a, *y = b;
        int c = strcmp(x->id ? x->id : "", y->id ? y->id : "");

        if (c == 0)
                c = (x->line > y->line) - (x->line < y->line);
        if (c == 0)
                c = (x->col > y->col) - (x->col < y->col);
        return c;
}

/* The hash index of rate_customers_find. */
static void index_ids(struct rate__ld *ld, struct rate_customers *cs)
{
        size_t cap = rate_customers_slots(cs->count);
        uint32_t *slots;

        if (!(slots = rate__alloc(ld, cap, sizeof *slots)))
                return;
        for (size_t i = 0; i < cs->count; i++)
                rate_customers_index_put(slots, cap - 1, cs->items, i);
        cs->slots = slots;
        cs->slot_mask = cap - 1;
}

tl_status rate_customers_parse(const char *name, const void *buf, size_t len,
                               struct rate_customers **out,
                               struct rate_diags *diags, struct tl_error *err)
{
        static const char *const KEYS[] = {"customers", NULL};
        struct tl_yaml_doc *doc = NULL;
        struct rate_customers *cs;
        struct rate_customer *items = NULL;
        const struct tl_yaml_node *list;
        struct rate__ld ld;
        tl_status rc;

        rc = tl_yaml_parse(name, buf, len, &doc, err);
        if (rc) {
                if (err)
                        rate_diags_add(diags, "%s", err->msg);
                return rc;
        }
        cs = tl_calloc(1, sizeof *cs);
        if (!cs) {
                tl_yaml_free(&doc);
                return tl_fail(err, TL_ENOMEM, "%s: out of memory", name);
        }
        tl_arena_init(&cs->arena, 16384, 0);
        ld = (struct rate__ld){
            .file = name, .arena = &cs->arena, .diags = diags, .err = err};
        cs->path = rate__text(&ld,
                              &(struct tl_yaml_node){.kind = TL_YAML_SCALAR,
                                                     .text = name,
                                                     .len = strlen(name)},
                              "");
        if (rate__is_map(&ld, doc->root, "")) {
                rate__known_keys(&ld, doc->root, "", KEYS);
                list = rate__need(&ld, doc->root, "", "customers");
                if (list && rate__is_seq(&ld, list, "customers") &&
                    (items = rate__alloc(&ld, list->count, sizeof *items))) {
                        for (size_t i = 0; i < list->count; i++)
                                load_customer(&ld, list->items[i], i,
                                              &items[i]);
                        cs->items = items;
                        cs->count = list->count;
                        qsort(items, list->count, sizeof *items, by_id);
                        for (size_t i = 1; i < list->count; i++)
                                if (items[i].id && items[i - 1].id &&
                                    strcmp(items[i].id, items[i - 1].id) == 0)
                                        rate__bad(&ld,
                                                  &(struct tl_yaml_node){
                                                      .line = items[i].line,
                                                      .col = items[i].col},
                                                  "customers",
                                                  "duplicate customer id "
                                                  "'%s'",
                                                  items[i].id);
                        if (!ld.errors)
                                index_ids(&ld, cs);
                }
        }
        tl_yaml_free(&doc);
        if (ld.oom || ld.errors) {
                rate_customers_free(&cs);
                if (ld.oom)
                        return tl_fail(err, TL_ENOMEM, "%s: out of memory",
                                       name);
                return TL_EINVAL;
        }
        *out = cs;
        return TL_OK;
}

tl_status rate_customers_load_file(const char *path,
                                   struct rate_customers **out,
                                   struct rate_diags *diags,
                                   struct tl_error *err)
{
        char *data;
        size_t len;
        tl_status rc = tl_read_file(path, &data, &len, err);

        if (rc) {
                if (err)
                        rate_diags_add(diags, "%s", err->msg);
                return rc;
        }
        rc = rate_customers_parse(path, data, len, out, diags, err);
        tl_free(data);
        return rc;
}

void rate_customers_free(struct rate_customers **pp)
{
        if (!pp || !*pp)
                return;
        tl_arena_release(&(*pp)->arena);
        tl_free(*pp);
        *pp = NULL;
}

uint64_t rate_customers_hash(const char *id, size_t len)
{
        return tl_hash64(id, len, UINT64_C(0x5ca1ab1e));
}

size_t rate_customers_slots(size_t count)
{
        size_t cap = 16;

        while (cap < count * 2)
                cap *= 2;
        return cap;
}

void rate_customers_index_put(uint32_t *slots, size_t mask,
                              const struct rate_customer *items, size_t i)
{
        size_t s = rate_customers_hash(items[i].id, items[i].id_len) & mask;

        while (slots[s])
                s = (s + 1) & mask;
        slots[s] = (uint32_t)i + 1;
}

size_t rate_customers_index_get(const uint32_t *slots, size_t mask,
                                const struct rate_customer *items,
                                const char *id, size_t len, uint64_t h)
{
        if (!slots)
                return RATE_NO_INDEX;
        for (size_t s = h & mask; slots[s]; s = (s + 1) & mask) {
                const struct rate_customer *c = &items[slots[s] - 1];

                if (c->id_len == len && memcmp(c->id, id, len) == 0)
                        return slots[s] - 1;
        }
        return RATE_NO_INDEX;
}

const struct rate_customer *
rate_customers_find_hashed(const struct rate_customers *cs, const char *id,
                           size_t len, uint64_t h)
{
        size_t i = rate_customers_index_get(cs->slots, cs->slot_mask, cs->items,
                                            id, len, h);

        return i == RATE_NO_INDEX ? NULL : &cs->items[i];
}

const struct rate_customer *rate_customers_find(const struct rate_customers *cs,
                                                const char *id, size_t len)
{
        return rate_customers_find_hashed(cs, id, len,
                                          rate_customers_hash(id, len));
}
