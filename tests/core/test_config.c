/* Config sections: known keys, typed values, ${VAR} and k_file secrets. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/config.h"

#define SECRET "s3cr3t-P4ss-0042"

static struct tl_yaml_doc *parse(const char *text)
{
        struct tl_yaml_doc *doc = NULL;
        struct tl_error err;

        cr_assert_eq(tl_yaml_parse("t.yaml", text, strlen(text), &doc, &err),
                     TL_OK, "%s", err.msg);
        return doc;
}

/* The first pair of the map under 'section' in 'text'. */
static const struct tl_yaml_pair *first(struct tl_yaml_doc *doc,
                                        const char *section)
{
        const struct tl_yaml_node *m = tl_yaml_get(doc->root, section);

        cr_assert(m && m->kind == TL_YAML_MAP && m->count > 0);
        return &m->pairs[0];
}

static void write_file(const char *path, const char *data, size_t len)
{
        FILE *f = fopen(path, "wb");

        cr_assert_not_null(f);
        cr_assert_eq(fwrite(data, 1, len, f), len);
        fclose(f);
}

/* tl_conf_text on the only key of section "s"; returns the status. */
static tl_status text_of(const char *yaml, char **out, struct tl_error *err)
{
        struct tl_yaml_doc *doc = parse(yaml);
        tl_status rc = tl_conf_text("t.yaml", "s", first(doc, "s"), out, err);

        tl_yaml_free(&doc);
        return rc;
}

static void expect_text(const char *yaml, const char *want)
{
        struct tl_error err = {0};
        char *got = NULL;

        cr_assert_eq(text_of(yaml, &got, &err), TL_OK, "%s", err.msg);
        cr_expect_str_eq(got, want);
        tl_free(got);
}

static void expect_fail(const char *yaml, tl_status want, const char *msg)
{
        struct tl_error err = {0};
        char *got = NULL;

        cr_expect_eq(text_of(yaml, &got, &err), want, "%s", err.msg);
        cr_expect(strstr(err.msg, msg), "'%s' lacks '%s'", err.msg, msg);
        cr_expect_null(strstr(err.msg, SECRET), "leaked: %s", err.msg);
        cr_expect_null(got);
}

Test(config, a_section_refuses_unknown_keys_and_a_key_given_twice)
{
        static const char *const KNOWN[] = {"rules", "password", NULL};
        struct tl_yaml_doc *doc =
            parse("s:\n  rules: r\n  colour: red\n"
                  "t:\n  password: a\n  password_file: /x\n"
                  "u:\n  password_file: /x\n  rules: r\n"
                  "v: [1]\n");
        struct tl_error err = {0};

        cr_expect_eq(tl_conf_section("t.yaml", "s", tl_yaml_get(doc->root, "s"),
                                     KNOWN, &err),
                     TL_EINVAL);
        cr_expect_str_eq(err.msg, "t.yaml:3:3: s.colour: unknown key");
        cr_expect_eq(tl_conf_section("t.yaml", "t", tl_yaml_get(doc->root, "t"),
                                     KNOWN, &err),
                     TL_EINVAL);
        cr_expect(strstr(err.msg, "t.yaml:6:3: t.password_file: given twice"),
                  "%s", err.msg);
        cr_expect_eq(tl_conf_section("t.yaml", "u", tl_yaml_get(doc->root, "u"),
                                     KNOWN, &err),
                     TL_OK, "%s", err.msg);
        cr_expect_eq(tl_conf_section("t.yaml", "v", tl_yaml_get(doc->root, "v"),
                                     NULL, &err),
                     TL_EINVAL);
        cr_expect_str_eq(err.msg, "t.yaml:10:4: v: expected a map");
        tl_yaml_free(&doc);
}

Test(config, a_file_key_sets_the_key_without_its_suffix)
{
        struct tl_yaml_doc *doc = parse("s: {password_file: /x, name: n}\n");
        const struct tl_yaml_node *s = tl_yaml_get(doc->root, "s");
        char k[32];

        cr_expect_str_eq(tl_conf_key(&s->pairs[0], k, sizeof k), "password");
        cr_expect_str_eq(tl_conf_key(&s->pairs[1], k, sizeof k), "name");
        tl_yaml_free(&doc);
}

Test(config, values_expand_environment_variables_in_values_only)
{
        setenv("TL_CONF_A", "alpha", 1);
        setenv("TL_CONF_EMPTY", "", 1);
        expect_text("s: {k: \"${TL_CONF_A}\"}\n", "alpha");
        expect_text("s:\n  k: x-${TL_CONF_A}-${TL_CONF_A}\n", "x-alpha-alpha");
        expect_text("s: {k: \"[${TL_CONF_EMPTY}]\"}\n", "[]");
        expect_text("s: {k: \"$${TL_CONF_A}\"}\n", "${TL_CONF_A}");
        expect_text("s: {k: p$ss$$w0rd$}\n", "p$ss$$w0rd$");
}

