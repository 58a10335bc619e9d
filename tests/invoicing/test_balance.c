/* Credit grants with expiry: the spending order of the close, the draft
   to date spending the same, and the balance, all against hand-computed
   values on the worked example (cust_0042's October subtotal is 100.00). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "core/time.h"
#include "invoicing/invoicing.h"
#include "meterkit.h"
#include "rating/catalog.h"

TK_INTEGRATION_PRE_ALL()
TK_INTEGRATION_POST_ALL()

static char worked[400], catalog[512];

static void run_tally(struct tk_proc_result *r, const char *const *args)
{
        const char *argv[24];
        int n = 0;

        argv[n++] = tk_tally_bin();
        while (n < 23 && args[n - 1])
                argv[n] = args[n - 1], n++;
        argv[n] = NULL;
        cr_assert_eq(tk_run(argv, 120000, r), 0, "tally did not finish");
}

static void start(struct mk_case *c, const char *name)
{
        struct tk_proc_result r;
        char file[600];

        snprintf(worked, sizeof worked, "%s/tests/rating/worked",
                 tk_source_dir());
        snprintf(catalog, sizeof catalog, "%s/catalog.yaml", worked);
        snprintf(file, sizeof file, "%s/customers.yaml", worked);
        mk_case_start(c, name, 1, 1);
        mk_sh("kcat -P -b '%s' -t '%s' -l '%s/events.jsonl'",
              c->broker.bootstrap, c->name, worked);
        mk_meter_drain(c);
        run_tally(&r, (const char *[]){"customers", "import", file, NULL});
        cr_assert_eq(r.exit_code, 0, "%s", r.err);
        tk_proc_result_release(&r);
        /* G1 expires mid-October; G4 in November; G2 in December; G3 never. */
        tk_exec(c->db, "INSERT INTO credit_ledger (customer_id, amount,"
                       " reason, expires_at) VALUES"
                       " ('cust_0042', 30.00, 'api', '2026-10-20T00:00:00Z'),"
                       " ('cust_0042', 40.00, 'api', '2026-12-31T00:00:00Z'),"
                       " ('cust_0042', 50.00, 'api', NULL),"
                       " ('cust_0042', 20.00, 'api', '2026-11-15T00:00:00Z')");
}

static char *sql_text(PGconn *db, const char *sql)
{
        char *s = tk_scalar(db, sql);

        cr_assert(s, "%s", sql);
        return s;
}

/* What the October invoice drew from the grant of 'amount', as text. */
static void drawn(PGconn *db, const char *amount, const char *want)
{
        char sql[512], *s;

        snprintf(sql, sizeof sql,
                 "SELECT coalesce(sum(d.amount), 0)::numeric(24,2)::text"
                 " FROM credit_ledger g LEFT JOIN credit_ledger d"
                 " ON d.grant_id = g.entry_id AND d.invoice_id IS NOT NULL"
                 " WHERE g.customer_id = 'cust_0042' AND g.grant_id IS NULL"
                 " AND g.amount = %s",
                 amount);
        s = sql_text(db, sql);
        cr_assert_str_eq(s, want, "grant %s drew %s, expected %s", amount, s,
                         want);
        free(s);
}

