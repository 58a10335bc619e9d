/* A close run: several jobs, each a thread with its own connection
   closing batches (close.c), so the server stores one batch while another
   is read and priced (measured: 1.8x on two cores, docs/benchmarks.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "close.h"
#include "core/alloc.h"

/* One job: a connection and the batches it closes. */
struct job {
        struct inv__batch b;
        PGconn *conn; /* jobs after the first open their own */
        struct inv_close_stats st;
        struct tl_error err;
        tl_status rc;
        pthread_t thread;
};

static bool run_failed(struct inv__run *run)
{
        bool f;

        pthread_mutex_lock(&run->lock);
        f = run->failed;
        pthread_mutex_unlock(&run->lock);
        return f;
}

static void *job_main(void *arg)
{
        struct job *j = arg;
        struct inv__run *run = j->b.run;
        bool done = false;

        while (!j->rc && !done && !run_failed(run)) {
                uint64_t c0 = j->st.customers,
                         p0 = j->st.drafted + j->st.finalized;

                j->rc =
                    inv__batch_close(j->conn, &j->b, &j->st, &done, &j->err);
                if (j->rc || done)
                        break;
                pthread_mutex_lock(&run->lock);
                run->customers += j->st.customers - c0;
                run->produced += j->st.drafted + j->st.finalized - p0;
                if (j->b.opts->progress)
                        fprintf(j->b.opts->progress,
                                "invoice %s: %llu customers, %llu %s\n",
                                j->b.opts->period.label,
                                (unsigned long long)run->customers,
                                (unsigned long long)run->produced,
                                j->b.opts->finalize ? "finalized" : "drafted");
                pthread_mutex_unlock(&run->lock);
        }
        if (j->rc) {
                pthread_mutex_lock(&run->lock);
                if (!run->failed) {
                        run->failed = true;
                        run->rc = j->rc;
                        run->err = j->err;
                }
                pthread_cond_broadcast(&run->turn_cv);
                pthread_mutex_unlock(&run->lock);
        }
        return NULL;
}

/* A connection to the same server, database and user as 'conn'. */
static tl_status connect_like(PGconn *conn, PGconn **out, struct tl_error *err)
{
        PQconninfoOption *info = PQconninfo(conn), *o;
        const char *keys[64], *vals[64];
        size_t n = 0;

        if (!info)
                return tl_fail(err, TL_ENOMEM, "out of memory");
        for (o = info; o->keyword && n + 1 < 64; o++)
                if (o->val && *o->val) {
                        keys[n] = o->keyword;
                        vals[n++] = o->val;
                }
        keys[n] = vals[n] = NULL;
        *out = PQconnectdbParams(keys, vals, 0);
        PQconninfoFree(info);
        if (PQstatus(*out) != CONNECTION_OK) {
                const char *m = PQerrorMessage(*out);
                int len = (int)strcspn(m, "\n");

                tl_fail(err, TL_EDB, "a close job cannot connect: %.*s", len,
                        m);
                PQfinish(*out);
                *out = NULL;
                return TL_EDB;
        }
        return TL_OK;
}

static void stats_add(struct inv_close_stats *t,
                      const struct inv_close_stats *s)
{
        t->customers += s->customers;
        t->drafted += s->drafted;
        t->finalized += s->finalized;
        t->skipped += s->skipped;
        t->failed += s->failed;
        t->adjustments += s->adjustments;
        t->rollup_rows += s->rollup_rows;
        t->events += s->events;
        t->ms_read += s->ms_read;
        t->ms_rate += s->ms_rate;
        t->ms_store += s->ms_store;
}

/* Run 'n' jobs over 'tmpl' (the first on 'conn') and merge their stats. */
static tl_status run_jobs(PGconn *conn, const struct inv__batch *tmpl, long n,
                          struct inv_close_stats *st, struct tl_error *err)
{
        struct inv__run run;
        struct job *jobs = tl_calloc((size_t)n, sizeof *jobs);
        unsigned long long first = 0, last = 0;
        long started = 0;
        tl_status rc = TL_OK;

