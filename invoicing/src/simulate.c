/* `tally rules simulate`: a period re-rated with other rules, inside a
   READ ONLY transaction, so nothing can change whatever the code does.
   Revenue here is what the period itself costs: fee + seat + usage +
   minimum (no adjustments, credit or tax). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "internal.h"

static const char PAGE_SQL[] =
    "SELECT " INV__CUSTOMER_COLUMNS " FROM customers c"
    " WHERE c.customer_id > $1 AND c.sub_start < $3::date"
    " AND (c.sub_end IS NULL OR c.sub_end > $2::date)"
    " ORDER BY c.customer_id LIMIT $4";

static const char STORED_SQL[] =
    "SELECT customer_id, base::text, cohorts::text, plan FROM invoices"
    " WHERE period_start = $2::date AND customer_id = ANY($1::text[])"
    " AND payment_status <> 'void'";

#define SIM_MAX_GROUPS 256

/* Revenue summed per plan or cohort key, before and after. */
struct group {
        char key[128];
        uint64_t customers_before, customers_after;
        struct tl_dec before, after;
};

struct sim {
        size_t count;
        struct group g[SIM_MAX_GROUPS];
        struct tl_dec before, after;
};

static tl_status add_to(struct sim *s, const char *key, bool after,
                        const struct tl_dec *v, struct tl_error *err)
{
        struct group *g = NULL;

        for (size_t i = 0; i < s->count && !g; i++)
                if (!strcmp(s->g[i].key, key))
                        g = &s->g[i];
        if (!g) {
                if (s->count == SIM_MAX_GROUPS)
                        return tl_fail(err, TL_ELIMIT,
                                       "simulate: more than %d groups",
                                       SIM_MAX_GROUPS);
                g = &s->g[s->count++];
                snprintf(g->key, sizeof g->key, "%s", key);
        }
        if (after) {
                g->customers_after++;
                return tl_dec_add(&g->after, v, &g->after, err);
        }
        g->customers_before++;
        return tl_dec_add(&g->before, v, &g->before, err);
}

/* The cohort keys of an invoice: "experiment/cohort", or "(none)". */
static tl_status cohorts_of(struct sim *s, const struct rate_invoice *inv,
                            bool after, const struct tl_dec *v,
                            struct tl_error *err)
{
        tl_status rc = TL_OK;

        for (size_t k = 0; !rc && k < inv->cohort_count; k++) {
                char key[128];

                snprintf(key, sizeof key, "%s/%s", inv->cohorts[k].experiment,
                         inv->cohorts[k].cohort);
                rc = add_to(s, key, after, v, err);
        }
        return rc;
}

/* A stored invoice's cohorts column: {"experiment": "cohort", ...}. */
static tl_status stored_cohorts(struct sim *s, const char *text,
                                const struct tl_dec *v, struct tl_error *err)
{
        json_t *o = json_loads(text, 0, NULL);
        const char *k;
        json_t *c;
        tl_status rc = TL_OK;

        json_object_foreach(o, k, c)
        {
                char key[128];

                if (rc || !json_is_string(c))
                        continue;
                snprintf(key, sizeof key, "%s/%s", k, json_string_value(c));
                rc = add_to(s, key, false, v, err);
        }
        json_decref(o);
        return rc;
}

/* Price customer 'i' of 'cs' with 'cat' into '*base'. */
static tl_status base_of(PGconn *conn, const struct rate_catalog *cat,
                         const struct rate_period *p,
                         const struct inv__custs *cs, struct inv__usage *u,
                         size_t i, struct rate_invoice **inv,
                         struct tl_dec *base, struct tl_error *err)
{
        tl_status rc = TL_OK;

        if (!u->acc)
                rc = inv__usage_read(conn, cat, p, cs, u, err);
        if (!rc)
                rc = inv__price(cat, cs, i, u, NULL, inv, err);
        if (!rc)
                rc = rate_invoice_base(*inv, base, err);
        return rc;
}