Test(balance,
     the_close_spends_the_earliest_expiry_first_and_never_an_expired_grant,
     .timeout = 300)
{
        struct mk_case c;
        struct tk_proc_result r;
        char *s;

        start(&c, "bal_close");
        /* The draft of October spends what the close will: at October's
           end G1 has expired, so 20 + 40 + 50 = 110 is available. */
        run_tally(&r, (const char *[]){"usage", "--customer", "cust_0042",
                                       "--period", "2026-10", "--rules",
                                       catalog, "--format", "json", NULL});
        cr_assert_eq(r.exit_code, 0, "%s", r.err);
        cr_assert(strstr(r.out, "\"credit\":\"-100.00\""), "%s", r.out);
        tk_proc_result_release(&r);
        run_tally(&r,
                  (const char *[]){"invoice", "--period", "2026-10", "--rules",
                                   catalog, "--finalize", "--as-of",
                                   "2026-11-04", "--quiet", NULL});
        cr_assert_eq(r.exit_code, 0, "%s %s", r.out, r.err);
        tk_proc_result_release(&r);
        s = sql_text(c.db, "SELECT body::json->>'credit' FROM invoices"
                           " WHERE customer_id = 'cust_0042'"
                           " AND period_start = '2026-10-01'");
        cr_assert_str_eq(s, "-100.00");
        free(s);
        /* 100 drawn: G4 (expires first) 20, G2 40, then G3 (no expiry) 40;
           G1 expired before the period ended and keeps its 30 unspent. */
        drawn(c.db, "20.00", "-20.00");
        drawn(c.db, "40.00", "-40.00");
        drawn(c.db, "50.00", "-40.00");
        drawn(c.db, "30.00", "0.00");
        /* One row per grant drawn, all naming the invoice. */
        s = sql_text(c.db, "SELECT count(*) FROM credit_ledger l JOIN invoices"
                           " i USING (invoice_id) WHERE l.grant_id IS NOT NULL"
                           " AND i.customer_id = 'cust_0042'");
        cr_assert_str_eq(s, "3");
        free(s);
        /* A void gives each grant back what the invoice drew from it,
           once. */
        s = sql_text(c.db, "SELECT tally_credit_return(invoice_id, 'void')"
                           "::numeric(24,2)::text FROM invoices WHERE"
                           " customer_id = 'cust_0042'"
                           " AND period_start = '2026-10-01'");
        cr_assert_str_eq(s, "100.00");
        free(s);
        s = sql_text(c.db, "SELECT tally_credit_return(invoice_id, 'void')"
                           "::numeric(24,2)::text FROM invoices WHERE"
                           " customer_id = 'cust_0042'"
                           " AND period_start = '2026-10-01'");
        cr_assert_str_eq(s, "0.00");
        free(s);
        drawn(c.db, "20.00", "0.00");
        drawn(c.db, "40.00", "0.00");
        drawn(c.db, "50.00", "0.00");
        mk_case_stop(&c);
}

static void balance_at(PGconn *db, const char *when, const char *left,
                       const char *draft, const char *balance)
{
        struct rate_catalog_set *set = NULL;
        struct rate_diags diags;
        struct inv_config cfg;
        struct inv_balance b;
        struct tl_error err = {TL_OK, ""};
        char t[40], got[64];

        memset(&diags, 0, sizeof diags);
        inv_config_init(&cfg);
        snprintf(t, sizeof t, "%sZ", when);
        cr_assert_eq(tl_time_parse_rfc3339(t, strlen(t), &cfg.now_us, NULL),
                     TL_OK);
        cr_assert_eq(rate_catalog_set_load(catalog, &set, &diags, &err), TL_OK,
                     "%s", err.msg);
        cr_assert_eq(inv_balance(db, &cfg, set, "cust_0042", &b, &err), TL_OK,
                     "%s", err.msg);
        cr_assert_str_eq(b.currency, "USD");
        tl_dec_format(&b.credit_left, got, sizeof got);
        cr_assert_str_eq(got, left, "%s: credit left %s", when, got);
        tl_dec_format(&b.draft, got, sizeof got);
        cr_assert_str_eq(got, draft, "%s: draft %s", when, got);
        tl_dec_format(&b.balance, got, sizeof got);
        cr_assert_str_eq(got, balance, "%s: balance %s", when, got);
        rate_catalog_set_free(&set);
        inv_config_release(&cfg);
}

