/* Prepared statements per connection, for services that run the same few
   statements on long-lived connections (`tally serve`): parsing and
   planning a statement over partitioned tables cost PostgreSQL more than
   running it (docs/benchmarks.md, the API section). */
#include "schemas/db.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <libpq-events.h>

#include "core/alloc.h"
#include "core/hash.h"

#define CACHE_SLOTS 64 /* a service runs a few dozen statements at most */

struct cache {
        uint64_t prepared[CACHE_SLOTS]; /* SQL text hashes; 0: free */
        size_t count;
};

/* libpq calls this on the connection's events: a reset drops the
   server's prepared statements, a destroy the cache itself. */
static int on_event(PGEventId id, void *info, void *arg)
{
        (void)arg;
        if (id == PGEVT_CONNRESET) {
                PGEventConnReset *e = info;
                struct cache *c = PQinstanceData(e->conn, on_event);

                if (c)
                        memset(c, 0, sizeof *c);
        } else if (id == PGEVT_CONNDESTROY) {
                PGEventConnDestroy *e = info;

                tl_free(PQinstanceData(e->conn, on_event));
        }
        return 1;
}

tl_status sch_db_cache_statements(PGconn *conn, struct tl_error *err)
{
        struct cache *c;

        if (PQinstanceData(conn, on_event))
                return TL_OK;
        c = tl_calloc(1, sizeof *c);
        if (!c)
                return tl_fail(err, TL_ENOMEM,
                               "statement cache: out of memory");
        if (!PQregisterEventProc(conn, on_event, "tally statements", NULL) ||
            !PQsetInstanceData(conn, on_event, c)) {
                tl_free(c);
                return tl_fail(err, TL_EDB,
                               "statement cache: libpq refused "
                               "the event procedure");
        }
        return TL_OK;
}

static void name_of(uint64_t h, char name[24])
{
        snprintf(name, 24, "tl_%016llx", (unsigned long long)h);
}

/* Whether 'h' is prepared on the connection; prepares it when it can. */
static bool prepared(PGconn *conn, struct cache *c, uint64_t h, const char *sql,
                     int nparams)
{
        char name[24];
        PGresult *p;
        bool ok;
        size_t i;

        for (i = 0; i < c->count && c->prepared[i] != h; i++)
                ;
        if (i < c->count)
                return true;
        if (c->count == CACHE_SLOTS)
                return false;
        name_of(h, name);
        p = PQprepare(conn, name, sql, nparams, NULL);
        ok = PQresultStatus(p) == PGRES_COMMAND_OK;
        PQclear(p);
        if (ok)
                c->prepared[c->count++] = h;
        return ok;
}

static uint64_t hash_of(const char *sql)
{
        return tl_hash64(sql, strlen(sql), 0x5747) | 1; /* never 0: free */
}

PGresult *sch_db_exec(PGconn *conn, const char *sql, int nparams,
                      const char *const *params, int result_format)
{
        struct cache *c = PQinstanceData(conn, on_event);
        uint64_t h;
        char name[24];

        /* A statement that cannot be prepared is answered the ordinary
           way, so the caller sees the statement's own error. */
        if (!c || !prepared(conn, c, h = hash_of(sql), sql, nparams))
                return PQexecParams(conn, sql, nparams, NULL, params, NULL,
                                    NULL, result_format);
        name_of(h, name);
        return PQexecPrepared(conn, name, nparams, params, NULL, NULL,
                              result_format);
}

/* Read what a pipeline sent up to its sync: each statement's result into
   'out' (the first of each), the rest dropped. False when the connection
   broke before the sync arrived. */
static bool collect(PGconn *conn, size_t n, PGresult **out)
{
        PGresult *r;

        for (size_t i = 0; i < n; i++) {
                out[i] = PQgetResult(conn);
                if (!out[i])
                        return false;
                /* Each statement's results end with a NULL. */
                while ((r = PQgetResult(conn)) != NULL)
                        PQclear(r);
        }
        r = PQgetResult(conn);
        if (PQresultStatus(r) != PGRES_PIPELINE_SYNC) {
                PQclear(r);
                return false;
        }
        PQclear(r);
        return true;
}

/* Everything up to the pipeline's sync, dropped. */
static void drain(PGconn *conn)
{
        int nulls = 0;

        while (nulls < 2) {
                PGresult *r = PQgetResult(conn);
                bool sync = PQresultStatus(r) == PGRES_PIPELINE_SYNC;

                nulls = r ? 0 : nulls + 1;
                PQclear(r);
                if (sync)
                        return;
        }
}

void sch_db_exec_all(PGconn *conn, const struct sch_db_stmt *st, size_t n,
                     PGresult **out)
{
        struct cache *c = PQinstanceData(conn, on_event);
        uint64_t h[CACHE_SLOTS];
        char name[24];
        bool piped = c && n <= CACHE_SLOTS;
        size_t sent = 0;

        for (size_t i = 0; i < n; i++)
                out[i] = NULL;
        for (size_t i = 0; piped && i < n; i++)
                piped = prepared(conn, c, h[i] = hash_of(st[i].sql), st[i].sql,
                                 st[i].nparams);
        if (piped && PQenterPipelineMode(conn)) {
                for (; sent < n; sent++) {
                        name_of(h[sent], name);
                        if (!PQsendQueryPrepared(conn, name, st[sent].nparams,
                                                 st[sent].params, NULL, NULL,
                                                 st[sent].result_format))
                                break;
                }
                if (sent == n && PQpipelineSync(conn) &&
                    collect(conn, n, out) && PQexitPipelineMode(conn))
                        return;
                /* Failed midway (a broken connection, or no memory): no
                   result is trusted. A connection that works is read up
                   to its sync and taken out of pipeline mode; one left in
                   it is the caller's to drop (PQpipelineStatus). */
                for (size_t i = 0; i < n; i++) {
                        PQclear(out[i]);
                        out[i] = NULL;
                }
                if (PQstatus(conn) == CONNECTION_OK) {
                        if (sent < n)
                                PQpipelineSync(conn);
                        drain(conn);
                        PQexitPipelineMode(conn);
                }
                return;
        }
        for (size_t i = 0; i < n; i++)
                out[i] = sch_db_exec(conn, st[i].sql, st[i].nparams,
                                     st[i].params, st[i].result_format);
}
