/* The meter's /healthz keeps answering, quickly, while 1,100 slow clients
   hold connections open by sending one header byte a second. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "meterkit.h"
#include "slowloris.h"

TK_INTEGRATION_PRE_ALL()
TK_INTEGRATION_POST_ALL()

#define SLOW 1100
#define PROBE_MS 10000
#define MAX_PROBES 200

static double now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Wait until 'fd' is ready for 'ev' or the deadline passes. */
static int ready(int fd, short ev, double deadline)
{
        struct pollfd p = {fd, ev, 0};
        int left = (int)(deadline - now_ms());

        return left > 0 && poll(&p, 1, left) == 1;
}

/* GET /healthz on 'host' (numeric, IPv4 or IPv6) the way a supervisor
   does, giving up after one second; the HTTP status, or -1 when refused,
   closed early or too slow. */
static int probe_on(const char *host, int port)
{
        struct sockaddr_in6 a6 = {.sin6_family = AF_INET6};
        struct sockaddr_in a4 = {.sin_family = AF_INET};
        bool v6 = strchr(host, ':') != NULL;
        const char req[] = "GET /healthz HTTP/1.0\r\nHost: localhost\r\n\r\n";
        char buf[1024];
        size_t len = 0;
        double deadline = now_ms() + 1000;
        int fd =
                socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0),
            status = -1;
        ssize_t n;

        a6.sin6_port = a4.sin_port = htons((uint16_t)port);
        if (fd < 0 || inet_pton(AF_INET6, host, &a6.sin6_addr) +
                              inet_pton(AF_INET, host, &a4.sin_addr) !=
                          1) {
                if (fd >= 0)
                        close(fd);
                return -1;
        }
        if ((connect(fd, v6 ? (struct sockaddr *)&a6 : (struct sockaddr *)&a4,
                     v6 ? sizeof a6 : sizeof a4) &&
             (errno != EINPROGRESS || !ready(fd, POLLOUT, deadline))) ||
            send(fd, req, sizeof req - 1, MSG_NOSIGNAL) !=
                (ssize_t)sizeof req - 1) {
                close(fd);
                return -1;
        }
        while (len + 1 < sizeof buf && ready(fd, POLLIN, deadline) &&
               (n = recv(fd, buf + len, sizeof buf - len - 1, 0)) > 0)
                len += (size_t)n;
        buf[len] = '\0';
        close(fd);
        if (len == 0 || !strstr(buf, "\r\n\r\nok\n"))
                return -1;
        sscanf(buf, "HTTP/1.%*d %d", &status);
        return status;
}

static int probe(int port)
{
        return probe_on("127.0.0.1", port);
}

/* Start the meter on 'addr' and wait until /healthz on 'host' says ok. */
static pid_t healthy_meter(struct mk_case *c, const char *addr,
                           const char *host, int port)
{
        const char *extra[] = {"--http", addr, NULL};
        pid_t m = mk_meter_spawn(c, extra);
        int status = -1;

        for (int i = 0; i < 300 && status != 200; i++) {
                status = probe_on(host, port);
                if (status != 200)
                        mk_sleep_ms(50);
        }
        cr_assert_eq(status, 200, "the meter never became healthy (see %s)",
                     mk_meter_log());
        return m;
}

static int by_value(const void *a, const void *b)
{
        double x = *(const double *)a, y = *(const double *)b;

        return (x > y) - (x < y);
}

Test(slow_clients,
     healthz_answers_every_probe_within_50ms_under_1100_slow_clients,
     .timeout = 90)
{
        static double lat[MAX_PROBES];
        struct tk_slowloris *slow = NULL;
        struct tk_slowloris_report r;
        struct mk_case c;
        char addr[64];
        int port = mk_free_port(), probes = 0, failed = 0;
        long nofile = tk_raise_nofile(SLOW + 256);
        double end, p99;
        pid_t m;

        cr_assert_geq(nofile, SLOW + 64,
                      "RLIMIT_NOFILE allows %ld descriptors; the test needs "
                      "%d (raise the hard limit)",
                      nofile, SLOW + 64);
        mk_case_start(&c, "slow_clients", 1, 1);
        snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
        m = healthy_meter(&c, addr, "127.0.0.1", port);

        cr_assert_eq(tk_slowloris_start(&slow, "127.0.0.1", port, SLOW,
                                        PROBE_MS / 1000 + 2, 5000),
                     0);
        end = now_ms() + PROBE_MS;
        while (now_ms() < end && probes < MAX_PROBES) {
                double t0 = now_ms();

                failed += probe(port) != 200;
                lat[probes++] = now_ms() - t0;
                mk_sleep_ms(100);
        }
        tk_slowloris_stop(&slow, &r);
        kill(m, SIGTERM);
        cr_expect_eq(mk_wait(m, 30000), 0, "meter exit after SIGTERM");
        mk_case_stop(&c);

        qsort(lat, (size_t)probes, sizeof *lat, by_value);
        p99 = lat[(probes * 99 + 99) / 100 - 1];
        fprintf(stderr,
                "slow clients: %d wanted, %d refused, %d closed, %d open, "
                "%ld bytes sent; /healthz: %d probes, %d failed, p50 %.1f ms, "
                "p99 %.1f ms, max %.1f ms\n",
                r.wanted, r.refused, r.closed, r.open, r.sent, probes, failed,
                lat[probes / 2], p99, lat[probes - 1]);
        /* Otherwise the probes proved nothing: the load was not there. */
        cr_expect_geq(r.open, 1000,
                      "only %d slow clients held on (%d refused, %d closed)",
                      r.open, r.refused, r.closed);
        cr_expect_eq(failed, 0, "%d of %d /healthz probes failed", failed,
                     probes);
        cr_expect_lt(p99, TK_LATENCY_MS(50.0),
                     "p99 /healthz latency %.1f ms (bound %.0f ms)", p99,
                     TK_LATENCY_MS(50.0));
}

Test(slow_clients, an_empty_host_listens_on_ipv6_and_ipv4, .timeout = 60)
{
        struct mk_case c;
        char addr[64];
        int port = mk_free_port();
        pid_t m;

        mk_case_start(&c, "http_dual_stack", 1, 1);
        snprintf(addr, sizeof addr, ":%d", port);
        m = healthy_meter(&c, addr, "::1", port);
        cr_expect_eq(probe_on("127.0.0.1", port), 200, "IPv4 on %s", addr);
        kill(m, SIGTERM);
        cr_expect_eq(mk_wait(m, 30000), 0, "meter exit after SIGTERM");
        mk_case_stop(&c);
}
