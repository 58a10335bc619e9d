/* docs/openapi.json describes exactly the routes `tally serve` serves. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "api/api.h"
#include "testkit.h"

static json_t *document(void)
{
        char path[512];
        json_error_t e;
        json_t *doc;

        snprintf(path, sizeof path, "%s/docs/openapi.json", tk_source_dir());
        doc = json_load_file(path, 0, &e);
        cr_assert_not_null(doc, "%s:%d: %s", path, e.line, e.text);
        return doc;
}

Test(openapi, is_version_3_1_with_a_bearer_scheme)
{
        json_t *doc = document();

        cr_expect_str_eq(json_string_value(json_object_get(doc, "openapi")),
                         "3.1.0");
        cr_expect_not_null(
            json_object_get(json_object_get(json_object_get(doc, "components"),
                                            "securitySchemes"),
                            "bearer"));
        json_decref(doc);
}

Test(openapi, every_served_route_is_documented_and_nothing_else)
{
        json_t *doc = document(), *paths = json_object_get(doc, "paths");
        size_t documented = 0;
        const char *path;
        json_t *item;

        for (size_t i = 0; i < api_route_count(); i++) {
                const char *m, *t;
                char lower[8];
                size_t k = 0;

                api_route_at(i, &m, &t);
                for (; m[k] && k + 1 < sizeof lower; k++)
                        lower[k] = (char)(m[k] - 'A' + 'a');
                lower[k] = '\0';
                cr_expect_not_null(
                    json_object_get(json_object_get(paths, t), lower),
                    "%s %s is served but not in docs/openapi.json", m, t);
        }
        json_object_foreach(paths, path, item)
        {
                const char *method;
                json_t *op;

                json_object_foreach(item, method, op)
                {
                        bool served = false;

                        for (size_t i = 0; i < api_route_count(); i++) {
                                const char *m, *t;

                                api_route_at(i, &m, &t);
                                served |=
                                    !strcmp(t, path) && !strcasecmp(m, method);
                        }
                        cr_expect(served,
                                  "docs/openapi.json documents %s %s, which "
                                  "is not served",
                                  method, path);
                        documented++;
                }
        }
        cr_expect_eq(documented, api_route_count());
        json_decref(doc);
}
