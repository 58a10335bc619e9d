/* SIGHUP never stops a tally service: the meter, which loads no catalog,
   logs it and runs on; the broker ignores it; SIGTERM still exits 0. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
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

/* Start a meter serving HTTP on 'port', wait for it. */
static pid_t start_meter(struct mk_case *c, int port)
{
        static char addr[64];
        char body[4096];
        const char *args[] = {"--http", addr, NULL};
        pid_t m;

        snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
        m = mk_meter_spawn(c, args);
        cr_assert(serves(port, "/healthz", body, sizeof body, 30000),
                  "no /healthz (log %s)", mk_meter_log());
        return m;
}

Test(sighup, meter_logs_it_and_keeps_serving, .timeout = 120)
{
        struct mk_case c;
        char body[4096];
        int port = mk_free_port();
        pid_t m;

        mk_case_start(&c, "sighup_plain", 1, 1);
        m = start_meter(&c, port);
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
