/* Payments, voids, the served invoice document with its history, and the
   overdue list. The rules live in the database (migration 0011): these
   functions name the invoice and the actor and pass the refusals on. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "corrections_int.h"
#include "internal.h"
#include "invoicing/corrections.h"
#include "invoicing/render.h"
#include "render_doc.h"

tl_status inv__corr_begin(PGconn *conn, const char *actor, struct tl_error *err)
{
        const char *p[1] = {actor && *actor ? actor : ""};
        PGresult *r = PQexec(conn, "BEGIN");

        if (PQresultStatus(r) != PGRES_COMMAND_OK)
                return inv__db_fail(r, "BEGIN", err);
        PQclear(r);
        r = PQexecParams(conn, "SELECT set_config('tally.actor', $1, true)", 1,
                         NULL, p, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_TUPLES_OK)
                return inv__corr_fail(conn, r, "setting the actor", err);
        PQclear(r);
        return TL_OK;
}

tl_status inv__corr_commit(PGconn *conn, struct tl_error *err)
{
        PGresult *r = PQexec(conn, "COMMIT");

        if (PQresultStatus(r) != PGRES_COMMAND_OK)
                return inv__corr_fail(conn, r, "COMMIT", err);
        PQclear(r);
        return TL_OK;
}

tl_status inv__corr_fail(PGconn *conn, PGresult *r, const char *what,
                         struct tl_error *err)
{
        const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
        const char *msg =
            r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
        tl_status rc;

        if (state && msg && !strcmp(state, "23514")) {
                rc = tl_fail(err, TL_EINVAL, "%s", msg);
                PQclear(r);
        } else if (state && msg &&
                   (!strcmp(state, "55000") || !strcmp(state, "23000"))) {
                rc = tl_fail(err, TL_ECONFLICT, "%s", msg);
                PQclear(r);
        } else {
                rc = inv__db_fail(r, what, err);
        }
        PQclear(PQexec(conn, "ROLLBACK"));
        return rc;
}

tl_status inv__corr_amount(const char *what, const char *text, int scale,
                           const char *currency, struct tl_dec *out,
                           struct tl_error *err)
{
        if (!text || !inv__doc_plain_decimal(text) || text[0] == '-' ||
            strlen(text) > 30 ||
            tl_dec_parse(text, strlen(text), out, NULL) != TL_OK ||
            tl_dec_is_zero(out))
                return tl_fail(err, TL_EINVAL,
                               "%s %s: expected a positive amount such as "
                               "25.00",
                               what, text ? text : "(none)");
        if (out->scale > scale)
                return tl_fail(err, TL_EINVAL,
                               "%s %s: %s amounts have %d decimal%s at most",
                               what, text, currency, scale,
                               scale == 1 ? "" : "s");
        return TL_OK;
}

/* The finalized invoice 'number': its id, currency and the currency's
   digits (the scale of its total). TL_ENOTFOUND. */
static tl_status find(PGconn *conn, const char *number, char id[24],
                      char currency[8], int *scale, struct tl_error *err)
{
        const char *p[1] = {number};
        PGresult *r = PQexecParams(
            conn,
            "SELECT invoice_id, currency, scale((body->>'total')::numeric)"
            " FROM invoices WHERE number = $1",
            1, NULL, p, NULL, NULL, 0);

        if (PQresultStatus(r) != PGRES_TUPLES_OK)
                return inv__corr_fail(conn, r, "reading the invoice", err);
        if (PQntuples(r) != 1) {
                PQclear(r);
                PQclear(PQexec(conn, "ROLLBACK"));
                return tl_fail(err, TL_ENOTFOUND, "no invoice numbered %s",
                               number);
        }
        snprintf(id, 24, "%s", PQgetvalue(r, 0, 0));
        snprintf(currency, 8, "%s", PQgetvalue(r, 0, 1));
        *scale = atoi(PQgetvalue(r, 0, 2));
        PQclear(r);
        return TL_OK;
}

tl_status inv_void(PGconn *conn, const char *number, const char *reason,
                   const char *actor, char *returned, size_t size,
                   struct tl_error *err)
{
        char id[24], currency[8], s[12];
        const char *p[2] = {id, reason};
        int scale;
        PGresult *r;
        tl_status rc;

