/* YAML to a positioned node tree on libyaml's event parser. */
#include "core/yaml.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <yaml.h>

#include "core/alloc.h"
#include "core/str.h"

/* Nodes and strings of a 1 MiB document fit well within this. */
#define ARENA_CAP (32u * 1024 * 1024)

/* A map or sequence being built: its node and its children so far. */
struct frame {
        struct tl_yaml_node *node;
        struct tl_buf kids; /* node pointers (sequence) or pairs (map) */
        const struct tl_yaml_node *pending_key;
};

struct builder {
        struct tl_yaml_doc *doc;
        struct frame stack[TL_YAML_MAX_DEPTH + 1];
        int depth;
        int documents;
        struct tl_error *err;
};

static tl_status at(struct builder *b, yaml_mark_t m, tl_status code,
                    const char *what)
{
        return tl_fail(b->err, code, "%s:%zu:%zu: %s", b->doc->name, m.line + 1,
                       m.column + 1, what);
}

static tl_status new_node(struct builder *b, tl_yaml_kind kind, yaml_mark_t m,
                          struct tl_yaml_node **out)
{
        void *mem;
        tl_status rc =
            tl_arena_alloc(&b->doc->arena, sizeof **out, &mem, b->err);

        if (rc)
                return rc;
        memset(mem, 0, sizeof **out);
        *out = mem;
        (*out)->kind = kind;
        (*out)->line = (unsigned)m.line + 1;
        (*out)->col = (unsigned)m.column + 1;
        return TL_OK;
}

/* Two scalars are the same key when their texts are equal. */
static const struct tl_yaml_node *find_key(const struct frame *f,
                                           const struct tl_yaml_node *k)
{
        const struct tl_yaml_pair *pairs = (const void *)f->kids.data;
        size_t n = f->kids.len / sizeof *pairs;

        for (size_t i = 0; i < n; i++)
                if (pairs[i].key->len == k->len &&
                    memcmp(pairs[i].key->text, k->text, k->len) == 0)
                        return pairs[i].key;
        return NULL;
}

/* Attach a finished node to its parent, or make it the root. */
static tl_status attach(struct builder *b, const struct tl_yaml_node *n)
{
        struct frame *f;
        char msg[160];

        if (b->depth == 0) {
                b->doc->root = n;
                return TL_OK;
        }
        f = &b->stack[b->depth - 1];
        if (f->node->kind == TL_YAML_SEQ)
                return tl_buf_append(&f->kids, &n, sizeof n, b->err);
        if (!f->pending_key) {
                const struct tl_yaml_node *first;
                if (n->kind != TL_YAML_SCALAR)
                        return tl_fail(b->err, TL_EPARSE,
                                       "%s:%u:%u: map keys must be scalars",
                                       b->doc->name, n->line, n->col);
                first = find_key(f, n);
                if (first) {
                        snprintf(msg, sizeof msg,
                                 "duplicate key '%.60s' (first at line %u)",
                                 n->text, first->line);
                        return tl_fail(b->err, TL_EPARSE, "%s:%u:%u: %s",
                                       b->doc->name, n->line, n->col, msg);
                }
                f->pending_key = n;
                return TL_OK;
        }
        struct tl_yaml_pair p = {f->pending_key, n};
        f->pending_key = NULL;
        return tl_buf_append(&f->kids, &p, sizeof p, b->err);
}

static tl_status scalar(struct builder *b, const yaml_event_t *e)
{
        struct tl_yaml_node *n;
        char *text;
        tl_status rc = new_node(b, TL_YAML_SCALAR, e->start_mark, &n);

        /* An escape (\0, \x00, \u0000) can write a NUL that C strings
           would silently cut at: "cust_A\0evil" would bill cust_A. */
        if (!rc && memchr(e->data.scalar.value, 0, e->data.scalar.length))
                return at(b, e->start_mark, TL_EPARSE,
                          "NUL characters are not allowed");
        if (!rc)
                rc = tl_arena_strndup(&b->doc->arena,
                                      (const char *)e->data.scalar.value,
                                      e->data.scalar.length, &text, b->err);
        if (rc)
                return rc;
        n->text = text;
        n->len = e->data.scalar.length;
        n->plain = e->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
        return attach(b, n);
}

