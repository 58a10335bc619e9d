/* Credit notes: a line of a finalized invoice credited in part or whole,
   numbered CN-YYYY-NNNNNN from the issuer's own gap-free counter, its
   amount granted to the customer's credit balance. The limit (what the
   line charged less earlier credit notes) is the database's trigger. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "corrections_int.h"
#include "internal.h"
#include "invoicing/corrections.h"

/* The member a line of 'kind' names what it prices by (invoices.md). */
static const char *ref_member(const json_t *line)
{
        static const char *const REFS[] = {"charge", "id", "model_class",
                                           "period"};

        for (size_t k = 0; k < sizeof REFS / sizeof *REFS; k++)
                if (json_is_string(json_object_get(line, REFS[k])))
                        return REFS[k];
        return NULL;
}

/* Line 'key' of 'lines': its index and canonical key ("kind:ref" or
   "kind"). TL_EINVAL naming the key when none or several match, or when
   the line is not a charge (credit and tax lines are not credited). */
static tl_status find_line(const json_t *lines, const char *number,
                           const char *key, size_t *index, char *canon,
                           size_t size, struct tl_error *err)
{
        size_t i, found = 0;
        const json_t *line;
        struct tl_buf known;
        tl_status rc;

        json_array_foreach(lines, i, line)
        {
                const char *kind =
                    json_string_value(json_object_get(line, "kind"));
                const char *m = ref_member(line);
                const char *ref =
                    m ? json_string_value(json_object_get(line, m)) : NULL;
                char full[256];

                if (!kind)
                        continue;
                snprintf(full, sizeof full, "%s%s%s", kind, ref ? ":" : "",
                         ref ? ref : "");
                if (strcmp(key, full) && !(ref && !strcmp(key, ref)) &&
                    !(!ref && !strcmp(key, kind)))
                        continue;
                if (found++) {
                        return tl_fail(err, TL_EINVAL,
                                       "--line %s: invoice %s has several "
                                       "such lines; name one as kind:ref "
                                       "(e.g. %s)",
                                       key, number, full);
                }
                *index = i;
                snprintf(canon, size, "%s", full);
        }
        if (found) {
                const char *kind = json_string_value(
                    json_object_get(json_array_get(lines, *index), "kind"));

                if (!strcmp(kind, "credit") || !strcmp(kind, "tax"))
                        return tl_fail(err, TL_EINVAL,
                                       "--line %s: a %s line is not a charge "
                                       "and cannot be credited",
                                       key, kind);
                return TL_OK;
        }
        tl_buf_init(&known, 0);
        rc = TL_OK;
        json_array_foreach(lines, i, line)
        {
                const char *kind =
                    json_string_value(json_object_get(line, "kind"));
                const char *m = ref_member(line);

                if (!kind || !strcmp(kind, "credit") || !strcmp(kind, "tax"))
                        continue;
                if (!rc)
                        rc = tl_buf_printf(
                            &known, err, "%s%s%s%s", known.len ? ", " : "",
                            kind, m ? ":" : "",
                            m ? json_string_value(json_object_get(line, m))
                              : "");
        }
        rc = tl_fail(err, TL_EINVAL,
                     "--line %s: invoice %s has no such line (its lines: "
                     "%.300s)",
                     key, number, known.len ? known.data : "none");
        tl_buf_release(&known);
        return rc;
}

/* The next number of the issuer's credit-note counter for 'year': the
   counter row stays locked until the transaction ends, so numbers are
   handed out in commit order and a rollback returns its number. */
static tl_status next_number(PGconn *conn, const struct inv_config *cfg,
                             const char *year, char *out, size_t size,
                             struct tl_error *err)
{
        const char *p[2] = {cfg->issuer.id, year};
        PGresult *r = PQexecParams(conn,
                                   "INSERT INTO credit_note_numbers (issuer,"
                                   " year) VALUES ($1, $2::int)"
                                   " ON CONFLICT DO NOTHING",
                                   2, NULL, p, NULL, NULL, 0);

