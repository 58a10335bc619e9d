/* Signed webhooks against real `tally serve` processes and a receiver
   written here (a socket, a thread per connection) that checks every
   signature with OpenSSL's HMAC and counts deliveries by id: signed and
   once each, retried with growing delays, failed after the window and
   listed, nothing lost to kill -9, never sent twice at once by two
   instances; bad URLs refused; the close writes invoice.finalized. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "api/webhooks.h"
#include "meterkit.h"
#include "serve_kit.h"

TK_INTEGRATION_PRE_ALL()
TK_INTEGRATION_POST_ALL()

#define MAX_IDS 512
#define MAX_TIMES 16

/* ---- the receiver ------------------------------------------------------ */

struct seen {
        char id[64];
        int count;             /* requests with this id, signed right */
        int64_t at[MAX_TIMES]; /* arrival times, ms */
        int in_flight;
};

struct receiver {
        int fd, port;
        pthread_t thread;
        pthread_mutex_t lock;
        char secret[API_WH_SECRET_LEN + 1];
        int fail_first; /* answer 500 to the first N requests of each id */
        bool fail_all;  /* answer 503 to everything */
        int hold_ms;    /* time spent on each request before answering */
        struct seen ids[MAX_IDS];
        int nids, requests, bad_signatures, bad_bodies, overlaps;
};

static int64_t now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
** The check a receiver makes: "t=<unix>,v1=<hex>" whose hex is
** HMAC-SHA256(secret, "<t>.<body>") computed here with OpenSSL's HMAC(),
** compared in constant time, t within five minutes of now.
*/
static bool signature_ok(const char *secret, const char *header,
                         const char *body, size_t len)
{
        unsigned char mac[32];
        unsigned int maclen = 0;
        char want[65], got[65], *msg;
        long long t;
        int n;

        if (!header || sscanf(header, "t=%lld,v1=%64[0-9a-f]", &t, got) != 2 ||
            strlen(got) != 64)
                return false;
        if (llabs((long long)time(NULL) - t) > 300)
                return false;
        msg = malloc(len + 32);
        n = snprintf(msg, 32, "%lld.", t);
        memcpy(msg + n, body, len);
        HMAC(EVP_sha256(), secret, (int)strlen(secret), (unsigned char *)msg,
             (size_t)n + len, mac, &maclen);
        free(msg);
        for (unsigned i = 0; i < maclen; i++)
                snprintf(want + 2 * i, 3, "%02x", mac[i]);
        return maclen == 32 && CRYPTO_memcmp(want, got, 64) == 0;
}

static struct seen *seen_of(struct receiver *r, const char *id)
{
        for (int i = 0; i < r->nids; i++)
                if (!strcmp(r->ids[i].id, id))
                        return &r->ids[i];
        cr_assert_lt(r->nids, MAX_IDS);
        snprintf(r->ids[r->nids].id, sizeof r->ids[0].id, "%s", id);
        return &r->ids[r->nids++];
}

/* The value of header 'name' in 'head' (NUL-terminated copy), or NULL. */
static char *header_of(const char *head, const char *name, char *out,
                       size_t cap)
{
        size_t n = strlen(name);

        for (const char *p = strstr(head, "\r\n"); p; p = strstr(p, "\r\n")) {
                p += 2;
                if (!strncasecmp(p, name, n) && p[n] == ':') {
                        p += n + 1;
                        while (*p == ' ')
                                p++;
                        snprintf(out, cap, "%.*s", (int)strcspn(p, "\r\n"), p);
                        return out;
                }
        }
        return NULL;
}

static void answer(int fd, int status)
{
        char out[128];
        int n = snprintf(out, sizeof out,
                         "HTTP/1.1 %d X\r\nContent-Length: 0\r\n"
                         "Connection: close\r\n\r\n",
                         status);

        if (write(fd, out, (size_t)n) < 0)
                return;
}

struct conn {
        struct receiver *r;
        int fd;
};

