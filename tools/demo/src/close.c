/* The end of the demo's month: finalize, write the invoices, reconcile
   what the meter counted with what was produced, re-rate the produced
   events offline with `tally rate` and compare, then let the late devices
   sync and show their usage as adjustments on the next period's drafts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "core/alloc.h"
#include "core/str.h"
#include "demo/demo.h"
#include "invoicing/invoicing.h"
#include "invoicing/render.h"
#include "schemas/db.h"
#include "summary.h"

struct ingest {
        long long consumed, stored, duplicates, dead;
};

static tl_status read_ingest(PGconn *c, struct ingest *in, struct tl_error *err)
{
        PGresult *r = PQexec(
            c, "SELECT coalesce(sum(consumed), 0),"
               " coalesce(sum(stored), 0),"
               " coalesce(sum(duplicates), 0),"
               " coalesce(sum(dead_lettered), 0)"
               " FROM ingest_counts WHERE consumer_group = '" DEMO_GROUP "'");
        tl_status rc = TL_OK;

        if (PQresultStatus(r) != PGRES_TUPLES_OK)
                rc = tl_fail(err, TL_EDB, "ingest_counts: %s",
                             PQresultErrorMessage(r));
        else
                *in = (struct ingest){
                    atoll(PQgetvalue(r, 0, 0)), atoll(PQgetvalue(r, 0, 1)),
                    atoll(PQgetvalue(r, 0, 2)), atoll(PQgetvalue(r, 0, 3))};
        PQclear(r);
        return rc;
}

tl_status demo_wait_ingested(const struct demo_env *env, uint64_t units,
                             int timeout_s, struct tl_error *err)
{
        struct ingest in = {0};
        PGconn *c = NULL;
        tl_status rc = sch_db_connect(&c, err);

        for (int i = 0; !rc && i < timeout_s * 10; i++) {
                struct timespec ts = {0, 100000000L};

                if ((rc = read_ingest(c, &in, err)))
                        break;
                if (in.consumed >= (long long)units)
                        break;
                nanosleep(&ts, NULL);
        }
        PQfinish(c);
        if (!rc && in.consumed < (long long)units)
                rc = tl_fail(err, TL_EIO,
                             "the meter accounted for %lld of %llu units "
                             "in %d s (see %s/meter.log)",
                             in.consumed, (unsigned long long)units, timeout_s,
                             env->dir);
        return rc;
}

/* ---- offline re-rating ---- */

/* `tally rate` as a user would run it, its JSON parsed. */
static tl_status rate_offline(const struct demo_opts *o,
                              const struct demo_env *env, json_t **out,
                              struct tl_error *err)
{
        char cmd[3000];
        struct tl_buf b;
        char chunk[65536];
        json_error_t je;
        FILE *p;
        size_t n;
        int status;

        snprintf(cmd, sizeof cmd,
                 "'%s' rate --rules '%s/rules' --customers '%s/customers.yaml' "
                 "--events '%s/events.jsonl' --period %s --format json "
                 "2>'%s/rate.log'",
                 demo_self_exe(), env->dir, env->dir, env->dir, o->period.label,
                 env->dir);
        p = popen(cmd, "r");
        if (!p)
                return tl_fail(err, TL_EIO, "cannot run tally rate");
        tl_buf_init(&b, 0);
        while ((n = fread(chunk, 1, sizeof chunk, p)) > 0)
                if (tl_buf_append(&b, chunk, n, err))
                        break;
        status = pclose(p);
        if (status != 0) {
                tl_buf_release(&b);
                return tl_fail(err, TL_EIO, "tally rate failed (status %d): %s",
                               status, cmd);
        }
        *out = json_loadb(b.data ? b.data : "", b.len, 0, &je);
        tl_buf_release(&b);
        if (!*out || !json_is_array(*out))
                return tl_fail(err, TL_EPARSE,
                               "tally rate: not a JSON array: "
                               "%s",
                               je.text);
        return TL_OK;
}

static const char *str_of(json_t *o, const char *key)
{
        const char *s = json_string_value(json_object_get(o, key));

        return s ? s : "?";
}

