/* Usage controls: the `limits`, `alerts`, `progressive` and `wallet` keys
   of plans and customers, validated where they are written, and a
   customer's effective set. */
#include "rating/controls.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "controls_load.h"
#include "rating/customers.h"

static size_t meter_of(struct rate__ld *ld, const struct rate_catalog *cat,
                       const struct tl_yaml_node *at, const char *path,
                       const char *id)
{
        size_t m = cat ? rate_catalog_meter(cat, id) : RATE_NO_INDEX;

        if (cat && m == RATE_NO_INDEX)
                rate__bad(ld, at, path, "undefined meter '%s'", id);
        return m;
}

static void load_limits(struct rate__ld *ld, const struct rate_catalog *cat,
                        const struct tl_yaml_node *n, const char *path,
                        bool customer, struct rate_controls *out)
{
        static const char *const KEYS[] = {"hard", NULL};
        struct rate_limit *l;
        char p[RATE__CTL_PATH];

        if (!rate__is_map(ld, n, path))
                return;
        if (!(l = rate__alloc(ld, n->count, sizeof *l)))
                return;
        for (size_t i = 0; i < n->count; i++) {
                const struct tl_yaml_node *v = n->pairs[i].value, *h;

                l[i].meter_id = rate__text(ld, n->pairs[i].key, path);
                l[i].line = n->pairs[i].key->line;
                l[i].col = n->pairs[i].key->col;
                if (!l[i].meter_id)
                        continue;
                snprintf(p, sizeof p, "%s.%s", path, l[i].meter_id);
                l[i].meter =
                    meter_of(ld, cat, n->pairs[i].key, p, l[i].meter_id);
                if (!rate__is_map(ld, v, p))
                        continue;
                rate__known_keys(ld, v, p, KEYS);
                if (!(h = rate__need(ld, v, p, "hard")))
                        continue;
                snprintf(p, sizeof p, "%s.%s.hard", path, l[i].meter_id);
                if (customer && h->kind == TL_YAML_SCALAR && tl_yaml_is_null(h))
                        l[i].removed = true;
                else
                        rate__number(ld, h, p, true, &l[i].hard);
        }
        out->limits = l;
        out->limit_count = n->count;
}

/* Ids are unique across a plan's alerts and progressive thresholds: each
   names one crossing per customer and period. */
static bool seen_id(const struct rate_controls *c, const struct rate_alert *a,
                    size_t n, const char *id)
{
        for (size_t i = 0; i < c->alert_count; i++)
                if (c->alerts[i].id && !strcmp(c->alerts[i].id, id))
                        return true;
        for (size_t i = 0; i < n; i++)
                if (a[i].id && !strcmp(a[i].id, id))
                        return true;
        return false;
}

static void load_alerts(struct rate__ld *ld, const struct rate_catalog *cat,
                        const struct tl_yaml_node *n, const char *path,
                        bool progressive, struct rate_controls *out)
{
        static const char *const ALERT_KEYS[] = {
            "id", "meter", "spend_at_least", "quantity_at_least", NULL};
        static const char *const PB_KEYS[] = {"id", "spend_at_least", NULL};
        struct rate_alert *a;
        char p[RATE__CTL_PATH], q[RATE__CTL_PATH];

        if (!rate__is_seq(ld, n, path))
                return;
        if (!(a = rate__alloc(ld, n->count, sizeof *a)))
                return;
        for (size_t i = 0; i < n->count; i++) {
                const struct tl_yaml_node *it = n->items[i], *x, *spend, *qty,
                                          *meter;

                snprintf(p, sizeof p, "%s[%zu]", path, i);
                a[i].line = it->line;
                a[i].col = it->col;
                a[i].meter = RATE_NO_INDEX;
                if (!rate__is_map(ld, it, p))
                        continue;
                rate__known_keys(ld, it, p, progressive ? PB_KEYS : ALERT_KEYS);
                if ((x = rate__need(ld, it, p, "id")) != NULL &&
                    (a[i].id = rate__text(ld, x, p)) != NULL &&
                    seen_id(out, a, i, a[i].id)) {
                        rate__bad(ld, x, p, "duplicate id '%s'", a[i].id);
                        a[i].id = NULL;
                }
                spend = tl_yaml_get(it, "spend_at_least");
                qty = progressive ? NULL : tl_yaml_get(it, "quantity_at_least");
                meter = progressive ? NULL : tl_yaml_get(it, "meter");
                if (spend && qty) {
                        rate__bad(ld, qty, p,
                                  "either spend_at_least or "
                                  "quantity_at_least, not both");
                        continue;
                }
                if (!spend && !qty) {
                        rate__bad(ld, it, p,
                                  progressive
                                      ? "missing required key "
                                        "'spend_at_least'"
                                      : "needs spend_at_least, or meter and "
                                        "quantity_at_least");
                        continue;
                }
                if (spend && meter) {
                        rate__bad(ld, meter, p,
                                  "'meter' goes with quantity_at_least, not "
                                  "spend_at_least");
                        continue;
                }
                snprintf(q, sizeof q, "%s.%s", p,
                         spend ? "spend_at_least" : "quantity_at_least");
                rate__number(ld, spend ? spend : qty, q, true, &a[i].at_least);
                if (qty) {
                        a[i].by_quantity = true;
                        snprintf(q, sizeof q, "%s.meter", p);
                        if (!meter)
                                rate__bad(ld, it, p,
                                          "quantity_at_least needs 'meter'");
                        else if ((a[i].meter_id = rate__text(ld, meter, q)))
                                a[i].meter =
                                    meter_of(ld, cat, meter, q, a[i].meter_id);
                }
        }
        if (progressive) {
                out->progressive = a;
                out->progressive_count = n->count;
        } else {
                out->alerts = a;
                out->alert_count = n->count;
        }
}

