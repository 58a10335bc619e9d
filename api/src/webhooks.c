/* Webhook endpoints and the delivery log (`tally webhooks`), URL and event
   checks, the v1 signature and the retry schedule (api/webhooks.h). */
#include "api/webhooks.h"
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "schemas/db.h"

static const char *const TYPES[] = {"alert.triggered",    "limit.reached",
                                    "balance.low",        "invoice.finalized",
                                    "invoice.interim",    "invoice.voided",
                                    "credit_note.issued", NULL};

void api_webhooks_config_init(struct api_webhooks_config *c)
{
        c->senders = 2;
        c->retry_base_ms = 30000;
        c->retry_max_ms = 3600000;
        c->max_age_s = 86400;
        c->timeout_ms = 10000;
}

static void hex(const unsigned char *in, size_t n, char *out)
{
        static const char digits[] = "0123456789abcdef";

        for (size_t i = 0; i < n; i++) {
                out[2 * i] = digits[in[i] >> 4];
                out[2 * i + 1] = digits[in[i] & 15];
        }
        out[2 * n] = '\0';
}

static tl_status db_fail(PGconn *conn, const PGresult *res, const char *what,
                         struct tl_error *err)
{
        const char *m =
            res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;

        if (!m || !*m)
                m = PQerrorMessage(conn);
        return tl_fail(err, TL_EDB, "%s: %.*s", what, (int)strcspn(m, "\n"), m);
}

tl_status api_webhooks_check_events(const char *types, struct tl_error *err)
{
        const char *p = types ? types : "";

        if (!*p)
                return tl_fail(err, TL_EINVAL,
                               "--events: empty; give event types separated "
                               "by commas, or *");
        for (;;) {
                size_t n = strcspn(p, ",");
                bool known = n == 1 && *p == '*';

                for (int i = 0; !known && TYPES[i]; i++)
                        known =
                            strlen(TYPES[i]) == n && !memcmp(TYPES[i], p, n);
                if (!known)
                        return tl_fail(err, TL_EINVAL,
                                       "--events: unknown event type '%.*s' "
                                       "(known: alert.triggered, "
                                       "limit.reached, balance.low, "
                                       "invoice.finalized, invoice.interim, "
                                       "invoice.voided, credit_note.issued, "
                                       "or *)",
                                       (int)(n > 64 ? 64 : n), p);
                if (!p[n])
                        return TL_OK;
                p += n + 1;
        }
}

/* The URL's scheme, lowercased, if it has one of http and https. */
static bool web_scheme(const char *url, size_t *len)
{
        if (!strncasecmp(url, "http://", 7))
                *len = 4;
        else if (!strncasecmp(url, "https://", 8))
                *len = 5;
        else
                return false;
        return true;
}

/* Whether URL part 'what' of 'u' is present (non-empty when 'nonempty'):
   libcurl's copy is freed here, whatever the answer. */
static bool has_part(CURLU *u, CURLUPart what, bool nonempty)
{
        char *part = NULL;
        bool yes = curl_url_get(u, what, &part, 0) == CURLUE_OK && part &&
                   (!nonempty || *part);

        curl_free(part);
        return yes;
}

static tl_status parts_check(CURLU *u, const char *url, struct tl_error *err)
{
        /* Credentials in a URL would be shown by `list` and in logs; the
           URL is not repeated here for the same reason. */
        if (has_part(u, CURLUPART_USER, false) ||
            has_part(u, CURLUPART_PASSWORD, false))
                return tl_fail(err, TL_EINVAL,
                               "URL: a user or password in the URL is refused "
                               "(deliveries are authenticated by their "
                               "signature)");
        if (!has_part(u, CURLUPART_HOST, true))
                return tl_fail(err, TL_EINVAL, "URL '%s': no host", url);
        if (has_part(u, CURLUPART_FRAGMENT, false))
                return tl_fail(err, TL_EINVAL,
                               "URL '%s': a fragment (#...) is never sent; "
                               "remove it",
                               url);
        return TL_OK;
}

