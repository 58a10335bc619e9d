/* Applying the embedded SQL migrations, once each, in order. */
#include "schemas/db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "migrations.h"

/* Any constant will do; it only has to be the same in every tally. */
#define MIGRATE_LOCK_KEY "7381652914"

tl_status sch_db_connect(PGconn **out, struct tl_error *err)
{
        const char *url = getenv("DATABASE_URL");
        PQconninfoOption *opts;
        char *why = NULL;
        PGconn *c;

        /* libpq's message for a malformed connection string quotes pieces of
           it, and it may hold a password: say only that it is malformed. */
        if (!(opts = PQconninfoParse(url && *url ? url : "", &why))) {
                PQfreemem(why);
                return tl_fail(err, TL_EINVAL,
                               "DATABASE_URL is not a valid libpq connection "
                               "string or URI (its text is not shown: it may "
                               "hold a password)");
        }
        PQconninfoFree(opts);
        c = PQconnectdb(url && *url ? url : "");
        if (PQstatus(c) != CONNECTION_OK) {
                tl_fail(err, TL_EDB, "cannot connect to PostgreSQL: %s",
                        PQerrorMessage(c));
                PQfinish(c);
                return TL_EDB;
        }
        *out = c;
        return TL_OK;
}

int sch_db_latest_version(void)
{
        return sch__migration_count
                   ? sch__migrations[sch__migration_count - 1].version
                   : 0;
}

static void sha256_hex(const char *data, size_t len, char out[65])
{
        unsigned char h[SHA256_DIGEST_LENGTH];

        SHA256((const unsigned char *)data, len, h);
        for (int i = 0; i < SHA256_DIGEST_LENGTH; i++)
                snprintf(out + 2 * i, 3, "%02x", h[i]);
}

/* Run 'sql'; TL_EDB with 'what' and the server's message on failure. */
static tl_status exec(PGconn *c, const char *sql, const char *what,
                      struct tl_error *err)
{
        PGresult *r = PQexec(c, sql);
        ExecStatusType st = PQresultStatus(r);
        tl_status rc = TL_OK;

        if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
                const char *line =
                    PQresultErrorField(r, PG_DIAG_STATEMENT_POSITION);
                rc = tl_fail(err, TL_EDB, "%s: %s%s%s", what,
                             PQresultErrorMessage(r),
                             line ? " at character " : "", line ? line : "");
        }
        PQclear(r);
        return rc;
}

static tl_status apply(PGconn *c, const struct sch__migration *m,
                       const char *hash, struct tl_error *err)
{
        const char *params[3];
        char version[16], what[160];
        PGresult *r;
        tl_status rc;

        snprintf(what, sizeof what, "migration %s", m->name);
        rc = exec(c, "BEGIN", what, err);
        if (rc)
                return rc;
        rc = exec(c, m->sql, what, err);
        if (rc) {
                exec(c, "ROLLBACK", what, NULL);
                return rc;
        }
        snprintf(version, sizeof version, "%d", m->version);
        params[0] = version;
        params[1] = m->name;
        params[2] = hash;
        r = PQexecParams(c,
                         "INSERT INTO tally_migrations (version, name, sha256)"
                         " VALUES ($1, $2, $3)",
                         3, NULL, params, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
                rc = tl_fail(err, TL_EDB, "%s: recording it: %s", what,
                             PQresultErrorMessage(r));
                PQclear(r);
                exec(c, "ROLLBACK", what, NULL);
                return rc;
        }
        PQclear(r);
        return exec(c, "COMMIT", what, err);
}

/* Compare what the database recorded with what this binary carries. */
static tl_status check_applied(PGresult *applied, int *max_version,
                               struct tl_error *err)
{
        *max_version = 0;
        for (int i = 0; i < PQntuples(applied); i++) {
                int v = atoi(PQgetvalue(applied, i, 0));
                const char *sha = PQgetvalue(applied, i, 1);
                const struct sch__migration *m = NULL;
                char hash[65];

                if (v > *max_version)
                        *max_version = v;
                for (unsigned k = 0; k < sch__migration_count; k++)
                        if (sch__migrations[k].version == v)
                                m = &sch__migrations[k];
                if (!m)
                        return tl_fail(err, TL_ECONFLICT,
                                       "database schema version %d is newer "
                                       "than this tally (%d)",
                                       v, sch_db_latest_version());
                sha256_hex(m->sql, m->len, hash);
                if (strcmp(hash, sha) != 0)
                        return tl_fail(err, TL_ECONFLICT,
                                       "migration %s changed after it was "
                                       "applied (database has sha256 %.12s..., "
                                       "this tally %.12s...)",
                                       m->name, sha, hash);
        }
        return TL_OK;
}

static tl_status migrate_locked(PGconn *c, struct sch_migrate_report *rep,
                                struct tl_error *err)
{
        PGresult *r;
        tl_status rc;
        int have;

        rc = exec(c,
                  "CREATE TABLE IF NOT EXISTS tally_migrations ("
                  " version integer PRIMARY KEY, name text NOT NULL,"
                  " sha256 text NOT NULL,"
                  " applied_at timestamptz NOT NULL DEFAULT now())",
                  "creating tally_migrations", err);
        if (rc)
                return rc;
        r = PQexec(c, "SELECT version, sha256 FROM tally_migrations");
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
                rc = tl_fail(err, TL_EDB, "reading tally_migrations: %s",
                             PQresultErrorMessage(r));
                PQclear(r);
                return rc;
        }
        rc = check_applied(r, &have, err);
        PQclear(r);
        if (rc)
                return rc;
        rep->version_before = rep->version_after = have;
        for (unsigned k = 0; k < sch__migration_count; k++) {
                const struct sch__migration *m = &sch__migrations[k];
                char hash[65];
                if (m->version <= have)
                        continue;
                sha256_hex(m->sql, m->len, hash);
                rc = apply(c, m, hash, err);
                if (rc)
                        return rc;
                rep->applied++;
                rep->version_after = m->version;
        }
        return TL_OK;
}

tl_status sch_db_migrate(PGconn *conn, struct sch_migrate_report *report,
                         struct tl_error *err)
{
        struct sch_migrate_report rep = {0, 0, 0};
        tl_status rc;

        /* IF NOT EXISTS notices are expected, not news. */
        rc = exec(conn, "SET client_min_messages TO warning",
                  "configuring the session", err);
        if (!rc)
                rc = exec(conn, "SELECT pg_advisory_lock(" MIGRATE_LOCK_KEY ")",
                          "taking the migration lock", err);
        if (rc)
                return rc;
        rc = migrate_locked(conn, &rep, err);
        exec(conn, "SELECT pg_advisory_unlock(" MIGRATE_LOCK_KEY ")",
             "releasing the migration lock", NULL);
        if (!rc && report)
                *report = rep;
        return rc;
}
