/* Reading the close back: a customer's draft now, the invoice files, the
   revenue report, and what-if simulations with other rules. */
#include <errno.h>
#include <limits.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/alloc.h"
#include "core/arena.h"
#include "internal.h"
#include "invoicing/render.h"

/* The credit the draft may spend at the period's spending moment. */
#define ONE_COLUMNS INV__CUSTOMER_COLUMNS_AT(INV__AT_US("$2"))
static const char ONE_SQL[] =
    "SELECT " ONE_COLUMNS " FROM customers c WHERE c.customer_id = $1";

tl_status inv_usage(PGconn *conn, const struct inv_config *cfg, const char *id,
                    const struct rate_period *period, bool json,
                    struct tl_buf *out, struct tl_error *err)
{
        struct rate_catalog_set *set = NULL;
        tl_status rc = inv__load_rules(cfg->rules, &set, err);

        if (!rc)
                rc =
                    inv_draft(conn, cfg, set, id, period, json, out, NULL, err);
        rate_catalog_set_free(&set);
        return rc;
}

/*
** The customer, its usage and its late periods of inv_draft: the four
** statements go in one round trip (sch_db_exec_all), since each is quick
** and a draft waited on four. The same statements, and the same folds,
** as the close's.
*/
static tl_status read_one(PGconn *conn, const struct rate_catalog *cat,
                          const struct rate_catalog_set *set, const char *id,
                          const struct rate_period *period, const char *asof,
                          struct inv__custs *one, struct inv__usage *u,
                          struct inv__late *late, struct tl_error *err)
{
        const char *params[2] = {id, asof}, *late_params[2];
        struct inv__usage_sql uq;
        struct sch_db_stmt st[4];
        struct tl_buf ids;
        PGresult *r[4];
        tl_status rc;

        tl_buf_init(&ids, 0);
        /* The customer's id as the text[] literal the others take, as
           inv__custs_array writes it for the one customer found. */
        rc = tl_buf_puts(&ids, "{", err);
        if (!rc)
                rc = inv__array_add(&ids, id, true, err);
        if (!rc)
                rc = tl_buf_puts(&ids, "}", err);
        if (rc) {
                tl_buf_release(&ids);
                return rc;
        }
        st[0] = (struct sch_db_stmt){ONE_SQL, 2, params, 0};
        inv__usage_sql(cat, period, ids.data, &uq);
        st[1] = uq.stmt[0];
        st[2] = uq.stmt[1];
        inv__late_sql(period, ids.data, late_params, &st[3]);
        sch_db_exec_all(conn, st, 4, r);
        tl_buf_release(&ids);
        rc = inv__custs_result(r[0], one, err);
        if (!rc && one->count == 0)
                rc = tl_fail(err, TL_ENOTFOUND,
                             "customer %s: not in the customers table "
                             "(tally customers import FILE)",
                             id);
        if (rc) {
                for (int i = 1; i < 4; i++)
                        PQclear(r[i]);
                return rc;
        }
        rc = inv__usage_fold(cat, period, one, &r[1], u, err);
        if (rc) {
                PQclear(r[3]);
                return rc;
        }
        return inv__late_result(conn, set, one, r[3], late, err);
}

/* The draft of inv_draft: as a document ('doc' not NULL) or a table. */
static tl_status draft(PGconn *conn, const struct inv_config *cfg,
                       const struct rate_catalog_set *set, const char *id,
                       const struct rate_period *period, json_t **doc,
                       struct tl_buf *out, const char **version,
                       struct tl_error *err)
{
        const struct rate_catalog *cat;
        const struct rate_currency *cur = NULL;
        struct inv__custs one;
        struct inv__usage u;
        struct inv__late late;
        struct rate_invoice *inv = NULL;
        char asof[24];
        tl_status rc = TL_OK;

