/* The webhook sender of `tally serve`: threads that lease due deliveries
   from the outbox (0009), POST them signed and record the outcome. */
#include "api/webhooks.h"

#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/rand.h>

#include "core/alloc.h"
#include "core/log.h"
#include "core/time.h"
#include "schemas/db.h"

/* A lease outlives the POST it covers by this much: the time to record the
   outcome. Past it, the delivery is another sender's to try again. */
#define LEASE_MARGIN_MS 2000
#define IDLE_MAX_MS 1000

struct worker {
        struct api_sender *s;
        pthread_t thread;
        bool started;
        char owner[96]; /* host/pid/thread: who holds a lease */
};

struct api_sender {
        struct api_webhooks_config cfg;
        atomic_bool stop;
        int wake_fd;
        _Atomic uint64_t delivered, attempts_failed, given_up, pending;
        _Atomic int64_t oldest_s;
        struct worker *w;
        size_t n;
};

/* One claimed delivery. */
struct job {
        char delivery[24], id[64], type[64], created[32], endpoint[32];
        char *url, *secret, *data; /* owned */
        long attempt;
};

static void job_release(struct job *j)
{
        if (j->secret)
                memset(j->secret, 0, strlen(j->secret));
        tl_free(j->url);
        tl_free(j->secret);
        tl_free(j->data);
        memset(j, 0, sizeof *j);
}

static const char CLAIM_SQL[] =
    "WITH c AS (SELECT delivery_id FROM webhook_deliveries"
    " WHERE status = 'pending' AND next_attempt_at <= now()"
    " ORDER BY next_attempt_at LIMIT 1 FOR UPDATE SKIP LOCKED),"
    " u AS (UPDATE webhook_deliveries d SET lease_owner = $1,"
    " lease_until = now() + $2::int8 * interval '1 millisecond',"
    " next_attempt_at = now() + $2::int8 * interval '1 millisecond',"
    " attempts = d.attempts + 1, last_attempt_at = now()"
    " FROM c WHERE d.delivery_id = c.delivery_id"
    " RETURNING d.delivery_id, d.notification_id, d.endpoint_id,"
    " d.attempts)"
    " SELECT u.delivery_id, o.notification_id, o.type,"
    " to_char(o.created_at AT TIME ZONE 'UTC',"
    " 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), o.data, e.url, e.secret,"
    " u.attempts, u.endpoint_id"
    " FROM u JOIN webhook_outbox o USING (notification_id)"
    " JOIN webhook_endpoints e USING (endpoint_id)";

static const char DONE_SQL[] =
    "UPDATE webhook_deliveries SET status = 'delivered', finished_at = now(),"
    " last_status = $2::int, last_error = NULL, lease_owner = NULL,"
    " lease_until = NULL WHERE delivery_id = $1::int8 AND status = 'pending'";

/* The next attempt waits the backoff, but never past the window's end:
   one last try there, then the delivery is failed. */
static const char RETRY_SQL[] =
    "UPDATE webhook_deliveries SET last_status = $3::int, last_error = $4,"
    " lease_owner = NULL, lease_until = NULL,"
    " status = CASE WHEN now() >= window_start + $6::int8 * interval"
    " '1 second' THEN 'failed' ELSE 'pending' END,"
    " finished_at = CASE WHEN now() >= window_start + $6::int8 * interval"
    " '1 second' THEN now() END,"
    " next_attempt_at = least(now() + $5::int8 * interval '1 millisecond',"
    " window_start + $6::int8 * interval '1 second')"
    " WHERE delivery_id = $1::int8 AND lease_owner = $2"
    " AND status = 'pending' RETURNING status";

static const char STATS_SQL[] =
    "SELECT count(*), coalesce(extract(epoch FROM now() - min(created_at))"
    "::int8, 0), coalesce(ceil(extract(epoch FROM min(next_attempt_at) -"
    " now()) * 1000)::int8, -1) FROM webhook_deliveries"
    " WHERE status = 'pending'";

static char *dup_value(const PGresult *r, int col)
{
        return tl_strdup(PQgetvalue(r, 0, col));
}