static tl_status page(PGconn *conn, const struct rate_catalog *now_cat,
                      const struct rate_catalog *new_cat,
                      const struct rate_period *p, const struct inv__custs *cs,
                      struct sim *plans, struct sim *cohorts,
                      struct tl_buf *out, struct tl_error *err)
{
        struct inv__usage un, uo;
        struct tl_buf ids;
        const char *params[2];
        PGresult *stored = NULL;
        tl_status rc;

        memset(&un, 0, sizeof un);
        memset(&uo, 0, sizeof uo);
        tl_buf_init(&ids, 0);
        rc = inv__custs_array(cs, &ids, err);
        params[0] = ids.data;
        params[1] = p->start_iso;
        if (!rc) {
                stored = PQexecParams(conn, STORED_SQL, 2, NULL, params, NULL,
                                      NULL, 0);
                if (PQresultStatus(stored) != PGRES_TUPLES_OK) {
                        rc = inv__db_fail(stored, "reading invoices", err);
                        stored = NULL;
                }
        }
        for (size_t i = 0; !rc && i < cs->count; i++) {
                struct rate_invoice *before = NULL, *after = NULL;
                struct tl_dec b, a, d;
                char sb[TL_DEC_STR_MAX], sa[TL_DEC_STR_MAX], sd[TL_DEC_STR_MAX];
                int row = -1;

                for (int k = 0; k < PQntuples(stored) && row < 0; k++)
                        if (!strcmp(PQgetvalue(stored, k, 0), cs->items[i].id))
                                row = k;
                /* Before: the stored invoice; where none, today's rules. */
                if (row >= 0 && !PQgetisnull(stored, row, 1)) {
                        rc = tl_dec_parse(PQgetvalue(stored, row, 1),
                                          (size_t)PQgetlength(stored, row, 1),
                                          &b, err);
                        if (!rc)
                                rc = tl_dec_round(&b, 2, &b, err);
                }
                if (!rc && (row < 0 || PQgetisnull(stored, row, 1)))
                        rc = base_of(conn, now_cat, p, cs, &un, i, &before, &b,
                                     err);
                if (!rc)
                        rc = base_of(conn, new_cat, p, cs, &uo, i, &after, &a,
                                     err);
                if (!rc)
                        rc = tl_dec_sub(&a, &b, &d, err);
                if (!rc) {
                        tl_dec_format(&b, sb, sizeof sb);
                        tl_dec_format(&a, sa, sizeof sa);
                        tl_dec_format(&d, sd, sizeof sd);
                        rc = tl_buf_printf(out, err,
                                           "  %-24s %-18s %-18s %14s %14s "
                                           "%14s\n",
                                           cs->items[i].id,
                                           before ? before->plan->id
                                                  : PQgetvalue(stored, row, 3),
                                           after->plan->id, sb, sa, sd);
                }
                if (!rc)
                        rc = add_to(plans,
                                    before ? before->plan->id
                                           : PQgetvalue(stored, row, 3),
                                    false, &b, err);
                if (!rc)
                        rc = add_to(plans, after->plan->id, true, &a, err);
                if (!rc && before)
                        rc = cohorts_of(cohorts, before, false, &b, err);
                else if (!rc && row >= 0)
                        rc = stored_cohorts(cohorts, PQgetvalue(stored, row, 2),
                                            &b, err);
                if (!rc)
                        rc = cohorts_of(cohorts, after, true, &a, err);
                if (!rc)
                        rc =
                            tl_dec_add(&plans->before, &b, &plans->before, err);
                if (!rc)
                        rc = tl_dec_add(&plans->after, &a, &plans->after, err);
                rate_invoice_free(&before);
                rate_invoice_free(&after);
        }
        PQclear(stored);
        inv__usage_release(&un);
        inv__usage_release(&uo);
        tl_buf_release(&ids);
        return rc;
}

static tl_status groups(const char *title, const struct sim *s,
                        struct tl_buf *out, struct tl_error *err)
{
        tl_status rc = tl_buf_printf(
            out, err, "\n%s\n  %-36s %10s %14s %10s %14s\n", title, "",
            "customers", "before", "customers", "after");