        inv__credit_as_of(cfg, period, asof);
        memset(&one, 0, sizeof one);
        memset(&u, 0, sizeof u);
        memset(&late, 0, sizeof late);
        rc = inv__customer_currency(conn, id, &cur, err);
        cat = rc ? NULL : rate_catalog_set_pick_in(set, period->start_day, cur);
        if (rc)
                ;
        else if (!cat && cur)
                rc = inv__no_catalog_in(cfg->rules, id, cur, period, err);
        else if (!cat)
                rc = tl_fail(err, TL_EINVAL, "%s: no catalog in force for %s",
                             cfg->rules ? cfg->rules : "rules", period->label);
        else if (version)
                *version = cat->version;
        if (!rc)
                rc = read_one(conn, cat, set, id, period, asof, &one, &u, &late,
                              err);
        if (!rc)
                rc = inv__price(cat, &one, 0, &u, &late, &inv, err);
        if (!rc && doc)
                rc = inv__document_doc(cfg, &u, 0, NULL, inv, doc, err);
        else if (!rc)
                rc = rate_invoice_table(inv, out, err);
        rate_invoice_free(&inv);
        inv__late_release(&late);
        inv__usage_release(&u);
        inv__custs_release(&one);
        return rc;
}

tl_status inv_draft_doc(PGconn *conn, const struct inv_config *cfg,
                        const struct rate_catalog_set *set, const char *id,
                        const struct rate_period *period, json_t **doc,
                        const char **version, struct tl_error *err)
{
        return draft(conn, cfg, set, id, period, doc, NULL, version, err);
}

tl_status inv_draft(PGconn *conn, const struct inv_config *cfg,
                    const struct rate_catalog_set *set, const char *id,
                    const struct rate_period *period, bool json,
                    struct tl_buf *out, const char **version,
                    struct tl_error *err)
{
        json_t *doc = NULL;
        char *s = NULL;
        tl_status rc;

        if (!json)
                return draft(conn, cfg, set, id, period, NULL, out, version,
                             err);
        rc = draft(conn, cfg, set, id, period, &doc, NULL, version, err);
        if (!rc && !(s = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER)))
                rc = tl_fail(err, TL_ENOMEM, "out of memory");
        if (!rc)
                rc = tl_buf_puts(out, s, err);
        if (!rc)
                rc = tl_buf_puts(out, "\n", err);
        free(s); /* lint: libc-free: jansson allocated it */
        json_decref(doc);
        return rc;
}

/* ---- files -----------------------------------------------------------------
 */

/* The base name of row 'i' of 'r' (customer_id, number): the number's
   name once finalized, "draft-<id's name>-YYYY-MM" before. */
static tl_status base_name(PGresult *r, int i, const struct rate_period *p,
                           char *out, size_t size, struct tl_error *err)
{
        static const char DRAFT[] = "draft-";
        size_t n = sizeof DRAFT - 1, label = strlen(p->label);
        tl_status rc;

        if (!PQgetisnull(r, i, 1))
                return inv_file_name(PQgetvalue(r, i, 1), out, size, err);
        if (size < n + label + 3)
                return tl_fail(err, TL_EINVAL, "file name: no room");
        memcpy(out, DRAFT, n);
        rc = inv_file_name(PQgetvalue(r, i, 0), out + n, size - n - label - 1,
                           err);
        if (!rc) {
                n += strlen(out + n);
                out[n++] = '-';
                memcpy(out + n, p->label, label + 1);
        }
        return rc;
}

static int by_name(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
** Every row's base name into 'names' (an array of PQntuples strings in
** 'arena'), refusing two rows that would write one file: the names are
** unique by construction, so a clash means a broken invariant elsewhere,
** and overwriting one invoice with another is never the answer.
*/
static tl_status all_names(PGresult *r, const struct rate_period *p,
                           struct tl_arena *arena, char ***names,
                           struct tl_error *err)
{
        int n = PQntuples(r);
        char **v = NULL, **sorted = NULL, name[NAME_MAX + 1];
        tl_status rc;

