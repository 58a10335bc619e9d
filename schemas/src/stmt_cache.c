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

PGresult *sch_db_exec(PGconn *conn, const char *sql, int nparams,
                      const char *const *params, int result_format)
{
        struct cache *c = PQinstanceData(conn, on_event);
        uint64_t h;
        char name[24];
        size_t i;

        if (!c)
                return PQexecParams(conn, sql, nparams, NULL, params, NULL,
                                    NULL, result_format);
        h = tl_hash64(sql, strlen(sql), 0x5747) | 1; /* never 0: free */
        snprintf(name, sizeof name, "tl_%016llx", (unsigned long long)h);
        for (i = 0; i < c->count && c->prepared[i] != h; i++)
                ;
        if (i == c->count) {
                PGresult *p = PQprepare(conn, name, sql, nparams, NULL);
                bool ok = PQresultStatus(p) == PGRES_COMMAND_OK;

                /* A failed prepare is answered the ordinary way, so the
                   caller sees the statement's own error. */
                PQclear(p);
                if (!ok || c->count == CACHE_SLOTS)
                        return ok ? PQexecPrepared(conn, name, nparams, params,
                                                   NULL, NULL, result_format)
                                  : PQexecParams(conn, sql, nparams, NULL,
                                                 params, NULL, NULL,
                                                 result_format);
                c->prepared[c->count++] = h;
        }
        return PQexecPrepared(conn, name, nparams, params, NULL, NULL,
                              result_format);
}
