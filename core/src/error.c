/* Status names and the fixed-buffer error helpers. */
#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const struct {
        const char *name;
        const char *text;
        int exit_class;
} status_table[] = {
#define TL_STATUS_ROW(name, exit_class, text) {#name, text, exit_class},
    TL_STATUS_LIST(TL_STATUS_ROW)
#undef TL_STATUS_ROW
};

/* Mark a cut message so a reader knows it was cut, not that input ended. */
static void mark_truncated(char *msg, int written)
{
        if (written >= TL_ERROR_MSG_MAX)
                memcpy(msg + TL_ERROR_MSG_MAX - 4, "...", 4);
}

tl_status tl_fail(struct tl_error *err, tl_status code, const char *fmt, ...)
{
        va_list ap;
        int n;

        if (!err)
                return code;
        err->code = code;
        va_start(ap, fmt);
        n = vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        if (n < 0)
                err->msg[0] = '\0';
        mark_truncated(err->msg, n);
        return code;
}

tl_status tl_error_prefix(struct tl_error *err, const char *fmt, ...)
{
        char old[TL_ERROR_MSG_MAX];
        va_list ap;
        int n, m;

        if (!err)
                return TL_EINTERNAL;
        memcpy(old, err->msg, sizeof old);
        va_start(ap, fmt);
        n = vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        if (n < 0 || n >= TL_ERROR_MSG_MAX) {
                mark_truncated(err->msg, n < 0 ? 0 : n);
                return err->code;
        }
        m = snprintf(err->msg + n, sizeof err->msg - (size_t)n, ": %s", old);
        mark_truncated(err->msg, n + m);
        return err->code;
}

void tl_error_clear(struct tl_error *err)
{
        if (!err)
                return;
        err->code = TL_OK;
        err->msg[0] = '\0';
}

static int known(tl_status code)
{
        return (unsigned)code < (unsigned)TL_STATUS_COUNT;
}

const char *tl_status_name(tl_status code)
{
        return known(code) ? status_table[code].name : "TL_?";
}

const char *tl_status_text(tl_status code)
{
        return known(code) ? status_table[code].text : "unknown status";
}

int tl_status_exit_code(tl_status code)
{
        return known(code) ? status_table[code].exit_class : 1;
}