Test(balance,
     is_unexpired_grants_less_draws_less_the_draft_and_drops_at_an_expiry,
     .timeout = 300)
{
        struct mk_case c;
        struct tk_proc_result r;

        start(&c, "bal_balance");
        /* 10 October: all four grants (140) less October's draft (100). */
        balance_at(c.db, "2026-10-10T12:00:00", "140.000000", "100.00",
                   "40.000000");
        /* 25 October: G1 (30) expired on the 20th. */
        balance_at(c.db, "2026-10-25T12:00:00", "110.000000", "100.00",
                   "10.000000");
        run_tally(&r,
                  (const char *[]){"invoice", "--period", "2026-10", "--rules",
                                   catalog, "--finalize", "--as-of",
                                   "2026-11-04", "--quiet", NULL});
        cr_assert_eq(r.exit_code, 0, "%s %s", r.out, r.err);
        tk_proc_result_release(&r);
        /* 20 November: October drew 100 (G4 20, G2 40, G3 40); G4 expired
           on the 15th with nothing left, G3 keeps 10. November's draft:
           the 49.00 platform fee and no usage, floored by the minimum at
           100.00. Balance 10 - 100 = -90. */
        balance_at(c.db, "2026-11-20T12:00:00", "10.000000", "100.00",
                   "-90.000000");
        mk_case_stop(&c);
}

Test(balance, a_customers_overrides_are_stored_and_read_back_by_the_draft,
     .timeout = 300)
{
        struct mk_case c;
        struct tk_proc_result r;
        char file[256], *s;
        FILE *f;

        start(&c, "bal_controls");
        snprintf(file, sizeof file, "%s/overrides.yaml", c.dir);
        f = fopen(file, "w");
        cr_assert_not_null(f);
        fputs("customers:\n"
              "  - id: cust_0042\n"
              "    plan: pro\n"
              "    start: 2026-09-01\n"
              "    limits: { cloud-output: { hard: 70000000 } }\n"
              "    alerts:\n"
              "      - { id: spend-80, spend_at_least: 80.00 }\n"
              "    wallet: { low_balance: 10.00 }\n",
              f);
        fclose(f);
        run_tally(&r, (const char *[]){"customers", "import", file, NULL});
        cr_assert_eq(r.exit_code, 0, "%s", r.err);
        tk_proc_result_release(&r);
        s = sql_text(c.db, "SELECT concat_ws(' ', controls->'limits'->"
                           "'cloud-output'->>'hard', controls->'alerts'->0->>"
                           "'spend_at_least', controls->'wallet'->>"
                           "'low_balance') FROM customers"
                           " WHERE customer_id = 'cust_0042'");
        cr_assert_str_eq(s, "70000000 80.00 10.00");
        free(s);
        /* The draft reads the customer, overrides included, and prices as
           before. */
        run_tally(&r, (const char *[]){"usage", "--customer", "cust_0042",
                                       "--period", "2026-10", "--rules",
                                       catalog, "--format", "json", NULL});
        cr_assert_eq(r.exit_code, 0, "%s", r.err);
        cr_assert(strstr(r.out, "\"subtotal\":\"100.00\""), "%s", r.out);
        tk_proc_result_release(&r);
        mk_case_stop(&c);
}

static void import_credits(struct mk_case *c, const char *credits)
{
        struct tk_proc_result r;
        char file[256];
        FILE *f;

        snprintf(file, sizeof file, "%s/grants.yaml", c->dir);
        f = fopen(file, "w");
        cr_assert_not_null(f);
        fprintf(f,
                "customers:\n  - id: cust_0042\n    plan: pro\n"
                "    start: 2026-09-01\n    credits:\n%s",
                credits);
        fclose(f);
        run_tally(&r, (const char *[]){"customers", "import", file, NULL});
        cr_assert_eq(r.exit_code, 0, "%s", r.err);
        tk_proc_result_release(&r);
}

