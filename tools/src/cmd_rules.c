/* tally rules: check and diff pricing catalogs. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "core/alloc.h"
#include "rating/catalog.h"
#include "rules_diff.h"

static int check(int argc, char **argv)
{
        int bad = 0;

        for (int i = 0; i < argc; i++) {
                struct rate_diags *d = tl_calloc(1, sizeof *d);
                struct rate_catalog_set *set = NULL;
                struct tl_error err;
                tl_status rc;

                if (!d) {
                        fprintf(stderr, "tally rules check: out of memory\n");
                        return CLI_EXIT_RUNTIME;
                }
                rc = rate_catalog_set_load(argv[i], &set, d, &err);
                if (rc) {
                        for (size_t k = 0; k < d->count; k++)
                                fprintf(stderr, "%s\n", d->msg[k]);
                        if (d->count == 0)
                                fprintf(stderr, "%s\n", err.msg);
                        if (d->dropped)
                                fprintf(stderr, "... and %zu more\n",
                                        d->dropped);
                        if (tl_status_exit_code(rc) != CLI_EXIT_USAGE) {
                                tl_free(d);
                                return CLI_EXIT_RUNTIME;
                        }
                        bad++;
                } else {
                        for (size_t k = 0; k < set->count; k++) {
                                const struct rate_catalog *c = set->catalogs[k];

                                printf("%s: ok: catalog %s version %s, %zu "
                                       "meters, %zu plans, %zu experiments, "
                                       "sha256 %.12s\n",
                                       c->path, c->name, c->version,
                                       c->meter_count, c->plan_count,
                                       c->experiment_count, c->sha256_hex);
                        }
                        rate_catalog_set_free(&set);
                }
                tl_free(d);
        }
        if (bad)
                return CLI_EXIT_USAGE;
        return CLI_EXIT_OK;
}

static int diff(const struct cli_command *cmd, int argc, char **argv)
{
        struct rate_catalog *a = NULL, *b = NULL;
        struct rate_diags d;
        struct tl_error err;
        tl_status rc;
        size_t changes;

        if (argc != 2)
                return cli_usage_error(cmd, "diff takes OLD and NEW");
        memset(&d, 0, sizeof d);
        rc = rate_catalog_load_file(argv[0], &a, &d, &err);
        if (!rc)
                rc = rate_catalog_load_file(argv[1], &b, &d, &err);
        if (rc) {
                for (size_t k = 0; k < d.count; k++)
                        fprintf(stderr, "%s\n", d.msg[k]);
                rate_catalog_free(&a);
                return tl_status_exit_code(rc);
        }
        changes = cli_rules_diff(a, b, stdout);
        if (changes == 0)
                printf("no pricing changes\n");
        rate_catalog_free(&a);
        rate_catalog_free(&b);
        return CLI_EXIT_OK;
}

int cli_rules_main(int argc, char **argv)
{
        const struct cli_command *cmd = cli_find("rules");

        if (argc < 2)
                return cli_usage_error(cmd, "missing subcommand (check, diff)");
        if (strcmp(argv[1], "check") == 0) {
                if (argc < 3)
                        return cli_usage_error(cmd, "check needs a PATH");
                return check(argc - 2, argv + 2);
        }
        if (strcmp(argv[1], "diff") == 0)
                return diff(cmd, argc - 2, argv + 2);
        if (strcmp(argv[1], "simulate") == 0)
                return cli_rules_simulate(argc - 1, argv + 1);
        return cli_usage_error(cmd, "unknown subcommand '%s'", argv[1]);
}
