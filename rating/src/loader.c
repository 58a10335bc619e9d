/* Typed reads from positioned YAML nodes, with precise messages. */
#include "loader.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/sha.h>

#include "core/alloc.h"
#include "core/str.h"
#include "core/time.h"

void rate_diags_add(struct rate_diags *d, const char *fmt, ...)
{
        char msg[RATE_DIAG_MSG_MAX];
        va_list ap;

        if (!d)
                return;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        /* A plan that extends another re-validates what it inherits; the
           same fault must be reported once. */
        for (size_t i = 0; i < d->count; i++)
                if (strcmp(d->msg[i], msg) == 0)
                        return;
        if (d->count == RATE_DIAG_MAX) {
                d->dropped++;
                return;
        }
        memcpy(d->msg[d->count++], msg, sizeof msg);
}

/*
** Whether 'd' already holds a message starting with 'at' and ending with
** 'what'. A plan that extends another re-validates the nodes it inherits
** under its own path: the same message at the same place is one fault.
*/
static bool reported_at(const struct rate_diags *d, const char *at,
                        const char *what)
{
        size_t at_len = strlen(at), what_len = strlen(what);

        for (size_t i = 0; d && i < d->count; i++) {
                size_t len = strlen(d->msg[i]);

                if (len >= at_len + what_len &&
                    strncmp(d->msg[i], at, at_len) == 0 &&
                    strcmp(d->msg[i] + len - what_len, what) == 0)
                        return true;
        }
        return false;
}

void rate__bad(struct rate__ld *ld, const struct tl_yaml_node *n,
               const char *path, const char *fmt, ...)
{
        char what[RATE_DIAG_MSG_MAX], at[RATE_DIAG_MSG_MAX];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(what, sizeof what, fmt, ap);
        va_end(ap);
        snprintf(at, sizeof at, "%s:%u:%u: ", ld->file, n ? n->line : 1,
                 n ? n->col : 1);
        if (ld->errors > 0 && reported_at(ld->diags, at, what))
                return;
        if (ld->errors++ == 0)
                tl_fail(ld->err, TL_EINVAL, "%s:%u:%u: %s%s%s", ld->file,
                        n ? n->line : 1, n ? n->col : 1, path,
                        *path ? ": " : "", what);
        rate_diags_add(ld->diags, "%s:%u:%u: %s%s%s", ld->file, n ? n->line : 1,
                       n ? n->col : 1, path, *path ? ": " : "", what);
}

static const char *kind_name(tl_yaml_kind k)
{
        return k == TL_YAML_MAP   ? "a map"
               : k == TL_YAML_SEQ ? "a list"
                                  : "a scalar";
}

bool rate__is_map(struct rate__ld *ld, const struct tl_yaml_node *n,
                  const char *path)
{
        if (n->kind == TL_YAML_MAP)
                return true;
        rate__bad(ld, n, path, "expected a map, got %s", kind_name(n->kind));
        return false;
}

bool rate__is_seq(struct rate__ld *ld, const struct tl_yaml_node *n,
                  const char *path)
{
        if (n->kind == TL_YAML_SEQ)
                return true;
        rate__bad(ld, n, path, "expected a list, got %s", kind_name(n->kind));
        return false;
}

bool rate__known_keys(struct rate__ld *ld, const struct tl_yaml_node *map,
                      const char *path, const char *const *allowed)
{
        bool ok = true;

        for (size_t i = 0; i < map->count; i++) {
                const struct tl_yaml_node *k = map->pairs[i].key;
                size_t j = 0;

                while (allowed[j] && strcmp(allowed[j], k->text) != 0)
                        j++;
                if (!allowed[j]) {
                        rate__bad(ld, k, path, "unknown key '%s'", k->text);
                        ok = false;
                }
        }
        return ok;
}

const struct tl_yaml_node *rate__need(struct rate__ld *ld,
                                      const struct tl_yaml_node *map,
                                      const char *path, const char *key)
{
        const struct tl_yaml_node *v = tl_yaml_get(map, key);

        if (!v)
                rate__bad(ld, map, path, "missing required key '%s'", key);
        return v;
}

void *rate__alloc(struct rate__ld *ld, size_t count, size_t size)
{
        void *mem;

        if (count == 0)
                count = 1;
        if (count > SIZE_MAX / size ||
            tl_arena_alloc(ld->arena, count * size, &mem, NULL) != TL_OK) {
                ld->oom = true;
                return NULL;
        }
        memset(mem, 0, count * size);
        return mem;
}

