/* API keys: creation from OpenSSL's random bytes, SHA-256 storage, listing,
   revocation and constant-time verification (api/keys.h). */
#include "api/keys.h"
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "schemas/event.h"
#include "schemas/db.h"

#define PREFIX "tly_"
#define PREFIX_LEN 4
#define ID_BYTES 8
#define SECRET_BYTES 32
#define ID_HEX (2 * ID_BYTES)
#define SECRET_HEX (2 * SECRET_BYTES)

/* One message for every refusal: which check failed is nobody's business. */
static const char BAD_KEY[] = "invalid or expired API key";

static void hex(const unsigned char *in, size_t n, char *out)
{
        static const char digits[] = "0123456789abcdef";

        for (size_t i = 0; i < n; i++) {
                out[2 * i] = digits[in[i] >> 4];
                out[2 * i + 1] = digits[in[i] & 15];
        }
}

static bool is_hex(const char *s, size_t n)
{
        for (size_t i = 0; i < n; i++)
                if (!((s[i] >= '0' && s[i] <= '9') ||
                      (s[i] >= 'a' && s[i] <= 'f')))
                        return false;
        return true;
}

static bool name_ok(const char *name)
{
        size_t n = name ? strlen(name) : 0;

        if (n < 1 || n > API_KEY_NAME_MAX)
                return false;
        for (size_t i = 0; i < n; i++) {
                char c = name[i];

                if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                      (c >= '0' && c <= '9') || c == '.' || c == '_' ||
                      c == '-'))
                        return false;
        }
        return true;
}

/*
** The database's reason for a failed statement: its primary message only,
** because the DETAIL of a constraint violation quotes the row, and a row of
** api_keys holds a hash that has no business in a log.
*/
static tl_status db_fail(PGconn *conn, const PGresult *res, const char *what,
                         struct tl_error *err)
{
        const char *m =
            res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;

        if (!m || !*m)
                m = PQerrorMessage(conn);
        return tl_fail(err, TL_EDB, "%s: %.*s", what, (int)strcspn(m, "\n"), m);
}

tl_status api_keys_create(PGconn *conn, const char *name, const char *scope,
                          int64_t expires_us, char *key_out,
                          struct tl_error *err)
{
        static const char SQL[] =
            "INSERT INTO api_keys (key_id, name, scope, secret_hash, "
            "expires_at) VALUES ($1, $2, $3, $4, CASE WHEN $5::bigint = 0 "
            "THEN NULL ELSE timestamptz 'epoch' + $5::bigint * interval '1 "
            "microsecond' END)";
        struct api_principal p;
        unsigned char rnd[ID_BYTES + SECRET_BYTES];
        unsigned char hash[SCH_HASH_BYTES];
        char id[ID_HEX + 1], exp[24];
        const char *params[5];
        int lengths[5] = {0, 0, 0, SCH_HASH_BYTES, 0};
        int formats[5] = {0, 0, 0, 1, 0};
        PGresult *res;
        tl_status rc = TL_OK;

        if (!name_ok(name))
                return tl_fail(err, TL_EINVAL,
                               "name: expected 1..%d characters of "
                               "A-Z a-z 0-9 . _ -",
                               API_KEY_NAME_MAX);
        if (api_scope_parse(scope, &p, err))
                return TL_EINVAL;
        if (expires_us < 0)
                return tl_fail(err, TL_EINVAL,
                               "expires: before 1970-01-01T00:00:00Z");
        if (RAND_bytes(rnd, sizeof rnd) != 1)
                return tl_fail(err, TL_EIO,
                               "no random bytes for a key (OpenSSL RAND_bytes "
                               "failed)");
        memcpy(key_out, PREFIX, PREFIX_LEN);
        hex(rnd, ID_BYTES, key_out + PREFIX_LEN);
        key_out[PREFIX_LEN + ID_HEX] = '_';
        hex(rnd + ID_BYTES, SECRET_BYTES, key_out + PREFIX_LEN + ID_HEX + 1);
        key_out[API_KEY_LEN] = '\0';
        OPENSSL_cleanse(rnd, sizeof rnd);
        memcpy(id, key_out + PREFIX_LEN, ID_HEX);
        id[ID_HEX] = '\0';
        sch_sha256(key_out, API_KEY_LEN, hash);
        snprintf(exp, sizeof exp, "%lld", (long long)expires_us);

