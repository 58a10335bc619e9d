/* Status codes and the fixed-buffer error every fallible tally function fills.
 */
#ifndef TL_ERROR_H
#define TL_ERROR_H

#include <stddef.h>

/*
** The one status list. Each entry: name, exit class (1 runtime, 2 input or
** usage), description. Generated into the enum and the name table so the two
** cannot drift.
*/
#define TL_STATUS_LIST(X)                                                      \
        X(TL_OK, 0, "success")                                                 \
        X(TL_EINVAL, 2, "invalid input")                                       \
        X(TL_EUSAGE, 2, "invalid usage")                                       \
        X(TL_EPARSE, 2, "malformed input")                                     \
        X(TL_ERANGE, 2, "value out of range")                                  \
        X(TL_EOVERFLOW, 1, "arithmetic overflow")                              \
        X(TL_ENOMEM, 1, "out of memory")                                       \
        X(TL_ELIMIT, 2, "limit exceeded")                                      \
        X(TL_ENOTFOUND, 2, "not found")                                        \
        X(TL_EIO, 1, "input/output error")                                     \
        X(TL_EDB, 1, "database error")                                         \
        X(TL_EKAFKA, 1, "kafka error")                                         \
        X(TL_ETIMEOUT, 1, "timed out")                                         \
        X(TL_ECONFLICT, 1, "conflict")                                         \
        X(TL_EUNBUILT, 1, "part not built yet")                                \
        X(TL_EINTERNAL, 1, "internal error")                                   \
        X(TL_EAUTH, 2, "not authenticated")                                    \
        X(TL_EFORBIDDEN, 2, "forbidden")

typedef enum {
#define TL_STATUS_ENUM(name, exit_class, text) name,
        TL_STATUS_LIST(TL_STATUS_ENUM)
#undef TL_STATUS_ENUM
            TL_STATUS_COUNT
} tl_status;

/* Large enough for a path, a position and a sentence; never allocated. */
#define TL_ERROR_MSG_MAX 512

struct tl_error {
        tl_status code;
        char msg[TL_ERROR_MSG_MAX];
};

/*
** Record 'code' and a printf-style message in 'err' (which may be NULL) and
** return 'code', so callers write `return tl_fail(err, TL_EINVAL, ...)`.
** A message longer than the buffer is cut with a trailing "...".
*/
tl_status tl_fail(struct tl_error *err, tl_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
** Prefix the message already in 'err' with "prefix: " (printf-style), to add
** the outer context (a file name, a field path) as an error travels up.
** Returns err->code, or TL_EINTERNAL when 'err' is NULL.
*/
tl_status tl_error_prefix(struct tl_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Reset 'err' to TL_OK with an empty message. 'err' may be NULL. */
void tl_error_clear(struct tl_error *err);

/* The enum constant's name, e.g. "TL_EINVAL"; "TL_?" for an unknown value. */
const char *tl_status_name(tl_status code);

/* A short human description, e.g. "invalid input". */
const char *tl_status_text(tl_status code);

/* The process exit code for a status: 0 ok, 2 input or usage, 1 otherwise. */
int tl_status_exit_code(tl_status code);

#endif