        if (!reason || !*reason)
                return tl_fail(err, TL_EINVAL, "void %s: a reason is required",
                               number);
        if ((rc = inv__corr_begin(conn, actor, err)) ||
            (rc = find(conn, number, id, currency, &scale, err)))
                return rc;
        r = PQexecParams(conn,
                         "UPDATE invoices SET payment_status = 'void',"
                         " voided_at = now(), void_reason = $2"
                         " WHERE invoice_id = $1::int8",
                         2, NULL, p, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_COMMAND_OK)
                return inv__corr_fail(conn, r, "voiding the invoice", err);
        PQclear(r);
        /* The trigger's reversal, read back in the same transaction. */
        snprintf(s, sizeof s, "%d", scale);
        p[1] = s;
        r = PQexecParams(conn,
                         "SELECT round(coalesce(sum(amount), 0), $2::int)"
                         " FROM credit_ledger WHERE invoice_id = $1::int8"
                         " AND reason = 'void'",
                         2, NULL, p, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_TUPLES_OK)
                return inv__corr_fail(conn, r, "reading the returned credit",
                                      err);
        if (returned)
                snprintf(returned, size, "%s", PQgetvalue(r, 0, 0));
        PQclear(r);
        return inv__corr_commit(conn, err);
}

tl_status inv_pay(PGconn *conn, const char *number, const char *amount,
                  const char *reference, const char *actor, json_t **out,
                  struct tl_error *err)
{
        char id[24], currency[8], s[12], text[TL_DEC_STR_MAX];
        const char *p[4] = {id, text, reference, actor};
        struct tl_dec d;
        int scale;
        PGresult *r;
        tl_status rc;

        *out = NULL;
        if (!reference || !*reference)
                return tl_fail(err, TL_EINVAL,
                               "payment of %s: a reference is required",
                               number);
        if ((rc = inv__corr_begin(conn, actor, err)) ||
            (rc = find(conn, number, id, currency, &scale, err)))
                return rc;
        if ((rc = inv__corr_amount("amount", amount, scale, currency, &d,
                                   err))) {
                PQclear(PQexec(conn, "ROLLBACK"));
                return rc;
        }
        tl_dec_round(&d, scale, &d, NULL); /* zeros added: "10" -> "10.00" */
        tl_dec_format(&d, text, sizeof text);
        r = PQexecParams(conn,
                         "INSERT INTO invoice_payments (invoice_id, amount,"
                         " reference, recorded_by) VALUES ($1::int8,"
                         " $2::numeric, $3, $4)",
                         4, NULL, p, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_COMMAND_OK &&
            !strcmp(PQresultErrorField(r, PG_DIAG_SQLSTATE)
                        ? PQresultErrorField(r, PG_DIAG_SQLSTATE)
                        : "",
                    "23505")) {
                PQclear(r);
                PQclear(PQexec(conn, "ROLLBACK"));
                return tl_fail(err, TL_ECONFLICT,
                               "invoice %s: a payment with reference %s is "
                               "recorded already",
                               number, reference);
        }
        if (PQresultStatus(r) != PGRES_COMMAND_OK)
                return inv__corr_fail(conn, r, "recording the payment", err);
        PQclear(r);
        snprintf(s, sizeof s, "%d", scale);
        p[1] = s;
        r = PQexecParams(conn,
                         "SELECT payment_status, round(amount_paid, $2::int),"
                         " round(total, $2::int),"
                         " round(total - amount_paid, $2::int)"
                         " FROM invoices WHERE invoice_id = $1::int8",
                         2, NULL, p, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
                return inv__corr_fail(conn, r, "reading the invoice", err);
        *out = json_pack(
            "{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "number", number, "amount",
            text, "payment_status", PQgetvalue(r, 0, 0), "amount_paid",
            PQgetvalue(r, 0, 1), "total", PQgetvalue(r, 0, 2), "outstanding",
            PQgetvalue(r, 0, 3), "currency", currency);
        PQclear(r);
        if (!*out) {
                PQclear(PQexec(conn, "ROLLBACK"));
                return tl_fail(err, TL_ENOMEM, "out of memory");
        }
        if ((rc = inv__corr_commit(conn, err)))
                json_decref(*out), *out = NULL;
        return rc;
}

/* ---- the served document ------------------------------------------------ */

static json_t *text_or_null(PGresult *r, int row, int col)
{
        return PQgetisnull(r, row, col) ? json_null()
                                        : json_string(PQgetvalue(r, row, col));
}

tl_status inv_document_extend(PGconn *conn, const struct inv_config *cfg,
                              const char *invoice_id, json_t *doc,
                              struct tl_error *err)
{
        static const char STATE_SQL[] =
            "SELECT payment_status, round(amount_paid,"
            " scale((body->>'total')::numeric)),"
            " to_char(coalesce((body->>'issued')::date, finalized_at::date)"
            " + $2::int, 'YYYY-MM-DD'), to_char(finalized_at AT TIME ZONE"
            " 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), status"
            " FROM invoices WHERE invoice_id = $1::int8";
        static const char HISTORY_SQL[] =
            "SELECT h.event, to_char(h.at AT TIME ZONE 'UTC',"
            " 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), h.actor,"
            " round(h.amount, scale((i.body->>'total')::numeric)),"
            " h.reference, h.reason FROM invoice_history h"
            " JOIN invoices i USING (invoice_id)"
            " WHERE h.invoice_id = $1::int8 ORDER BY h.history_id";
        char terms[24];
        const char *p[2] = {invoice_id, terms};
        json_t *hist;
        PGresult *r;
        bool bad = false;

