/* Helpers of the `tally serve` suites (serve_kit.h). */
#include "serve_kit.h"

#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <criterion/criterion.h>

void sk_paths(struct sk_serve *s, struct mk_case *c)
{
        memset(s, 0, sizeof *s);
        snprintf(s->worked, sizeof s->worked, "%s/tests/rating/worked",
                 tk_source_dir());
        snprintf(s->customers, sizeof s->customers, "%s/customers.yaml",
                 s->worked);
        snprintf(s->catalog, sizeof s->catalog, "%s/rules", c->dir);
        mk_sh("mkdir -p '%s' && cp '%s/catalog.yaml' '%s/'", s->catalog,
              s->worked, s->catalog);
}

void sk_spawn(struct sk_serve *s, struct mk_case *c, const char *const *extra)
{
        static int count;
        char http[96];
        const char *argv[40];
        int n = 0;

        s->port = mk_free_port();
        snprintf(http, sizeof http, "%s:%d",
                 s->http_host ? s->http_host : "127.0.0.1", s->port);
        snprintf(s->log, sizeof s->log, "%s/serve-%d.log", c->dir, ++count);
        argv[n++] = tk_tally_bin();
        argv[n++] = "serve";
        argv[n++] = "--http";
        argv[n++] = http;
        argv[n++] = "--rules";
        argv[n++] = s->catalog;
        argv[n++] = "--brokers";
        argv[n++] = c->broker.bootstrap;
        argv[n++] = "--topic";
        argv[n++] = c->name;
        for (int i = 0; extra && extra[i] && n < 39; i++)
                argv[n++] = extra[i];
        argv[n] = NULL;
        s->pid = fork();
        if (s->pid == 0) {
                int fd = open(s->log, O_WRONLY | O_CREAT | O_APPEND, 0644);

                prctl(PR_SET_PDEATHSIG, SIGKILL);
                if (fd >= 0) {
                        dup2(fd, 1);
                        dup2(fd, 2);
                }
                execv(argv[0], (char *const *)argv);
                _exit(127);
        }
        cr_assert_gt(s->pid, 0);
}

void sk_start_with(struct sk_serve *s, struct mk_case *c,
                   const char *const *extra)
{
        sk_spawn(s, c, extra);
        for (int i = 0; i < 400; i++) {
                struct tk_http_resp r;
                int st = tk_http("127.0.0.1", s->port, "GET", "/healthz", NULL,
                                 "", 0, &r);

                tk_http_resp_release(&r);
                if (st == 200)
                        return;
                mk_sleep_ms(50);
        }
        cr_assert_fail("tally serve did not answer /healthz (log %s)", s->log);
}

void sk_start(struct sk_serve *s, struct mk_case *c)
{
        sk_start_with(s, c, NULL);
}

void sk_stop(struct sk_serve *s)
{
        if (s->pid <= 0)
                return;
        kill(s->pid, SIGTERM);
        cr_expect_eq(mk_wait(s->pid, 20000), 0, "tally serve exit (log %s)",
                     s->log);
        s->pid = 0;
}

static void run(struct tk_proc_result *r, const char *first, va_list ap)
{
        const char *argv[40];
        int n = 0;

        argv[n++] = tk_tally_bin();
        argv[n++] = first;
        while (n < 39 && (argv[n] = va_arg(ap, const char *)) != NULL)
                n++;
        argv[n] = NULL;
        cr_assert_eq(tk_run(argv, 120000, r), 0, "tally did not finish");
}

void sk_tally_ok(const char *arg, ...)
{
        struct tk_proc_result r;
        va_list ap;

        va_start(ap, arg);
        run(&r, arg, ap);
        va_end(ap);
        cr_assert_eq(r.exit_code, 0, "tally %s: exit %d: %s %s", arg,
                     r.exit_code, r.out, r.err);
        tk_proc_result_release(&r);
}

void sk_key(char *out, const char *scope, const char *name, const char *expires)
{
        const char *argv[12] = {tk_tally_bin(), "keys",   "create", "--scope",
                                scope,          "--name", name};
        struct tk_proc_result r;
        int n = 7;

        if (expires) {
                argv[n++] = "--expires";
                argv[n++] = expires;
        }
        argv[n] = NULL;
        cr_assert_eq(tk_run(argv, 60000, &r), 0);
        cr_assert_eq(r.exit_code, 0, "keys create: %s", r.err);
        cr_assert_eq(sscanf(r.out, "%127s", out), 1, "%s", r.out);
        tk_proc_result_release(&r);
}
