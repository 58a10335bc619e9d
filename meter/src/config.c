/* The meter's configuration: defaults, then the YAML file, then the
   environment; command-line flags go through meter_config_set last. */
#include "meter/meter.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/yaml.h"

static char *dup_str(const char *s)
{
        size_t n = strlen(s) + 1;
        char *p = tl_malloc(n);

        if (p)
                memcpy(p, s, n);
        return p;
}

static tl_status replace(char **slot, const char *value, struct tl_error *err)
{
        char *p = dup_str(value);

        if (!p)
                return tl_fail(err, TL_ENOMEM, "config: out of memory");
        tl_free(*slot);
        *slot = p;
        return TL_OK;
}

void meter_config_init(struct meter_config *c)
{
        memset(c, 0, sizeof *c);
        c->offset_reset = METER_RESET_EARLIEST;
        c->batch_events = 20000;
        c->batch_ms = 500;
        c->writers = 2;
        c->skew_s = 3600;
}

void meter_config_release(struct meter_config *c)
{
        tl_free(c->brokers);
        tl_free(c->group);
        for (int i = 0; i < c->topic_count; i++)
                tl_free(c->topics[i]);
        for (int i = 0; i < c->prop_count; i++) {
                tl_free(c->props[i].key);
                tl_free(c->props[i].value);
        }
        tl_free(c->http);
        tl_free(c->rules);
        tl_free(c->customers);
        memset(c, 0, sizeof *c);
}

static tl_status set_topics(struct meter_config *c, const char *list,
                            struct tl_error *err)
{
        char buf[4096];
        char *save = NULL;

        if (snprintf(buf, sizeof buf, "%s", list) >= (int)sizeof buf)
                return tl_fail(err, TL_EINVAL, "topic list too long");
        for (int i = 0; i < c->topic_count; i++)
                tl_free(c->topics[i]);
        c->topic_count = 0;
        for (char *t = strtok_r(buf, ", ", &save); t;
             t = strtok_r(NULL, ", ", &save)) {
                if (c->topic_count == METER_MAX_TOPICS)
                        return tl_fail(err, TL_EINVAL, "at most %d topics",
                                       METER_MAX_TOPICS);
                if (strlen(t) > 249)
                        return tl_fail(err, TL_EINVAL,
                                       "topic name over 249 characters");
                c->topics[c->topic_count] = dup_str(t);
                if (!c->topics[c->topic_count])
                        return tl_fail(err, TL_ENOMEM, "out of memory");
                c->topic_count++;
        }
        if (!c->topic_count)
                return tl_fail(err, TL_EINVAL, "no topic named");
        return TL_OK;
}

static tl_status set_long(long *slot, const char *v, long min, long max,
                          struct tl_error *err)
{
        char *end;
        long n;

        errno = 0;
        n = strtol(v, &end, 10);
        if (errno || end == v || *end || n < min || n > max)
                return tl_fail(err, TL_EINVAL,
                               "expected an integer in [%ld, %ld], got '%s'",
                               min, max, v);
        *slot = n;
        return TL_OK;
}

tl_status meter_config_set(struct meter_config *c, const char *key,
                           const char *v, struct tl_error *err)
{
        if (!strcmp(key, "kafka.brokers"))
                return replace(&c->brokers, v, err);
        if (!strcmp(key, "kafka.group"))
                return replace(&c->group, v, err);
        if (!strcmp(key, "kafka.topics"))
                return set_topics(c, v, err);
        if (!strcmp(key, "kafka.offset_reset")) {
                if (!strcmp(v, "earliest"))
                        c->offset_reset = METER_RESET_EARLIEST;
                else if (!strcmp(v, "error"))
                        c->offset_reset = METER_RESET_ERROR;
                else
                        return tl_fail(err, TL_EINVAL,
                                       "expected 'earliest' or 'error', got "
                                       "'%s' (skipping ahead is never "
                                       "offered: it would lose events)",
                                       v);
                return TL_OK;
        }
        if (!strncmp(key, "kafka.properties.", 17)) {
                const char *k = key + 17;
                for (int i = 0; i < c->prop_count; i++)
                        if (!strcmp(c->props[i].key, k))
                                return replace(&c->props[i].value, v, err);
                if (c->prop_count == METER_MAX_PROPS)
                        return tl_fail(err, TL_EINVAL,
                                       "at most %d kafka properties",
                                       METER_MAX_PROPS);
                c->props[c->prop_count].key = dup_str(k);
                c->props[c->prop_count].value = dup_str(v);
                if (!c->props[c->prop_count].key ||
                    !c->props[c->prop_count].value)
                        return tl_fail(err, TL_ENOMEM, "out of memory");
                c->prop_count++;
                return TL_OK;
        }
        if (!strcmp(key, "meter.batch_events"))
                return set_long(&c->batch_events, v, 1, 1000000, err);
        if (!strcmp(key, "meter.batch_ms"))
                return set_long(&c->batch_ms, v, 1, 60000, err);
        if (!strcmp(key, "meter.writers"))
                return set_long(&c->writers, v, 1, 16, err);
        if (!strcmp(key, "meter.skew_seconds"))
                return set_long(&c->skew_s, v, 0, 86400 * 365, err);
        if (!strcmp(key, "meter.exit_idle_ms"))
                return set_long(&c->exit_idle_ms, v, 0, 86400000, err);
        if (!strcmp(key, "meter.http"))
                return replace(&c->http, v, err);
        if (!strcmp(key, "meter.rules"))
                return replace(&c->rules, v, err);
        if (!strcmp(key, "meter.customers"))
                return replace(&c->customers, v, err);
        return tl_fail(err, TL_ENOTFOUND, "unknown key");
}