/* 1: a delivery claimed into 'j'; 0: none due; -1: the connection failed. */
static int claim(struct worker *w, PGconn *db, struct job *j)
{
        char lease[24];
        const char *params[2] = {w->owner, lease};
        PGresult *r;
        int got = -1;

        snprintf(lease, sizeof lease, "%ld",
                 w->s->cfg.timeout_ms + LEASE_MARGIN_MS);
        r = PQexecParams(db, CLAIM_SQL, 2, NULL, params, NULL, NULL, 0);
        if (PQresultStatus(r) == PGRES_TUPLES_OK) {
                got = PQntuples(r) > 0;
                if (got) {
                        snprintf(j->delivery, sizeof j->delivery, "%s",
                                 PQgetvalue(r, 0, 0));
                        snprintf(j->id, sizeof j->id, "%s",
                                 PQgetvalue(r, 0, 1));
                        snprintf(j->type, sizeof j->type, "%s",
                                 PQgetvalue(r, 0, 2));
                        snprintf(j->created, sizeof j->created, "%s",
                                 PQgetvalue(r, 0, 3));
                        j->data = dup_value(r, 4);
                        j->url = dup_value(r, 5);
                        j->secret = dup_value(r, 6);
                        j->attempt = strtol(PQgetvalue(r, 0, 7), NULL, 10);
                        snprintf(j->endpoint, sizeof j->endpoint, "%s",
                                 PQgetvalue(r, 0, 8));
                        if (!j->data || !j->url || !j->secret)
                                got = -1;
                }
        } else {
                tl_log(TL_LOG_WARN, "webhooks", "claim failed",
                       "error=\"%.*s\"", (int)strcspn(PQerrorMessage(db), "\n"),
                       PQerrorMessage(db));
        }
        PQclear(r);
        return got;
}

/* The body every attempt of 'j' sends: {id, type, created, data}. */
static char *body_of(const struct job *j)
{
        json_error_t je;
        json_t *data = json_loads(j->data, JSON_DECODE_ANY, &je);
        json_t *doc;
        char *out;

        if (!data)
                return NULL;
        doc = json_pack("{s:s, s:s, s:s, s:o}", "id", j->id, "type", j->type,
                        "created", j->created, "data", data);
        out = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
        json_decref(doc);
        return out;
}

static size_t discard(char *p, size_t size, size_t n, void *ctx)
{
        (void)p;
        (void)ctx;
        return size * n;
}

/* POST 'j'; the HTTP status (0: none came) and, unless 2xx, why in 'why'. */
static long post(struct worker *w, CURL *curl, const struct job *j, char *why,
                 size_t cap)
{
        char sig[API_WH_SIG_HEX + 1], header[160];
        struct curl_slist *h = NULL;
        struct tl_error e = {0};
        int64_t t = tl_time_now_us() / 1000000;
        char *body = body_of(j);
        long code = 0;
        CURLcode cc;

        if (!body) {
                snprintf(why, cap, "notification data is not JSON");
                return 0;
        }
        if (api_webhooks_sign(j->secret, t, body, strlen(body), sig, &e)) {
                snprintf(why, cap, "%.200s", e.msg);
                free(body); /* lint: libc-free jansson's json_dumps */
                return 0;
        }
        snprintf(header, sizeof header, "Tally-Signature: t=%lld,v1=%s",
                 (long long)t, sig);
        h = curl_slist_append(h, "Content-Type: application/json");
        h = curl_slist_append(h, header);
        h = curl_slist_append(h, "Expect:");
        curl_easy_reset(curl);
        curl_easy_setopt(curl, CURLOPT_URL, j->url);
        curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
        curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, w->s->cfg.timeout_ms);
        curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, w->s->cfg.timeout_ms);
        curl_easy_setopt(curl, CURLOPT_USERAGENT, "tally-webhooks/1");
        curl_easy_setopt(curl, CURLOPT_HTTPHEADER, h);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
        curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
        cc = curl_easy_perform(curl);
        if (cc == CURLE_OK)
                curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
        if (cc != CURLE_OK)
                snprintf(why, cap, "%s", curl_easy_strerror(cc));
        else if (code < 200 || code > 299)
                snprintf(why, cap, "HTTP %ld", code);
        curl_slist_free_all(h);
        free(body); /* lint: libc-free jansson's json_dumps */
        return code;
}