        if (!jobs)
                return tl_fail(err, TL_ENOMEM, "out of memory");
        memset(&run, 0, sizeof run);
        pthread_mutex_init(&run.lock, NULL);
        pthread_cond_init(&run.turn_cv, NULL);
        for (long i = 0; i < n; i++) {
                struct tl_error e = {0};

                jobs[i].b = *tmpl;
                jobs[i].b.run = &run;
                jobs[i].conn = conn;
                if (i > 0 && connect_like(conn, &jobs[i].conn, &e)) {
                        /* Fewer jobs only cost time: say so and go on. */
                        fprintf(tmpl->opts->progress ? tmpl->opts->progress
                                                     : stderr,
                                "tally invoice: %s; going on with %ld "
                                "job(s)\n",
                                e.msg, i);
                        n = i;
                        break;
                }
        }
        /* Job 0 runs here; the others in threads. */
        for (long i = 1; !rc && i < n; i++) {
                if (pthread_create(&jobs[i].thread, NULL, job_main, &jobs[i])) {
                        rc = tl_fail(err, TL_ENOMEM,
                                     "close: cannot start job %ld", i);
                        pthread_mutex_lock(&run.lock);
                        run.failed = true;
                        pthread_cond_broadcast(&run.turn_cv);
                        pthread_mutex_unlock(&run.lock);
                        break;
                }
                started++;
        }
        if (!rc)
                job_main(&jobs[0]);
        for (long i = 1; i <= started; i++)
                pthread_join(jobs[i].thread, NULL);
        for (long i = 0; i < n; i++) {
                stats_add(st, &jobs[i].st);
                if (jobs[i].b.first_seq &&
                    (!first || jobs[i].b.first_seq < first))
                        first = jobs[i].b.first_seq;
                if (jobs[i].b.last_seq > last)
                        last = jobs[i].b.last_seq;
                if (i > 0)
                        PQfinish(jobs[i].conn);
        }
        if (first) {
                /* Runs of later currencies number after earlier ones. */
                if (!st->first_number[0])
                        inv__number_format(tmpl, first, st->first_number,
                                           sizeof st->first_number);
                inv__number_format(tmpl, last, st->last_number,
                                   sizeof st->last_number);
        }
        if (!rc && run.failed) {
                rc = run.rc;
                *err = run.err;
        }
        pthread_cond_destroy(&run.turn_cv);
        pthread_mutex_destroy(&run.lock);
        tl_free(jobs);
        return rc;
}

/* The first day 'p' may be finalized: its end plus the grace days. */
static int64_t finalize_from(const struct inv_config *cfg,
                             const struct rate_period *p)
{
        return p->end_day + cfg->grace_days;
}

static void day_iso(int64_t day, char out[16])
{
        int64_t y;
        unsigned m, d;

        tl_civil_from_days(day, &y, &m, &d);
        snprintf(out, 16, "%04lld-%02u-%02u", (long long)y, m, d);
}

/* Jobs for this run: the configured number, or one per CPU (at most 8);
   one for a single customer. */
static long job_count(const struct inv_config *cfg,
                      const struct inv_close_opts *opts)
{
        long n = cfg->jobs;

        if (opts->customer)
                return 1;
        if (n <= 0) {
                n = sysconf(_SC_NPROCESSORS_ONLN);
                n = n < 1 ? 1 : n > 8 ? 8 : n;
        }
        return n;
}

/* The currencies of the customers the period bills ("" for those without
   one, first), and the customers of one currency the close would claim. */
static const char CURRENCIES_SQL[] =
    "SELECT DISTINCT coalesce(c.currency, '') FROM customers c"
    " WHERE c.sub_start < $2::date AND (c.sub_end IS NULL OR c.sub_end >"
    " $1::date) AND ($3::text IS NULL OR c.customer_id = $3) ORDER BY 1";
static const char IN_CURRENCY_SQL[] =
    "SELECT c.customer_id FROM customers c"
    " WHERE c.sub_start < $2::date AND (c.sub_end IS NULL OR c.sub_end >"
    " $1::date) AND ($3::text IS NULL OR c.customer_id = $3)"
    " AND c.currency = $4 AND NOT EXISTS (SELECT 1 FROM invoices i"
    " WHERE i.customer_id = c.customer_id AND i.period_start = $1::date"
    " AND i.payment_status <> 'void' AND i.status = 'finalized')"
    " ORDER BY 1";

/* Customers in currency 'code' that has no catalog in force: each named
   and counted as failed, never priced in another currency. */