static void *serve_conn(void *arg)
{
        struct conn *c = arg;
        struct receiver *r = c->r;
        char buf[65536], sig[200], clen[32], *end;
        size_t have = 0, want;
        int status = 200;
        struct seen *s = NULL;
        json_t *doc;

        for (;;) {
                ssize_t k = read(c->fd, buf + have, sizeof buf - 1 - have);

                if (k <= 0)
                        goto out;
                have += (size_t)k;
                buf[have] = '\0';
                end = strstr(buf, "\r\n\r\n");
                if (!end ||
                    !header_of(buf, "Content-Length", clen, sizeof clen))
                        continue;
                want = (size_t)(end + 4 - buf) + strtoul(clen, NULL, 10);
                if (have >= want)
                        break;
        }
        *end = '\0';
        doc = json_loadb(end + 4, strtoul(clen, NULL, 10), 0, NULL);
        pthread_mutex_lock(&r->lock);
        r->requests++;
        if (!signature_ok(r->secret,
                          header_of(buf, "Tally-Signature", sig, sizeof sig),
                          end + 4, strtoul(clen, NULL, 10))) {
                r->bad_signatures++;
                status = 400;
        } else if (!doc || !json_is_string(json_object_get(doc, "id")) ||
                   !json_is_string(json_object_get(doc, "type")) ||
                   !json_is_string(json_object_get(doc, "created")) ||
                   !json_is_object(json_object_get(doc, "data"))) {
                r->bad_bodies++;
                status = 400;
        } else {
                s = seen_of(r, json_string_value(json_object_get(doc, "id")));
                if (s->in_flight)
                        r->overlaps++;
                s->in_flight++;
                if (s->count < MAX_TIMES)
                        s->at[s->count] = now_ms();
                s->count++;
                if (r->fail_all)
                        status = 503;
                else if (s->count <= r->fail_first)
                        status = 500;
        }
        pthread_mutex_unlock(&r->lock);
        json_decref(doc);
        if (r->hold_ms)
                mk_sleep_ms(r->hold_ms);
        if (s) {
                pthread_mutex_lock(&r->lock);
                s->in_flight--;
                pthread_mutex_unlock(&r->lock);
        }
        answer(c->fd, status);
out:
        close(c->fd);
        free(c);
        return NULL;
}

static void *accept_loop(void *arg)
{
        struct receiver *r = arg;

        for (;;) {
                int fd = accept(r->fd, NULL, NULL);
                struct conn *c;
                pthread_t t;

                if (fd < 0)
                        return NULL;
                c = malloc(sizeof *c);
                c->r = r;
                c->fd = fd;
                if (pthread_create(&t, NULL, serve_conn, c)) {
                        close(fd);
                        free(c);
                        continue;
                }
                pthread_detach(t);
        }
}

