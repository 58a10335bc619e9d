/* Sections of a service's YAML config file: known keys, typed values with
   ranges, ${VAR} expansion and k_file secrets, each fault at its place. */
#ifndef TL_CONFIG_H
#define TL_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "core/error.h"
#include "core/yaml.h"

/* Longest value after expansion, and largest file a k_file key reads. */
#define TL_CONF_MAX_VALUE (64 * 1024)

/*
** Every message below reads "file:line:column: section.key: what" and names
** the key and the place, never the value: a value may be a secret.
*/

/*
** Fail with 'code' and "file:line:col: path: what" at node 'n'. 'path' is
** the dotted key ("kafka.brokers"). Returns 'code'.
*/
tl_status tl_conf_fail(struct tl_error *err, tl_status code, const char *file,
                       const struct tl_yaml_node *n, const char *path,
                       const char *what);

/*
** Check that 'n' is the map of 'section' ("invoicing.issuer") and that each
** key is in 'known' (NULL-terminated; NULL accepts any key). A key "k_file"
** counts as key "k"; giving both is refused. Returns TL_OK or TL_EINVAL.
*/
tl_status tl_conf_section(const char *file, const char *section,
                          const struct tl_yaml_node *n,
                          const char *const *known, struct tl_error *err);

/*
** The key that pair 'p' sets, into 'buf' of 'cap' bytes: "password" for
** both "password" and "password_file". Returns 'buf'.
*/
const char *tl_conf_key(const struct tl_yaml_pair *p, char *buf, size_t cap);

/*
** Expand "${NAME}" in the scalar 'n' from the environment ("$${" is a
** literal "${"; any other '$' is itself). An unset variable, a bad name, a
** missing '}', a non-scalar or a result over TL_CONF_MAX_VALUE are
** TL_EINVAL naming 'path' and the place. '*out' is freed with tl_free.
*/
tl_status tl_conf_expand(const char *file, const char *path,
                         const struct tl_yaml_node *n, char **out,
                         struct tl_error *err);

/*
** The text pair 'p' of 'section' gives its key: the expanded scalar, or
** for "k_file" the content of the file whose (expanded) path it holds,
** trailing newlines removed, at most TL_CONF_MAX_VALUE bytes and no NUL.
** An unreadable file is TL_EIO naming the key and the path. '*out' is freed
** with tl_free.
*/
tl_status tl_conf_text(const char *file, const char *section,
                       const struct tl_yaml_pair *p, char **out,
                       struct tl_error *err);

/*
** Text to values, for the file, the environment and flags alike. TL_EINVAL
** with "expected ..." (no position, no value) for the caller to prefix.
** Integers are decimal; booleans true/false/yes/no/on/off; durations are
** milliseconds bare or with a unit: "250ms", "5s", "2m", "1h".
*/
tl_status tl_conf_parse_long(const char *text, long min, long max, long *out,
                             struct tl_error *err);
tl_status tl_conf_parse_bool(const char *text, bool *out, struct tl_error *err);
tl_status tl_conf_parse_ms(const char *text, long min_ms, long max_ms,
                           long *out, struct tl_error *err);

/*
** tl_conf_text then the parse above, positioned. tl_conf_string replaces
** '*slot' (freeing the old text) and refuses an empty value.
*/
tl_status tl_conf_string(const char *file, const char *section,
                         const struct tl_yaml_pair *p, char **slot,
                         struct tl_error *err);
tl_status tl_conf_long(const char *file, const char *section,
                       const struct tl_yaml_pair *p, long min, long max,
                       long *out, struct tl_error *err);
tl_status tl_conf_bool(const char *file, const char *section,
                       const struct tl_yaml_pair *p, bool *out,
                       struct tl_error *err);
tl_status tl_conf_ms(const char *file, const char *section,
                     const struct tl_yaml_pair *p, long min_ms, long max_ms,
                     long *out, struct tl_error *err);

/*
** The `database:` section (keys dsn, password, each also as k_file): hands
** them to libpq as DATABASE_URL and PGPASSWORD, unless the environment sets
** those already (the environment overrides the file). Call before any
** thread starts: it changes the environment.
*/
tl_status tl_conf_database(const char *file, const struct tl_yaml_node *n,
                           struct tl_error *err);

#endif