static tl_status open_container(struct builder *b, const yaml_event_t *e,
                                tl_yaml_kind kind)
{
        struct tl_yaml_node *n;
        tl_status rc;

        if (b->depth == TL_YAML_MAX_DEPTH)
                return at(b, e->start_mark, TL_ELIMIT,
                          "nesting deeper than 32");
        rc = new_node(b, kind, e->start_mark, &n);
        if (rc)
                return rc;
        b->stack[b->depth].node = n;
        b->stack[b->depth].pending_key = NULL;
        tl_buf_init(&b->stack[b->depth].kids, 0);
        b->depth++;
        return TL_OK;
}

static tl_status close_container(struct builder *b)
{
        struct frame *f = &b->stack[b->depth - 1];
        struct tl_yaml_node *n = f->node;
        void *mem = NULL;
        tl_status rc = TL_OK;

        if (f->kids.len) {
                rc = tl_arena_alloc(&b->doc->arena, f->kids.len, &mem, b->err);
                if (!rc)
                        memcpy(mem, f->kids.data, f->kids.len);
        }
        if (n->kind == TL_YAML_MAP) {
                n->count = f->kids.len / sizeof(struct tl_yaml_pair);
                n->pairs = mem;
        } else {
                n->count = f->kids.len / sizeof(struct tl_yaml_node *);
                n->items = mem;
        }
        tl_buf_release(&f->kids);
        b->depth--;
        return rc ? rc : attach(b, n);
}

/* Anchors are refused with aliases: a catalog means what it says, once. */
static const char *anchor_of(const yaml_event_t *e)
{
        switch (e->type) {
        case YAML_SCALAR_EVENT:
                return (const char *)e->data.scalar.anchor;
        case YAML_SEQUENCE_START_EVENT:
                return (const char *)e->data.sequence_start.anchor;
        case YAML_MAPPING_START_EVENT:
                return (const char *)e->data.mapping_start.anchor;
        default:
                return NULL;
        }
}

/* The explicit tag of a node, or NULL; the non-specific "!" is none. */
static const char *tag_of(const yaml_event_t *e)
{
        const char *t = NULL;

        switch (e->type) {
        case YAML_SCALAR_EVENT:
                t = (const char *)e->data.scalar.tag;
                break;
        case YAML_SEQUENCE_START_EVENT:
                t = (const char *)e->data.sequence_start.tag;
                break;
        case YAML_MAPPING_START_EVENT:
                t = (const char *)e->data.mapping_start.tag;
                break;
        default:
                break;
        }
        return t && strcmp(t, "!") ? t : NULL;
}

static tl_status on_event(struct builder *b, const yaml_event_t *e)
{
        /* A tag would ask for a type the reader does not make (!!binary,
           !python/object): refused rather than read as plain text. */
        if (tag_of(e))
                return at(b, e->start_mark, TL_EPARSE,
                          "YAML tags are not supported");
        if (anchor_of(e))
                return at(b, e->start_mark, TL_EPARSE,
                          "YAML anchors are not allowed (aliases are refused)");
        switch (e->type) {
        case YAML_ALIAS_EVENT:
                return at(b, e->start_mark, TL_EPARSE,
                          "YAML aliases are not allowed");
        case YAML_DOCUMENT_START_EVENT:
                if (++b->documents > 1)
                        return at(b, e->start_mark, TL_EPARSE,
                                  "only one YAML document per file");
                return TL_OK;
        case YAML_SCALAR_EVENT:
                return scalar(b, e);
        case YAML_SEQUENCE_START_EVENT:
                return open_container(b, e, TL_YAML_SEQ);
        case YAML_MAPPING_START_EVENT:
                return open_container(b, e, TL_YAML_MAP);
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
                return close_container(b);
        default:
                return TL_OK;
        }
}

static tl_status parse_error(struct builder *b, const yaml_parser_t *p)
{
        const char *what = p->problem ? p->problem : "malformed YAML";

        if (p->error == YAML_MEMORY_ERROR)
                return tl_fail(b->err, TL_ENOMEM, "%s: out of memory",
                               b->doc->name);
        if (p->context)
                return tl_fail(b->err, TL_EPARSE, "%s:%zu:%zu: %s %s",
                               b->doc->name, p->problem_mark.line + 1,
                               p->problem_mark.column + 1, what, p->context);
        return tl_fail(b->err, TL_EPARSE, "%s:%zu:%zu: %s", b->doc->name,
                       p->problem_mark.line + 1, p->problem_mark.column + 1,
                       what);
}

