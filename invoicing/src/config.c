/* The `invoicing:` section of the tally config file, then the environment. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "invoicing/invoicing.h"
#include "core/yaml.h"

static tl_status set_str(char **slot, const char *v, struct tl_error *err)
{
        char *p = tl_strdup(v);

        if (!p)
                return tl_fail(err, TL_ENOMEM, "config: out of memory");
        tl_free(*slot);
        *slot = p;
        return TL_OK;
}

void inv_config_init(struct inv_config *c)
{
        memset(c, 0, sizeof *c);
        c->grace_days = 3;
        c->batch = 500;
        c->issuer.id = tl_strdup("tally");
        c->issuer.prefix = tl_strdup("INV");
        c->issuer.name = tl_strdup("tally");
}

void inv_config_release(struct inv_config *c)
{
        tl_free(c->rules);
        tl_free(c->issuer.id);
        tl_free(c->issuer.prefix);
        tl_free(c->issuer.name);
        tl_free(c->issuer.email);
        for (int i = 0; i < c->issuer.address_count; i++)
                tl_free(c->issuer.address[i]);
        memset(c, 0, sizeof *c);
}

static tl_status bad(const char *path, const struct tl_yaml_node *n,
                     const char *key, const char *what, struct tl_error *err)
{
        return tl_fail(err, TL_EINVAL, "%s:%u:%u: invoicing.%s: %s", path,
                       n->line, n->col, key, what);
}

static tl_status scalar(const char *path, const struct tl_yaml_pair *p,
                        const char *key, char **slot, struct tl_error *err)
{
        if (p->value->kind != TL_YAML_SCALAR || !p->value->len)
                return bad(path, p->value, key, "expected a text value", err);
        return set_str(slot, p->value->text, err);
}

static tl_status number(const char *path, const struct tl_yaml_pair *p,
                        const char *key, long min, long max, long *out,
                        struct tl_error *err)
{
        char *end;
        long v;

        if (p->value->kind != TL_YAML_SCALAR)
                return bad(path, p->value, key, "expected an integer", err);
        v = strtol(p->value->text, &end, 10);
        if (end == p->value->text || *end || v < min || v > max) {
                char what[96];

                snprintf(what, sizeof what,
                         "expected an integer from %ld to %ld", min, max);
                return bad(path, p->value, key, what, err);
        }
        *out = v;
        return TL_OK;
}

static tl_status issuer(struct inv_config *c, const char *path,
                        const struct tl_yaml_node *m, struct tl_error *err)
{
        struct inv_issuer *is = &c->issuer;
        tl_status rc = TL_OK;

        if (m->kind != TL_YAML_MAP)
                return bad(path, m, "issuer", "expected a map", err);
        for (size_t i = 0; !rc && i < m->count; i++) {
                const struct tl_yaml_pair *p = &m->pairs[i];
                const char *k = p->key->text;

                if (!strcmp(k, "id"))
                        rc = scalar(path, p, "issuer.id", &is->id, err);
                else if (!strcmp(k, "prefix"))
                        rc = scalar(path, p, "issuer.prefix", &is->prefix, err);
                else if (!strcmp(k, "name"))
                        rc = scalar(path, p, "issuer.name", &is->name, err);
                else if (!strcmp(k, "email"))
                        rc = scalar(path, p, "issuer.email", &is->email, err);
                else if (!strcmp(k, "address")) {
                        const struct tl_yaml_node *v = p->value;

                        if (v->kind != TL_YAML_SEQ ||
                            v->count > INV_MAX_ADDRESS)
                                return bad(path, v, "issuer.address",
                                           "expected a list of at most 6 "
                                           "lines",
                                           err);
                        for (size_t j = 0; !rc && j < v->count; j++) {
                                if (v->items[j]->kind != TL_YAML_SCALAR)
                                        return bad(
                                            path, v->items[j], "issuer.address",
                                            "expected a line of text", err);
                                rc = set_str(&is->address[is->address_count],
                                             v->items[j]->text, err);
                                if (!rc)
                                        is->address_count++;
                        }
                } else {
                        rc = tl_fail(err, TL_EINVAL,
                                     "%s:%u:%u: invoicing.issuer.%s: unknown "
                                     "key",
                                     path, p->key->line, p->key->col, k);
                }
        }
        return rc;
}

static tl_status section(struct inv_config *c, const char *path,
                         const struct tl_yaml_node *m, struct tl_error *err)
{
        tl_status rc = TL_OK;

        if (m->kind != TL_YAML_MAP)
                return tl_fail(err, TL_EINVAL,
                               "%s:%u:%u: invoicing: expected a map", path,
                               m->line, m->col);
        for (size_t i = 0; !rc && i < m->count; i++) {
                const struct tl_yaml_pair *p = &m->pairs[i];
                const char *k = p->key->text;

                if (!strcmp(k, "rules"))
                        rc = scalar(path, p, k, &c->rules, err);
                else if (!strcmp(k, "grace_days"))
                        rc = number(path, p, k, 0, 366, &c->grace_days, err);
                else if (!strcmp(k, "batch"))
                        rc = number(path, p, k, 1, 100000, &c->batch, err);
                else if (!strcmp(k, "jobs"))
                        rc = number(path, p, k, 0, 64, &c->jobs, err);
                else if (!strcmp(k, "issuer"))
                        rc = issuer(c, path, p->value, err);
                else
                        rc = tl_fail(err, TL_EINVAL,
                                     "%s:%u:%u: invoicing.%s: unknown key",
                                     path, p->key->line, p->key->col, k);
        }
        return rc;
}

tl_status inv_config_load(struct inv_config *c, const char *path,
                          struct tl_error *err)
{
        const char *env = getenv("TALLY_RULES");
        tl_status rc = TL_OK;

        if (path) {
                struct tl_yaml_doc *doc = NULL;
                const struct tl_yaml_node *inv;

                rc = tl_yaml_load_file(path, &doc, err);
                if (rc)
                        return rc;
                inv = tl_yaml_get(doc->root, "invoicing");
                if (inv)
                        rc = section(c, path, inv, err);
                tl_yaml_free(&doc);
                if (rc)
                        return rc;
        }
        if (env && *env)
                rc = set_str(&c->rules, env, err);
        return rc;
}
