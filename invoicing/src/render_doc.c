/* Reading the stored invoice document: what both renderers check. */
#include "render_doc.h"

#include <string.h>

bool inv__doc_plain_decimal(const char *s)
{
        size_t n;

        if (*s == '-')
                s++;
        n = strspn(s, "0123456789");
        if (!n)
                return false;
        s += n;
        if (*s == '.') {
                n = strspn(++s, "0123456789");
                if (!n)
                        return false;
                s += n;
        }
        return !*s;
}

/*
** The string at 'key' of 'obj' into '*s' (NULL when absent or null and not
** 'required'). 'where' is the path of 'obj' for messages ("", "lines[3].").
** With 'decimal' it must be a plain decimal of at most INV__DEC_MAX characters.
*/
tl_status inv__doc_get(const json_t *obj, const char *where, const char *key,
                       bool required, bool decimal, const char **s,
                       struct tl_error *err)
{
        const json_t *v = json_object_get(obj, key);
        const char *text;

        if (!v || json_is_null(v)) {
                if (required)
                        return tl_fail(err, TL_EINVAL, "invoice: %s%s: missing",
                                       where, key);
                *s = NULL;
                return TL_OK;
        }
        if (!json_is_string(v))
                return tl_fail(err, TL_EINVAL,
                               "invoice: %s%s: expected a string", where, key);
        text = json_string_value(v);
        if (decimal && !inv__doc_plain_decimal(text))
                return tl_fail(err, TL_EINVAL,
                               "invoice: %s%s: expected a decimal string, "
                               "got \"%.80s\"",
                               where, key, text);
        if (decimal && strlen(text) > INV__DEC_MAX)
                return tl_fail(err, TL_EINVAL,
                               "invoice: %s%s: a decimal of more than %d "
                               "characters",
                               where, key, INV__DEC_MAX);
        *s = text;
        return TL_OK;
}