/* wallet.prepaid: a plain true or false. */
static bool yes_no(struct rate__ld *ld, const struct tl_yaml_node *n,
                   const char *path)
{
        if (n->kind == TL_YAML_SCALAR && n->plain &&
            (!strcmp(n->text, "true") || !strcmp(n->text, "false")))
                return n->text[0] == 't';
        rate__bad(ld, n, path, "expected true or false");
        return false;
}

void rate__load_controls(struct rate__ld *ld, const struct rate_catalog *cat,
                         const struct rate__ctl_nodes *n, const char *path,
                         struct rate_controls *out)
{
        char p[RATE__CTL_PATH];

        memset(out, 0, sizeof *out);
        snprintf(p, sizeof p, "%s.limits", path);
        if (n->limits)
                load_limits(ld, cat, n->limits, p, cat == NULL, out);
        snprintf(p, sizeof p, "%s.alerts", path);
        if (n->alerts)
                load_alerts(ld, cat, n->alerts, p, false, out);
        snprintf(p, sizeof p, "%s.progressive", path);
        if (n->progressive)
                load_alerts(ld, cat, n->progressive, p, true, out);
        snprintf(p, sizeof p, "%s.wallet", path);
        if (n->wallet && rate__is_map(ld, n->wallet, p)) {
                static const char *const KEYS[] = {"low_balance", "prepaid",
                                                   NULL};
                const struct tl_yaml_node *x, *pre;

                rate__known_keys(ld, n->wallet, p, KEYS);
                pre = tl_yaml_get(n->wallet, "prepaid");
                snprintf(p, sizeof p, "%s.wallet.prepaid", path);
                if (pre)
                        out->prepaid = yes_no(ld, pre, p);
                snprintf(p, sizeof p, "%s.wallet.low_balance", path);
                /* A prepaid wallet needs no warning level; any other
                   wallet is there for one. */
                x = pre ? tl_yaml_get(n->wallet, "low_balance")
                        : rate__need(ld, n->wallet, p, "low_balance");
                if (x)
                        out->has_low_balance =
                            rate__number(ld, x, p, true, &out->low_balance);
        }
}

/* ---- the effective controls of a customer ------------------------------ */

static tl_status undefined(const char *file, const struct rate_customer *c,
                           unsigned line, unsigned col, const char *what,
                           const char *meter, struct tl_error *err)
{
        return tl_fail(
            err, TL_EINVAL, "%s:%u:%u: customers[%s].%s: undefined meter '%s'",
            file ? file : "customers", line, col, c->id, what, meter);
}

tl_status rate_controls_effective(
    const struct rate_catalog *cat, const struct rate_plan *plan,
    const struct rate_customer *cust, const char *customers_file,
    struct tl_arena *arena, struct rate_controls *out, struct tl_error *err)
{
        const struct rate_controls *pc = &plan->controls;
        const struct rate_controls *cc = cust ? cust->controls : NULL;
        struct rate_limit *l;
        struct rate_alert *a;
        size_t nl = 0, na = 0;
        tl_status rc;

