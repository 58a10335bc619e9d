/* The monthly close: customers claimed in batches with FOR UPDATE SKIP
   LOCKED (the database is the only coordinator), priced by rating/, and
   stored with their numbers, credit applications and adjustments in one
   transaction per batch. The run of concurrent jobs around the batches
   is close_run.c. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "close.h"

/* The invoice test is one lookup in the (customer_id, period_start) index
   per candidate, on purpose: as NOT EXISTS, PostgreSQL plans it from the
   statistics, which during a close say nothing is finalized yet, and picks
   an anti join over every invoice finalized so far (measured: 3 ms per
   claim at the start of 100,000 customers, over 1 s halfway). The recheck's
   OFFSET 0 keeps the status test out of the index scan for the same
   reason (docs/benchmarks.md). */
/* The credit each claimed customer has at the period's spending moment. */
#define CLAIM_COLUMNS INV__CUSTOMER_COLUMNS_AT(INV__AT_US("$6"))
static const char CLAIM_SQL[] =
    "SELECT " CLAIM_COLUMNS " FROM customers c"
    " WHERE c.customer_id > $1 AND c.sub_start < $3::date"
    " AND (c.sub_end IS NULL OR c.sub_end > $2::date)"
    " AND ($4::text IS NULL OR c.customer_id = $4)"
    " AND c.currency IS NOT DISTINCT FROM nullif($7, '')"
    " AND (SELECT i.status FROM invoices i"
    " WHERE i.customer_id = c.customer_id AND i.period_start = $2::date"
    " AND i.payment_status <> 'void')"
    " IS DISTINCT FROM 'finalized'"
    " ORDER BY c.customer_id LIMIT $5 FOR UPDATE OF c SKIP LOCKED";

/* Run under the claim's locks with a fresh snapshot: a worker that held
   one of these customers and finalized it committed before we got the
   lock, and its invoice shows here (the claim's snapshot may predate it). */
static const char RECHECK_SQL[] =
    "SELECT customer_id FROM (SELECT customer_id, status FROM invoices"
    " WHERE customer_id = ANY($1::text[]) AND period_start = $2::date"
    " AND payment_status <> 'void' OFFSET 0) s WHERE status = 'finalized'";

static const char NUMBER_SQL[] =
    "WITH n AS (INSERT INTO invoice_numbers (issuer, year)"
    " VALUES ($1, $2::int) ON CONFLICT DO NOTHING)"
    " SELECT 1";
static const char ADVANCE_SQL[] =
    "UPDATE invoice_numbers SET last_seq = last_seq + $3::int8"
    " WHERE issuer = $1 AND year = $2::int RETURNING last_seq";

