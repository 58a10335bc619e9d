/* The meter's HTTP answers: a usage request without a catalog gets a JSON
   error body that jansson reads. */
#include <signal.h>
#include <string.h>

#include <criterion/criterion.h>
#include <jansson.h>

#include "meterkit.h"

TK_INTEGRATION_PRE_ALL()
TK_INTEGRATION_POST_ALL()

Test(http, usage_without_a_catalog_is_503_with_a_json_error, .timeout = 120)
{
        static char body[4096];
        struct mk_case c;
        char addr[64];
        int port = mk_free_port(), status = 0;
        const char *extra[] = {"--http", addr, NULL};
        json_error_t je;
        json_t *doc;
        pid_t m;

        mk_case_start(&c, "http_json", 1, 1);
        snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
        m = mk_meter_spawn(&c, extra);
        for (int i = 0; i < 300 && status <= 0; i++) {
                status = mk_http_get(port, "/v1/customers/cust_0042/usage",
                                     body, sizeof body);
                if (status <= 0)
                        mk_sleep_ms(50);
        }
        cr_assert_eq(status, 503, "%d: %s", status, body);
        doc = json_loads(body, 0, &je);
        cr_assert(doc, "%s: %s", je.text, body);
        cr_expect_str_eq(json_string_value(json_object_get(doc, "error")),
                         "no catalog: start the meter with meter.rules and "
                         "meter.customers");
        cr_expect_eq(json_object_size(doc), 1);
        cr_expect_eq(body[strlen(body) - 1], '\n');
        json_decref(doc);
        kill(m, SIGTERM);
        cr_expect_eq(mk_wait(m, 30000), 0);
        mk_case_stop(&c);
}
