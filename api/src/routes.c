/* The reads and writes of docs/api.md: cost to date (invoicing's draft, the
   one pricing path), invoices, customers, credits, events. */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/dec.h"
#include "core/yaml.h"
#include "invoicing/corrections.h"
#include "invoicing/render.h"
#include "rating/customers.h"
#include "schemas/db.h"

/* ---- GET /v1/customers/{id}/usage --------------------------------------- */

static bool period_arg(struct api__call *c, struct rate_period *p,
                       enum MHD_Result *answered)
{
        const char *v = MHD_lookup_connection_value(
            c->conn, MHD_GET_ARGUMENT_KIND, "period");
        struct tl_error err = {TL_OK, ""};
        tl_time_us now =
            c->srv->inv->now_us ? c->srv->inv->now_us : tl_time_now_us();

        if (!v) {
                /* Floor division: days since 1970 of the instant 'now'. */
                rate_period_of_day(
                    now / TL_US_PER_DAY - (now % TL_US_PER_DAY < 0 ? 1 : 0), p);
                return true;
        }
        if (rate_period_parse(v, p, &err) == TL_OK)
                return true;
        *answered = api__error(c, MHD_HTTP_BAD_REQUEST, "invalid_request",
                               "period: expected YYYY-MM", "period");
        return false;
}

enum MHD_Result api__usage(struct api__call *c)
{
        const char *id = c->seg[2];
        const struct rate_catalog_set *set;
        const char *version = NULL;
        struct rate_period p;
        struct tl_error err = {TL_OK, ""};
        enum MHD_Result a;
        char as_of[40];
        json_t *doc, *draft = NULL;
        tl_status rc;

        if (!api__may_read(c, id, &a) || !period_arg(c, &p, &a))
                return a;
        if (!api__db(c, &err))
                return api__fail(c, TL_EDB, &err);
        tl_time_format_rfc3339(c->srv->inv->now_us ? c->srv->inv->now_us
                                                   : tl_time_now_us(),
                               as_of, sizeof as_of);
        /* One snapshot prices the whole request, even across a reload. */
        set = rate_reloader_acquire(c->srv->rules);
        rc = inv_draft_doc(c->db, c->srv->inv, set, id, &p, &draft, &version,
                           &err);
        /* "o" takes the draft, also when packing fails. */
        doc = rc ? NULL
                 : json_pack("{s:s, s:s, s:s, s:s?, s:o}", "customer", id,
                             "period", p.label, "as_of", as_of,
                             "catalog_version", version, "invoice", draft);
        rate_reloader_release(c->srv->rules, set);
        if (rc == TL_ENOTFOUND)
                return api__error(c, MHD_HTTP_NOT_FOUND, "not_found",
                                  "no such customer", NULL);
        if (rc)
                return api__fail(c, rc, &err);
        return api__json(c, MHD_HTTP_OK, doc);
}

/* ---- GET /v1/customers/{id}/invoices ------------------------------------ */

static const char LIST_SQL[] =
    "SELECT number, to_char(period_start, 'YYYY-MM'), status,"
    " body->>'total', currency, payment_status FROM invoices"
    " WHERE customer_id = $1 ORDER BY period_start DESC, invoice_id DESC";

enum MHD_Result api__invoices(struct api__call *c)
{
        const char *id = c->seg[2];
        const char *params[1] = {id};
        struct tl_error err = {TL_OK, ""};
        enum MHD_Result a;
        PGresult *r;
        json_t *list;