Test(balance,
     the_customers_file_grants_per_expiry_and_a_reimport_only_the_difference,
     .timeout = 300)
{
        struct mk_case c;
        struct tk_proc_result r;
        char *s;

        start(&c, "bal_file");
        tk_exec(c.db, "DELETE FROM credit_ledger");
        import_credits(&c, "      - { amount: 30.00, expires_at: 2026-10-20 }\n"
                           "      - { amount: 50.00 }\n");
        import_credits(&c, "      - { amount: 30.00, expires_at: 2026-10-20 }\n"
                           "      - { amount: 50.00 }\n");
        s = sql_text(c.db, "SELECT string_agg(amount::numeric(24,2) || ' ' ||"
                           " coalesce(to_char(expires_at AT TIME ZONE 'UTC',"
                           " 'YYYY-MM-DD'), '-'), ', ' ORDER BY amount)"
                           " FROM credit_ledger");
        cr_assert_str_eq(s, "30.00 2026-10-20, 50.00 -");
        free(s);
        /* 50 -> 40: the 10 is taken back from the grant without expiry. */
        import_credits(&c, "      - { amount: 30.00, expires_at: 2026-10-20 }\n"
                           "      - { amount: 40.00 }\n");
        s = sql_text(c.db, "SELECT count(*) || ' ' || sum(d.amount)::numeric("
                           "24,2) FROM credit_ledger d JOIN credit_ledger g"
                           " ON d.grant_id = g.entry_id WHERE g.amount = 50");
        cr_assert_str_eq(s, "1 -10.00");
        free(s);
        /* October may spend only the 40: the 30 expired on the 20th. */
        run_tally(&r, (const char *[]){"usage", "--customer", "cust_0042",
                                       "--period", "2026-10", "--rules",
                                       catalog, "--format", "json", NULL});
        cr_assert_eq(r.exit_code, 0, "%s", r.err);
        cr_assert(strstr(r.out, "\"credit\":\"-40.00\""), "%s", r.out);
        tk_proc_result_release(&r);
        mk_case_stop(&c);
}

/* The DO block of 0010_balances.sql: what it does to rows written before
   it, run here on rows written the old way. */
static char *backfill_sql(void)
{
        char path[512], *text, *from, *to;
        size_t len;
        FILE *f;

        snprintf(path, sizeof path, "%s/schemas/sql/0010_balances.sql",
                 tk_source_dir());
        f = fopen(path, "r");
        cr_assert_not_null(f, "%s", path);
        text = calloc(1, 1 << 16);
        len = fread(text, 1, (1 << 16) - 1, f);
        fclose(f);
        text[len] = '\0';
        from = strstr(text, "DO $$");
        to = from ? strstr(from, "END $$;") : NULL;
        cr_assert(from && to, "no DO block in %s", path);
        to[strlen("END $$;")] = '\0';
        memmove(text, from, strlen(from) + 1);
        return text;
}

Test(balance, draws_written_before_0010_are_split_over_the_grants_in_order,
     .timeout = 300)
{
        struct mk_case c;
        char *sql, *s;

        start(&c, "bal_backfill");
        tk_exec(c.db, "DELETE FROM credit_ledger");
        tk_exec(c.db, "ALTER TABLE credit_ledger DROP CONSTRAINT"
                      " credit_ledger_draw_names_grant");
        /* Two grants, then two draws that name no grant, as before 0010. */
        tk_exec(c.db, "INSERT INTO credit_ledger (customer_id, amount, reason,"
                      " invoice_id) VALUES ('cust_0042', 30, 'import', NULL),"
                      " ('cust_0042', 50, 'api', NULL),"
                      " ('cust_0042', -40, 'invoice', 7),"
                      " ('cust_0042', -20, 'invoice', 8)");
        sql = backfill_sql();
        tk_exec(c.db, sql);
        free(sql);
        /* -40 = 30 from the first grant + 10 from the second; -20 from the
           second. */
        s = sql_text(c.db, "SELECT string_agg(g.amount::int || ':' ||"
                           " d.amount::int || '@' || d.invoice_id, ' '"
                           " ORDER BY d.invoice_id, g.entry_id)"
                           " FROM credit_ledger d JOIN credit_ledger g"
                           " ON d.grant_id = g.entry_id");
        cr_assert_str_eq(s, "30:-30@7 50:-10@7 50:-20@8");
        free(s);
        s = sql_text(c.db, "SELECT count(*) FROM credit_ledger"
                           " WHERE amount < 0 AND grant_id IS NULL");
        cr_assert_str_eq(s, "0");
        free(s);
        mk_case_stop(&c);
}