tl_status api_webhooks_check_url(const char *url, struct tl_error *err)
{
        size_t n = url ? strlen(url) : 0, scheme;
        CURLUcode uc;
        CURLU *u;
        tl_status rc;

        if (!n)
                return tl_fail(err, TL_EINVAL, "URL: empty");
        if (n > API_WH_URL_MAX)
                return tl_fail(err, TL_EINVAL, "URL: %zu bytes, at most %d", n,
                               API_WH_URL_MAX);
        for (size_t i = 0; i < n; i++)
                if ((unsigned char)url[i] <= 0x20 || url[i] == 0x7f)
                        return tl_fail(err, TL_EINVAL,
                                       "URL: a space or control character "
                                       "at byte %zu",
                                       i + 1);
        if (!strstr(url, "://"))
                return tl_fail(err, TL_EINVAL,
                               "URL '%s': no scheme; it must start with "
                               "http:// or https://",
                               url);
        if (!web_scheme(url, &scheme))
                return tl_fail(err, TL_EINVAL,
                               "URL '%s': scheme '%.*s' is not http or https",
                               url, (int)strcspn(url, ":"), url);
        u = curl_url();
        if (!u)
                return tl_fail(err, TL_ENOMEM, "URL: out of memory");
        uc = curl_url_set(u, CURLUPART_URL, url, 0);
        if (uc != CURLUE_OK)
                rc = tl_fail(err, TL_EINVAL, "URL '%s': %s", url,
                             curl_url_strerror(uc));
        else
                rc = parts_check(u, url, err);
        curl_url_cleanup(u);
        return rc;
}

tl_status api_webhooks_add(PGconn *conn, const char *url, const char *types,
                           char *id_out, char *secret_out, struct tl_error *err)
{
        static const char SQL[] =
            "INSERT INTO webhook_endpoints (endpoint_id, url, events, secret)"
            " VALUES ($1, $2, string_to_array($3, ','), $4)";
        unsigned char id[8], secret[32];
        const char *params[4];
        PGresult *res;
        tl_status rc = api_webhooks_check_url(url, err);

        if (!rc)
                rc = api_webhooks_check_events(types, err);
        if (rc)
                return rc;
        if (RAND_bytes(id, sizeof id) != 1 ||
            RAND_bytes(secret, sizeof secret) != 1)
                return tl_fail(err, TL_EIO, "no random bytes for a secret");
        memcpy(id_out, "we_", 3);
        hex(id, sizeof id, id_out + 3);
        memcpy(secret_out, "whsec_", 6);
        hex(secret, sizeof secret, secret_out + 6);
        OPENSSL_cleanse(secret, sizeof secret);
        params[0] = id_out;
        params[1] = url;
        params[2] = types;
        params[3] = secret_out;
        res = PQexecParams(conn, SQL, 4, NULL, params, NULL, NULL, 0);
        if (PQresultStatus(res) != PGRES_COMMAND_OK)
                rc = db_fail(conn, res, "adding the endpoint", err);
        PQclear(res);
        if (rc)
                OPENSSL_cleanse(secret_out, API_WH_SECRET_LEN);
        return rc;
}

#define ISO(col)                                                               \
        "to_char(" col " AT TIME ZONE 'UTC', "                                 \
        "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

tl_status api_webhooks_list(PGconn *conn, struct tl_buf *out,
                            struct tl_error *err)
{
        static const char SQL[] =
            "SELECT endpoint_id, url, array_to_string(events, ','), " ISO(
                "created_at") " FROM webhook_endpoints"
                              " WHERE disabled_at IS NULL ORDER BY created_at,"
                              " endpoint_id";
        static const char *const HEAD[] = {"ID", "URL", "EVENTS", "CREATED"};
        PGresult *res = PQexec(conn, SQL);
        tl_status rc;