        if (!api__may_read(c, id, &a))
                return a;
        if (!api__db(c, &err))
                return api__fail(c, TL_EDB, &err);
        r = sch_db_exec(c->db, LIST_SQL, 1, params, 0);
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
                tl_fail(&err, TL_EDB, "invoices: %s", PQerrorMessage(c->db));
                PQclear(r);
                return api__fail(c, TL_EDB, &err);
        }
        list = json_array();
        for (int i = 0; list && i < PQntuples(r); i++) {
                json_array_append_new(
                    list,
                    json_pack("{s:s?, s:s, s:s, s:s, s:s, s:s}", "number",
                              PQgetisnull(r, i, 0) ? NULL : PQgetvalue(r, i, 0),
                              "period", PQgetvalue(r, i, 1), "status",
                              PQgetvalue(r, i, 2), "total", PQgetvalue(r, i, 3),
                              "currency", PQgetvalue(r, i, 4), "payment_status",
                              PQgetvalue(r, i, 5)));
        }
        PQclear(r);
        return api__json(
            c, MHD_HTTP_OK,
            json_pack("{s:s, s:o}", "customer", id, "invoices", list));
}

/* ---- GET /v1/invoices/{number} --------------------------------------------
 */

static enum MHD_Result pdf_of(struct api__call *c, json_t *doc)
{
        char path[] = "/tmp/tally-serve-pdf-XXXXXX";
        struct tl_error err = {TL_OK, ""};
        struct MHD_Response *r;
        char *bytes = NULL;
        size_t len = 0;
        int fd = mkstemp(path);
        tl_status rc;

        if (fd < 0) {
                json_decref(doc);
                tl_fail(&err, TL_EIO, "invoice PDF: no temporary file");
                return api__fail(c, TL_EIO, &err);
        }
        close(fd);
        rc = inv_render_pdf(doc, path, &err);
        json_decref(doc);
        if (!rc)
                rc = tl_read_file(path, &bytes, &len, &err);
        unlink(path);
        if (rc)
                return api__fail(c, rc, &err);
        r = MHD_create_response_from_buffer_with_free_callback(len, bytes,
                                                               tl_free);
        if (!r)
                tl_free(bytes);
        return api__send(c, MHD_HTTP_OK, r, "application/pdf", NULL);
}

enum MHD_Result api__invoice(struct api__call *c)
{
        const char *params[1] = {c->seg[2]};
        const char *accept = MHD_lookup_connection_value(
            c->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT);
        struct tl_error err = {TL_OK, ""};
        PGresult *r;
        json_t *doc;
        bool mine;

        if (!api__db(c, &err))
                return api__fail(c, TL_EDB, &err);
        r = PQexecParams(c->db,
                         "SELECT customer_id, body::text, invoice_id"
                         " FROM invoices WHERE number = $1 UNION ALL"
                         " SELECT customer_id, body::text, NULL"
                         " FROM credit_notes WHERE number = $1",
                         1, NULL, params, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
                tl_fail(&err, TL_EDB, "invoice: %s", PQerrorMessage(c->db));
                PQclear(r);
                return api__fail(c, TL_EDB, &err);
        }
        mine = PQntuples(r) == 1 &&
               (c->who.kind == API_SCOPE_ADMIN ||
                !strcmp(PQgetvalue(r, 0, 0), c->who.customer));
        if (!mine) {
                bool admin = c->who.kind == API_SCOPE_ADMIN;

                PQclear(r);
                /* A customer key cannot tell "none" from "not yours". */
                return admin ? api__error(c, MHD_HTTP_NOT_FOUND, "not_found",
                                          "no such invoice", NULL)
                             : api__error(c, MHD_HTTP_FORBIDDEN, "forbidden",
                                          "this key may not read this invoice",
                                          NULL);
        }
        doc = json_loads(PQgetvalue(r, 0, 1), 0, NULL);
        /* Payment state and history beside the frozen body. */
        if (doc && !PQgetisnull(r, 0, 2) &&
            inv_document_extend(c->db, c->srv->inv, PQgetvalue(r, 0, 2), doc,
                                &err)) {
                PQclear(r);
                json_decref(doc);
                return api__fail(c, err.code, &err);
        }
        PQclear(r);
        if (!doc) {
                tl_fail(&err, TL_EINTERNAL, "invoice: stored body unreadable");
                return api__fail(c, TL_EINTERNAL, &err);
        }
        if (accept && strstr(accept, "application/pdf"))
                return pdf_of(c, doc);
        return api__json(c, MHD_HTTP_OK, doc);
}

