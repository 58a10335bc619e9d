/* The one getopt_long loop of the subcommands, and its usage errors. */
#include <getopt.h>
#include <stdio.h>

#include "cli.h"

int cli_parse_options(const struct cli_command *cmd, int argc, char **argv,
                      const struct cli_options *spec, void *ctx, int *operands)
{
        char shorts[64];
        const char *q = spec->bare_names ? "" : "'";
        int ch, rc;

        /* A leading ':' makes getopt tell a missing value from an unknown
           option; opterr 0 keeps its own messages off stderr. */
        snprintf(shorts, sizeof shorts, ":%s",
                 spec->short_options ? spec->short_options : "");
        optind = 1;
        opterr = 0;
        while ((ch = getopt_long(argc, argv, shorts, spec->options, NULL)) !=
               -1) {
                if (ch == ':')
                        return cli_usage_error(cmd, "%s needs a value",
                                               argv[optind - 1]);
                if (ch == '?')
                        return cli_usage_error(cmd, "unknown option %s%s%s", q,
                                               argv[optind - 1], q);
                rc = spec->on_option(cmd, ch, optarg, ctx);
                if (rc)
                        return rc;
        }
        if (operands) {
                *operands = optind;
                return 0;
        }
        if (optind < argc)
                return cli_usage_error(cmd, "unexpected argument %s%s%s", q,
                                       argv[optind], q);
        return 0;
}
