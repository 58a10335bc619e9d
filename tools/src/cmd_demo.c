/* tally demo: the main job. A month of business on this machine, through
   the real path: engine -> Kafka -> meter -> PostgreSQL -> close, with the
   cost to date read through `tally serve`. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"
#include "core/alloc.h"
#include "demo/demo.h"
#include "invoicing/invoicing.h"
#include "schemas/db.h"

/* The options as given; 'period' is parsed once they are all read. */
struct demo_args {
        struct demo_opts *o;
        const char *period;
};

static int on_option(const struct cli_command *cmd, int ch, char *value,
                     void *ctx)
{
        struct demo_args *a = ctx;
        struct demo_opts *o = a->o;
        long v;
        int x;

        switch (ch) {
        case 'c':
                return cli_parse_long(cmd, "--customers", value, 1, 5000,
                                      &o->customers);
        case 'd':
                return cli_parse_long(cmd, "--days", value, 1, 31, &o->days);
        case 's':
                if ((x = cli_parse_long(cmd, "--seed", value, 0, LONG_MAX, &v)))
                        return x;
                o->seed = (uint64_t)v;
                return 0;
        case 't':
                if ((x = cli_parse_long(cmd, "--threads", value, 0, 256, &v)))
                        return x;
                o->threads = (int)v;
                return 0;
        case 'p':
                a->period = value;
                return 0;
        case 'D':
                o->dir = value;
                return 0;
        case 'b':
                o->brokers = value;
                return 0;
        case 'B':
                o->database = value;
                return 0;
        default: /* 'q' */
                o->quiet = true;
                return 0;
        }
}

static int parse(const struct cli_command *cmd, int argc, char **argv,
                 struct demo_opts *o)
{
        static const struct option opts[] = {
            {"customers", required_argument, NULL, 'c'},
            {"days", required_argument, NULL, 'd'},
            {"period", required_argument, NULL, 'p'},
            {"dir", required_argument, NULL, 'D'},
            {"seed", required_argument, NULL, 's'},
            {"brokers", required_argument, NULL, 'b'},
            {"database", required_argument, NULL, 'B'},
            {"threads", required_argument, NULL, 't'},
            {"quiet", no_argument, NULL, 'q'},
            {NULL, 0, NULL, 0},
        };
        static const struct cli_options spec = {opts, NULL, on_option, true};
        struct demo_args a = {o, NULL};
        const char *period;
        int x;

        *o = (struct demo_opts){.customers = 24, .dir = "var/demo", .seed = 1};
        if ((x = cli_parse_options(cmd, argc, argv, &spec, &a, NULL)))
                return x;
        period = a.period;
        if (period) {
                struct tl_error e;
                if (rate_period_parse(period, &o->period, &e))
                        return cli_usage_error(cmd, "--period: %s", e.msg);
        } else {
                /* The last whole month: it can be closed today. */
                rate_period_of_day(tl_time_now_us() / TL_US_PER_DAY,
                                   &o->period);
                rate_period_of_day(o->period.start_day - 1, &o->period);
        }
        if (o->days == 0 || o->days > (long)o->period.days)
                o->days = (long)o->period.days;
        return 0;
}

/* A fresh working directory: earlier runs' outputs would mislead. */
static tl_status prepare_dir(const struct demo_opts *o, struct demo_env *env,
                             struct tl_error *err)
{
        static const char *const OLD[] = {"invoices", "devices", "model",
                                          "rules"};
        char cmd[1400], path[700];

        char cwd[300] = "";

        if (o->dir[0] != '/' && !getcwd(cwd, sizeof cwd))
                return tl_fail(err, TL_EIO, "getcwd: %s", strerror(errno));
        snprintf(env->dir, sizeof env->dir, "%s%s%s", cwd, cwd[0] ? "/" : "",
                 o->dir);
        snprintf(cmd, sizeof cmd, "mkdir -p '%s'", env->dir);
        if (system(cmd) != 0)
                return tl_fail(err, TL_EIO, "cannot create %s", env->dir);
        for (size_t i = 0; i < sizeof OLD / sizeof *OLD; i++) {
                snprintf(cmd, sizeof cmd, "rm -rf '%s'",
                         demo_path(env, OLD[i], path, sizeof path));
                if (system(cmd) != 0)
                        return tl_fail(err, TL_EIO, "cannot remove %s", path);
        }
        unlink(demo_path(env, "undelivered.cbor", path, sizeof path));
        if (mkdir(demo_path(env, "invoices", path, sizeof path), 0755) != 0)
                return tl_fail(err, TL_EIO, "cannot create %s: %s", path,
                               strerror(errno));
        return TL_OK;
}