#define STORE_AS_OF INV__AT_US("$20")
static const char STORE_SQL[] =
    "WITH v AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[],"
    " $4::numeric[], $5::numeric[], $6::numeric[], $7::text[],"
    " $8::jsonb[], $9::int8[], $10::numeric[]) AS v(customer_id, number,"
    " body, total, subtotal, base, plan, cohorts, usage_events, credit)),"
    " ins AS (INSERT INTO invoices AS i (customer_id, period_start, status,"
    " number, currency, catalog_version_id, total, body, usage_events,"
    " plan, cohorts, subtotal, base, issuer, finalized_at)"
    " SELECT customer_id, $11::date, $12, number, $13, $14::int8, total,"
    " body::json, usage_events, plan, cohorts, subtotal, base, $15,"
    " CASE WHEN $12 = 'finalized' THEN now() END FROM v"
    " ON CONFLICT (customer_id, period_start)"
    " WHERE payment_status <> 'void' DO UPDATE SET"
    " status = excluded.status, number = excluded.number,"
    " currency = excluded.currency,"
    " catalog_version_id = excluded.catalog_version_id,"
    " total = excluded.total, body = excluded.body,"
    " usage_events = excluded.usage_events, plan = excluded.plan,"
    " cohorts = excluded.cohorts, subtotal = excluded.subtotal,"
    " base = excluded.base, issuer = excluded.issuer,"
    " finalized_at = excluded.finalized_at, created_at = now()"
    " WHERE i.status = 'draft'"
    " RETURNING invoice_id, customer_id, number, body),"
    /* Credit is drawn grant by grant, earliest expiry first (none last),
       from grants not expired at the period's spending moment: one row per
       grant drawn, so a void can return exactly these. */
    " gl AS (SELECT g.customer_id, g.entry_id, g.expires_at,"
    " greatest(g.amount + coalesce((SELECT sum(m.amount)"
    " FROM credit_ledger m WHERE m.grant_id = g.entry_id), 0), 0) AS rest"
    " FROM credit_ledger g JOIN v USING (customer_id)"
    " JOIN customers c USING (customer_id)"
    " WHERE $12 = 'finalized' AND v.credit <> 0 AND g.grant_id IS NULL"
    " AND " INV__GRANT_CURRENCY_OK
    " AND g.amount > 0 AND (g.expires_at IS NULL OR g.expires_at > " STORE_AS_OF
    ")), go AS (SELECT gl.*, sum(rest) OVER (PARTITION BY customer_id"
    " ORDER BY expires_at NULLS LAST, entry_id) - rest AS before"
    " FROM gl WHERE rest > 0),"
    " cr AS (INSERT INTO credit_ledger (customer_id, amount, reason,"
    " invoice_id, grant_id) SELECT go.customer_id,"
    " -least(go.rest, -v.credit - go.before), 'invoice', ins.invoice_id,"
    " go.entry_id FROM go JOIN v USING (customer_id)"
    " JOIN ins USING (customer_id) WHERE go.before < -v.credit"
    " RETURNING customer_id, amount),"
    " adj AS (INSERT INTO invoice_adjustments (invoice_id, customer_id,"
    " corrected_period, amount, usage_events)"
    " SELECT ins.invoice_id, a.customer_id, a.period, a.amount,"
    " a.usage_events FROM unnest($16::text[], $17::date[],"
    " $18::numeric[], $19::int8[]) AS a(customer_id, period, amount,"
    " usage_events) JOIN ins USING (customer_id)"
    " WHERE $12 = 'finalized' RETURNING 1),"
    /* invoice.finalized into the webhook outbox (0009), in this
       transaction: it exists exactly when the invoice does. Counted below
       so that the CTE runs. */
    " ev AS (SELECT tally_notify('invoice.finalized', customer_id,"
    " 'invoice.finalized:' || invoice_id, json_build_object('invoice',"
    " number, 'customer', customer_id, 'period', body->'period',"
    " 'currency', body->'currency', 'total', body->'total')) AS id"
    " FROM ins WHERE $12 = 'finalized')"
    " SELECT (SELECT count(*) FROM ins), (SELECT count(*) FROM adj),"
    " (SELECT count(*) FROM v JOIN ins USING (customer_id)"
    " WHERE $12 = 'finalized' AND v.credit <> coalesce((SELECT"
    " sum(cr.amount) FROM cr WHERE cr.customer_id = v.customer_id), 0)),"
    " (SELECT count(id) FROM ev)";

enum { STORE_ARRAYS = 10, ADJ_ARRAYS = 4 };

static tl_status exec_ok(PGconn *conn, const char *sql, const char *what,
                         struct tl_error *err)
{
        PGresult *r = PQexec(conn, sql);

        if (PQresultStatus(r) != PGRES_COMMAND_OK)
                return inv__db_fail(r, what, err);
        PQclear(r);
        return TL_OK;
}

tl_status inv__load_rules(const char *path, struct rate_catalog_set **out,
                          struct tl_error *err)
{
        struct rate_diags *d = tl_calloc(1, sizeof *d);
        tl_status rc;

        if (!path || !*path) {
                tl_free(d);
                return tl_fail(err, TL_EUSAGE,
                               "no pricing rules configured (invoicing.rules "
                               "in the config file, TALLY_RULES, or --rules)");
        }
        rc = rate_catalog_set_load(path, out, d, err);
        tl_free(d);
        return rc;
}

