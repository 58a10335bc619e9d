/* Hot reload: whole snapshots under concurrent readers, refusals, requests. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/log.h"
#include "rating/reload.h"

#define PLANS 8       /* per version: more values a torn read could mix */
#define WAIT_MS 10000 /* generous: sanitizer builds are slow */
#define READERS 4
#define VERSIONS 40

static char dir[64];

/* Log lines the reloader wrote, for the refusal tests. */
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static char log_text[1 << 16];
static size_t log_len;

static void capture(tl_log_level level, const char *line, void *ctx)
{
        size_t n = strlen(line);

        (void)level;
        (void)ctx;
        pthread_mutex_lock(&log_lock);
        if (log_len + n + 2 < sizeof log_text) {
                memcpy(log_text + log_len, line, n);
                log_len += n;
                log_text[log_len++] = '\n';
                log_text[log_len] = '\0';
        }
        pthread_mutex_unlock(&log_lock);
}

static bool logged(const char *needle)
{
        bool found;

        pthread_mutex_lock(&log_lock);
        found = strstr(log_text, needle) != NULL;
        pthread_mutex_unlock(&log_lock);
        return found;
}

static void setup(void)
{
        strcpy(dir, "/tmp/tally-reload-XXXXXX");
        cr_assert_not_null(mkdtemp(dir));
        /* Set before any thread logs: the level is read unlocked. */
        tl_log_set_level(TL_LOG_INFO);
        tl_log_set_sink(capture, NULL);
}

static void teardown(void)
{
        DIR *d = opendir(dir);
        struct dirent *e;
        char p[512];

        tl_log_set_sink(NULL, NULL);
        if (!d)
                return;
        while ((e = readdir(d)) != NULL) {
                if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
                        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
                        unlink(p);
                }
        }
        closedir(d);
        rmdir(dir);
}

TestSuite(reload, .init = setup, .fini = teardown);

static void sleep_ms(long ms)
{
        struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

        nanosleep(&ts, NULL);
}

/*
** Version 'n': every price, fee, seat price and minimum is n, and each
** plan's name ends in "vn", so a snapshot that mixes two versions (or
** holds half of one) disagrees with its own `version`.
*/
static void catalog_text(char *buf, size_t size, long n, const char *from)
{
        int o = snprintf(buf, size,
                         "catalog: reload-test\n"
                         "version: \"v%ld\"\n"
                         "effective_from: %s\n"
                         "currency: USD\n"
                         "meters:\n"
                         "  tokens: { event: inference.tokens, value: "
                         "output_tokens, aggregation: sum }\n"
                         "  devices: { event: device.seat, aggregation: "
                         "seats }\n"
                         "plans:\n",
                         n, from);

        for (int p = 0; p < PLANS; p++)
                o += snprintf(
                    buf + o, size - (size_t)o,
                    "  p%d:\n"
                    "    name: Plan %d v%ld\n"
                    "    fees:\n"
                    "      - { id: platform, name: Platform, amount: %ld }\n"
                    "    seats:\n"
                    "      meter: devices\n"
                    "      prices: { small: %ld, medium: %ld }\n"
                    "    charges:\n"
                    "      - { id: per-unit, name: Tokens, meter: tokens,\n"
                    "          unit: 1000, model: per_unit, price: %ld }\n"
                    "      - id: tiered\n"
                    "        name: Tiered tokens\n"
                    "        meter: tokens\n"
                    "        model: graduated\n"
                    "        tiers:\n"
                    "          - { up_to: 1000, price: %ld }\n"
                    "          - { up_to: null, price: %ld }\n"
                    "    minimum: %ld\n",
                    p, p, n, n, n, n, n, n, n, n);
        cr_assert_lt((size_t)o, size);
}

static void write_text(const char *name, const char *text)
{
        char p[512];
        FILE *f;

        snprintf(p, sizeof p, "%s/%s", dir, name);
        f = fopen(p, "w");
        cr_assert_not_null(f, "%s", p);
        cr_assert_eq(fputs(text, f) >= 0, 1);
        cr_assert_eq(fclose(f), 0);
}