Test(config, keys_are_never_expanded)
{
        struct tl_yaml_doc *doc = parse("s: {\"${TL_CONF_A}\": 1}\n");
        char k[32];

        setenv("TL_CONF_A", "alpha", 1);
        cr_expect_str_eq(tl_conf_key(first(doc, "s"), k, sizeof k),
                         "${TL_CONF_A}");
        tl_yaml_free(&doc);
}

Test(config, an_unset_or_malformed_variable_is_an_error_at_its_place)
{
        unsetenv("TL_CONF_UNSET");
        expect_fail("s:\n  password: \"${TL_CONF_UNSET}\"\n", TL_EINVAL,
                    "t.yaml:2:13: s.password: environment variable "
                    "TL_CONF_UNSET is not set");
        expect_fail("s: {k: \"${TL_CONF_A\"}\n", TL_EINVAL,
                    "t.yaml:1:8: s.k: '${' without its '}'");
        expect_fail("s: {k: \"${}\"}\n", TL_EINVAL, "s.k: '${...}' must hold");
        expect_fail("s: {k: \"${1X}\"}\n", TL_EINVAL,
                    "s.k: '${...}' must hold");
        expect_fail("s: {k: \"${A B}\"}\n", TL_EINVAL,
                    "s.k: '${...}' must hold");
        expect_fail("s: {k: [1]}\n", TL_EINVAL,
                    "t.yaml:1:8: s.k: expected a value");
}

Test(config, a_file_key_reads_its_value_from_the_file_it_names)
{
        char path[] = "/tmp/tl-conf-XXXXXX", yaml[256];
        int fd = mkstemp(path);

        cr_assert_geq(fd, 0);
        close(fd);
        write_file(path, SECRET "\n", strlen(SECRET) + 1);
        snprintf(yaml, sizeof yaml, "s: {password_file: %s}\n", path);
        expect_text(yaml, SECRET);
        write_file(path, SECRET "\r\n\n", strlen(SECRET) + 3);
        expect_text(yaml, SECRET);
        /* The path expands; the content is taken as it is. */
        write_file(path, "${HOME}", 7);
        setenv("TL_CONF_DIR", "/tmp", 1);
        snprintf(yaml, sizeof yaml,
                 "s: {password_file: \"${TL_CONF_DIR}%s\"}\n", path + 4);
        expect_text(yaml, "${HOME}");
        unlink(path);
}

Test(config, a_file_key_refuses_unreadable_oversized_and_nul_files)
{
        char path[] = "/tmp/tl-conf-XXXXXX", yaml[256], msg[128];
        size_t big = TL_CONF_MAX_VALUE + 1;
        char *data = tl_malloc(big);
        int fd = mkstemp(path);

        cr_assert_geq(fd, 0);
        cr_assert_not_null(data);
        close(fd);
        snprintf(yaml, sizeof yaml, "s:\n  password_file: %s\n", path);
        memset(data, 'x', big);
        memcpy(data, SECRET, strlen(SECRET));
        write_file(path, data, big);
        expect_fail(yaml, TL_ELIMIT, "t.yaml:2:18: s.password_file: ");
        expect_fail(yaml, TL_ELIMIT, "over the 64 KiB limit");
        write_file(path, SECRET "\0tail", strlen(SECRET) + 5);
        expect_fail(yaml, TL_EINVAL, "holds a NUL byte");
        unlink(path);
        snprintf(msg, sizeof msg, "s.password_file: cannot read %s: ", path);
        expect_fail(yaml, TL_EIO, msg);
        expect_fail("s: {password_file: \"\"}\n", TL_EINVAL,
                    "s.password_file: expected a file name");
        tl_free(data);
}

