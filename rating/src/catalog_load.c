/* The catalog loader: YAML nodes to a validated struct rate_catalog. Every
   rule of docs/pricing-rules.md is checked here, and every failure reported. */
#include <stdio.h>
#include <string.h>

#include <gmp.h>

#include "core/alloc.h"
#include "catalog_load.h"

/* ---- fields ------------------------------------------------------------ */

struct field_def {
        const char *name;
        rate_field_kind kind;
        bool numeric;
        unsigned types; /* bit per sch_event_type */
};

#define T(t) (1u << (t))
static const struct field_def FIELDS[] = {
    {"input_tokens", RATE_FIELD_INPUT_TOKENS, true, T(SCH_TYPE_TOKENS)},
    {"output_tokens", RATE_FIELD_OUTPUT_TOKENS, true, T(SCH_TYPE_TOKENS)},
    {"cached_input_tokens", RATE_FIELD_CACHED_INPUT_TOKENS, true,
     T(SCH_TYPE_TOKENS)},
    {"iterations", RATE_FIELD_ITERATIONS, true, T(SCH_TYPE_ITERATIONS)},
    {"tokens", RATE_FIELD_TOKENS, true, T(SCH_TYPE_ITERATIONS)},
    {"mac", RATE_FIELD_MAC, true, T(SCH_TYPE_MATRIX_OPS)},
    {"units", RATE_FIELD_UNITS, true, T(SCH_TYPE_OUTCOME)},
    {"model", RATE_FIELD_MODEL, false,
     T(SCH_TYPE_TOKENS) | T(SCH_TYPE_ITERATIONS) | T(SCH_TYPE_MATRIX_OPS)},
    {"deployment", RATE_FIELD_DEPLOYMENT, false,
     T(SCH_TYPE_TOKENS) | T(SCH_TYPE_ITERATIONS) | T(SCH_TYPE_MATRIX_OPS) |
         T(SCH_TYPE_OUTCOME)},
    {"decoding", RATE_FIELD_DECODING, false,
     T(SCH_TYPE_TOKENS) | T(SCH_TYPE_ITERATIONS)},
    {"device_id", RATE_FIELD_DEVICE_ID, false, T(SCH_TYPE_SEAT)},
    {"action", RATE_FIELD_ACTION, false, T(SCH_TYPE_SEAT)},
    {"model_class", RATE_FIELD_MODEL_CLASS, false, T(SCH_TYPE_SEAT)},
    {"task", RATE_FIELD_TASK, false, T(SCH_TYPE_OUTCOME)},
    {"outcome", RATE_FIELD_OUTCOME, false, T(SCH_TYPE_OUTCOME)},
};
#undef T

static void count_fields_of(sch_event_type t, char *out, size_t size)
{
        size_t len = 0;

        out[0] = '\0';
        for (size_t i = 0; i < sizeof FIELDS / sizeof *FIELDS; i++)
                if (FIELDS[i].numeric && (FIELDS[i].types & (1u << t)))
                        len +=
                            (size_t)snprintf(out + len, size - len, "%s%s",
                                             len ? ", " : "", FIELDS[i].name);
        if (!len)
                snprintf(out, size, "none");
}

/*
** Resolve the field named by scalar 'n' for events of type 't': a count
** field when 'numeric', else a text field (typed or a dimension).
*/
static bool resolve_field(struct rate__cload *c, sch_event_type t,
                          const struct tl_yaml_node *n, const char *path,
                          bool numeric, struct rate_field *out)
{
        const char *name = rate__text(&c->ld, n, path);

        if (!name)
                return false;
        for (size_t i = 0; i < sizeof FIELDS / sizeof *FIELDS; i++) {
                const struct field_def *f = &FIELDS[i];

                if (strcmp(f->name, name) != 0)
                        continue;
                if (numeric && f->numeric && (f->types & (1u << t))) {
                        *out = (struct rate_field){f->kind, name,
                                                   (uint32_t)n->len};
                        return true;
                }
                if (!numeric && f->numeric) {
                        rate__bad(&c->ld, n, path,
                                  "'%s' is a count, not a text field", name);
                        return false;
                }
                if (!numeric && (f->types & (1u << t))) {
                        *out = (struct rate_field){f->kind, name,
                                                   (uint32_t)n->len};
                        return true;
                }
                break;
        }
        if (numeric) {
                char list[160];

                count_fields_of(t, list, sizeof list);
                rate__bad(&c->ld, n, path,
                          "'%s' is not a count field of %s (one of: %s)", name,
                          sch_event_type_name(t), list);
                return false;
        }
        *out = (struct rate_field){RATE_FIELD_DIM, name, (uint32_t)n->len};
        return true;
}

