/* The HTTP server: libmicrohttpd's thread pool on epoll, IPv4 and IPv6,
   TLS from files; each request authenticated, limited, routed, logged. */
#include "internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "core/alloc.h"
#include "core/log.h"
#include "core/yaml.h"
#include "schemas/db.h"

/* ---- answers --------------------------------------------------------- */

enum MHD_Result api__send(struct api__call *c, unsigned status,
                          struct MHD_Response *r, const char *content_type,
                          const char *retry_after)
{
        enum MHD_Result ok;

        if (!r)
                return MHD_NO;
        MHD_add_response_header(r, "Content-Type", content_type);
        if (retry_after)
                MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER,
                                        retry_after);
        c->req->status = status;
        ok = MHD_queue_response(c->conn, status, r);
        MHD_destroy_response(r);
        return ok;
}

/* 'doc' (taken) as JSON, with a Retry-After of 'retry_after' when given. */
static enum MHD_Result send_json(struct api__call *c, unsigned status,
                                 json_t *doc, const char *retry_after)
{
        char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
        struct MHD_Response *r;

        json_decref(doc);
        if (!text)
                return api__send(c, MHD_HTTP_INTERNAL_SERVER_ERROR,
                                 MHD_create_response_from_buffer(
                                     0, (void *)"", MHD_RESPMEM_PERSISTENT),
                                 "application/json", NULL);
        /* jansson's buffer: MHD hands it to free() when sent. */
        r = MHD_create_response_from_buffer(strlen(text), text,
                                            MHD_RESPMEM_MUST_FREE);
        if (!r)
                free(text); /* lint: libc-free: jansson allocated it */
        return api__send(c, status, r, "application/json", retry_after);
}

enum MHD_Result api__json(struct api__call *c, unsigned status, json_t *doc)
{
        return send_json(c, status, doc, NULL);
}

enum MHD_Result api__error(struct api__call *c, unsigned status,
                           const char *code, const char *message,
                           const char *field)
{
        json_t *e = json_pack("{s:s, s:s}", "code", code, "message", message);

        if (e && field)
                json_object_set_new(e, "field", json_string(field));
        return api__json(c, status, json_pack("{s:o}", "error", e));
}

enum MHD_Result api__fail(struct api__call *c, tl_status rc,
                          const struct tl_error *err)
{
        switch (rc) {
        case TL_EINVAL:
        case TL_EPARSE:
        case TL_ERANGE:
        case TL_EUSAGE:
                return api__error(c, MHD_HTTP_BAD_REQUEST, "invalid_request",
                                  err->msg, NULL);
        case TL_ELIMIT:
                return api__error(c, MHD_HTTP_CONTENT_TOO_LARGE, "too_large",
                                  err->msg, NULL);
        case TL_ENOTFOUND:
                return api__error(c, MHD_HTTP_NOT_FOUND, "not_found", err->msg,
                                  NULL);
        case TL_ECONFLICT:
                return api__error(c, MHD_HTTP_CONFLICT, "conflict", err->msg,
                                  NULL);
        case TL_EDB:
        case TL_EKAFKA:
        case TL_ETIMEOUT:
                /* The cause stays in the log: it may name internals. */
                tl_log(TL_LOG_ERROR, "api", "request failed", "route=%s %s",
                       c->req->route, err->msg);
                return api__error(
                    c, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable",
                    "a backing service is unavailable; retry", NULL);
        default:
                tl_log(TL_LOG_ERROR, "api", "request failed", "route=%s %s",
                       c->req->route, err->msg);
                return api__error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                                  "internal error", NULL);
        }
}

bool api__may_read(struct api__call *c, const char *id,
                   enum MHD_Result *answered)
{
        if (c->who.kind == API_SCOPE_ADMIN ||
            (c->who.kind == API_SCOPE_CUSTOMER &&
             strcmp(c->who.customer, id) == 0))
                return true;
        /* The same answer whether or not 'id' exists. */
        *answered = api__error(c, MHD_HTTP_FORBIDDEN, "forbidden",
                               "this key may not read this customer", NULL);
        return false;
}

