/* tally customers import, tally usage, tally invoice, tally rules simulate:
   thin wrappers over invoicing/. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "core/alloc.h"
#include "invoicing/invoicing.h"
#include "schemas/db.h"

/* Options every database command shares. */
struct common {
        const char *config;
        const char *rules;
        const char *as_of;
        long grace_days, batch;
};

static int report_error(const char *cmd, tl_status rc, const struct tl_error *e)
{
        fprintf(stderr, "tally %s: %s\n", cmd, e->msg);
        return tl_status_exit_code(rc);
}

/* Config file, environment, then flags; and a migrated database. */
static int setup(const char *name, const struct common *o,
                 struct inv_config *cfg, PGconn **conn)
{
        struct tl_error e = {0};
        const char *config = o->config;
        tl_status rc;

        inv_config_init(cfg);
        if (!config && access("tally.yaml", R_OK) == 0)
                config = "tally.yaml";
        rc = inv_config_load(cfg, config, &e);
        if (!rc && o->rules) {
                tl_free(cfg->rules);
                cfg->rules = tl_malloc(strlen(o->rules) + 1);
                if (cfg->rules)
                        strcpy(cfg->rules, o->rules);
        }
        if (o->grace_days >= 0)
                cfg->grace_days = o->grace_days;
        if (o->batch > 0)
                cfg->batch = o->batch;
        if (!rc && o->as_of) {
                char t[40];

                snprintf(t, sizeof t, "%.10sT00:00:00Z", o->as_of);
                if (strlen(o->as_of) != 10 ||
                    tl_time_parse_rfc3339(t, strlen(t), &cfg->now_us, &e))
                        rc = tl_fail(&e, TL_EUSAGE,
                                     "--as-of %s: expected YYYY-MM-DD",
                                     o->as_of);
        }
        if (!rc && conn) {
                rc = sch_db_connect(conn, &e);
                if (!rc)
                        rc = sch_db_migrate(*conn, NULL, &e);
        }
        if (rc) {
                if (conn && *conn)
                        PQfinish(*conn);
                if (conn)
                        *conn = NULL;
                inv_config_release(cfg);
                return report_error(name, rc, &e);
        }
        return CLI_EXIT_OK;
}

/* Parse 'argc/argv' with the shared options plus 'extra'; calls 'on' for
   options it does not know. Returns 0 or an exit code; operands start at
   optind. */
enum { O_CONFIG = 1000, O_RULES, O_AS_OF, O_GRACE, O_BATCH };

struct parse_ctx {
        struct common *o;
        int (*on)(void *ctx, int ch, const char *arg);
        void *ctx;
};

static int common_opt(const struct cli_command *cmd, int ch, char *arg,
                      void *ctx)
{
        struct parse_ctx *p = ctx;
        struct common *o = p->o;

        switch (ch) {
        case O_CONFIG:
                o->config = arg;
                return 0;
        case O_RULES:
                o->rules = arg;
                return 0;
        case O_AS_OF:
                o->as_of = arg;
                return 0;
        case O_GRACE:
                return cli_parse_long(cmd, "--grace-days", arg, 0, 366,
                                      &o->grace_days);
        case O_BATCH:
                return cli_parse_long(cmd, "--batch", arg, 1, 100000,
                                      &o->batch);
        default:
                return p->on ? p->on(p->ctx, ch, arg) : 0;
        }
}

