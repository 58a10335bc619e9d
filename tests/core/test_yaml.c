/* YAML documents: a positioned tree, and every refusal with its place. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/yaml.h"

static struct tl_yaml_doc *parse(const char *text)
{
        struct tl_yaml_doc *doc = NULL;
        struct tl_error err;

        cr_assert_eq(tl_yaml_parse("t.yaml", text, strlen(text), &doc, &err),
                     TL_OK, "%s", err.msg);
        return doc;
}

static void expect_error(const char *text, tl_status want, const char *msg)
{
        struct tl_yaml_doc *doc = NULL;
        struct tl_error err = {TL_OK, ""};

        cr_expect_eq(tl_yaml_parse("t.yaml", text, strlen(text), &doc, &err),
                     want, "%s: %s", text, err.msg);
        cr_expect(strstr(err.msg, msg), "'%s' lacks '%s'", err.msg, msg);
        cr_expect_null(doc);
}

Test(yaml, builds_a_tree_that_knows_where_each_node_is)
{
        struct tl_yaml_doc *doc =
            parse("catalog: acme-ai\n"
                  "version: \"2026-10\"\n"
                  "plans:\n"
                  "  pro:\n"
                  "    fees:\n"
                  "      - { id: platform, amount: 49.00 }\n"
                  "    tiers:\n"
                  "      - up_to: null\n"
                  "        price: 0.40\n");
        const struct tl_yaml_node *root = doc->root, *v, *fees, *tier;

        cr_assert_eq(root->kind, TL_YAML_MAP);
        cr_assert_eq(root->count, 3);
        v = tl_yaml_get(root, "version");
        cr_assert_str_eq(v->text, "2026-10");
        cr_assert_not(v->plain, "quoted");
        cr_assert_eq(v->line, 2);
        cr_assert_eq(v->col, 10);
        fees =
            tl_yaml_get(tl_yaml_get(tl_yaml_get(root, "plans"), "pro"), "fees");
        cr_assert_eq(fees->kind, TL_YAML_SEQ);
        cr_assert_eq(fees->count, 1);
        v = tl_yaml_get(fees->items[0], "amount");
        cr_assert_str_eq(v->text, "49.00");
        cr_assert(v->plain);
        cr_assert_eq(v->line, 6);
        cr_assert_eq(v->col, 33);
        tier =
            tl_yaml_get(tl_yaml_get(tl_yaml_get(root, "plans"), "pro"), "tiers")
                ->items[0];
        cr_assert(tl_yaml_is_null(tl_yaml_get(tier, "up_to")));
        cr_assert_not(tl_yaml_is_null(tl_yaml_get(tier, "price")));
        cr_assert_null(tl_yaml_get(root, "absent"));
        cr_assert_null(tl_yaml_get(v, "x"), "not a map");
        tl_yaml_free(&doc);
        cr_assert_null(doc);
}

Test(yaml, null_spellings_are_plain_only)
{
        struct tl_yaml_doc *doc =
            parse("a: ~\nb:\nc: Null\nd: \"null\"\ne: nil\n");

        cr_assert(tl_yaml_is_null(tl_yaml_get(doc->root, "a")));
        cr_assert(tl_yaml_is_null(tl_yaml_get(doc->root, "b")));
        cr_assert(tl_yaml_is_null(tl_yaml_get(doc->root, "c")));
        cr_assert_not(tl_yaml_is_null(tl_yaml_get(doc->root, "d")));
        cr_assert_not(tl_yaml_is_null(tl_yaml_get(doc->root, "e")));
        tl_yaml_free(&doc);
}

Test(yaml, refuses_aliases_and_anchors_with_their_place)
{
        expect_error("base: &b { price: 1 }\nother: *b\n", TL_EPARSE,
                     "t.yaml:1:7: YAML anchors are not allowed");
        expect_error("a: 1\nb: *x\n", TL_EPARSE, "t.yaml:2:4:");
}

/* An escaped NUL would cut a C string: "cust_A\0evil" billed as cust_A. */
Test(yaml, refuses_a_nul_written_as_an_escape_like_a_raw_one)
{
        static const char raw[] = "id: cust_A\0evil\n";
        struct tl_yaml_doc *doc = NULL;
        struct tl_error err = {TL_OK, ""};

        expect_error("id: \"cust_A\\0evil\"\n", TL_EPARSE,
                     "t.yaml:1:5: NUL characters are not allowed");
        expect_error("name: \"Alder\\x00Insurance\"\n", TL_EPARSE,
                     "t.yaml:1:7: NUL characters are not allowed");
        expect_error("a: 1\nb: [\"x\\u0000\"]\n", TL_EPARSE,
                     "t.yaml:2:5: NUL characters are not allowed");
        expect_error("\"k\\0\": 1\n", TL_EPARSE,
                     "t.yaml:1:1: NUL characters are not allowed");
        cr_expect_eq(tl_yaml_parse("t.yaml", raw, sizeof raw - 1, &doc, &err),
                     TL_EPARSE);
        cr_expect(strstr(err.msg, "t.yaml:1:"), "%s", err.msg);
        cr_expect_null(doc);
}

