/* Structured (logfmt) logging, written only by the outermost layer. */
#ifndef TL_LOG_H
#define TL_LOG_H

#include <stdio.h>

typedef enum {
        TL_LOG_DEBUG,
        TL_LOG_INFO,
        TL_LOG_WARN,
        TL_LOG_ERROR,
} tl_log_level;

/* A sink receives one finished line without the trailing newline. */
typedef void (*tl_log_fn)(tl_log_level level, const char *line, void *ctx);

/*
** Log one event as `ts=... level=... comp=... msg="..."` followed by the
** caller's own `key=value` pairs in 'kv_fmt' (may be NULL). 'msg' is quoted
** and escaped here; values in 'kv_fmt' the caller quotes with tl_log_quote
** when they may hold spaces. Lines below the set level are dropped.
*/
void tl_log(tl_log_level level, const char *comp, const char *msg,
            const char *kv_fmt, ...) __attribute__((format(printf, 4, 5)));

/* Drop lines below 'level'. Default TL_LOG_INFO, or TALLY_LOG_LEVEL. */
void tl_log_set_level(tl_log_level level);

/* Parse "debug", "info", "warn", "error"; returns -1 for anything else. */
int tl_log_level_parse(const char *name);

/* Route lines to 'fn' (NULL restores stderr). Not thread-safe to change. */
void tl_log_set_sink(tl_log_fn fn, void *ctx);

/*
** Write 's' into 'out' (size 'size') as a logfmt value: bare when it has no
** space, quote, '=' or control byte, else double-quoted with escapes.
** Always NUL-terminates; returns 'out' for use inside a call.
*/
const char *tl_log_quote(const char *s, char *out, size_t size);

/*
** Log a line that a library reported through its callback with a syslog(3)
** level (0 emergency .. 7 debug, as librdkafka does): "msg=LIB
** facility=FACILITY detail=TEXT", the text quoted.
*/
void tl_log_library(int syslog_level, const char *comp, const char *lib,
                    const char *facility, const char *text);

#endif
