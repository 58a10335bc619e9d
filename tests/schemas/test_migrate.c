/* The SQL schema: migrations apply once, record themselves, and refuse a
   changed history; month partitions route rows in UTC. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "schemas/db.h"
#include "testkit.h"

TK_INTEGRATION_PRE_ALL()
TK_INTEGRATION_POST_ALL()

static PGconn *fresh(const char *name)
{
        PGconn *c;

        tk_require_env();
        c = tk_pg_fresh_db(name);
        cr_assert(c);
        setenv("PGDATABASE", name, 1);
        return c;
}

Test(migrate, applies_every_migration_once_and_records_it)
{
        PGconn *c = fresh("mig_once");
        struct sch_migrate_report rep;
        struct tl_error err;
        char *v;

        cr_assert_eq(sch_db_migrate(c, &rep, &err), TL_OK, "%s", err.msg);
        cr_assert_eq(rep.version_before, 0);
        cr_assert_eq(rep.version_after, sch_db_latest_version());
        cr_assert_eq(rep.applied, sch_db_latest_version());
        cr_assert_eq(sch_db_migrate(c, &rep, &err), TL_OK, "%s", err.msg);
        cr_assert_eq(rep.applied, 0, "second run applies nothing");
        v = tk_scalar(c, "SELECT count(*) FROM tally_migrations");
        cr_assert_eq(atoi(v), sch_db_latest_version());
        free(v);
        v = tk_scalar(c, "SELECT length(sha256) FROM tally_migrations "
                         "WHERE version = 1");
        cr_assert_str_eq(v, "64");
        free(v);
        /* Debian's server has lz4: invoice documents use it (0005). */
        v = tk_scalar(c, "SELECT attcompression FROM pg_attribute WHERE "
                         "attrelid = 'invoices'::regclass AND attname = "
                         "'body'");
        cr_assert_str_eq(v, "l");
        free(v);
        PQfinish(c);
}

Test(migrate, a_failing_migration_leaves_nothing_half_applied)
{
        PGconn *c = fresh("mig_fails");
        struct tl_error err;
        char *v;

        /* A table in the way makes migration 0001 fail part-way. */
        tk_exec(c, "CREATE TABLE invoices (x int)");
        cr_assert_eq(sch_db_migrate(c, NULL, &err), TL_EDB);
        cr_assert(strstr(err.msg, "migration 0001_core.sql"), "%s", err.msg);
        cr_assert(strstr(err.msg, "already exists"), "%s", err.msg);
        v = tk_scalar(c, "SELECT count(*) FROM tally_migrations");
        cr_assert_str_eq(v, "0", "not recorded");
        free(v);
        v = tk_scalar(c, "SELECT count(*) FROM pg_tables WHERE tablename IN "
                         "('customers', 'event_keys', 'dead_letters')");
        cr_assert_str_eq(v, "0", "earlier statements rolled back");
        free(v);
        /* With the obstacle gone, the same call succeeds. */
        tk_exec(c, "DROP TABLE invoices");
        cr_assert_eq(sch_db_migrate(c, NULL, &err), TL_OK, "%s", err.msg);
        PQfinish(c);
}

Test(migrate, a_changed_migration_is_refused)
{
        PGconn *c = fresh("mig_changed");
        struct tl_error err;

        cr_assert_eq(sch_db_migrate(c, NULL, &err), TL_OK, "%s", err.msg);
        tk_exec(c, "UPDATE tally_migrations SET sha256 = 'abc' "
                   "WHERE version = 1");
        cr_assert_eq(sch_db_migrate(c, NULL, &err), TL_ECONFLICT);
        cr_assert(strstr(err.msg, "migration 0001_core.sql changed after it "
                                  "was applied"),
                  "%s", err.msg);
        PQfinish(c);
}

Test(migrate, a_newer_database_is_refused)
{
        PGconn *c = fresh("mig_newer");
        struct tl_error err;

        cr_assert_eq(sch_db_migrate(c, NULL, &err), TL_OK, "%s", err.msg);
        tk_exec(c, "INSERT INTO tally_migrations (version, name, sha256) "
                   "VALUES (999, '0999_future.sql', 'x')");
        cr_assert_eq(sch_db_migrate(c, NULL, &err), TL_ECONFLICT);
        cr_assert(strstr(err.msg, "database schema version 999 is newer"), "%s",
                  err.msg);
        PQfinish(c);
}

