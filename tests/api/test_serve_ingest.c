/* POST /v1/events through a real `tally serve` with a meter on the same
   topic: per-event results, exactly the valid set stored, and no
   acknowledged event lost when the server is killed -9 mid-stream. */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <jansson.h>

#include "core/str.h"
#include "core/time.h"
#include "meterkit.h"
#include "serve_kit.h"

TK_INTEGRATION_PRE_ALL()
TK_INTEGRATION_POST_ALL()

#define BATCH 100
#define MAX_BATCHES 2000
#define KILLS 4

/* Ten minutes before the first call: inside the meter's skew, and the same
   for every event, so a resend is the same content. */
static const char *recent(void)
{
        static char when[64];

        if (!when[0])
                tl_time_format_rfc3339(tl_time_now_us() - 600 * TL_US_PER_SEC,
                                       when, sizeof when);
        return when;
}

/* One inference.tokens event; 'data' replaces the data map when given,
   'time' the time. */
static void event(struct tl_buf *b, const char *id, const char *time,
                  const char *data)
{
        tl_buf_printf(
            b, NULL,
            "{\"specversion\":\"1.0\",\"id\":\"%s\",\"source\":\"gw\","
            "\"type\":\"inference.tokens\",\"subject\":\"cust_0042\","
            "\"time\":\"%s\",\"data\":%s}",
            id, time ? time : recent(),
            data ? data
                 : "{\"model\":\"coder-7b\",\"deployment\":\"cloud\","
                   "\"decoding\":\"autoregressive\","
                   "\"input_tokens\":10,\"output_tokens\":20}");
}

/* POST a batch to 'port' with 'key'; the status (-1: no answer) and the
   parsed body in '*doc' (NULL unless JSON). */
static int post(int port, const char *key, const struct tl_buf *b, json_t **doc)
{
        char h[256];
        struct tk_http_resp r;
        int st;

        snprintf(h, sizeof h,
                 "Authorization: Bearer %s\r\nContent-Type: "
                 "application/cloudevents-batch+json\r\n",
                 key);
        st = tk_http("127.0.0.1", port, "POST", "/v1/events", h, b->data,
                     b->len, &r);
        *doc = st > 0 && r.body ? json_loads(r.body, 0, NULL) : NULL;
        tk_http_resp_release(&r);
        return st;
}

static const char *status_at(json_t *doc, size_t i)
{
        json_t *r = json_array_get(json_object_get(doc, "results"), i);

        if (json_integer_value(json_object_get(r, "index")) != (json_int_t)i)
                return "(wrong index)";
        return json_string_value(json_object_get(r, "status"));
}

static void expect_sql(struct mk_case *c, const char *sql, const char *want)
{
        char *got = tk_scalar(c->db, sql);

        cr_expect_str_eq(got, want, "%s: got %s, want %s", sql, got, want);
        free(got);
}

