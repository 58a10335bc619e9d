/* The meter's HTTP answers: /healthz and /metrics, and nothing that prices
   (cost to date is `tally serve`'s). */
#include <signal.h>
#include <string.h>

#include <criterion/criterion.h>

#include "meterkit.h"

TK_INTEGRATION_PRE_ALL()
TK_INTEGRATION_POST_ALL()

Test(http, serves_health_and_metrics_but_no_usage_route, .timeout = 120)
{
        static char body[1 << 16];
        struct mk_case c;
        char addr[64];
        int port = mk_free_port(), status = 0;
        const char *extra[] = {"--http", addr, NULL};
        pid_t m;

        mk_case_start(&c, "http_routes", 1, 1);
        snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
        m = mk_meter_spawn(&c, extra);
        for (int i = 0; i < 300 && status != 200; i++) {
                status = mk_http_get(port, "/healthz", body, sizeof body);
                if (status != 200)
                        mk_sleep_ms(50);
        }
        cr_assert_eq(status, 200, "%d: %s", status, body);
        cr_expect_str_eq(body, "ok\n");
        cr_assert_eq(mk_http_get(port, "/metrics", body, sizeof body), 200);
        cr_expect(strstr(body, "\ntally_meter_stored_total "), "%s", body);
        cr_expect_null(strstr(body, "catalog"), "the meter loads no catalog");
        status = mk_http_get(port, "/v1/customers/cust_0042/usage", body,
                             sizeof body);
        cr_expect_eq(status, 404, "%d: %s", status, body);
        cr_expect_str_eq(body, "not found\n");
        kill(m, SIGTERM);
        cr_expect_eq(mk_wait(m, 30000), 0);
        mk_case_stop(&c);
}