        rc = tl_arena_alloc(arena, (size_t)(n ? n : 1) * sizeof *v, (void **)&v,
                            err);
        if (!rc)
                rc = tl_arena_alloc(arena, (size_t)(n ? n : 1) * sizeof *v,
                                    (void **)&sorted, err);
        for (int i = 0; !rc && i < n; i++) {
                rc = base_name(r, i, p, name, NAME_MAX + 1 - 5, err);
                if (rc)
                        tl_error_prefix(err, "invoice of customer %s",
                                        PQgetvalue(r, i, 0));
                else
                        rc = tl_arena_strndup(arena, name, strlen(name), &v[i],
                                              err);
                if (!rc)
                        sorted[i] = v[i];
        }
        if (rc)
                return rc;
        qsort(sorted, (size_t)n, sizeof *sorted, by_name);
        for (int i = 1; i < n; i++)
                if (!strcmp(sorted[i - 1], sorted[i]))
                        return tl_fail(err, TL_ECONFLICT,
                                       "two invoices would both be written "
                                       "to %s.json: nothing written",
                                       sorted[i]);
        *names = v;
        return TL_OK;
}

static tl_status write_text(const char *path, const char *data, size_t len,
                            bool newline, struct tl_error *err)
{
        FILE *f = fopen(path, "wb");

        if (!f || fwrite(data, 1, len, f) != len ||
            (newline && fputc('\n', f) == EOF)) {
                if (f)
                        fclose(f);
                return tl_fail(err, TL_EIO, "%s: %s", path, strerror(errno));
        }
        if (fclose(f) != 0)
                return tl_fail(err, TL_EIO, "%s: %s", path, strerror(errno));
        return TL_OK;
}

tl_status inv_write_files(PGconn *conn, const struct rate_period *period,
                          const char *customer, const char *dir,
                          uint64_t *written, struct tl_error *err)
{
        static const char SQL[] = "SELECT customer_id, number, body::text,"
                                  " payment_status = 'void' FROM invoices"
                                  " WHERE period_start = $1::date"
                                  " ORDER BY number NULLS LAST, customer_id";
        const char *params[1] = {period->start_iso};
        struct tl_arena arena;
        struct tl_buf csv;
        char path[4096], **names = NULL;
        PGresult *r;
        tl_status rc = TL_OK;
        int csv_flags = 0;

        *written = 0;
        if (mkdir(dir, 0777) != 0 && errno != EEXIST)
                return tl_fail(err, TL_EIO, "%s: %s", dir, strerror(errno));
        /* Every invoice of the period is read even for one customer: the
           period's CSV is rewritten whole, never with one customer alone. */
        r = PQexecParams(conn, SQL, 1, NULL, params, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_TUPLES_OK)
                return inv__db_fail(r, "reading invoices", err);
        tl_buf_init(&csv, 0);
        tl_arena_init(&arena, 0, 0);
        rc = all_names(r, period, &arena, &names, err);
        /* One file, one set of columns: the allowance ones when any
           invoice has a capacity licence. */
        for (int i = 0; !rc && i < PQntuples(r) && !csv_flags; i++) {
                json_t *doc = json_loads(PQgetvalue(r, i, 2), 0, NULL);

                if (doc && inv_csv_has_capacity(doc))
                        csv_flags = INV_CSV_CAPACITY;
                json_decref(doc);
        }
        for (int i = 0, rows = 0; !rc && i < PQntuples(r); i++) {
                const char *body = PQgetvalue(r, i, 2);
                bool voided = PQgetvalue(r, i, 3)[0] == 't';
                bool mine = !customer || !strcmp(PQgetvalue(r, i, 0), customer);
                json_error_t je;
                json_t *doc = json_loads(body, 0, &je);

                if (!doc) {
                        rc = tl_fail(err, TL_EINTERNAL,
                                     "invoice of %s: stored document is not "
                                     "JSON: %s",
                                     PQgetvalue(r, i, 0), je.text);
                        break;
                }
                /* A void invoice keeps its frozen JSON, its PDF says VOID,
                   and its lines leave the period's CSV, where its re-issue
                   stands: a sum over the CSV is what the period billed. */
                if (voided)
                        json_object_set_new(doc, "payment_status",
                                            json_string("void"));
                snprintf(path, sizeof path, "%s/%s.json", dir, names[i]);
                if (mine)
                        rc = write_text(path, body, strlen(body), true, err);
                snprintf(path, sizeof path, "%s/%s.pdf", dir, names[i]);
                if (!rc && mine)
                        rc = inv_render_pdf(doc, path, err);
                if (!rc && !voided)
                        rc = inv_render_csv(
                            doc, (rows++ == 0 ? INV_CSV_HEADER : 0) | csv_flags,
                            &csv, err);
                json_decref(doc);
                if (!rc && mine)
                        (*written)++;
        }
        tl_arena_release(&arena);
        PQclear(r);
        if (!rc && *written) {
                snprintf(path, sizeof path, "%s/invoices-%s.csv", dir,
                         period->label);
                rc = write_text(path, csv.data, csv.len, false, err);
        }
        tl_buf_release(&csv);
        return rc;
}