tl_status inv__store_catalogs(PGconn *conn, const struct rate_catalog_set *set,
                              const struct rate_catalog *cat, char id[24],
                              struct tl_error *err)
{
        static const char SQL[] =
            "WITH ins AS (INSERT INTO catalog_versions (catalog, version,"
            " effective_from, sha256, body) VALUES ($1, $2,"
            " date '1970-01-01' + $3::int, decode($4, 'hex'), $5)"
            " ON CONFLICT (sha256) DO NOTHING RETURNING catalog_version_id)"
            " SELECT catalog_version_id FROM ins UNION ALL"
            " SELECT catalog_version_id FROM catalog_versions"
            " WHERE sha256 = decode($4, 'hex')";
        tl_status rc = TL_OK;

        for (size_t i = 0; !rc && i < set->count; i++) {
                const struct rate_catalog *c = set->catalogs[i];
                char day[24];
                const char *params[5];
                PGresult *r;

                snprintf(day, sizeof day, "%lld",
                         (long long)c->effective_from_day);
                params[0] = c->name;
                params[1] = c->version;
                params[2] = day;
                params[3] = c->sha256_hex;
                params[4] = c->source;
                r = PQexecParams(conn, SQL, 5, NULL, params, NULL, NULL, 0);
                if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) < 1) {
                        rc = inv__db_fail(r, "storing catalog versions", err);
                        break;
                }
                if (c == cat)
                        snprintf(id, 24, "%s", PQgetvalue(r, 0, 0));
                PQclear(r);
        }
        return rc;
}

static void batch_release(struct inv__batch *b)
{
        for (size_t i = 0; b->inv && i < b->cs.count; i++)
                rate_invoice_free(&b->inv[i]);
        tl_free(b->inv);
        b->inv = NULL;
        inv__late_release(&b->late);
        inv__usage_release(&b->u);
        inv__custs_release(&b->cs);
}

/* Drop the customers another worker finalized since our claim began. */
static tl_status recheck(PGconn *conn, struct inv__batch *b, bool *dropped_any,
                         struct tl_error *err)
{
        struct tl_buf ids;
        const char *params[2];
        PGresult *r;
        tl_status rc;

        tl_buf_init(&ids, 0);
        rc = inv__custs_array(&b->cs, &ids, err);
        params[0] = ids.data;
        params[1] = b->opts->period.start_iso;
        r = rc ? NULL
               : PQexecParams(conn, RECHECK_SQL, 2, NULL, params, NULL, NULL,
                              0);
        tl_buf_release(&ids);
        if (rc)
                return rc;
        if (PQresultStatus(r) != PGRES_TUPLES_OK)
                return inv__db_fail(r, "re-checking claimed customers", err);
        *dropped_any = PQntuples(r) > 0;
        PQclear(r);
        return TL_OK;
}

static tl_status price_all(struct inv__batch *b, struct inv_close_stats *st,
                           struct tl_error *err)
{
        b->inv = tl_calloc(b->cs.count + 1, sizeof *b->inv);
        if (!b->inv)
                return tl_fail(err, TL_ENOMEM, "out of memory");
        for (size_t i = 0; i < b->cs.count; i++) {
                struct tl_error e = {0};
                tl_status rc = inv__price(b->cat, &b->cs, i, &b->u, &b->late,
                                          &b->inv[i], &e);

                if (rc == TL_ENOMEM || rc == TL_EDB)
                        return tl_fail(err, rc, "%s", e.msg);
                if (rc) {
                        fprintf(b->opts->progress ? b->opts->progress : stderr,
                                "tally invoice: %s: not produced: %s\n",
                                b->cs.items[i].id, e.msg);
                        st->failed++;
                        continue;
                }
                b->produced++;
        }
        return TL_OK;
}

void inv__number_format(const struct inv__batch *b, unsigned long long seq,
                        char *out, size_t size)
{
        snprintf(out, size, "%s-%.4s-%06llu", b->cfg->issuer.prefix,
                 b->opts->period.label, seq);
}

/* Numbers for the produced invoices, in customer order, from the issuer's
   counter: advanced in this transaction, so a rollback returns them. */
static tl_status number_all(PGconn *conn, struct inv__batch *b,
                            struct tl_error *err)
{
        const struct inv_issuer *is = &b->cfg->issuer;
        char year[8], n[24];
        const char *params[3] = {is->id, year, n};
        unsigned long long seq;
        PGresult *r;

