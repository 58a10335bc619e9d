/* Shared by the catalog and customers loaders: reading typed values out of
   positioned YAML nodes, each failure a "file:line:column: path: message". */
#ifndef RATE_LOADER_H
#define RATE_LOADER_H

#include <stdbool.h>
#include <stddef.h>

#include "core/arena.h"
#include "core/dec.h"
#include "core/error.h"
#include "rating/catalog.h"
#include "core/yaml.h"

struct rate__ld {
        const char *file;
        struct tl_arena *arena; /* where copied strings go */
        struct rate_diags *diags;
        struct tl_error *err;
        size_t errors;
        bool oom;
};

/* Report a validation failure at 'n' (the first goes into ld->err). */
void rate__bad(struct rate__ld *ld, const struct tl_yaml_node *n,
               const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* 'n' must be a map / sequence / non-empty scalar; false after reporting. */
bool rate__is_map(struct rate__ld *ld, const struct tl_yaml_node *n,
                  const char *path);
bool rate__is_seq(struct rate__ld *ld, const struct tl_yaml_node *n,
                  const char *path);

/*
** Report every key of 'map' not in the NULL-terminated 'allowed' list.
** Returns true when all keys are known.
*/
bool rate__known_keys(struct rate__ld *ld, const struct tl_yaml_node *map,
                      const char *path, const char *const *allowed);

/* The value of required 'key', or NULL after reporting it missing. */
const struct tl_yaml_node *rate__need(struct rate__ld *ld,
                                      const struct tl_yaml_node *map,
                                      const char *path, const char *key);

/* A non-empty text scalar copied into ld->arena; NULL after reporting. */
const char *rate__text(struct rate__ld *ld, const struct tl_yaml_node *n,
                       const char *path);

/*
** An exact decimal: at most RATE_MAX_PRICE_SCALE fractional digits; when
** 'nonneg', negative is refused. false after reporting.
*/
bool rate__number(struct rate__ld *ld, const struct tl_yaml_node *n,
                  const char *path, bool nonneg, struct tl_dec *out);

/* A date YYYY-MM-DD as days since 1970-01-01. false after reporting. */
bool rate__date(struct rate__ld *ld, const struct tl_yaml_node *n,
                const char *path, int64_t *out_day);

/* Allocate zeroed 'count' x 'size' bytes from ld->arena (NULL: oom). */
void *rate__alloc(struct rate__ld *ld, size_t count, size_t size);

/* SHA-256 of 'len' bytes at 'buf' as 64 hex digits plus NUL. */
void rate__sha256_hex(const void *buf, size_t len, char out[65]);

#endif