static int parse(const struct cli_command *cmd, int argc, char **argv,
                 const struct option *extra, size_t nextra, struct common *o,
                 int (*on)(void *ctx, int ch, const char *arg), void *ctx)
{
        struct option opts[24];
        struct parse_ctx p = {o, on, ctx};
        struct cli_options spec = {opts, NULL, common_opt, true};
        size_t n = 0;
        int first;

        memset(o, 0, sizeof *o);
        o->grace_days = -1;
        opts[n++] =
            (struct option){"config", required_argument, NULL, O_CONFIG};
        opts[n++] = (struct option){"rules", required_argument, NULL, O_RULES};
        opts[n++] = (struct option){"as-of", required_argument, NULL, O_AS_OF};
        opts[n++] =
            (struct option){"grace-days", required_argument, NULL, O_GRACE};
        opts[n++] = (struct option){"batch", required_argument, NULL, O_BATCH};
        for (size_t i = 0; i < nextra && n + 1 < 24; i++)
                opts[n++] = extra[i];
        opts[n] = (struct option){NULL, 0, NULL, 0};
        return cli_parse_options(cmd, argc, argv, &spec, &p, &first);
}

static int period_arg(const struct cli_command *cmd, const char *text,
                      struct rate_period *p)
{
        struct tl_error e = {0};

        if (!text)
                return cli_usage_error(cmd, "--period YYYY-MM is required");
        if (rate_period_parse(text, p, &e))
                return cli_usage_error(cmd, "--period: %s", e.msg);
        return 0;
}

/* ---- tally customers import ------------------------------------------------
 */

int cli_customers_main(int argc, char **argv)
{
        const struct cli_command *cmd = cli_find("customers");
        struct common o;
        struct inv_config cfg;
        struct inv_import_stats st;
        struct rate_diags *d;
        struct tl_error e = {0};
        PGconn *conn = NULL;
        tl_status rc;
        int x = parse(cmd, argc - 1, argv + 1, NULL, 0, &o, NULL, NULL);

        if (x)
                return x;
        if (argc < 2 || strcmp(argv[1], "import") != 0)
                return cli_usage_error(cmd, "expected: customers import FILE");
        if (optind + 2 != argc)
                return cli_usage_error(cmd, "import takes one FILE");
        if ((x = setup("customers", &o, &cfg, &conn)))
                return x;
        d = tl_calloc(1, sizeof *d);
        rc = d ? inv_customers_import(conn, argv[optind + 1], &st, d, &e)
               : tl_fail(&e, TL_ENOMEM, "out of memory");
        if (rc && d && d->count) {
                for (size_t k = 0; k < d->count; k++)
                        fprintf(stderr, "%s\n", d->msg[k]);
                if (d->dropped)
                        fprintf(stderr, "... and %zu more\n", d->dropped);
                fprintf(stderr, "tally customers: nothing imported\n");
        } else if (rc) {
                fprintf(stderr, "tally customers: %s\n", e.msg);
        } else {
                printf("%s: %llu customers added, %llu updated, %llu credit "
                       "grants\n",
                       argv[optind + 1], (unsigned long long)st.inserted,
                       (unsigned long long)st.updated,
                       (unsigned long long)st.credit_grants);
        }
        tl_free(d);
        PQfinish(conn);
        inv_config_release(&cfg);
        return rc ? tl_status_exit_code(rc) : CLI_EXIT_OK;
}

/* ---- tally usage
 * --------------------------------------------------------------- */

struct usage_opts {
        const char *customer, *period, *format;
};

static int usage_opt(void *ctx, int ch, const char *arg)
{
        struct usage_opts *u = ctx;

        if (ch == 'u')
                u->customer = arg;
        else if (ch == 'p')
                u->period = arg;
        else if (ch == 'f')
                u->format = arg;
        return 0;
}

