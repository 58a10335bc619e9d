/* The live usage API. It reads the customer's stored events (exact for
   every meter kind: sums, max, latest, unique counts, seats) and prices
   them with the very code `tally rate` uses, against one snapshot of the
   hot-reloaded catalog set. */
#include "usage.h"

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/log.h"
#include "core/time.h"
#include "rating/customers.h"
#include "rating/invoice.h"
#include "rating/reload.h"
#include "rating/usage.h"
#include "schemas/db.h"
#include "schemas/db_events.h"

struct meter_usage {
        struct rate_reloader *rl;
        struct rate_customers *cs;
        pthread_mutex_t lock; /* the connection */
        PGconn *conn;
};

/* Seat events before the period count too: a device activated earlier is
   active in it. */
static const char EVENTS_SQL[] =
    "SELECT " SCH_DB_EVENT_COLUMNS
    " FROM events e LEFT JOIN LATERAL jsonb_each_text(e.dims) d ON true"
    " WHERE e.customer_id = $1 AND e.event_time < $3::timestamptz"
    " AND (e.event_time >= $2::timestamptz OR e.type = 4)"
    " ORDER BY e.customer_id, e.source, e.event_id, d.key COLLATE \"C\"";

tl_status meter__usage_new(const char *rules, const char *customers,
                           struct meter_usage **out, struct tl_error *err)
{
        struct meter_usage *u;
        tl_status rc;

        if (!customers)
                return tl_fail(err, TL_EUSAGE,
                               "meter.rules needs meter.customers (the "
                               "customers file the usage API prices for)");
        u = tl_calloc(1, sizeof *u);
        if (!u)
                return tl_fail(err, TL_ENOMEM, "meter: out of memory");
        pthread_mutex_init(&u->lock, NULL);
        rc = rate_customers_load_file(customers, &u->cs, NULL, err);
        if (!rc)
                rc = rate_reloader_new(rules, 0, &u->rl, NULL, err);
        if (rc) {
                meter__usage_free(&u);
                return rc;
        }
        *out = u;
        return TL_OK;
}

void meter__usage_free(struct meter_usage **pp)
{
        struct meter_usage *u = *pp;

        if (!u)
                return;
        rate_reloader_free(&u->rl);
        rate_customers_free(&u->cs);
        if (u->conn)
                PQfinish(u->conn);
        pthread_mutex_destroy(&u->lock);
        tl_free(u);
        *pp = NULL;
}

void meter__usage_reload(struct meter_usage *u)
{
        if (u)
                rate_reloader_request(u->rl);
}

unsigned long long meter__usage_generation(const struct meter_usage *u)
{
        return u ? rate_reloader_generation(u->rl) : 0;
}

/* 'j' (taken, also on failure) as the body, a JSON text and a newline. */
static bool put_json(struct tl_buf *body, json_t *j)
{
        char *text =
            j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
        bool ok = text && !tl_buf_puts(body, text, NULL) &&
                  !tl_buf_puts(body, "\n", NULL);

        free(text); /* lint: libc-free: jansson allocated it */
        json_decref(j);
        return ok;
}

static unsigned fail(struct tl_buf *body, unsigned status, const char *msg)
{
        tl_buf_clear(body);
        /* A message that is not UTF-8 (bytes of a request) cannot be a JSON
           string: the status alone must then say it. */
        if (!put_json(body, json_pack("{s:s}", "error", msg))) {
                tl_buf_clear(body);
                tl_buf_puts(body, "{\"error\":\"unprintable error\"}\n", NULL);
        }
        return status;
}

/* The customer's events of the period into 'acc'. */
static tl_status fold_events(struct meter_usage *u, const char *id,
                             const struct rate_period *p, struct rate_acc *acc,
                             struct tl_error *err)
{
        char from[40], to[40];
        const char *params[3] = {id, from, to};
        PGresult *r;
        tl_status rc = TL_OK;