/* The way deploy tools write: a hidden temp file renamed into place. */
static void rename_text(const char *name, const char *text)
{
        char tmp[512], p[512];

        snprintf(tmp, sizeof tmp, ".tmp-%s", name);
        write_text(tmp, text);
        snprintf(tmp, sizeof tmp, "%s/.tmp-%s", dir, name);
        snprintf(p, sizeof p, "%s/%s", dir, name);
        cr_assert_eq(rename(tmp, p), 0);
}

static void write_version(const char *name, long n, bool by_rename)
{
        static char buf[16384];

        catalog_text(buf, sizeof buf, n, "2026-01-01");
        if (by_rename)
                rename_text(name, buf);
        else
                write_text(name, buf);
}

static bool dec_is(const struct tl_dec *d, long n)
{
        struct tl_dec want = tl_dec_from_i64(n);

        return tl_dec_cmp(d, &want) == 0;
}

/* Every value of plan 'p' is 'n'. */
static bool plan_is(const struct rate_plan *p, size_t i, long n)
{
        char name[64];

        snprintf(name, sizeof name, "Plan %zu v%ld", i, n);
        if (strcmp(p->name, name) || p->fee_count != 1 ||
            !dec_is(&p->fees[0].amount, n) || !p->has_minimum ||
            !dec_is(&p->minimum, n) || p->seat_price_count != 2 ||
            p->charge_count != 2 || !dec_is(&p->charges[0].price, n) ||
            p->charges[1].tier_count != 2)
                return false;
        for (size_t k = 0; k < 2; k++)
                if (!dec_is(&p->seat_prices[k].price, n) ||
                    !dec_is(&p->charges[1].tiers[k].price, n))
                        return false;
        return true;
}

/* The version a one-catalog snapshot serves, or -1 when it is not whole. */
static long snapshot_version(const struct rate_catalog_set *s)
{
        const struct rate_catalog *c;
        long n;

        if (!s || s->count != 1)
                return -1;
        c = s->catalogs[0];
        if (sscanf(c->version, "v%ld", &n) != 1 || c->plan_count != PLANS)
                return -1;
        for (size_t i = 0; i < PLANS; i++)
                if (!plan_is(&c->plans[i], i, n))
                        return -1;
        return n;
}

static long serving(struct rate_reloader *r)
{
        const struct rate_catalog_set *s = rate_reloader_acquire(r);
        long n = snapshot_version(s);

        rate_reloader_release(r, s);
        return n;
}

/* Poll until version 'n' (or later) serves; false after WAIT_MS. */
static bool wait_version(struct rate_reloader *r, long n)
{
        for (int t = 0; t < WAIT_MS / 2; t++) {
                if (serving(r) >= n)
                        return true;
                sleep_ms(2);
        }
        return false;
}

static bool wait_failures(struct rate_reloader *r, uint64_t n)
{
        struct rate_reload_stats st;

        for (int t = 0; t < WAIT_MS / 2; t++) {
                rate_reloader_stats(r, &st);
                if (st.failures >= n)
                        return true;
                sleep_ms(2);
        }
        return false;
}

static bool wait_generation(struct rate_reloader *r, uint64_t n)
{
        for (int t = 0; t < WAIT_MS / 2; t++) {
                if (rate_reloader_generation(r) >= n)
                        return true;
                sleep_ms(2);
        }
        return false;
}

static struct rate_reloader *start(const char *path, uint32_t quiet_ms)
{
        struct rate_reloader *r = NULL;
        struct rate_diags diags = {0};
        struct tl_error err = {TL_OK, ""};

        cr_assert_eq(rate_reloader_new(path, quiet_ms, &r, &diags, &err), TL_OK,
                     "%s", err.msg);
        cr_assert_not_null(r);
        return r;
}

struct readers {
        struct rate_reloader *r;
        atomic_bool stop;
        atomic_ulong reads;
        atomic_ulong mixes;     /* snapshots not whole */
        atomic_ulong backwards; /* an older version after a newer one */
};

