/* API keys of `tally serve`: created once, stored as a SHA-256 hash only,
   scoped, expiring, revocable (docs/api.md, "Keys and scopes"). */
#ifndef API_KEYS_H
#define API_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "core/error.h"
#include "core/str.h"

/*
** A key is "tly_" + 16 hex digits of public id + "_" + 64 hex digits of
** secret (OpenSSL's RAND_bytes): API_KEY_LEN characters. The id finds the
** row; the SHA-256 of the whole key is compared in constant time.
*/
#define API_KEY_LEN (4 + 16 + 1 + 64)
#define API_KEY_NAME_MAX 64
#define API_SCOPE_MAX 200

typedef enum {
        API_SCOPE_ADMIN = 1,        /* everything */
        API_SCOPE_EVENTS_WRITE = 2, /* POST /v1/events only */
        API_SCOPE_CUSTOMER = 3,     /* reads of one customer */
} api_scope_kind;

/* Who a request is: the key's name and what it may do. */
struct api_principal {
        char name[API_KEY_NAME_MAX + 1];
        api_scope_kind kind;
        char customer[API_SCOPE_MAX + 1]; /* API_SCOPE_CUSTOMER: its id */
};

/*
** Parse 'scope' ("admin", "events:write", "customer:<id>", the id valid as
** an event subject) into 'out' (kind and customer). TL_EINVAL naming the
** scope otherwise.
*/
tl_status api_scope_parse(const char *scope, struct api_principal *out,
                          struct tl_error *err);

/*
** Create a key named 'name' (1..API_KEY_NAME_MAX of [A-Za-z0-9._-]) with
** 'scope', expiring at 'expires_us' (microseconds since the epoch; 0:
** never). Writes the key, NUL-terminated, to 'key_out' (at least
** API_KEY_LEN + 1 bytes): the only time it exists outside the caller.
** TL_EINVAL for a bad name or scope, TL_ECONFLICT when the name is taken,
** TL_EDB, TL_EIO when no random bytes can be had.
*/
tl_status api_keys_create(PGconn *conn, const char *name, const char *scope,
                          int64_t expires_us, char *key_out,
                          struct tl_error *err);

/* Mark key 'name' revoked: api_keys_verify refuses it at once, a running
   `tally serve` within a second (it keeps verified keys that long).
   TL_ENOTFOUND when no live key has that name; TL_EDB. */
tl_status api_keys_revoke(PGconn *conn, const char *name, struct tl_error *err);

/* Append a table of every key (name, scope, created, expires, state;
   never a secret or a hash) to 'out'. TL_EDB, TL_ENOMEM. */
tl_status api_keys_list(PGconn *conn, struct tl_buf *out, struct tl_error *err);

/*
** Who 'key' (the bearer token as sent, 'len' bytes, untrusted) is, read
** from the database: TL_OK and '*out'; TL_EAUTH when it is malformed,
** unknown, revoked or expired (one message for all: nothing to tell an
** attacker); TL_EDB.
*/
tl_status api_keys_verify(PGconn *conn, const char *key, size_t len,
                          struct api_principal *out, struct tl_error *err);

#endif