        snprintf(from, sizeof from, "%s 00:00:00+00", p->start_iso);
        snprintf(to, sizeof to, "%s 00:00:00+00", p->end_iso);
        pthread_mutex_lock(&u->lock);
        if (!u->conn || PQstatus(u->conn) != CONNECTION_OK) {
                if (u->conn)
                        PQfinish(u->conn);
                u->conn = NULL;
                rc = sch_db_connect(&u->conn, err);
        }
        if (rc) {
                pthread_mutex_unlock(&u->lock);
                return rc;
        }
        r = PQexecParams(u->conn, EVENTS_SQL, 3, NULL, params, NULL, NULL, 0);
        pthread_mutex_unlock(&u->lock);
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
                rc = tl_fail(err, TL_EDB, "usage query: %s",
                             PQresultErrorMessage(r));
                PQclear(r);
                return rc;
        }
        for (int row = 0; !rc && row < PQntuples(r);) {
                struct sch_event ev;
                sch_db_row_event(r, &row, &ev);
                rc = rate_acc_add(acc, &ev, err);
        }
        PQclear(r);
        return rc;
}

/*
** The answer: the customer, period, time and catalog generation around
** the draft invoice 'draft_json' (rating's JSON text), all through one
** encoder, so an id holding quotes, backslashes or control bytes stays a
** string of a valid document.
*/
static tl_status envelope(struct meter_usage *u,
                          const struct rate_customer *cust,
                          const struct rate_period *p, const char *draft_json,
                          struct tl_buf *body, struct tl_error *err)
{
        json_error_t je;
        json_t *draft = json_loads(draft_json, 0, &je), *env;
        char now[40];

        if (!draft)
                return tl_fail(err, TL_EINTERNAL,
                               "usage: the draft invoice is not JSON: %s",
                               je.text);
        tl_time_format_rfc3339(tl_time_now_us(), now, sizeof now);
        env = json_pack("{s:s%,s:s,s:s,s:I,s:o}", "customer_id", cust->id,
                        (size_t)cust->id_len, "period", p->label, "as_of", now,
                        "catalog_generation",
                        (json_int_t)rate_reloader_generation(u->rl), "draft",
                        draft);
        if (!env)
                return tl_fail(err, TL_EINVAL,
                               "usage: customer id is not UTF-8");
        tl_buf_clear(body);
        if (!put_json(body, env))
                return tl_fail(err, TL_ENOMEM, "usage: out of memory");
        return TL_OK;
}

static unsigned price(struct meter_usage *u, const struct rate_customer *cust,
                      const struct rate_period *p, struct tl_buf *body)
{
        const struct rate_catalog_set *set = rate_reloader_acquire(u->rl);
        const struct rate_catalog *cat =
            rate_catalog_set_pick(set, p->start_day);
        struct rate_acc *acc = NULL;
        struct rate_invoice *inv = NULL;
        struct tl_error e = {0};
        struct tl_buf draft;
        unsigned status = 200;
        tl_status rc;

        if (!cat) {
                rate_reloader_release(u->rl, set);
                return fail(body, 404, "no catalog in force for the period");
        }
        rc = rate_acc_new(cat, p, &acc, &e);
        if (!rc)
                rc = fold_events(u, cust->id, p, acc, &e);
        if (!rc)
                rc = rate_invoice_build(cat, u->cs, cust, acc,
                                        rate_acc_find(acc, cust->id), &inv, &e);
        if (!rc) {
                tl_buf_init(&draft, 0);
                rc = rate_invoice_json(inv, &draft, &e);
                if (!rc)
                        rc = envelope(u, cust, p, draft.data, body, &e);
                tl_buf_release(&draft);
        }
        if (rc)
                status = fail(body, rc == TL_EDB ? 503 : 500, e.msg);
        rate_invoice_free(&inv);
        rate_acc_free(&acc);
        rate_reloader_release(u->rl, set);
        return status;
}

unsigned meter__usage_http(struct meter_usage *u, const char *path,
                           const char *period, struct tl_buf *body)
{
        /* The last slash: an id may hold one (sent as %2F). */
        const char *slash = strrchr(path, '/');
        const struct rate_customer *cust;
        struct rate_period p;
        struct tl_error e = {0};
        char id[SCH_MAX_SUBJECT_BYTES + 1];
        size_t n = slash ? (size_t)(slash - path) : 0;

        if (!slash || strcmp(slash, "/usage") || n == 0 || n >= sizeof id)
                return fail(body, 404, "expected /v1/customers/{id}/usage");
        memcpy(id, path, n);
        id[n] = '\0';
        if (period) {
                if (rate_period_parse(period, &p, &e))
                        return fail(body, 400, e.msg);
        } else {
                tl_time_us now = tl_time_now_us();
                rate_period_of_day(now / TL_US_PER_DAY, &p);
        }
        cust = rate_customers_find(u->cs, id, n);
        if (!cust)
                return fail(body, 404, "unknown customer");
        return price(u, cust, &p, body);
}