/* Every money field of the offline draft equals the finalized invoice. */
static bool same_amounts(json_t *a, json_t *b)
{
        static const char *const KEYS[] = {"subtotal", "credit", "tax",
                                           "total"};
        json_t *la = json_object_get(a, "lines"),
               *lb = json_object_get(b, "lines");

        for (size_t k = 0; k < 4; k++)
                if (strcmp(str_of(a, KEYS[k]), str_of(b, KEYS[k])))
                        return false;
        if (json_array_size(la) != json_array_size(lb))
                return false;
        for (size_t i = 0; i < json_array_size(la); i++)
                if (strcmp(str_of(json_array_get(la, i), "amount"),
                           str_of(json_array_get(lb, i), "amount")))
                        return false;
        return true;
}

/* Run 'sql' with up to two text parameters (NULL: fewer). */
static PGresult *query(PGconn *c, const char *sql, const char *p1,
                       const char *p2, struct tl_error *err)
{
        const char *params[2] = {p1, p2};
        PGresult *r = PQexecParams(c, sql,
                                   p2   ? 2
                                   : p1 ? 1
                                        : 0,
                                   NULL, params, NULL, NULL, 0);

        if (PQresultStatus(r) == PGRES_TUPLES_OK)
                return r;
        tl_fail(err, TL_EDB, "%s", PQresultErrorMessage(r));
        PQclear(r);
        return NULL;
}

/* '*equal' of '*total' invoices match, '*total' being the larger of the
   stored and the offline counts: a missing or extra invoice never passes. */
static tl_status compare_offline(PGconn *c, const struct demo_opts *o,
                                 const struct demo_env *env, size_t *equal,
                                 size_t *total, struct tl_error *err)
{
        json_t *offline = NULL;
        PGresult *r;
        size_t n;
        tl_status rc = rate_offline(o, env, &offline, err);

        if (rc)
                return rc;
        r = query(c,
                  "SELECT customer_id, body FROM invoices"
                  " WHERE period_start = $1::date"
                  " AND payment_status <> 'void'",
                  o->period.start_iso, NULL, err);
        if (!r) {
                json_decref(offline);
                return TL_EDB;
        }
        n = json_array_size(offline);
        *equal = 0;
        *total = n > (size_t)PQntuples(r) ? n : (size_t)PQntuples(r);
        for (int i = 0; i < PQntuples(r); i++) {
                const char *id = PQgetvalue(r, i, 0);
                json_t *doc = json_loads(PQgetvalue(r, i, 1), 0, NULL);
                json_t *mine = NULL;

                for (size_t k = 0; k < n && !mine; k++)
                        if (!strcmp(
                                str_of(json_array_get(offline, k), "customer"),
                                id))
                                mine = json_array_get(offline, k);
                if (doc && mine && same_amounts(doc, mine))
                        ++*equal;
                else
                        fprintf(stderr,
                                "tally demo: %s: the invoice differs "
                                "from tally rate's\n",
                                id);
                json_decref(doc);
        }
        if ((size_t)PQntuples(r) != n)
                fprintf(stderr,
                        "tally demo: %d invoices stored, tally rate "
                        "priced %zu\n",
                        PQntuples(r), n);
        PQclear(r);
        json_decref(offline);
        return TL_OK;
}

/* ---- the summary ---- */

static tl_status print_invoices(PGconn *c, const struct demo_opts *o,
                                const struct demo_env *env,
                                struct tl_error *err)
{
        static const char SQL[] =
            "SELECT i.customer_id, cu.name, i.plan,"
            " coalesce((SELECT string_agg(value, ',') FROM"
            "   jsonb_each_text(i.cohorts)), '-'),"
            " coalesce(i.number, 'draft'), round(i.total, 2)::text,"
            " coalesce((SELECT sum((s->>'cloud_equivalent')::numeric)"
            "   FROM json_array_elements(i.body->'savings') s), 0)::text"
            " FROM invoices i JOIN customers cu USING (customer_id)"
            " WHERE i.period_start = $1::date"
            " ORDER BY i.customer_id COLLATE \"C\"";
        static const char TOTAL_SQL[] =
            "SELECT count(*), round(coalesce(sum(total), 0), 2)::text,"
            " min(number), max(number) FROM invoices"
            " WHERE period_start = $1::date";
        PGresult *r = query(c, SQL, o->period.start_iso, NULL, err);
        int n, shown;