static tl_status run(struct builder *b, const void *buf, size_t len)
{
        yaml_parser_t parser;
        yaml_event_t e;
        tl_status rc = TL_OK;
        bool done = false;

        if (!yaml_parser_initialize(&parser))
                return tl_fail(b->err, TL_ENOMEM, "%s: out of memory",
                               b->doc->name);
        yaml_parser_set_input_string(&parser, buf, len);
        while (!done && !rc) {
                if (!yaml_parser_parse(&parser, &e)) {
                        rc = parse_error(b, &parser);
                        break;
                }
                done = e.type == YAML_STREAM_END_EVENT;
                rc = on_event(b, &e);
                yaml_event_delete(&e);
        }
        yaml_parser_delete(&parser);
        /* Frames left open by an error still own their child lists. */
        while (b->depth > 0)
                tl_buf_release(&b->stack[--b->depth].kids);
        return rc;
}

tl_status tl_yaml_parse(const char *name, const void *buf, size_t len,
                        struct tl_yaml_doc **out, struct tl_error *err)
{
        struct builder b = {.err = err};
        tl_status rc;

        if (len > TL_YAML_MAX_BYTES)
                return tl_fail(err, TL_ELIMIT,
                               "%s: document of %zu bytes is over the 1 MiB "
                               "limit",
                               name, len);
        b.doc = tl_calloc(1, sizeof *b.doc);
        if (!b.doc)
                return tl_fail(err, TL_ENOMEM, "%s: out of memory", name);
        snprintf(b.doc->name, sizeof b.doc->name, "%s", name);
        tl_arena_init(&b.doc->arena, 16 * 1024, ARENA_CAP);
        rc = run(&b, buf, len);
        if (!rc && !b.doc->root)
                rc = tl_fail(err, TL_EPARSE, "%s:1:1: the document is empty",
                             name);
        if (rc) {
                tl_yaml_free(&b.doc);
                return rc;
        }
        *out = b.doc;
        return TL_OK;
}

tl_status tl_read_file(const char *path, char **out, size_t *out_len,
                       struct tl_error *err)
{
        struct tl_buf data;
        char chunk[65536];
        FILE *f = fopen(path, "rb");
        tl_status rc = TL_OK;
        size_t n;

        if (!f)
                return tl_fail(err, TL_EIO, "%s: %s", path, strerror(errno));
        tl_buf_init(&data, TL_YAML_MAX_BYTES + 1);
        while (!rc && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
                rc = tl_buf_append(&data, chunk, n, err);
        if (rc == TL_ELIMIT)
                rc = tl_fail(err, TL_ELIMIT,
                             "%s: over the 1 MiB limit for a YAML document",
                             path);
        else if (!rc && ferror(f))
                rc = tl_fail(err, TL_EIO, "%s: read error", path);
        fclose(f);
        if (!rc && !data.data) {
                /* An empty file still hands back a string. */
                data.data = tl_malloc(1);
                if (!data.data)
                        rc = tl_fail(err, TL_ENOMEM, "%s: out of memory", path);
                else
                        data.data[0] = '\0';
        }
        if (rc) {
                tl_buf_release(&data);
                return rc;
        }
        *out = (char *)data.data;
        *out_len = data.len;
        return TL_OK;
}

tl_status tl_yaml_load_file(const char *path, struct tl_yaml_doc **out,
                            struct tl_error *err)
{
        char *data;
        size_t len;
        tl_status rc = tl_read_file(path, &data, &len, err);

        if (rc)
                return rc;
        rc = tl_yaml_parse(path, data, len, out, err);
        tl_free(data);
        return rc;
}

void tl_yaml_free(struct tl_yaml_doc **pp)
{
        if (!pp || !*pp)
                return;
        tl_arena_release(&(*pp)->arena);
        tl_free(*pp);
        *pp = NULL;
}

const struct tl_yaml_node *tl_yaml_get(const struct tl_yaml_node *map,
                                       const char *key)
{
        size_t len = strlen(key);

        if (!map || map->kind != TL_YAML_MAP)
                return NULL;
        for (size_t i = 0; i < map->count; i++)
                if (map->pairs[i].key->len == len &&
                    memcmp(map->pairs[i].key->text, key, len) == 0)
                        return map->pairs[i].value;
        return NULL;
}

bool tl_yaml_is_null(const struct tl_yaml_node *n)
{
        return n && n->kind == TL_YAML_SCALAR && n->plain &&
               (n->len == 0 || strcmp(n->text, "~") == 0 ||
                strcmp(n->text, "null") == 0 || strcmp(n->text, "Null") == 0 ||
                strcmp(n->text, "NULL") == 0);
}
