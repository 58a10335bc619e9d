/* The `infer:` section of the shared config file: what `tally infer`
   reports by default about the task each request served. */
#include <string.h>

#include "core/alloc.h"
#include "core/config.h"
#include "core/yaml.h"
#include "infer/infer.h"

tl_status infer_config_load(struct infer_config *c, const char *path,
                            struct tl_error *err)
{
        static const char *const KEYS[] = {"task", "outcome", NULL};
        struct tl_yaml_doc *doc = NULL;
        const struct tl_yaml_node *m;
        tl_status rc;

        memset(c, 0, sizeof *c);
        if (!path)
                return TL_OK;
        if ((rc = tl_yaml_load_file(path, &doc, err)))
                return rc;
        m = tl_yaml_get(doc->root, "infer");
        if (m)
                rc = tl_conf_section(path, "infer", m, KEYS, err);
        for (size_t i = 0; m && !rc && i < m->count; i++) {
                const struct tl_yaml_pair *p = &m->pairs[i];
                char k[16];

                tl_conf_key(p, k, sizeof k);
                rc = tl_conf_string(path, "infer", p,
                                    !strcmp(k, "task") ? &c->task : &c->outcome,
                                    err);
        }
        /* An outcome says how a task ended: alone it reports nothing. */
        if (!rc && c->outcome && !c->task)
                rc = tl_conf_fail(err, TL_EINVAL, path, m, "infer.outcome",
                                  "needs infer.task");
        tl_yaml_free(&doc);
        if (rc)
                infer_config_release(c);
        return rc;
}

void infer_config_release(struct infer_config *c)
{
        tl_free(c->task);
        tl_free(c->outcome);
        memset(c, 0, sizeof *c);
}