Test(yaml, refuses_explicit_tags_on_scalars_maps_and_sequences)
{
        expect_error("data: !!binary aGVsbG8=\n", TL_EPARSE,
                     "t.yaml:1:7: YAML tags are not supported");
        expect_error("x: !python/object:os.system {}\n", TL_EPARSE,
                     "t.yaml:1:4: YAML tags are not supported");
        expect_error("a: 1\nb: !foo [1, 2]\n", TL_EPARSE,
                     "t.yaml:2:4: YAML tags are not supported");
        expect_error("!!map\na: 1\n", TL_EPARSE,
                     "t.yaml:1:1: YAML tags are not supported");
        expect_error("n: !!str 5\n", TL_EPARSE, "tags are not supported");
        expect_error("!<tag:yaml.org,2002:str> k: v\n", TL_EPARSE,
                     "tags are not supported");
        expect_error("%TAG !e! tag:example.com,2000:\n---\na: !e!x 1\n",
                     TL_EPARSE, "t.yaml:3:4: YAML tags are not supported");
}

/* The non-specific tag "!" only says "a string, as written": harmless. */
Test(yaml, accepts_the_non_specific_tag_and_implicit_types)
{
        struct tl_yaml_doc *doc = parse("a: ! 12\nb: 12\nc: \"x\\ty\"\n");

        cr_expect_str_eq(tl_yaml_get(doc->root, "a")->text, "12");
        cr_expect_str_eq(tl_yaml_get(doc->root, "b")->text, "12");
        cr_expect_str_eq(tl_yaml_get(doc->root, "c")->text, "x\ty");
        tl_yaml_free(&doc);
}

Test(yaml, refuses_duplicate_and_complex_keys)
{
        expect_error("id: a\nname: b\nid: c\n", TL_EPARSE,
                     "t.yaml:3:1: duplicate key 'id' (first at line 1)");
        expect_error("? [a, b]\n: 1\n", TL_EPARSE,
                     "t.yaml:1:3: map keys must be scalars");
}

Test(yaml, refuses_deep_nesting_many_documents_and_empty_input)
{
        char deep[200] = "";

        for (int i = 0; i < 33; i++)
                strcat(deep, "[");
        for (int i = 0; i < 33; i++)
                strcat(deep, "]");
        expect_error(deep, TL_ELIMIT, "t.yaml:1:33: nesting deeper than 32");
        expect_error("a: 1\n---\nb: 2\n", TL_EPARSE,
                     "t.yaml:2:1: only one YAML document per file");
        expect_error("", TL_EPARSE, "t.yaml:1:1: the document is empty");
        expect_error("# only a comment\n", TL_EPARSE, "the document is empty");
}

Test(yaml, syntax_errors_carry_libyamls_reason_and_place)
{
        expect_error("a: \"unclosed\n", TL_EPARSE,
                     "t.yaml:2:1: found unexpected end of stream");
        expect_error("a: 1\n b: 2\n", TL_EPARSE,
                     "t.yaml:2:3: mapping values are not allowed");
}

Test(yaml, size_and_files_are_checked_before_parsing)
{
        size_t big = TL_YAML_MAX_BYTES + 1;
        char *text = malloc(big);
        struct tl_yaml_doc *doc = NULL;
        struct tl_error err;

        memset(text, '#', big);
        cr_assert_eq(tl_yaml_parse("big.yaml", text, big, &doc, &err),
                     TL_ELIMIT);
        cr_assert(strstr(err.msg, "big.yaml: document of 1048577 bytes"), "%s",
                  err.msg);
        free(text);
        cr_assert_eq(tl_yaml_load_file("/nonexistent/x.yaml", &doc, &err),
                     TL_EIO);
        cr_assert(strstr(err.msg, "/nonexistent/x.yaml: No such file"), "%s",
                  err.msg);
}

Test(yaml, loads_a_file_by_path)
{
        char path[] = "/tmp/tally-yaml-XXXXXX";
        int fd = mkstemp(path);
        struct tl_yaml_doc *doc = NULL;
        struct tl_error err;
        FILE *f = fdopen(fd, "w");

        fputs("currency: USD\nminimum: 100.00\n", f);
        fclose(f);
        cr_assert_eq(tl_yaml_load_file(path, &doc, &err), TL_OK, "%s", err.msg);
        cr_assert_str_eq(doc->name, path);
        cr_assert_str_eq(tl_yaml_get(doc->root, "minimum")->text, "100.00");
        tl_yaml_free(&doc);
        remove(path);
}

Test(yaml, every_failed_allocation_is_enomem_and_leaks_nothing)
{
        static const char text[] = "plans:\n  pro:\n    fees: [1, 2, 3]\n"
                                   "    name: Pro\n";
        for (long n = 0;; n++) {
                struct tl_yaml_doc *doc = NULL;
                tl_status rc;

                tl_alloc_fail_after(n);
                rc = tl_yaml_parse("t.yaml", text, sizeof text - 1, &doc, NULL);
                tl_alloc_fail_reset();
                if (rc == TL_OK) {
                        cr_assert_gt(n, 3);
                        tl_yaml_free(&doc);
                        break;
                }
                cr_assert_eq(rc, TL_ENOMEM, "allocation %ld", n);
                cr_assert_null(doc);
        }
}