Test(serve_ingest, a_mixed_batch_answers_per_event_and_stores_the_valid_set,
     .timeout = 240)
{
        struct mk_case c;
        struct sk_serve s;
        struct tl_buf b;
        char ev[128];
        json_t *doc, *e;

        tk_require_env();
        mk_case_start(&c, "serve_ingest_mix", 1, 1);
        sk_paths(&s, &c);
        sk_start(&s, &c);
        sk_key(ev, "events:write", "ev", NULL);
        tl_buf_init(&b, 0);
        tl_buf_puts(&b, "[", NULL);
        event(&b, "e1", NULL, NULL); /* 0 */
        tl_buf_puts(&b, ",", NULL);
        event(&b, "e2", NULL, NULL); /* 1 */
        tl_buf_puts(&b, ",", NULL);
        event(&b, "e1", NULL, NULL); /* 2: a duplicate of 0 */
        tl_buf_puts(&b, ",", NULL);
        event(&b, "no-output", NULL, /* 3 */
              "{\"model\":\"coder-7b\",\"deployment\":\"cloud\","
              "\"decoding\":\"autoregressive\",\"input_tokens\":10}");
        tl_buf_puts(&b, ",", NULL);
        event(&b, "bad-time", "yesterday", NULL); /* 4 */
        tl_buf_puts(&b, ",", NULL);
        event(&b, "e3", NULL, NULL); /* 5 */
        tl_buf_puts(&b, "]", NULL);
        cr_assert_eq(post(s.port, ev, &b, &doc), 202);
        cr_assert_not_null(doc);
        cr_expect_eq(json_integer_value(json_object_get(doc, "accepted")), 4);
        cr_expect_eq(json_integer_value(json_object_get(doc, "rejected")), 2);
        cr_expect_eq(json_array_size(json_object_get(doc, "results")), 6);
        for (size_t i = 0; i < 6; i++)
                cr_expect_str_eq(status_at(doc, i),
                                 i == 3 || i == 4 ? "rejected" : "accepted",
                                 "event %zu", i);
        e = json_object_get(json_array_get(json_object_get(doc, "results"), 3),
                            "error");
        cr_expect_str_eq(json_string_value(json_object_get(e, "field")),
                         "data.output_tokens");
        e = json_object_get(json_array_get(json_object_get(doc, "results"), 4),
                            "error");
        cr_expect_str_eq(json_string_value(json_object_get(e, "field")),
                         "time");
        json_decref(doc);
        /* The same batch again: answered the same, stored once. */
        cr_expect_eq(post(s.port, ev, &b, &doc), 202);
        cr_expect_eq(json_integer_value(json_object_get(doc, "accepted")), 4);
        json_decref(doc);
        mk_meter_drain(&c);
        expect_sql(&c,
                   "SELECT string_agg(event_id, ',' ORDER BY event_id)"
                   " FROM events",
                   "e1,e2,e3");
        expect_sql(&c,
                   "SELECT sum(consumed) || ' ' || sum(stored) || ' ' ||"
                   " sum(duplicates) FROM ingest_counts",
                   "8 3 5");
        tl_buf_release(&b);
        sk_stop(&s);
        mk_case_stop(&c);
}

/* The client of the kill test: batches of BATCH fresh events to whatever
   port the server has now, each resent until a 202 accepts all of it, as
   a client would. */
struct stream {
        atomic_int port;
        atomic_bool stop;
        const char *key;
        atomic_int acked;   /* batches 0..acked-1 are acknowledged */
        atomic_int failed;  /* attempts without a 202 */
        atomic_int partial; /* 202s not accepting every event */
};

static void batch_body(struct tl_buf *b, int n)
{
        char id[32];

        tl_buf_clear(b);
        tl_buf_puts(b, "[", NULL);
        for (int i = 0; i < BATCH; i++) {
                snprintf(id, sizeof id, "k%04d-%03d", n, i);
                if (i)
                        tl_buf_puts(b, ",", NULL);
                event(b, id, NULL, NULL);
        }
        tl_buf_puts(b, "]", NULL);
}

static bool all_accepted(json_t *doc)
{
        if (json_integer_value(json_object_get(doc, "accepted")) != BATCH)
                return false;
        for (size_t i = 0; i < BATCH; i++)
                if (strcmp(status_at(doc, i), "accepted"))
                        return false;
        return true;
}

static void *client(void *arg)
{
        struct stream *st = arg;
        struct tl_buf b;
        int n = 0;

        tl_buf_init(&b, 0);
        batch_body(&b, n);
        while (!atomic_load(&st->stop) && n < MAX_BATCHES) {
                json_t *doc = NULL;
                int code = post(atomic_load(&st->port), st->key, &b, &doc);

                if (code == 202 && all_accepted(doc)) {
                        atomic_store(&st->acked, ++n);
                        batch_body(&b, n);
                } else {
                        atomic_fetch_add(
                            code == 202 ? &st->partial : &st->failed, 1);
                        mk_sleep_ms(20);
                }
                json_decref(doc);
        }
        tl_buf_release(&b);
        return NULL;
}