/* Record the outcome of 'j'. False when the connection failed. */
static bool record(struct worker *w, PGconn *db, const struct job *j, long code,
                   const char *why)
{
        struct api_sender *s = w->s;
        char st[16], delay[24], age[24];
        const char *done[2] = {j->delivery, st};
        const char *retry[6] = {j->delivery, w->owner, code ? st : NULL,
                                why,         delay,    age};
        bool ok2xx = code >= 200 && code <= 299;
        uint32_t rnd = 0;
        PGresult *r;
        bool ok;

        snprintf(st, sizeof st, "%ld", code);
        if (RAND_bytes((unsigned char *)&rnd, sizeof rnd) != 1)
                rnd = (uint32_t)tl_mono_us();
        snprintf(delay, sizeof delay, "%lld",
                 (long long)api_webhooks_backoff_ms(j->attempt,
                                                    s->cfg.retry_base_ms,
                                                    s->cfg.retry_max_ms, rnd));
        snprintf(age, sizeof age, "%ld", s->cfg.max_age_s);
        if (ok2xx)
                r = PQexecParams(db, DONE_SQL, 2, NULL, done, NULL, NULL, 0);
        else
                r = PQexecParams(db, RETRY_SQL, 6, NULL, retry, NULL, NULL, 0);
        ok = PQresultStatus(r) == PGRES_COMMAND_OK ||
             PQresultStatus(r) == PGRES_TUPLES_OK;
        if (ok2xx) {
                atomic_fetch_add(&s->delivered, 1);
                tl_log(TL_LOG_INFO, "webhooks", "delivered",
                       "id=%s delivery=%s endpoint=%s attempt=%ld status=%ld",
                       j->id, j->delivery, j->endpoint, j->attempt, code);
        } else {
                bool gave_up = ok && PQntuples(r) == 1 &&
                               !strcmp(PQgetvalue(r, 0, 0), "failed");

                atomic_fetch_add(&s->attempts_failed, 1);
                if (gave_up)
                        atomic_fetch_add(&s->given_up, 1);
                char q[CURL_ERROR_SIZE + 80];

                tl_log(TL_LOG_WARN, "webhooks",
                       gave_up ? "delivery failed, retry window over"
                               : "attempt failed, will retry",
                       "id=%s delivery=%s endpoint=%s attempt=%ld error=%s",
                       j->id, j->delivery, j->endpoint, j->attempt,
                       tl_log_quote(why, q, sizeof q));
        }
        PQclear(r);
        return ok;
}

/* Refresh the backlog gauges; how long until the next retry is due (ms,
   -1: nothing pending), or -2 when the connection failed. */
static long measure(struct api_sender *s, PGconn *db)
{
        PGresult *r = PQexec(db, STATS_SQL);
        long due = -2;

        if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
                atomic_store(&s->pending,
                             strtoull(PQgetvalue(r, 0, 0), NULL, 10));
                atomic_store(&s->oldest_s,
                             strtoll(PQgetvalue(r, 0, 1), NULL, 10));
                due = strtol(PQgetvalue(r, 0, 2), NULL, 10);
        }
        PQclear(r);
        return due;
}

/* Sleep up to 'ms', woken by a NOTIFY on 'db' or by the stop. */
static void nap(struct api_sender *s, PGconn *db, long ms)
{
        struct pollfd p[2] = {{s->wake_fd, POLLIN, 0},
                              {db ? PQsocket(db) : -1, POLLIN, 0}};
        PGnotify *n;

        if (atomic_load(&s->stop))
                return;
        poll(p, db ? 2 : 1, (int)ms);
        if (db && PQconsumeInput(db))
                while ((n = PQnotifies(db)) != NULL)
                        PQfreemem(n);
}

static PGconn *connect_listen(struct worker *w)
{
        struct tl_error e = {0};
        PGconn *db = NULL;
        PGresult *r;

        if (sch_db_connect(&db, &e)) {
                tl_log(TL_LOG_WARN, "webhooks", "no database", "error=\"%s\"",
                       e.msg);
                PQfinish(db);
                return NULL;
        }
        r = PQexec(db, "LISTEN tally_webhooks");
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
                PQfinish(db);
                db = NULL;
        }
        PQclear(r);
        (void)w;
        return db;
}

