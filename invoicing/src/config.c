/* The `invoicing:` and `database:` sections of the tally config file
   (through core/config.h), then the environment. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/config.h"
#include "core/yaml.h"
#include "invoicing/invoicing.h"

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
        c->payment_terms_days = 30;
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

static const char *const SECTION_KEYS[] = {
    "rules",  "grace_days",         "batch", "jobs",
    "issuer", "payment_terms_days", NULL};
static const char *const ISSUER_KEYS[] = {"id",    "prefix",  "name",
                                          "email", "address", NULL};

static tl_status address(struct inv_issuer *is, const char *path,
                         const struct tl_yaml_pair *p, struct tl_error *err)
{
        const struct tl_yaml_node *v = p->value;
        tl_status rc = TL_OK;

        if (v->kind != TL_YAML_SEQ || v->count > INV_MAX_ADDRESS)
                return tl_conf_fail(err, TL_EINVAL, path, v,
                                    "invoicing.issuer.address",
                                    "expected a list of at most 6 lines");
        for (size_t j = 0; !rc && j < v->count; j++) {
                char *line = NULL;

                rc = tl_conf_expand(path, "invoicing.issuer.address",
                                    v->items[j], &line, err);
                if (rc)
                        break;
                tl_free(is->address[is->address_count]);
                is->address[is->address_count++] = line;
        }
        return rc;
}

static tl_status issuer(struct inv_config *c, const char *path,
                        const struct tl_yaml_node *m, struct tl_error *err)
{
        static const char S[] = "invoicing.issuer";
        struct inv_issuer *is = &c->issuer;
        tl_status rc = tl_conf_section(path, S, m, ISSUER_KEYS, err);

        for (size_t i = 0; !rc && i < m->count; i++) {
                const struct tl_yaml_pair *p = &m->pairs[i];
                char k[16];

                tl_conf_key(p, k, sizeof k);
                if (!strcmp(k, "id"))
                        rc = tl_conf_string(path, S, p, &is->id, err);
                else if (!strcmp(k, "prefix"))
                        rc = tl_conf_string(path, S, p, &is->prefix, err);
                else if (!strcmp(k, "name"))
                        rc = tl_conf_string(path, S, p, &is->name, err);
                else if (!strcmp(k, "email"))
                        rc = tl_conf_string(path, S, p, &is->email, err);
                else
                        rc = address(is, path, p, err);
        }
        return rc;
}

static tl_status section(struct inv_config *c, const char *path,
                         const struct tl_yaml_node *m, struct tl_error *err)
{
        static const char S[] = "invoicing";
        tl_status rc = tl_conf_section(path, S, m, SECTION_KEYS, err);

        for (size_t i = 0; !rc && i < m->count; i++) {
                const struct tl_yaml_pair *p = &m->pairs[i];
                char k[32];

                tl_conf_key(p, k, sizeof k);
                if (!strcmp(k, "rules"))
                        rc = tl_conf_string(path, S, p, &c->rules, err);
                else if (!strcmp(k, "grace_days"))
                        rc = tl_conf_long(path, S, p, 0, 366, &c->grace_days,
                                          err);
                else if (!strcmp(k, "payment_terms_days"))
                        rc = tl_conf_long(path, S, p, 0, 3660,
                                          &c->payment_terms_days, err);
                else if (!strcmp(k, "batch"))
                        rc =
                            tl_conf_long(path, S, p, 1, 100000, &c->batch, err);
                else if (!strcmp(k, "jobs"))
                        rc = tl_conf_long(path, S, p, 0, 64, &c->jobs, err);
                else if (strcmp(p->key->text, "issuer"))
                        rc = tl_conf_fail(err, TL_EINVAL, path, p->key,
                                          "invoicing.issuer",
                                          "expected a map here, not a file");
                else
                        rc = issuer(c, path, p->value, err);
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
                const struct tl_yaml_node *inv, *db;

                rc = tl_yaml_load_file(path, &doc, err);
                if (rc)
                        return rc;
                inv = tl_yaml_get(doc->root, "invoicing");
                if (inv)
                        rc = section(c, path, inv, err);
                db = tl_yaml_get(doc->root, "database");
                if (!rc && db)
                        rc = tl_conf_database(path, db, err);
                tl_yaml_free(&doc);
                if (rc)
                        return rc;
        }
        if (env && *env)
                rc = set_str(&c->rules, env, err);
        return rc;
}