static tl_status report_uncataloged(PGconn *conn, const struct inv_config *cfg,
                                    const struct inv_close_opts *opts,
                                    const char *code,
                                    struct inv_close_stats *st,
                                    struct tl_error *err)
{
        const struct rate_currency *cur = rate_currency_find(code, 3);
        const char *params[4] = {opts->period.start_iso, opts->period.end_iso,
                                 opts->customer, code};
        PGresult *r = sch_db_exec(conn, IN_CURRENCY_SQL, 4, params, 0);

        if (PQresultStatus(r) != PGRES_TUPLES_OK)
                return inv__db_fail(r, "reading customers", err);
        for (int i = 0; cur && i < PQntuples(r); i++) {
                struct tl_error e = {0};

                inv__no_catalog_in(cfg->rules, PQgetvalue(r, i, 0), cur,
                                   &opts->period, &e);
                fprintf(opts->progress ? opts->progress : stderr,
                        "tally invoice: %s: not produced: %s\n",
                        PQgetvalue(r, i, 0), e.msg);
                st->failed++;
        }
        PQclear(r);
        return TL_OK;
}

/* Close the customers of each currency with the catalog in force in it,
   one run after another (numbers follow in currency order). */
static tl_status close_currencies(PGconn *conn, struct inv__batch *b,
                                  const struct inv_close_opts *opts,
                                  struct inv_close_stats *st,
                                  struct tl_error *err)
{
        const char *params[3] = {opts->period.start_iso, opts->period.end_iso,
                                 opts->customer};
        PGresult *r = sch_db_exec(conn, CURRENCIES_SQL, 3, params, 0);
        int n;
        tl_status rc = TL_OK;

        if (PQresultStatus(r) != PGRES_TUPLES_OK)
                return inv__db_fail(r, "reading customers' currencies", err);
        n = PQntuples(r);
        for (int i = 0; !rc && i < (n ? n : 1); i++) {
                const char *code = n ? PQgetvalue(r, i, 0) : "";
                const struct rate_currency *cur =
                    *code ? rate_currency_find(code, 3) : NULL;
                char catalog_id[24] = "";

                b->currency = code;
                b->cat = rate_catalog_set_pick_in(b->set,
                                                  opts->period.start_day, cur);
                if (!b->cat && cur) {
                        rc = report_uncataloged(conn, b->cfg, opts, code, st,
                                                err);
                        continue;
                }
                if (!b->cat) {
                        rc = tl_fail(err, TL_EINVAL,
                                     "%s: no catalog in force for %s (none "
                                     "has effective_from on or before %s)",
                                     b->cfg->rules, opts->period.label,
                                     opts->period.start_iso);
                        break;
                }
                rc = inv__store_catalogs(conn, b->set, b->cat, catalog_id, err);
                b->catalog_id = catalog_id;
                if (!rc)
                        rc =
                            run_jobs(conn, b, job_count(b->cfg, opts), st, err);
        }
        PQclear(r);
        return rc;
}

tl_status inv_close(PGconn *conn, const struct inv_config *cfg,
                    const struct inv_close_opts *opts,
                    struct inv_close_stats *st, struct tl_error *err)
{
        struct rate_catalog_set *set = NULL;
        struct inv__batch b;
        tl_time_us now = cfg->now_us ? cfg->now_us : tl_time_now_us();
        int64_t today = now / TL_US_PER_DAY, t0 = tl_mono_us();
        tl_status rc;

        memset(st, 0, sizeof *st);
        memset(&b, 0, sizeof b);
        if (opts->finalize && today < finalize_from(cfg, &opts->period)) {
                char from[16];

                day_iso(finalize_from(cfg, &opts->period), from);
                return tl_fail(err, TL_EUSAGE,
                               "period %s cannot be finalized before %s "
                               "(it ends %s; grace period %ld days)",
                               opts->period.label, from, opts->period.end_iso,
                               cfg->grace_days);
        }
        rc = inv__load_rules(cfg->rules, &set, err);
        if (rc)
                return rc;
        b.cfg = cfg;
        b.opts = opts;
        b.set = set;
        day_iso(today, b.issued);
        rc = close_currencies(conn, &b, opts, st, err);
        st->ms_total = (tl_mono_us() - t0) / 1000;
        rate_catalog_set_free(&set);
        if (!rc && st->failed)
                rc =
                    tl_fail(err, TL_EINVAL,
                            "%llu invoice(s) of %s could not be produced "
                            "(reported above)",
                            (unsigned long long)st->failed, opts->period.label);
        return rc;
}
