/* tally invoice void | credit-note | mark-paid | show, and
   tally invoice --overdue: thin wrappers over invoicing/corrections.h. The
   actor recorded with each change is the OS user running the command. */
#include <getopt.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "core/alloc.h"
#include "invoicing/corrections.h"
#include "schemas/db.h"

struct corr_opts {
        const char *config, *amount, *reference, *reason, *line, *show, *out,
            *format, *as_of;
        bool overdue;
};

enum {
        O_CONFIG = 1000,
        O_AMOUNT,
        O_REFERENCE,
        O_REASON,
        O_LINE,
        O_SHOW,
        O_OUT,
        O_FORMAT,
        O_AS_OF,
        O_OVERDUE
};

static int on_opt(const struct cli_command *cmd, int key, char *value,
                  void *ctx)
{
        struct corr_opts *o = ctx;
        const char **slots[] = {&o->config, &o->amount, &o->reference,
                                &o->reason, &o->line,   &o->show,
                                &o->out,    &o->format, &o->as_of};

        (void)cmd;
        if (key == O_OVERDUE)
                o->overdue = true;
        else if (key >= O_CONFIG && key < O_OVERDUE)
                *slots[key - O_CONFIG] = value;
        return 0;
}

static int parse(const struct cli_command *cmd, int argc, char **argv,
                 struct corr_opts *o, int *first)
{
        static const struct option OPTS[] = {
            {"config", required_argument, NULL, O_CONFIG},
            {"amount", required_argument, NULL, O_AMOUNT},
            {"reference", required_argument, NULL, O_REFERENCE},
            {"reason", required_argument, NULL, O_REASON},
            {"line", required_argument, NULL, O_LINE},
            {"show", required_argument, NULL, O_SHOW},
            {"out", required_argument, NULL, O_OUT},
            {"format", required_argument, NULL, O_FORMAT},
            {"as-of", required_argument, NULL, O_AS_OF},
            {"overdue", no_argument, NULL, O_OVERDUE},
            {NULL, 0, NULL, 0}};
        struct cli_options spec = {OPTS, NULL, on_opt, true};

        memset(o, 0, sizeof *o);
        o->format = "table";
        return cli_parse_options(cmd, argc, argv, &spec, o, first);
}

/* Who runs the command, as recorded in the invoice's history. */
static const char *actor(void)
{
        const struct passwd *pw = getpwuid(geteuid());
        const char *user = getenv("USER");

        if (pw && pw->pw_name && *pw->pw_name)
                return pw->pw_name;
        return user && *user ? user : "unknown";
}

static int fail(const char *what, tl_status rc, const struct tl_error *e)
{
        fprintf(stderr, "tally invoice %s: %s\n", what, e->msg);
        return tl_status_exit_code(rc);
}

/* The config file (or tally.yaml), and a migrated database. */
static int setup(const char *what, const struct corr_opts *o,
                 struct inv_config *cfg, PGconn **conn)
{
        struct tl_error e = {0};
        const char *config = o->config;
        tl_status rc;

        inv_config_init(cfg);
        *conn = NULL;
        if (!config && access("tally.yaml", R_OK) == 0)
                config = "tally.yaml";
        rc = inv_config_load(cfg, config, &e);
        if (!rc && o->as_of) {
                char t[40];

                snprintf(t, sizeof t, "%.10sT00:00:00Z", o->as_of);
                if (strlen(o->as_of) != 10 ||
                    tl_time_parse_rfc3339(t, strlen(t), &cfg->now_us, &e))
                        rc = tl_fail(&e, TL_EUSAGE,
                                     "--as-of %s: expected YYYY-MM-DD",
                                     o->as_of);
        }
        if (!rc)
                rc = sch_db_connect(conn, &e);
        if (!rc)
                rc = sch_db_migrate(*conn, NULL, &e);
        if (rc) {
                if (*conn)
                        PQfinish(*conn);
                *conn = NULL;
                inv_config_release(cfg);
                return fail(what, rc, &e);
        }
        return CLI_EXIT_OK;
}

/* Print 'doc' (taken) and, with 'dir', write its JSON and PDF there. */
static tl_status emit(json_t *doc, const char *dir, bool print,
                      struct tl_error *e)
{
        tl_status rc = TL_OK;

        if (print) {
                char *s = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

                if (s)
                        printf("%s\n", s);
                else
                        rc = tl_fail(e, TL_ENOMEM, "out of memory");
                free(s); /* lint: libc-free: jansson allocated it */
        }
        if (!rc && dir)
                rc = inv_document_write(doc, dir, e);
        json_decref(doc);
        return rc;
}

