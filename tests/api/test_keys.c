/* API keys against a real PostgreSQL: `tally keys` prints a key once and
   stores only its hash; api_keys_verify knows the right key and refuses
   every other one with the same message; list and revoke. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "../../api/src/internal.h"
#include "api/keys.h"
#include "schemas/event.h"
#include "testkit.h"

TK_INTEGRATION_PRE_ALL()
TK_INTEGRATION_POST_ALL()

static const char REFUSED[] = "invalid or expired API key";

static PGconn *fresh(const char *name)
{
        PGconn *c;

        tk_require_env();
        c = tk_pg_fresh_db(name);
        cr_assert(c);
        setenv("PGDATABASE", name, 1);
        return c;
}

/* `tally ARGS...` (NULL-terminated), its result in 'r'. */
static void tally(struct tk_proc_result *r, ...)
{
        const char *argv[20];
        int n = 0;
        va_list ap;

        argv[n++] = tk_tally_bin();
        va_start(ap, r);
        while (n < 19 && (argv[n] = va_arg(ap, const char *)) != NULL)
                n++;
        va_end(ap);
        argv[n] = NULL;
        cr_assert_eq(tk_run(argv, 60000, r), 0, "tally did not finish");
}

/* `tally keys create --scope SCOPE --name NAME`: the key it printed. */
static void create(const char *name, const char *scope,
                   char key[API_KEY_LEN + 1])
{
        struct tk_proc_result r;

        tally(&r, "keys", "create", "--scope", scope, "--name", name, NULL);
        cr_assert_eq(r.exit_code, 0, "exit %d: %s", r.exit_code, r.err);
        cr_assert_eq(strlen(r.out), API_KEY_LEN + 1, "stdout: '%s'", r.out);
        cr_assert_eq(r.out[API_KEY_LEN], '\n');
        memcpy(key, r.out, API_KEY_LEN);
        key[API_KEY_LEN] = '\0';
        tk_proc_result_release(&r);
}

static void refused(PGconn *c, const char *key, size_t len, const char *what)
{
        struct api_principal p;
        struct tl_error e = {0};

        cr_assert_eq(api_keys_verify(c, key, len, &p, &e), TL_EAUTH, "%s: %s",
                     what, e.msg);
        cr_assert_str_eq(e.msg, REFUSED, "%s", what);
}

Test(keys, create_prints_the_key_once_and_stores_only_its_hash)
{
        PGconn *c = fresh("keys_hash");
        struct tk_proc_result r;
        unsigned char h[SCH_HASH_BYTES];
        char key[API_KEY_LEN + 1], want[2 * SCH_HASH_BYTES + 1], *v;
        const char *secret;
        PGresult *res;

        tally(&r, "keys", "create", "--scope", "admin", "--name", "ops", NULL);
        cr_assert_eq(r.exit_code, 0, "%s", r.err);
        cr_assert_eq(strlen(r.out), API_KEY_LEN + 1, "one line: '%s'", r.out);
        memcpy(key, r.out, API_KEY_LEN);
        key[API_KEY_LEN] = '\0';
        cr_assert(strncmp(key, "tly_", 4) == 0 && key[20] == '_', "%s", key);
        secret = key + 21;
        cr_assert(strstr(r.err, "ops") && strstr(r.err, "admin"), "%s", r.err);
        cr_assert_null(strstr(r.err, secret), "the note holds no secret");
        tk_proc_result_release(&r);

        /* Every column, as text, of every row. */
        res = PQexec(c, "SELECT t::text, encode(secret_hash, 'hex'), "
                        "encode(secret_hash, 'escape'), "
                        "encode(secret_hash, 'base64') FROM api_keys t");
        cr_assert_eq(PQresultStatus(res), PGRES_TUPLES_OK);
        cr_assert_eq(PQntuples(res), 1);
        for (int i = 0; i < PQnfields(res); i++) {
                const char *cell = PQgetvalue(res, 0, i);

                cr_assert_null(strstr(cell, key), "column %d holds the key", i);
                cr_assert_null(strstr(cell, secret),
                               "column %d holds the secret", i);
        }
        sch_sha256(key, API_KEY_LEN, h);
        for (int i = 0; i < SCH_HASH_BYTES; i++)
                snprintf(want + 2 * i, 3, "%02x", h[i]);
        cr_assert_str_eq(PQgetvalue(res, 0, 1), want, "SHA-256 of the key");
        PQclear(res);
        v = tk_scalar(c, "SELECT key_id FROM api_keys");
        cr_assert(strncmp(v, key + 4, 16) == 0 && strlen(v) == 16, "%s", v);
        free(v);

        /* A second create makes another key. */
        tally(&r, "keys", "create", "--scope", "admin", NULL);
        cr_assert_eq(r.exit_code, 0, "%s", r.err);
        cr_assert(strncmp(r.out, key, API_KEY_LEN) != 0);
        cr_assert(strstr(r.err, "'key-"), "a generated name: %s", r.err);
        tk_proc_result_release(&r);
        PQfinish(c);
}