        params[0] = id;
        params[1] = name;
        params[2] = scope;
        params[3] = (const char *)hash;
        params[4] = exp;
        res = PQexecParams(conn, SQL, 5, NULL, params, lengths, formats, 0);
        if (PQresultStatus(res) != PGRES_COMMAND_OK) {
                const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
                const char *cons =
                    PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME);

                /* 23505: unique_violation. The id colliding would take
                   2^32 keys; it is reported as a conflict all the same. */
                if (state && !strcmp(state, "23505") && cons &&
                    !strcmp(cons, "api_keys_name_key"))
                        rc = tl_fail(err, TL_ECONFLICT,
                                     "name: a key named '%s' already exists "
                                     "(revoked keys keep their name)",
                                     name);
                else if (state && !strcmp(state, "23505"))
                        rc = tl_fail(err, TL_ECONFLICT,
                                     "key id collision; create the key again");
                else
                        rc = db_fail(conn, res, "storing the key", err);
        }
        PQclear(res);
        if (rc)
                OPENSSL_cleanse(key_out, API_KEY_LEN + 1);
        return rc;
}

tl_status api_keys_revoke(PGconn *conn, const char *name, struct tl_error *err)
{
        static const char SQL[] = "UPDATE api_keys SET revoked_at = now() "
                                  "WHERE name = $1 AND revoked_at IS NULL";
        const char *params[1] = {name};
        PGresult *res;
        tl_status rc = TL_OK;

        if (!name_ok(name))
                return tl_fail(err, TL_ENOTFOUND, "no API key with that name");
        res = sch_db_exec(conn, SQL, 1, params, 0);
        if (PQresultStatus(res) != PGRES_COMMAND_OK)
                rc = db_fail(conn, res, "revoking the key", err);
        else if (strcmp(PQcmdTuples(res), "1") != 0)
                rc = tl_fail(err, TL_ENOTFOUND,
                             "no API key named '%s' that is not already "
                             "revoked",
                             name);
        PQclear(res);
        return rc;
}

/* Append 's' padded to 'width' columns; control bytes (a customer id may
   hold any UTF-8) become '?' so the listing cannot drive a terminal. */
static tl_status cell(struct tl_buf *out, const char *s, int width, bool last,
                      struct tl_error *err)
{
        size_t n = strlen(s);
        tl_status rc = TL_OK;

        for (size_t i = 0; !rc && i < n; i++) {
                unsigned char c = (unsigned char)s[i];
                char ch = (c < 0x20 || c == 0x7f) ? '?' : (char)c;

                rc = tl_buf_append(out, &ch, 1, err);
        }
        if (!rc)
                rc = last ? tl_buf_puts(out, "\n", err)
                          : tl_buf_printf(out, err, "%*s", width - (int)n + 2,
                                          "");
        return rc;
}

/* 'res' as a table under 'head' (ncols <= API__TABLE_MAX names), columns
   aligned; shared by the listings of keys and webhooks. */
tl_status api__table(const PGresult *res, const char *const *head, int ncols,
                     struct tl_buf *out, struct tl_error *err)
{
        int width[API__TABLE_MAX], rows = PQntuples(res);
        tl_status rc = TL_OK;

        if (ncols > API__TABLE_MAX)
                return tl_fail(err, TL_EINVAL, "a listing of %d columns",
                               ncols);
        for (int c = 0; c < ncols; c++) {
                width[c] = (int)strlen(head[c]);
                for (int r = 0; r < rows; r++)
                        if (PQgetlength(res, r, c) > width[c])
                                width[c] = PQgetlength(res, r, c);
        }
        for (int c = 0; !rc && c < ncols; c++)
                rc = cell(out, head[c], width[c], c == ncols - 1, err);
        for (int r = 0; !rc && r < rows; r++)
                for (int c = 0; !rc && c < ncols; c++)
                        rc = cell(out, PQgetvalue(res, r, c), width[c],
                                  c == ncols - 1, err);
        return rc;
}

