/* GET /v1/customers/{id}/entitlements from memory (controls.md), kept
   exact by the meter's commits, and the crossings of alerts, hard limits
   and low balances written once into the webhook outbox. */
#include "internal.h"

#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/dec.h"
#include "core/log.h"
#include "invoicing/invoicing.h"
#include "schemas/db.h"

#define CACHE_BUCKETS 65536u
#define CACHE_MAX 200000u /* entries; over it the cache starts again */

struct api__ent_entry {
        struct api__ent_entry *next;
        char *id;
        char *body; /* the answer as sent */
        size_t len;
};

static size_t bucket_of(const char *id)
{
        uint64_t h = 1469598103934665603ull; /* FNV-1a */

        for (; *id; id++)
                h = (h ^ (unsigned char)*id) * 1099511628211ull;
        return (size_t)(h % CACHE_BUCKETS);
}

static void entry_free(struct api__ent_entry *e)
{
        tl_free(e->id);
        tl_free(e->body);
        tl_free(e);
}

/* Drop 'id' (NULL: everything) and move the generation on, so an answer
   computed before cannot be stored after. Caller holds the lock. */
static void drop_locked(struct api__entitlements *x, const char *id)
{
        x->gen++;
        for (size_t b = id ? bucket_of(id) : 0;
             b < (id ? bucket_of(id) + 1 : CACHE_BUCKETS); b++) {
                struct api__ent_entry **pp = &x->buckets[b];

                while (*pp) {
                        struct api__ent_entry *e = *pp;

                        if (id && strcmp(e->id, id)) {
                                pp = &e->next;
                                continue;
                        }
                        *pp = e->next;
                        entry_free(e);
                        x->count--;
                }
        }
}

/* Keep 'body' for 'id' when nothing was dropped since generation 'gen'. */
static void store(struct api__entitlements *x, const char *id, uint64_t gen,
                  const char *body, size_t len)
{
        struct api__ent_entry *e;
        size_t b = bucket_of(id);

        pthread_mutex_lock(&x->mu);
        if (gen != x->gen)
                goto out;
        if (x->count >= CACHE_MAX)
                drop_locked(x, NULL), gen = x->gen;
        for (e = x->buckets[b]; e; e = e->next)
                if (!strcmp(e->id, id))
                        goto out;
        e = tl_calloc(1, sizeof *e);
        if (!e || !(e->id = tl_strdup(id)) || !(e->body = tl_malloc(len + 1))) {
                if (e)
                        entry_free(e);
                goto out;
        }
        memcpy(e->body, body, len + 1);
        e->len = len;
        e->next = x->buckets[b];
        x->buckets[b] = e;
        x->count++;
out:
        pthread_mutex_unlock(&x->mu);
}

static json_t *dec_str(const struct tl_dec *d)
{
        char s[TL_DEC_STR_MAX];

        tl_dec_format(d, s, sizeof s);
        return json_string(s);
}

/* The answer of controls.md for state 's'. */
static json_t *answer(const char *id, const struct inv_controls_state *s,
                      const char *as_of)
{
        json_t *meters = json_object();

        for (size_t i = 0; meters && i < s->meter_count; i++) {
                const struct inv_meter_state *m = &s->meters[i];

                json_object_set_new(
                    meters, m->meter,
                    json_pack("{s:o, s:o, s:o?, s:o?, s:b}", "used",
                              dec_str(&m->used), "included_left",
                              dec_str(&m->included_left), "hard_limit",
                              m->has_hard ? dec_str(&m->hard) : NULL,
                              "remaining",
                              m->has_hard ? dec_str(&m->remaining) : NULL,
                              "allowed", !m->reached));
        }
        return json_pack("{s:s, s:s, s:b, s:o, s:o}", "customer", id, "as_of",
                         as_of, "allowed", s->allowed, "balance",
                         dec_str(&s->balance.balance), "meters", meters);
}

/* Compute customer 'id''s state on 'db' and keep its answer ('*body' the
   text, tl_free it; may be NULL). */