/* Price continuously: take a snapshot, read all of it, give it back. */
static void *reader_main(void *arg)
{
        struct readers *rd = arg;
        unsigned long reads = 0, mixes = 0, backwards = 0;
        long last = 0;

        while (!atomic_load(&rd->stop)) {
                const struct rate_catalog_set *s = rate_reloader_acquire(rd->r);
                long n = snapshot_version(s);

                if (n < 0)
                        mixes++;
                else if (n < last)
                        backwards++;
                else
                        last = n;
                rate_reloader_release(rd->r, s);
                reads++;
        }
        atomic_fetch_add(&rd->reads, reads);
        atomic_fetch_add(&rd->mixes, mixes);
        atomic_fetch_add(&rd->backwards, backwards);
        return NULL;
}

Test(reload, readers_never_see_a_mixed_catalog)
{
        struct readers rd = {0};
        pthread_t th[READERS];
        struct rate_reload_stats st;

        write_version("catalog.yaml", 1, true);
        rd.r = start(dir, 20);
        for (int i = 0; i < READERS; i++)
                cr_assert_eq(pthread_create(&th[i], NULL, reader_main, &rd), 0);
        /* Each version is waited for, so every one of them is swapped in
           under the readers; renames and in-place rewrites alternate. */
        for (long n = 2; n <= VERSIONS + 1; n++) {
                write_version("catalog.yaml", n, n % 2 == 0);
                cr_assert(wait_version(rd.r, n), "v%ld never served", n);
        }
        atomic_store(&rd.stop, true);
        for (int i = 0; i < READERS; i++)
                pthread_join(th[i], NULL);
        rate_reloader_stats(rd.r, &st);
        fprintf(stderr,
                "reload: %llu swaps, %lu reads by %d readers, %lu mixes, "
                "%lu backwards\n",
                (unsigned long long)st.generation, atomic_load(&rd.reads),
                READERS, atomic_load(&rd.mixes), atomic_load(&rd.backwards));
        cr_expect_eq(atomic_load(&rd.mixes), 0);
        cr_expect_eq(atomic_load(&rd.backwards), 0);
        cr_expect_eq(st.generation, VERSIONS, "one swap per write");
        cr_expect_eq(st.failures, 0);
        cr_expect_gt(atomic_load(&rd.reads), VERSIONS);
        cr_expect(logged("msg=\"catalog reloaded\""));
        rate_reloader_free(&rd.r);
        cr_assert_null(rd.r);
}

/* Every diagnostic of the set now on disk is in the log. */
static void expect_diags_logged(void)
{
        struct rate_catalog_set *set = NULL;
        struct rate_diags diags = {0};
        char q[RATE_DIAG_MSG_MAX * 2 + 8], line[sizeof q + 16];

        cr_assert_neq(rate_catalog_set_load(dir, &set, &diags, NULL), TL_OK);
        cr_assert_gt(diags.count, 0);
        for (size_t i = 0; i < diags.count; i++) {
                snprintf(line, sizeof line, "diag=%s",
                         tl_log_quote(diags.msg[i], q, sizeof q));
                cr_expect(logged(line), "not logged: %s", diags.msg[i]);
        }
}

Test(reload, a_refused_set_leaves_the_old_one_serving)
{
        struct rate_reloader *r;
        struct rate_reload_stats st;
        char buf[16384];

        write_version("catalog.yaml", 1, true);
        r = start(dir, 20);

        /* Not YAML at all. */
        write_text("catalog.yaml", "catalog: [unclosed\n");
        cr_assert(wait_failures(r, 1));
        cr_expect_eq(serving(r), 1);
        rate_reloader_stats(r, &st);
        cr_expect(st.failing);
        cr_expect(strstr(st.last_error, "catalog.yaml"), "%s", st.last_error);
        cr_expect(logged("msg=\"catalog refused; previous catalog keeps "
                         "serving\""));
        expect_diags_logged();

        /* Well-formed, but two rules broken: both are logged. */
        catalog_text(buf, sizeof buf, 2, "2026-01-01");
        strcpy(strstr(buf, "currency: USD"), "currency: usd\ncolour: red\n");
        rename_text("catalog.yaml", buf);
        cr_assert(wait_failures(r, 2));
        cr_expect_eq(serving(r), 1);
        expect_diags_logged();

        /* Fixed: picked up, and the failure is over. */
        write_version("catalog.yaml", 3, false);
        cr_assert(wait_version(r, 3));
        rate_reloader_stats(r, &st);
        cr_expect_not(st.failing);
        cr_expect_str_empty(st.last_error);
        cr_expect_eq(st.generation, 1);
        cr_expect_eq(st.failures, 2);

        /* One bad file among good ones refuses the whole set ... */
        write_text("extra.yaml", "catalog: x\n");
        cr_assert(wait_failures(r, 3));
        cr_expect_eq(serving(r), 3);
        /* ... and removing it is a change like any other. */
        snprintf(buf, sizeof buf, "%s/extra.yaml", dir);
        cr_assert_eq(unlink(buf), 0);
        cr_assert(wait_generation(r, 2));
        cr_expect_eq(serving(r), 3);
        rate_reloader_free(&r);
}