static tl_status setup_db(const struct demo_env *env, size_t *imported,
                          struct tl_error *err)
{
        struct sch_migrate_report rep;
        struct inv_import_stats st;
        struct rate_diags *d = tl_calloc(1, sizeof *d);
        PGconn *c = NULL;
        char path[600];
        tl_status rc = d ? sch_db_connect(&c, err)
                         : tl_fail(err, TL_ENOMEM, "out of memory");

        if (!rc)
                rc = sch_db_migrate(c, &rep, err);
        if (!rc)
                printf("  schema: version %d\n", rep.version_after);
        if (!rc)
                rc = inv_customers_import(
                    c, demo_path(env, "customers.yaml", path, sizeof path), &st,
                    d, err);
        if (rc && d && d->count)
                fprintf(stderr, "%s\n", d->msg[0]);
        if (!rc)
                *imported = st.inserted + st.updated;
        tl_free(d);
        PQfinish(c);
        return rc;
}

/* The cost to date of 'customer' as `tally serve` drafts it now, read with
   'key': the invoice total and the catalog version that priced it. */
static tl_status live_draft(const struct demo_env *env, const char *key,
                            const char *customer, const struct rate_period *p,
                            char *version, char *total, size_t size,
                            struct tl_error *err)
{
        static char body[1 << 20];
        char path[200];
        json_t *doc;
        const char *v, *t;
        int status;

        snprintf(path, sizeof path, "/v1/customers/%s/usage?period=%s",
                 customer, p->label);
        status = demo_http_get(env->api, key, path, body, sizeof body);
        if (status != 200)
                return tl_fail(err, TL_EIO, "GET %s: %d %s", path, status,
                               body);
        doc = json_loads(body, 0, NULL);
        v = json_string_value(json_object_get(doc, "catalog_version"));
        t = json_string_value(
            json_object_get(json_object_get(doc, "invoice"), "total"));
        if (!v || !t) {
                json_decref(doc);
                return tl_fail(err, TL_EIO,
                               "GET %s: no catalog_version or invoice.total "
                               "in the answer",
                               path);
        }
        snprintf(version, size, "%s", v);
        snprintf(total, size, "%s", t);
        json_decref(doc);
        return TL_OK;
}

/* The catalog sets `tally serve` has published, from its /metrics; -1
   when it does not answer. */
static long long catalog_generation(const struct demo_env *env)
{
        static const char NAME[] = "\ntally_api_catalog_generation ";
        static char body[1 << 16];
        const char *at;

        if (demo_http_get(env->api, NULL, "/metrics", body, sizeof body) !=
                200 ||
            !(at = strstr(body, NAME)))
                return -1;
        return atoll(at + sizeof NAME - 1);
}

/* Mid-month: a price edited in the catalog file, picked up by the running
   `tally serve` without a restart, and read through the API with a key
   scoped to the one customer, which another customer's data refuses. */
static tl_status hot_reload(const struct demo_opts *o, struct demo_env *env,
                            const struct demo_world *w,
                            const struct demo_counts *n, int day,
                            struct tl_error *err)
{
        const char *who = w->c[0].id; /* a Starter customer since day 1 */
        const char *other = w->n > 1 ? w->c[1].id : "cust_none";
        char before[64], after[64], v0[64], v1[64], old_p[32], new_p[32];
        char scope[64], name[64], key[256], path[200], body[4096];
        long long g0, g1 = -1;
        int64_t t0, took = 0;
        int status;
        tl_status rc;

