/* What the server's files share: the server, one request, the answers. */
#ifndef API_INTERNAL_H
#define API_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <libpq-fe.h>
#include <microhttpd.h>

#include "api/api.h"
#include "api/keys.h"
#include "core/str.h"
#include "core/time.h"
#include "rating/reload.h"

#define API__MAX_BODY (4u * 1024 * 1024)
#define API__MAX_SEGMENTS 6
#define API__ID_MAX 128 /* an event subject's limit */

/* Per-key token buckets (requests per second, burst). */
struct api__limiter {
        pthread_mutex_t lock;
        struct api__bucket *slots; /* open addressing by key name */
        size_t cap, count;
        int64_t per_s, burst; /* tokens a second, bucket size */
};

/* Database connections shared by the request threads: a stack of the
   free ones (NULL: not yet opened, or dropped when broken). */
struct api__pool {
        pthread_mutex_t mu;
        pthread_cond_t cv;
        PGconn **conns;
        size_t size, free;
};

/* Keys the database accepted, by the SHA-256 of the whole key, each for at
   most ttl_us (docs/architecture.md: how revocation stays within it). */
#define API__KEY_CACHE_SLOTS 1024
#define API__KEY_TTL_US 1000000
struct api__cached_key {
        unsigned char hash[32];
        int64_t until_us;   /* CLOCK_MONOTONIC; 0: empty */
        int64_t expires_us; /* the key's own expiry, wall clock; 0: never */
        struct api_principal who;
};
struct api__key_cache {
        pthread_mutex_t lock;
        int64_t ttl_us; /* 0: every request asks the database */
        struct api__cached_key slots[API__KEY_CACHE_SLOTS];
};

struct api__metrics {
        _Atomic uint64_t requests, status_2xx, status_4xx, status_5xx;
        _Atomic uint64_t auth_failures, rate_limited, us_total;
};

/* Entitlements kept in memory (entitlements.c): answers by customer, and
   the thread that drops them at the meter's commits. */
struct api__ent_entry;
struct api__entitlements {
        pthread_mutex_t mu;
        struct api__ent_entry **buckets;
        size_t count;
        uint64_t gen; /* moves on at every drop */
        pthread_t thread;
        int wake[2];
        atomic_bool stop;
        bool inited, running;
};

struct api_server {
        struct MHD_Daemon *d;
        const struct inv_config *inv;
        struct api_ingest *ingest;
        struct rate_reloader *rules;
        struct api__pool pool;
        struct api__limiter limiter;
        struct api__key_cache keys;
        struct api__metrics metrics;
        struct api_sender *sender; /* webhooks (webhooks_send.c) */
        struct api__entitlements ent;
        uint16_t port;
        char *tls_cert, *tls_key; /* PEM text, kept for MHD's life */
};

/* One request: its body as it arrives, then what the log line says. */
struct api__req {
        struct tl_buf body;
        bool body_too_big;
        tl_time_us start_us;
        const char *route; /* the route template, for logs and metrics */
        unsigned status;
        char key_name[API_KEY_NAME_MAX + 1];
};

/* What a route handler receives. */
struct api__call {
        struct api_server *srv;
        struct MHD_Connection *conn;
        struct api__req *req;
        const char *method;
        char *seg[API__MAX_SEGMENTS]; /* decoded path segments */
        size_t nseg;
        struct api_principal who;
        PGconn *db; /* this thread's connection, NULL until asked */
};

/* A database connection for this request (from the pool, waiting for one
   when all are taken; reconnected when broken), or NULL with 'err' set.
   The request cycle gives it back once the answer is queued. */
PGconn *api__db(struct api__call *c, struct tl_error *err);
/* Give 'db' (may be NULL) back to the pool of 's'. */
void api__db_release(struct api_server *s, PGconn *db);
/* A pool of 'size' connections, none opened yet; and its release. */
tl_status api__pool_init(struct api__pool *p, size_t size,
                         struct tl_error *err);
void api__pool_release(struct api__pool *p);

/* Queue response 'r' (taken; NULL: MHD_NO) with 'status', its Content-Type
   and, when not NULL, a Retry-After header. */
enum MHD_Result api__send(struct api__call *c, unsigned status,
                          struct MHD_Response *r, const char *content_type,
                          const char *retry_after);

/* Queue 'doc' (taken, also on failure) as the JSON answer with 'status'. */
enum MHD_Result api__json(struct api__call *c, unsigned status, json_t *doc);

/* {"error": {"code", "message", "field"?}} with 'status'. */
enum MHD_Result api__error(struct api__call *c, unsigned status,
                           const char *code, const char *message,
                           const char *field);

/* The answer for a failed status 'rc' with its message 'err'. */
enum MHD_Result api__fail(struct api__call *c, tl_status rc,
                          const struct tl_error *err);

/* Whether 'c->who' may read customer 'id'; answers 403 itself when not. */
bool api__may_read(struct api__call *c, const char *id,
                   enum MHD_Result *answered);

/* The routes (routes.c, ingest_route.c). Each answers and returns. */
enum MHD_Result api__usage(struct api__call *c);
enum MHD_Result api__invoices(struct api__call *c);
enum MHD_Result api__invoice(struct api__call *c);
enum MHD_Result api__customer_put(struct api__call *c);
enum MHD_Result api__credits(struct api__call *c);
enum MHD_Result api__subscriptions(struct api__call *c);
enum MHD_Result api__events(struct api__call *c);
enum MHD_Result api__entitlements(struct api__call *c);
/* The cache and its watcher (LISTEN tally_usage): started once the rules
   are loaded, stopped before they go. */
tl_status api__entitlements_start(struct api_server *srv, struct tl_error *err);
void api__entitlements_stop(struct api_server *srv);
/* Corrections (corrections.c), admin only. */
enum MHD_Result api__void(struct api__call *c);
enum MHD_Result api__credit_note(struct api__call *c);
enum MHD_Result api__payment(struct api__call *c);

/* Limiter (limit.c). */
tl_status api__limiter_init(struct api__limiter *l, int64_t per_s,
                            int64_t burst, struct tl_error *err);
void api__limiter_release(struct api__limiter *l);
/* True when 'name' may make a request now; else '*retry_s' is when. */
bool api__limiter_take(struct api__limiter *l, const char *name,
                       unsigned *retry_s);

/* Key cache (keys.c). */
tl_status api__key_cache_init(struct api__key_cache *kc, int64_t ttl_us,
                              struct tl_error *err);
void api__key_cache_release(struct api__key_cache *kc);
/* api_keys_verify through 'kc': a key the database accepted less than
   kc->ttl_us ago (and not expired since) is not asked again. */
tl_status api__key_verify(struct api__key_cache *kc, PGconn *conn,
                          const char *key, size_t len,
                          struct api_principal *out, struct tl_error *err);

/* Whether 'key' is in 'kc' (as api__key_verify would find it), '*out'
   then filled: no database needed. */
bool api__key_cached(struct api__key_cache *kc, const char *key, size_t len,
                     struct api_principal *out);

/* Percent-decode 'len' bytes of 's' in place into an id: valid UTF-8, no
   NUL, 1..API__ID_MAX bytes. False for anything else. */
bool api__decode_id(char *s, size_t len);

/* 'res' as a plain-text table under 'head' (ncols <= API__TABLE_MAX
   names), columns aligned, control bytes shown as '?', into 'out':
   the CLI's listings (keys, webhooks). TL_EINVAL, TL_ENOMEM. */
#define API__TABLE_MAX 12
tl_status api__table(const PGresult *res, const char *const *head, int ncols,
                     struct tl_buf *out, struct tl_error *err);

#endif
