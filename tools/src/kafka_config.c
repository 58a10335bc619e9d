/* --config FILE for the Kafka clients (infer, upload, loadgen): the
   services' loader, read for its kafka: section. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "core/alloc.h"

int cli_kafka_load(const struct cli_command *cmd, const char *path,
                   struct cli_kafka *k, const char **brokers,
                   const char **topic, const char **props, size_t *prop_count,
                   size_t max_props)
{
        struct tl_error e = {0};
        size_t n = 0;

        meter_config_init(&k->mc);
        memset(k->props, 0, sizeof k->props);
        if (!path)
                return 0;
        if (meter_config_load(&k->mc, path, &e)) {
                fprintf(stderr, "tally %s: %s\n", cmd->name, e.msg);
                return CLI_EXIT_USAGE;
        }
        if ((!*brokers || !**brokers) && k->mc.brokers)
                *brokers = k->mc.brokers;
        if (!*topic && k->mc.topic_count)
                *topic = k->mc.topics[0];
        if ((size_t)k->mc.prop_count + *prop_count > max_props)
                return cli_usage_error(cmd,
                                       "at most %zu Kafka properties "
                                       "with the config file's",
                                       max_props);
        for (int i = 0; i < k->mc.prop_count; i++) {
                size_t len = strlen(k->mc.props[i].key) +
                             strlen(k->mc.props[i].value) + 2;
                k->props[i] = tl_malloc(len);
                if (!k->props[i]) {
                        fprintf(stderr, "tally %s: out of memory\n", cmd->name);
                        return CLI_EXIT_RUNTIME;
                }
                snprintf(k->props[i], len, "%s=%s", k->mc.props[i].key,
                         k->mc.props[i].value);
                n++;
        }
        /* The file's properties go first so that -X, applied later by
           librdkafka, overrides them. */
        memmove(props + n, props, *prop_count * sizeof *props);
        for (size_t i = 0; i < n; i++)
                props[i] = k->props[i];
        *prop_count += n;
        return 0;
}

void cli_kafka_release(struct cli_kafka *k)
{
        for (int i = 0; i < METER_MAX_PROPS; i++)
                tl_free(k->props[i]);
        memset(k->props, 0, sizeof k->props);
        meter_config_release(&k->mc);
}