        snprintf(year, sizeof year, "%.4s", b->opts->period.label);
        snprintf(n, sizeof n, "%zu", b->produced);
        r = PQexecParams(conn, NUMBER_SQL, 2, NULL, params, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_TUPLES_OK)
                return inv__db_fail(r, "invoice numbers", err);
        PQclear(r);
        r = PQexecParams(conn, ADVANCE_SQL, 3, NULL, params, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
                return inv__db_fail(r, "invoice numbers", err);
        seq = strtoull(PQgetvalue(r, 0, 0), NULL, 10) - b->produced;
        PQclear(r);
        for (size_t i = 0; i < b->cs.count; i++) {
                char num[64];
                struct rate_invoice *inv = b->inv[i];

                if (!inv)
                        continue;
                inv__number_format(b, ++seq, num, sizeof num);
                if (tl_arena_strndup(&inv->arena, num, strlen(num),
                                     (char **)&inv->number, err))
                        return TL_ENOMEM;
                inv->status = "finalized";
                if (!b->first_seq || seq < b->first_seq)
                        b->first_seq = seq;
                if (seq > b->last_seq)
                        b->last_seq = seq;
        }
        return TL_OK;
}

static tl_status dec_add(struct tl_buf *a, const struct tl_dec *d, bool first,
                         struct tl_error *err)
{
        char s[TL_DEC_STR_MAX];

        tl_dec_format(d, s, sizeof s);
        return inv__array_add(a, s, first, err);
}

/* The invoice's cohorts as a JSON object, added to the text[] 'a'. */
static tl_status cohorts_add(struct tl_buf *a, const struct rate_invoice *inv,
                             bool first, struct tl_error *err)
{
        json_t *co = json_object();
        char *s = NULL;
        tl_status rc = TL_OK;

        for (size_t k = 0; co && k < inv->cohort_count; k++)
                if (json_object_set_new(co, inv->cohorts[k].experiment,
                                        json_string(inv->cohorts[k].cohort)))
                        json_decref(co), co = NULL;
        if (!co || !(s = json_dumps(co, JSON_COMPACT | JSON_PRESERVE_ORDER)))
                rc = tl_fail(err, TL_ENOMEM, "out of memory");
        if (!rc)
                rc = inv__array_add(a, s, first, err);
        free(s); /* lint: libc-free: jansson allocated it */
        json_decref(co);
        return rc;
}

/* The batch's documents and rows as the arrays of STORE_SQL. */
static tl_status arrays(struct inv__batch *b, struct tl_buf *a,
                        struct tl_buf *adj, struct tl_error *err)
{
        struct tl_buf doc;
        bool first = true, afirst = true;
        tl_status rc = TL_OK;

        tl_buf_init(&doc, 0);
        for (size_t i = 0; !rc && i < b->cs.count; i++) {
                struct rate_invoice *inv = b->inv[i];
                struct tl_dec base;
                char n[32];

                if (!inv)
                        continue;
                tl_buf_clear(&doc);
                rc = inv__document(b->cfg, &b->u, i,
                                   inv->number ? b->issued : NULL, inv, &doc,
                                   err);
                if (!rc)
                        rc = rate_invoice_base(inv, &base, err);
                if (!rc)
                        rc = inv__array_add(&a[0], inv->customer, first, err);
                if (!rc)
                        rc =
                            inv->number
                                ? inv__array_add(&a[1], inv->number, first, err)
                                : tl_buf_puts(&a[1], first ? "NULL" : ",NULL",
                                              err);
                if (!rc)
                        rc = inv__array_add(&a[2], doc.data, first, err);
                if (!rc)
                        rc = dec_add(&a[3], &inv->total, first, err);
                if (!rc)
                        rc = dec_add(&a[4], &inv->subtotal, first, err);
                if (!rc)
                        rc = dec_add(&a[5], &base, first, err);
                if (!rc)
                        rc = inv__array_add(&a[6], inv->plan->id, first, err);
                /* The cohorts member of the document, as its own column. */
                if (!rc)
                        rc = cohorts_add(&a[7], inv, first, err);
                snprintf(n, sizeof n, "%llu",
                         (unsigned long long)b->u.fingerprint[i]);
                if (!rc)
                        rc = inv__array_add(&a[8], n, first, err);
                if (!rc)
                        rc = dec_add(&a[9], &inv->credit, first, err);
                first = false;
                for (size_t k = 0; !rc && k < b->late.count; k++) {
                        const struct inv__late_item *it = &b->late.items[k];

                        if (it->ci != i)
                                continue;
                        rc =
                            inv__array_add(&adj[0], inv->customer, afirst, err);
                        if (!rc)
                                rc = inv__array_add(&adj[1], it->start, afirst,
                                                    err);
                        if (!rc)
                                rc = dec_add(&adj[2], &it->amount, afirst, err);
                        snprintf(n, sizeof n, "%llu",
                                 (unsigned long long)it->usage_events);
                        if (!rc)
                                rc = inv__array_add(&adj[3], n, afirst, err);
                        afirst = false;
                }
        }
        tl_buf_release(&doc);
        return rc;
}

static tl_status store(PGconn *conn, struct inv__batch *b,
                       struct inv_close_stats *st, struct tl_error *err)
{
        struct tl_buf a[STORE_ARRAYS + ADJ_ARRAYS];
        const char *params[20];
        char asof[24];
        PGresult *r;
        tl_status rc = TL_OK;