/* ---- paths ----------------------------------------------------------- */

static int hex(char ch)
{
        if (ch >= '0' && ch <= '9')
                return ch - '0';
        if (ch >= 'a' && ch <= 'f')
                return ch - 'a' + 10;
        if (ch >= 'A' && ch <= 'F')
                return ch - 'A' + 10;
        return -1;
}

bool api__decode_id(char *s, size_t len)
{
        size_t o = 0;

        for (size_t i = 0; i < len; i++) {
                if (s[i] != '%') {
                        s[o++] = s[i];
                        continue;
                }
                if (i + 2 >= len || hex(s[i + 1]) < 0 || hex(s[i + 2]) < 0)
                        return false;
                s[o++] = (char)(hex(s[i + 1]) * 16 + hex(s[i + 2]));
                i += 2;
        }
        s[o] = '\0';
        return o >= 1 && o <= API__ID_MAX && memchr(s, '\0', o) == NULL &&
               tl_utf8_valid(s, o);
}

/* MHD would decode the whole path before routing, so an id holding "%2F"
   would split in two: the raw path is kept and each segment decoded. */
static size_t keep_raw(void *cls, struct MHD_Connection *conn, char *uri)
{
        (void)cls;
        (void)conn;
        return strlen(uri);
}

/* Split 'path' (raw, after the query is cut) into decoded segments. */
static bool split(struct api__call *c, char *path)
{
        char *p = path + 1;

        if (path[0] != '/')
                return false;
        for (;;) {
                char *end = strchr(p, '/');

                if (c->nseg == API__MAX_SEGMENTS)
                        return false;
                if (end)
                        *end = '\0';
                if (!api__decode_id(p, strlen(p)))
                        return false;
                c->seg[c->nseg++] = p;
                if (!end)
                        return true;
                p = end + 1;
        }
}

/* ---- authentication and limits --------------------------------------- */