        if (PQresultStatus(res) != PGRES_TUPLES_OK)
                rc = db_fail(conn, res, "listing the endpoints", err);
        else
                rc = api__table(res, HEAD, 4, out, err);
        PQclear(res);
        return rc;
}

/* Run 'sql' (a command) and say how many rows it touched, or -1. */
static long command(PGconn *conn, const char *sql, int n,
                    const char *const *params, const char *what,
                    struct tl_error *err)
{
        PGresult *res = PQexecParams(conn, sql, n, NULL, params, NULL, NULL, 0);
        long rows = -1;

        if (PQresultStatus(res) == PGRES_COMMAND_OK ||
            PQresultStatus(res) == PGRES_TUPLES_OK)
                rows = strtol(PQcmdTuples(res), NULL, 10);
        else
                db_fail(conn, res, what, err);
        PQclear(res);
        return rows;
}

tl_status api_webhooks_remove(PGconn *conn, const char *id,
                              struct tl_error *err)
{
        static const char SQL[] =
            "WITH e AS (UPDATE webhook_endpoints SET disabled_at = now()"
            " WHERE endpoint_id = $1 AND disabled_at IS NULL"
            " RETURNING endpoint_id),"
            " d AS (UPDATE webhook_deliveries SET status = 'failed',"
            " finished_at = now(), last_error = 'endpoint removed',"
            " lease_owner = NULL, lease_until = NULL"
            " WHERE endpoint_id IN (SELECT endpoint_id FROM e)"
            " AND status = 'pending' RETURNING 1)"
            " SELECT endpoint_id FROM e";
        long n = command(conn, SQL, 1, &id, "removing the endpoint", err);

        if (n < 0)
                return TL_EDB;
        if (n == 0)
                return tl_fail(err, TL_ENOTFOUND, "no live endpoint '%s'", id);
        return TL_OK;
}

tl_status api_webhooks_deliveries(PGconn *conn, const char *status,
                                  const char *endpoint, long limit,
                                  struct tl_buf *out, struct tl_error *err)
{
        static const char SQL[] =
            "SELECT d.delivery_id, d.notification_id, o.type, "
            "d.endpoint_id,"
            " d.status, d.attempts, coalesce(d.last_status::text, '-'),"
            " CASE WHEN d.status = 'pending' THEN " ISO(
                "d.next_attempt_at") " ELSE coalesce(" ISO("d.finished_"
                                                           "at") ","
                                                                 " '-')"
                                                                 " END,"
                                                                 " coal"
                                                                 "esce("
                                                                 "d."
                                                                 "last_"
                                                                 "error"
                                                                 ", "
                                                                 "'-')"
                                                                 " FROM"
                                                                 " webh"
                                                                 "ook_"
                                                                 "deliv"
                                                                 "eries"
                                                                 " d "
                                                                 "JOIN "
                                                                 "webho"
                                                                 "ok_"
                                                                 "outbo"
                                                                 "x o "
                                                                 "USING"
                                                                 " "
                                                                 "(noti"
                                                                 "ficat"
                                                                 "ion_"
                                                                 "id)"
                                                                 " WHER"
                                                                 "E "
                                                                 "($1::"
                                                                 "text "
                                                                 "IS "
                                                                 "NULL "
                                                                 "OR "
                                                                 "d."
                                                                 "statu"
                                                                 "s = "
                                                                 "$1)"
                                                                 " AND "
                                                                 "($2::"
                                                                 "text "
                                                                 "IS "
                                                                 "NULL "
                                                                 "OR "
                                                                 "d."
                                                                 "endpo"
                                                                 "int_"
                                                                 "id "
                                                                 "= $2)"
                                                                 " ORDE"
                                                                 "R BY "
                                                                 "d."
                                                                 "deliv"
                                                                 "ery_"
                                                                 "id "
                                                                 "DESC "
                                                                 "LIMIT"
                                                                 " "
                                                                 "$3::"
                                                                 "int8";
        static const char *const HEAD[] = {
            "DELIVERY", "ID",   "TYPE",          "ENDPOINT", "STATUS",
            "ATTEMPTS", "HTTP", "NEXT/FINISHED", "ERROR"};
        char lim[24];
        const char *params[3] = {status, endpoint, lim};
        PGresult *res;
        tl_status rc;