/* ---- meters -------------------------------------------------------------- */

static const char *const AGG_NAMES[] = {"sum",    "count",        "max",
                                        "latest", "unique_count", "seats"};

static bool load_filter(struct rate__cload *c, struct rate_meter *m,
                        const struct tl_yaml_node *n, const char *path)
{
        struct rate_filter *fs;
        char p[RATE__PATH_MAX];

        if (!rate__is_map(&c->ld, n, path))
                return false;
        fs = rate__alloc(&c->ld, n->count, sizeof *fs);
        if (!fs)
                return false;
        for (size_t i = 0; i < n->count; i++) {
                const struct tl_yaml_node *v = n->pairs[i].value;
                const char **vals;
                uint32_t *lens;
                size_t nv = v->kind == TL_YAML_SEQ ? v->count : 1;

                snprintf(p, sizeof p, "%s.%s", path, n->pairs[i].key->text);
                if (!resolve_field(c, m->event, n->pairs[i].key, p, false,
                                   &fs[i].field))
                        return false;
                if (v->kind == TL_YAML_MAP || nv == 0) {
                        rate__bad(&c->ld, v, p,
                                  "expected a value or a non-empty list of "
                                  "values");
                        return false;
                }
                vals = rate__alloc(&c->ld, nv, sizeof *vals);
                lens = rate__alloc(&c->ld, nv, sizeof *lens);
                if (!vals || !lens)
                        return false;
                for (size_t j = 0; j < nv; j++) {
                        const struct tl_yaml_node *x =
                            v->kind == TL_YAML_SEQ ? v->items[j] : v;

                        vals[j] = rate__text(&c->ld, x, p);
                        if (!vals[j])
                                return false;
                        lens[j] = (uint32_t)strlen(vals[j]);
                }
                fs[i].values = vals;
                fs[i].value_lens = lens;
                fs[i].value_count = nv;
        }
        m->filters = fs;
        m->filter_count = n->count;
        return true;
}

static bool load_group_by(struct rate__cload *c, struct rate_meter *m,
                          const struct tl_yaml_node *n, const char *path)
{
        struct rate_field *gs;

        if (!rate__is_seq(&c->ld, n, path))
                return false;
        gs = rate__alloc(&c->ld, n->count, sizeof *gs);
        if (!gs)
                return false;
        for (size_t i = 0; i < n->count; i++) {
                if (!resolve_field(c, m->event, n->items[i], path, false,
                                   &gs[i]))
                        return false;
                for (size_t j = 0; j < i; j++)
                        if (strcmp(gs[j].name, gs[i].name) == 0) {
                                rate__bad(&c->ld, n->items[i], path,
                                          "'%s' is listed twice", gs[i].name);
                                return false;
                        }
        }
        m->group_by = gs;
        m->group_by_count = n->count;
        return true;
}