/* Fills c->who from the bearer key; answers 401 (or 503) itself. */
static bool authenticate(struct api__call *c, enum MHD_Result *answered)
{
        const char *h = MHD_lookup_connection_value(
            c->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
        struct tl_error err = {TL_OK, ""};
        tl_status rc;

        if (!h || strncmp(h, "Bearer ", 7) != 0) {
                atomic_fetch_add(&c->srv->metrics.auth_failures, 1);
                *answered =
                    api__error(c, MHD_HTTP_UNAUTHORIZED, "unauthenticated",
                               "an API key is required "
                               "(Authorization: Bearer <key>)",
                               NULL);
                return false;
        }
        /* A key seen within the second needs no connection: a thread that
           only ingests events never opens one. */
        if (api__key_cached(&c->srv->keys, h + 7, strlen(h + 7), &c->who)) {
                snprintf(c->req->key_name, sizeof c->req->key_name, "%s",
                         c->who.name);
                return true;
        }
        if (!api__db(c, &err)) {
                *answered = api__fail(c, TL_EDB, &err);
                return false;
        }
        rc = api__key_verify(&c->srv->keys, c->db, h + 7, strlen(h + 7),
                             &c->who, &err);
        if (rc == TL_OK) {
                snprintf(c->req->key_name, sizeof c->req->key_name, "%s",
                         c->who.name);
                return true;
        }
        if (rc == TL_EAUTH) {
                atomic_fetch_add(&c->srv->metrics.auth_failures, 1);
                *answered = api__error(c, MHD_HTTP_UNAUTHORIZED,
                                       "unauthenticated", err.msg, NULL);
        } else {
                *answered = api__fail(c, rc, &err);
        }
        return false;
}

static bool within_limit(struct api__call *c, enum MHD_Result *answered)
{
        unsigned retry_s = 1;
        char v[16];

        if (api__limiter_take(&c->srv->limiter, c->who.name, &retry_s))
                return true;
        atomic_fetch_add(&c->srv->metrics.rate_limited, 1);
        snprintf(v, sizeof v, "%u", retry_s);
        *answered = send_json(c, MHD_HTTP_TOO_MANY_REQUESTS,
                              json_pack("{s:{s:s, s:s}}", "error", "code",
                                        "rate_limited", "message",
                                        "too many requests for this key"),
                              v);
        return false;
}

/* ---- routing ----------------------------------------------------------- */

typedef enum MHD_Result (*route_fn)(struct api__call *c);

struct route {
        const char *method;
        const char *tmpl; /* "/v1/customers/{id}/usage" */
        route_fn fn;
        bool open;          /* no key needed */
        bool customer_read; /* customer keys may call it for their id */
        bool events;        /* events:write keys may call it */
};

static enum MHD_Result healthz(struct api__call *c)
{
        return api__json(c, MHD_HTTP_OK, json_pack("{s:s}", "status", "ok"));
}

static enum MHD_Result metrics(struct api__call *c);

static const struct route ROUTES[] = {
    {"GET", "/healthz", healthz, true, false, false},
    {"GET", "/metrics", metrics, true, false, false},
    {"GET", "/v1/customers/{id}/usage", api__usage, false, true, false},
    {"GET", "/v1/customers/{id}/invoices", api__invoices, false, true, false},
    {"GET", "/v1/customers/{id}/entitlements", api__entitlements, false, true,
     false},
    {"GET", "/v1/invoices/{number}", api__invoice, false, true, false},
    {"POST", "/v1/invoices/{number}/void", api__void, false, false, false},
    {"POST", "/v1/invoices/{number}/credit-notes", api__credit_note, false,
     false, false},
    {"POST", "/v1/invoices/{number}/payments", api__payment, false, false,
     false},
    {"PUT", "/v1/customers/{id}", api__customer_put, false, false, false},
    {"POST", "/v1/customers/{id}/credits", api__credits, false, false, false},
    {"POST", "/v1/customers/{id}/subscriptions", api__subscriptions, false,
     false, false},
    {"POST", "/v1/events", api__events, false, false, true},
};

#define NROUTES (sizeof ROUTES / sizeof *ROUTES)

size_t api_route_count(void)
{
        return NROUTES;
}

void api_route_at(size_t i, const char **method, const char **path)
{
        *method = i < NROUTES ? ROUTES[i].method : NULL;
        *path = i < NROUTES ? ROUTES[i].tmpl : NULL;
}

/* Whether decoded segments 'c->seg' fit 'tmpl'. */
static bool matches(const struct api__call *c, const char *tmpl)
{
        size_t i = 0;
        const char *t = tmpl + 1;

        while (*t && i < c->nseg) {
                const char *end = strchr(t, '/');
                size_t n = end ? (size_t)(end - t) : strlen(t);

                if (!(t[0] == '{' ||
                      (strlen(c->seg[i]) == n && !memcmp(c->seg[i], t, n))))
                        return false;
                i++;
                t += n + (end ? 1 : 0);
        }
        return !*t && i == c->nseg;
}

static enum MHD_Result dispatch(struct api__call *c, char *path)
{
        enum MHD_Result answered = MHD_NO;
        const struct route *r = NULL;

        if (!split(c, path)) {
                c->req->route = "(bad path)";
                return api__error(c, MHD_HTTP_BAD_REQUEST, "invalid_path",
                                  "a path segment is not a valid id "
                                  "(percent-encoded UTF-8, 1..128 bytes, "
                                  "no NUL)",
                                  NULL);
        }
        for (size_t i = 0; i < NROUTES; i++)
                if (matches(c, ROUTES[i].tmpl)) {
                        r = &ROUTES[i];
                        c->req->route = r->tmpl;
                        if (!strcmp(c->method, r->method))
                                break;
                        r = NULL;
                }
        if (!r) {
                /* 401 first: an unauthenticated client learns no routes. */
                if (!authenticate(c, &answered))
                        return answered;
                if (!c->req->route)
                        c->req->route = "(unknown)";
                return api__error(c,
                                  strcmp(c->req->route, "(unknown)")
                                      ? MHD_HTTP_METHOD_NOT_ALLOWED
                                      : MHD_HTTP_NOT_FOUND,
                                  "no_route", "no such route or method", NULL);
        }
        if (r->open)
                return r->fn(c);
        if (!authenticate(c, &answered) || !within_limit(c, &answered))
                return answered;
        if (c->who.kind == API_SCOPE_ADMIN ||
            (c->who.kind == API_SCOPE_CUSTOMER && r->customer_read) ||
            (c->who.kind == API_SCOPE_EVENTS_WRITE && r->events))
                return r->fn(c);
        return api__error(c, MHD_HTTP_FORBIDDEN, "forbidden",
                          "this key's scope does not allow this route", NULL);
}

/* ---- metrics ----------------------------------------------------------- */

/* The sender's counters and the backlog (api/webhooks.h). */
static int webhook_metrics(struct api_server *s, char *buf, size_t cap)
{
        struct api_webhooks_stats w;

        api_sender_stats(s->sender, &w);
        return snprintf(buf, cap,
                        "# TYPE tally_webhook_deliveries_total counter\n"
                        "tally_webhook_deliveries_total{outcome=\"delivered\"}"
                        " %llu\n"
                        "tally_webhook_deliveries_total{outcome=\"attempt_"
                        "failed\"} %llu\n"
                        "tally_webhook_deliveries_total{outcome=\"failed\"}"
                        " %llu\n"
                        "# TYPE tally_webhook_pending gauge\n"
                        "tally_webhook_pending %llu\n"
                        "# TYPE tally_webhook_oldest_pending_seconds gauge\n"
                        "tally_webhook_oldest_pending_seconds %lld\n",
                        (unsigned long long)w.delivered,
                        (unsigned long long)w.attempts_failed,
                        (unsigned long long)w.given_up,
                        (unsigned long long)w.pending,
                        (long long)w.oldest_pending_s);
}

static enum MHD_Result metrics(struct api__call *c)
{
        const struct api__metrics *m = &c->srv->metrics;
        struct rate_reload_stats rs;
        char buf[2560];
        int n;

        rate_reloader_stats(c->srv->rules, &rs);
        n = snprintf(
            buf, sizeof buf,
            "# TYPE tally_api_requests_total counter\n"
            "tally_api_requests_total %llu\n"
            "# TYPE tally_api_responses_total counter\n"
            "tally_api_responses_total{class=\"2xx\"} %llu\n"
            "tally_api_responses_total{class=\"4xx\"} %llu\n"
            "tally_api_responses_total{class=\"5xx\"} %llu\n"
            "# TYPE tally_api_auth_failures_total counter\n"
            "tally_api_auth_failures_total %llu\n"
            "# TYPE tally_api_rate_limited_total counter\n"
            "tally_api_rate_limited_total %llu\n"
            "# TYPE tally_api_request_seconds_total counter\n"
            "tally_api_request_seconds_total %llu.%06llu\n"
            "# TYPE tally_api_catalog_generation gauge\n"
            "tally_api_catalog_generation %llu\n"
            "# TYPE tally_api_catalog_reload_failures_total counter\n"
            "tally_api_catalog_reload_failures_total %llu\n",
            (unsigned long long)m->requests, (unsigned long long)m->status_2xx,
            (unsigned long long)m->status_4xx,
            (unsigned long long)m->status_5xx,
            (unsigned long long)m->auth_failures,
            (unsigned long long)m->rate_limited,
            (unsigned long long)(m->us_total / 1000000),
            (unsigned long long)(m->us_total % 1000000),
            (unsigned long long)rs.generation, (unsigned long long)rs.failures);
        n += webhook_metrics(c->srv, buf + n, sizeof buf - (size_t)n);
        return api__send(c, MHD_HTTP_OK,
                         MHD_create_response_from_buffer((size_t)n, buf,
                                                         MHD_RESPMEM_MUST_COPY),
                         "text/plain; version=0.0.4", NULL);
}

/* ---- the request cycle -------------------------------------------------- */

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn,
                              const char *url, const char *method,
                              const char *version, const char *upload,
                              size_t *upload_size, void **con_cls)
{
        struct api__req *req = *con_cls;
        struct api__call c;
        enum MHD_Result ret;
        char path[2048];
        const char *q;
        size_t n;

        (void)version;
        if (!req) {
                req = tl_calloc(1, sizeof *req);
                if (!req)
                        return MHD_NO;
                tl_buf_init(&req->body, API__MAX_BODY);
                req->start_us = tl_time_now_us();
                *con_cls = req;
                return MHD_YES;
        }
        if (*upload_size) {
                if (!req->body_too_big &&
                    tl_buf_append(&req->body, upload, *upload_size, NULL))
                        req->body_too_big = true;
                *upload_size = 0;
                return MHD_YES;
        }
        memset(&c, 0, sizeof c);
        c.srv = cls;
        c.conn = conn;
        c.req = req;
        c.method = method;
        if (req->body_too_big) {
                req->route = "(any)";
                return api__error(&c, MHD_HTTP_CONTENT_TOO_LARGE, "too_large",
                                  "the body is over 4 MiB", NULL);
        }
        q = strchr(url, '?');
        n = q ? (size_t)(q - url) : strlen(url);
        if (n >= sizeof path) {
                req->route = "(long path)";
                return api__error(&c, MHD_HTTP_URI_TOO_LONG, "too_long",
                                  "the path is too long", NULL);
        }
        memcpy(path, url, n);
        path[n] = '\0';
        ret = dispatch(&c, path);
        /* The answer is queued: the connection serves the next request. */
        if (c.db)
                api__db_release(c.srv, c.db);
        return ret;
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                      enum MHD_RequestTerminationCode why)
{
        struct api_server *s = cls;
        struct api__req *req = *con_cls;
        tl_time_us us;

        (void)conn;
        (void)why;
        if (!req)
                return;
        us = tl_time_now_us() - req->start_us;
        atomic_fetch_add(&s->metrics.requests, 1);
        atomic_fetch_add(&s->metrics.us_total, (uint64_t)(us > 0 ? us : 0));
        if (req->status >= 500)
                atomic_fetch_add(&s->metrics.status_5xx, 1);
        else if (req->status >= 400)
                atomic_fetch_add(&s->metrics.status_4xx, 1);
        else if (req->status)
                atomic_fetch_add(&s->metrics.status_2xx, 1);
        /* Never the key, never a body: the route template and the name. */
        tl_log(TL_LOG_INFO, "api", "request",
               "route=\"%s\" status=%u key=%s duration_us=%lld",
               req->route ? req->route : "(none)", req->status,
               req->key_name[0] ? req->key_name : "-", (long long)us);
        tl_buf_release(&req->body);
        tl_free(req);
        *con_cls = NULL;
}