static struct rate_reloader *hup_target;

static void on_hup(int sig)
{
        (void)sig;
        rate_reloader_request(hup_target);
}

Test(reload, sighup_reloads_at_once)
{
        struct sigaction sa;

        write_version("catalog.yaml", 1, true);
        /* A quiet time far beyond the test: only the request can reload. */
        hup_target = start(dir, 600000);
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_hup;
        sigemptyset(&sa.sa_mask);
        cr_assert_eq(sigaction(SIGHUP, &sa, NULL), 0);

        write_version("catalog.yaml", 2, true);
        cr_assert_eq(kill(getpid(), SIGHUP), 0);
        cr_assert(wait_version(hup_target, 2));
        cr_expect_eq(rate_reloader_generation(hup_target), 1);

        /* Unchanged files: a request still reloads (and counts). */
        rate_reloader_request(hup_target);
        cr_assert(wait_generation(hup_target, 2));
        cr_expect_eq(serving(hup_target), 2);

        signal(SIGHUP, SIG_DFL);
        rate_reloader_free(&hup_target);
        rate_reloader_request(NULL); /* a late signal is harmless */
}

Test(reload, a_burst_of_writes_is_one_reload)
{
        struct rate_reloader *r;
        uint64_t swaps;

        write_version("catalog.yaml", 1, true);
        r = start(dir, 0); /* the default quiet time */
        for (long n = 2; n <= 11; n++)
                write_version("catalog.yaml", n, n % 3 != 0);
        cr_assert(wait_version(r, 11));
        swaps = rate_reloader_generation(r);
        fprintf(stderr, "reload: a burst of 10 writes made %llu swap(s)\n",
                (unsigned long long)swaps);
        /* 1 unless the writer stalled for a whole quiet time mid-burst. */
        cr_expect_leq(swaps, 2);
        rate_reloader_free(&r);
}

Test(reload, a_file_path_ignores_its_neighbours)
{
        struct rate_reloader *r;
        char path[512], buf[16384];

        write_version("catalog.yaml", 1, true);
        snprintf(path, sizeof path, "%s/catalog.yaml", dir);
        r = start(path, 20);
        catalog_text(buf, sizeof buf, 7, "2027-01-01");
        write_text("other.yaml", buf);
        write_text("notes.txt", "not a catalog");
        /* Absence of a reload can only be shown by waiting a little. */
        sleep_ms(300);
        cr_expect_eq(rate_reloader_generation(r), 0);
        write_version("catalog.yaml", 2, false);
        cr_assert(wait_version(r, 2));
        cr_expect_eq(rate_reloader_generation(r), 1);
        rate_reloader_free(&r);
}

Test(reload, a_held_snapshot_outlives_its_replacement)
{
        struct rate_reloader *r;
        const struct rate_catalog_set *old;

        write_version("catalog.yaml", 1, true);
        r = start(dir, 20);
        old = rate_reloader_acquire(r);
        write_version("catalog.yaml", 2, true);
        cr_assert(wait_version(r, 2));
        /* Replaced, still whole: freed by this release, not before. */
        cr_expect_eq(snapshot_version(old), 1);
        rate_reloader_release(r, old);
        rate_reloader_release(r, NULL);
        rate_reloader_free(&r);
}

