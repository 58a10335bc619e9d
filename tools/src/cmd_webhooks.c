/* tally webhooks add|list|remove|deliveries|retry: webhook endpoints and
   their delivery log (controls.md). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "api/webhooks.h"
#include "cli.h"
#include "core/config.h"
#include "invoicing/invoicing.h"
#include "schemas/db.h"

const char cli_webhooks_usage[] =
    "usage: tally webhooks add URL --events LIST\n"
    "       tally webhooks list\n"
    "       tally webhooks remove ID\n"
    "       tally webhooks deliveries [--status S] [--endpoint ID] [--limit "
    "N]\n"
    "       tally webhooks retry DELIVERY\n"
    "       (each also takes [--config FILE])\n\n"
    "add         registers an http(s) endpoint; prints its signing secret\n"
    "            alone on the first line of stdout (it signs every delivery:\n"
    "            Tally-Signature: t=<unix>,v1=<HMAC-SHA256 hex>)\n"
    "list        the live endpoints: id, url, events, created; no secret\n"
    "remove      nothing more is sent to it; its pending deliveries fail\n"
    "deliveries  the delivery log, newest first (default 100 rows)\n"
    "retry       a failed delivery is tried again, with a new retry window\n\n"
    "  --events LIST  comma-separated: alert.triggered, limit.reached,\n"
    "                 balance.low, invoice.finalized, invoice.interim,\n"
    "                 invoice.voided, credit_note.issued, or *\n"
    "  --status S     pending, delivered or failed\n";

enum { O_CONFIG = 1000, O_EVENTS, O_STATUS, O_ENDPOINT, O_LIMIT };

struct opts {
        const char *sub, *config, *events, *status, *endpoint, *limit;
};

static int on_option(const struct cli_command *cmd, int key, char *value,
                     void *ctx)
{
        struct opts *o = ctx;
        bool add = !strcmp(o->sub, "add");
        bool log = !strcmp(o->sub, "deliveries");

        if (key == O_CONFIG)
                o->config = value;
        else if (key == O_EVENTS && add)
                o->events = value;
        else if (key == O_STATUS && log)
                o->status = value;
        else if (key == O_ENDPOINT && log)
                o->endpoint = value;
        else if (key == O_LIMIT && log)
                o->limit = value;
        else
                return cli_usage_error(cmd, "--events is add's; --status, "
                                            "--endpoint and --limit are "
                                            "deliveries'");
        return 0;
}

static int add(const struct cli_command *cmd, const struct opts *o,
               const char *url)
{
        char id[API_WH_ID_LEN + 1], secret[API_WH_SECRET_LEN + 1];
        struct tl_error e = {0};
        PGconn *conn = NULL;
        tl_status rc;
        int x;

        if (!o->events)
                return cli_usage_error(cmd, "webhooks add needs --events "
                                            "LIST (or --events '*')");
        /* Checked before connecting: a typo should not need a database. */
        if (api_webhooks_check_url(url, &e) ||
            api_webhooks_check_events(o->events, &e))
                return cli_usage_error(cmd, "%s", e.msg);
        if ((x = cli_connect_db(cmd, o->config, &conn)) != 0)
                return x;
        rc = api_webhooks_add(conn, url, o->events, id, secret, &e);
        PQfinish(conn);
        if (rc) {
                fprintf(stderr, "tally webhooks add: %s\n", e.msg);
                return tl_status_exit_code(rc);
        }
        printf("%s\n", secret);
        fflush(stdout);
        OPENSSL_cleanse(secret, sizeof secret);
        fprintf(stderr,
                "added webhook endpoint %s for %s; the secret above signs "
                "its deliveries and is stored to sign them (keep it)\n",
                id, o->events);
        return CLI_EXIT_OK;
}

/* list, remove, deliveries and retry: one call, its table to stdout. */
static int run(const struct cli_command *cmd, const struct opts *o,
               const char *arg)
{
        struct tl_buf out;
        struct tl_error e = {0};
        PGconn *conn = NULL;
        long limit = 100;
        tl_status rc;
        int x;

        if (o->limit && (tl_conf_parse_long(o->limit, 1, 100000, &limit, &e)))
                return cli_usage_error(cmd, "--limit: %s", e.msg);
        if ((x = cli_connect_db(cmd, o->config, &conn)) != 0)
                return x;
        tl_buf_init(&out, 0);
        if (!strcmp(o->sub, "list"))
                rc = api_webhooks_list(conn, &out, &e);
        else if (!strcmp(o->sub, "remove"))
                rc = api_webhooks_remove(conn, arg, &e);
        else if (!strcmp(o->sub, "retry"))
                rc = api_webhooks_retry(conn, arg, &e);
        else
                rc = api_webhooks_deliveries(conn, o->status, o->endpoint,
                                             limit, &out, &e);
        PQfinish(conn);
        if (!rc && out.len)
                fwrite(out.data, 1, out.len, stdout);
        tl_buf_release(&out);
        if (rc) {
                fprintf(stderr, "tally webhooks %s: %s\n", o->sub, e.msg);
                return tl_status_exit_code(rc);
        }
        if (arg)
                fprintf(stderr, "%s %s\n",
                        !strcmp(o->sub, "remove") ? "removed endpoint"
                                                  : "retrying delivery",
                        arg);
        return CLI_EXIT_OK;
}

int cli_webhooks_main(int argc, char **argv)
{
        static const struct option table[] = {
            {"config", required_argument, NULL, O_CONFIG},
            {"events", required_argument, NULL, O_EVENTS},
            {"status", required_argument, NULL, O_STATUS},
            {"endpoint", required_argument, NULL, O_ENDPOINT},
            {"limit", required_argument, NULL, O_LIMIT},
            {NULL, 0, NULL, 0},
        };
        static const char *const SUBS[] = {"add",        "list",  "remove",
                                           "deliveries", "retry", NULL};
        const struct cli_command *cmd = cli_find("webhooks");
        struct cli_options spec = {table, NULL, on_option, false};
        struct opts o = {0};
        bool known = false, one;
        int first, x, operands;

        if (argc < 2)
                return cli_usage_error(cmd, "missing subcommand (add, list, "
                                            "remove, deliveries or retry)");
        for (int i = 0; SUBS[i]; i++)
                known = known || !strcmp(argv[1], SUBS[i]);
        if (!known)
                return cli_usage_error(cmd, "unknown subcommand '%s'", argv[1]);
        o.sub = argv[1];
        if ((x = cli_parse_options(cmd, argc - 1, argv + 1, &spec, &o,
                                   &first)) != 0)
                return x;
        operands = argc - 1 - first;
        one = !strcmp(o.sub, "add") || !strcmp(o.sub, "remove") ||
              !strcmp(o.sub, "retry");
        if (one && operands != 1)
                return cli_usage_error(cmd, "webhooks %s needs one %s", o.sub,
                                       !strcmp(o.sub, "add") ? "URL"
                                       : !strcmp(o.sub, "remove")
                                           ? "endpoint ID"
                                           : "DELIVERY number");
        if (!one && operands > 0)
                return cli_usage_error(cmd, "unexpected argument '%s'",
                                       argv[1 + first]);
        if (!strcmp(o.sub, "add"))
                return add(cmd, &o, argv[1 + first]);
        return run(cmd, &o, one ? argv[1 + first] : NULL);
}
