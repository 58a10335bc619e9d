/* tally serve: the HTTP API (docs/api.md) until SIGTERM; SIGHUP reloads the
   catalogs. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "api/api.h"
#include "cli.h"
#include "core/alloc.h"
#include "core/log.h"
#include "inference/emit.h"
#include "schemas/db.h"

#define MAX_PROPS 64

struct serve_args {
        const char *config, *http, *rules, *brokers, *topic;
        const char *props[MAX_PROPS];
        size_t prop_count;
        struct cli_kafka kafka;
};

static int on_option(const struct cli_command *cmd, int ch, char *value,
                     void *ctx)
{
        struct serve_args *a = ctx;

        (void)cmd;
        if (ch == 'c')
                a->config = value;
        else if (ch == 'H')
                a->http = value;
        else if (ch == 'r')
                a->rules = value;
        else if (ch == 'b')
                a->brokers = value;
        else
                a->topic = value;
        return 0;
}

static int fail(tl_status rc, const struct tl_error *e)
{
        fprintf(stderr, "tally serve: %s\n", e->msg);
        return tl_status_exit_code(rc);
}

/* Blocks the stop and reload signals, so sigwait takes them in order. */
static void wait_loop(struct api_server *s)
{
        sigset_t set;
        int sig = 0;

        sigemptyset(&set);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGINT);
        sigaddset(&set, SIGHUP);
        for (;;) {
                if (sigwait(&set, &sig))
                        continue;
                if (sig != SIGHUP)
                        break;
                tl_log(TL_LOG_INFO, "api", "SIGHUP received",
                       "action=reload_catalogs");
                api_server_reload(s);
        }
        tl_log(TL_LOG_INFO, "api", "stopping", "signal=%d", sig);
}

static tl_status start(struct serve_args *a, struct api_config *ac,
                       struct inv_config *ic, struct api_ingest **in,
                       struct api_server **srv, struct tl_error *e)
{
        struct api_ingest_config k = {a->brokers, a->topic, a->props,
                                      a->prop_count, 0};
        PGconn *db = NULL;
        tl_status rc = inv_config_load(ic, a->config, e);

        if (!rc)
                rc = api_config_load(ac, a->config, e);
        if (!rc && a->http) {
                tl_free(ac->http);
                ac->http = tl_strdup(a->http);
        }
        if (!rc && a->rules) {
                tl_free(ac->rules);
                ac->rules = tl_strdup(a->rules);
        }
        /* The schema is brought up to date once, before any request. */
        if (!rc)
                rc = sch_db_connect(&db, e);
        if (!rc)
                rc = sch_db_migrate(db, NULL, e);
        PQfinish(db);
        if (!rc && a->brokers && *a->brokers)
                rc = api_ingest_new(&k, in, e);
        if (!rc)
                rc = api_server_new(ac, ic, *in, srv, e);
        return rc;
}

int cli_serve_main(int argc, char **argv)
{
        static const struct option OPTS[] = {
            {"config", required_argument, NULL, 'c'},
            {"http", required_argument, NULL, 'H'},
            {"rules", required_argument, NULL, 'r'},
            {"brokers", required_argument, NULL, 'b'},
            {"topic", required_argument, NULL, 't'},
            {NULL, 0, NULL, 0},
        };
        const struct cli_command *cmd = cli_find("serve");
        struct cli_options spec = {OPTS, NULL, on_option, false};
        struct serve_args a;
        struct api_config ac;
        struct inv_config ic;
        struct api_ingest *in = NULL;
        struct api_server *srv = NULL;
        struct tl_error e = {TL_OK, ""};
        sigset_t set;
        tl_status rc;
        int x;

        memset(&a, 0, sizeof a);
        x = cli_parse_options(cmd, argc, argv, &spec, &a, NULL);
        if (!x)
                x = cli_kafka_load(cmd, a.config, &a.kafka, &a.brokers,
                                   &a.topic, a.props, &a.prop_count, MAX_PROPS);
        if (x) {
                cli_kafka_release(&a.kafka);
                return x;
        }
        if (!a.topic)
                a.topic = INF_DEFAULT_TOPIC; /* the meter's default */
        /* Before any thread starts: every thread inherits the mask, and
           the loop below takes the signals with sigwait. */
        sigemptyset(&set);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGINT);
        sigaddset(&set, SIGHUP);
        pthread_sigmask(SIG_BLOCK, &set, NULL);
        signal(SIGPIPE, SIG_IGN);
        api_config_init(&ac);
        inv_config_init(&ic);
        rc = start(&a, &ac, &ic, &in, &srv, &e);
        if (!rc) {
                printf("tally serve: listening on port %u\n",
                       (unsigned)api_server_port(srv));
                fflush(stdout);
                wait_loop(srv);
        }
        api_server_free(&srv);
        api_ingest_free(&in);
        api_config_release(&ac);
        inv_config_release(&ic);
        cli_kafka_release(&a.kafka);
        return rc ? fail(rc, &e) : CLI_EXIT_OK;
}