static tl_status compute(struct api_server *srv, PGconn *db, const char *id,
                         struct inv_controls_state *st, char **body,
                         size_t *len, struct tl_error *err)
{
        struct api__entitlements *x = &srv->ent;
        const struct rate_catalog_set *set;
        char as_of[40];
        uint64_t gen;
        tl_status rc;
        json_t *doc;
        char *text;
        size_t n;

        pthread_mutex_lock(&x->mu);
        gen = x->gen;
        pthread_mutex_unlock(&x->mu);
        tl_time_format_rfc3339(srv->inv->now_us ? srv->inv->now_us
                                                : tl_time_now_us(),
                               as_of, sizeof as_of);
        set = rate_reloader_acquire(srv->rules);
        rc = inv_controls_state(db, srv->inv, set, id, st, err);
        rate_reloader_release(srv->rules, set);
        if (rc)
                return rc;
        doc = answer(id, st, as_of);
        text = doc ? json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
        json_decref(doc);
        if (!text)
                return tl_fail(err, TL_ENOMEM, "entitlements: out of memory");
        n = strlen(text);
        store(x, id, gen, text, n);
        if (body) {
                *len = n;
                *body = tl_malloc(n + 1);
                if (*body)
                        memcpy(*body, text, n + 1);
        }
        free(text); /* lint: libc-free: jansson allocated it */
        return body && !*body
                   ? tl_fail(err, TL_ENOMEM, "entitlements: out of memory")
                   : TL_OK;
}

enum MHD_Result api__entitlements(struct api__call *c)
{
        struct api__entitlements *x = &c->srv->ent;
        const char *id = c->seg[2];
        struct inv_controls_state st;
        struct tl_error err = {TL_OK, ""};
        struct MHD_Response *r = NULL;
        struct api__ent_entry *e;
        enum MHD_Result a;
        char *body = NULL;
        size_t len = 0;
        tl_status rc;

        if (!api__may_read(c, id, &a))
                return a;
        pthread_mutex_lock(&x->mu);
        for (e = x->buckets[bucket_of(id)]; e; e = e->next)
                if (!strcmp(e->id, id)) {
                        r = MHD_create_response_from_buffer(
                            e->len, e->body, MHD_RESPMEM_MUST_COPY);
                        break;
                }
        pthread_mutex_unlock(&x->mu);
        if (e)
                return api__send(c, MHD_HTTP_OK, r, "application/json", NULL);
        if (!api__db(c, &err))
                return api__fail(c, TL_EDB, &err);
        rc = compute(c->srv, c->db, id, &st, &body, &len, &err);
        inv_controls_state_release(&st);
        if (rc == TL_ENOTFOUND)
                return api__error(c, MHD_HTTP_NOT_FOUND, "not_found",
                                  "no such customer", NULL);
        if (rc)
                return api__fail(c, rc, &err);
        r = MHD_create_response_from_buffer_with_free_callback(len, body,
                                                               tl_free);
        if (!r)
                tl_free(body);
        return api__send(c, MHD_HTTP_OK, r, "application/json", NULL);
}

/* ---- crossings ------------------------------------------------------- */

/* tally_notify once per (type, customer, what, period). */
static void notify(PGconn *db, const char *type, const char *id,
                   const char *what, const char *period, json_t *data)
{
        char key[API__ID_MAX * 3 + 64];
        char *text =
            data ? json_dumps(data, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
        const char *params[4] = {type, id, key, text};
        PGresult *r;

        json_decref(data);
        if (!text)
                return;
        snprintf(key, sizeof key, "%s:%s:%s:%s", type, id, what, period);
        r = PQexecParams(db, "SELECT tally_notify($1, $2, $3, $4::json)", 4,
                         NULL, params, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_TUPLES_OK)
                tl_log(TL_LOG_WARN, "controls", "notify failed",
                       "customer=\"%s\" key=\"%s\" error=\"%s\"", id, key,
                       PQerrorMessage(db));
        PQclear(r);
        free(text); /* lint: libc-free: jansson allocated it */
}

static void crossings(PGconn *db, const char *id,
                      const struct inv_controls_state *s)
{
        const char *period = s->balance.period;

        for (size_t i = 0; i < s->alert_count; i++) {
                const struct inv_alert_state *a = &s->alerts[i];

                if (a->crossed)
                        notify(db, "alert.triggered", id, a->id, period,
                               json_pack("{s:s, s:s, s:s, s:s?, s:o}",
                                         "customer", id, "period", period,
                                         "alert", a->id, "meter", a->meter,
                                         "at_least", dec_str(&a->at_least)));
        }
        for (size_t i = 0; i < s->meter_count; i++) {
                const struct inv_meter_state *m = &s->meters[i];

                if (m->reached)
                        notify(db, "limit.reached", id, m->meter, period,
                               json_pack("{s:s, s:s, s:s, s:o, s:o}",
                                         "customer", id, "period", period,
                                         "meter", m->meter, "hard_limit",
                                         dec_str(&m->hard), "used",
                                         dec_str(&m->used)));
        }
        if (s->low)
                notify(db, "balance.low", id, "wallet", period,
                       json_pack("{s:s, s:s, s:o, s:o, s:s}", "customer", id,
                                 "period", period, "balance",
                                 dec_str(&s->balance.balance), "low_balance",
                                 dec_str(&s->low_balance), "currency",
                                 s->balance.currency));
}

/* Recompute 'id' after a commit touched it, and write its crossings. */
static void touched(struct api_server *srv, PGconn *db, const char *id)
{
        struct inv_controls_state st;
        struct tl_error err = {TL_OK, ""};

        pthread_mutex_lock(&srv->ent.mu);
        drop_locked(&srv->ent, id);
        pthread_mutex_unlock(&srv->ent.mu);
        if (!compute(srv, db, id, &st, NULL, NULL, &err))
                crossings(db, id, &st);
        else if (err.code != TL_ENOTFOUND)
                tl_log(TL_LOG_WARN, "controls", "recompute failed",
                       "customer=\"%s\" error=\"%s\"", id, err.msg);
        inv_controls_state_release(&st);
}

/* After a (re)connect or a "*": nothing cached survives, and every
   customer is checked, so crossings committed while no watcher listened
   are written too. */
static void everyone(struct api_server *srv, PGconn *db)
{
        PGresult *r;

        pthread_mutex_lock(&srv->ent.mu);
        drop_locked(&srv->ent, NULL);
        pthread_mutex_unlock(&srv->ent.mu);
        r = PQexec(db, "SELECT customer_id FROM customers ORDER BY 1");
        for (int i = 0; PQresultStatus(r) == PGRES_TUPLES_OK &&
                        i < PQntuples(r) && !atomic_load(&srv->ent.stop);
             i++)
                touched(srv, db, PQgetvalue(r, i, 0));
        PQclear(r);
}

static PGconn *listen_usage(void)
{
        struct tl_error e = {TL_OK, ""};
        PGconn *db = NULL;
        PGresult *r;

        if (sch_db_connect(&db, &e)) {
                PQfinish(db);
                return NULL;
        }
        r = PQexec(db, "LISTEN tally_usage");
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
                PQfinish(db);
                db = NULL;
        }
        PQclear(r);
        return db;
}