        for (size_t i = 0; !rc && i < s->count; i++) {
                char b[TL_DEC_STR_MAX], a[TL_DEC_STR_MAX];

                tl_dec_format(&s->g[i].before, b, sizeof b);
                tl_dec_format(&s->g[i].after, a, sizeof a);
                rc = tl_buf_printf(
                    out, err, "  %-36s %10llu %14s %10llu %14s\n", s->g[i].key,
                    (unsigned long long)s->g[i].customers_before, b,
                    (unsigned long long)s->g[i].customers_after, a);
        }
        return rc;
}

tl_status inv_simulate(PGconn *conn, const struct inv_config *cfg,
                       const char *rules, const struct rate_period *p,
                       struct tl_buf *out, struct tl_error *err)
{
        struct rate_catalog_set *now_set = NULL, *new_set = NULL;
        const struct rate_catalog *now_cat = NULL, *new_cat = NULL;
        struct sim *plans = tl_calloc(1, sizeof *plans);
        struct sim *cohorts = tl_calloc(1, sizeof *cohorts);
        char cursor[1024] = "", limit[24];
        PGresult *r;
        tl_status rc = TL_OK;

        if (!plans || !cohorts)
                rc = tl_fail(err, TL_ENOMEM, "out of memory");
        if (!rc)
                rc = inv__load_rules(cfg->rules, &now_set, err);
        if (!rc)
                rc = inv__load_rules(rules, &new_set, err);
        if (!rc) {
                now_cat = rate_catalog_set_pick(now_set, p->start_day);
                new_cat = rate_catalog_set_pick(new_set, p->start_day);
                if (!now_cat || !new_cat)
                        rc = tl_fail(err, TL_EINVAL,
                                     "%s: no catalog in force for %s",
                                     now_cat ? rules : cfg->rules, p->label);
        }
        r = rc ? NULL : PQexec(conn, "BEGIN READ ONLY");
        if (r && PQresultStatus(r) != PGRES_COMMAND_OK)
                rc = inv__db_fail(r, "BEGIN READ ONLY", err);
        else
                PQclear(r);
        if (!rc)
                rc = tl_buf_printf(out, err,
                                   "Simulation of %s: %s %s (now) -> %s %s "
                                   "(%s). Nothing is written.\n\n"
                                   "  %-24s %-18s %-18s %14s %14s %14s\n",
                                   p->label, now_cat->name, now_cat->version,
                                   new_cat->name, new_cat->version, rules,
                                   "customer", "plan", "priced as", "before",
                                   "after", "change");
        snprintf(limit, sizeof limit, "%ld", cfg->batch);
        while (!rc) {
                const char *params[4] = {cursor, p->start_iso, p->end_iso,
                                         limit};
                struct inv__custs cs;

                rc = inv__custs_query(conn, PAGE_SQL, 4, params, &cs, err);
                if (!rc && cs.count == 0) {
                        inv__custs_release(&cs);
                        break;
                }
                if (!rc) {
                        snprintf(cursor, sizeof cursor, "%s",
                                 cs.items[cs.count - 1].id);
                        rc = page(conn, now_cat, new_cat, p, &cs, plans,
                                  cohorts, out, err);
                }
                inv__custs_release(&cs);
        }
        if (now_set || new_set)
                PQclear(PQexec(conn, "ROLLBACK"));
        if (!rc) {
                char b[TL_DEC_STR_MAX], a[TL_DEC_STR_MAX];

                tl_dec_format(&plans->before, b, sizeof b);
                tl_dec_format(&plans->after, a, sizeof a);
                rc = tl_buf_printf(out, err, "  %-62s %14s %14s\n", "total", b,
                                   a);
        }
        if (!rc)
                rc = groups("By plan (before: subscribed plan; after: plan "
                            "priced)",
                            plans, out, err);
        if (!rc)
                rc = groups("By experiment cohort", cohorts, out, err);
        tl_free(plans);
        tl_free(cohorts);
        rate_catalog_set_free(&now_set);
        rate_catalog_set_free(&new_set);
        return rc;
}
