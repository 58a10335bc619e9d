/* SIGHUP never stops a tally service: the meter reloads its catalog (or
   says there is none), the broker ignores it; SIGTERM still exits 0. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <criterion/criterion.h>

#include "meterkit.h"

TK_INTEGRATION_PRE_ALL()
TK_INTEGRATION_POST_ALL()

/* True while 'pid' has not exited (it is our child, so waitpid tells). */
static bool alive(pid_t pid)
{
        int status;

        return waitpid(pid, &status, WNOHANG) == 0;
}

/* Poll GET 'path' until it answers 200 or 'timeout_ms' passes. */
static bool serves(int port, const char *path, char *body, size_t size,
                   int timeout_ms)
{
        for (int waited = 0; waited <= timeout_ms; waited += 50) {
                if (mk_http_get(port, path, body, size) == 200)
                        return true;
                mk_sleep_ms(50);
        }
        return false;
}

/* The value of the counter 'name' in a Prometheus text, or -1. */
static long long counter(const char *text, const char *name)
{
        const char *p = text;
        size_t len = strlen(name);

        while ((p = strstr(p, name))) {
                if ((p == text || p[-1] == '\n') && p[len] == ' ')
                        return atoll(p + len + 1);
                p += len;
        }
        return -1;
}

static bool log_has(const char *path, const char *needle)
{
        static char buf[1 << 16];
        FILE *f = fopen(path, "r");
        size_t n;

        if (!f)
                return false;
        n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = '\0';
        return strstr(buf, needle) != NULL;
}

/* Start a meter serving HTTP on 'port' with 'extra' flags, wait for it. */
static pid_t start_meter(struct mk_case *c, int port, const char **extra)
{
        static char addr[64];
        char body[4096];
        const char *args[16] = {"--http", addr};
        pid_t m;
        int n = 2;

        snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
        for (; extra && *extra && n < 15; extra++)
                args[n++] = *extra;
        args[n] = NULL;
        m = mk_meter_spawn(c, args);
        cr_assert(serves(port, "/healthz", body, sizeof body, 30000),
                  "no /healthz (log %s)", mk_meter_log());
        return m;
}

Test(sighup, meter_without_catalog_logs_it_and_keeps_serving, .timeout = 120)
{
        struct mk_case c;
        char body[4096];
        int port = mk_free_port();
        pid_t m;

        mk_case_start(&c, "sighup_plain", 1, 1);
        m = start_meter(&c, port, NULL);
        cr_assert_eq(kill(m, SIGHUP), 0);
        mk_sleep_ms(500);
        cr_assert(alive(m), "tally meter died of SIGHUP");
        cr_assert(serves(port, "/healthz", body, sizeof body, 5000),
                  "no /healthz after SIGHUP");
        cr_assert(log_has(mk_meter_log(), "action=none"),
                  "no log line for SIGHUP in %s", mk_meter_log());
        cr_assert_eq(kill(m, SIGTERM), 0);
        cr_assert_eq(mk_wait(m, 30000), 0, "exit 0 after SIGTERM");
        mk_case_stop(&c);
}

Test(sighup, meter_reloads_its_catalog_at_once, .timeout = 120)
{
        struct mk_case c;
        static char body[1 << 16];
        char rules[600], cust[600];
        const char *extra[] = {"-X", rules, "-X", cust, NULL};
        const char *src = tk_source_dir();
        int port = mk_free_port();
        long long before, after = -1;
        pid_t m;

        mk_case_start(&c, "sighup_rules", 1, 1);
        snprintf(rules, sizeof rules,
                 "meter.rules=%s/tests/rating/worked/catalog.yaml", src);
        snprintf(cust, sizeof cust,
                 "meter.customers=%s/tests/rating/worked/customers.yaml", src);
        m = start_meter(&c, port, extra);
        cr_assert(serves(port, "/metrics", body, sizeof body, 5000));
        before = counter(body, "tally_meter_catalog_reloads_total");
        cr_assert_geq(before, 0, "no reload counter: %s", body);
        cr_assert_eq(kill(m, SIGHUP), 0);
        /* Nothing changed on disk, so only SIGHUP can publish a set. */
        for (int i = 0; i < 100 && after <= before; i++) {
                mk_sleep_ms(50);
                if (mk_http_get(port, "/metrics", body, sizeof body) == 200)
                        after =
                            counter(body, "tally_meter_catalog_reloads_total");
        }
        cr_assert(alive(m), "tally meter died of SIGHUP");
        cr_assert_eq(after, before + 1, "SIGHUP did not reload: %lld -> %lld",
                     before, after);
        cr_assert(serves(port, "/healthz", body, sizeof body, 5000));
        cr_assert_eq(kill(m, SIGTERM), 0);
        cr_assert_eq(mk_wait(m, 30000), 0, "exit 0 after SIGTERM");
        mk_case_stop(&c);
}

Test(sighup, broker_ignores_it_and_stops_on_sigterm, .timeout = 60)
{
        struct tk_broker b;
        struct tk_proc_result r;

        cr_assert_eq(tk_broker_start(&b, 1, NULL), 0);
        cr_assert_eq(kill(b.pid, SIGHUP), 0);
        mk_sleep_ms(300);
        cr_assert(alive(b.pid), "tally broker died of SIGHUP");
        const char *argv[] = {"/usr/bin/kcat", "-L", "-b", b.bootstrap, NULL};
        cr_assert_eq(tk_run(argv, 20000, &r), 0);
        cr_assert_eq(r.exit_code, 0, "broker not serving: %s", r.err);
        cr_assert(strstr(r.out, "1 brokers:"), "%s", r.out);
        tk_proc_result_release(&r);
        cr_assert_eq(tk_broker_stop(&b), 0, "exit 0 after SIGTERM");
}