static void *watch(void *arg)
{
        struct api_server *srv = arg;
        struct api__entitlements *x = &srv->ent;
        PGconn *db = NULL;

        while (!atomic_load(&x->stop)) {
                struct pollfd p[2] = {{x->wake[0], POLLIN, 0}, {-1, POLLIN, 0}};
                PGnotify *n;

                if (!db) {
                        if ((db = listen_usage()) == NULL) {
                                poll(p, 1, 500);
                                continue;
                        }
                        everyone(srv, db);
                }
                p[1].fd = PQsocket(db);
                poll(p, 2, 1000);
                if (!PQconsumeInput(db) || PQstatus(db) != CONNECTION_OK) {
                        PQfinish(db);
                        db = NULL;
                        continue;
                }
                while ((n = PQnotifies(db)) != NULL) {
                        char *save = NULL;

                        for (char *id = strtok_r(n->extra, ",", &save); id;
                             id = strtok_r(NULL, ",", &save))
                                if (!strcmp(id, "*"))
                                        everyone(srv, db);
                                else
                                        touched(srv, db, id);
                        PQfreemem(n);
                }
        }
        PQfinish(db);
        return NULL;
}

tl_status api__entitlements_start(struct api_server *srv, struct tl_error *err)
{
        struct api__entitlements *x = &srv->ent;

        x->wake[0] = x->wake[1] = -1;
        if (pthread_mutex_init(&x->mu, NULL))
                return tl_fail(err, TL_ENOMEM, "entitlements: no mutex");
        x->inited = true;
        x->buckets = tl_calloc(CACHE_BUCKETS, sizeof *x->buckets);
        if (!x->buckets || pipe(x->wake))
                return tl_fail(err, TL_ENOMEM, "entitlements: out of memory");
        if (pthread_create(&x->thread, NULL, watch, srv))
                return tl_fail(err, TL_ENOMEM, "entitlements: no thread");
        x->running = true;
        return TL_OK;
}

void api__entitlements_stop(struct api_server *srv)
{
        struct api__entitlements *x = &srv->ent;

        if (x->running) {
                atomic_store(&x->stop, true);
                if (write(x->wake[1], "x", 1) < 0)
                        tl_log(TL_LOG_WARN, "controls", "wake failed", "-");
                pthread_join(x->thread, NULL);
                x->running = false;
        }
        if (x->buckets) {
                pthread_mutex_lock(&x->mu);
                drop_locked(x, NULL);
                pthread_mutex_unlock(&x->mu);
        }
        tl_free(x->buckets);
        x->buckets = NULL;
        for (int i = 0; x->inited && i < 2; i++)
                if (x->wake[i] >= 0)
                        close(x->wake[i]);
        if (x->inited)
                pthread_mutex_destroy(&x->mu);
        x->inited = false;
}