static tl_status run(const char *sub, const char *number,
                     const struct corr_opts *o, const struct inv_config *cfg,
                     PGconn *conn, struct tl_error *e)
{
        json_t *doc = NULL;
        tl_status rc;

        if (!strcmp(sub, "void")) {
                char back[64];

                rc = inv_void(conn, number, o->reason, actor(), back,
                              sizeof back, e);
                if (!rc)
                        printf("%s: void; %s of credit returned to the "
                               "customer's balance\n",
                               number, back);
                return rc;
        }
        if (!strcmp(sub, "mark-paid")) {
                rc = inv_pay(conn, number, o->amount, o->reference, actor(),
                             &doc, e);
                if (!rc)
                        printf(
                            "%s: payment of %s recorded (%s); %s of %s %s "
                            "paid, %s outstanding: %s\n",
                            number,
                            json_string_value(json_object_get(doc, "amount")),
                            o->reference,
                            json_string_value(
                                json_object_get(doc, "amount_paid")),
                            json_string_value(json_object_get(doc, "currency")),
                            json_string_value(json_object_get(doc, "total")),
                            json_string_value(
                                json_object_get(doc, "outstanding")),
                            json_string_value(
                                json_object_get(doc, "payment_status")));
                json_decref(doc);
                return rc;
        }
        if (!strcmp(sub, "credit-note") && !o->show) {
                rc = inv_credit_note(conn, cfg, number, o->line, o->amount,
                                     o->reason, actor(), &doc, e);
                if (!rc)
                        printf(
                            "%s: %s %s credited on %s\n",
                            json_string_value(json_object_get(doc, "number")),
                            json_string_value(json_object_get(doc, "currency")),
                            json_string_value(json_object_get(doc, "total")),
                            number);
                return rc ? rc : emit(doc, o->out, false, e);
        }
        rc = inv_document_get(conn, cfg, number, &doc, e);
        return rc ? rc : emit(doc, o->out, true, e);
}

int cli_invoice_correct(int argc, char **argv)
{
        const struct cli_command *cmd = cli_find("invoice");
        const char *sub = argv[0], *number;
        struct corr_opts o;
        struct inv_config cfg;
        struct tl_error e = {0};
        PGconn *conn = NULL;
        tl_status rc;
        int first = 0, x = parse(cmd, argc, argv, &o, &first);

        if (x)
                return x;
        number = !strcmp(sub, "credit-note") && o.show ? o.show : NULL;
        if (number ? first != argc : first + 1 != argc)
                return cli_usage_error(cmd, "invoice %s takes one NUMBER", sub);
        if (!number)
                number = argv[first];
        if (!strcmp(sub, "void") && !o.reason)
                return cli_usage_error(cmd, "void needs --reason TEXT");
        if (!strcmp(sub, "mark-paid") && (!o.amount || !o.reference))
                return cli_usage_error(cmd, "mark-paid needs --amount X and "
                                            "--reference R");
        if (!strcmp(sub, "credit-note") && !o.show &&
            (!o.line || !o.amount || !o.reason))
                return cli_usage_error(cmd, "credit-note needs --line KEY, "
                                            "--amount X and --reason TEXT");
        if ((x = setup(sub, &o, &cfg, &conn)))
                return x;
        rc = run(sub, number, &o, &cfg, conn, &e);
        PQfinish(conn);
        inv_config_release(&cfg);
        return rc ? fail(sub, rc, &e) : CLI_EXIT_OK;
}

int cli_invoice_overdue(int argc, char **argv)
{
        const struct cli_command *cmd = cli_find("invoice");
        struct corr_opts o;
        struct inv_config cfg;
        struct tl_error e = {0};
        struct tl_buf out;
        PGconn *conn = NULL;
        char today[16];
        tl_status rc;
        int64_t y;
        unsigned m, d;
        int x = parse(cmd, argc, argv, &o, NULL);

        if (x)
                return x;
        if (strcmp(o.format, "table") && strcmp(o.format, "json"))
                return cli_usage_error(cmd, "--format: table or json");
        if ((x = setup("--overdue", &o, &cfg, &conn)))
                return x;
        tl_civil_from_days((cfg.now_us ? cfg.now_us : tl_time_now_us()) /
                               TL_US_PER_DAY,
                           &y, &m, &d);
        snprintf(today, sizeof today, "%04lld-%02u-%02u", (long long)y, m, d);
        tl_buf_init(&out, 0);
        rc =
            inv_overdue(conn, &cfg, today, !strcmp(o.format, "json"), &out, &e);
        if (!rc)
                fwrite(out.data, 1, out.len, stdout);
        tl_buf_release(&out);
        PQfinish(conn);
        inv_config_release(&cfg);
        return rc ? fail("--overdue", rc, &e) : CLI_EXIT_OK;
}