/* A secret put where a number belongs is refused without being quoted. */
Test(config, typed_values_check_their_range_and_never_quote_the_value)
{
        struct tl_yaml_doc *doc =
            parse("s:\n  a: 12\n  b: 99\n  c: \"${TL_CONF_S}\"\n  d: yes\n"
                  "  e: 5s\n  f: 250\n  g: 2x\n  h: \"\"\n");
        const struct tl_yaml_node *s = tl_yaml_get(doc->root, "s");
        struct tl_error err = {0};
        char *text = NULL;
        long n = 0;
        bool on = false;

        setenv("TL_CONF_S", SECRET, 1);
        cr_expect_eq(tl_conf_long("t.yaml", "s", &s->pairs[0], 1, 20, &n, &err),
                     TL_OK);
        cr_expect_eq(n, 12);
        cr_expect_eq(tl_conf_long("t.yaml", "s", &s->pairs[1], 1, 20, &n, &err),
                     TL_EINVAL);
        cr_expect_str_eq(err.msg,
                         "t.yaml:3:6: s.b: expected an integer in [1, 20]");
        cr_expect_eq(tl_conf_long("t.yaml", "s", &s->pairs[2], 1, 20, &n, &err),
                     TL_EINVAL);
        cr_expect_null(strstr(err.msg, SECRET), "leaked: %s", err.msg);
        cr_expect_eq(tl_conf_bool("t.yaml", "s", &s->pairs[3], &on, &err),
                     TL_OK);
        cr_expect(on);
        cr_expect_eq(tl_conf_bool("t.yaml", "s", &s->pairs[2], &on, &err),
                     TL_EINVAL);
        cr_expect_null(strstr(err.msg, SECRET), "leaked: %s", err.msg);
        cr_expect_eq(
            tl_conf_ms("t.yaml", "s", &s->pairs[4], 1, 60000, &n, &err), TL_OK);
        cr_expect_eq(n, 5000);
        cr_expect_eq(
            tl_conf_ms("t.yaml", "s", &s->pairs[5], 1, 60000, &n, &err), TL_OK);
        cr_expect_eq(n, 250);
        cr_expect_eq(
            tl_conf_ms("t.yaml", "s", &s->pairs[6], 1, 60000, &n, &err),
            TL_EINVAL);
        cr_expect(strstr(err.msg, "t.yaml:8:6: s.g: expected a duration"), "%s",
                  err.msg);
        cr_expect_eq(tl_conf_ms("t.yaml", "s", &s->pairs[4], 1, 4000, &n, &err),
                     TL_EINVAL);
        cr_expect_eq(tl_conf_ms("t.yaml", "s", &s->pairs[2], 1, 4000, &n, &err),
                     TL_EINVAL);
        cr_expect_null(strstr(err.msg, SECRET), "leaked: %s", err.msg);
        cr_expect_eq(tl_conf_string("t.yaml", "s", &s->pairs[7], &text, &err),
                     TL_EINVAL);
        cr_expect_str_eq(err.msg, "t.yaml:9:6: s.h: expected a text value");
        cr_expect_eq(tl_conf_string("t.yaml", "s", &s->pairs[2], &text, &err),
                     TL_OK);
        cr_expect_str_eq(text, SECRET);
        tl_free(text);
        tl_yaml_free(&doc);
}

Test(config, the_database_section_feeds_libpq_unless_the_environment_does)
{
        char path[] = "/tmp/tl-conf-XXXXXX", yaml[256];
        int fd = mkstemp(path);
        struct tl_yaml_doc *doc;
        struct tl_error err = {0};

        cr_assert_geq(fd, 0);
        close(fd);
        write_file(path, SECRET "\n", strlen(SECRET) + 1);
        unsetenv("DATABASE_URL");
        unsetenv("PGPASSWORD");
        setenv("TL_CONF_HOST", "db-1", 1);
        snprintf(yaml, sizeof yaml,
                 "database:\n  dsn: postgresql://tally@${TL_CONF_HOST}/t\n"
                 "  password_file: %s\n",
                 path);
        doc = parse(yaml);
        cr_expect_eq(
            tl_conf_database("t.yaml", doc->root->pairs[0].value, &err), TL_OK,
            "%s", err.msg);
        cr_expect_str_eq(getenv("DATABASE_URL"), "postgresql://tally@db-1/t");
        cr_expect_str_eq(getenv("PGPASSWORD"), SECRET);
        setenv("DATABASE_URL", "postgresql:///from-env", 1);
        setenv("PGPASSWORD", "from-env", 1);
        cr_expect_eq(
            tl_conf_database("t.yaml", doc->root->pairs[0].value, &err), TL_OK,
            "%s", err.msg);
        cr_expect_str_eq(getenv("DATABASE_URL"), "postgresql:///from-env");
        cr_expect_str_eq(getenv("PGPASSWORD"), "from-env");
        tl_yaml_free(&doc);
        doc = parse("database: {user: x}\n");
        cr_expect_eq(
            tl_conf_database("t.yaml", doc->root->pairs[0].value, &err),
            TL_EINVAL);
        cr_expect_str_eq(err.msg, "t.yaml:1:12: database.user: unknown key");
        tl_yaml_free(&doc);
        unlink(path);
}
