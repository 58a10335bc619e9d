/* logfmt lines: levels, quoting, sinks. */
#include <criterion/criterion.h>
#include <string.h>

#include "core/log.h"

static char last[4096];
static int lines;

static void capture(tl_log_level level, const char *line, void *ctx)
{
        (void)level;
        (void)ctx;
        snprintf(last, sizeof last, "%s", line);
        lines++;
}

Test(log, writes_logfmt_with_quoted_message_and_pairs)
{
        char q[64];

        tl_log_set_sink(capture, NULL);
        tl_log_set_level(TL_LOG_INFO);
        tl_log(TL_LOG_WARN, "meter", "batch stored", "events=%d topic=%s", 512,
               tl_log_quote("usage events", q, sizeof q));
        cr_assert(strstr(last, " level=warn comp=meter msg=\"batch stored\" "
                               "events=512 topic=\"usage events\""),
                  "%s", last);
        cr_assert_eq(strncmp(last, "ts=", 3), 0);
        tl_log_set_sink(NULL, NULL);
}

Test(log, drops_lines_below_level)
{
        tl_log_set_sink(capture, NULL);
        lines = 0;
        tl_log_set_level(TL_LOG_WARN);
        tl_log(TL_LOG_INFO, "x", "hidden", NULL);
        tl_log(TL_LOG_ERROR, "x", "shown", NULL);
        cr_assert_eq(lines, 1);
        tl_log_set_sink(NULL, NULL);
}

Test(log, quote_escapes_and_leaves_bare_words)
{
        char q[64];

        cr_assert_str_eq(tl_log_quote("cust_0042", q, sizeof q), "cust_0042");
        cr_assert_str_eq(tl_log_quote("a \"b\"\n", q, sizeof q),
                         "\"a \\\"b\\\"\\n\"");
        cr_assert_str_eq(tl_log_quote("", q, sizeof q), "\"\"");
        cr_assert_str_eq(tl_log_quote("k=v", q, sizeof q), "\"k=v\"");
}

Test(log, level_names_parse)
{
        cr_assert_eq(tl_log_level_parse("debug"), TL_LOG_DEBUG);
        cr_assert_eq(tl_log_level_parse("WARN"), TL_LOG_WARN);
        cr_assert_eq(tl_log_level_parse("loud"), -1);
        cr_assert_eq(tl_log_level_parse(NULL), -1);
}

Test(log, library_lines_map_syslog_levels)
{
        static const struct {
                int syslog;
                const char *level;
        } cases[] = {{0, "error"}, {3, "error"}, {4, "warn"},
                     {5, "info"},  {6, "info"},  {7, "debug"}};

        tl_log_set_sink(capture, NULL);
        tl_log_set_level(TL_LOG_DEBUG);
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
                char want[64];
                tl_log_library(cases[i].syslog, "meter", "librdkafka", "FAIL",
                               "broker down: 127.0.0.1");
                snprintf(want, sizeof want, " level=%s ", cases[i].level);
                cr_expect(strstr(last, want), "%d: %s", cases[i].syslog, last);
                cr_expect(strstr(last, "comp=meter msg=librdkafka facility=FAIL"
                                       " detail=\"broker down: 127.0.0.1\""),
                          "%s", last);
        }
        tl_log_set_sink(NULL, NULL);
}