static void load_meter(struct rate__cload *c, const struct tl_yaml_node *key,
                       const struct tl_yaml_node *n, struct rate_meter *m)
{
        static const char *const KEYS[] = {"event",  "value",    "aggregation",
                                           "filter", "group_by", NULL};
        const struct tl_yaml_node *ev, *agg, *val, *x;
        char path[RATE__PATH_MAX], p[RATE__PATH_MAX];
        size_t a;

        snprintf(path, sizeof path, "meters.%s", key->text);
        m->id = rate__text(&c->ld, key, "meters");
        if (!m->id || !rate__is_map(&c->ld, n, path))
                return;
        rate__known_keys(&c->ld, n, path, KEYS);
        ev = rate__need(&c->ld, n, path, "event");
        agg = rate__need(&c->ld, n, path, "aggregation");
        if (!ev || !agg)
                return;
        snprintf(p, sizeof p, "%s.event", path);
        m->event = ev->kind == TL_YAML_SCALAR
                       ? sch_event_type_parse(ev->text, ev->len)
                       : SCH_TYPE_NONE;
        if (m->event == SCH_TYPE_NONE) {
                rate__bad(&c->ld, ev, p,
                          "unknown event type '%s' (inference.tokens, "
                          "inference.iterations, inference.matrix_ops, "
                          "device.seat, task.outcome)",
                          ev->kind == TL_YAML_SCALAR ? ev->text : "");
                return;
        }
        snprintf(p, sizeof p, "%s.aggregation", path);
        for (a = 0; a < sizeof AGG_NAMES / sizeof *AGG_NAMES; a++)
                if (agg->kind == TL_YAML_SCALAR &&
                    strcmp(agg->text, AGG_NAMES[a]) == 0)
                        break;
        if (a == sizeof AGG_NAMES / sizeof *AGG_NAMES) {
                rate__bad(&c->ld, agg, p,
                          "unknown aggregation '%s' (sum, count, max, latest, "
                          "unique_count, seats)",
                          agg->kind == TL_YAML_SCALAR ? agg->text : "");
                return;
        }
        /* Checked before it is kept: a refused seats meter must not draw
           a second message from each charge that names it. */
        if (a == RATE_AGG_SEATS && m->event != SCH_TYPE_SEAT) {
                rate__bad(&c->ld, agg, p,
                          "seats counts device.seat events only");
                return;
        }
        m->aggregation = (rate_aggregation)a;
        val = tl_yaml_get(n, "value");
        snprintf(p, sizeof p, "%s.value", path);
        if (m->aggregation == RATE_AGG_COUNT ||
            m->aggregation == RATE_AGG_SEATS) {
                if (val)
                        rate__bad(&c->ld, val, p, "not used by aggregation %s",
                                  AGG_NAMES[a]);
        } else if (!val) {
                rate__bad(&c->ld, n, path,
                          "missing required key 'value' (aggregation %s)",
                          AGG_NAMES[a]);
        } else {
                resolve_field(c, m->event, val, p,
                              m->aggregation != RATE_AGG_UNIQUE_COUNT,
                              &m->value);
        }
        snprintf(p, sizeof p, "%s.filter", path);
        if ((x = tl_yaml_get(n, "filter")) != NULL)
                load_filter(c, m, x, p);
        snprintf(p, sizeof p, "%s.group_by", path);
        if ((x = tl_yaml_get(n, "group_by")) != NULL)
                load_group_by(c, m, x, p);
}

static void load_meters(struct rate__cload *c, const struct tl_yaml_node *n)
{
        struct rate_meter *ms;

        if (!rate__is_map(&c->ld, n, "meters"))
                return;
        ms = rate__alloc(&c->ld, n->count, sizeof *ms);
        if (!ms)
                return;
        for (size_t i = 0; i < n->count; i++)
                load_meter(c, n->pairs[i].key, n->pairs[i].value, &ms[i]);
        c->cat->meters = ms;
        c->cat->meter_count = n->count;
}

/* ---- experiments -------------------------------------------------------- */

/* 'w' = the weight 'd' x 10^12: an exact integer (weights have at most 12
   fractional digits). */
static void weight_to_mpz(mpz_t w, const struct tl_dec *d)
{
        struct tl_dec s;
        char text[TL_DEC_STR_MAX], digits[TL_DEC_STR_MAX];
        size_t n = 0;

        if (tl_dec_round(d, RATE_MAX_PRICE_SCALE, &s, NULL) != TL_OK) {
                mpz_set_ui(w, 0);
                return;
        }
        tl_dec_format(&s, text, sizeof text);
        for (const char *p = text; *p; p++)
                if (*p != '.')
                        digits[n++] = *p;
        digits[n] = '\0';
        mpz_set_str(w, digits, 10);
}

/* Bucket ranges from the weights: cohort i holds [floor(10000 x W_before /
   W), floor(10000 x W_through / W)), computed on exact integers. */
static void place_buckets(struct rate_cohort *cs, size_t n)
{
        mpz_t total, run, x, w;
        uint32_t lo = 0;

        mpz_inits(total, run, x, w, NULL);
        for (size_t i = 0; i < n; i++) {
                weight_to_mpz(w, &cs[i].weight);
                mpz_add(total, total, w);
        }
        for (size_t i = 0; i < n; i++) {
                weight_to_mpz(w, &cs[i].weight);
                mpz_add(run, run, w);
                mpz_mul_ui(x, run, 10000);
                mpz_fdiv_q(x, x, total);
                cs[i].bucket_lo = lo;
                cs[i].bucket_hi = lo = (uint32_t)mpz_get_ui(x);
        }
        mpz_clears(total, run, x, w, NULL);
}