Test(keys, verify_returns_the_principal_of_the_right_key)
{
        PGconn *c = fresh("keys_verify");
        struct api_principal p;
        struct tl_error e = {0};
        char admin[API_KEY_LEN + 1], ingest[API_KEY_LEN + 1],
            cust[API_KEY_LEN + 1];

        create("root", "admin", admin);
        create("gateway", "events:write", ingest);
        create("acme.dash", "customer:cust_0042", cust);
        cr_assert_eq(api_keys_verify(c, admin, API_KEY_LEN, &p, &e), TL_OK,
                     "%s", e.msg);
        cr_assert_str_eq(p.name, "root");
        cr_assert_eq(p.kind, API_SCOPE_ADMIN);
        cr_assert_eq(api_keys_verify(c, ingest, API_KEY_LEN, &p, &e), TL_OK,
                     "%s", e.msg);
        cr_assert_str_eq(p.name, "gateway");
        cr_assert_eq(p.kind, API_SCOPE_EVENTS_WRITE);
        cr_assert_eq(api_keys_verify(c, cust, API_KEY_LEN, &p, &e), TL_OK, "%s",
                     e.msg);
        cr_assert_str_eq(p.name, "acme.dash");
        cr_assert_eq(p.kind, API_SCOPE_CUSTOMER);
        cr_assert_str_eq(p.customer, "cust_0042");
        PQfinish(c);
}

Test(keys, malformed_keys_are_refused_with_the_one_message)
{
        PGconn *c = fresh("keys_malformed");
        char key[API_KEY_LEN + 1], bad[API_KEY_LEN + 2];

        create("k", "admin", key);
        refused(c, "", 0, "empty");
        refused(c, key, API_KEY_LEN - 1, "short");
        memcpy(bad, key, API_KEY_LEN);
        bad[API_KEY_LEN] = 'a';
        refused(c, bad, API_KEY_LEN + 1, "long");
        memcpy(bad, key, API_KEY_LEN + 1);
        bad[0] = 'x';
        refused(c, bad, API_KEY_LEN, "wrong prefix");
        memcpy(bad, key, API_KEY_LEN + 1);
        bad[20] = '-';
        refused(c, bad, API_KEY_LEN, "wrong separator");
        memcpy(bad, key, API_KEY_LEN + 1);
        bad[30] = 'g';
        refused(c, bad, API_KEY_LEN, "not hex");
        memcpy(bad, key, API_KEY_LEN + 1);
        bad[30] = bad[30] >= 'a' ? 'A' : '\'';
        refused(c, bad, API_KEY_LEN, "upper case or a quote");
        memcpy(bad, key, API_KEY_LEN + 1);
        bad[10] = '\0';
        refused(c, bad, API_KEY_LEN, "a NUL inside");
        refused(c, NULL, 0, "no key");
        PQfinish(c);
}

