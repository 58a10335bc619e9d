/* Internal interface between the tally dispatcher and its subcommands. */
#ifndef CLI_H
#define CLI_H

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>

#include "meter/meter.h"

/*
** One subcommand. 'run' is NULL while the part it needs is not built yet;
** 'needs' then names those parts, and the dispatcher says so and exits 1
** rather than pretend. 'usage' is the full `tally <cmd> --help` text.
*/
struct cli_command {
        const char *name;
        const char *summary;
        const char *usage;
        const char *needs;
        int (*run)(int argc, char **argv);
};

/* The table, in help order; defined in commands.c. */
extern const struct cli_command cli_commands[];
extern const unsigned cli_command_count;

/* Exit codes (docs/operations.md, "Configuration conventions"). */
enum { CLI_EXIT_OK = 0, CLI_EXIT_RUNTIME = 1, CLI_EXIT_USAGE = 2 };

const struct cli_command *cli_find(const char *name);

/* Print 'cmd's usage to 'out'. */
void cli_print_usage(const struct cli_command *cmd, FILE *out);

/*
** Report a usage error for 'cmd' on stderr ("tally broker: <message>",
** then a pointer to --help) and return CLI_EXIT_USAGE.
*/
int cli_usage_error(const struct cli_command *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
** Parse a decimal integer option value in [min, max] for option 'opt' of
** 'cmd'. Returns 0 and sets '*out', or reports a usage error and returns
** CLI_EXIT_USAGE.
*/
int cli_parse_long(const struct cli_command *cmd, const char *opt,
                   const char *text, long min, long max, long *out);

/*
** One subcommand's options, for cli_parse_options.
**   options        a getopt_long table ending in a zero row; each row's
**                  'val' is the key handed to 'on_option' (use 'flag' NULL)
**   short_options  getopt's short options without the leading ':' ("X:"),
**                  or NULL for none
**   on_option      called once per option in command-line order with its
**                  key and value (NULL for no_argument; a pointer into
**                  argv, which it may keep or modify); returns 0, or an exit
**                  code after reporting with cli_usage_error, which stops
**                  the parse and is returned as is
**   bare_names     print option names and operands in the errors without
**                  quotes (demo, infer and invoice always did)
*/
struct cli_options {
        const struct option *options;
        const char *short_options;
        int (*on_option)(const struct cli_command *cmd, int key, char *value,
                         void *ctx);
        bool bare_names;
};

/*
** Parse argv[1..argc-1] of 'cmd' (argv[0] is the command's name) with
** getopt_long, handing each option to 'spec->on_option' with 'ctx'.
** Reports "unknown option '--x'", "--x needs a value" and "unexpected
** argument 'y'" as usage errors. 'operands' NULL: any operand is an error;
** else '*operands' is set to the index of the first operand (getopt moves
** them after the options) and the caller checks their count. Returns 0,
** CLI_EXIT_USAGE, or what 'on_option' returned.
**
** Adopting it: move the switch of the loop into an on_option function over
** a context struct, keep the option table, delete the loop.
*/
int cli_parse_options(const struct cli_command *cmd, int argc, char **argv,
                      const struct cli_options *spec, void *ctx, int *operands);

/* A config file's Kafka section, kept for the strings it lends. */
struct cli_kafka {
        struct meter_config mc;
        char *props[METER_MAX_PROPS]; /* "key=value" of kafka.properties */
};

/*
** --config FILE of a Kafka client: read 'path' with meter_config_load, so
** the file and the environment over it (TALLY_KAFKA_BROKERS,
** TALLY_KAFKA_TOPICS) mean what they mean to `tally meter`, and fill what the
*flags left unset: '*brokers' when NULL
** or empty, '*topic' when NULL (the first of kafka.topics). The file's
** kafka.properties ("key=value") are inserted before the '*prop_count'
** -X ones in 'props' (room for 'max_props'), so -X wins. The strings are
** owned by 'k': cli_kafka_release it after the last use, also on failure
** (a zeroed 'k' may be released). 'path' NULL: nothing is read.
** Returns 0, or an exit code after printing the loader's
** "file:line:column: ..." message.
*/
int cli_kafka_load(const struct cli_command *cmd, const char *path,
                   struct cli_kafka *k, const char **brokers,
                   const char **topic, const char **props, size_t *prop_count,
                   size_t max_props);
void cli_kafka_release(struct cli_kafka *k);

/* Subcommand entry points. */
/* The config file's (or ./tally.yaml's) database section, then a migrated
   database into '*conn' (the caller's, PQfinish). 0, or an exit code after
   reporting "tally <cmd>: <message>" on stderr. */
struct pg_conn;
int cli_connect_db(const struct cli_command *cmd, const char *config,
                   struct pg_conn **conn);

int cli_broker_main(int argc, char **argv);
int cli_db_main(int argc, char **argv);
int cli_rules_main(int argc, char **argv);
int cli_rate_main(int argc, char **argv);
int cli_loadgen_main(int argc, char **argv);
int cli_meter_main(int argc, char **argv);
int cli_serve_main(int argc, char **argv);
int cli_customers_main(int argc, char **argv);
int cli_usage_main(int argc, char **argv);
int cli_invoice_main(int argc, char **argv);
int cli_infer_main(int argc, char **argv);
int cli_upload_main(int argc, char **argv);
int cli_demo_main(int argc, char **argv);
int cli_keys_main(int argc, char **argv);
int cli_webhooks_main(int argc, char **argv);
extern const char cli_webhooks_usage[]; /* its help, with it */
/* `tally invoice void|credit-note|mark-paid|show ...` with argv[0] the
   subcommand, and `tally invoice --overdue ...` (cmd_correct.c). */
int cli_invoice_correct(int argc, char **argv);
int cli_invoice_overdue(int argc, char **argv);
/* `tally rules simulate ...` with argv[0] = "simulate". */
int cli_rules_simulate(int argc, char **argv);

#endif