Test(reload, free_stops_the_thread_cleanly)
{
        struct rate_reloader *r;

        write_version("catalog.yaml", 1, true);
        r = start(dir, 20);
        rate_reloader_free(&r);
        cr_assert_null(r);
        rate_reloader_free(&r);
        rate_reloader_free(NULL);

        /* With a reload requested and file events pending. */
        r = start(dir, 20);
        write_version("catalog.yaml", 2, true);
        rate_reloader_request(r);
        rate_reloader_free(&r);
        cr_assert_null(r);
}

Test(reload, an_invalid_initial_set_is_refused)
{
        struct rate_reloader *r = NULL;
        struct rate_diags diags = {0};
        struct tl_error err = {TL_OK, ""};
        char path[512];

        write_text("catalog.yaml", "catalog: x\nversion: \"1\"\n");
        cr_expect_eq(rate_reloader_new(dir, 0, &r, &diags, &err), TL_EINVAL);
        cr_expect_null(r);
        cr_expect_gt(diags.count, 0);
        cr_expect(strstr(err.msg, "catalog.yaml:"), "%s", err.msg);

        snprintf(path, sizeof path, "%s/absent", dir);
        cr_expect_eq(rate_reloader_new(path, 0, &r, NULL, &err), TL_EIO);
        cr_expect_null(r);
        cr_expect_eq(rate_reloader_new(NULL, 0, &r, NULL, NULL), TL_EUSAGE);
}

Test(reload, every_allocation_failure_unwinds)
{
        struct rate_reloader *r = NULL;
        tl_status rc = TL_ENOMEM;
        long n;

        write_version("catalog.yaml", 1, true);
        /* The reloader's thread allocates only when it reloads, and
           nothing changes here: the countdown sees this thread alone. */
        for (n = 0; rc != TL_OK && n < 100000; n++) {
                tl_alloc_fail_after(n);
                rc = rate_reloader_new(dir, 20, &r, NULL, NULL);
                tl_alloc_fail_reset();
                if (rc != TL_OK) {
                        cr_expect_eq(rc, TL_ENOMEM, "allocation %ld: %s", n,
                                     tl_status_name(rc));
                        cr_expect_null(r);
                }
        }
        cr_assert_eq(rc, TL_OK);
        cr_expect_gt(n, 3);
        cr_expect_eq(serving(r), 1);
        rate_reloader_free(&r);
}

/* The hard limit plan p0's `tokens` meter has in the set served, or -1. */
static long served_limit(struct rate_reloader *r)
{
        const struct rate_catalog_set *s = rate_reloader_acquire(r);
        const struct rate_controls *c =
            s && s->count == 1 ? &s->catalogs[0]->plans[0].controls : NULL;
        long n = c && c->limit_count == 1 && c->limits[0].hard.scale == 0
                     ? (long)c->limits[0].hard.coef
                     : -1;

        rate_reloader_release(r, s);
        return n;
}

static void write_controls(long hard, const char *alerts)
{
        char buf[16384];

        catalog_text(buf, sizeof buf, hard, "2026-01-01");
        /* p0's controls go right after its minimum. */
        snprintf(strstr(buf, "  p1:"),
                 sizeof buf - (size_t)(strstr(buf, "  p1:") - buf),
                 "    limits: { tokens: { hard: %ld } }\n%s", hard, alerts);
        rename_text("catalog.yaml", buf);
}

Test(reload, limits_and_alerts_reload_with_the_catalog_and_a_bad_one_is_refused)
{
        struct rate_reloader *r;
        long n = -1;

        write_controls(1, "");
        r = start(dir, 20);
        cr_expect_eq(served_limit(r), 1);
        write_controls(2, "    alerts: [ { id: a, spend_at_least: 5 } ]\n");
        for (int t = 0; t < WAIT_MS / 2 && (n = served_limit(r)) != 2; t++)
                sleep_ms(2);
        cr_expect_eq(n, 2);
        /* Two alerts with one id: refused, the limit of 2 keeps serving. */
        write_controls(3, "    alerts: [ { id: a, spend_at_least: 5 },"
                          " { id: a, spend_at_least: 6 } ]\n");
        cr_assert(wait_failures(r, 1));
        cr_expect_eq(served_limit(r), 2);
        cr_expect(logged("duplicate id 'a'"));
        rate_reloader_free(&r);
}