/* Scalars of a map, as "section.key"; a topics sequence and the
   properties map are flattened. */
static tl_status load_section(struct meter_config *c, const char *file,
                              const char *section,
                              const struct tl_yaml_node *map,
                              struct tl_error *err)
{
        if (map->kind != TL_YAML_MAP)
                return tl_fail(err, TL_EINVAL, "%s:%u:%u: %s: expected a map",
                               file, map->line, map->col, section);
        for (size_t i = 0; i < map->count; i++) {
                const struct tl_yaml_node *k = map->pairs[i].key;
                const struct tl_yaml_node *v = map->pairs[i].value;
                char key[512];
                struct tl_error e = {0};
                tl_status rc;

                snprintf(key, sizeof key, "%s.%s", section, k->text);
                if (!strcmp(key, "kafka.properties")) {
                        rc = load_section(c, file, key, v, err);
                        if (rc)
                                return rc;
                        continue;
                }
                if (!strcmp(key, "kafka.topics") && v->kind == TL_YAML_SEQ) {
                        char list[4096] = "";
                        for (size_t j = 0; j < v->count; j++) {
                                if (v->items[j]->kind != TL_YAML_SCALAR)
                                        return tl_fail(err, TL_EINVAL,
                                                       "%s:%u:%u: %s[%zu]: "
                                                       "expected a topic name",
                                                       file, v->items[j]->line,
                                                       v->items[j]->col, key,
                                                       j);
                                strncat(list, v->items[j]->text,
                                        sizeof list - strlen(list) - 2);
                                strcat(list, ",");
                        }
                        rc = meter_config_set(c, key, list, &e);
                } else if (v->kind != TL_YAML_SCALAR) {
                        return tl_fail(err, TL_EINVAL,
                                       "%s:%u:%u: %s: expected a value", file,
                                       v->line, v->col, key);
                } else {
                        rc = meter_config_set(c, key, v->text, &e);
                }
                if (rc) {
                        /* An unknown key is pointed at, a bad value too. */
                        const struct tl_yaml_node *at =
                            rc == TL_ENOTFOUND ? k : v;
                        return tl_fail(err, rc, "%s:%u:%u: %s: %s", file,
                                       at->line, at->col, key, e.msg);
                }
        }
        return TL_OK;
}

tl_status meter_config_load(struct meter_config *c, const char *path,
                            struct tl_error *err)
{
        static const struct {
                const char *env, *key;
        } ENV[] = {
            {"TALLY_KAFKA_BROKERS", "kafka.brokers"},
            {"TALLY_KAFKA_GROUP", "kafka.group"},
            {"TALLY_KAFKA_TOPICS", "kafka.topics"},
            {"TALLY_METER_HTTP", "meter.http"},
        };
        tl_status rc = TL_OK;

        if (path) {
                struct tl_yaml_doc *doc = NULL;
                const struct tl_yaml_node *root;
                rc = tl_yaml_load_file(path, &doc, err);
                if (rc)
                        return rc;
                root = doc->root;
                if (root->kind != TL_YAML_MAP)
                        rc = tl_fail(err, TL_EINVAL,
                                     "%s:%u:%u: expected a map with kafka: "
                                     "and meter:",
                                     path, root->line, root->col);
                for (size_t i = 0; !rc && i < root->count; i++) {
                        const struct tl_yaml_pair *p = &root->pairs[i];
                        if (!strcmp(p->key->text, "kafka") ||
                            !strcmp(p->key->text, "meter"))
                                rc = load_section(c, path, p->key->text,
                                                  p->value, err);
                        else if (strcmp(p->key->text, "invoicing") &&
                                 strcmp(p->key->text, "log_level"))
                                rc = tl_fail(err, TL_EINVAL,
                                             "%s:%u:%u: %s: unknown section",
                                             path, p->key->line, p->key->col,
                                             p->key->text);
                }
                tl_yaml_free(&doc);
                if (rc)
                        return rc;
        }
        for (size_t i = 0; i < sizeof ENV / sizeof ENV[0]; i++) {
                const char *v = getenv(ENV[i].env);
                struct tl_error e = {0};
                if (!v || !*v)
                        continue;
                rc = meter_config_set(c, ENV[i].key, v, &e);
                if (rc)
                        return tl_fail(err, rc, "%s: %s", ENV[i].env, e.msg);
        }
        return TL_OK;
}
