/* YAML documents (catalogs, customer files) as a tree of nodes that know
   their file:line:column, read with libyaml under hard limits. */
#ifndef TL_YAML_H
#define TL_YAML_H

#include <stdbool.h>
#include <stddef.h>

#include "core/arena.h"
#include "core/error.h"

#define TL_YAML_MAX_BYTES (1024 * 1024)
#define TL_YAML_MAX_DEPTH 32

typedef enum {
        TL_YAML_SCALAR,
        TL_YAML_MAP,
        TL_YAML_SEQ,
} tl_yaml_kind;

struct tl_yaml_node;

struct tl_yaml_pair {
        const struct tl_yaml_node *key; /* always a scalar */
        const struct tl_yaml_node *value;
};

struct tl_yaml_node {
        tl_yaml_kind kind;
        unsigned line; /* 1-based, where the node starts */
        unsigned col;  /* 1-based */
        /* Scalars: the text (NUL-terminated), and whether it was written
           plain (unquoted): only plain scalars can mean null or a number
           written bare. */
        const char *text;
        size_t len;
        bool plain;
        /* Maps: 'count' pairs in document order; sequences: 'count' items. */
        size_t count;
        const struct tl_yaml_pair *pairs;
        const struct tl_yaml_node *const *items;
};

struct tl_yaml_doc {
        char name[256]; /* the file name used in messages */
        const struct tl_yaml_node *root;
        struct tl_arena arena; /* owns every node and string */
};

/*
** Parse one YAML document of 'len' bytes at 'buf'; 'name' prefixes every
** message ("pricing-rules/2026-11.yaml:14:9: ..."). Refused, each with its
** position: aliases and anchors (no expansion, ever), explicit tags
** (!!binary, !foo; the non-specific "!" is fine), a NUL in a scalar (also
** one written as an escape: \0, \x00, \u0000), nesting deeper than
** TL_YAML_MAX_DEPTH, duplicate map keys, keys that are not scalars, more
** than one document, an empty document. Over TL_YAML_MAX_BYTES is refused
** before parsing. Returns TL_OK and '*out' (free with tl_yaml_free),
** TL_EPARSE, TL_ELIMIT or TL_ENOMEM.
*/
tl_status tl_yaml_parse(const char *name, const void *buf, size_t len,
                        struct tl_yaml_doc **out, struct tl_error *err);

/* Read and parse the file at 'path' (named by its path). Adds TL_EIO. */
tl_status tl_yaml_load_file(const char *path, struct tl_yaml_doc **out,
                            struct tl_error *err);

/*
** Read the whole file at 'path' into '*out' (NUL-terminated, freed with
** tl_free) and its length into '*out_len'. At most TL_YAML_MAX_BYTES:
** TL_ELIMIT past that; TL_EIO naming the path; TL_ENOMEM.
*/
tl_status tl_read_file(const char *path, char **out, size_t *out_len,
                       struct tl_error *err);

void tl_yaml_free(struct tl_yaml_doc **pp);

/* The value of 'key' in map 'map', or NULL (also when 'map' is no map). */
const struct tl_yaml_node *tl_yaml_get(const struct tl_yaml_node *map,
                                       const char *key);

/* True for a plain null: "null", "Null", "NULL", "~" or an empty value. */
bool tl_yaml_is_null(const struct tl_yaml_node *n);

#endif