Test(keys, unknown_wrong_revoked_and_expired_keys_are_refused_alike)
{
        PGconn *c = fresh("keys_refused");
        struct api_principal p;
        struct tl_error e = {0};
        struct tk_proc_result r;
        char key[API_KEY_LEN + 1], old[API_KEY_LEN + 1], bad[API_KEY_LEN + 1];

        create("live", "admin", key);
        create("old", "events:write", old);

        memcpy(bad, key, sizeof bad);
        bad[5] = bad[5] == '0' ? '1' : '0';
        refused(c, bad, API_KEY_LEN, "unknown id");
        memcpy(bad, key, sizeof bad);
        bad[API_KEY_LEN - 1] = bad[API_KEY_LEN - 1] == '0' ? '1' : '0';
        refused(c, bad, API_KEY_LEN, "right id, wrong secret");

        tk_exec(c, "UPDATE api_keys SET expires_at = now() - interval '1 "
                   "second' WHERE name = 'old'");
        refused(c, old, API_KEY_LEN, "expired");

        cr_assert_eq(api_keys_verify(c, key, API_KEY_LEN, &p, &e), TL_OK, "%s",
                     e.msg);
        tally(&r, "keys", "revoke", "live", NULL);
        cr_assert_eq(r.exit_code, 0, "%s", r.err);
        tk_proc_result_release(&r);
        refused(c, key, API_KEY_LEN, "revoked");
        PQfinish(c);
}

Test(keys, a_taken_name_is_refused_and_prints_no_key)
{
        PGconn *c = fresh("keys_taken");
        struct tk_proc_result r;
        char key[API_KEY_LEN + 1], *v;

        create("ops", "admin", key);
        tally(&r, "keys", "create", "--scope", "events:write", "--name", "ops",
              NULL);
        cr_assert_eq(r.exit_code, 1, "exit %d", r.exit_code);
        cr_assert_str_eq(r.out, "", "no key printed");
        cr_assert(strstr(r.err, "'ops' already exists"), "%s", r.err);
        tk_proc_result_release(&r);
        v = tk_scalar(c, "SELECT count(*) || ' ' || min(scope) FROM api_keys");
        cr_assert_str_eq(v, "1 admin", "the first key is untouched");
        free(v);
        PQfinish(c);
}

Test(keys, bad_input_exits_2_naming_the_rule)
{
        PGconn *c = fresh("keys_badinput");
        struct tk_proc_result r;
        char *v;

        tally(&r, "keys", "create", "--scope", "customer:", NULL);
        cr_assert_eq(r.exit_code, 2);
        cr_assert(strstr(r.err, "admin, events:write or customer:<id>"), "%s",
                  r.err);
        tk_proc_result_release(&r);

        tally(&r, "keys", "create", "--scope", "root", NULL);
        cr_assert_eq(r.exit_code, 2);
        cr_assert(strstr(r.err, "--scope"), "%s", r.err);
        tk_proc_result_release(&r);

        tally(&r, "keys", "create", "--scope", "admin", "--name", "a b", NULL);
        cr_assert_eq(r.exit_code, 2);
        cr_assert(strstr(r.err, "name: expected 1..64"), "%s", r.err);
        cr_assert_str_eq(r.out, "");
        tk_proc_result_release(&r);

        tally(&r, "keys", "create", "--name", "x", NULL);
        cr_assert_eq(r.exit_code, 2);
        cr_assert(strstr(r.err, "--scope"), "%s", r.err);
        tk_proc_result_release(&r);

        tally(&r, "keys", "create", "--scope", "admin", "--expires",
              "2026-02-30", NULL);
        cr_assert_eq(r.exit_code, 2);
        cr_assert(strstr(r.err, "--expires"), "%s", r.err);
        tk_proc_result_release(&r);

        tally(&r, "keys", "create", "--scope", "admin", "--expires",
              "2001-01-01", NULL);
        cr_assert_eq(r.exit_code, 2);
        cr_assert(strstr(r.err, "past"), "%s", r.err);
        tk_proc_result_release(&r);

        tally(&r, "keys", "rotate", NULL);
        cr_assert_eq(r.exit_code, 2);
        tk_proc_result_release(&r);

        v = tk_scalar(c, "SELECT count(*) FROM api_keys");
        cr_assert_str_eq(v, "0", "nothing was created");
        free(v);
        PQfinish(c);
}