        snprintf(terms, sizeof terms, "%ld", cfg->payment_terms_days);
        r = PQexecParams(conn, STATE_SQL, 2, NULL, p, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_TUPLES_OK)
                return inv__db_fail(r, "reading the invoice", err);
        if (PQntuples(r) != 1 || strcmp(PQgetvalue(r, 0, 4), "finalized")) {
                PQclear(r); /* a draft has no payment state yet */
                return TL_OK;
        }
        hist = json_array();
        bad |= !hist || json_array_append_new(
                            hist, json_pack("{s:s, s:s}", "event", "finalized",
                                            "at", PQgetvalue(r, 0, 3)));
        bad |=
            json_object_set_new(doc, "payment_status",
                                json_string(PQgetvalue(r, 0, 0))) ||
            json_object_set_new(doc, "amount_paid",
                                json_string(PQgetvalue(r, 0, 1))) ||
            json_object_set_new(doc, "due", json_string(PQgetvalue(r, 0, 2)));
        PQclear(r);
        r = PQexecParams(conn, HISTORY_SQL, 1, NULL, p, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
                json_decref(hist);
                return inv__db_fail(r, "reading the invoice's history", err);
        }
        for (int i = 0; !bad && i < PQntuples(r); i++) {
                json_t *e = json_pack(
                    "{s:s, s:s, s:s}", "event", PQgetvalue(r, i, 0), "at",
                    PQgetvalue(r, i, 1), "by", PQgetvalue(r, i, 2));

                if (e && !PQgetisnull(r, i, 3))
                        json_object_set_new(e, "amount", text_or_null(r, i, 3));
                if (e && !PQgetisnull(r, i, 4))
                        json_object_set_new(
                            e,
                            strcmp(PQgetvalue(r, i, 0), "credit_note")
                                ? "reference"
                                : "credit_note",
                            text_or_null(r, i, 4));
                if (e && !PQgetisnull(r, i, 5))
                        json_object_set_new(e, "reason", text_or_null(r, i, 5));
                bad |= !e || json_array_append_new(hist, e);
        }
        PQclear(r);
        if (bad) {
                json_decref(hist);
                return tl_fail(err, TL_ENOMEM, "out of memory");
        }
        if (json_object_set_new(doc, "history", hist))
                return tl_fail(err, TL_ENOMEM, "out of memory");
        return TL_OK;
}

tl_status inv_document_get(PGconn *conn, const struct inv_config *cfg,
                           const char *number, json_t **doc,
                           struct tl_error *err)
{
        const char *p[1] = {number};
        PGresult *r =
            PQexecParams(conn,
                         "SELECT invoice_id::text, body::text FROM invoices"
                         " WHERE number = $1 UNION ALL SELECT NULL, body::text"
                         " FROM credit_notes WHERE number = $1",
                         1, NULL, p, NULL, NULL, 0);
        tl_status rc = TL_OK;

