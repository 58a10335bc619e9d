/* Corrections of finalized invoices against a real PostgreSQL: payments,
   voids, credit notes, their history, the overdue list, the database's own
   refusals (direct SQL), and credit-note numbers under concurrent issuers.
   Amounts are computed by hand from the worked catalog: a "pro" customer
   with no usage pays the 49.00 platform fee and a 51.00 minimum true-up. */
#include <fcntl.h>
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
        cr_expect(strstr(r.err, "a payment of 20.00 would bring the amount "
                                "paid to 60.00, above the amount due 59.50 "
                                "(19.50 outstanding)"),
                  "%s", r.err);
        tk_proc_result_release(&r);

        tally(&r, "invoice", "mark-paid", "INV-2026-000001", "--amount",
              "10.00", "--reference", "wire-1", NULL);
        cr_expect_eq(r.exit_code, 1);
        cr_expect(strstr(r.err, "a payment with reference wire-1 is recorded "
                                "already"),
                  "%s", r.err);
        tk_proc_result_release(&r);
        tally(&r, "invoice", "mark-paid", "INV-2026-000001", "--amount",
              "1.001", "--reference", "x", NULL);
        cr_expect_eq(r.exit_code, 2);
        cr_expect(strstr(r.err, "USD amounts have 2 decimals at most"), "%s",
                  r.err);
        tk_proc_result_release(&r);

        tally(&r, "invoice", "mark-paid", "INV-2026-000001", "--amount", "19.5",
              "--reference", "wire-3", NULL);
        cr_assert_eq(r.exit_code, 0, "%s", r.err);
        cr_expect(strstr(r.out, "payment of 19.50 recorded (wire-3); 59.50 "
                                "of USD 59.50 paid, 0.00 outstanding: paid"),
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
        /* Files for one customer: its invoices, the void one's too; the
           period's CSV still has every customer and not the void lines. */
        {
                char dir[300], path[400], *csv;
                struct stat st;

                snprintf(dir, sizeof dir, "%s/files", c.dir);
                tally(&r, "invoice", "--period", "2026-10", "--customer",
                      "cust_A", "--out", dir, "--as-of", "2026-11-06",
                      "--quiet", NULL);
                cr_assert_eq(r.exit_code, 0, "%s %s", r.out, r.err);
                tk_proc_result_release(&r);
                snprintf(path, sizeof path, "%s/INV-2026-000001.pdf", dir);
                cr_expect_eq(stat(path, &st), 0, "%s", path);
                snprintf(path, sizeof path, "%s/INV-2026-000003.json", dir);
                cr_expect_eq(stat(path, &st), 0, "%s", path);
                snprintf(path, sizeof path, "%s/INV-2026-000002.json", dir);
                cr_expect_neq(stat(path, &st), 0, "%s: not cust_A's", path);
                snprintf(path, sizeof path, "%s/invoices-2026-10.csv", dir);
                csv = tk_read_text(path);
                cr_assert(csv, "%s", path);
                cr_expect(strstr(csv, "INV-2026-000002"), "%s", csv);
                cr_expect(strstr(csv, "INV-2026-000003"), "%s", csv);
                cr_expect(!strstr(csv, "INV-2026-000001"), "%s", csv);
                free(csv);
        }
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

static void credit(struct tk_proc_result *r, const char *number,
                   const char *line, const char *amount)
{
        tally(r, "invoice", "credit-note", number, "--line", line, "--amount",
              amount, "--reason", "goodwill", "--as-of", "2026-12-01", NULL);
}

Test(corrections, credit_notes_never_exceed_the_line_and_become_credit,
     .timeout = 240)
{
        static const char BALANCE[] =
            "SELECT coalesce(sum(amount), 0)::numeric(24,2)::text"
            " FROM credit_ledger WHERE customer_id = 'cust_B'";
        struct mk_case c;
        struct tk_proc_result r;
        char dir[300], path[400];
        struct stat st;
        json_t *doc;

        start(&c, "corr_cn");
        credit(&r, "INV-2026-000002", "minimum", "20.00");
        cr_assert_eq(r.exit_code, 0, "%s", r.err);
        cr_expect(strstr(r.out, "CN-2026-000001: USD 20.00 credited on "
                                "INV-2026-000002"),
                  "%s", r.out);
        tk_proc_result_release(&r);
        scalar_is(c.db, BALANCE, "20.00");

        /* 51.00 charged, 20.00 credited: 31.01 is one cent too many. */
        credit(&r, "INV-2026-000002", "minimum", "31.01");
        cr_expect_eq(r.exit_code, 2);
        cr_expect(strstr(r.err, "invoice INV-2026-000002 line minimum: a "
                                "credit note of 31.01 exceeds what is left to "
                                "credit (51.00 charged, 20.00 credited "
                                "before)"),
                  "%s", r.err);
        tk_proc_result_release(&r);
        credit(&r, "INV-2026-000002", "minimum", "31.00");
        cr_expect_eq(r.exit_code, 0, "%s", r.err);
        tk_proc_result_release(&r);
        credit(&r, "INV-2026-000002", "fee:platform", "49.01");
        cr_expect_eq(r.exit_code, 2);
        tk_proc_result_release(&r);
        credit(&r, "INV-2026-000002", "platform", "49.00");
        cr_expect_eq(r.exit_code, 0, "%s", r.err);
        tk_proc_result_release(&r);
        scalar_is(c.db, BALANCE, "100.00");
        /* The refused ones took no number. */
        scalar_is(c.db,
                  "SELECT string_agg(number || ' ' || line_key || ' '"
                  " || amount::numeric(24,2), ', ' ORDER BY number)"
                  " FROM credit_notes",
                  "CN-2026-000001 minimum 20.00, CN-2026-000002 minimum "
                  "31.00, CN-2026-000003 fee:platform 49.00");

        /* Lines that are not charges, unknown lines, bad amounts. */
        credit(&r, "INV-2026-000001", "tax", "1.00");
        cr_expect_eq(r.exit_code, 2);
        cr_expect(strstr(r.err, "a tax line is not a charge"), "%s", r.err);
        tk_proc_result_release(&r);
        credit(&r, "INV-2026-000001", "credit", "1.00");
        cr_expect_eq(r.exit_code, 2);
        cr_expect(strstr(r.err, "a credit line is not a charge"), "%s", r.err);
        tk_proc_result_release(&r);
        credit(&r, "INV-2026-000002", "nope", "1.00");
        cr_expect_eq(r.exit_code, 2);
        cr_expect(strstr(r.err, "--line nope: invoice INV-2026-000002 has no "
                                "such line (its lines: fee:platform"),
                  "%s", r.err);
        tk_proc_result_release(&r);
        credit(&r, "INV-2026-000002", "cloud-output", "-1");
        cr_expect_eq(r.exit_code, 2);
        cr_expect(strstr(r.err, "expected a positive amount"), "%s", r.err);
        tk_proc_result_release(&r);
        credit(&r, "INV-2026-999999", "minimum", "1.00");
        cr_expect_eq(r.exit_code, 2);
        cr_expect(strstr(r.err, "no invoice numbered INV-2026-999999"), "%s",
                  r.err);
        tk_proc_result_release(&r);

        /* An invoice with credit notes is not voided (the credit is given
           already): refused by the database. */
        tally(&r, "invoice", "void", "INV-2026-000002", "--reason", "x", NULL);
        cr_expect_eq(r.exit_code, 1);
        cr_expect(strstr(r.err, "has credit notes"), "%s", r.err);
        tk_proc_result_release(&r);

        /* JSON and PDF, like invoices; the invoice's history names them. */
        snprintf(dir, sizeof dir, "%s/cn", c.dir);
        mkdir(dir, 0755);
        tally(&r, "invoice", "credit-note", "--show", "CN-2026-000001", "--out",
              dir, NULL);
        cr_assert_eq(r.exit_code, 0, "%s", r.err);
        doc = json_loads(r.out, 0, NULL);
        cr_assert(doc, "%s", r.out);
        cr_expect_str_eq(json_string_value(json_object_get(doc, "type")),
                         "credit_note");
        cr_expect_str_eq(json_string_value(json_object_get(doc, "invoice")),
                         "INV-2026-000002");
        cr_expect_str_eq(json_string_value(json_object_get(doc, "total")),
                         "20.00");
        cr_expect_str_eq(json_string_value(json_object_get(doc, "issued")),
                         "2026-12-01");
        json_decref(doc);
        tk_proc_result_release(&r);
        snprintf(path, sizeof path, "%s/CN-2026-000001.pdf", dir);
        cr_expect(stat(path, &st) == 0 && st.st_size > 1000, "%s", path);
        snprintf(path, sizeof path, "%s/CN-2026-000001.json", dir);
        cr_expect(stat(path, &st) == 0, "%s", path);
        doc = show("INV-2026-000002");
        cr_expect_eq(json_array_size(json_object_get(doc, "history")), 4);
        cr_expect_str_eq(json_string_value(json_object_get(
                             json_array_get(json_object_get(doc, "history"), 1),
                             "credit_note")),
                         "CN-2026-000001");
        json_decref(doc);
        mk_case_stop(&c);
}

static pid_t spawn_credit(const char *line, const char *amount)
{
        pid_t pid = fork();

        cr_assert_neq(pid, -1);
        if (pid == 0) {
                int null = open("/dev/null", O_WRONLY);

                dup2(null, 1);
                dup2(null, 2);
                execl(tk_tally_bin(), "tally", "invoice", "credit-note",
                      "INV-2026-000002", "--line", line, "--amount", amount,
                      "--reason", "race", "--as-of", "2026-12-01",
                      (char *)NULL);
                _exit(127);
        }
        return pid;
}

Test(corrections, concurrent_credit_notes_get_gap_free_numbers, .timeout = 300)
{
        enum { N = 12 };
        struct mk_case c;
        pid_t pids[N];
        int ok = 0, refused_n = 0;

        start(&c, "corr_race");
        /* Half on the platform fee (49.00: every 1.00 fits), half 10.00
           each on the minimum (51.00: five fit, one is refused and rolls
           its number back). */
        for (int i = 0; i < N; i++)
                pids[i] = spawn_credit(i % 2 ? "minimum" : "platform",
                                       i % 2 ? "10.00" : "1.00");
        for (int i = 0; i < N; i++) {
                int x = mk_wait(pids[i], 120000);

                ok += x == 0;
                refused_n += x == 2;
        }
        cr_expect_eq(ok, N - 1, "%d succeeded", ok);
        cr_expect_eq(refused_n, 1);
        cr_expect_eq(count(c.db, "SELECT count(*) FROM credit_notes"), N - 1);
        cr_expect_eq(count(c.db, "SELECT count(DISTINCT number)"
                                 " FROM credit_notes"),
                     N - 1);
        cr_expect_eq(count(c.db, "SELECT max(substr(number, 9)::int)"
                                 " FROM credit_notes"),
                     N - 1);
        cr_expect_eq(count(c.db, "SELECT last_seq FROM credit_note_numbers"),
                     N - 1);
        /* One credit_note.issued per note issued, none for the refused. */
        cr_expect_eq(count(c.db, "SELECT count(DISTINCT data->>'credit_note')"
                                 " FROM webhook_outbox"
                                 " WHERE type = 'credit_note.issued'"),
                     N - 1);
        scalar_is(c.db,
                  "SELECT sum(amount)::numeric(24,2)::text FROM credit_notes"
                  " WHERE line_key = 'minimum'",
                  "50.00");
        scalar_is(c.db,
                  "SELECT sum(amount)::numeric(24,2)::text FROM credit_ledger"
                  " WHERE customer_id = 'cust_B'",
                  "56.00");
        mk_case_stop(&c);
}

Test(corrections, the_database_allows_only_the_correction_transitions,
     .timeout = 240)
{
        struct mk_case c;
        struct tk_proc_result r;

        start(&c, "corr_sql");
        /* Amounts and the body of a finalized invoice never change. */
        refused(
            c.db,
            "UPDATE invoices SET total = 1 WHERE number = 'INV-2026-000001'",
            "is finalized and cannot change");
        refused(c.db,
                "UPDATE invoices SET body = '{}' WHERE number ="
                " 'INV-2026-000001'",
                "is finalized and cannot change");
        refused(c.db,
                "UPDATE invoices SET body = body::jsonb::json"
                " WHERE number = 'INV-2026-000001'",
                "is finalized and cannot change");
        refused(c.db, "DELETE FROM invoices WHERE number = 'INV-2026-000001'",
                "is finalized and cannot change");
        refused(c.db,
                "UPDATE invoices SET total = 1, payment_status = 'void',"
                " voided_at = now(), void_reason = 'x'"
                " WHERE number = 'INV-2026-000001'",
                "is finalized and cannot change");
        /* Paid only through payments; no-op updates are no transition. */
        refused(c.db,
                "UPDATE invoices SET amount_paid = total, payment_status ="
                " 'paid' WHERE number = 'INV-2026-000001'",
                "record a payment instead");
        refused(c.db,
                "UPDATE invoices SET payment_status = payment_status"
                " WHERE number = 'INV-2026-000001'",
                "record a payment instead");
        refused(c.db,
                "INSERT INTO invoice_payments (invoice_id, amount, reference,"
                " recorded_by) SELECT invoice_id, 59.51, 'x', 'sql'"
                " FROM invoices WHERE number = 'INV-2026-000001'",
                "above the amount due 59.50");
        refused(c.db,
                "INSERT INTO credit_notes (number, invoice_id, customer_id,"
                " line_index, line_key, amount, reason, body, created_by)"
                " SELECT 'CN-X', invoice_id, customer_id, 0, 'fee:platform',"
                " 49.01, 'x', '{}', 'sql' FROM invoices"
                " WHERE number = 'INV-2026-000001'",
                "exceeds what is left to credit");
        /* The allowed ones pass through the allowed columns. */
        tk_exec(c.db, "INSERT INTO invoice_payments (invoice_id, amount,"
                      " reference, recorded_by) SELECT invoice_id, 9.50, 'x',"
                      " 'sql' FROM invoices WHERE number = 'INV-2026-000002'");
        scalar_is(c.db,
                  "SELECT payment_status || ' ' || amount_paid::numeric(24,2)"
                  " FROM invoices WHERE number = 'INV-2026-000002'",
                  "open 9.50");
        refused(c.db,
                "UPDATE invoices SET payment_status = 'void', voided_at ="
                " now(), void_reason = 'x' WHERE number = 'INV-2026-000002'",
                "has been paid");
        refused(c.db, "DELETE FROM invoice_payments", "never changed");
        /* Paid in full: nothing changes any more. */
        tk_exec(c.db, "INSERT INTO invoice_payments (invoice_id, amount,"
                      " reference, recorded_by) SELECT invoice_id, 90.50, 'y',"
                      " 'sql' FROM invoices WHERE number = 'INV-2026-000002'");
        refused(c.db,
                "UPDATE invoices SET payment_status = 'void', voided_at ="
                " now(), void_reason = 'x' WHERE number = 'INV-2026-000002'",
                "invoice INV-2026-000002 is paid: it cannot change");
        refused(c.db,
                "UPDATE invoices SET payment_status = 'open', amount_paid = 0"
                " WHERE number = 'INV-2026-000002'",
                "is paid: it cannot change");
        refused(c.db,
                "INSERT INTO invoice_payments (invoice_id, amount, reference,"
                " recorded_by) SELECT invoice_id, 0.01, 'z', 'sql'"
                " FROM invoices WHERE number = 'INV-2026-000002'",
                "is paid: no payment can be recorded");
        tk_exec(c.db, "UPDATE invoices SET payment_status = 'void', voided_at"
                      " = now(), void_reason = 'by hand'"
                      " WHERE number = 'INV-2026-000001'");
        scalar_is(c.db,
                  "SELECT sum(amount)::numeric(24,2)::text FROM credit_ledger"
                  " WHERE customer_id = 'cust_A'",
                  "50.00");
        scalar_is(c.db,
                  "SELECT event || ' ' || reason FROM invoice_history h JOIN"
                  " invoices i USING (invoice_id) WHERE i.number ="
                  " 'INV-2026-000001'",
                  "void by hand");

        /* A draft has no payment state: not paid, not voided. */
        tally(&r, "invoice", "--period", "2026-11", "--customer", "cust_B",
              "--as-of", "2026-11-20", "--quiet", NULL);
        cr_assert_eq(r.exit_code, 0, "%s %s", r.out, r.err);
        tk_proc_result_release(&r);
        refused(c.db,
                "UPDATE invoices SET payment_status = 'void', voided_at ="
                " now(), void_reason = 'x' WHERE status = 'draft'",
                "invoices_draft_unpaid");
        refused(c.db,
                "INSERT INTO invoice_payments (invoice_id, amount, reference,"
                " recorded_by) SELECT invoice_id, 1, 'x', 'sql'"
                " FROM invoices WHERE status = 'draft'",
                "a draft cannot be paid");
        refused(c.db,
                "INSERT INTO credit_notes (number, invoice_id, customer_id,"
                " line_index, line_key, amount, reason, body, created_by)"
                " SELECT 'CN-X', invoice_id, customer_id, 0, 'fee:platform',"
                " 1, 'x', '{}', 'sql' FROM invoices WHERE status = 'draft'",
                "needs a finalized invoice");
        mk_case_stop(&c);
}

Test(corrections, a_voided_invoice_gives_back_the_late_usage_it_billed,
     .timeout = 240)
{
        static const char ADJ[] =
            "SELECT coalesce(string_agg(l->>'amount', ','), 'none')"
            " FROM invoices i, json_array_elements(i.body->'lines') l"
            " WHERE i.number = '%s' AND l->>'kind' = 'adjustment'";
        struct mk_case c;
        struct tk_proc_result r;
        char sql[512], *first, *again;

        start(&c, "corr_late");
        /* Late October usage of cust_B, billed on November's invoice. */
        tk_exec(c.db, "INSERT INTO usage_rollups (customer_id, day, type,"
                      " attrs_hash, deployment, decoding, event_count,"
                      " input_tokens, output_tokens) VALUES ('cust_B',"
                      " '2026-10-10', 1, decode(md5('cloud-ar'), 'hex'), 1,"
                      " 'autoregressive', 10, 1000000, 300000000)");
        tally(&r, "invoice", "--period", "2026-11", "--customer", "cust_B",
              "--finalize", "--as-of", "2026-12-05", "--quiet", NULL);
        cr_assert_eq(r.exit_code, 0, "%s %s", r.out, r.err);
        tk_proc_result_release(&r);
        snprintf(sql, sizeof sql, ADJ, "INV-2026-000003");
        first = tk_scalar(c.db, sql);
        cr_assert_str_neq(first, "none");

        /* Voided, November is issued again: the adjustment with it. */
        tally(&r, "invoice", "void", "INV-2026-000003", "--reason", "resend",
              NULL);
        cr_assert_eq(r.exit_code, 0, "%s", r.err);
        tk_proc_result_release(&r);
        tally(&r, "invoice", "--period", "2026-11", "--customer", "cust_B",
              "--finalize", "--as-of", "2026-12-05", "--quiet", NULL);
        cr_assert_eq(r.exit_code, 0, "%s %s", r.out, r.err);
        tk_proc_result_release(&r);
        snprintf(sql, sizeof sql, ADJ, "INV-2026-000004");
        again = tk_scalar(c.db, sql);
        cr_expect_str_eq(again, first);
        free(first);
        free(again);
        mk_case_stop(&c);
}

static pid_t spawn_void(void)
{
        pid_t pid = fork();

        cr_assert_neq(pid, -1);
        if (pid == 0) {
                int null = open("/dev/null", O_WRONLY);

                dup2(null, 1);
                dup2(null, 2);
                execl(tk_tally_bin(), "tally", "invoice", "void",
                      "INV-2026-000001", "--reason", "race", (char *)NULL);
                _exit(127);
        }
        return pid;
}

Test(corrections, concurrent_voids_return_the_credit_once, .timeout = 240)
{
        enum { N = 8 };
        struct mk_case c;
        struct tk_proc_result r;
        pid_t pids[N];
        int ok = 0, refused_n = 0;

        start(&c, "corr_voids");
        for (int i = 0; i < N; i++)
                pids[i] = spawn_void();
        for (int i = 0; i < N; i++) {
                int x = mk_wait(pids[i], 120000);

                ok += x == 0;
                refused_n += x == 1;
        }
        cr_expect_eq(ok, 1);
        cr_expect_eq(refused_n, N - 1);
        scalar_is(c.db,
                  "SELECT count(*) || ' ' || sum(amount)::numeric(24,2)"
                  " FROM credit_ledger WHERE customer_id = 'cust_A'"
                  " AND reason = 'void'",
                  "1 50.00");
        scalar_is(c.db,
                  "SELECT count(*) FROM invoice_history WHERE event = 'void'",
                  "1");
        /* The void's webhook is in the outbox once, from its transaction. */
        scalar_is(c.db,
                  "SELECT count(*) || ' ' || min(data->>'invoice')"
                  " FROM webhook_outbox WHERE type = 'invoice.voided'",
                  "1 INV-2026-000001");
        tally(&r, "invoice", "show", "INV-2026-999999", NULL);
        cr_expect_eq(r.exit_code, 2);
        cr_expect(strstr(r.err, "no invoice or credit note numbered "
                                "INV-2026-999999"),
                  "%s", r.err);
        tk_proc_result_release(&r);
        mk_case_stop(&c);
}
