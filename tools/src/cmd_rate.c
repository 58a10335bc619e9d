/* tally rate: offline rating of event files into draft invoices. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "core/alloc.h"
#include "core/str.h"
#include "rating/catalog.h"
#include "rating/customers.h"
#include "rating/invoice.h"
#include "rating/offline.h"

struct rate_args {
        const char *rules, *customers, *period, *format;
        const char **events;
        size_t event_count;
        bool skip_invalid;
        long threads;
};

static int parse_args(const struct cli_command *cmd, int argc, char **argv,
                      struct rate_args *a)
{
        for (int i = 1; i < argc; i++) {
                const char *o = argv[i];
                const char **slot = NULL;

                if (strcmp(o, "--skip-invalid") == 0) {
                        a->skip_invalid = true;
                        continue;
                }
                if (strcmp(o, "--rules") == 0)
                        slot = &a->rules;
                else if (strcmp(o, "--customers") == 0)
                        slot = &a->customers;
                else if (strcmp(o, "--period") == 0)
                        slot = &a->period;
                else if (strcmp(o, "--format") == 0)
                        slot = &a->format;
                else if (strcmp(o, "--threads") == 0) {
                        if (i + 1 >= argc)
                                return cli_usage_error(cmd, "--threads needs "
                                                            "a value");
                        if (cli_parse_long(cmd, o, argv[++i], 1, 64,
                                           &a->threads))
                                return CLI_EXIT_USAGE;
                        continue;
                } else if (strcmp(o, "--events") == 0) {
                        /* FILE... : every argument up to the next option. */
                        while (i + 1 < argc && strncmp(argv[i + 1], "--", 2))
                                a->events[a->event_count++] = argv[++i];
                        if (a->event_count == 0)
                                return cli_usage_error(cmd, "--events needs "
                                                            "at least one "
                                                            "FILE");
                        continue;
                } else {
                        return cli_usage_error(cmd, "unknown option '%s'", o);
                }
                if (i + 1 >= argc)
                        return cli_usage_error(cmd, "%s needs a value", o);
                *slot = argv[++i];
        }
        if (!a->rules || !a->customers || !a->period || !a->event_count)
                return cli_usage_error(cmd, "--rules, --customers, --events "
                                            "and --period are required");
        if (!a->format)
                a->format = "json";
        if (strcmp(a->format, "json") != 0 && strcmp(a->format, "table") != 0)
                return cli_usage_error(cmd,
                                       "--format is json or table, not "
                                       "'%s'",
                                       a->format);
        return CLI_EXIT_OK;
}

static void print_diags(const struct rate_diags *d, const struct tl_error *e)
{
        for (size_t k = 0; k < d->count; k++)
                fprintf(stderr, "%s\n", d->msg[k]);
        if (d->count == 0)
                fprintf(stderr, "%s\n", e->msg);
        if (d->dropped)
                fprintf(stderr, "... and %zu more\n", d->dropped);
}

/* The index in 'set' of the catalog pricing customer 'c' over 'p' (in
   its currency when it has one), or RATE_NO_INDEX. */
static size_t catalog_of(const struct rate_catalog_set *set,
                         const struct rate_customer *c,
                         const struct rate_period *p)
{
        const struct rate_catalog *cat =
            rate_catalog_set_pick_in(set, p->start_day, c->currency);

        for (size_t k = 0; cat && k < set->count; k++)
                if (set->catalogs[k] == cat)
                        return k;
        return RATE_NO_INDEX;
}

/* Invoices for everyone subscribed in the period or with usage in it,
   each by the run 'offs' of its catalog (by index in 'set'). */