        snprintf(scope, sizeof scope, "customer:%s", who);
        snprintf(name, sizeof name, "demo-%s", who);
        rc = demo_key_create(env, scope, name, key, sizeof key, err);
        /* Price the same stored usage twice: wait until it is all in. */
        if (!rc)
                rc = demo_wait_ingested(
                    env, n->unique_events + n->replays + n->malformed, 120,
                    err);
        if (!rc)
                rc = live_draft(env, key, who, &o->period, v0, before,
                                sizeof before, err);
        g0 = catalog_generation(env);
        if (!rc && g0 < 0)
                rc = tl_fail(err, TL_EIO,
                             "no tally_api_catalog_generation in "
                             "tally serve's /metrics");
        if (!rc)
                rc = demo_edit_catalog(env, old_p, new_p, sizeof old_p, err);
        t0 = tl_mono_us();
        while (!rc && (g1 = catalog_generation(env)) <= g0) {
                if (tl_mono_us() - t0 > 10000000)
                        rc = tl_fail(err, TL_EIO,
                                     "tally serve did not reload the "
                                     "edited catalog within 10 s");
                nanosleep(&(struct timespec){0, 20000000L}, NULL);
        }
        took = tl_mono_us() - t0;
        if (!rc)
                rc = live_draft(env, key, who, &o->period, v1, after,
                                sizeof after, err);
        if (!rc && !strcmp(v0, v1))
                rc = tl_fail(err, TL_EIO,
                             "tally serve reloaded (generation %lld -> %lld) "
                             "but still prices with %s",
                             g0, g1, v0);
        snprintf(path, sizeof path, "/v1/customers/%s/usage?period=%s", other,
                 o->period.label);
        status = rc ? 0 : demo_http_get(env->api, key, path, body, sizeof body);
        if (!rc && status != 403)
                rc = tl_fail(err, TL_EIO,
                             "GET %s with %s's key: %d, expected 403 %s", path,
                             who, status, body);
        if (!rc)
                printf("  day %02d: pricing edits rules/catalog.yaml: Starter "
                       "output tokens %s -> %s per 1000 (version %s)\n"
                       "          tally serve reloaded it in %lld ms (no "
                       "restart): %s's draft to date $%s -> $%s\n"
                       "          (GET /v1/customers/%s/usage with a key "
                       "scoped customer:%s; the same key for %s: %d "
                       "refused)\n",
                       day, old_p, new_p, v1, (long long)took / 1000, who,
                       before, after, who, who, other, status);
        return rc;
}

static void progress(const struct demo_opts *o, const struct demo_counts *n,
                     int day)
{
        bool tty = isatty(STDOUT_FILENO);
        int width = 30, done = (int)(width * day / o->days);

        if (o->quiet)
                return;
        if (tty) {
                printf(
                    "\r  day %02d/%02ld [%.*s%*s] %llu requests, %llu events "
                    "sent, %llu uploads",
                    day, o->days, done, "##############################",
                    width - done, "",
                    (unsigned long long)(n->ar_requests +
                                         n->diffusion_requests +
                                         n->device_requests),
                    (unsigned long long)(n->unique_events + n->replays),
                    (unsigned long long)n->uploads);
                if (day == o->days)
                        putchar('\n');
        } else {
                printf("  day %02d/%02ld: %llu cloud requests (%llu AR, %llu "
                       "diffusion), %llu on devices, %llu events sent, %llu "
                       "uploads\n",
                       day, o->days,
                       (unsigned long long)(n->ar_requests +
                                            n->diffusion_requests),
                       (unsigned long long)n->ar_requests,
                       (unsigned long long)n->diffusion_requests,
                       (unsigned long long)n->device_requests,
                       (unsigned long long)(n->unique_events + n->replays),
                       (unsigned long long)n->uploads);
        }
        fflush(stdout);
}

static tl_status month(const struct demo_opts *o, struct demo_env *env,
                       struct demo_world *w, struct demo_month *m,
                       struct tl_error *err)
{
        const struct demo_counts *n = demo_month_counts(m);
        int edit_day = (int)(o->days + 1) / 2, noise_day = edit_day;
        tl_status rc = TL_OK;