tl_status api_keys_list(PGconn *conn, struct tl_buf *out, struct tl_error *err)
{
        static const char SQL[] =
            "SELECT name, scope, "
            "to_char(created_at AT TIME ZONE 'UTC', "
            "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "
            "coalesce(to_char(expires_at AT TIME ZONE 'UTC', "
            "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), 'never'), "
            "CASE WHEN revoked_at IS NOT NULL THEN 'revoked' "
            "WHEN expires_at IS NOT NULL AND expires_at <= now() "
            "THEN 'expired' ELSE 'active' END "
            "FROM api_keys ORDER BY name";
        static const char *const HEAD[] = {"NAME", "SCOPE", "CREATED",
                                           "EXPIRES", "STATE"};
        PGresult *res;
        tl_status rc;

        res = sch_db_exec(conn, SQL, 0, NULL, 0);
        if (PQresultStatus(res) != PGRES_TUPLES_OK) {
                rc = db_fail(conn, res, "listing the keys", err);
                PQclear(res);
                return rc;
        }
        rc = api__table(res, HEAD, 5, out, err);
        PQclear(res);
        return rc;
}

/* The strict shape of a key: anything else never reaches the database. */
static bool well_formed(const char *key, size_t len)
{
        return key && len == API_KEY_LEN &&
               memcmp(key, PREFIX, PREFIX_LEN) == 0 &&
               is_hex(key + PREFIX_LEN, ID_HEX) &&
               key[PREFIX_LEN + ID_HEX] == '_' &&
               is_hex(key + PREFIX_LEN + ID_HEX + 1, SECRET_HEX);
}

/* api_keys_verify, also telling when the key expires ('*expires_us',
   microseconds since the epoch; 0: never) and its hash ('want'). */
static tl_status verify(PGconn *conn, const char *key, size_t len,
                        struct api_principal *out, int64_t *expires_us,
                        unsigned char want[SCH_HASH_BYTES],
                        struct tl_error *err)
{
        static const char SQL[] =
            "SELECT name, scope, secret_hash, revoked_at IS NULL AND "
            "(expires_at IS NULL OR expires_at > now()), "
            "coalesce((extract(epoch FROM expires_at) * 1000000)::int8, 0) "
            "FROM api_keys WHERE key_id = $1";
        /* Compared against when the id is unknown, so that an unknown id
           and a wrong secret cost the same work. */
        static const unsigned char NO_HASH[SCH_HASH_BYTES];
        const unsigned char *have = NO_HASH;
        char id[ID_HEX + 1];
        const char *params[1] = {id};
        struct api_principal p;
        bool found, live = false, match;
        PGresult *res;
        tl_status rc = TL_OK;

        if (!well_formed(key, len))
                return tl_fail(err, TL_EAUTH, "%s", BAD_KEY);
        memcpy(id, key + PREFIX_LEN, ID_HEX);
        id[ID_HEX] = '\0';
        sch_sha256(key, len, want);
        /* Binary results: the hash arrives as its 32 bytes, the text
           columns as their bytes, the boolean as one byte, the expiry as
           eight in network order. */
        res = sch_db_exec(conn, SQL, 1, params, 1);
        if (PQresultStatus(res) != PGRES_TUPLES_OK) {
                rc = db_fail(conn, res, "looking up the API key", err);
                PQclear(res);
                return rc;
        }
        found = PQntuples(res) == 1 &&
                PQgetlength(res, 0, 2) == SCH_HASH_BYTES &&
                PQgetlength(res, 0, 3) == 1 && PQgetlength(res, 0, 4) == 8;
        if (found) {
                have = (const unsigned char *)PQgetvalue(res, 0, 2);
                live = PQgetvalue(res, 0, 3)[0] != 0;
        }
        match = CRYPTO_memcmp(want, have, SCH_HASH_BYTES) == 0;
        if (!found || !match || !live ||
            PQgetlength(res, 0, 0) > API_KEY_NAME_MAX ||
            PQgetlength(res, 0, 1) > API_SCOPE_MAX + 16) {
                PQclear(res);
                return tl_fail(err, TL_EAUTH, "%s", BAD_KEY);
        }
        {
                char scope[API_SCOPE_MAX + 17];
                int n = PQgetlength(res, 0, 1);

                memcpy(scope, PQgetvalue(res, 0, 1), (size_t)n);
                scope[n] = '\0';
                /* A scope the row cannot justify grants nothing. */
                if (strlen(scope) != (size_t)n ||
                    api_scope_parse(scope, &p, NULL)) {
                        PQclear(res);
                        return tl_fail(err, TL_EAUTH, "%s", BAD_KEY);
                }
        }
        {
                const unsigned char *b =
                    (const unsigned char *)PQgetvalue(res, 0, 4);
                uint64_t v = 0;

                for (int i = 0; i < 8; i++)
                        v = v << 8 | b[i];
                *expires_us = (int64_t)v;
        }
        memcpy(p.name, PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0));
        p.name[PQgetlength(res, 0, 0)] = '\0';
        PQclear(res);
        *out = p;
        return TL_OK;
}