Test(serve_ingest, kill_9_during_a_stream_loses_no_acknowledged_event,
     .timeout = 480)
{
        struct mk_case c;
        struct sk_serve s;
        struct stream st;
        struct tl_buf b;
        pthread_t t;
        char ev[128], want[32], sql[160];
        json_t *doc;
        pid_t meter;
        int acked, kills_seen[KILLS];

        tk_require_env();
        mk_case_start(&c, "serve_ingest_kill", 1, 2);
        sk_paths(&s, &c);
        sk_start(&s, &c);
        sk_key(ev, "events:write", "ev", NULL);
        meter = mk_meter_spawn(&c, NULL);
        memset(&st, 0, sizeof st);
        st.key = ev;
        atomic_store(&st.port, s.port);
        cr_assert_eq(pthread_create(&t, NULL, client, &st), 0);
        for (int k = 0; k < KILLS; k++) {
                /* Some batches in, then the server dies mid-request. */
                int from = atomic_load(&st.acked);

                for (int i = 0; i < 200 && atomic_load(&st.acked) < from + 5;
                     i++)
                        mk_sleep_ms(25);
                mk_sleep_ms(37 * (k + 1));
                kill(s.pid, SIGKILL);
                mk_wait(s.pid, 10000);
                kills_seen[k] = atomic_load(&st.acked);
                sk_start(&s, &c);
                atomic_store(&st.port, s.port);
        }
        /* A few more batches through the last server, then stop. */
        {
                int from = atomic_load(&st.acked);

                for (int i = 0; i < 400 && atomic_load(&st.acked) < from + 5;
                     i++)
                        mk_sleep_ms(25);
        }
        atomic_store(&st.stop, true);
        pthread_join(t, NULL);
        acked = atomic_load(&st.acked);
        fprintf(stderr,
                "kill -9 stream: %d batches of %d acknowledged, %d attempts "
                "failed, %d partial; acknowledged before each kill:",
                acked, BATCH, atomic_load(&st.failed),
                atomic_load(&st.partial));
        for (int k = 0; k < KILLS; k++)
                fprintf(stderr, " %d", kills_seen[k]);
        fprintf(stderr, "\n");
        cr_assert_geq(acked, KILLS + 5, "too few batches to prove anything");
        cr_expect_geq(atomic_load(&st.failed), 1,
                      "no request was cut by a kill: the test proved little");
        cr_expect_eq(atomic_load(&st.partial), 0);

        /* Acknowledged batches resent to the restarted server: 202 again,
           and stored once. */
        tl_buf_init(&b, 0);
        for (int n = 0; n < 3; n++) {
                batch_body(&b, n);
                cr_expect_eq(post(s.port, ev, &b, &doc), 202);
                cr_expect(all_accepted(doc), "resent batch %d", n);
                json_decref(doc);
        }
        tl_buf_release(&b);
        sk_stop(&s);

        /* The meter takes in everything produced, then a drain makes sure
           nothing is left on the topic. */
        snprintf(want, sizeof want, "%d", acked * BATCH);
        snprintf(sql, sizeof sql,
                 "SELECT count(*) FROM events WHERE event_id < 'k%04d'", acked);
        for (int i = 0; i < 1200; i++) {
                char *got = tk_scalar(c.db, sql);
                bool done = !strcmp(got, want);

                free(got);
                if (done)
                        break;
                mk_sleep_ms(100);
        }
        kill(meter, SIGTERM);
        cr_expect_eq(mk_wait(meter, 60000), 0, "meter exit (log %s)",
                     mk_meter_log());
        mk_meter_drain(&c);
        /* Every acknowledged event, once. */
        expect_sql(&c, sql, want);
        snprintf(sql, sizeof sql,
                 "SELECT count(*) FROM (SELECT event_id FROM events WHERE "
                 "event_id < 'k%04d' GROUP BY source, event_id) x",
                 acked);
        expect_sql(&c, sql, want);
        /* At most the one batch in flight at the stop beyond them. */
        {
                char *n = tk_scalar(c.db, "SELECT count(*) FROM events");

                cr_expect_leq(atol(n), (long)(acked + 1) * BATCH, "%s", n);
                free(n);
        }
        {
                char *d = tk_scalar(c.db, "SELECT sum(duplicates) FROM "
                                          "ingest_counts");

                cr_expect_geq(atol(d), 3 * BATCH, "duplicates %s", d);
                free(d);
        }
        mk_case_stop(&c);
}