        printf("\n== The month: %ld days of %s\n", o->days, o->period.label);
        for (int day = 1; !rc && day <= o->days; day++) {
                rc = demo_month_day(m, day, err);
                if (!rc && day == noise_day)
                        rc = demo_month_noise(m, day, err);
                if (!rc && day == edit_day) {
                        if (isatty(STDOUT_FILENO) && !o->quiet)
                                putchar('\n');
                        rc = hot_reload(o, env, w, n, day, err);
                        if (!rc)
                                rc = demo_upgrade(o, env, w, day, err);
                }
                if (!rc)
                        progress(o, n, day);
        }
        if (!rc)
                rc = demo_month_sync(m, err);
        if (!rc) {
                uint64_t units = n->unique_events + n->replays + n->malformed;
                printf("  devices synced: %llu uploads in all; waiting for the "
                       "meter to account for %llu units\n",
                       (unsigned long long)n->uploads,
                       (unsigned long long)units);
                fflush(stdout);
                rc = demo_wait_ingested(env, units, 300, err);
        }
        return rc;
}

static tl_status run(const struct demo_opts *o, struct demo_env *env,
                     struct tl_error *err)
{
        struct demo_world w = {0};
        struct demo_month *m = NULL;
        size_t imported = 0;
        tl_status rc = prepare_dir(o, env, err);

        printf("tally demo: a month of business (%s, %ld customers, %ld "
               "days, seed %llu) in %s\n\n== Starting\n",
               o->period.label, o->customers, o->days,
               (unsigned long long)o->seed, env->dir);
        fflush(stdout);
        if (!rc)
                rc = demo_env_start(env, o, err);
        if (!rc)
                printf("  PostgreSQL: %s\n  Kafka: %s at %s, topic %s\n",
                       env->pg_dir[0] ? "a private cluster (database "
                                        "tally_demo)"
                                      : "the configured database",
                       env->broker_pid ? "tally broker" : "configured brokers",
                       env->brokers, DEMO_TOPIC);
        if (!rc)
                rc = demo_world_init(&w, o, env, err);
        if (!rc)
                rc = setup_db(env, &imported, err);
        if (!rc)
                printf("  customers: %zu imported from customers.yaml; catalog "
                       "rules/catalog.yaml (from pricing-rules/demo)\n",
                       imported);
        if (!rc)
                rc = demo_meter_start(env, err);
        if (!rc)
                printf("  meter: tally meter (pid %d), /metrics on "
                       "http://%s\n",
                       (int)env->meter_pid, env->http);
        if (!rc)
                rc = demo_serve_start(env, err);
        if (!rc)
                printf("  api: tally serve (pid %d) on http://%s, catalogs "
                       "hot-reloaded from rules/\n",
                       (int)env->serve_pid, env->api);
        if (!rc)
                rc = demo_month_new(o, env, &w, &m, err);
        if (!rc)
                printf("  engine: a random reference model (fp32 in the "
                       "cloud, int8 on devices): text is noise, metering "
                       "exact\n");
        fflush(stdout);
        if (!rc)
                rc = month(o, env, &w, m, err);
        if (!rc)
                rc = demo_close(o, env, m, err);
        if (!rc)
                rc = demo_serve_stop(env, err);
        if (!rc)
                rc = demo_meter_stop(env, err);
        demo_month_free(&m);
        demo_world_release(&w);
        return rc;
}

int cli_demo_main(int argc, char **argv)
{
        const struct cli_command *cmd = cli_find("demo");
        struct demo_opts o;
        struct demo_env env = {0};
        struct tl_error e = {0};
        int64_t t0 = tl_mono_us();
        int x = parse(cmd, argc, argv, &o);
        tl_status rc;

        if (x)
                return x;
        rc = run(&o, &env, &e);
        demo_env_stop(&env);
        if (rc) {
                fflush(stdout);
                fprintf(stderr, "tally demo: %s\n", e.msg);
                return tl_status_exit_code(rc);
        }
        printf("\nDone in %.1f s. Invoices in %s/invoices, logs of the broker, "
               "the meter and tally serve in %s.\n",
               (double)(tl_mono_us() - t0) / 1e6, env.dir, env.dir);
        return CLI_EXIT_OK;
}