        if (!r)
                return TL_EDB;
        n = PQntuples(r);
        shown = n > 25 ? 20 : n;
        printf("\n  %-10s %-22s %-17s %-8s %-16s %10s %10s\n", "customer",
               "name", "plan", "cohort", "invoice", "total $", "savings $");
        for (int i = 0; i < shown; i++)
                printf("  %-10s %-22.22s %-17s %-8s %-16s %10s %10s\n",
                       PQgetvalue(r, i, 0), PQgetvalue(r, i, 1),
                       PQgetvalue(r, i, 2), PQgetvalue(r, i, 3),
                       PQgetvalue(r, i, 4), PQgetvalue(r, i, 5),
                       PQgetvalue(r, i, 6));
        if (shown < n)
                printf("  ... and %d more (all of them in %s/invoices/"
                       "invoices-%s.csv)\n",
                       n - shown, env->dir, o->period.label);
        PQclear(r);
        if (!(r = query(c, TOTAL_SQL, o->period.start_iso, NULL, err)))
                return TL_EDB;
        printf("  %s invoices, %s .. %s, revenue $%s\n", PQgetvalue(r, 0, 0),
               PQgetvalue(r, 0, 2), PQgetvalue(r, 0, 3), PQgetvalue(r, 0, 1));
        printf("  PDF and JSON: %s/invoices/%s.pdf (and .json), ...\n",
               env->dir, PQgetvalue(r, 0, 2));
        PQclear(r);
        return TL_OK;
}

/* 1234567 -> "1,234,567"; twelve rotating buffers, for one printf. */
static const char *grouped(uint64_t v)
{
        static char bufs[12][32];
        static int next;
        char digits[24], *out = bufs[next++ % 12];
        int n = snprintf(digits, sizeof digits, "%llu", (unsigned long long)v);
        int j = 0;

        for (int i = 0; i < n; i++) {
                if (i && (n - i) % 3 == 0)
                        out[j++] = ',';
                out[j++] = digits[i];
        }
        out[j] = '\0';
        return out;
}

static tl_status print_usage(PGconn *c, const struct demo_opts *o,
                             const struct demo_counts *n, struct tl_error *err)
{
        static const char SAVINGS_SQL[] =
            "SELECT coalesce(sum((s->>'cloud_equivalent')::numeric), 0)"
            "::text FROM invoices i, json_array_elements(i.body->'savings')"
            " s WHERE i.period_start = $1::date"
            " AND i.payment_status <> 'void'";
        PGresult *r = query(c, SAVINGS_SQL, o->period.start_iso, NULL, err);

        if (!r)
                return TL_EDB;
        printf("\nUsage, cloud vs on-device (counted by the engine)\n"
               "  cloud:     %s output tokens from %s requests (%s "
               "autoregressive, %s diffusion with %s denoising steps), %s "
               "multiply-accumulates\n"
               "  on device: %s output tokens from %s requests, %s seat "
               "events\n"
               "  savings:   on-device answers would have cost $%s in the "
               "cloud (shown on each invoice, not charged)\n",
               grouped(n->cloud_out_tokens),
               grouped(n->ar_requests + n->diffusion_requests),
               grouped(n->ar_requests), grouped(n->diffusion_requests),
               grouped(n->steps), grouped(n->macs),
               grouped(n->local_out_tokens), grouped(n->device_requests),
               grouped(n->seat_events), PQgetvalue(r, 0, 0));
        PQclear(r);
        return TL_OK;
}

/* Produced vs accounted: every unit stored, duplicate or dead-lettered. */
static bool reconcile(const struct ingest *in, uint64_t unique,
                      uint64_t replays, uint64_t malformed, const char *when)
{
        uint64_t produced = unique + replays + malformed;
        bool ok = (uint64_t)in->consumed == produced &&
                  (uint64_t)in->stored == unique &&
                  (uint64_t)in->duplicates == replays &&
                  (uint64_t)in->dead == malformed;

        printf("  %s: produced %s = %s distinct + %s replayed + %s "
               "malformed\n"
               "  %*s  meter:    %s = %s stored + %s duplicates + %s dead "
               "letters  %s\n",
               when, grouped(produced), grouped(unique), grouped(replays),
               grouped(malformed), (int)strlen(when), "",
               grouped((uint64_t)in->consumed), grouped((uint64_t)in->stored),
               grouped((uint64_t)in->duplicates), grouped((uint64_t)in->dead),
               ok ? "[reconciled]" : "[MISMATCH]");
        return ok;
}

