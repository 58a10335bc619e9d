/* tally keys create|list|revoke: the API keys of `tally serve`. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "api/keys.h"
#include "cli.h"
#include "core/time.h"
#include "invoicing/invoicing.h"
#include "schemas/db.h"

enum { O_CONFIG = 1000, O_SCOPE, O_NAME, O_EXPIRES };

struct opts {
        const char *config, *scope, *name, *expires;
        bool create; /* --scope, --name and --expires are create's alone */
};

static int on_option(const struct cli_command *cmd, int key, char *value,
                     void *ctx)
{
        struct opts *o = ctx;

        if (key != O_CONFIG && !o->create)
                return cli_usage_error(cmd, "only 'keys create' takes "
                                            "--scope, --name and --expires");
        switch (key) {
        case O_CONFIG:
                o->config = value;
                break;
        case O_SCOPE:
                o->scope = value;
                break;
        case O_NAME:
                o->name = value;
                break;
        case O_EXPIRES:
                o->expires = value;
                break;
        }
        return 0;
}

/* argv[0] is the subcommand; '*first' gets the index of its first operand. */
static int parse(const struct cli_command *cmd, int argc, char **argv,
                 struct opts *o, int *first)
{
        static const struct option table[] = {
            {"config", required_argument, NULL, O_CONFIG},
            {"scope", required_argument, NULL, O_SCOPE},
            {"name", required_argument, NULL, O_NAME},
            {"expires", required_argument, NULL, O_EXPIRES},
            {NULL, 0, NULL, 0},
        };
        struct cli_options spec = {table, NULL, on_option, false};

        return cli_parse_options(cmd, argc, argv, &spec, o, first);
}

/*
** --expires: YYYY-MM-DD (the end of that day, UTC) or an RFC 3339 time.
** It must lie ahead: a key born expired is a typo.
*/
static int expiry(const struct cli_command *cmd, const char *text,
                  tl_time_us *out)
{
        struct tl_error e = {0};
        char t[40];
        size_t n = strlen(text);

        if (n == 10) {
                snprintf(t, sizeof t, "%sT23:59:59.999999Z", text);
                text = t;
                n = strlen(t);
        }
        if (tl_time_parse_rfc3339(text, n, out, &e))
                return cli_usage_error(cmd,
                                       "--expires: expected YYYY-MM-DD or an "
                                       "RFC 3339 time (%s)",
                                       e.msg);
        if (*out <= tl_time_now_us())
                return cli_usage_error(cmd, "--expires: already in the past");
        return 0;
}

int cli_connect_db(const struct cli_command *cmd, const char *config,
                   PGconn **conn)
{
        struct inv_config cfg;
        struct tl_error e = {0};
        tl_status rc;

        inv_config_init(&cfg);
        if (!config && access("tally.yaml", R_OK) == 0)
                config = "tally.yaml";
        rc = inv_config_load(&cfg, config, &e);
        inv_config_release(&cfg);
        if (!rc)
                rc = sch_db_connect(conn, &e);
        if (!rc)
                rc = sch_db_migrate(*conn, NULL, &e);
        if (rc) {
                PQfinish(*conn);
                *conn = NULL;
                fprintf(stderr, "tally %s: %s\n", cmd->name, e.msg);
                return tl_status_exit_code(rc);
        }
        return 0;
}