Test(keys, a_date_expires_at_the_end_of_that_day_utc)
{
        PGconn *c = fresh("keys_expires");
        struct tk_proc_result r;
        char *v;

        tally(&r, "keys", "create", "--scope", "admin", "--name", "d",
              "--expires", "2099-12-31", NULL);
        cr_assert_eq(r.exit_code, 0, "%s", r.err);
        cr_assert(strstr(r.err, "2099-12-31T23:59:59"), "%s", r.err);
        tk_proc_result_release(&r);
        tally(&r, "keys", "create", "--scope", "admin", "--name", "t",
              "--expires", "2099-06-01T12:00:00+02:00", NULL);
        cr_assert_eq(r.exit_code, 0, "%s", r.err);
        tk_proc_result_release(&r);
        v = tk_scalar(c, "SELECT string_agg(to_char(expires_at AT TIME ZONE "
                         "'UTC', 'YYYY-MM-DD HH24:MI:SS.US'), ',' ORDER BY "
                         "name) FROM api_keys");
        cr_assert_str_eq(v, "2099-12-31 23:59:59.999999,2099-06-01 "
                            "10:00:00.000000");
        free(v);
        PQfinish(c);
}

/* The line of 'out' that starts with 'name' and a space. */
static const char *row(const char *out, const char *name)
{
        size_t n = strlen(name);

        for (const char *l = out; l && *l; l = strchr(l, '\n') + 1) {
                if (strncmp(l, name, n) == 0 && l[n] == ' ')
                        return l;
                if (!strchr(l, '\n'))
                        break;
        }
        return NULL;
}

static void row_says(const char *out, const char *name, const char *state,
                     const char *scope)
{
        const char *l = row(out, name);
        const char *end;

        cr_assert(l, "no row for %s in:\n%s", name, out);
        end = strchr(l, '\n');
        cr_assert(end);
        cr_assert(strstr(l, state) && strstr(l, state) < end, "%s: %.*s", state,
                  (int)(end - l), l);
        cr_assert(strstr(l, scope) && strstr(l, scope) < end, "%s: %.*s", scope,
                  (int)(end - l), l);
}

Test(keys, list_shows_each_state_and_no_secret)
{
        PGconn *c = fresh("keys_list");
        struct tk_proc_result r;
        char a[API_KEY_LEN + 1], b[API_KEY_LEN + 1], d[API_KEY_LEN + 1];
        char id[17];

        create("alive", "customer:cust_7", a);
        create("gone", "admin", b);
        create("stale", "events:write", d);
        tally(&r, "keys", "revoke", "gone", NULL);
        cr_assert_eq(r.exit_code, 0, "%s", r.err);
        tk_proc_result_release(&r);
        tk_exec(c, "UPDATE api_keys SET expires_at = now() - interval '1 "
                   "day' WHERE name = 'stale'");

        tally(&r, "keys", "list", NULL);
        cr_assert_eq(r.exit_code, 0, "%s", r.err);
        cr_assert(strncmp(r.out, "NAME ", 5) == 0, "a header:\n%s", r.out);
        row_says(r.out, "alive", "active", "customer:cust_7");
        row_says(r.out, "gone", "revoked", "admin");
        row_says(r.out, "stale", "expired", "events:write");
        cr_assert(strstr(row(r.out, "alive"), "never"), "%s", r.out);
        for (int i = 0; i < 3; i++) {
                const char *k = i == 0 ? a : i == 1 ? b : d;

                memcpy(id, k + 4, 16);
                id[16] = '\0';
                cr_assert_null(strstr(r.out, k + 21), "a secret is listed");
                cr_assert_null(strstr(r.out, id), "an id is listed");
        }
        cr_assert_null(strstr(r.out, "tly_"));
        tk_proc_result_release(&r);
        PQfinish(c);
}