        if (PQresultStatus(r) != PGRES_COMMAND_OK)
                return inv__corr_fail(conn, r, "credit-note numbers", err);
        PQclear(r);
        r = PQexecParams(conn,
                         "UPDATE credit_note_numbers SET last_seq = last_seq"
                         " + 1 WHERE issuer = $1 AND year = $2::int"
                         " RETURNING last_seq",
                         2, NULL, p, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
                return inv__corr_fail(conn, r, "credit-note numbers", err);
        snprintf(out, size, "CN-%s-%06llu", year,
                 strtoull(PQgetvalue(r, 0, 0), NULL, 10));
        PQclear(r);
        return TL_OK;
}

/* The credit note's document, in the invoice document's shape so the
   renderers read it: one line, the credited amount positive. */
static json_t *document(const json_t *inv, const json_t *line,
                        const char *number, const char *issued,
                        const char *amount, const char *zero,
                        const char *reason)
{
        const char *m = ref_member(line);
        json_t *l = json_pack(
            "{s:O, s:s, s:s}", "kind", json_object_get(line, "kind"), "name",
            json_string_value(json_object_get(line, "name"))
                ? json_string_value(json_object_get(line, "name"))
                : "",
            "amount", amount);
        json_t *doc;

        if (l && m)
                json_object_set(l, m, json_object_get(line, m));
        doc = json_pack(
            "{s:s, s:s, s:s, s:O, s:O?, s:O, s:O, s:O?, s:s, s:s, s:[o], s:s,"
            " s:s, s:s, s:s}",
            "number", number, "type", "credit_note", "status", "issued",
            "invoice", json_object_get(inv, "number"), "customer_name",
            json_object_get(inv, "customer_name"), "customer",
            json_object_get(inv, "customer"), "period",
            json_object_get(inv, "period"), "issuer",
            json_object_get(inv, "issuer"), "issued", issued, "reason", reason,
            "lines", l, "subtotal", amount, "credit", zero, "tax", zero,
            "total", amount);
        if (doc)
                json_object_set(doc, "currency",
                                json_object_get(inv, "currency"));
        return doc;
}

/* Today (or cfg->now_us's day) as YYYY-MM-DD. */
static void today(const struct inv_config *cfg, char out[16])
{
        tl_time_us now = cfg->now_us ? cfg->now_us : tl_time_now_us();
        int64_t y;
        unsigned m, d;

        tl_civil_from_days(now / TL_US_PER_DAY, &y, &m, &d);
        snprintf(out, 16, "%04lld-%02u-%02u", (long long)y, m, d);
}

tl_status inv_credit_note(PGconn *conn, const struct inv_config *cfg,
                          const char *number, const char *line,
                          const char *amount, const char *reason,
                          const char *actor, json_t **doc, struct tl_error *err)
{
        char canon[256], cn[64], issued[16], text[TL_DEC_STR_MAX],
            zero[TL_DEC_STR_MAX], index[24], year[8];
        const char *p[9] = {number};
        const char *charged, *dot;
        struct tl_dec d, z = {0};
        json_t *inv = NULL;
        size_t li = 0;
        PGresult *r;
        char *body;
        tl_status rc;

        *doc = NULL;
        if (!reason || !*reason || !line || !*line)
                return tl_fail(err, TL_EINVAL,
                               "credit note on %s: --line and --reason are "
                               "required",
                               number);
        if ((rc = inv__corr_begin(conn, actor, err)))
                return rc;
        /* Locked first, the counter after: every issuer takes the two in
           this order, so two credit notes never deadlock. */
        r = PQexecParams(conn,
                         "SELECT invoice_id, payment_status, body::text"
                         " FROM invoices WHERE number = $1 FOR UPDATE",
                         1, NULL, p, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_TUPLES_OK)
                return inv__corr_fail(conn, r, "reading the invoice", err);
        if (PQntuples(r) != 1) {
                PQclear(r);
                PQclear(PQexec(conn, "ROLLBACK"));
                return tl_fail(err, TL_ENOTFOUND, "no invoice numbered %s",
                               number);
        }
        if (!strcmp(PQgetvalue(r, 0, 1), "void")) {
                PQclear(r);
                PQclear(PQexec(conn, "ROLLBACK"));
                return tl_fail(err, TL_ECONFLICT,
                               "invoice %s is void: no credit note can be "
                               "issued against it",
                               number);
        }
        snprintf(index, sizeof index, "%s", PQgetvalue(r, 0, 0));
        inv = json_loads(PQgetvalue(r, 0, 2), 0, NULL);
        PQclear(r);
        rc = inv ? find_line(json_object_get(inv, "lines"), number, line, &li,
                             canon, sizeof canon, err)
                 : tl_fail(err, TL_EINTERNAL, "%s: stored body unreadable",
                           number);
        if (!rc) {
                /* The line's amount has the currency's digits. */
                charged = json_string_value(json_object_get(
                    json_array_get(json_object_get(inv, "lines"), li),
                    "amount"));
                dot = charged ? strchr(charged, '.') : NULL;
                z.scale = dot ? (int32_t)strlen(dot + 1) : 0;
                rc = inv__corr_amount(
                    "--amount", amount, z.scale,
                    json_string_value(json_object_get(inv, "currency")), &d,
                    err);
        }
        if (!rc) {
                tl_dec_round(&d, z.scale, &d, NULL);
                tl_dec_format(&d, text, sizeof text);
                tl_dec_format(&z, zero, sizeof zero);
                today(cfg, issued);
                snprintf(year, sizeof year, "%.4s", issued);
                rc = next_number(conn, cfg, year, cn, sizeof cn, err);
                if (rc) {
                        json_decref(inv);
                        return rc;
                }
                *doc = document(
                    inv, json_array_get(json_object_get(inv, "lines"), li), cn,
                    issued, text, zero, reason);
                if (!*doc)
                        rc = tl_fail(err, TL_ENOMEM, "out of memory");
        }
        json_decref(inv);
        if (rc) {
                PQclear(PQexec(conn, "ROLLBACK"));
                return rc;
        }
        body = json_dumps(*doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
        snprintf(year, sizeof year, "%zu", li);
        p[0] = cn;
        p[1] = index;
        p[2] = year;
        p[3] = canon;
        p[4] = text;
        p[5] = reason;
        p[6] = body;
        p[7] = actor && *actor ? actor : "unknown";
        r = body ? PQexecParams(conn,
                                "INSERT INTO credit_notes (number, invoice_id,"
                                " customer_id, line_index, line_key, amount,"
                                " reason, body, created_by)"
                                " SELECT $1, $2::int8, customer_id, $3::int,"
                                " $4, $5::numeric, $6, $7::json, $8"
                                " FROM invoices WHERE invoice_id = $2::int8",
                                8, NULL, p, NULL, NULL, 0)
                 : NULL;
        free(body); /* lint: libc-free: jansson allocated it */
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
                json_decref(*doc);
                *doc = NULL;
                return inv__corr_fail(conn, r, "issuing the credit note", err);
        }
        PQclear(r);
        if ((rc = inv__corr_commit(conn, err))) {
                json_decref(*doc);
                *doc = NULL;
        }
        return rc;
}
