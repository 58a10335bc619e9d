/* The writer threads. The consumer thread owns every decision (what to
   commit, what a failure means); a writer only runs meter__store_commit()
   on its own connection and hands the status back. */
#include "writer.h"

#include <string.h>

#include "service.h"

static void *writer_main(void *arg)
{
        struct meter_writer *w = arg;

        pthread_mutex_lock(&w->mu);
        for (;;) {
                struct meter_batch *b;
                struct tl_error e = {0};
                tl_status rc;

                while (!w->quit && !(w->job && !w->done))
                        pthread_cond_wait(&w->cv, &w->mu);
                if (!(w->job && !w->done))
                        break;
                b = w->job;
                pthread_mutex_unlock(&w->mu);
                if (!meter__ensure_store(w->m, &w->st))
                        rc = tl_fail(&e, TL_EDB,
                                     "meter: stopping before the "
                                     "database came back");
                else
                        rc = meter__store_commit(w->st, b, &e);
                if (rc && !meter__store_alive(w->st))
                        w->m->db_up = 0;
                pthread_mutex_lock(&w->mu);
                w->rc = rc;
                w->err = e;
                w->done = true;
                pthread_cond_broadcast(&w->cv);
        }
        pthread_mutex_unlock(&w->mu);
        return NULL;
}

tl_status meter__writer_start(struct meter_writer *w, struct meter *m,
                              struct tl_error *err)
{
        memset(w, 0, sizeof *w);
        w->m = m;
        pthread_mutex_init(&w->mu, NULL);
        pthread_cond_init(&w->cv, NULL);
        if (pthread_create(&w->thread, NULL, writer_main, w) != 0) {
                pthread_cond_destroy(&w->cv);
                pthread_mutex_destroy(&w->mu);
                return tl_fail(err, TL_EINTERNAL,
                               "meter: cannot start a writer thread");
        }
        w->running = true;
        return TL_OK;
}

void meter__writer_hand(struct meter_writer *w, struct meter_batch *b)
{
        pthread_mutex_lock(&w->mu);
        w->job = b;
        w->done = false;
        pthread_cond_broadcast(&w->cv);
        pthread_mutex_unlock(&w->mu);
}

void meter__writer_take(struct meter_writer *w, struct meter_batch **out,
                        tl_status *rc, struct tl_error *err)
{
        pthread_mutex_lock(&w->mu);
        while (w->job && !w->done)
                pthread_cond_wait(&w->cv, &w->mu);
        *out = w->job;
        *rc = w->rc;
        *err = w->err;
        w->job = NULL;
        w->done = false;
        pthread_mutex_unlock(&w->mu);
}

bool meter__writer_finished(struct meter_writer *w)
{
        bool done;

        pthread_mutex_lock(&w->mu);
        done = w->job && w->done;
        pthread_mutex_unlock(&w->mu);
        return done;
}

void meter__writer_stop(struct meter_writer *w)
{
        if (!w->running)
                return;
        pthread_mutex_lock(&w->mu);
        w->quit = true;
        pthread_cond_broadcast(&w->cv);
        pthread_mutex_unlock(&w->mu);
        pthread_join(w->thread, NULL);
        pthread_cond_destroy(&w->cv);
        pthread_mutex_destroy(&w->mu);
        meter__store_free(&w->st);
        w->running = false;
}