        *out = *pc;
        if (!cc)
                return TL_OK;
        out->has_low_balance = cc->has_low_balance;
        out->low_balance = cc->low_balance;
        out->prepaid = cc->prepaid;
        if ((rc = tl_arena_alloc(
                 arena, (pc->limit_count + cc->limit_count + 1) * sizeof *l,
                 (void **)&l, err)) ||
            (rc = tl_arena_alloc(
                 arena, (pc->alert_count + cc->alert_count + 1) * sizeof *a,
                 (void **)&a, err)))
                return rc;
        for (size_t i = 0; i < cc->limit_count; i++) {
                struct rate_limit x = cc->limits[i];

                x.meter = rate_catalog_meter(cat, x.meter_id);
                if (x.meter == RATE_NO_INDEX)
                        return undefined(customers_file, cust, x.line, x.col,
                                         "limits", x.meter_id, err);
                if (!x.removed)
                        l[nl++] = x;
        }
        for (size_t i = 0; i < pc->limit_count; i++) {
                bool over = false;

                for (size_t k = 0; k < cc->limit_count && !over; k++)
                        over = !strcmp(cc->limits[k].meter_id,
                                       pc->limits[i].meter_id);
                if (!over)
                        l[nl++] = pc->limits[i];
        }
        for (size_t i = 0; i < cc->alert_count; i++) {
                struct rate_alert x = cc->alerts[i];

                if (x.by_quantity && (x.meter = rate_catalog_meter(
                                          cat, x.meter_id)) == RATE_NO_INDEX)
                        return undefined(customers_file, cust, x.line, x.col,
                                         "alerts", x.meter_id, err);
                a[na++] = x;
        }
        for (size_t i = 0; i < pc->alert_count; i++) {
                bool over = false;

                for (size_t k = 0; k < cc->alert_count && !over; k++)
                        over = !strcmp(cc->alerts[k].id, pc->alerts[i].id);
                if (!over)
                        a[na++] = pc->alerts[i];
        }
        out->limits = l;
        out->limit_count = nl;
        out->alerts = a;
        out->alert_count = na;
        return TL_OK;
}

/* ---- a customer's overrides as stored (customers.controls) ------------- */

static json_t *dec_json(const struct tl_dec *d)
{
        char s[TL_DEC_STR_MAX];

        tl_dec_format(d, s, sizeof s);
        return json_string(s);
}

tl_status rate_controls_to_json(const struct rate_controls *c, char **out,
                                struct tl_error *err)
{
        json_t *j = json_object(), *l = json_object(), *a = json_array();
        bool ok = j && l && a;

        *out = NULL;
        for (size_t i = 0; ok && i < c->limit_count; i++)
                ok = !json_object_set_new(
                    l, c->limits[i].meter_id,
                    json_pack("{s:o}", "hard",
                              c->limits[i].removed
                                  ? json_null()
                                  : dec_json(&c->limits[i].hard)));
        for (size_t i = 0; ok && i < c->alert_count; i++) {
                const struct rate_alert *x = &c->alerts[i];

                ok = !json_array_append_new(
                    a,
                    x->by_quantity
                        ? json_pack("{s:s, s:s, s:o}", "id", x->id, "meter",
                                    x->meter_id, "quantity_at_least",
                                    dec_json(&x->at_least))
                        : json_pack("{s:s, s:o}", "id", x->id, "spend_at_least",
                                    dec_json(&x->at_least)));
        }
        if (ok && c->limit_count)
                ok = !json_object_set(j, "limits", l);
        if (ok && c->alert_count)
                ok = !json_object_set(j, "alerts", a);
        if (ok && (c->has_low_balance || c->prepaid)) {
                json_t *w = json_object();

                ok = w && (!c->has_low_balance ||
                           !json_object_set_new(w, "low_balance",
                                                dec_json(&c->low_balance)));
                if (ok && c->prepaid)
                        ok = !json_object_set_new(w, "prepaid", json_true());
                ok = ok && !json_object_set(j, "wallet", w);
                json_decref(w);
        }
        /* Not compact: read back as YAML flow style, which wants a space
           after ':'. */
        if (ok)
                ok = (*out = json_dumps(j, JSON_PRESERVE_ORDER)) != NULL;
        json_decref(j);
        json_decref(l);
        json_decref(a);
        return ok ? TL_OK : tl_fail(err, TL_ENOMEM, "controls: out of memory");
}

tl_status rate_controls_parse_json(const char *name, const char *text,
                                   struct tl_arena *arena,
                                   const struct rate_controls **out,
                                   struct tl_error *err)
{
        static const char *const KEYS[] = {"limits", "alerts", "wallet", NULL};
        struct tl_yaml_doc *doc = NULL;
        struct rate_controls *c = NULL;
        struct rate__ld ld = {
            .file = name, .arena = arena, .diags = NULL, .err = err};
        tl_status rc = tl_yaml_parse(name, text, strlen(text), &doc, err);

        if (rc)
                return rc;
        if (rate__is_map(&ld, doc->root, "controls") &&
            rate__known_keys(&ld, doc->root, "controls", KEYS) &&
            (c = rate__alloc(&ld, 1, sizeof *c)) != NULL) {
                struct rate__ctl_nodes n = {tl_yaml_get(doc->root, "limits"),
                                            tl_yaml_get(doc->root, "alerts"),
                                            NULL,
                                            tl_yaml_get(doc->root, "wallet")};

                rate__load_controls(&ld, NULL, &n, "controls", c);
        }
        tl_yaml_free(&doc);
        if (ld.oom)
                return tl_fail(err, TL_ENOMEM, "%s: out of memory", name);
        if (ld.errors || !c)
                return TL_EINVAL;
        *out = c;
        return TL_OK;
}
