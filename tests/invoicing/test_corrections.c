/* Corrections of finalized invoices against a real PostgreSQL: payments,
   voids, credit notes, their history, the overdue list, the database's own
   refusals (direct SQL), and credit-note numbers under concurrent issuers.
   Amounts are computed by hand from the worked catalog: a "pro" customer
   with no usage pays the 49.00 platform fee and a 51.00 minimum true-up. */
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <jansson.h>

#include "meterkit.h"

TK_INTEGRATION_PRE_ALL()
TK_INTEGRATION_POST_ALL()

static char catalog[512];

/* `tally ARGS...` (NULL-terminated), its result in 'r'. */
static void tally(struct tk_proc_result *r, ...)
{
        const char *argv[40];
        int n = 0;
        va_list ap;

        argv[n++] = tk_tally_bin();
        va_start(ap, r);
        while (n < 39 && (argv[n] = va_arg(ap, const char *)) != NULL)
                n++;
        va_end(ap);
        argv[n] = NULL;
        cr_assert_eq(tk_run(argv, 120000, r), 0, "tally did not finish");
}

static long long count(PGconn *db, const char *sql)
{
        char *s = tk_scalar(db, sql);
        long long v = atoll(s);

        free(s);
        return v;
}

static void scalar_is(PGconn *db, const char *sql, const char *want)
{
        char *s = tk_scalar(db, sql);

        cr_expect_str_eq(s, want, "%s", sql);
        free(s);
}

/* 'sql' must fail with a message holding 'needle'. */
static void refused(PGconn *db, const char *sql, const char *needle)
{
        PGresult *r = PQexec(db, sql);

        cr_expect(PQresultStatus(r) == PGRES_FATAL_ERROR, "accepted: %s", sql);
        cr_expect(strstr(PQresultErrorMessage(r), needle), "%s: %s", sql,
                  PQresultErrorMessage(r));
        PQclear(r);
}

/* Two pro customers without usage, cust_A with a 0.19 tax rate and 50.00
   of credit, and October 2026 finalized:
     INV-2026-000001 cust_A: 49.00 + 51.00 = 100.00, credit -50.00,
                             tax 0.19 x 50.00 = 9.50, total 59.50
     INV-2026-000002 cust_B: 100.00, total 100.00 */
static void start(struct mk_case *c, const char *name)
{
        struct tk_proc_result r;

        snprintf(catalog, sizeof catalog, "%s/tests/rating/worked/catalog.yaml",
                 tk_source_dir());
        setenv("TALLY_RULES", catalog, 1);
        mk_case_start(c, name, 1, 1);
        tally(&r, "db", "migrate", NULL);
        cr_assert_eq(r.exit_code, 0, "%s", r.err);
        tk_proc_result_release(&r);
        free(tk_scalar(c->db, "SELECT tally_ensure_month('2026-10-01')::text"));
        free(tk_scalar(c->db, "SELECT tally_ensure_month('2026-11-01')::text"));
        tk_exec(c->db, "INSERT INTO customers (customer_id, name, plan,"
                       " sub_start, tax_rate) VALUES"
                       " ('cust_A', 'Alder', 'pro', '2026-01-01', 0.19),"
                       " ('cust_B', 'Birch', 'pro', '2026-01-01', 0)");
        tk_exec(c->db, "INSERT INTO credit_ledger (customer_id, amount, reason)"
                       " VALUES ('cust_A', 50, 'test grant')");
        tally(&r, "invoice", "--period", "2026-10", "--finalize", "--as-of",
              "2026-11-05", "--quiet", NULL);
        cr_assert_eq(r.exit_code, 0, "%s %s", r.out, r.err);
        tk_proc_result_release(&r);
        scalar_is(
            c->db,
            "SELECT string_agg(number || ' ' || customer_id || ' '"
            " || (body->>'total'), ', ' ORDER BY number) FROM invoices",
            "INV-2026-000001 cust_A 59.50, INV-2026-000002 cust_B 100.00");
}

static const char *me(void)
{
        const struct passwd *pw = getpwuid(geteuid());

        return pw ? pw->pw_name : getenv("USER");
}

static json_t *show(const char *number)
{
        struct tk_proc_result r;
        json_t *j;

        tally(&r, "invoice", "show", number, NULL);
        cr_assert_eq(r.exit_code, 0, "%s", r.err);
        j = json_loads(r.out, 0, NULL);
        cr_assert(j, "show %s: %s", number, r.out);
        tk_proc_result_release(&r);
        return j;
}