tl_status api_keys_verify(PGconn *conn, const char *key, size_t len,
                          struct api_principal *out, struct tl_error *err)
{
        unsigned char want[SCH_HASH_BYTES];
        int64_t expires_us;

        return verify(conn, key, len, out, &expires_us, want, err);
}

/* ---- verified keys, kept for at most API__KEY_TTL_US -------------------- */

static int64_t mono_us(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

tl_status api__key_cache_init(struct api__key_cache *kc, int64_t ttl_us,
                              struct tl_error *err)
{
        memset(kc, 0, sizeof *kc);
        kc->ttl_us = ttl_us;
        if (pthread_mutex_init(&kc->lock, NULL))
                return tl_fail(err, TL_ENOMEM, "serve: no key cache lock");
        return TL_OK;
}

void api__key_cache_release(struct api__key_cache *kc)
{
        pthread_mutex_destroy(&kc->lock);
        OPENSSL_cleanse(kc->slots, sizeof kc->slots);
}

/* The slot of 'key' (hashed into 'want'), and whether it holds the key,
   accepted less than ttl_us before 'now' and not expired since. */
static bool lookup(struct api__key_cache *kc, const char *key, size_t len,
                   int64_t now, unsigned char want[SCH_HASH_BYTES],
                   struct api__cached_key **slot, struct api_principal *out)
{
        struct api__cached_key *e;
        bool hit;

        sch_sha256(key, len, want);
        e = &kc->slots[(size_t)(want[0] | want[1] << 8) % API__KEY_CACHE_SLOTS];
        *slot = e;
        pthread_mutex_lock(&kc->lock);
        /* Only a key the database accepted is here; the hash of the whole
           key decides, as in the database, so no secret is kept. */
        hit = e->until_us > now &&
              CRYPTO_memcmp(e->hash, want, SCH_HASH_BYTES) == 0 &&
              (e->expires_us == 0 || tl_time_now_us() < e->expires_us);
        if (hit)
                *out = e->who;
        pthread_mutex_unlock(&kc->lock);
        return hit;
}

bool api__key_cached(struct api__key_cache *kc, const char *key, size_t len,
                     struct api_principal *out)
{
        unsigned char want[SCH_HASH_BYTES];
        struct api__cached_key *e;

        return kc->ttl_us > 0 && well_formed(key, len) &&
               lookup(kc, key, len, mono_us(), want, &e, out);
}

tl_status api__key_verify(struct api__key_cache *kc, PGconn *conn,
                          const char *key, size_t len,
                          struct api_principal *out, struct tl_error *err)
{
        unsigned char want[SCH_HASH_BYTES];
        struct api__cached_key *e;
        int64_t expires_us = 0, now = mono_us();
        tl_status rc;

        if (kc->ttl_us <= 0 || !well_formed(key, len))
                return api_keys_verify(conn, key, len, out, err);
        if (lookup(kc, key, len, now, want, &e, out))
                return TL_OK;
        rc = verify(conn, key, len, out, &expires_us, want, err);
        if (rc)
                return rc;
        pthread_mutex_lock(&kc->lock);
        memcpy(e->hash, want, SCH_HASH_BYTES);
        e->who = *out;
        e->expires_us = expires_us;
        /* From before the lookup: a revocation committed after the
           database answered is seen within ttl_us of it. */
        e->until_us = now + kc->ttl_us;
        pthread_mutex_unlock(&kc->lock);
        return TL_OK;
}