Test(migrate, tally_db_migrate_is_idempotent_from_the_cli)
{
        PGconn *c = fresh("mig_cli");
        const char *argv[] = {tk_tally_bin(), "db", "migrate", NULL};
        struct tk_proc_result r;
        int v = sch_db_latest_version();
        char first[128], again[128];

        snprintf(first, sizeof first,
                 "applied %d migration(s): schema version 0 -> %d", v, v);
        snprintf(again, sizeof again, "schema up to date at version %d", v);
        cr_assert_eq(tk_run(argv, 60000, &r), 0);
        cr_assert_eq(r.exit_code, 0, "%s", r.err);
        cr_assert(strstr(r.out, first), "%s", r.out);
        tk_proc_result_release(&r);
        cr_assert_eq(tk_run(argv, 60000, &r), 0);
        cr_assert_eq(r.exit_code, 0);
        cr_assert(strstr(r.out, again), "%s", r.out);
        cr_assert_str_eq(r.err, "", "no notices on stderr");
        tk_proc_result_release(&r);
        PQfinish(c);
}

Test(migrate, cli_reports_an_unreachable_database_and_exits_1)
{
        const char *argv[] = {tk_tally_bin(), "db", "migrate", NULL};
        struct tk_proc_result r;

        setenv("DATABASE_URL", "postgresql:///nope?host=/nonexistent", 1);
        cr_assert_eq(tk_run(argv, 60000, &r), 0);
        cr_assert_eq(r.exit_code, 1);
        cr_assert(strstr(r.err, "cannot connect to PostgreSQL"), "%s", r.err);
        tk_proc_result_release(&r);
}

Test(migrate, month_partitions_route_events_in_utc)
{
        PGconn *c = fresh("mig_parts");
        char *v;

        cr_assert_eq(sch_db_migrate(c, NULL, NULL), TL_OK);
        tk_exec(c, "SET TimeZone = 'Pacific/Auckland'");
        v = tk_scalar(c, "SELECT tally_ensure_month('2026-10-14'), "
                         "tally_ensure_month('2026-11-01'), "
                         "tally_ensure_month('2026-10-31')");
        free(v);
        tk_exec(c, "INSERT INTO events (event_time, customer_id, type, source, "
                   "event_id, content_hash) VALUES "
                   "('2026-10-31T23:59:59Z', 'c', 1, 's', 'a', '\\x00'), "
                   "('2026-11-01T00:00:00Z', 'c', 1, 's', 'b', '\\x00')");
        v = tk_scalar(c, "SELECT string_agg(tableoid::regclass::text || ':' || "
                         "event_id, ',' ORDER BY event_id) FROM events");
        cr_assert_str_eq(v, "events_2026_10:a,events_2026_11:b");
        free(v);
        v = tk_scalar(c, "SELECT count(*) FROM pg_inherits i JOIN pg_class p "
                         "ON p.oid = i.inhparent WHERE p.relname = "
                         "'usage_rollups'");
        cr_assert_str_eq(v, "2");
        free(v);
        PQfinish(c);
}

Test(migrate, dedup_key_is_unique_for_all_time)
{
        PGconn *c = fresh("mig_dedup");
        PGresult *r;
        char *v;

        cr_assert_eq(sch_db_migrate(c, NULL, NULL), TL_OK);
        tk_exec(c, "INSERT INTO event_keys VALUES (tally_event_key('c', "
                   "'s', 'i'), decode(repeat('00', 32), 'hex'), "
                   "'2026-10-01Z')");
        /* Same key a year later: still the same key. */
        r = PQexec(c, "INSERT INTO event_keys VALUES (tally_event_key('c', "
                      "'s', 'i'), decode(repeat('11', 32), 'hex'), "
                      "'2027-10-01Z') ON CONFLICT DO NOTHING");
        cr_assert_eq(PQresultStatus(r), PGRES_COMMAND_OK);
        cr_assert_str_eq(PQcmdTuples(r), "0");
        PQclear(r);
        /* Another customer's identical id is another key. */
        tk_exec(c, "INSERT INTO event_keys VALUES (tally_event_key('d', "
                   "'s', 'i'), decode(repeat('00', 32), 'hex'), "
                   "'2026-10-01Z')");
        /* The separator keeps ("ab", "c") apart from ("a", "bc"). */
        v = tk_scalar(c, "SELECT tally_event_key('ab', 'c', 'i') = "
                         "tally_event_key('a', 'bc', 'i')");
        cr_assert_str_eq(v, "f");
        free(v);
        PQfinish(c);
}

Test(migrate, ingest_counts_must_reconcile)
{
        PGconn *c = fresh("mig_counts");
        PGresult *r;

        cr_assert_eq(sch_db_migrate(c, NULL, NULL), TL_OK);
        r = PQexec(c, "INSERT INTO ingest_counts VALUES ('g', 't', 0, 10, 5, "
                      "3, 1)");
        cr_assert_eq(PQresultStatus(r), PGRES_FATAL_ERROR,
                     "10 consumed but 9 accounted for");
        PQclear(r);
        PQfinish(c);
}
