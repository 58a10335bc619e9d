/* Config-section helpers shared by every service's config file. */
#include "core/config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/str.h"

#define SUFFIX "_file"
#define SUFFIX_LEN 5

tl_status tl_conf_fail(struct tl_error *err, tl_status code, const char *file,
                       const struct tl_yaml_node *n, const char *path,
                       const char *what)
{
        if (!path || !*path)
                return tl_fail(err, code, "%s:%u:%u: %s", file, n->line, n->col,
                               what);
        return tl_fail(err, code, "%s:%u:%u: %s: %s", file, n->line, n->col,
                       path, what);
}

static bool is_file_key(const struct tl_yaml_node *k)
{
        return k->len > SUFFIX_LEN &&
               !memcmp(k->text + k->len - SUFFIX_LEN, SUFFIX, SUFFIX_LEN);
}

const char *tl_conf_key(const struct tl_yaml_pair *p, char *buf, size_t cap)
{
        size_t n = p->key->len - (is_file_key(p->key) ? SUFFIX_LEN : 0);

        snprintf(buf, cap, "%.*s", (int)n, p->key->text);
        return buf;
}

static void join(char *out, size_t cap, const char *section, const char *key)
{
        if (section && *section)
                snprintf(out, cap, "%s.%s", section, key);
        else
                snprintf(out, cap, "%s", key);
}

static bool known_key(const char *const *known, const char *k)
{
        if (!known)
                return true;
        for (; *known; known++)
                if (!strcmp(*known, k))
                        return true;
        return false;
}

tl_status tl_conf_section(const char *file, const char *section,
                          const struct tl_yaml_node *n,
                          const char *const *known, struct tl_error *err)
{
        if (n->kind != TL_YAML_MAP)
                return tl_conf_fail(err, TL_EINVAL, file, n, section,
                                    "expected a map");
        for (size_t i = 0; i < n->count; i++) {
                const struct tl_yaml_pair *p = &n->pairs[i];
                char k[256], path[512];

                tl_conf_key(p, k, sizeof k);
                join(path, sizeof path, section, p->key->text);
                if (!known_key(known, k))
                        return tl_conf_fail(err, TL_EINVAL, file, p->key, path,
                                            "unknown key");
                /* The parser refuses duplicates, so one of k, k_file is
                   enough to look for among the earlier keys. */
                for (size_t j = 0; j < i; j++) {
                        char other[256];
                        if (strcmp(
                                tl_conf_key(&n->pairs[j], other, sizeof other),
                                k))
                                continue;
                        char what[TL_ERROR_MSG_MAX];
                        snprintf(what, sizeof what,
                                 "given twice, as %.100s and as %.100s_file "
                                 "(line %u)",
                                 k, k, n->pairs[j].key->line);
                        return tl_conf_fail(err, TL_EINVAL, file, p->key, path,
                                            what);
                }
        }
        return TL_OK;
}

static bool name_ok(const char *s, const char *end, size_t cap)
{
        if (s == end || (size_t)(end - s) >= cap)
                return false;
        for (const char *c = s; c < end; c++)
                if (*c != '_' && !isalpha((unsigned char)*c) &&
                    (c == s || !isdigit((unsigned char)*c)))
                        return false;
        return true;
}

tl_status tl_conf_expand(const char *file, const char *path,
                         const struct tl_yaml_node *n, char **out,
                         struct tl_error *err)
{
        struct tl_buf b;
        struct tl_error e;
        tl_status rc = TL_OK;
        const char *s, *end;