static void load_experiment(struct rate__cload *c, const struct tl_yaml_node *n,
                            size_t index, struct rate_experiment *e)
{
        static const char *const KEYS[] = {"id", "plan", "salt", "cohorts",
                                           NULL};
        static const char *const CKEYS[] = {"name", "weight", "plan", NULL};
        const struct tl_yaml_node *id, *plan, *salt, *cohorts;
        struct rate_cohort *cs;
        char path[RATE__PATH_MAX], p[RATE__PATH_MAX];

        snprintf(path, sizeof path, "experiments[%zu]", index);
        if (!rate__is_map(&c->ld, n, path))
                return;
        rate__known_keys(&c->ld, n, path, KEYS);
        id = rate__need(&c->ld, n, path, "id");
        plan = rate__need(&c->ld, n, path, "plan");
        salt = rate__need(&c->ld, n, path, "salt");
        cohorts = rate__need(&c->ld, n, path, "cohorts");
        if (!id || !plan || !salt || !cohorts)
                return;
        if (!(e->id = rate__text(&c->ld, id, path)))
                return;
        snprintf(path, sizeof path, "experiments.%s", e->id);
        snprintf(p, sizeof p, "%s.salt", path);
        e->salt = rate__text(&c->ld, salt, p);
        snprintf(p, sizeof p, "%s.plan", path);
        e->plan = RATE_NO_INDEX;
        if (plan->kind == TL_YAML_SCALAR &&
            (e->plan = rate_catalog_plan(c->cat, plan->text)) == RATE_NO_INDEX)
                rate__bad(&c->ld, plan, p, "undefined plan '%s'", plan->text);
        snprintf(p, sizeof p, "%s.cohorts", path);
        if (!rate__is_seq(&c->ld, cohorts, p))
                return;
        if (cohorts->count == 0) {
                rate__bad(&c->ld, cohorts, p, "needs at least one cohort");
                return;
        }
        cs = rate__alloc(&c->ld, cohorts->count, sizeof *cs);
        if (!cs)
                return;
        for (size_t i = 0; i < cohorts->count; i++) {
                const struct tl_yaml_node *cn = cohorts->items[i], *x;
                char cp[RATE__PATH_MAX];

                snprintf(cp, sizeof cp, "%s[%zu]", p, i);
                if (!rate__is_map(&c->ld, cn, cp))
                        return;
                rate__known_keys(&c->ld, cn, cp, CKEYS);
                cs[i].plan = e->plan;
                if ((x = rate__need(&c->ld, cn, cp, "name")) != NULL &&
                    (cs[i].name = rate__text(&c->ld, x, cp)) != NULL) {
                        for (size_t j = 0; j < i; j++)
                                if (cs[j].name &&
                                    strcmp(cs[j].name, cs[i].name) == 0)
                                        rate__bad(&c->ld, x, cp,
                                                  "duplicate cohort '%s'",
                                                  cs[i].name);
                        snprintf(cp, sizeof cp, "%s.cohorts.%s", path,
                                 cs[i].name);
                }
                if ((x = rate__need(&c->ld, cn, cp, "weight")) != NULL &&
                    rate__number(&c->ld, x, cp, false, &cs[i].weight) &&
                    cs[i].weight.coef <= 0)
                        rate__bad(&c->ld, x, cp,
                                  "cohort weight must be positive (got %s)",
                                  x->text);
                if ((x = tl_yaml_get(cn, "plan")) != NULL &&
                    x->kind == TL_YAML_SCALAR &&
                    (cs[i].plan = rate_catalog_plan(c->cat, x->text)) ==
                        RATE_NO_INDEX)
                        rate__bad(&c->ld, x, cp, "undefined plan '%s'",
                                  x->text);
                else if (x && x->kind != TL_YAML_SCALAR)
                        rate__bad(&c->ld, x, cp, "expected a plan id");
        }
        e->cohorts = cs;
        e->cohort_count = cohorts->count;
        if (c->ld.errors == 0)
                place_buckets(cs, cohorts->count);
}

static void load_experiments(struct rate__cload *c,
                             const struct tl_yaml_node *n)
{
        struct rate_experiment *es;

        if (!rate__is_seq(&c->ld, n, "experiments"))
                return;
        es = rate__alloc(&c->ld, n->count, sizeof *es);
        if (!es)
                return;
        for (size_t i = 0; i < n->count; i++) {
                /* Reported where the clashing id or plan is written. */
                const struct tl_yaml_node *id = tl_yaml_get(n->items[i], "id");
                const struct tl_yaml_node *plan =
                    tl_yaml_get(n->items[i], "plan");

                load_experiment(c, n->items[i], i, &es[i]);
                for (size_t j = 0; es[i].id && j < i; j++) {
                        if (es[j].id && strcmp(es[j].id, es[i].id) == 0)
                                rate__bad(&c->ld, id, "experiments",
                                          "duplicate experiment id '%s'",
                                          es[i].id);
                        /* Two experiments on one plan would each want to
                           choose its price: ambiguous, so refused. */
                        else if (es[j].id && es[i].plan != RATE_NO_INDEX &&
                                 es[j].plan == es[i].plan)
                                rate__bad(&c->ld, plan, "experiments",
                                          "plan '%s' is already in "
                                          "experiment '%s'",
                                          c->cat->plans[es[i].plan].id,
                                          es[j].id);
                }
        }
        c->cat->experiments = es;
        c->cat->experiment_count = n->count;
}

