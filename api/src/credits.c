/* POST /v1/customers/{id}/credits: a prepaid grant, idempotent by the
   Idempotency-Key header (the same key with another body is 409). */
#include "internal.h"

#include <string.h>

#include <openssl/sha.h>

#include "core/dec.h"
#include "core/time.h"
#include "schemas/db.h"

/* The grant and its idempotency record commit together or not at all. */
static const char GRANT_SQL[] =
    "WITH c AS (SELECT customer_id, currency FROM customers"
    " WHERE customer_id = $3),"
    /* In the customer's currency (0013_currency.sql). */
    " g AS (INSERT INTO credit_ledger (customer_id, amount, reason,"
    " expires_at, currency) SELECT customer_id, $5::numeric, 'api',"
    " to_timestamp(0)"
    " + ($7::int8 || ' microseconds')::interval, currency FROM c"
    " RETURNING entry_id),"
    " i AS (INSERT INTO api_idempotency (principal, idem_key, route,"
    " request_hash, status, response)"
    " SELECT $1, $2, 'POST credits', $4::bytea, 201, $6 FROM g"
    " RETURNING 1)"
    " SELECT (SELECT count(*) FROM c), (SELECT count(*) FROM i)";

static const char SEEN_SQL[] =
    "SELECT request_hash = $3::bytea, status, response FROM api_idempotency"
    " WHERE principal = $1 AND idem_key = $2";

/* An answer given before under this key, or false when there is none. */
static bool replay(struct api__call *c, const char **p,
                   enum MHD_Result *answered)
{
        PGresult *r = sch_db_exec(c->db, SEEN_SQL, 3, p, 0);
        struct tl_error err = {TL_OK, ""};
        bool seen;

        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
                tl_fail(&err, TL_EDB, "credits: %s", PQerrorMessage(c->db));
                PQclear(r);
                *answered = api__fail(c, TL_EDB, &err);
                return true;
        }
        seen = PQntuples(r) == 1;
        if (seen && strcmp(PQgetvalue(r, 0, 0), "t"))
                *answered = api__error(c, MHD_HTTP_CONFLICT, "idempotency_key",
                                       "this Idempotency-Key was used with "
                                       "another request",
                                       NULL);
        else if (seen)
                *answered = api__json(
                    c, (unsigned)strtoul(PQgetvalue(r, 0, 1), NULL, 10),
                    json_loads(PQgetvalue(r, 0, 2), 0, NULL));
        PQclear(r);
        return seen;
}

static bool amount_of(struct api__call *c, json_t *body, struct tl_dec *out,
                      char *text, size_t size, enum MHD_Result *answered)
{
        json_t *a = json_object_get(body, "amount");
        const char *s = json_is_string(a) ? json_string_value(a) : NULL;

        /* A string, as every amount tally writes: a JSON number would go
           through binary floating point in most clients. */
        if (s && tl_dec_parse(s, strlen(s), out, NULL) == TL_OK &&
            !tl_dec_is_negative(out) && !tl_dec_is_zero(out) &&
            out->scale <= 6 && strlen(s) < 30) {
                tl_dec_format(out, text, size);
                return true;
        }
        *answered = api__error(c, MHD_HTTP_BAD_REQUEST, "invalid_request",
                               "amount: expected a positive decimal string "
                               "with at most 6 fractional digits, e.g. "
                               "\"50.00\"",
                               "amount");
        return false;
}

static enum MHD_Result bad_expiry(struct api__call *c)
{
        return api__error(c, MHD_HTTP_BAD_REQUEST, "invalid_request",
                          "expires_at: expected an RFC 3339 instant in the "
                          "future, e.g. \"2027-01-01T00:00:00Z\"",
                          "expires_at");
}

/* The optional expiry as microseconds since the epoch, in '*t' and as
   text in 'us' (for the statement); "" when absent. Whether it is still
   ahead is checked after a replay, which answers as the first time. */
static bool expiry_of(struct api__call *c, json_t *body, char us[32],
                      tl_time_us *t, enum MHD_Result *answered)
{
        json_t *e = json_object_get(body, "expires_at");
        const char *s = json_is_string(e) ? json_string_value(e) : NULL;

        us[0] = '\0';
        if (!e || json_is_null(e))
                return true;
        if (s && tl_time_parse_rfc3339(s, strlen(s), t, NULL) == TL_OK) {
                snprintf(us, 32, "%lld", (long long)*t);
                return true;
        }
        *answered = bad_expiry(c);
        return false;
}