Test(corrections, partial_payments_add_up_and_overpaying_is_refused,
     .timeout = 240)
{
        struct mk_case c;
        struct tk_proc_result r;
        char *before, *after;
        json_t *doc, *h;

        start(&c, "corr_pay");
        before = tk_scalar(c.db, "SELECT body::text FROM invoices"
                                 " WHERE number = 'INV-2026-000001'");
        tally(&r, "invoice", "mark-paid", "INV-2026-000001", "--amount",
              "40.00", "--reference", "wire-1", NULL);
        cr_assert_eq(r.exit_code, 0, "%s", r.err);
        cr_expect(strstr(r.out, "40.00 of USD 59.50 paid, 19.50 outstanding: "
                                "open"),
                  "%s", r.out);
        tk_proc_result_release(&r);

        tally(&r, "invoice", "mark-paid", "INV-2026-000001", "--amount",
              "20.00", "--reference", "wire-2", NULL);
        cr_expect_eq(r.exit_code, 2);
        cr_expect(strstr(r.err, "a payment of 20 would bring the amount paid "
                                "to 60, above the amount due 59.5 (19.5 "
                                "outstanding)"),
                  "%s", r.err);
        tk_proc_result_release(&r);

        tally(&r, "invoice", "mark-paid", "INV-2026-000001", "--amount",
              "1.001", "--reference", "x", NULL);
        cr_expect_eq(r.exit_code, 2);
        cr_expect(strstr(r.err, "USD amounts have 2 decimals at most"), "%s",
                  r.err);
        tk_proc_result_release(&r);

        tally(&r, "invoice", "mark-paid", "INV-2026-000001", "--amount",
              "19.50", "--reference", "wire-3", NULL);
        cr_assert_eq(r.exit_code, 0, "%s", r.err);
        cr_expect(strstr(r.out, "59.50 of USD 59.50 paid, 0.00 outstanding: "
                                "paid"),
                  "%s", r.out);
        tk_proc_result_release(&r);

        /* Paid: no more payments, no void. */
        tally(&r, "invoice", "mark-paid", "INV-2026-000001", "--amount", "0.01",
              "--reference", "x", NULL);
        cr_expect_eq(r.exit_code, 1);
        cr_expect(strstr(r.err, "is paid"), "%s", r.err);
        tk_proc_result_release(&r);
        tally(&r, "invoice", "void", "INV-2026-000001", "--reason", "x", NULL);
        cr_expect_eq(r.exit_code, 1);
        cr_expect(strstr(r.err, "invoice INV-2026-000001 is paid: it cannot "
                                "change"),
                  "%s", r.err);
        tk_proc_result_release(&r);
        tally(&r, "invoice", "mark-paid", "INV-2026-999999", "--amount", "1.00",
              "--reference", "x", NULL);
        cr_expect_eq(r.exit_code, 2);
        cr_expect(strstr(r.err, "no invoice numbered INV-2026-999999"), "%s",
                  r.err);
        tk_proc_result_release(&r);

        /* The stored body is untouched; the history is served beside it. */
        after = tk_scalar(c.db, "SELECT body::text FROM invoices"
                                " WHERE number = 'INV-2026-000001'");
        cr_expect_str_eq(after, before);
        free(before);
        free(after);
        doc = show("INV-2026-000001");
        cr_expect_str_eq(
            json_string_value(json_object_get(doc, "payment_status")), "paid");
        cr_expect_str_eq(json_string_value(json_object_get(doc, "amount_paid")),
                         "59.50");
        cr_expect_str_eq(json_string_value(json_object_get(doc, "due")),
                         "2026-12-05");
        h = json_object_get(doc, "history");
        cr_assert_eq(json_array_size(h), 4, "%zu", json_array_size(h));
        cr_expect_str_eq(
            json_string_value(json_object_get(json_array_get(h, 0), "event")),
            "finalized");
        cr_expect_str_eq(json_string_value(json_object_get(json_array_get(h, 1),
                                                           "reference")),
                         "wire-1");
        cr_expect_str_eq(
            json_string_value(json_object_get(json_array_get(h, 2), "amount")),
            "19.50");
        cr_expect_str_eq(
            json_string_value(json_object_get(json_array_get(h, 3), "event")),
            "paid");
        cr_expect_str_eq(
            json_string_value(json_object_get(json_array_get(h, 3), "by")),
            me());
        json_decref(doc);
        mk_case_stop(&c);
}