/* ---- the document -------------------------------------------------------- */

static void load_root(struct rate__cload *c, const struct tl_yaml_node *root)
{
        static const char *const KEYS[] = {
            "catalog", "version", "effective_from", "currency",
            "meters",  "plans",   "experiments",    NULL};
        const struct tl_yaml_node *x;

        if (!rate__is_map(&c->ld, root, ""))
                return;
        rate__known_keys(&c->ld, root, "", KEYS);
        if ((x = rate__need(&c->ld, root, "", "catalog")) != NULL)
                c->cat->name = rate__text(&c->ld, x, "catalog");
        if ((x = rate__need(&c->ld, root, "", "version")) != NULL)
                c->cat->version = rate__text(&c->ld, x, "version");
        if ((x = rate__need(&c->ld, root, "", "effective_from")) != NULL)
                rate__date(&c->ld, x, "effective_from",
                           &c->cat->effective_from_day);
        if ((x = rate__need(&c->ld, root, "", "currency")) != NULL) {
                c->cat->currency = x->kind == TL_YAML_SCALAR
                                       ? rate_currency_find(x->text, x->len)
                                       : NULL;
                if (!c->cat->currency)
                        rate__bad(&c->ld, x, "currency",
                                  "'%s' is not an ISO 4217 currency code",
                                  x->kind == TL_YAML_SCALAR ? x->text : "");
        }
        if ((x = tl_yaml_get(root, "meters")) != NULL)
                load_meters(c, x);
        if ((x = rate__need(&c->ld, root, "", "plans")) != NULL)
                rate__load_plans(c, x);
        /* Experiments name plans: only meaningful once plans loaded. */
        if ((x = tl_yaml_get(root, "experiments")) != NULL && c->cat->plans)
                load_experiments(c, x);
}

tl_status rate_catalog_parse(const char *name, const void *buf, size_t len,
                             struct rate_catalog **out,
                             struct rate_diags *diags, struct tl_error *err)
{
        struct tl_yaml_doc *doc = NULL;
        struct rate__cload c;
        struct rate_catalog *cat;
        tl_status rc;

        rc = tl_yaml_parse(name, buf, len, &doc, err);
        if (rc) {
                if (err)
                        rate_diags_add(diags, "%s", err->msg);
                return rc;
        }
        cat = tl_calloc(1, sizeof *cat);
        if (!cat) {
                tl_yaml_free(&doc);
                return tl_fail(err, TL_ENOMEM, "%s: out of memory", name);
        }
        tl_arena_init(&cat->arena, 16384, 0);
        memset(&c, 0, sizeof c);
        c.cat = cat;
        c.ld = (struct rate__ld){
            .file = name, .arena = &cat->arena, .diags = diags, .err = err};
        if (tl_arena_strndup(&cat->arena, name, strlen(name),
                             (char **)&cat->path, err) == TL_OK &&
            tl_arena_strndup(&cat->arena, buf, len, (char **)&cat->source,
                             err) == TL_OK) {
                cat->source_len = len;
                rate__sha256_hex(buf, len, cat->sha256_hex);
                load_root(&c, doc->root);
        } else {
                c.ld.oom = true;
        }
        tl_yaml_free(&doc);
        if (c.ld.oom || c.ld.errors) {
                rate_catalog_free(&cat);
                if (c.ld.oom)
                        return tl_fail(err, TL_ENOMEM, "%s: out of memory",
                                       name);
                return TL_EINVAL;
        }
        *out = cat;
        return TL_OK;
}

tl_status rate_catalog_load_file(const char *path, struct rate_catalog **out,
                                 struct rate_diags *diags, struct tl_error *err)
{
        char *data;
        size_t len;
        tl_status rc = tl_read_file(path, &data, &len, err);

        if (rc) {
                if (err)
                        rate_diags_add(diags, "%s", err->msg);
                return rc;
        }
        rc = rate_catalog_parse(path, data, len, out, diags, err);
        tl_free(data);
        return rc;
}

void rate_catalog_free(struct rate_catalog **pp)
{
        if (!pp || !*pp)
                return;
        tl_arena_release(&(*pp)->arena);
        tl_free(*pp);
        *pp = NULL;
}