/* ---- start and stop ------------------------------------------------------ */

/* 'addr' "HOST:PORT" (HOST an IPv4 address, "[v6]", "::" or empty for every
   address) into 'ss'; '*dual' when IPv6 also takes IPv4. */
static tl_status parse_addr(const char *addr, struct sockaddr_in6 *v6,
                            struct sockaddr_in *v4, bool *is_v6,
                            struct tl_error *err)
{
        const char *colon = strrchr(addr, ':');
        char host[64];
        long port;
        char *end;
        size_t n;

        if (!colon)
                return tl_fail(err, TL_EINVAL,
                               "serve.http: expected HOST:PORT, not '%s'",
                               addr);
        port = strtol(colon + 1, &end, 10);
        n = (size_t)(colon - addr);
        if (*end || end == colon + 1 || port < 0 || port > 65535 ||
            n >= sizeof host)
                return tl_fail(err, TL_EINVAL,
                               "serve.http: expected HOST:PORT, not '%s'",
                               addr);
        memcpy(host, addr, n);
        host[n] = '\0';
        if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
                memmove(host, host + 1, n - 2);
                host[n - 2] = '\0';
        }
        memset(v6, 0, sizeof *v6);
        memset(v4, 0, sizeof *v4);
        if (!host[0] || inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
                v6->sin6_family = AF_INET6;
                v6->sin6_port = htons((uint16_t)port);
                if (!host[0])
                        v6->sin6_addr = in6addr_any;
                *is_v6 = true;
                return TL_OK;
        }
        if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
                v4->sin_family = AF_INET;
                v4->sin_port = htons((uint16_t)port);
                *is_v6 = false;
                return TL_OK;
        }
        return tl_fail(err, TL_EINVAL,
                       "serve.http: '%s' is not an IPv4 or IPv6 address "
                       "(use [::] for every address)",
                       host);
}