        if (n->kind != TL_YAML_SCALAR)
                return tl_conf_fail(err, TL_EINVAL, file, n, path,
                                    "expected a value");
        tl_buf_init(&b, TL_CONF_MAX_VALUE);
        s = n->text;
        end = n->text + n->len;
        while (!rc && s < end) {
                const char *dollar = memchr(s, '$', (size_t)(end - s));
                const char *name, *close;
                char var[128], what[256];
                const char *v;

                if (!dollar) {
                        rc = tl_buf_append(&b, s, (size_t)(end - s), &e);
                        break;
                }
                rc = tl_buf_append(&b, s, (size_t)(dollar - s), &e);
                if (rc)
                        break;
                if (end - dollar >= 3 && !memcmp(dollar, "$${", 3)) {
                        rc = tl_buf_append(&b, "${", 2, &e);
                        s = dollar + 3;
                        continue;
                }
                if (end - dollar < 2 || dollar[1] != '{') {
                        rc = tl_buf_append(&b, "$", 1, &e);
                        s = dollar + 1;
                        continue;
                }
                name = dollar + 2;
                close = memchr(name, '}', (size_t)(end - name));
                if (!close) {
                        tl_buf_release(&b);
                        return tl_conf_fail(err, TL_EINVAL, file, n, path,
                                            "'${' without its '}' (write "
                                            "'$${' for a literal '${')");
                }
                if (!name_ok(name, close, sizeof var)) {
                        tl_buf_release(&b);
                        return tl_conf_fail(
                            err, TL_EINVAL, file, n, path,
                            "'${...}' must hold an environment variable name "
                            "(a letter or '_', then letters, digits, '_')");
                }
                snprintf(var, sizeof var, "%.*s", (int)(close - name), name);
                v = getenv(var);
                if (!v) {
                        tl_buf_release(&b);
                        snprintf(what, sizeof what,
                                 "environment variable %s is not set", var);
                        return tl_conf_fail(err, TL_EINVAL, file, n, path,
                                            what);
                }
                rc = tl_buf_puts(&b, v, &e);
                s = close + 1;
        }
        if (!rc && !b.data)
                rc = tl_buf_append(&b, "", 0, &e);
        if (rc) {
                tl_buf_release(&b);
                return tl_conf_fail(err, rc, file, n, path,
                                    rc == TL_ELIMIT
                                        ? "value over 64 KiB after expansion"
                                        : "out of memory");
        }
        *out = (char *)b.data;
        return TL_OK;
}

/* The secret in the file at 'fpath'; never quoted in a message. */
static tl_status read_value(const char *file, const struct tl_yaml_node *n,
                            const char *path, const char *fpath, char **out,
                            struct tl_error *err)
{
        struct tl_buf b;
        struct tl_error e;
        char chunk[4096], what[TL_ERROR_MSG_MAX];
        FILE *f = fopen(fpath, "rb");
        size_t got;
        tl_status rc = TL_OK;

        if (!f) {
                snprintf(what, sizeof what, "cannot read %s: %s", fpath,
                         strerror(errno));
                return tl_conf_fail(err, TL_EIO, file, n, path, what);
        }
        tl_buf_init(&b, TL_CONF_MAX_VALUE);
        while (!rc && (got = fread(chunk, 1, sizeof chunk, f)) > 0)
                rc = tl_buf_append(&b, chunk, got, &e);
        if (!rc && ferror(f))
                rc = TL_EIO;
        fclose(f);
        if (!rc && !b.data)
                rc = tl_buf_append(&b, "", 0, &e);
        if (!rc && memchr(b.data, '\0', b.len))
                rc = TL_EINVAL;
        if (rc) {
                tl_buf_release(&b);
                snprintf(what, sizeof what, "%s: %s", fpath,
                         rc == TL_ELIMIT   ? "over the 64 KiB limit"
                         : rc == TL_EIO    ? "read error"
                         : rc == TL_EINVAL ? "holds a NUL byte"
                                           : "out of memory");
                return tl_conf_fail(err, rc, file, n, path, what);
        }
        while (b.len &&
               (b.data[b.len - 1] == '\n' || b.data[b.len - 1] == '\r'))
                b.data[--b.len] = '\0';
        *out = (char *)b.data;
        return TL_OK;
}

tl_status tl_conf_text(const char *file, const char *section,
                       const struct tl_yaml_pair *p, char **out,
                       struct tl_error *err)
{
        char path[512];
        char *fpath;
        tl_status rc;

        join(path, sizeof path, section, p->key->text);
        rc = tl_conf_expand(file, path, p->value, out, err);
        if (rc || !is_file_key(p->key))
                return rc;
        fpath = *out;
        *out = NULL;
        if (!*fpath)
                rc = tl_conf_fail(err, TL_EINVAL, file, p->value, path,
                                  "expected a file name");
        else
                rc = read_value(file, p->value, path, fpath, out, err);
        tl_free(fpath);
        return rc;
}

tl_status tl_conf_parse_long(const char *text, long min, long max, long *out,
                             struct tl_error *err)
{
        char *end;
        long n;

        errno = 0;
        n = strtol(text, &end, 10);
        if (errno || end == text || *end || isspace((unsigned char)*text) ||
            n < min || n > max)
                return tl_fail(err, TL_EINVAL,
                               "expected an integer in [%ld, %ld]", min, max);
        *out = n;
        return TL_OK;
}

tl_status tl_conf_parse_bool(const char *text, bool *out, struct tl_error *err)
{
        static const char *const YES[] = {"true", "yes", "on"};
        static const char *const NO[] = {"false", "no", "off"};

        for (size_t i = 0; i < 3; i++) {
                if (!strcmp(text, YES[i])) {
                        *out = true;
                        return TL_OK;
                }
                if (!strcmp(text, NO[i])) {
                        *out = false;
                        return TL_OK;
                }
        }
        return tl_fail(err, TL_EINVAL, "expected true or false");
}