static void set_issuer(struct inv_config *cfg, const struct demo_env *env)
{
        char rules[600];

        tl_free(cfg->issuer.name);
        cfg->issuer.name = tl_strdup("Tally Demo Cloud");
        cfg->issuer.email = tl_strdup("billing@tally-demo.invalid");
        cfg->issuer.address[0] = tl_strdup("1 Harbor Street");
        cfg->issuer.address[1] = tl_strdup("Springfield");
        cfg->issuer.address_count = 2;
        cfg->rules = tl_strdup(demo_path(env, "rules", rules, sizeof rules));
}

static tl_status close_period(PGconn *c, struct inv_config *cfg,
                              const struct rate_period *p, bool finalize,
                              const char *dir, struct tl_error *err)
{
        struct inv_close_opts co = {.period = *p, .finalize = finalize};
        struct inv_close_stats st;
        uint64_t written = 0;
        tl_status rc = inv_close(c, cfg, &co, &st, err);

        if (!rc)
                rc = inv_write_files(c, p, NULL, dir, &written, err);
        if (!rc)
                printf("  %s %s: %llu invoices %s in %lld ms, written to %s\n",
                       finalize ? "closed" : "drafted", p->label,
                       (unsigned long long)written,
                       finalize ? "finalized" : "drafted",
                       (long long)st.ms_total, dir);
        return rc;
}

/* A picture of the first invoice's page, to look at without a PDF
   viewer (the README shows one). */
static tl_status preview(PGconn *c, const struct rate_period *p,
                         const char *dir, char *path, size_t size,
                         struct tl_error *err)
{
        PGresult *r = query(c,
                            "SELECT number, body FROM invoices"
                            " WHERE period_start = $1::date"
                            " AND number IS NOT NULL ORDER BY number LIMIT 1",
                            p->start_iso, NULL, err);
        json_t *doc;
        tl_status rc = TL_OK;

        if (!r)
                return TL_EDB;
        if (PQntuples(r) == 1) {
                snprintf(path, size, "%s/%s.png", dir, PQgetvalue(r, 0, 0));
                doc = json_loads(PQgetvalue(r, 0, 1), 0, NULL);
                rc = doc ? inv_render_png(doc, path, err)
                         : tl_fail(err, TL_EPARSE, "invoice body");
                json_decref(doc);
        }
        PQclear(r);
        return rc;
}

/* Each customer with events of the finalized period stored after its
   invoice was finalized, and what the next draft makes of them. */
static tl_status print_late(PGconn *c, const struct rate_period *p,
                            const struct rate_period *next,
                            struct tl_error *err)
{
        static const char SQL[] =
            "WITH late AS (SELECT e.customer_id, count(*) AS n"
            "  FROM events e JOIN invoices i ON i.customer_id ="
            "  e.customer_id AND i.period_start = $1::date"
            "  AND i.payment_status <> 'void'"
            "  WHERE e.event_time >= ($1 || ' 00:00:00+00')::timestamptz"
            "  AND e.event_time < ($2 || ' 00:00:00+00')::timestamptz"
            "  AND e.ingested_at > i.finalized_at GROUP BY 1)"
            " SELECT l.customer_id, l.n, coalesce((SELECT"
            "  string_agg(x->>'amount', ', ') FROM invoices j,"
            "  json_array_elements(j.body->'lines') x"
            "  WHERE j.customer_id = l.customer_id"
            "  AND j.payment_status <> 'void'"
            "  AND j.period_start = $2::date"
            "  AND x->>'kind' = 'adjustment'), '')"
            " FROM late l ORDER BY l.customer_id COLLATE \"C\"";
        PGresult *r = query(c, SQL, p->start_iso, next->start_iso, err);

        if (!r)
                return TL_EDB;
        for (int i = 0; i < PQntuples(r); i++) {
                if (*PQgetvalue(r, i, 2))
                        printf("    %s: %s late events -> adjustment line of "
                               "$%s for %s on the %s draft\n",
                               PQgetvalue(r, i, 0), PQgetvalue(r, i, 1),
                               PQgetvalue(r, i, 2), p->label, next->label);
                else
                        printf("    %s: %s late events -> no adjustment: "
                               "re-rated with them, %s's amount does not "
                               "change\n",
                               PQgetvalue(r, i, 0), PQgetvalue(r, i, 1),
                               p->label);
        }
        if (PQntuples(r) == 0)
                printf("    no late usage\n");
        PQclear(r);
        return TL_OK;
}