int cli_usage_main(int argc, char **argv)
{
        static const struct option extra[] = {
            {"customer", required_argument, NULL, 'u'},
            {"period", required_argument, NULL, 'p'},
            {"format", required_argument, NULL, 'f'},
        };
        const struct cli_command *cmd = cli_find("usage");
        struct usage_opts u = {NULL, NULL, "table"};
        struct common o;
        struct inv_config cfg;
        struct rate_period p;
        struct tl_buf out;
        struct tl_error e = {0};
        PGconn *conn = NULL;
        tl_status rc;
        int x = parse(cmd, argc, argv, extra, 3, &o, usage_opt, &u);

        if (x)
                return x;
        if (!u.customer)
                return cli_usage_error(cmd, "--customer ID is required");
        if (strcmp(u.format, "table") && strcmp(u.format, "json"))
                return cli_usage_error(cmd, "--format: table or json");
        if ((x = setup("usage", &o, &cfg, &conn)))
                return x;
        if (u.period) {
                if ((x = period_arg(cmd, u.period, &p))) {
                        PQfinish(conn);
                        inv_config_release(&cfg);
                        return x;
                }
        } else {
                tl_time_us now = cfg.now_us ? cfg.now_us : tl_time_now_us();
                rate_period_of_day(now / TL_US_PER_DAY, &p);
        }
        tl_buf_init(&out, 0);
        rc = inv_usage(conn, &cfg, u.customer, &p, !strcmp(u.format, "json"),
                       &out, &e);
        if (!rc)
                fwrite(out.data, 1, out.len, stdout);
        tl_buf_release(&out);
        PQfinish(conn);
        inv_config_release(&cfg);
        return rc ? report_error("usage", rc, &e) : CLI_EXIT_OK;
}

/* ---- tally invoice ----------------------------------------------------------
 */

struct invoice_opts {
        const struct cli_command *cmd;
        const char *customer, *period, *out;
        long jobs;
        bool finalize, report, quiet;
};

static int invoice_opt(void *ctx, int ch, const char *arg)
{
        struct invoice_opts *v = ctx;

        switch (ch) {
        case 'u':
                v->customer = arg;
                break;
        case 'p':
                v->period = arg;
                break;
        case 'o':
                v->out = arg;
                break;
        case 'F':
                v->finalize = true;
                break;
        case 'R':
                v->report = true;
                break;
        case 'q':
                v->quiet = true;
                break;
        case 'j':
                return cli_parse_long(v->cmd, "--jobs", arg, 1, 64, &v->jobs);
        }
        return 0;
}

static void summary(const struct inv_close_opts *co,
                    const struct inv_close_stats *st)
{
        printf("invoice %s: %llu customers rated: %llu drafted, %llu "
               "finalized",
               co->period.label, (unsigned long long)st->customers,
               (unsigned long long)st->drafted,
               (unsigned long long)st->finalized);
        if (st->first_number[0])
                printf(" (%s .. %s)", st->first_number, st->last_number);
        printf(
            ", %llu adjustment lines, %llu not produced; %llu rollup rows, "
            "%llu events read; %lld ms (read %lld, rate %lld, store "
            "%lld)\n",
            (unsigned long long)st->adjustments, (unsigned long long)st->failed,
            (unsigned long long)st->rollup_rows, (unsigned long long)st->events,
            (long long)st->ms_total, (long long)st->ms_read,
            (long long)st->ms_rate, (long long)st->ms_store);
}

