/* The PostgreSQL schema: connecting and applying the embedded migrations. */
#ifndef SCH_DB_H
#define SCH_DB_H

#include <libpq-fe.h>

#include "core/error.h"

/*
** Connect with DATABASE_URL when set, else libpq's own variables (PGHOST,
** PGDATABASE, ...). Returns TL_OK and '*out' (the caller PQfinish()es it),
** or TL_EDB with libpq's reason, which never holds the password; TL_EINVAL
** for a malformed DATABASE_URL, whose text is never quoted.
*/
tl_status sch_db_connect(PGconn **out, struct tl_error *err);

/* What sch_db_migrate did. */
struct sch_migrate_report {
        int version_before; /* 0 on an empty database */
        int version_after;
        int applied; /* migrations applied by this call */
};

/*
** Bring the database to the newest schema this binary carries: each
** missing migration runs in its own transaction and is recorded in
** tally_migrations with its SHA-256. Idempotent, and safe when several
** processes migrate at once (an advisory lock serialises them).
** Returns TL_OK; TL_ECONFLICT when an applied migration's text changed, or
** the database is newer than this binary; TL_EDB for a failed statement
** (that migration is rolled back, 'err' names it).
*/
tl_status sch_db_migrate(PGconn *conn, struct sch_migrate_report *report,
                         struct tl_error *err);

/*
** Keep the statements sch_db_exec runs on 'conn' prepared, each parsed and
** planned by PostgreSQL once per connection instead of once per run (the
** cache lives with 'conn' and goes with PQfinish; PQreset empties it).
** For long-lived connections that repeat a few statements. TL_OK; TL_ENOMEM;
** TL_EDB.
*/
tl_status sch_db_cache_statements(PGconn *conn, struct tl_error *err);

/*
** PQexecParams of 'sql' with 'nparams' text 'params', through the prepared
** statement cache when sch_db_cache_statements was called on 'conn'. The
** result is the caller's to PQclear, as PQexecParams'.
*/
PGresult *sch_db_exec(PGconn *conn, const char *sql, int nparams,
                      const char *const *params, int result_format);

/* One statement of sch_db_exec_all: sch_db_exec's arguments. */
struct sch_db_stmt {
        const char *sql;
        int nparams;
        const char *const *params;
        int result_format;
};

/*
** Run the 'n' statements of 'st' as sch_db_exec would, in one round trip
** where the statement cache is on (libpq's pipeline mode: all are sent,
** then all results read), one after another otherwise. 'out[i]' is
** statement i's result, the caller's to PQclear (NULL only when the
** connection broke, which PQresultStatus reports as a fatal error). The
** statements run in one implicit transaction: after a failed one, the
** later ones report PGRES_PIPELINE_ABORTED.
*/
void sch_db_exec_all(PGconn *conn, const struct sch_db_stmt *st, size_t n,
                     PGresult **out);

/* The newest schema version this binary carries. */
int sch_db_latest_version(void);

#endif