tl_status demo_close(const struct demo_opts *o, struct demo_env *env,
                     struct demo_month *m, struct tl_error *err)
{
        const struct demo_counts *n = demo_month_counts(m);
        struct inv_config cfg;
        struct ingest in;
        struct rate_period next;
        PGconn *c = NULL;
        char dir[600], label[8], png[700];
        size_t equal = 0, total = 0;
        bool ok;
        tl_status rc;

        inv_config_init(&cfg);
        set_issuer(&cfg, env);
        /* The close runs "as of" the end of the grace period at the
           earliest, so that the month can be finalized whatever today is. */
        cfg.now_us = o->period.end_us + (cfg.grace_days + 1) * TL_US_PER_DAY;
        if (cfg.now_us < tl_time_now_us())
                cfg.now_us = tl_time_now_us();
        snprintf(label, sizeof label, "%.7s", o->period.end_iso);
        rc = rate_period_parse(label, &next, err);
        if (!rc)
                rc = sch_db_connect(&c, err);
        printf("\n== The close\n");
        if (!rc)
                rc = close_period(c, &cfg, &o->period, true,
                                  demo_path(env, "invoices", dir, sizeof dir),
                                  err);
        if (!rc)
                rc = print_invoices(c, o, env, err);
        if (!rc)
                rc = preview(c, &o->period, dir, png, sizeof png, err);
        if (!rc)
                printf("  a picture of the first page: %s\n", png);
        if (!rc)
                rc = demo__print_segments(c, o, err);
        if (!rc)
                rc = demo__corrections(c, o, env, &cfg, dir, err);
        if (!rc) {
                struct tl_buf rep;

                tl_buf_init(&rep, 0);
                rc = inv_report(c, &o->period, &rep, err);
                if (!rc)
                        printf("\n%.*s", (int)rep.len, rep.data);
                tl_buf_release(&rep);
        }
        if (!rc)
                rc = print_usage(c, o, n, err);
        ok = true;
        if (!rc)
                rc = demo__print_outcomes(c, o, n, &ok, err);
        if (!rc)
                rc = demo__print_capacity(c, o, err);
        if (!rc) {
                printf("\nEvents, produced vs accounted for by the meter\n");
                rc = read_ingest(c, &in, err);
        }
        ok = !rc &&
             reconcile(&in, n->unique_events, n->replays, n->malformed,
                       "at the close") &&
             ok;
        if (!rc)
                rc = compare_offline(c, o, env, &equal, &total, err);
        if (!rc) {
                printf("\nOffline check: `tally rate` on %s/events.jsonl "
                       "priced %zu invoices; %zu of them equal the finalized "
                       "ones to the cent, line by line  %s\n",
                       env->dir, total, equal,
                       equal == total ? "[equal]" : "[DIFFERENT]");
                ok = ok && equal == total;
        }
        if (!rc) {
                printf("\n== After the close: %llu late device spool(s) "
                       "sync\n",
                       (unsigned long long)n->device_spools_pending);
                rc = demo_month_late(m, err);
        }
        if (!rc)
                rc = demo_wait_ingested(env,
                                        n->unique_events + n->replays +
                                            n->malformed + n->late_events,
                                        120, err);
        if (!rc)
                rc = read_ingest(c, &in, err);
        if (!rc)
                ok = reconcile(&in, n->unique_events + n->late_events,
                               n->replays, n->malformed, "with late events") &&
                     ok;
        if (!rc)
                rc = close_period(
                    c, &cfg, &next, false,
                    demo_path(env, "invoices/next", dir, sizeof dir), err);
        if (!rc) {
                printf("  %llu late events for %s (its invoices stay as "
                       "finalized):\n",
                       (unsigned long long)n->late_events, o->period.label);
                rc = print_late(c, &o->period, &next, err);
        }
        PQfinish(c);
        inv_config_release(&cfg);
        if (!rc && !ok)
                rc = tl_fail(err, TL_EINTERNAL,
                             "the demo's checks failed (see above)");
        return rc;
}