int cli_invoice_main(int argc, char **argv)
{
        static const struct option extra[] = {
            {"customer", required_argument, NULL, 'u'},
            {"period", required_argument, NULL, 'p'},
            {"out", required_argument, NULL, 'o'},
            {"finalize", no_argument, NULL, 'F'},
            {"report", no_argument, NULL, 'R'},
            {"quiet", no_argument, NULL, 'q'},
            {"jobs", required_argument, NULL, 'j'},
        };
        const struct cli_command *cmd = cli_find("invoice");
        struct invoice_opts v = {.cmd = cmd};
        struct inv_close_opts co;
        struct inv_close_stats st;
        struct common o;
        struct inv_config cfg;
        struct tl_error e = {0};
        PGconn *conn = NULL;
        tl_status rc = TL_OK;
        int x;

        /* Corrections and the overdue list are cmd_correct.c's. */
        if (argc > 1 &&
            (!strcmp(argv[1], "void") || !strcmp(argv[1], "credit-note") ||
             !strcmp(argv[1], "mark-paid") || !strcmp(argv[1], "show")))
                return cli_invoice_correct(argc - 1, argv + 1);
        for (int i = 1; i < argc; i++)
                if (!strcmp(argv[i], "--overdue"))
                        return cli_invoice_overdue(argc, argv);
        x = parse(cmd, argc, argv, extra, 7, &o, invoice_opt, &v);
        if (x)
                return x;
        memset(&co, 0, sizeof co);
        if ((x = period_arg(cmd, v.period, &co.period)))
                return x;
        if (optind != argc)
                return cli_usage_error(cmd, "unexpected argument %s",
                                       argv[optind]);
        if ((x = setup("invoice", &o, &cfg, &conn)))
                return x;
        if (v.jobs > 0)
                cfg.jobs = v.jobs;
        co.customer = v.customer;
        co.finalize = v.finalize;
        co.progress = v.quiet ? NULL : stderr;
        /* --report alone reads what is stored; otherwise close first. */
        if (!v.report || v.finalize || v.out) {
                rc = inv_close(conn, &cfg, &co, &st, &e);
                if (rc != TL_EUSAGE && rc != TL_EDB && rc != TL_EIO &&
                    rc != TL_ENOMEM)
                        summary(&co, &st);
                if (rc)
                        fprintf(stderr, "tally invoice: %s\n", e.msg);
        }
        if ((!rc || rc == TL_EINVAL) && v.out) {
                uint64_t n = 0;
                struct tl_error fe = {0};
                tl_status frc = inv_write_files(conn, &co.period, v.customer,
                                                v.out, &n, &fe);

                if (frc) {
                        fprintf(stderr, "tally invoice: %s\n", fe.msg);
                        rc = rc ? rc : frc;
                } else {
                        printf("wrote %llu invoices to %s (JSON, PDF, and "
                               "invoices-%s.csv)\n",
                               (unsigned long long)n, v.out, co.period.label);
                }
        }
        if (!rc && v.report) {
                struct tl_buf out;

                tl_buf_init(&out, 0);
                rc = inv_report(conn, &co.period, &out, &e);
                if (!rc)
                        fwrite(out.data, 1, out.len, stdout);
                else
                        fprintf(stderr, "tally invoice: %s\n", e.msg);
                tl_buf_release(&out);
        }
        PQfinish(conn);
        inv_config_release(&cfg);
        return rc ? tl_status_exit_code(rc) : CLI_EXIT_OK;
}

/* ---- tally rules simulate
 * ----------------------------------------------------- */

static int simulate_opt(void *ctx, int ch, const char *arg)
{
        if (ch == 'p')
                *(const char **)ctx = arg;
        return 0;
}

int cli_rules_simulate(int argc, char **argv)
{
        static const struct option extra[] = {
            {"period", required_argument, NULL, 'p'},
        };
        const struct cli_command *cmd = cli_find("rules");
        const char *period = NULL;
        struct common o;
        struct inv_config cfg;
        struct rate_period p;
        struct tl_buf out;
        struct tl_error e = {0};
        PGconn *conn = NULL;
        const char *rules;
        tl_status rc;
        int x = parse(cmd, argc, argv, extra, 1, &o, simulate_opt, &period);

        if (x)
                return x;
        if (!o.rules)
                return cli_usage_error(cmd, "simulate needs --rules PATH");
        if ((x = period_arg(cmd, period, &p)))
                return x;
        rules = o.rules;
        o.rules = NULL; /* --rules names the other rules, not the config's */
        if ((x = setup("rules simulate", &o, &cfg, &conn)))
                return x;
        tl_buf_init(&out, 0);
        rc = inv_simulate(conn, &cfg, rules, &p, &out, &e);
        if (!rc)
                fwrite(out.data, 1, out.len, stdout);
        tl_buf_release(&out);
        PQfinish(conn);
        inv_config_release(&cfg);
        return rc ? report_error("rules simulate", rc, &e) : CLI_EXIT_OK;
}
