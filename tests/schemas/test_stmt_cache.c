/* The per-connection statement cache: each statement prepared once, the
   same answers as PQexecParams, and a reset connection that prepares again. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "schemas/db.h"
#include "testkit.h"

TK_INTEGRATION_PRE_ALL()
TK_INTEGRATION_POST_ALL()

static const char SQL[] = "SELECT $1::int + 1";

static int run(PGconn *c, const char *v)
{
        const char *p[1] = {v};
        PGresult *r = sch_db_exec(c, SQL, 1, p, 0);
        int n;

        cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s",
                     PQerrorMessage(c));
        n = atoi(PQgetvalue(r, 0, 0));
        PQclear(r);
        return n;
}

static int prepared(PGconn *c)
{
        char *v = tk_scalar(c, "SELECT count(*) FROM pg_prepared_statements");
        int n = atoi(v);

        free(v);
        return n;
}

Test(stmt_cache, a_statement_is_prepared_once_and_answers_alike)
{
        PGconn *c;

        tk_require_env();
        c = tk_pg_fresh_db("stmt_cache");
        cr_assert(c);
        cr_expect_eq(run(c, "1"), 2, "without the cache: PQexecParams");
        cr_expect_eq(prepared(c), 0);
        cr_assert_eq(sch_db_cache_statements(c, NULL), TL_OK);
        cr_assert_eq(sch_db_cache_statements(c, NULL), TL_OK, "twice is once");
        for (int i = 0; i < 10; i++)
                cr_expect_eq(run(c, i % 2 ? "41" : "1"), i % 2 ? 42 : 2);
        cr_expect_eq(prepared(c), 1, "ten runs, one prepared statement");
        /* An error in a statement is the statement's own, not the cache's. */
        {
                const char *p[1] = {"x"};
                PGresult *r = sch_db_exec(c, SQL, 1, p, 0);

                cr_expect_eq(PQresultStatus(r), PGRES_FATAL_ERROR);
                cr_expect_not_null(strstr(PQerrorMessage(c), "integer"));
                PQclear(r);
        }
        /* A reset connection lost its statements: they are prepared again. */
        PQreset(c);
        cr_assert_eq(PQstatus(c), CONNECTION_OK);
        cr_expect_eq(prepared(c), 0);
        cr_expect_eq(run(c, "5"), 6);
        cr_expect_eq(prepared(c), 1);
        PQfinish(c);
}

/* Three statements at once, the middle one failing. */
static void all_three(PGconn *c, PGresult *r[3])
{
        static const char *const one[1] = {"1"}, *const bad[1] = {"x"},
                                 *const two[1] = {"2"};
        const struct sch_db_stmt st[3] = {{SQL, 1, one, 0},
                                          {SQL, 1, bad, 0},
                                          {"SELECT $1::int * 10", 1, two, 0}};

        sch_db_exec_all(c, st, 3, r);
}

Test(stmt_cache, statements_sent_together_answer_as_one_by_one)
{
        static const char *const p[2][1] = {{"41"}, {"7"}};
        const struct sch_db_stmt st[2] = {{SQL, 1, p[0], 0},
                                          {"SELECT $1::int * 10", 1, p[1], 0}};
        PGresult *r[3];
        PGconn *c;

        tk_require_env();
        c = tk_pg_fresh_db("stmt_cache_all");
        cr_assert(c);
        /* Without the cache: one after another, each on its own. */
        all_three(c, r);
        cr_expect_eq(PQresultStatus(r[0]), PGRES_TUPLES_OK);
        cr_expect_eq(PQresultStatus(r[1]), PGRES_FATAL_ERROR);
        cr_expect_eq(PQresultStatus(r[2]), PGRES_TUPLES_OK);
        for (int i = 0; i < 3; i++)
                PQclear(r[i]);

        cr_assert_eq(sch_db_cache_statements(c, NULL), TL_OK);
        for (int k = 0; k < 3; k++) {
                sch_db_exec_all(c, st, 2, r);
                cr_assert_eq(PQresultStatus(r[0]), PGRES_TUPLES_OK, "%s",
                             PQresultErrorMessage(r[0]));
                cr_assert_eq(PQresultStatus(r[1]), PGRES_TUPLES_OK, "%s",
                             PQresultErrorMessage(r[1]));
                cr_expect_str_eq(PQgetvalue(r[0], 0, 0), "42");
                cr_expect_str_eq(PQgetvalue(r[1], 0, 0), "70");
                PQclear(r[0]);
                PQclear(r[1]);
        }
        cr_expect_eq(prepared(c), 2, "each statement prepared once");
        cr_expect_eq(PQpipelineStatus(c), PQ_PIPELINE_OFF);

        /* A failing statement reports its own error; the ones after it
           did not run (one implicit transaction), and the connection
           works on. */
        all_three(c, r);
        cr_expect_eq(PQresultStatus(r[0]), PGRES_TUPLES_OK);
        cr_expect_eq(PQresultStatus(r[1]), PGRES_FATAL_ERROR);
        cr_expect_not_null(strstr(PQresultErrorMessage(r[1]), "integer"), "%s",
                           PQresultErrorMessage(r[1]));
        cr_expect(PQresultStatus(r[2]) == PGRES_PIPELINE_ABORTED ||
                      PQresultStatus(r[2]) == PGRES_FATAL_ERROR,
                  "%s", PQresStatus(PQresultStatus(r[2])));
        for (int i = 0; i < 3; i++)
                PQclear(r[i]);
        cr_expect_eq(PQpipelineStatus(c), PQ_PIPELINE_OFF);
        cr_expect_eq(run(c, "5"), 6);
        PQfinish(c);
}