static int create(const struct cli_command *cmd, const struct opts *o)
{
        unsigned char rnd[8];
        char name[API_KEY_NAME_MAX + 1], key[API_KEY_LEN + 1], when[40];
        struct tl_error e = {0};
        struct api_principal p;
        tl_time_us expires = 0;
        PGconn *conn = NULL;
        tl_status rc;
        int x;

        if (!o->scope)
                return cli_usage_error(cmd, "keys create needs --scope "
                                            "admin|events:write|customer:<id>");
        /* Checked before connecting: a typo should not need a database. */
        if (api_scope_parse(o->scope, &p, &e))
                return cli_usage_error(cmd, "--scope: %s", e.msg);
        if (o->expires && (x = expiry(cmd, o->expires, &expires)) != 0)
                return x;
        if (o->name) {
                snprintf(name, sizeof name, "%s", o->name);
                if (strlen(o->name) >= sizeof name)
                        name[0] = '\0'; /* too long: refused below */
        } else {
                if (RAND_bytes(rnd, sizeof rnd) != 1) {
                        fprintf(stderr, "tally keys: no random bytes for a "
                                        "key name\n");
                        return CLI_EXIT_RUNTIME;
                }
                snprintf(name, sizeof name,
                         "key-%02x%02x%02x%02x%02x%02x%02x%02x", rnd[0], rnd[1],
                         rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
        }
        if ((x = cli_connect_db(cmd, o->config, &conn)) != 0)
                return x;
        rc = api_keys_create(conn, name, o->scope, expires, key, &e);
        PQfinish(conn);
        if (rc) {
                fprintf(stderr, "tally keys create: %s\n", e.msg);
                return tl_status_exit_code(rc);
        }
        printf("%s\n", key);
        fflush(stdout);
        OPENSSL_cleanse(key, sizeof key);
        if (expires)
                tl_time_format_rfc3339(expires, when, sizeof when);
        else
                snprintf(when, sizeof when, "never");
        fprintf(stderr,
                "created API key '%s' (scope %s, expires %s); it is shown "
                "only this once\n",
                name, o->scope, when);
        return CLI_EXIT_OK;
}

static int list(const struct cli_command *cmd, const struct opts *o)
{
        struct tl_buf out;
        struct tl_error e = {0};
        PGconn *conn = NULL;
        tl_status rc;
        int x;

        if ((x = cli_connect_db(cmd, o->config, &conn)) != 0)
                return x;
        tl_buf_init(&out, 0);
        rc = api_keys_list(conn, &out, &e);
        PQfinish(conn);
        if (!rc && out.len)
                fwrite(out.data, 1, out.len, stdout);
        tl_buf_release(&out);
        if (rc) {
                fprintf(stderr, "tally keys list: %s\n", e.msg);
                return tl_status_exit_code(rc);
        }
        return CLI_EXIT_OK;
}

static int revoke(const struct cli_command *cmd, const struct opts *o,
                  const char *name)
{
        struct tl_error e = {0};
        PGconn *conn = NULL;
        tl_status rc;
        int x;

        if ((x = cli_connect_db(cmd, o->config, &conn)) != 0)
                return x;
        rc = api_keys_revoke(conn, name, &e);
        PQfinish(conn);
        if (rc) {
                fprintf(stderr, "tally keys revoke: %s\n", e.msg);
                return tl_status_exit_code(rc);
        }
        fprintf(stderr, "revoked API key '%s'\n", name);
        return CLI_EXIT_OK;
}

int cli_keys_main(int argc, char **argv)
{
        const struct cli_command *cmd = cli_find("keys");
        struct opts o = {0};
        const char *sub;
        int first, x, operands;

        if (argc < 2)
                return cli_usage_error(cmd, "missing subcommand "
                                            "(create, list or revoke)");
        sub = argv[1];
        if (strcmp(sub, "create") && strcmp(sub, "list") &&
            strcmp(sub, "revoke"))
                return cli_usage_error(cmd, "unknown subcommand '%s'", sub);
        o.create = !strcmp(sub, "create");
        if ((x = parse(cmd, argc - 1, argv + 1, &o, &first)) != 0)
                return x;
        operands = argc - 1 - first;
        if (!strcmp(sub, "revoke")) {
                if (operands != 1)
                        return cli_usage_error(cmd, "keys revoke needs one "
                                                    "NAME");
                return revoke(cmd, &o, argv[1 + first]);
        }
        if (operands > 0)
                return cli_usage_error(cmd, "unexpected argument '%s'",
                                       argv[1 + first]);
        return o.create ? create(cmd, &o) : list(cmd, &o);
}