        for (int i = 0; i < STORE_ARRAYS + ADJ_ARRAYS; i++) {
                tl_buf_init(&a[i], 0);
                rc = rc ? rc : tl_buf_puts(&a[i], "{", err);
        }
        if (!rc)
                rc = arrays(b, a, a + STORE_ARRAYS, err);
        for (int i = 0; i < STORE_ARRAYS + ADJ_ARRAYS; i++)
                rc = rc ? rc : tl_buf_puts(&a[i], "}", err);
        if (!rc) {
                for (int i = 0; i < STORE_ARRAYS; i++)
                        params[i] = a[i].data;
                params[10] = b->opts->period.start_iso;
                params[11] = b->opts->finalize ? "finalized" : "draft";
                params[12] = b->cat->currency->code;
                params[13] = b->catalog_id;
                params[14] = b->cfg->issuer.id;
                for (int i = 0; i < ADJ_ARRAYS; i++)
                        params[15 + i] = a[STORE_ARRAYS + i].data;
                inv__credit_as_of(b->cfg, &b->opts->period, asof);
                params[19] = asof;
                r = PQexecParams(conn, STORE_SQL, 20, NULL, params, NULL, NULL,
                                 0);
                if (PQresultStatus(r) != PGRES_TUPLES_OK) {
                        rc = inv__db_fail(r, "storing invoices", err);
                } else if (strtoull(PQgetvalue(r, 0, 0), NULL, 10) !=
                           b->produced) {
                        /* A number without its invoice would be a gap. */
                        rc = tl_fail(err, TL_ECONFLICT,
                                     "storing invoices: %s of %zu stored",
                                     PQgetvalue(r, 0, 0), b->produced);
                        PQclear(r);
                } else if (strcmp(PQgetvalue(r, 0, 2), "0")) {
                        /* The credit priced is no longer there to draw
                           (a concurrent draw): nothing is stored. */
                        rc = tl_fail(err, TL_ECONFLICT,
                                     "storing invoices: the credit of %s "
                                     "invoices changed while they were "
                                     "priced",
                                     PQgetvalue(r, 0, 2));
                        PQclear(r);
                } else {
                        st->adjustments +=
                            strtoull(PQgetvalue(r, 0, 1), NULL, 10);
                        PQclear(r);
                }
        }
        for (int i = 0; i < STORE_ARRAYS + ADJ_ARRAYS; i++)
                tl_buf_release(&a[i]);
        return rc;
}

/* Claim the next batch after the run's cursor; 'from' gets the cursor the
   claim started at. */
static tl_status claim(PGconn *conn, struct inv__batch *b, char from[1024],
                       struct tl_error *err)
{
        struct inv__run *run = b->run;
        char limit[24], asof[24];
        const char *params[7] = {from,
                                 b->opts->period.start_iso,
                                 b->opts->period.end_iso,
                                 b->opts->customer,
                                 limit,
                                 asof,
                                 b->currency};
        tl_status rc;