static void receiver_start(struct receiver *r)
{
        struct sockaddr_in a = {.sin_family = AF_INET};
        socklen_t len = sizeof a;
        int one = 1;

        memset(r, 0, sizeof *r);
        pthread_mutex_init(&r->lock, NULL);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        r->fd = socket(AF_INET, SOCK_STREAM, 0);
        setsockopt(r->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        cr_assert_eq(bind(r->fd, (struct sockaddr *)&a, sizeof a), 0);
        cr_assert_eq(listen(r->fd, 128), 0);
        getsockname(r->fd, (struct sockaddr *)&a, &len);
        r->port = ntohs(a.sin_port);
        cr_assert_eq(pthread_create(&r->thread, NULL, accept_loop, r), 0);
}

/* Distinct ids received, under the lock. */
static int distinct(struct receiver *r)
{
        int n;

        pthread_mutex_lock(&r->lock);
        n = r->nids;
        pthread_mutex_unlock(&r->lock);
        return n;
}

static bool wait_distinct(struct receiver *r, int want, int timeout_ms)
{
        for (int64_t end = now_ms() + timeout_ms; now_ms() < end;
             mk_sleep_ms(50))
                if (distinct(r) >= want)
                        return true;
        return distinct(r) >= want;
}

/* ---- the product ------------------------------------------------------- */

/* `tally webhooks add URL --events LIST`: the secret on stdout's first
   line into 'secret', the exit code returned, stderr into 'err'. */
static int add(const char *url, const char *events, char *secret, char *err,
               size_t cap)
{
        const char *argv[] = {tk_tally_bin(), "webhooks", "add", url,
                              "--events",     events,     NULL};
        struct tk_proc_result r;
        int code;

        cr_assert_eq(tk_run(argv, 60000, &r), 0);
        code = r.exit_code;
        if (secret) {
                secret[0] = '\0';
                sscanf(r.out, "%127s", secret);
        }
        if (err)
                snprintf(err, cap, "%s", r.err);
        tk_proc_result_release(&r);
        return code;
}

/* A receiver and an endpoint for it subscribed to every type. */
static void endpoint(struct receiver *r)
{
        char url[64], err[512];

        snprintf(url, sizeof url, "http://127.0.0.1:%d/hook", r->port);
        cr_assert_eq(add(url, "*", r->secret, err, sizeof err), 0, "%s", err);
        cr_assert_eq(strlen(r->secret), API_WH_SECRET_LEN, "%s", r->secret);
}

/* A config file in the case's dir with the `serve.webhooks` given. */
static void config(char *path, size_t cap, struct mk_case *c,
                   const char *webhooks)
{
        FILE *f;

        snprintf(path, cap, "%s/tally.yaml", c->dir);
        f = fopen(path, "w");
        cr_assert_not_null(f);
        fprintf(f, "serve:\n  webhooks: %s\n", webhooks);
        fclose(f);
}

static void start(struct sk_serve *s, struct mk_case *c, const char *cfg)
{
        const char *extra[] = {"--config", cfg, NULL};

        sk_paths(s, c);
        sk_start_with(s, c, extra);
}

/* Emit 'n' notifications as the product's own writers do. */
static void emit(PGconn *db, int from, int n)
{
        char sql[300];
        PGresult *res;

        for (int i = from; i < from + n; i++) {
                snprintf(sql, sizeof sql,
                         "SELECT tally_notify('alert.triggered', 'cust_%d',"
                         " 'alert:cust_%d:spend-80:2026-12',"
                         " json_build_object('alert', 'spend-80', 'n', %d))",
                         i, i, i);
                res = PQexec(db, sql);
                cr_assert_eq(PQresultStatus(res), PGRES_TUPLES_OK, "%s",
                             PQerrorMessage(db));
                PQclear(res);
        }
}

static long scalar_long(PGconn *db, const char *sql)
{
        char *v = tk_scalar(db, sql);
        long n = v ? strtol(v, NULL, 10) : -1;

        free(v);
        return n;
}

static bool wait_sql_zero(PGconn *db, const char *sql, int timeout_ms)
{
        for (int64_t end = now_ms() + timeout_ms; now_ms() < end;
             mk_sleep_ms(100))
                if (scalar_long(db, sql) == 0)
                        return true;
        return scalar_long(db, sql) == 0;
}

/* Every id received was emitted, and each emitted one was received. */
static void expect_ids_match(struct receiver *r, PGconn *db, int want)
{
        char sql[200];

        cr_expect_eq(r->bad_signatures, 0);
        cr_expect_eq(r->bad_bodies, 0);
        cr_expect_eq(r->nids, want, "received %d distinct ids", r->nids);
        for (int i = 0; i < r->nids; i++) {
                snprintf(sql, sizeof sql,
                         "SELECT count(*) FROM webhook_outbox WHERE "
                         "notification_id = '%s'",
                         r->ids[i].id);
                cr_expect_eq(scalar_long(db, sql), 1, "id %s", r->ids[i].id);
        }
}

static const char PENDING[] =
    "SELECT count(*) FROM webhook_deliveries WHERE status <> 'delivered'";

/* ---- the cases ----------------------------------------------------------*/

Test(webhooks, deliveries_arrive_signed_once_each_under_their_id)
{
        struct mk_case c;
        struct sk_serve s;
        struct receiver r;
        struct tk_http_resp m;
        char cfg[300];

        mk_case_start(&c, "wh_signed", 1, 1);
        receiver_start(&r);
        endpoint(&r);
        emit(c.db, 0, 20);
        emit(c.db, 0, 20); /* the same crossings again: written once */
        cr_expect_eq(scalar_long(c.db, "SELECT count(*) FROM webhook_outbox"),
                     20);
        config(cfg, sizeof cfg, &c, "{retry_base_ms: 100, timeout_ms: 2000}");
        start(&s, &c, cfg);
        cr_assert(wait_distinct(&r, 20, 20000), "%d of 20 arrived",
                  distinct(&r));
        cr_assert(wait_sql_zero(c.db, PENDING, 10000));
        pthread_mutex_lock(&r.lock);
        expect_ids_match(&r, c.db, 20);
        for (int i = 0; i < r.nids; i++)
                cr_expect_eq(r.ids[i].count, 1, "%s", r.ids[i].id);
        pthread_mutex_unlock(&r.lock);
        cr_assert_eq(
            tk_http("127.0.0.1", s.port, "GET", "/metrics", NULL, "", 0, &m),
            200);
        cr_expect_not_null(strstr(m.body,
                                  "tally_webhook_deliveries_total{outcome="
                                  "\"delivered\"} 20\n"),
                           "%s", m.body);
        cr_expect_not_null(strstr(m.body, "tally_webhook_pending "), "%s",
                           m.body);
        tk_http_resp_release(&m);
        sk_stop(&s);
        mk_case_stop(&c);
}

Test(webhooks, a_tampered_delivery_fails_the_receivers_check)
{
        static const char SECRET[] = "whsec_0123456789abcdef";
        char body[] = "{\"id\":\"evt_1\",\"type\":\"invoice.finalized\","
                      "\"created\":\"2026-12-07T18:00:00Z\",\"data\":{}}";
        char sig[API_WH_SIG_HEX + 1], header[128];
        struct tl_error e = {0};
        long long t = (long long)time(NULL);

        cr_assert_eq(api_webhooks_sign(SECRET, t, body, strlen(body), sig, &e),
                     TL_OK, "%s", e.msg);
        snprintf(header, sizeof header, "t=%lld,v1=%s", t, sig);
        cr_expect(signature_ok(SECRET, header, body, strlen(body)));
        body[10] ^= 1; /* one bit of the body */
        cr_expect_not(signature_ok(SECRET, header, body, strlen(body)));
        body[10] ^= 1;
        cr_expect_not(signature_ok("whsec_other", header, body, strlen(body)));
        header[strlen(header) - 1] ^= 1; /* one bit of the signature */
        cr_expect_not(signature_ok(SECRET, header, body, strlen(body)));
        /* A replay of an old signature: its t is out of the window. */
        cr_assert_eq(
            api_webhooks_sign(SECRET, t - 3600, body, strlen(body), sig, &e),
            TL_OK);
        snprintf(header, sizeof header, "t=%lld,v1=%s", t - 3600, sig);
        cr_expect_not(signature_ok(SECRET, header, body, strlen(body)));
}

Test(webhooks, backoff_grows_and_is_jittered_within_half_its_step)
{
        int64_t prev_max = 0;

        for (long a = 1; a <= 12; a++) {
                int64_t lo = api_webhooks_backoff_ms(a, 1000, 3600000, 0);
                int64_t hi =
                    api_webhooks_backoff_ms(a, 1000, 3600000, UINT32_MAX);
                int64_t step = 1000LL << (a - 1);

                cr_expect_eq(lo, step / 2, "attempt %ld", a);
                cr_expect_eq(hi, step, "attempt %ld", a);
                cr_expect_geq(lo, prev_max / 2);
                prev_max = hi;
        }
        cr_expect_eq(api_webhooks_backoff_ms(40, 1000, 3600000, UINT32_MAX),
                     3600000);
        cr_expect_eq(api_webhooks_backoff_ms(40, 1000, 3600000, 0), 1800000);
}

Test(webhooks, a_failing_receiver_gets_retries_with_growing_delays)
{
        struct mk_case c;
        struct sk_serve s;
        struct receiver r;
        char cfg[300];

        mk_case_start(&c, "wh_retry", 1, 1);
        receiver_start(&r);
        r.fail_first = 4;
        endpoint(&r);
        emit(c.db, 0, 3);
        config(cfg, sizeof cfg, &c,
               "{retry_base_ms: 200, retry_max_ms: 5000, timeout_ms: 2000}");
        start(&s, &c, cfg);
        cr_assert(wait_sql_zero(c.db, PENDING, 30000), "still pending");
        pthread_mutex_lock(&r.lock);
        expect_ids_match(&r, c.db, 3);
        for (int i = 0; i < r.nids; i++) {
                struct seen *x = &r.ids[i];

                cr_expect_eq(x->count, 5, "%s: %d requests", x->id, x->count);
                /* Delay k (k = 1..4) is in [step/2, step], step = 200 *
                   2^(k-1): each at least half the one before's bound. */
                for (int k = 1; k < 5 && k < x->count; k++) {
                        int64_t gap = x->at[k] - x->at[k - 1];
                        int64_t step = 200LL << (k - 1);

                        cr_expect_geq(gap, step / 2 - 20, "%s delay %d: %lld",
                                      x->id, k, (long long)gap);
                        cr_expect_leq(gap, step + 1500, "%s delay %d: %lld",
                                      x->id, k, (long long)gap);
                }
                cr_expect_gt(x->at[4] - x->at[3], x->at[1] - x->at[0],
                             "%s: the last delay exceeds the first", x->id);
        }
        pthread_mutex_unlock(&r.lock);
        cr_expect_eq(scalar_long(c.db, "SELECT min(attempts) FROM "
                                       "webhook_deliveries"),
                     5);
        sk_stop(&s);
        mk_case_stop(&c);
}

/* `tally webhooks ARGS...`: exit code, stdout into 'out'. */
static int webhooks(char *out, size_t cap, const char *a1, const char *a2,
                    const char *a3)
{
        const char *argv[] = {tk_tally_bin(), "webhooks", a1, a2, a3, NULL};
        struct tk_proc_result r;
        int code;

        cr_assert_eq(tk_run(argv, 60000, &r), 0);
        code = r.exit_code;
        snprintf(out, cap, "%s%s", r.out, r.err);
        tk_proc_result_release(&r);
        return code;
}

Test(webhooks, after_the_retry_window_a_delivery_is_failed_and_listed)
{
        struct mk_case c;
        struct sk_serve s;
        struct receiver r, slow;
        char cfg[300], out[8192], url[64], id[32], sql[300], *v;

        mk_case_start(&c, "wh_window", 1, 1);
        receiver_start(&r);
        r.fail_all = true;
        endpoint(&r);
        /* Connection refused: a port nobody listens on. */
        snprintf(url, sizeof url, "http://127.0.0.1:%d/", mk_free_port());
        cr_assert_eq(add(url, "alert.triggered", NULL, out, sizeof out), 0,
                     "%s", out);
        /* A timeout: a receiver slower than timeout_ms. */
        receiver_start(&slow);
        slow.hold_ms = 1500;
        endpoint(&slow);
        emit(c.db, 0, 1);
        config(cfg, sizeof cfg, &c,
               "{retry_base_ms: 100, max_age_s: 2, timeout_ms: 1000}");
        start(&s, &c, cfg);
        cr_assert(wait_sql_zero(c.db,
                                "SELECT count(*) FROM webhook_deliveries "
                                "WHERE status <> 'failed'",
                                15000),
                  "not failed in time");
        pthread_mutex_lock(&r.lock);
        cr_expect_geq(r.ids[0].count, 3, "only %d attempts", r.ids[0].count);
        pthread_mutex_unlock(&r.lock);
        cr_assert_eq(
            webhooks(out, sizeof out, "deliveries", "--status", "failed"), 0,
            "%s", out);
        cr_expect_not_null(strstr(out, "HTTP 503"), "%s", out);
        cr_expect_not_null(strstr(out, "Couldn't connect"), "%s", out);
        cr_expect_not_null(strstr(out, "Timeout was reached"), "%s", out);
        cr_expect_not_null(strstr(out, r.ids[0].id), "%s", out);
        cr_assert_eq(
            webhooks(out, sizeof out, "deliveries", "--status", "delivered"), 0,
            "%s", out);
        cr_expect_null(strstr(out, "evt_"), "%s", out);
        /* Retried by hand once the receiver is well: delivered, same id. */
        pthread_mutex_lock(&r.lock);
        r.fail_all = false;
        pthread_mutex_unlock(&r.lock);
        snprintf(sql, sizeof sql,
                 "SELECT min(delivery_id) FROM webhook_deliveries d JOIN "
                 "webhook_endpoints e USING (endpoint_id) WHERE e.url = "
                 "'http://127.0.0.1:%d/hook'",
                 r.port);
        v = tk_scalar(c.db, sql);
        snprintf(id, sizeof id, "%s", v);
        free(v);
        cr_assert_eq(webhooks(out, sizeof out, "retry", id, NULL), 0, "%s",
                     out);
        snprintf(sql, sizeof sql,
                 "SELECT count(*) FROM webhook_deliveries WHERE delivery_id ="
                 " %s AND status <> 'delivered'",
                 id);
        cr_assert(wait_sql_zero(c.db, sql, 10000));
        pthread_mutex_lock(&r.lock);
        cr_expect_eq(r.nids, 1);
        cr_expect_eq(r.bad_signatures, 0);
        pthread_mutex_unlock(&r.lock);
        cr_expect_neq(webhooks(out, sizeof out, "retry", id, NULL), 0,
                      "a delivered one is not retried: %s", out);
        sk_stop(&s);
        mk_case_stop(&c);
}

Test(webhooks, kill_9_of_serve_mid_delivery_loses_none_and_keeps_ids)
{
        struct mk_case c;
        struct sk_serve s;
        struct receiver r;
        char cfg[300];
        const int N = 60;

        mk_case_start(&c, "wh_kill", 1, 1);
        receiver_start(&r);
        r.hold_ms = 60; /* deliveries are under way when the kill comes */
        endpoint(&r);
        emit(c.db, 0, N);
        config(cfg, sizeof cfg, &c,
               "{retry_base_ms: 100, timeout_ms: 500, senders: 3}");
        srand((unsigned)time(NULL));
        for (int k = 0; k < 6; k++) {
                start(&s, &c, cfg);
                if (k == 3)
                        emit(c.db, N, N); /* more while it runs */
                mk_sleep_ms(150 + rand() % 400);
                kill(s.pid, SIGKILL);
                mk_wait(s.pid, 10000);
                s.pid = 0;
        }
        start(&s, &c, cfg);
        cr_assert(wait_sql_zero(c.db, PENDING, 60000), "still pending");
        pthread_mutex_lock(&r.lock);
        expect_ids_match(&r, c.db, 2 * N);
        cr_expect_eq(r.overlaps, 0);
        fprintf(stderr, "kill -9: %d requests for %d notifications\n",
                r.requests, r.nids);
        pthread_mutex_unlock(&r.lock);
        sk_stop(&s);
        mk_case_stop(&c);
}

/* Deliveries a serve logged as delivered. */
static int delivered_in(const char *log)
{
        char line[2048];
        FILE *f = fopen(log, "r");
        int n = 0;

        while (f && fgets(line, sizeof line, f))
                n += strstr(line, "comp=webhooks msg=delivered ") != NULL;
        if (f)
                fclose(f);
        return n;
}

Test(webhooks, two_serve_instances_never_send_one_delivery_at_once)
{
        struct mk_case c;
        struct sk_serve s1, s2;
        struct receiver r;
        char cfg[300];
        const int N = 40;

        mk_case_start(&c, "wh_two", 1, 1);
        receiver_start(&r);
        r.hold_ms = 50;
        endpoint(&r);
        config(cfg, sizeof cfg, &c,
               "{retry_base_ms: 100, timeout_ms: 5000, senders: 3}");
        start(&s1, &c, cfg);
        start(&s2, &c, cfg);
        emit(c.db, 0, N);
        cr_assert(wait_sql_zero(c.db, PENDING, 30000), "still pending");
        pthread_mutex_lock(&r.lock);
        expect_ids_match(&r, c.db, N);
        cr_expect_eq(r.overlaps, 0);
        cr_expect_eq(r.requests, N, "%d requests for %d", r.requests, N);
        pthread_mutex_unlock(&r.lock);
        cr_expect_eq(scalar_long(c.db, "SELECT count(lease_owner) FROM "
                                       "webhook_deliveries"),
                     0, "leases are released when done");
        sk_stop(&s1);
        sk_stop(&s2);
        /* Both did part of the work (each logs what it delivered). */
        cr_expect_gt(delivered_in(s1.log), 0, "log %s", s1.log);
        cr_expect_gt(delivered_in(s2.log), 0, "log %s", s2.log);
        cr_expect_eq(delivered_in(s1.log) + delivered_in(s2.log), N);
        mk_case_stop(&c);
}

static void refused(const char *url, const char *events, const char *want,
                    const char *never)
{
        char err[1024];

        cr_expect_eq(add(url, events, NULL, err, sizeof err), 2, "%s: %s", url,
                     err);
        cr_expect_not_null(strstr(err, want), "%s: '%s'", url, err);
        if (never)
                cr_expect_null(strstr(err, never), "%s: '%s'", url, err);
}

Test(webhooks, bad_urls_are_refused_by_add_with_a_precise_error)
{
        struct mk_case c;
        char out[2048];

        mk_case_start(&c, "wh_urls", 1, 1);
        refused("ftp://example.com/x", "*",
                "URL 'ftp://example.com/x': scheme 'ftp' is not http or https",
                NULL);
        refused("example.com/hook", "*",
                "URL 'example.com/hook': no scheme; it must start with "
                "http:// or https://",
                NULL);
        refused("https://user:hunter2@example.com/", "*",
                "a user or password in the URL is refused", "hunter2");
        refused("http://exa mple.com/", "*",
                "URL: a space or control character at byte 11", NULL);
        refused("http://", "*", "URL 'http://': ", NULL);
        refused("https://example.com/a#frag", "*", "a fragment", NULL);
        refused("https://example.com/", "invoice.finalized,invoice.paid",
                "--events: unknown event type 'invoice.paid'", NULL);
        refused("https://example.com/", "", "--events: empty", NULL);
        cr_assert_eq(webhooks(out, sizeof out, "list", NULL, NULL), 0, "%s",
                     out);
        cr_expect_null(strstr(out, "we_"), "nothing was added: %s", out);
        /* A good one: listed without its secret, removed. */
        cr_assert_eq(
            add("https://example.com/hooks", "invoice.finalized", out, NULL, 0),
            0);
        {
                char secret[128], id[64] = "";
                char *v;

                snprintf(secret, sizeof secret, "%.127s", out);
                cr_assert_eq(webhooks(out, sizeof out, "list", NULL, NULL), 0);
                cr_expect_not_null(strstr(out, "https://example.com/hooks"),
                                   "%s", out);
                cr_expect_null(strstr(out, secret + 6), "%s", out);
                v = tk_scalar(c.db, "SELECT endpoint_id FROM "
                                    "webhook_endpoints");
                snprintf(id, sizeof id, "%s", v);
                free(v);
                cr_assert_eq(webhooks(out, sizeof out, "remove", id, NULL), 0,
                             "%s", out);
                cr_expect_eq(webhooks(out, sizeof out, "remove", id, NULL), 2,
                             "%s", out);
                cr_assert_eq(webhooks(out, sizeof out, "list", NULL, NULL), 0);
                cr_expect_null(strstr(out, id), "%s", out);
        }
        mk_case_stop(&c);
}

Test(webhooks, the_close_writes_invoice_finalized_once_per_invoice)
{
        struct mk_case c;
        struct sk_serve s;
        struct receiver r;
        long invoices;

        mk_case_start(&c, "wh_close", 1, 1);
        sk_paths(&s, &c);
        receiver_start(&r);
        endpoint(&r);
        sk_tally_ok("customers", "import", s.customers, NULL);
        sk_tally_ok("invoice", "--period", "2026-10", "--rules", s.catalog,
                    "--finalize", "--as-of", "2026-11-05", "--quiet", NULL);
        invoices = scalar_long(c.db, "SELECT count(*) FROM invoices WHERE "
                                     "status = 'finalized'");
        cr_assert_gt(invoices, 0);
        cr_expect_eq(scalar_long(c.db, "SELECT count(*) FROM webhook_outbox "
                                       "WHERE type = 'invoice.finalized'"),
                     invoices);
        cr_expect_eq(scalar_long(c.db, "SELECT count(*) FROM webhook_outbox o"
                                       " JOIN invoices i ON i.number = "
                                       "o.data->>'invoice' AND i.customer_id"
                                       " = o.customer_id AND i.total = "
                                       "(o.data->>'total')::numeric"),
                     invoices);
        cr_expect_eq(scalar_long(c.db, "SELECT count(*) FROM "
                                       "webhook_deliveries"),
                     invoices);
        /* Closing again finalizes nothing and writes nothing. */
        sk_tally_ok("invoice", "--period", "2026-10", "--rules", s.catalog,
                    "--finalize", "--as-of", "2026-11-05", "--quiet", NULL);
        cr_expect_eq(scalar_long(c.db, "SELECT count(*) FROM webhook_outbox"),
                     invoices);
        mk_case_stop(&c);
}