enum MHD_Result api__credits(struct api__call *c)
{
        const char *id = c->seg[2];
        const char *key = MHD_lookup_connection_value(c->conn, MHD_HEADER_KIND,
                                                      "Idempotency-Key");
        unsigned char h[SHA256_DIGEST_LENGTH];
        char hash[2 + 2 * SHA256_DIGEST_LENGTH + 1], amount[64], us[32];
        struct tl_error err = {TL_OK, ""};
        struct tl_dec dec;
        tl_time_us expires = 0;
        enum MHD_Result a;
        json_t *body, *resp;
        char *resp_text;
        const char *p[7];
        PGresult *r;

        if (!key || !*key || strlen(key) > 255)
                return api__error(c, MHD_HTTP_BAD_REQUEST, "invalid_request",
                                  "an Idempotency-Key header (1..255 "
                                  "characters) is required",
                                  NULL);
        body = json_loadb((const char *)c->req->body.data, c->req->body.len,
                          JSON_REJECT_DUPLICATES, NULL);
        if (!json_is_object(body) ||
            json_object_size(body) !=
                1 + (json_object_get(body, "expires_at") != NULL)) {
                json_decref(body);
                return api__error(c, MHD_HTTP_BAD_REQUEST, "invalid_request",
                                  "the body must be {\"amount\": \"50.00\"}"
                                  " with an optional \"expires_at\"",
                                  NULL);
        }
        if (!amount_of(c, body, &dec, amount, sizeof amount, &a) ||
            !expiry_of(c, body, us, &expires, &a)) {
                json_decref(body);
                return a;
        }
        SHA256(c->req->body.data ? c->req->body.data : (const void *)"",
               c->req->body.len, h);
        memcpy(hash, "\\x", 2);
        for (int i = 0; i < SHA256_DIGEST_LENGTH; i++)
                snprintf(hash + 2 + 2 * i, 3, "%02x", h[i]);
        p[0] = c->who.name;
        p[1] = key;
        p[2] = hash;
        if (!api__db(c, &err) || replay(c, p, &a)) {
                json_decref(body);
                return err.code ? api__fail(c, TL_EDB, &err) : a;
        }
        if (*us && expires <= tl_time_now_us()) {
                json_decref(body);
                return bad_expiry(c);
        }
        resp = json_pack("{s:s, s:s, s:s}", "customer", id, "amount", amount,
                         "idempotency_key", key);
        if (resp && *us)
                json_object_set(resp, "expires_at",
                                json_object_get(body, "expires_at"));
        json_decref(body);
        resp_text = resp ? json_dumps(resp, JSON_COMPACT) : NULL;
        p[2] = id;
        p[3] = hash;
        p[4] = amount;
        p[5] = resp_text;
        p[6] = *us ? us : NULL;
        r = resp_text ? sch_db_exec(c->db, GRANT_SQL, 7, p, 0) : NULL;
        free(resp_text); /* lint: libc-free: jansson allocated it */
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
                /* Another request with this key won the race: answer as it
                   did (or 409 for another body). */
                bool raced =
                    r && !strcmp(PQresultErrorField(r, PG_DIAG_SQLSTATE)
                                     ? PQresultErrorField(r, PG_DIAG_SQLSTATE)
                                     : "",
                                 "23505");

                PQclear(r);
                p[2] = hash;
                if (raced && replay(c, p, &a)) {
                        json_decref(resp);
                        return a;
                }
                json_decref(resp);
                tl_fail(&err, TL_EDB, "credits: %s", PQerrorMessage(c->db));
                return api__fail(c, TL_EDB, &err);
        }
        if (strcmp(PQgetvalue(r, 0, 0), "1")) {
                PQclear(r);
                json_decref(resp);
                return api__error(c, MHD_HTTP_NOT_FOUND, "not_found",
                                  "no such customer", NULL);
        }
        PQclear(r);
        return api__json(c, MHD_HTTP_CREATED, resp);
}