        *doc = NULL;
        if (PQresultStatus(r) != PGRES_TUPLES_OK)
                return inv__db_fail(r, "reading the document", err);
        if (PQntuples(r) != 1) {
                PQclear(r);
                return tl_fail(err, TL_ENOTFOUND,
                               "no invoice or credit note numbered %s", number);
        }
        *doc = json_loads(PQgetvalue(r, 0, 1), 0, NULL);
        if (!*doc)
                rc = tl_fail(err, TL_EINTERNAL,
                             "%s: the stored document is unreadable", number);
        else if (!PQgetisnull(r, 0, 0))
                rc = inv_document_extend(conn, cfg, PQgetvalue(r, 0, 0), *doc,
                                         err);
        PQclear(r);
        if (rc) {
                json_decref(*doc);
                *doc = NULL;
        }
        return rc;
}

/* ---- overdue ------------------------------------------------------------ */

tl_status inv_overdue(PGconn *conn, const struct inv_config *cfg,
                      const char *today_iso, bool json, struct tl_buf *out,
                      struct tl_error *err)
{
        static const char SQL[] =
            "SELECT number, customer_id, to_char(period_start, 'YYYY-MM'),"
            " to_char(due, 'YYYY-MM-DD'), ($1::date - due)::text,"
            " round(total, s), round(amount_paid, s),"
            " round(total - amount_paid, s), currency FROM (SELECT i.*,"
            " coalesce((i.body->>'issued')::date, i.finalized_at::date)"
            " + $2::int AS due, scale((i.body->>'total')::numeric) AS s"
            " FROM invoices i WHERE i.status = 'finalized'"
            " AND i.payment_status = 'open' AND i.total > i.amount_paid) x"
            " WHERE due < $1::date ORDER BY due, number";
        static const char *const KEYS[] = {
            "number", "customer",    "period",      "due",     "days_overdue",
            "total",  "amount_paid", "outstanding", "currency"};
        char terms[24];
        const char *p[2] = {today_iso, terms};
        json_t *arr = json ? json_array() : NULL;
        PGresult *r;
        tl_status rc = TL_OK;

        snprintf(terms, sizeof terms, "%ld", cfg->payment_terms_days);
        r = PQexecParams(conn, SQL, 2, NULL, p, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
                json_decref(arr);
                return inv__db_fail(r, "listing overdue invoices", err);
        }
        if (!json)
                rc = tl_buf_printf(out, err,
                                   "%-18s %-20s %-7s %-10s %5s %14s %s\n",
                                   "number", "customer", "period", "due",
                                   "days", "outstanding", "currency");
        for (int i = 0; !rc && i < PQntuples(r); i++) {
                if (json) {
                        json_t *o = json_object();

                        for (int k = 0; o && k < 9; k++)
                                json_object_set_new(
                                    o, KEYS[k],
                                    json_string(PQgetvalue(r, i, k)));
                        if (!o || json_array_append_new(arr, o))
                                rc = tl_fail(err, TL_ENOMEM, "out of memory");
                } else {
                        rc = tl_buf_printf(
                            out, err, "%-18s %-20s %-7s %-10s %5s %14s %s\n",
                            PQgetvalue(r, i, 0), PQgetvalue(r, i, 1),
                            PQgetvalue(r, i, 2), PQgetvalue(r, i, 3),
                            PQgetvalue(r, i, 4), PQgetvalue(r, i, 7),
                            PQgetvalue(r, i, 8));
                }
        }
        PQclear(r);
        if (!rc && json) {
                char *s = json_dumps(arr, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

                rc = s ? tl_buf_puts(out, s, err)
                       : tl_fail(err, TL_ENOMEM, "out of memory");
                if (!rc)
                        rc = tl_buf_puts(out, "\n", err);
                free(s); /* lint: libc-free: jansson allocated it */
        }
        json_decref(arr);
        return rc;
}

/* ---- files -------------------------------------------------------------- */

tl_status inv_document_write(const json_t *doc, const char *dir,
                             struct tl_error *err)
{
        const char *number = json_string_value(json_object_get(doc, "number"));
        char name[512], path[4096];
        char *s;
        FILE *f;
        tl_status rc;

        if (!number)
                return tl_fail(err, TL_EINVAL, "the document has no number");
        if ((rc = inv_file_name(number, name, sizeof name, err)))
                return rc;
        snprintf(path, sizeof path, "%s/%s.json", dir, name);
        s = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        if (!s)
                return tl_fail(err, TL_ENOMEM, "out of memory");
        f = fopen(path, "wb");
        if (!f || fputs(s, f) == EOF || fputc('\n', f) == EOF) {
                if (f)
                        fclose(f);
                free(s); /* lint: libc-free: jansson allocated it */
                return tl_fail(err, TL_EIO, "%s: %s", path, strerror(errno));
        }
        free(s); /* lint: libc-free: jansson allocated it */
        if (fclose(f) != 0)
                return tl_fail(err, TL_EIO, "%s: %s", path, strerror(errno));
        snprintf(path, sizeof path, "%s/%s.pdf", dir, name);
        return inv_render_pdf(doc, path, err);
}