/* ---- PUT /v1/customers/{id} -----------------------------------------------
 */

/*
** The body is one customer in the customers file's fields. It is checked by
** the customers file's own parser (JSON is YAML's flow style), so the API
** and the file share every rule and message.
*/
enum MHD_Result api__customer_put(struct api__call *c)
{
        const char *id = c->seg[2];
        struct rate_customers *cs = NULL;
        struct rate_diags *d = NULL;
        struct inv_import_stats st;
        struct tl_error err = {TL_OK, ""};
        json_error_t jerr;
        json_t *body, *given;
        char *text = NULL, *yaml = NULL;
        size_t n;
        tl_status rc;

        body = json_loadb((const char *)c->req->body.data, c->req->body.len,
                          JSON_REJECT_DUPLICATES, &jerr);
        if (!json_is_object(body)) {
                json_decref(body);
                return api__error(c, MHD_HTTP_BAD_REQUEST, "invalid_json",
                                  "the body must be one JSON object with the "
                                  "customers file's fields",
                                  NULL);
        }
        given = json_object_get(body, "id");
        if (given &&
            (!json_is_string(given) || strcmp(json_string_value(given), id))) {
                json_decref(body);
                return api__error(c, MHD_HTTP_BAD_REQUEST, "invalid_request",
                                  "id: differs from the id in the path", "id");
        }
        json_object_set_new(body, "id", json_string(id));
        /* Not compact: YAML wants a space after ':' in a flow mapping. */
        text = json_dumps(body, JSON_PRESERVE_ORDER);
        json_decref(body);
        n = text ? strlen(text) : 0;
        yaml = text ? tl_malloc(n + 32) : NULL;
        d = tl_calloc(1, sizeof *d);
        if (!yaml || !d) {
                free(text); /* lint: libc-free: jansson allocated it */
                tl_free(yaml);
                tl_free(d);
                tl_fail(&err, TL_ENOMEM, "customer: out of memory");
                return api__fail(c, TL_ENOMEM, &err);
        }
        n = (size_t)snprintf(yaml, n + 32, "customers:\n  - %s\n", text);
        free(text); /* lint: libc-free: jansson allocated it */
        rc = rate_customers_parse("body", yaml, n, &cs, d, &err);
        tl_free(yaml);
        if (rc) {
                enum MHD_Result a =
                    api__error(c, MHD_HTTP_BAD_REQUEST, "invalid_customer",
                               d->count ? d->msg[0] : err.msg, NULL);

                tl_free(d);
                return a;
        }
        tl_free(d);
        if (!api__db(c, &err))
                rc = TL_EDB;
        else
                rc = inv_customers_upsert(c->db, cs, id, &st, &err);
        rate_customers_free(&cs);
        if (rc)
                return api__fail(c, rc, &err);
        return api__json(c, st.inserted ? MHD_HTTP_CREATED : MHD_HTTP_OK,
                         json_pack("{s:s, s:b}", "customer", id, "created",
                                   st.inserted > 0));
}

/* ---- POST /v1/events --------------------------------------------------------
 */

enum MHD_Result api__events(struct api__call *c)
{
        const char *ctype = MHD_lookup_connection_value(
            c->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
        struct tl_error err = {TL_OK, ""};
        unsigned status = 0;
        json_t *result = NULL;
        tl_status rc;

        if (!c->srv->ingest)
                return api__error(
                    c, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable",
                    "event ingest needs Kafka (kafka.brokers)", NULL);
        rc = api_ingest_post(c->srv->ingest, ctype ? ctype : "",
                             c->req->body.data ? c->req->body.data : "",
                             c->req->body.len, &result, &status, &err);
        if (rc)
                return api__fail(c, rc, &err);
        return api__json(c, status, result);
}