static void *run(void *arg)
{
        struct worker *w = arg;
        struct api_sender *s = w->s;
        CURL *curl = curl_easy_init();
        int64_t measured = 0;
        PGconn *db = NULL;
        char why[CURL_ERROR_SIZE + 64];

        while (curl && !atomic_load(&s->stop)) {
                struct job j = {0};
                long code, due = IDLE_MAX_MS;
                int got;

                if (!db && (db = connect_listen(w)) == NULL) {
                        nap(s, NULL, IDLE_MAX_MS);
                        continue;
                }
                if (tl_mono_us() - measured > 1000000) {
                        due = measure(s, db);
                        measured = tl_mono_us();
                }
                got = due == -2 ? -1 : claim(w, db, &j);
                if (got == 1) {
                        why[0] = '\0';
                        code = post(w, curl, &j, why, sizeof why);
                        got = record(w, db, &j, code, why) ? 1 : -1;
                }
                job_release(&j);
                if (got < 0) {
                        PQfinish(db);
                        db = NULL;
                        nap(s, NULL, IDLE_MAX_MS);
                } else if (got == 0) {
                        due = measure(s, db);
                        measured = tl_mono_us();
                        nap(s, db,
                            due < 0 || due > IDLE_MAX_MS ? IDLE_MAX_MS : due);
                }
        }
        PQfinish(db);
        curl_easy_cleanup(curl);
        return NULL;
}

tl_status api_sender_new(const struct api_webhooks_config *cfg,
                         struct api_sender **out, struct tl_error *err)
{
        char host[64] = "host";
        struct api_sender *s;

        if (cfg->retry_max_ms < cfg->retry_base_ms)
                return tl_fail(err, TL_EINVAL,
                               "serve.webhooks: retry_max_ms must be at "
                               "least retry_base_ms");
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
                return tl_fail(err, TL_ENOMEM, "webhooks: libcurl init");
        s = tl_calloc(1, sizeof *s);
        if (!s)
                return tl_fail(err, TL_ENOMEM, "webhooks: out of memory");
        s->cfg = *cfg;
        s->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        s->n = (size_t)cfg->senders;
        s->w = s->n ? tl_calloc(s->n, sizeof *s->w) : NULL;
        if (s->wake_fd < 0 || (s->n && !s->w)) {
                api_sender_free(&s);
                return tl_fail(err, TL_ENOMEM, "webhooks: no sender threads");
        }
        gethostname(host, sizeof host - 1);
        for (size_t i = 0; i < s->n; i++) {
                struct worker *w = &s->w[i];

                w->s = s;
                snprintf(w->owner, sizeof w->owner, "%.48s/%ld/%zu", host,
                         (long)getpid(), i);
                w->started = !pthread_create(&w->thread, NULL, run, w);
                if (!w->started) {
                        api_sender_free(&s);
                        return tl_fail(err, TL_ENOMEM,
                                       "webhooks: no sender threads");
                }
        }
        *out = s;
        return TL_OK;
}

void api_sender_stats(const struct api_sender *s,
                      struct api_webhooks_stats *out)
{
        memset(out, 0, sizeof *out);
        if (!s)
                return;
        out->delivered = atomic_load(&s->delivered);
        out->attempts_failed = atomic_load(&s->attempts_failed);
        out->given_up = atomic_load(&s->given_up);
        out->pending = atomic_load(&s->pending);
        out->oldest_pending_s = atomic_load(&s->oldest_s);
}

void api_sender_free(struct api_sender **pp)
{
        struct api_sender *s = pp ? *pp : NULL;
        uint64_t one = 1;

        if (!s)
                return;
        *pp = NULL;
        atomic_store(&s->stop, true);
        if (s->wake_fd >= 0 && write(s->wake_fd, &one, sizeof one) < 0)
                tl_log(TL_LOG_WARN, "webhooks", "cannot wake the senders",
                       "senders=%zu", s->n);
        for (size_t i = 0; i < s->n; i++)
                if (s->w[i].started)
                        pthread_join(s->w[i].thread, NULL);
        if (s->wake_fd >= 0)
                close(s->wake_fd);
        tl_free(s->w);
        tl_free(s);
        curl_global_cleanup();
}
