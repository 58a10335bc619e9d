/* The PostgreSQL connections request threads share: a stack of them,
   last used first, opened when first needed and dropped when unusable. */
#include "internal.h"

#include <string.h>

#include "core/alloc.h"
#include "schemas/db.h"

/* Whether 'db' can serve the next request as it is: a failed pipeline
   (sch_db_exec_all) or a transaction left open would follow it there. */
static bool reusable(PGconn *db)
{
        return PQstatus(db) == CONNECTION_OK &&
               PQpipelineStatus(db) == PQ_PIPELINE_OFF &&
               PQtransactionStatus(db) == PQTRANS_IDLE;
}

PGconn *api__db(struct api__call *c, struct tl_error *err)
{
        struct api__pool *p = &c->srv->pool;
        PGconn *db;

        if (c->db)
                return c->db;
        pthread_mutex_lock(&p->mu);
        while (p->free == 0)
                pthread_cond_wait(&p->cv, &p->mu);
        db = p->conns[--p->free];
        pthread_mutex_unlock(&p->mu);
        if (db && !reusable(db)) {
                PQfinish(db);
                db = NULL;
        }
        if (!db) {
                /* A connection runs the same few statements for as long as
                   serve does: PostgreSQL parses and plans each once, not
                   per request. One plan per statement, pruned to the
                   period's partitions at run time: with "auto",
                   PostgreSQL kept planning anew (1,057 vs 1,247 drafts/s
                   in one run each). A refusal leaves the default, which
                   is only slower. */
                if (!sch_db_connect(&db, err)) {
                        PQclear(PQexec(
                            db, "SET plan_cache_mode = force_generic_plan"));
                        if (sch_db_cache_statements(db, err)) {
                                PQfinish(db);
                                db = NULL;
                        }
                } else {
                        db = NULL;
                }
        }
        if (!db) {
                api__db_release(c->srv, NULL);
                return NULL;
        }
        c->db = db;
        return db;
}

void api__db_release(struct api_server *s, PGconn *db)
{
        struct api__pool *p = &s->pool;

        if (db && !reusable(db)) {
                PQfinish(db);
                db = NULL;
        }
        pthread_mutex_lock(&p->mu);
        p->conns[p->free++] = db;
        pthread_cond_signal(&p->cv);
        pthread_mutex_unlock(&p->mu);
}

tl_status api__pool_init(struct api__pool *p, size_t size, struct tl_error *err)
{
        memset(p, 0, sizeof *p);
        p->conns = tl_calloc(size, sizeof *p->conns);
        if (!p->conns || pthread_mutex_init(&p->mu, NULL) ||
            pthread_cond_init(&p->cv, NULL)) {
                tl_free(p->conns);
                p->conns = NULL;
                return tl_fail(err, TL_ENOMEM, "serve: out of memory");
        }
        p->size = p->free = size; /* each NULL until first needed */
        return TL_OK;
}

void api__pool_release(struct api__pool *p)
{
        if (!p->conns)
                return;
        for (size_t i = 0; i < p->free; i++)
                PQfinish(p->conns[i]);
        tl_free(p->conns);
        pthread_mutex_destroy(&p->mu);
        pthread_cond_destroy(&p->cv);
        p->conns = NULL;
}