        snprintf(limit, sizeof limit, "%ld", b->cfg->batch);
        inv__credit_as_of(b->cfg, &b->opts->period, asof);
        pthread_mutex_lock(&run->lock);
        snprintf(from, 1024, "%s", run->cursor);
        rc = inv__custs_query(conn, CLAIM_SQL, 7, params, &b->cs, err);
        if (!rc && b->cs.count) {
                snprintf(run->cursor, sizeof run->cursor, "%s",
                         b->cs.items[b->cs.count - 1].id);
                b->ticket = run->next_ticket++;
        }
        pthread_mutex_unlock(&run->lock);
        return rc;
}

/* Wait until the batches claimed before this one have their numbers.
   TL_ECONFLICT when another job failed: the run stops. */
static tl_status turn_take(struct inv__batch *b, struct tl_error *err)
{
        struct inv__run *run = b->run;
        bool failed;

        pthread_mutex_lock(&run->lock);
        while (run->turn != b->ticket && !run->failed)
                pthread_cond_wait(&run->turn_cv, &run->lock);
        failed = run->failed;
        pthread_mutex_unlock(&run->lock);
        return failed ? tl_fail(err, TL_ECONFLICT, "another job failed")
                      : TL_OK;
}

static void turn_pass(struct inv__batch *b)
{
        pthread_mutex_lock(&b->run->lock);
        b->run->turn++;
        pthread_cond_broadcast(&b->run->turn_cv);
        pthread_mutex_unlock(&b->run->lock);
}

tl_status inv__batch_close(PGconn *conn, struct inv__batch *b,
                           struct inv_close_stats *st, bool *done,
                           struct tl_error *err)
{
        char from[1024];
        int64_t t0 = tl_mono_us(), t1, t2;
        bool dropped = false;
        tl_status rc;

        rc = exec_ok(conn, "BEGIN", "BEGIN", err);
        if (!rc)
                rc = claim(conn, b, from, err);
        if (!rc && b->cs.count == 0)
                *done = true;
        if (!rc && !*done)
                rc = recheck(conn, b, &dropped, err);
        if (!rc && dropped) {
                /* Rare: release and claim again from where this claim
                   began; the customers finalized elsewhere no longer
                   qualify, the others are claimed again. */
                batch_release(b);
                pthread_mutex_lock(&b->run->lock);
                snprintf(b->run->cursor, sizeof b->run->cursor, "%s", from);
                pthread_mutex_unlock(&b->run->lock);
                rc = b->opts->finalize ? turn_take(b, err) : TL_OK;
                if (!rc && b->opts->finalize)
                        turn_pass(b);
                return rc ? rc : exec_ok(conn, "ROLLBACK", "ROLLBACK", err);
        }
        if (!rc && !*done)
                rc = inv__usage_read(conn, b->cat, &b->opts->period, &b->cs,
                                     &b->u, err);
        if (!rc && !*done)
                rc = inv__late_find(conn, b->set, &b->cs, &b->opts->period,
                                    &b->late, err);
        t1 = tl_mono_us();
        if (!rc && !*done)
                rc = price_all(b, st, err);
        t2 = tl_mono_us();
        if (!rc && !*done && b->opts->finalize) {
                rc = turn_take(b, err);
                if (!rc && b->produced)
                        rc = number_all(conn, b, err);
                if (!rc)
                        turn_pass(b);
        }
        if (!rc && !*done && b->produced)
                rc = store(conn, b, st, err);
        if (!rc)
                rc = exec_ok(conn, "COMMIT", "COMMIT", err);
        else
                PQclear(PQexec(conn, "ROLLBACK"));
        if (!rc) {
                st->customers += b->cs.count;
                st->rollup_rows += b->u.rollup_rows;
                st->events += b->u.events;
                if (b->opts->finalize)
                        st->finalized += b->produced;
                else
                        st->drafted += b->produced;
                st->ms_read += (t1 - t0) / 1000;
                st->ms_rate += (t2 - t1) / 1000;
                st->ms_store += (tl_mono_us() - t2) / 1000;
        }
        batch_release(b);
        b->produced = 0;
        return rc;
}