static tl_status read_pem(const char *path, char **out, struct tl_error *err)
{
        size_t len;
        tl_status rc = tl_read_file(path, out, &len, err);

        if (rc == TL_EIO || rc == TL_ENOTFOUND)
                return tl_fail(err, TL_EINVAL, "serve: cannot read %s", path);
        return rc;
}

/*
** MHD only says that the daemon did not start, so a certificate and key
** that are unreadable or do not belong together would be reported as an
** address in use: they are checked first, and the file at fault named.
*/
static tl_status check_pair(const char *cert_path, const char *cert,
                            const char *key_path, const char *key,
                            struct tl_error *err)
{
        BIO *cb = BIO_new_mem_buf(cert, -1), *kb = BIO_new_mem_buf(key, -1);
        X509 *x = cb ? PEM_read_bio_X509(cb, NULL, NULL, NULL) : NULL;
        EVP_PKEY *k = kb ? PEM_read_bio_PrivateKey(kb, NULL, NULL, NULL) : NULL;
        tl_status rc = TL_OK;

        if (!x)
                rc = tl_fail(err, TL_EINVAL,
                             "serve: %s is not a PEM certificate", cert_path);
        else if (!k)
                rc = tl_fail(err, TL_EINVAL,
                             "serve: %s is not an unencrypted PEM private key",
                             key_path);
        else if (X509_check_private_key(x, k) != 1)
                rc = tl_fail(err, TL_EINVAL,
                             "serve: the key %s does not belong to the "
                             "certificate %s",
                             key_path, cert_path);
        EVP_PKEY_free(k);
        X509_free(x);
        BIO_free(kb);
        BIO_free(cb);
        return rc;
}

