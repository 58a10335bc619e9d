/* logfmt lines to stderr or a caller's sink. */
#include "core/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/time.h"

static const char *const level_names[] = {"debug", "info", "warn", "error"};

static int current_level = -1; /* -1: not read from the environment yet */
static tl_log_fn sink_fn;
static void *sink_ctx;
static pthread_mutex_t sink_lock = PTHREAD_MUTEX_INITIALIZER;

int tl_log_level_parse(const char *name)
{
        for (int i = 0; i < 4; i++)
                if (name && strcasecmp(name, level_names[i]) == 0)
                        return i;
        return -1;
}

void tl_log_set_level(tl_log_level level)
{
        current_level = (int)level;
}

static int effective_level(void)
{
        if (current_level < 0) {
                int env = tl_log_level_parse(getenv("TALLY_LOG_LEVEL"));
                current_level = env < 0 ? TL_LOG_INFO : env;
        }
        return current_level;
}

void tl_log_set_sink(tl_log_fn fn, void *ctx)
{
        pthread_mutex_lock(&sink_lock);
        sink_fn = fn;
        sink_ctx = ctx;
        pthread_mutex_unlock(&sink_lock);
}

const char *tl_log_quote(const char *s, char *out, size_t size)
{
        size_t o = 0;
        int bare = *s != '\0';

        if (size == 0)
                return out;
        for (const char *p = s; *p && bare; p++)
                if (*p == ' ' || *p == '"' || *p == '=' || *p == '\\' ||
                    (unsigned char)*p < 0x20)
                        bare = 0;
        if (!bare && o + 1 < size)
                out[o++] = '"';
        for (const char *p = s; *p && o + 3 < size; p++) {
                unsigned char c = (unsigned char)*p;
                if (!bare && (c == '"' || c == '\\')) {
                        out[o++] = '\\';
                        out[o++] = (char)c;
                } else if (!bare && c < 0x20) {
                        out[o++] = '\\';
                        out[o++] = c == '\n' ? 'n' : c == '\t' ? 't' : '?';
                } else {
                        out[o++] = (char)c;
                }
        }
        if (!bare && o + 1 < size)
                out[o++] = '"';
        out[o] = '\0';
        return out;
}

void tl_log(tl_log_level level, const char *comp, const char *msg,
            const char *kv_fmt, ...)
{
        char line[2048], ts[40], qmsg[1024];
        size_t n;
        va_list ap;

        if ((int)level < effective_level())
                return;
        tl_time_format_rfc3339(tl_time_now_us(), ts, sizeof ts);
        n = (size_t)snprintf(line, sizeof line, "ts=%s level=%s comp=%s msg=%s",
                             ts, level_names[level], comp,
                             tl_log_quote(msg, qmsg, sizeof qmsg));
        if (kv_fmt && n + 1 < sizeof line) {
                line[n++] = ' ';
                va_start(ap, kv_fmt);
                vsnprintf(line + n, sizeof line - n, kv_fmt, ap);
                va_end(ap);
        }
        pthread_mutex_lock(&sink_lock);
        if (sink_fn)
                sink_fn(level, line, sink_ctx);
        else
                fprintf(stderr, "%s\n", line);
        pthread_mutex_unlock(&sink_lock);
}

void tl_log_library(int syslog_level, const char *comp, const char *lib,
                    const char *facility, const char *text)
{
        tl_log_level l = syslog_level <= 3   ? TL_LOG_ERROR
                         : syslog_level <= 4 ? TL_LOG_WARN
                         : syslog_level <= 6 ? TL_LOG_INFO
                                             : TL_LOG_DEBUG;
        char q[512];

        tl_log(l, comp, lib, "facility=%s detail=%s", facility,
               tl_log_quote(text, q, sizeof q));
}
