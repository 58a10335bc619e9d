/* tally: the single binary; dispatches git-style to its subcommands. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#if defined(__SANITIZE_ADDRESS__)
/*
** Sanitized builds only: fontconfig (under cairo's text, for invoice PDFs)
** parses its configuration once per process and keeps it until FcFini,
** which cairo never calls; LeakSanitizer would report it at every exit.
** Allocations made inside libfontconfig are not reported; the test suite
** checks the renderer's own objects separately (tests/invoicing).
*/
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
        return "leak:libfontconfig.so\n";
}
#endif

static void print_overview(FILE *out)
{
        fprintf(out, "usage: tally <command> [options]\n\n"
                     "Usage metering and billing for AI inference.\n\n"
                     "Commands:\n");
        for (unsigned i = 0; i < cli_command_count; i++) {
                const struct cli_command *c = &cli_commands[i];
                fprintf(out, "  %-10s %s%s\n", c->name, c->summary,
                        c->run ? "" : " (not built yet)");
        }
        fprintf(out, "\nRun 'tally help <command>' or 'tally <command> "
                     "--help' for a command's options.\n");
}

const struct cli_command *cli_find(const char *name)
{
        for (unsigned i = 0; i < cli_command_count; i++)
                if (strcmp(cli_commands[i].name, name) == 0)
                        return &cli_commands[i];
        return NULL;
}

void cli_print_usage(const struct cli_command *cmd, FILE *out)
{
        fputs(cmd->usage, out);
        if (!cmd->run)
                fprintf(out, "\nNot built yet: needs %s.\n", cmd->needs);
}

int cli_usage_error(const struct cli_command *cmd, const char *fmt, ...)
{
        va_list ap;

        fprintf(stderr, "tally %s: ", cmd->name);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fprintf(stderr, "\nRun 'tally %s --help' for usage.\n", cmd->name);
        return CLI_EXIT_USAGE;
}

int cli_parse_long(const struct cli_command *cmd, const char *opt,
                   const char *text, long min, long max, long *out)
{
        char *end;
        long v;

        if (!text || !*text)
                return cli_usage_error(cmd, "%s needs a number", opt);
        v = strtol(text, &end, 10);
        if (*end || v < min || v > max)
                return cli_usage_error(cmd,
                                       "%s: '%s' is not a whole number "
                                       "from %ld to %ld",
                                       opt, text, min, max);
        *out = v;
        return 0;
}

static int wants_help(int argc, char **argv)
{
        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "--") == 0)
                        return 0;
                if (strcmp(argv[i], "--help") == 0 ||
                    strcmp(argv[i], "-h") == 0)
                        return 1;
        }
        return 0;
}

static int run_help(int argc, char **argv)
{
        const struct cli_command *cmd;

        if (argc < 2) {
                print_overview(stdout);
                return CLI_EXIT_OK;
        }
        cmd = cli_find(argv[1]);
        if (!cmd) {
                fprintf(stderr,
                        "tally help: '%s' is not a tally command. "
                        "See 'tally help'.\n",
                        argv[1]);
                return CLI_EXIT_USAGE;
        }
        cli_print_usage(cmd, stdout);
        return CLI_EXIT_OK;
}

int main(int argc, char **argv)
{
        const struct cli_command *cmd;

        if (argc < 2) {
                print_overview(stderr);
                return CLI_EXIT_USAGE;
        }
        if (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0 ||
            strcmp(argv[1], "-h") == 0)
                return run_help(argc - 1, argv + 1);
        if (strcmp(argv[1], "--version") == 0) {
                printf("tally %s\n", TALLY_VERSION);
                return CLI_EXIT_OK;
        }
        cmd = cli_find(argv[1]);
        if (!cmd) {
                fprintf(stderr,
                        "tally: '%s' is not a tally command. "
                        "See 'tally help'.\n",
                        argv[1]);
                return CLI_EXIT_USAGE;
        }
        if (wants_help(argc - 1, argv + 1)) {
                cli_print_usage(cmd, stdout);
                return CLI_EXIT_OK;
        }
        if (!cmd->run) {
                fprintf(stderr,
                        "tally %s: not built yet: needs %s. Built so far: "
                        "%s.\n",
                        cmd->name, cmd->needs, TALLY_BUILT_PARTS);
                return CLI_EXIT_RUNTIME;
        }
        return cmd->run(argc - 1, argv + 1);
}