static int print_invoices(const struct rate_args *a,
                          const struct rate_catalog_set *set,
                          const struct rate_customers *cs,
                          struct rate_offline *const *offs,
                          const struct rate_period *period)
{
        struct tl_buf out;
        struct tl_error err;
        bool json = strcmp(a->format, "json") == 0;
        int status = CLI_EXIT_OK;
        size_t printed = 0;

        tl_buf_init(&out, 0);
        if (json)
                tl_buf_puts(&out, "[", NULL);
        for (size_t i = 0; i < cs->count; i++) {
                const struct rate_customer *c = &cs->items[i];
                size_t k = catalog_of(set, c, period);
                const struct rate_offline *off =
                    k == RATE_NO_INDEX ? NULL : offs[k];
                struct rate_customer cc;
                const struct rate_acc *acc;
                size_t ci = RATE_NO_INDEX;
                struct rate_invoice *inv = NULL;
                bool used, subscribed;
                tl_status rc;

                if (!off)
                        continue; /* reported by the caller */
                acc = rate_offline_any_acc(off);
                used = rate_offline_find(off, c->id, &acc, &ci) &&
                       rate_acc_in_period(acc, ci);
                subscribed = c->start_day < period->end_day &&
                             (!c->has_end || c->end_day > period->start_day);
                if (!used && !subscribed)
                        continue;
                /* The grants this period may spend: those not expired at
                   its end, as the close spends them. */
                cc = *c;
                cc.credits = rate_customer_credit_on(c, period->end_day);
                struct rate_invoice_opts opts = {0, NULL,
                                                 rate_offline_segs(off, c)};

                rc = rate_invoice_build_opts(set->catalogs[k], cs, &cc, acc, ci,
                                             &opts, &inv, &err);
                if (rc) {
                        fprintf(stderr, "tally rate: %s\n", err.msg);
                        status = tl_status_exit_code(rc);
                        continue;
                }
                if (json) {
                        tl_buf_puts(&out, printed ? ",\n" : "\n", NULL);
                        rc = rate_invoice_json(inv, &out, &err);
                } else {
                        if (printed)
                                tl_buf_puts(&out, "\n", NULL);
                        rc = rate_invoice_table(inv, &out, &err);
                }
                rate_invoice_free(&inv);
                if (rc) {
                        fprintf(stderr, "tally rate: %s\n", err.msg);
                        tl_buf_release(&out);
                        return CLI_EXIT_RUNTIME;
                }
                printed++;
        }
        if (json)
                tl_buf_puts(&out, "\n]\n", NULL);
        /* All or nothing: a document missing a customer whose invoice
           failed would pass for the whole bill. */
        if (status == CLI_EXIT_OK && out.len &&
            fwrite(out.data, 1, out.len, stdout) != out.len)
                status = CLI_EXIT_RUNTIME;
        tl_buf_release(&out);
        return status;
}

/*
** Rate the events once per catalog some customer is priced by (one run,
** as before currencies, when all share one), into 'offs' by the catalog's
** index. A customer whose currency has no catalog in force is named and
** never priced in another currency ('*named'); the others still rated.
*/
static int run_catalogs(const struct rate_args *a,
                        const struct rate_catalog_set *set,
                        const struct rate_customers *cs,
                        const struct rate_period *period,
                        struct rate_offline **offs, bool *named)
{
        struct rate_offline_opts opts;
        struct tl_error err;

