/* Signed webhooks (controls.md): endpoints and their secrets, the delivery
   log, and the sender that `tally serve` runs over the outbox (0009). */
#ifndef API_WEBHOOKS_H
#define API_WEBHOOKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "core/error.h"
#include "core/str.h"

#define API_WH_URL_MAX 2048
#define API_WH_ID_LEN (3 + 16)     /* we_<16 hex> */
#define API_WH_SECRET_LEN (6 + 64) /* whsec_<64 hex> */
#define API_WH_SIG_HEX 64

/* The `serve.webhooks:` section (docs/operations.md, "Webhooks"). */
struct api_webhooks_config {
        long senders;       /* sender threads; 0: none (default 2) */
        long retry_base_ms; /* first retry delay, default 30000 */
        long retry_max_ms;  /* cap on one delay, default 3600000 */
        long max_age_s;     /* give up after, default 86400 */
        long timeout_ms;    /* one POST, connect included, default 10000 */
};

/* The defaults above. */
void api_webhooks_config_init(struct api_webhooks_config *c);

/*
** Whether 'types' (comma-separated event types of controls.md, or "*") is
** a valid subscription. TL_EINVAL naming the first unknown type.
*/
tl_status api_webhooks_check_events(const char *types, struct tl_error *err);

/*
** Whether 'url' may be an endpoint: http or https, a host, no user or
** password (they would be shown by `list`), no fragment, at most
** API_WH_URL_MAX bytes. TL_EINVAL saying exactly what is wrong.
*/
tl_status api_webhooks_check_url(const char *url, struct tl_error *err);

/*
** Register an endpoint for 'url' and 'types' (both checked as above).
** 'id_out' gets its id (API_WH_ID_LEN + 1 bytes) and 'secret_out' its
** signing secret (API_WH_SECRET_LEN + 1 bytes; the caller prints it once).
** TL_EINVAL, TL_EIO (no random bytes), TL_EDB.
*/
tl_status api_webhooks_add(PGconn *conn, const char *url, const char *types,
                           char *id_out, char *secret_out,
                           struct tl_error *err);

/* A table of the live endpoints (id, url, events, created; never a
   secret) appended to 'out'. TL_EDB, TL_ENOMEM. */
tl_status api_webhooks_list(PGconn *conn, struct tl_buf *out,
                            struct tl_error *err);

/* Disable endpoint 'id': nothing new is sent to it and its pending
   deliveries are marked failed. TL_ENOTFOUND when no live endpoint has
   it; TL_EDB. */
tl_status api_webhooks_remove(PGconn *conn, const char *id,
                              struct tl_error *err);

/*
** The delivery log, newest first (at most 'limit' rows), as a table
** appended to 'out': delivery, notification id, type, endpoint, status,
** attempts, last HTTP status, next attempt, last error. 'status' and
** 'endpoint' (NULL: any) filter it; a bad status is TL_EINVAL.
*/
tl_status api_webhooks_deliveries(PGconn *conn, const char *status,
                                  const char *endpoint, long limit,
                                  struct tl_buf *out, struct tl_error *err);

/* Make failed delivery 'id' pending again, due now, with a fresh retry
   window. TL_ENOTFOUND unless it exists, is failed and its endpoint is
   live; TL_EDB. */
tl_status api_webhooks_retry(PGconn *conn, const char *id,
                             struct tl_error *err);

/*
** The v1 signature: lowercase hex of HMAC-SHA256('secret', "<t>.<body>")
** into 'hex' (API_WH_SIG_HEX + 1 bytes). TL_EIO when OpenSSL fails.
*/
tl_status api_webhooks_sign(const char *secret, int64_t t, const char *body,
                            size_t len, char *hex, struct tl_error *err);

/*
** The delay before retry 'attempt' (1: after the first failure): the
** exponential step base * 2^(attempt-1), capped at 'max_ms', half of it
** fixed and half jittered by 'rnd' (uniform in [0, 1] as rnd/UINT32_MAX),
** so a delay never falls below half its step and the steps grow.
*/
int64_t api_webhooks_backoff_ms(long attempt, long base_ms, long max_ms,
                                uint32_t rnd);

/* What the sender has done since it started, and the backlog as last
   measured (at most a second old). */
struct api_webhooks_stats {
        uint64_t delivered, attempts_failed, given_up;
        uint64_t pending;
        int64_t oldest_pending_s;
};

struct api_sender;

/*
** Start cfg->senders threads (none when 0: '*out' is still valid), each
** with its own database connection (libpq's environment), claiming due
** deliveries and POSTing them. TL_EINVAL for a bad config, TL_ENOMEM.
** Connection failures are logged and retried, never fatal.
*/
tl_status api_sender_new(const struct api_webhooks_config *cfg,
                         struct api_sender **out, struct tl_error *err);

/* Counters and the last backlog measure; zeros for NULL. */
void api_sender_stats(const struct api_sender *s,
                      struct api_webhooks_stats *out);

/* Stop: each thread finishes the POST under way (bounded by timeout_ms),
   then '*pp' is freed and set to NULL. */
void api_sender_free(struct api_sender **pp);

#endif