tl_status tl_conf_parse_ms(const char *text, long min_ms, long max_ms,
                           long *out, struct tl_error *err)
{
        static const struct {
                const char *unit;
                long ms;
        } U[] = {{"", 1}, {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}};
        char *end;
        long n;

        errno = 0;
        n = strtol(text, &end, 10);
        if (!errno && end != text && isdigit((unsigned char)*text))
                for (size_t i = 0; i < sizeof U / sizeof U[0]; i++)
                        if (!strcmp(end, U[i].unit) && n <= max_ms / U[i].ms &&
                            n * U[i].ms >= min_ms) {
                                *out = n * U[i].ms;
                                return TL_OK;
                        }
        return tl_fail(err, TL_EINVAL,
                       "expected a duration from %ld to %ld ms (e.g. 500, "
                       "250ms, 5s, 2m, 1h)",
                       min_ms, max_ms);
}

/* A parse failure of pair 'p', put at its value. */
static tl_status place(const char *file, const char *section,
                       const struct tl_yaml_pair *p, tl_status rc,
                       const struct tl_error *e, struct tl_error *err)
{
        char path[512];

        join(path, sizeof path, section, p->key->text);
        return tl_conf_fail(err, rc, file, p->value, path, e->msg);
}

tl_status tl_conf_string(const char *file, const char *section,
                         const struct tl_yaml_pair *p, char **slot,
                         struct tl_error *err)
{
        char *text;
        tl_status rc = tl_conf_text(file, section, p, &text, err);

        if (rc)
                return rc;
        if (!*text) {
                struct tl_error e = {TL_EINVAL, "expected a text value"};
                tl_free(text);
                return place(file, section, p, TL_EINVAL, &e, err);
        }
        tl_free(*slot);
        *slot = text;
        return TL_OK;
}

tl_status tl_conf_long(const char *file, const char *section,
                       const struct tl_yaml_pair *p, long min, long max,
                       long *out, struct tl_error *err)
{
        struct tl_error e;
        char *text;
        tl_status rc = tl_conf_text(file, section, p, &text, err);

        if (rc)
                return rc;
        rc = tl_conf_parse_long(text, min, max, out, &e);
        tl_free(text);
        return rc ? place(file, section, p, rc, &e, err) : TL_OK;
}

tl_status tl_conf_bool(const char *file, const char *section,
                       const struct tl_yaml_pair *p, bool *out,
                       struct tl_error *err)
{
        struct tl_error e;
        char *text;
        tl_status rc = tl_conf_text(file, section, p, &text, err);

        if (rc)
                return rc;
        rc = tl_conf_parse_bool(text, out, &e);
        tl_free(text);
        return rc ? place(file, section, p, rc, &e, err) : TL_OK;
}

tl_status tl_conf_ms(const char *file, const char *section,
                     const struct tl_yaml_pair *p, long min_ms, long max_ms,
                     long *out, struct tl_error *err)
{
        struct tl_error e;
        char *text;
        tl_status rc = tl_conf_text(file, section, p, &text, err);

        if (rc)
                return rc;
        rc = tl_conf_parse_ms(text, min_ms, max_ms, out, &e);
        tl_free(text);
        return rc ? place(file, section, p, rc, &e, err) : TL_OK;
}

tl_status tl_conf_database(const char *file, const struct tl_yaml_node *n,
                           struct tl_error *err)
{
        static const char *const KNOWN[] = {"dsn", "password", NULL};
        tl_status rc = tl_conf_section(file, "database", n, KNOWN, err);

        for (size_t i = 0; !rc && i < n->count; i++) {
                const struct tl_yaml_pair *p = &n->pairs[i];
                char k[16];
                const char *env = strcmp(tl_conf_key(p, k, sizeof k), "dsn")
                                      ? "PGPASSWORD"
                                      : "DATABASE_URL";
                const char *have = getenv(env);
                char *text = NULL;

                if (have && *have)
                        continue;
                rc = tl_conf_text(file, "database", p, &text, err);
                if (!rc && setenv(env, text, 1))
                        rc = tl_conf_fail(err, TL_ENOMEM, file, p->value,
                                          "database", "cannot set the value");
                if (text) {
                        /* The environment holds its own copy now. */
                        memset(text, 0, strlen(text));
                        tl_free(text);
                }
        }
        return rc;
}