        if (status && strcmp(status, "pending") &&
            strcmp(status, "delivered") && strcmp(status, "failed"))
                return tl_fail(err, TL_EINVAL,
                               "--status: '%s' is not pending, delivered or "
                               "failed",
                               status);
        snprintf(lim, sizeof lim, "%ld", limit > 0 ? limit : 100);
        res = PQexecParams(conn, SQL, 3, NULL, params, NULL, NULL, 0);
        if (PQresultStatus(res) != PGRES_TUPLES_OK)
                rc = db_fail(conn, res, "reading the delivery log", err);
        else
                rc = api__table(res, HEAD, 9, out, err);
        PQclear(res);
        return rc;
}

tl_status api_webhooks_retry(PGconn *conn, const char *id, struct tl_error *err)
{
        static const char SQL[] =
            "UPDATE webhook_deliveries d SET status = 'pending',"
            " next_attempt_at = now(), window_start = now(),"
            " finished_at = NULL, lease_owner = NULL, lease_until = NULL"
            " FROM webhook_endpoints e WHERE d.delivery_id = $1::int8"
            " AND d.status = 'failed' AND e.endpoint_id = d.endpoint_id"
            " AND e.disabled_at IS NULL";
        size_t len = strlen(id);
        long n;

        if (!len || len > 18 || strspn(id, "0123456789") != len)
                return tl_fail(err, TL_EINVAL,
                               "'%s' is not a delivery number "
                               "(see tally webhooks deliveries)",
                               id);
        n = command(conn, SQL, 1, &id, "retrying the delivery", err);
        if (n < 0)
                return TL_EDB;
        if (n == 0)
                return tl_fail(err, TL_ENOTFOUND,
                               "no failed delivery %s to a live endpoint", id);
        return TL_OK;
}

tl_status api_webhooks_sign(const char *secret, int64_t t, const char *body,
                            size_t len, char *out, struct tl_error *err)
{
        unsigned char mac[32];
        size_t maclen = 0;
        char prefix[32], digest[] = "SHA256";
        int n = snprintf(prefix, sizeof prefix, "%lld.", (long long)t);
        OSSL_PARAM params[] = {
            OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
            OSSL_PARAM_construct_end()};
        EVP_MAC *m = EVP_MAC_fetch(NULL, "HMAC", NULL);
        EVP_MAC_CTX *h = m ? EVP_MAC_CTX_new(m) : NULL;
        bool ok =
            h &&
            EVP_MAC_init(h, (const unsigned char *)secret, strlen(secret),
                         params) == 1 &&
            EVP_MAC_update(h, (const unsigned char *)prefix, (size_t)n) == 1 &&
            EVP_MAC_update(h, (const unsigned char *)body, len) == 1 &&
            EVP_MAC_final(h, mac, &maclen, sizeof mac) == 1 &&
            maclen == sizeof mac;

        EVP_MAC_CTX_free(h);
        EVP_MAC_free(m);
        if (!ok)
                return tl_fail(err, TL_EIO, "HMAC-SHA256 failed");
        hex(mac, maclen, out);
        return TL_OK;
}

int64_t api_webhooks_backoff_ms(long attempt, long base_ms, long max_ms,
                                uint32_t rnd)
{
        int64_t step = base_ms;

        for (long i = 1; i < attempt && step < max_ms; i++)
                step *= 2;
        if (step > max_ms)
                step = max_ms;
        /* Integers only: step <= max_ms (< 2^31), so the product fits. */
        return step / 2 +
               (int64_t)(((uint64_t)(step - step / 2) * rnd) / UINT32_MAX);
}
