/* The meter's configuration: defaults, then the YAML file (through
   core/config.h), then the environment; flags go through meter_config_set
   last. */
#include "meter/meter.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/config.h"
#include "core/yaml.h"

static tl_status replace(char **slot, const char *value, struct tl_error *err)
{
        char *p = tl_strdup(value);

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
                c->topics[c->topic_count] = tl_strdup(t);
                if (!c->topics[c->topic_count])
                        return tl_fail(err, TL_ENOMEM, "out of memory");
                c->topic_count++;
        }
        if (!c->topic_count)
                return tl_fail(err, TL_EINVAL, "no topic named");
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
                                       "expected 'earliest' or 'error' "
                                       "(skipping ahead is never offered: it "
                                       "would lose events)");
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
                c->props[c->prop_count].key = tl_strdup(k);
                c->props[c->prop_count].value = tl_strdup(v);
                if (!c->props[c->prop_count].key ||
                    !c->props[c->prop_count].value)
                        return tl_fail(err, TL_ENOMEM, "out of memory");
                c->prop_count++;
                return TL_OK;
        }
        if (!strcmp(key, "meter.batch_events"))
                return tl_conf_parse_long(v, 1, 1000000, &c->batch_events, err);
        if (!strcmp(key, "meter.batch_ms"))
                return tl_conf_parse_ms(v, 1, 60000, &c->batch_ms, err);
        if (!strcmp(key, "meter.writers"))
                return tl_conf_parse_long(v, 1, 16, &c->writers, err);
        if (!strcmp(key, "meter.skew_seconds"))
                return tl_conf_parse_long(v, 0, 86400 * 365, &c->skew_s, err);
        if (!strcmp(key, "meter.exit_idle_ms"))
                return tl_conf_parse_ms(v, 0, 86400000, &c->exit_idle_ms, err);
        if (!strcmp(key, "meter.http"))
                return replace(&c->http, v, err);
        return tl_fail(err, TL_ENOTFOUND, "unknown key");
}

static const char *const KAFKA_KEYS[] = {"brokers",      "group",      "topics",
                                         "offset_reset", "properties", NULL};
static const char *const METER_KEYS[] = {
    "batch_events", "batch_ms", "writers", "skew_seconds",
    "exit_idle_ms", "http",     NULL};
/* Every section of the shared file: the others' are read by their own
   loaders (invoicing/, api/, `tally infer`) and only skipped here. */
static const char *const SECTIONS[] = {"kafka",     "meter", "database",
                                       "invoicing", "serve", "log_level",
                                       "infer",     NULL};

/* A value that may be a secret: wiped before its memory is reused. */
static void drop(char **text)
{
        if (*text) {
                memset(*text, 0, strlen(*text));
                tl_free(*text);
                *text = NULL;
        }
}

/* A topics sequence as the comma-separated list meter_config_set takes. */
static tl_status topic_list(const char *file, const char *key,
                            const struct tl_yaml_node *v, char **out,
                            struct tl_error *err)
{
        char list[4096] = "", path[600];

        for (size_t j = 0; j < v->count; j++) {
                char *t = NULL;
                tl_status rc;

                snprintf(path, sizeof path, "%s[%zu]", key, j);
                rc = tl_conf_expand(file, path, v->items[j], &t, err);
                if (rc)
                        return rc;
                strncat(list, t, sizeof list - strlen(list) - 2);
                strcat(list, ",");
                tl_free(t);
        }
        *out = tl_strdup(list);
        return *out ? TL_OK : tl_fail(err, TL_ENOMEM, "config: out of memory");
}

/* Every value of a section through meter_config_set, as "section.key";
   the properties map is flattened. */
static tl_status load_section(struct meter_config *c, const char *file,
                              const char *section,
                              const struct tl_yaml_node *map,
                              const char *const *known, struct tl_error *err)
{
        tl_status rc = tl_conf_section(file, section, map, known, err);

        for (size_t i = 0; !rc && i < map->count; i++) {
                const struct tl_yaml_pair *p = &map->pairs[i];
                char k[256], key[512];
                char *text = NULL;
                struct tl_error e = {0};

                snprintf(key, sizeof key, "%s.%s", section,
                         tl_conf_key(p, k, sizeof k));
                if (!strcmp(key, "kafka.properties")) {
                        if (strcmp(p->key->text, "properties"))
                                return tl_conf_fail(err, TL_EINVAL, file,
                                                    p->key, key,
                                                    "expected a map here, "
                                                    "not a file");
                        rc = load_section(c, file, key, p->value, NULL, err);
                        continue;
                }
                if (!strcmp(key, "kafka.topics") &&
                    p->value->kind == TL_YAML_SEQ)
                        rc = topic_list(file, key, p->value, &text, err);
                else
                        rc = tl_conf_text(file, section, p, &text, err);
                if (!rc) {
                        rc = meter_config_set(c, key, text, &e);
                        if (rc)
                                rc = tl_conf_fail(err, rc, file, p->value, key,
                                                  e.msg);
                }
                drop(&text);
        }
        return rc;
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
                rc = tl_conf_section(path, "", root, SECTIONS, err);
                for (size_t i = 0; !rc && i < root->count; i++) {
                        const struct tl_yaml_pair *p = &root->pairs[i];
                        if (!strcmp(p->key->text, "kafka"))
                                rc = load_section(c, path, "kafka", p->value,
                                                  KAFKA_KEYS, err);
                        else if (!strcmp(p->key->text, "meter"))
                                rc = load_section(c, path, "meter", p->value,
                                                  METER_KEYS, err);
                        else if (!strcmp(p->key->text, "database"))
                                rc = tl_conf_database(path, p->value, err);
                        else if (strcmp(p->key->text, "invoicing") &&
                                 strcmp(p->key->text, "serve") &&
                                 strcmp(p->key->text, "infer") &&
                                 strcmp(p->key->text, "log_level"))
                                rc = tl_conf_fail(err, TL_EINVAL, path, p->key,
                                                  p->key->text,
                                                  "unknown section");
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
