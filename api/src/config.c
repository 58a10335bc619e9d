/* The `serve:` section of the tally config file (core/config.h). */
#include "api/api.h"

#include <string.h>

#include "core/alloc.h"
#include "core/config.h"
#include "core/yaml.h"

void api_config_init(struct api_config *c)
{
        memset(c, 0, sizeof *c);
        c->http = tl_strdup("127.0.0.1:8080");
        c->max_connections = 4096;
        c->timeout_s = 15;
        c->rate_per_s = 200;
        c->rate_burst = 400;
        api_webhooks_config_init(&c->webhooks);
}

void api_config_release(struct api_config *c)
{
        tl_free(c->http);
        tl_free(c->rules);
        tl_free(c->tls_cert);
        tl_free(c->tls_key);
        memset(c, 0, sizeof *c);
}

static const char *const KEYS[] = {"http",      "rules",      "tls_cert",
                                   "tls_key",   "threads",    "max_connections",
                                   "timeout_s", "rate_per_s", "rate_burst",
                                   "webhooks",  NULL};

static const char *const WEBHOOK_KEYS[] = {"senders",      "retry_base_ms",
                                           "retry_max_ms", "max_age_s",
                                           "timeout_ms",   NULL};

/* serve.webhooks: durations in ms (or "5s"), the window in seconds. */
static tl_status webhooks(struct api_webhooks_config *w, const char *path,
                          const struct tl_yaml_node *m, struct tl_error *err)
{
        static const char S[] = "serve.webhooks";
        tl_status rc = tl_conf_section(path, S, m, WEBHOOK_KEYS, err);
        char k[32];

        for (size_t i = 0; !rc && i < m->count; i++) {
                const struct tl_yaml_pair *p = &m->pairs[i];

                tl_conf_key(p, k, sizeof k);
                if (!strcmp(k, "senders"))
                        rc = tl_conf_long(path, S, p, 0, 64, &w->senders, err);
                else if (!strcmp(k, "retry_base_ms"))
                        rc = tl_conf_ms(path, S, p, 1, 3600000,
                                        &w->retry_base_ms, err);
                else if (!strcmp(k, "retry_max_ms"))
                        rc = tl_conf_ms(path, S, p, 1, 86400000,
                                        &w->retry_max_ms, err);
                else if (!strcmp(k, "max_age_s"))
                        rc = tl_conf_long(path, S, p, 1, 30 * 86400,
                                          &w->max_age_s, err);
                else
                        rc = tl_conf_ms(path, S, p, 100, 300000, &w->timeout_ms,
                                        err);
        }
        if (!rc && w->retry_max_ms < w->retry_base_ms)
                rc = tl_conf_fail(err, TL_EINVAL, path, m,
                                  "serve.webhooks.retry_max_ms",
                                  "must be at least retry_base_ms");
        return rc;
}

static tl_status pair(struct api_config *c, const char *path,
                      const struct tl_yaml_pair *p, struct tl_error *err)
{
        static const char S[] = "serve";
        char k[32];

        tl_conf_key(p, k, sizeof k);
        if (!strcmp(k, "http"))
                return tl_conf_string(path, S, p, &c->http, err);
        if (!strcmp(k, "rules"))
                return tl_conf_string(path, S, p, &c->rules, err);
        if (!strcmp(k, "tls_cert"))
                return tl_conf_string(path, S, p, &c->tls_cert, err);
        if (!strcmp(k, "tls_key"))
                return tl_conf_string(path, S, p, &c->tls_key, err);
        if (!strcmp(k, "threads"))
                return tl_conf_long(path, S, p, 0, 256, &c->threads, err);
        if (!strcmp(k, "max_connections"))
                return tl_conf_long(path, S, p, 16, 1000000,
                                    &c->max_connections, err);
        if (!strcmp(k, "timeout_s"))
                return tl_conf_long(path, S, p, 1, 3600, &c->timeout_s, err);
        if (!strcmp(k, "webhooks"))
                return webhooks(&c->webhooks, path, p->value, err);
        if (!strcmp(k, "rate_per_s"))
                return tl_conf_long(path, S, p, 1, 1000000, &c->rate_per_s,
                                    err);
        return tl_conf_long(path, S, p, 1, 1000000, &c->rate_burst, err);
}

tl_status api_config_load(struct api_config *c, const char *path,
                          struct tl_error *err)
{
        struct tl_yaml_doc *doc = NULL;
        const struct tl_yaml_node *m;
        tl_status rc;

        if (!path)
                return TL_OK;
        rc = tl_yaml_load_file(path, &doc, err);
        if (rc)
                return rc;
        m = tl_yaml_get(doc->root, "serve");
        if (m)
                rc = tl_conf_section(path, "serve", m, KEYS, err);
        for (size_t i = 0; m && !rc && i < m->count; i++)
                rc = pair(c, path, &m->pairs[i], err);
        if (!rc && !c->tls_cert != !c->tls_key)
                rc = tl_conf_fail(err, TL_EINVAL, path, m, "serve.tls_cert",
                                  "tls_cert and tls_key go together");
        tl_yaml_free(&doc);
        return rc;
}
