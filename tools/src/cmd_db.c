/* tally db: the database schema (migrations). */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "schemas/db.h"

static int migrate(const struct cli_command *cmd)
{
        struct sch_migrate_report rep;
        struct tl_error err;
        PGconn *conn = NULL;
        tl_status rc;

        (void)cmd;
        rc = sch_db_connect(&conn, &err);
        if (!rc)
                rc = sch_db_migrate(conn, &rep, &err);
        PQfinish(conn);
        if (rc) {
                fprintf(stderr, "tally db migrate: %s\n", err.msg);
                return tl_status_exit_code(rc);
        }
        if (rep.applied)
                printf("applied %d migration(s): schema version %d -> %d\n",
                       rep.applied, rep.version_before, rep.version_after);
        else
                printf("schema up to date at version %d\n", rep.version_after);
        return CLI_EXIT_OK;
}

int cli_db_main(int argc, char **argv)
{
        const struct cli_command *cmd = cli_find("db");

        if (argc < 2)
                return cli_usage_error(cmd, "missing subcommand (migrate)");
        if (strcmp(argv[1], "migrate") != 0)
                return cli_usage_error(cmd, "unknown subcommand '%s'", argv[1]);
        if (argc > 2)
                return cli_usage_error(cmd, "unexpected argument '%s'",
                                       argv[2]);
        return migrate(cmd);
}