/* ---- the revenue report
 * ------------------------------------------------------ */

static tl_status table(PGconn *conn, const char *sql, const char *params[1],
                       const char *title, const char *const *heads, int cols,
                       struct tl_buf *out, struct tl_error *err)
{
        PGresult *r = PQexecParams(conn, sql, 1, NULL, params, NULL, NULL, 0);
        tl_status rc;

        if (PQresultStatus(r) != PGRES_TUPLES_OK)
                return inv__db_fail(r, title, err);
        rc = tl_buf_printf(out, err, "%s\n", title);
        for (int c = 0; !rc && c < cols; c++)
                rc = tl_buf_printf(out, err, c < 2 ? "  %-22s" : " %16s",
                                   heads[c]);
        if (!rc)
                rc = tl_buf_puts(out, "\n", err);
        for (int i = 0; !rc && i < PQntuples(r); i++) {
                for (int c = 0; !rc && c < cols; c++)
                        rc =
                            tl_buf_printf(out, err, c < 2 ? "  %-22s" : " %16s",
                                          PQgetvalue(r, i, c));
                if (!rc)
                        rc = tl_buf_puts(out, "\n", err);
        }
        PQclear(r);
        return rc;
}

tl_status inv_report(PGconn *conn, const struct rate_period *period,
                     struct tl_buf *out, struct tl_error *err)
{
        static const char PLAN_SQL[] =
            "SELECT plan, currency, count(*)::text,"
            " count(*) FILTER (WHERE status = 'finalized')::text,"
            " round(sum(base), 2)::text, round(sum(subtotal), 2)::text,"
            " round(sum(total), 2)::text"
            " FROM invoices WHERE period_start = $1::date"
            " AND payment_status <> 'void'"
            " GROUP BY plan, currency ORDER BY plan, currency";
        static const char COHORT_SQL[] =
            "SELECT e.key || '/' || e.value, i.currency, count(*)::text,"
            " count(*) FILTER (WHERE status = 'finalized')::text,"
            " round(sum(base), 2)::text, round(sum(subtotal), 2)::text,"
            " round(sum(total), 2)::text"
            " FROM invoices i, jsonb_each_text(i.cohorts) e"
            " WHERE i.period_start = $1::date"
            " AND i.payment_status <> 'void'"
            " GROUP BY 1, 2 ORDER BY 1, 2";
        static const char *const PLAN_HEADS[] = {
            "plan",           "currency", "invoices", "finalized",
            "period revenue", "subtotal", "total"};
        static const char *const COHORT_HEADS[] = {
            "experiment/cohort", "currency", "invoices", "finalized",
            "period revenue",    "subtotal", "total"};
        const char *params[1] = {period->start_iso};
        tl_status rc;

        rc = tl_buf_printf(out, err,
                           "Revenue for %s (period revenue = fee + seat + "
                           "usage + minimum; subtotal adds adjustments; "
                           "total adds credit and tax)\n\n",
                           period->label);
        if (!rc)
                rc = table(conn, PLAN_SQL, params, "By plan", PLAN_HEADS, 7,
                           out, err);
        if (!rc)
                rc = tl_buf_puts(out, "\n", err);
        if (!rc)
                rc = table(conn, COHORT_SQL, params, "By experiment cohort",
                           COHORT_HEADS, 7, out, err);
        return rc;
}