Test(keys, revoking_an_unknown_or_revoked_name_exits_2)
{
        PGconn *c = fresh("keys_revoke");
        struct tk_proc_result r;
        char key[API_KEY_LEN + 1];

        tally(&r, "keys", "revoke", "nobody", NULL);
        cr_assert_eq(r.exit_code, 2, "exit %d", r.exit_code);
        cr_assert(strstr(r.err, "'nobody'"), "%s", r.err);
        tk_proc_result_release(&r);

        create("once", "admin", key);
        tally(&r, "keys", "revoke", "once", NULL);
        cr_assert_eq(r.exit_code, 0, "%s", r.err);
        tk_proc_result_release(&r);
        tally(&r, "keys", "revoke", "once", NULL);
        cr_assert_eq(r.exit_code, 2, "a second revoke: exit %d", r.exit_code);
        tk_proc_result_release(&r);

        tally(&r, "keys", "revoke", NULL);
        cr_assert_eq(r.exit_code, 2);
        tk_proc_result_release(&r);
        PQfinish(c);
}

/* ---- the server's cache of verified keys -------------------------------- */

static tl_status cached(struct api__key_cache *kc, PGconn *c, const char *key)
{
        struct api_principal p;
        struct tl_error e = {0};

        return api__key_verify(kc, c, key, strlen(key), &p, &e);
}

Test(keys, a_revoked_key_is_refused_once_its_cache_entry_is_older_than_the_ttl)
{
        PGconn *c = fresh("keys_cache_revoke");
        struct api__key_cache kc;
        struct tl_error e = {0};
        char key[API_KEY_LEN + 1];
        int64_t t0;
        int n = 0;

        create("live", "admin", key);
        cr_assert_eq(api__key_cache_init(&kc, 300000, &e), TL_OK);
        cr_assert_eq(cached(&kc, c, key), TL_OK);
        tk_exec(c, "UPDATE api_keys SET revoked_at = now() WHERE name = "
                   "'live'");
        t0 = tl_time_now_us();
        while (cached(&kc, c, key) == TL_OK) {
                n++;
                usleep(10000);
        }
        cr_expect_gt(n, 0, "inside the TTL the cached answer stands");
        cr_expect_leq(tl_time_now_us() - t0, 300000 + 100000,
                      "refused %lld us after the revocation, TTL 300 ms",
                      (long long)(tl_time_now_us() - t0));
        cr_expect_eq(cached(&kc, c, key), TL_EAUTH, "and stays refused");
        api__key_cache_release(&kc);
        PQfinish(c);
}

Test(keys, a_cached_key_is_refused_when_it_expires_inside_the_ttl)
{
        PGconn *c = fresh("keys_cache_expiry");
        struct api__key_cache kc;
        struct tl_error e = {0};
        char key[API_KEY_LEN + 1];

        create("soon", "admin", key);
        tk_exec(c, "UPDATE api_keys SET expires_at = now() + interval "
                   "'400 milliseconds' WHERE name = 'soon'");
        cr_assert_eq(api__key_cache_init(&kc, 60000000, &e), TL_OK);
        cr_assert_eq(cached(&kc, c, key), TL_OK);
        usleep(600000);
        cr_expect_eq(cached(&kc, c, key), TL_EAUTH,
                     "expired 200 ms ago, with a minute of TTL left");
        api__key_cache_release(&kc);
        PQfinish(c);
}

Test(keys, a_cached_key_answers_for_itself_only)
{
        PGconn *c = fresh("keys_cache_other");
        struct api__key_cache kc;
        struct tl_error e = {0};
        char key[API_KEY_LEN + 1], bad[API_KEY_LEN + 1];

        create("live", "admin", key);
        cr_assert_eq(api__key_cache_init(&kc, 60000000, &e), TL_OK);
        cr_assert_eq(cached(&kc, c, key), TL_OK);
        memcpy(bad, key, sizeof bad);
        bad[API_KEY_LEN - 1] = bad[API_KEY_LEN - 1] == '0' ? '1' : '0';
        cr_expect_eq(cached(&kc, c, bad), TL_EAUTH, "right id, wrong secret");
        cr_expect_eq(cached(&kc, c, key), TL_OK);
        bad[0] = 'x';
        cr_expect_eq(cached(&kc, c, bad), TL_EAUTH, "malformed");
        api__key_cache_release(&kc);
        PQfinish(c);
}