Test(corrections, void_returns_consumed_credit_once_and_the_period_is_reissued,
     .timeout = 240)
{
        static const char BALANCE[] =
            "SELECT sum(amount)::numeric(24,2)::text FROM credit_ledger"
            " WHERE customer_id = 'cust_A'";
        struct mk_case c;
        struct tk_proc_result r;

        start(&c, "corr_void");
        scalar_is(c.db, BALANCE, "0.00");
        tally(&r, "invoice", "void", "INV-2026-000001", "--reason",
              "wrong tax rate", NULL);
        cr_assert_eq(r.exit_code, 0, "%s", r.err);
        cr_expect(strstr(r.out, "INV-2026-000001: void; 50.00 of credit "
                                "returned"),
                  "%s", r.out);
        tk_proc_result_release(&r);
        scalar_is(c.db, BALANCE, "50.00");

        /* Twice: refused, by the CLI and by the database; nothing more
           returned. */
        tally(&r, "invoice", "void", "INV-2026-000001", "--reason", "again",
              NULL);
        cr_expect_eq(r.exit_code, 1);
        cr_expect(strstr(r.err, "invoice INV-2026-000001 is void: it cannot "
                                "change"),
                  "%s", r.err);
        tk_proc_result_release(&r);
        refused(c.db,
                "UPDATE invoices SET voided_at = now(), void_reason = 'x'"
                " WHERE number = 'INV-2026-000001'",
                "is void");
        refused(c.db,
                "UPDATE invoices SET payment_status = 'open', voided_at = NULL,"
                " void_reason = NULL WHERE number = 'INV-2026-000001'",
                "is void");
        scalar_is(c.db, BALANCE, "50.00");
        tally(&r, "invoice", "mark-paid", "INV-2026-000001", "--amount", "1.00",
              "--reference", "x", NULL);
        cr_expect_eq(r.exit_code, 1);
        cr_expect(strstr(r.err, "is void: no payment"), "%s", r.err);
        tk_proc_result_release(&r);
        tally(&r, "invoice", "credit-note", "INV-2026-000001", "--line",
              "minimum", "--amount", "1.00", "--reason", "x", NULL);
        cr_expect_eq(r.exit_code, 1);
        cr_expect(strstr(r.err, "is void"), "%s", r.err);
        tk_proc_result_release(&r);
        tally(&r, "invoice", "void", "INV-2026-999999", "--reason", "x", NULL);
        cr_expect_eq(r.exit_code, 2);
        cr_expect(strstr(r.err, "no invoice numbered"), "%s", r.err);
        tk_proc_result_release(&r);

        /* The period again, under the next number, with the credit applied
           again; the void one keeps its number. */
        tally(&r, "invoice", "--period", "2026-10", "--customer", "cust_A",
              "--finalize", "--as-of", "2026-11-06", "--quiet", NULL);
        cr_assert_eq(r.exit_code, 0, "%s %s", r.out, r.err);
        tk_proc_result_release(&r);
        scalar_is(c.db,
                  "SELECT string_agg(number || ' ' || payment_status || ' '"
                  " || (body->>'total'), ', ' ORDER BY number) FROM invoices"
                  " WHERE customer_id = 'cust_A'",
                  "INV-2026-000001 void 59.50, INV-2026-000003 open 59.50");
        scalar_is(c.db, BALANCE, "0.00");
        /* A rerun of the close creates nothing new. */
        tally(&r, "invoice", "--period", "2026-10", "--finalize", "--as-of",
              "2026-11-06", "--quiet", NULL);
        cr_assert_eq(r.exit_code, 0, "%s %s", r.out, r.err);
        tk_proc_result_release(&r);
        cr_expect_eq(count(c.db, "SELECT count(*) FROM invoices"), 3);

        /* Overdue on 2026-12-06: due 2026-12-05 (issued 11-05 + 30) and
           2026-12-06 (not yet); the void one never. */
        tally(&r, "invoice", "--overdue", "--as-of", "2026-12-06", "--format",
              "json", NULL);
        cr_assert_eq(r.exit_code, 0, "%s", r.err);
        {
                json_t *a = json_loads(r.out, 0, NULL);

                cr_assert(json_array_size(a) == 1, "%s", r.out);
                cr_expect_str_eq(json_string_value(json_object_get(
                                     json_array_get(a, 0), "number")),
                                 "INV-2026-000002");
                cr_expect_str_eq(json_string_value(json_object_get(
                                     json_array_get(a, 0), "days_overdue")),
                                 "1");
                json_decref(a);
        }
        tk_proc_result_release(&r);
        tally(&r, "invoice", "--overdue", "--as-of", "2026-12-07", NULL);
        cr_assert_eq(r.exit_code, 0, "%s", r.err);
        cr_expect(strstr(r.out, "INV-2026-000002") &&
                      strstr(r.out, "INV-2026-000003") &&
                      !strstr(r.out, "INV-2026-000001"),
                  "%s", r.out);
        tk_proc_result_release(&r);
        mk_case_stop(&c);
}