const char *rate__text(struct rate__ld *ld, const struct tl_yaml_node *n,
                       const char *path)
{
        char *s;

        if (n->kind != TL_YAML_SCALAR) {
                rate__bad(ld, n, path, "expected text, got %s",
                          kind_name(n->kind));
                return NULL;
        }
        if (tl_yaml_is_null(n) || n->len == 0) {
                rate__bad(ld, n, path, "must not be empty");
                return NULL;
        }
        if (tl_arena_strndup(ld->arena, n->text, n->len, &s, NULL)) {
                ld->oom = true;
                return NULL;
        }
        return s;
}

/* Whether tl_dec_parse refused 'text' for digits too fine rather than a
   value too large: its fractional limit, or an exponent of more than three
   digits that is negative. */
static bool too_fine(const char *text, const struct tl_error *e)
{
        const char *x = strpbrk(text, "eE");

        if (strstr(e->msg, "fractional"))
                return true;
        return strstr(e->msg, "exponent") && x && x[1] == '-';
}

bool rate__number(struct rate__ld *ld, const struct tl_yaml_node *n,
                  const char *path, bool nonneg, struct tl_dec *out)
{
        struct tl_error e;
        struct tl_dec d;
        tl_status rc;

        if (n->kind != TL_YAML_SCALAR || tl_yaml_is_null(n)) {
                rate__bad(ld, n, path, "expected a number, got %s",
                          n->kind == TL_YAML_SCALAR ? "null"
                                                    : kind_name(n->kind));
                return false;
        }
        if ((rc = tl_dec_parse(n->text, n->len, &d, &e)) != TL_OK) {
                /* Out of range is not malformed: say which limit. */
                if (rc == TL_ERANGE && too_fine(n->text, &e))
                        rate__bad(ld, n, path,
                                  "'%s' has more than %d fractional digits",
                                  n->text, RATE_MAX_PRICE_SCALE);
                else if (rc == TL_ERANGE)
                        rate__bad(ld, n, path,
                                  "'%s' is too large: a number has at most "
                                  "38 digits (below 1.7e38)",
                                  n->text);
                else
                        rate__bad(ld, n, path,
                                  "'%s' is not an exact decimal number",
                                  n->text);
                return false;
        }
        if (d.scale > RATE_MAX_PRICE_SCALE) {
                rate__bad(ld, n, path,
                          "'%s' has more than %d fractional digits", n->text,
                          RATE_MAX_PRICE_SCALE);
                return false;
        }
        if (nonneg && tl_dec_is_negative(&d)) {
                rate__bad(ld, n, path, "must not be negative (got %s)",
                          n->text);
                return false;
        }
        *out = d;
        return true;
}

bool rate__date(struct rate__ld *ld, const struct tl_yaml_node *n,
                const char *path, int64_t *out_day)
{
        unsigned y, m, d;
        char tail;

        /* sscanf's %u alone would take "2026-+1-01": digits are checked
           first, position by position. */
        if (n->kind != TL_YAML_SCALAR || n->len != 10 ||
            strspn(n->text, "0123456789") != 4 ||
            strspn(n->text + 5, "0123456789") != 2 ||
            strspn(n->text + 8, "0123456789") != 2 ||
            sscanf(n->text, "%4u-%2u-%2u%c", &y, &m, &d, &tail) != 3 ||
            n->text[4] != '-' || n->text[7] != '-' || y < 1970 || m < 1 ||
            m > 12 || d < 1 || d > tl_days_in_month(y, m)) {
                rate__bad(ld, n, path, "expected a date YYYY-MM-DD, got '%s'",
                          n->kind == TL_YAML_SCALAR ? n->text : "");
                return false;
        }
        *out_day = tl_days_from_civil(y, m, d);
        return true;
}

void rate__sha256_hex(const void *buf, size_t len, char out[65])
{
        unsigned char h[SHA256_DIGEST_LENGTH];
        static const char hex[] = "0123456789abcdef";

        SHA256(buf, len, h);
        for (int i = 0; i < SHA256_DIGEST_LENGTH; i++) {
                out[2 * i] = hex[h[i] >> 4];
                out[2 * i + 1] = hex[h[i] & 15];
        }
        out[64] = '\0';
}
