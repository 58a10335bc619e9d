/* The PostgreSQL fixture: private, unprivileged, isolated, always torn down. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testkit.h"

TK_INTEGRATION_PRE_ALL()
TK_INTEGRATION_POST_ALL()

Test(pg_fixture, serves_postgresql_15_on_a_private_socket)
{
        tk_require_env();
        PGconn *c = tk_pg_fresh_db("pgfix_version");
        cr_assert(c);
        char *v = tk_scalar(c, "SHOW server_version_num");
        cr_assert_geq(atoi(v), 150000, "%s", v);
        free(v);
        v = tk_scalar(c, "SHOW listen_addresses");
        cr_assert_str_eq(v, "", "no TCP listener");
        free(v);
        cr_assert_str_eq(PQhost(c), getenv("PGHOST"));
        PQfinish(c);
}

Test(pg_fixture, server_runs_unprivileged)
{
        struct stat st;
        char path[256];

        tk_require_env();
        snprintf(path, sizeof path, "%s/data", getenv("PGHOST"));
        cr_assert_eq(stat(path, &st), 0);
        if (geteuid() == 0)
                cr_assert_neq(st.st_uid, 0, "postgres must not run as root");
        else
                cr_assert_eq(st.st_uid, geteuid());
}

Test(pg_fixture, each_suite_gets_a_fresh_database)
{
        tk_require_env();
        PGconn *a = tk_pg_fresh_db("pgfix_a");
        tk_exec(a, "CREATE TABLE only_in_a (x int)");
        PQfinish(a);
        PGconn *b = tk_pg_fresh_db("pgfix_b");
        char *n = tk_scalar(b, "SELECT count(*) FROM pg_tables "
                               "WHERE tablename = 'only_in_a'");
        cr_assert_str_eq(n, "0");
        free(n);
        PQfinish(b);
        /* Asking again for a name wipes what was there. */
        a = tk_pg_fresh_db("pgfix_a");
        n = tk_scalar(a, "SELECT count(*) FROM pg_tables "
                         "WHERE tablename = 'only_in_a'");
        cr_assert_str_eq(n, "0");
        free(n);
        PQfinish(a);
}

static int dir_exists(const char *path)
{
        struct stat st;
        return stat(path, &st) == 0;
}

Test(pg_fixture, watchdog_tears_down_when_the_owner_dies, .timeout = 120)
{
        /* A stand-in for a test runner that is killed outright. */
        pid_t owner = fork();
        struct tk_pg pg = {0};

        cr_assert_geq(owner, 0);
        if (owner == 0) {
                pause();
                _exit(0);
        }
        cr_assert_eq(tk_pg_start(&pg, owner), 0);
        char pidfile[256];
        snprintf(pidfile, sizeof pidfile, "%s/data/postmaster.pid", pg.dir);
        cr_assert(dir_exists(pidfile), "server running");
        kill(owner, SIGKILL);
        waitpid(owner, NULL, 0);
        for (int i = 0; i < 300 && dir_exists(pg.dir); i++)
                usleep(100 * 1000);
        cr_assert_not(dir_exists(pg.dir), "cluster removed after owner died");
}

Test(pg_fixture, stop_removes_the_cluster)
{
        struct tk_pg pg = {0};

        tk_require_env();
        cr_assert_eq(tk_pg_start(&pg, 0), 0);
        cr_assert(dir_exists(pg.dir));
        cr_assert_eq(tk_pg_stop(&pg), 0);
        cr_assert_not(dir_exists(pg.dir));
}