        memset(&opts, 0, sizeof opts);
        opts.threads = (unsigned)a->threads;
        for (size_t i = 0; i < cs->count; i++) {
                const struct rate_customer *c = &cs->items[i];

                if (catalog_of(set, c, period) != RATE_NO_INDEX ||
                    c->start_day >= period->end_day ||
                    (c->has_end && c->end_day <= period->start_day))
                        continue;
                fprintf(stderr,
                        "tally rate: customer %s is billed in %s: %s has no "
                        "catalog in %s in force for %s (none in %s has "
                        "effective_from on or before %s)\n",
                        c->id, c->currency->code, a->rules, c->currency->code,
                        period->label, c->currency->code, period->start_iso);
                *named = true;
        }
        for (size_t k = 0; k < set->count; k++) {
                const struct rate_catalog *cat = set->catalogs[k];
                struct rate_offline_stats st;
                bool needed =
                    cs->count == 0 &&
                    cat == rate_catalog_set_pick(set, period->start_day);
                tl_status rc;

                for (size_t i = 0; !needed && i < cs->count; i++)
                        needed = catalog_of(set, &cs->items[i], period) == k;
                if (!needed)
                        continue;
                rc =
                    rate_offline_run(cat, cs, period, a->events, a->event_count,
                                     &opts, &offs[k], &st, &err);
                if (rc) {
                        fprintf(stderr, "tally rate: %s\n", err.msg);
                        return tl_status_exit_code(rc);
                }
                if (st.invalid && !a->skip_invalid) {
                        fprintf(stderr,
                                "tally rate: %llu invalid events; nothing "
                                "rated (--skip-invalid rates the rest)\n",
                                (unsigned long long)st.invalid);
                        return CLI_EXIT_USAGE;
                }
                fprintf(stderr,
                        "tally rate: %s: %llu events read, %llu rated, %llu "
                        "duplicates, %llu invalid, %llu outside the period, "
                        "%llu of unknown customers; catalog %s %s\n",
                        a->period, (unsigned long long)st.read,
                        (unsigned long long)st.rated,
                        (unsigned long long)st.duplicates,
                        (unsigned long long)st.invalid,
                        (unsigned long long)st.outside,
                        (unsigned long long)st.unknown, cat->name,
                        cat->version);
        }
        return CLI_EXIT_OK;
}

int cli_rate_main(int argc, char **argv)
{
        const struct cli_command *cmd = cli_find("rate");
        struct rate_args a;
        struct rate_diags *d = tl_calloc(1, sizeof *d);
        struct rate_catalog_set *set = NULL;
        struct rate_customers *cs = NULL;
        struct rate_offline **offs = NULL;
        bool named = false;
        struct rate_period period;
        struct tl_error err;
        tl_status rc;
        int status;

        memset(&a, 0, sizeof a);
        a.events = tl_calloc((size_t)argc + 1, sizeof *a.events);
        if (!d || !a.events) {
                tl_free(d);
                tl_free(a.events);
                fprintf(stderr, "tally rate: out of memory\n");
                return CLI_EXIT_RUNTIME;
        }
        status = parse_args(cmd, argc, argv, &a);
        if (status)
                goto out;
        if ((rc = rate_period_parse(a.period, &period, &err)) != TL_OK) {
                status = cli_usage_error(cmd, "%s", err.msg);
                goto out;
        }
        if ((rc = rate_catalog_set_load(a.rules, &set, d, &err)) != TL_OK) {
                print_diags(d, &err);
                status = tl_status_exit_code(rc);
                goto out;
        }
        if (!rate_catalog_set_pick(set, period.start_day)) {
                fprintf(stderr,
                        "tally rate: %s: no catalog is in force for %s (every "
                        "effective_from is later)\n",
                        a.rules, a.period);
                status = CLI_EXIT_USAGE;
                goto out;
        }
        memset(d, 0, sizeof *d);
        if ((rc = rate_customers_load_file(a.customers, &cs, d, &err))) {
                print_diags(d, &err);
                status = tl_status_exit_code(rc);
                goto out;
        }
        if (!(offs = tl_calloc(set->count, sizeof *offs))) {
                fprintf(stderr, "tally rate: out of memory\n");
                status = CLI_EXIT_RUNTIME;
                goto out;
        }
        status = run_catalogs(&a, set, cs, &period, offs, &named);
        if (status == CLI_EXIT_OK)
                status = print_invoices(&a, set, cs, offs, &period);
        /* The customers named above fail the run; the others still print. */
        if (status == CLI_EXIT_OK && named)
                status = tl_status_exit_code(TL_EINVAL);
out:
        for (size_t k = 0; offs && k < set->count; k++)
                rate_offline_free(&offs[k]);
        tl_free(offs);
        rate_customers_free(&cs);
        rate_catalog_set_free(&set);
        tl_free(a.events);
        tl_free(d);
        return status;
}