/* A request thread blocks while PostgreSQL prices a draft or Kafka acks a
   batch, so one thread per CPU leaves the CPUs idle (measured: 2 threads
   served 147-241 drafts/s with PostgreSQL at 42 % of the machine). A
   batch of events holds its thread for the producer's linger and the
   broker's acknowledgement, tens of milliseconds of no CPU: 32 threads
   posted twice the batches of 8 on 2 CPUs (docs/benchmarks.md), and
   drafts were no slower. Threads take database connections from a pool
   (api__db), so a thread that only ingests events holds none. */
static long default_threads(void)
{
        long n = sysconf(_SC_NPROCESSORS_ONLN) * 16;

        return n < 32 ? 32 : n;
}

tl_status api_server_new(const struct api_config *cfg,
                         const struct inv_config *inv,
                         struct api_ingest *ingest, struct api_server **out,
                         struct tl_error *err)
{
        struct sockaddr_in6 v6;
        struct sockaddr_in v4;
        bool is_v6 = false;
        const char *rules = cfg->rules ? cfg->rules : inv->rules;
        unsigned flags =
            MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
        struct api_server *s;
        size_t threads;
        tl_status rc;

        if (!rules)
                return tl_fail(err, TL_EINVAL,
                               "serve: no catalogs (serve.rules, "
                               "invoicing.rules or --rules)");
        rc = parse_addr(cfg->http, &v6, &v4, &is_v6, err);
        if (rc)
                return rc;
        s = tl_calloc(1, sizeof *s);
        if (!s)
                return tl_fail(err, TL_ENOMEM, "serve: out of memory");
        s->inv = inv;
        s->ingest = ingest;
        threads = (size_t)(cfg->threads ? cfg->threads : default_threads());
        /* One connection per thread, so no request waits for one; the
           stack hands out the one used last, so a connection is opened
           only when that many requests run at once, and the ones in use
           stay warm (a fresh connection's first draft prepares and plans
           its statements, tens of milliseconds). */
        rc = api__pool_init(&s->pool, threads, err);
        if (rc) {
                tl_free(s);
                return rc;
        }
        rc = api__limiter_init(&s->limiter, cfg->rate_per_s, cfg->rate_burst,
                               err);
        if (!rc)
                rc = api__key_cache_init(&s->keys, API__KEY_TTL_US, err);
        if (!rc)
                rc = rate_reloader_new(rules, 0, &s->rules, NULL, err);
        if (!rc && cfg->tls_cert) {
                rc = read_pem(cfg->tls_cert, &s->tls_cert, err);
                if (!rc)
                        rc = read_pem(cfg->tls_key, &s->tls_key, err);
                if (!rc)
                        rc = check_pair(cfg->tls_cert, s->tls_cert,
                                        cfg->tls_key, s->tls_key, err);
                flags |= MHD_USE_TLS;
        }
        if (!rc)
                rc = api_sender_new(&cfg->webhooks, &s->sender, err);
        if (!rc)
                rc = api__entitlements_start(s, err);
        if (rc) {
                api_server_free(&s);
                return rc;
        }
        if (is_v6)
                flags |= MHD_USE_DUAL_STACK | MHD_USE_IPv6;
        s->d = MHD_start_daemon(
            flags, 0, NULL, NULL, handle, s, MHD_OPTION_SOCK_ADDR,
            is_v6 ? (struct sockaddr *)&v6 : (struct sockaddr *)&v4,
            MHD_OPTION_THREAD_POOL_SIZE, (unsigned)threads,
            MHD_OPTION_CONNECTION_LIMIT, (unsigned)cfg->max_connections,
            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)cfg->timeout_s,
            MHD_OPTION_NOTIFY_COMPLETED, completed, s,
            MHD_OPTION_UNESCAPE_CALLBACK, keep_raw, NULL,
            MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(64 * 1024),
            s->tls_cert ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END,
            s->tls_cert, MHD_OPTION_HTTPS_MEM_KEY, s->tls_key, MHD_OPTION_END);
        if (!s->d) {
                api_server_free(&s);
                return tl_fail(err, TL_EIO,
                               "serve: cannot listen on %s (in use, or the "
                               "TLS files are not a PEM certificate and key)",
                               cfg->http);
        }
        {
                const union MHD_DaemonInfo *i =
                    MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);

                s->port = i ? i->port : 0;
        }
        tl_log(TL_LOG_INFO, "api", "listening", "addr=%s port=%u tls=%s",
               cfg->http, (unsigned)s->port, s->tls_cert ? "on" : "off");
        *out = s;
        return TL_OK;
}

uint16_t api_server_port(const struct api_server *s)
{
        return s->port;
}

void api_server_reload(struct api_server *s)
{
        if (s)
                rate_reloader_request(s->rules);
}

void api_server_free(struct api_server **pp)
{
        struct api_server *s = pp ? *pp : NULL;

        if (!s)
                return;
        *pp = NULL;
        api_sender_free(&s->sender);
        if (s->d)
                MHD_stop_daemon(s->d);
        api__entitlements_stop(s);
        rate_reloader_free(&s->rules);
        api__limiter_release(&s->limiter);
        api__key_cache_release(&s->keys);
        api__pool_release(&s->pool);
        tl_free(s->tls_cert);
        tl_free(s->tls_key);
        tl_free(s);
}
