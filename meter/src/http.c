/* /metrics (Prometheus text) and /healthz, served by libmicrohttpd on its
   own threads. The meter prices nothing: cost to date is `tally serve`'s. */
#include "service.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <microhttpd.h>

#include "core/alloc.h"
#include "core/log.h"

struct meter_http {
        struct MHD_Daemon *d;
        struct meter *m;
};

#define COUNTER(name, help, value)                                             \
        tl_buf_printf(out, err,                                                \
                      "# HELP tally_meter_" name " " help "\n"                 \
                      "# TYPE tally_meter_" name " counter\n"                  \
                      "tally_meter_" name " %" PRIu64 "\n",                    \
                      (uint64_t)(value))

tl_status meter__metrics_text(struct meter *m, struct tl_buf *out,
                              struct tl_error *err)
{
        tl_status rc = TL_OK;
        uint64_t cum = 0;

        rc = COUNTER("consumed_total",
                     "Events and batch elements consumed and committed.",
                     m->consumed);
        if (!rc)
                rc = COUNTER("stored_total", "Events stored.", m->stored);
        if (!rc)
                rc = COUNTER("duplicates_total",
                             "Events seen before with the same content.",
                             m->duplicates);
        if (!rc)
                rc = COUNTER("dead_letters_total",
                             "Units dead-lettered with their reason.",
                             m->dead_lettered);
        if (!rc)
                rc = COUNTER("batches_total", "Transactions committed.",
                             m->batches);
        if (!rc)
                rc = COUNTER("fence_conflicts_total",
                             "Batches refused: another consumer owned a "
                             "partition.",
                             m->conflicts);
        if (!rc)
                rc = COUNTER("db_errors_total",
                             "Database failures (batch read again).",
                             m->db_errors);
        if (!rc)
                rc = COUNTER("kafka_errors_total", "Kafka client errors.",
                             m->kafka_errors);
        if (!rc)
                rc = COUNTER("offset_gaps_total",
                             "Offsets skipped by the broker (compaction, "
                             "retention).",
                             m->gaps);
        if (!rc)
                rc = tl_buf_printf(out, err,
                                   "# HELP tally_meter_batch_seconds Time from "
                                   "a batch's first message to its commit.\n"
                                   "# TYPE tally_meter_batch_seconds "
                                   "histogram\n");
        for (int i = 0; !rc && i < METER_LAT_BUCKETS; i++) {
                cum = m->lat_buckets[i];
                rc = tl_buf_printf(out, err,
                                   "tally_meter_batch_seconds_bucket{le=\"%d."
                                   "%03d\"} %" PRIu64 "\n",
                                   meter__lat_bounds_ms[i] / 1000,
                                   meter__lat_bounds_ms[i] % 1000, cum);
        }
        if (!rc)
                rc = tl_buf_printf(
                    out, err,
                    "tally_meter_batch_seconds_bucket{le=\"+Inf\"} "
                    "%" PRIu64 "\n"
                    "tally_meter_batch_seconds_sum %" PRIu64 ".%06" PRIu64
                    "\ntally_meter_batch_seconds_count %" PRIu64 "\n",
                    (uint64_t)m->lat_count, (uint64_t)m->lat_sum_us / 1000000,
                    (uint64_t)m->lat_sum_us % 1000000, (uint64_t)m->lat_count);
        if (!rc)
                rc = tl_buf_printf(out, err,
                                   "# HELP tally_meter_lag Messages in the "
                                   "partition not yet stored.\n"
                                   "# TYPE tally_meter_lag gauge\n");
        pthread_mutex_lock(&m->lock);
        for (size_t i = 0; !rc && i < m->nparts; i++) {
                const struct meter_part *p = &m->parts[i];
                int64_t lag = p->high >= 0 && p->stored >= 0
                                  ? p->high - p->stored
                                  : p->high;
                rc = tl_buf_printf(out, err,
                                   "tally_meter_lag{topic=\"%s\",partition=\""
                                   "%d\"} %" PRId64 "\n",
                                   p->topic, p->partition, lag < 0 ? 0 : lag);
        }
        pthread_mutex_unlock(&m->lock);
        if (!rc)
                rc = tl_buf_printf(out, err,
                                   "# HELP tally_meter_up Whether the database "
                                   "and Kafka are reachable.\n"
                                   "# TYPE tally_meter_up gauge\n"
                                   "tally_meter_up{dependency=\"postgresql\"} "
                                   "%d\n"
                                   "tally_meter_up{dependency=\"kafka\"} %d\n",
                                   (int)m->db_up, (int)m->kafka_up);
        return rc;
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status,
                             const char *type, const char *body, size_t len)
{
        struct MHD_Response *r = MHD_create_response_from_buffer(
            len, (void *)body, MHD_RESPMEM_MUST_COPY);
        enum MHD_Result ok;

        MHD_add_response_header(r, "Content-Type", type);
        ok = MHD_queue_response(c, status, r);
        MHD_destroy_response(r);
        return ok;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c,
                              const char *url, const char *method,
                              const char *version, const char *upload,
                              size_t *upload_size, void **state)
{
        struct meter_http *h = cls;
        struct tl_buf body;
        struct tl_error e = {0};
        enum MHD_Result ok;
        unsigned status = MHD_HTTP_OK;
        const char *const type = "text/plain; version=0.0.4";

        (void)version;
        (void)upload;
        (void)upload_size;
        (void)state;
        if (strcmp(method, "GET"))
                return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain",
                             "GET only\n", 9);
        tl_buf_init(&body, 1 << 24);
        if (!strcmp(url, "/metrics")) {
                if (meter__metrics_text(h->m, &body, &e))
                        status = MHD_HTTP_INTERNAL_SERVER_ERROR;
        } else if (!strcmp(url, "/healthz")) {
                bool up = h->m->db_up && !h->m->fatal;
                status = up ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE;
                tl_buf_printf(&body, &e, "%s\n",
                              up ? "ok" : "database unavailable");
        } else {
                status = MHD_HTTP_NOT_FOUND;
                tl_buf_puts(&body, "not found\n", &e);
        }
        ok = reply(c, status, type, body.data ? body.data : "", body.len);
        tl_buf_release(&body);
        return ok;
}

/* Thousands of connections, but a bound: each costs a descriptor and a
   32 KiB buffer, and a flood of slow clients must not take the meter's
   descriptors for Kafka and PostgreSQL. */
#define MAX_CONNECTIONS 4096u
/* Descriptors kept for everything but HTTP (librdkafka, libpq, logs). */
#define NOFILE_RESERVE 256u
/* Seconds a connection may sit without sending a byte. */
#define IDLE_SECONDS 5u
/* Workers, each with its own epoll set: a request held up (a scrape
   waiting on the partition lock) takes one of them, and /healthz is served
   by the others. */
#define WORKERS 4u

/* Raise the soft RLIMIT_NOFILE to the hard one (the soft default is 1024:
   the select() era), then size the connection limit to fit. Nothing in the
   meter uses select(), so descriptors past 1024 are safe. */
static unsigned connection_limit(void)
{
        struct rlimit rl;
        rlim_t want;

        if (getrlimit(RLIMIT_NOFILE, &rl))
                return 1024 - NOFILE_RESERVE;
        want = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > 1048576
                   ? 1048576
                   : rl.rlim_max;
        if (rl.rlim_cur < want) {
                struct rlimit up = {want, rl.rlim_max};

                if (!setrlimit(RLIMIT_NOFILE, &up))
                        rl.rlim_cur = want;
                else
                        tl_log(TL_LOG_WARN, "meter",
                               "cannot raise the descriptor limit",
                               "soft=%llu hard=%llu",
                               (unsigned long long)rl.rlim_cur,
                               (unsigned long long)rl.rlim_max);
        }
        if (rl.rlim_cur >= MAX_CONNECTIONS + NOFILE_RESERVE)
                return MAX_CONNECTIONS;
        return rl.rlim_cur > 2 * NOFILE_RESERVE
                   ? (unsigned)rl.rlim_cur - NOFILE_RESERVE
                   : (unsigned)rl.rlim_cur / 2;
}

/* The listening address of "HOST:PORT": an empty HOST, "::" or "[::]"
   is every address, IPv6 and IPv4 (dual stack); "[ADDR]" or an address
   with colons is one IPv6 address; anything else one IPv4 address. */
struct listen_addr {
        struct sockaddr_storage sa;
        unsigned flags; /* MHD_USE_IPv6 or MHD_USE_DUAL_STACK, or 0 */
        uint16_t port;
        char host[64]; /* for the log: without brackets */
};

static tl_status parse_addr(const char *addr, struct listen_addr *la,
                            struct tl_error *err)
{
        struct sockaddr_in *a4 = (struct sockaddr_in *)&la->sa;
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&la->sa;
        const char *colon = strrchr(addr, ':');
        size_t n = colon ? (size_t)(colon - addr) : 0;
        char *end = NULL;
        long port;

        memset(la, 0, sizeof *la);
        if (!colon || n >= sizeof la->host)
                return tl_fail(err, TL_EINVAL,
                               "meter.http: expected HOST:PORT, got '%s'",
                               addr);
        if (n >= 2 && addr[0] == '[' && addr[n - 1] == ']')
                memcpy(la->host, addr + 1, n - 2);
        else
                memcpy(la->host, addr, n);
        port = strtol(colon + 1, &end, 10);
        if (!colon[1] || *end || port < 0 || port > 65535)
                return tl_fail(err, TL_EINVAL,
                               "meter.http: '%s': the port must be a number "
                               "from 0 to 65535",
                               addr);
        la->port = (uint16_t)port;
        if (!*la->host || !strcmp(la->host, "::")) {
                snprintf(la->host, sizeof la->host, "::");
                a6->sin6_family = AF_INET6;
                a6->sin6_addr = in6addr_any;
                a6->sin6_port = htons(la->port);
                la->flags = MHD_USE_DUAL_STACK;
        } else if (strchr(la->host, ':') &&
                   inet_pton(AF_INET6, la->host, &a6->sin6_addr) == 1) {
                a6->sin6_family = AF_INET6;
                a6->sin6_port = htons(la->port);
                la->flags = MHD_USE_IPv6;
        } else if (inet_pton(AF_INET, la->host, &a4->sin_addr) == 1) {
                a4->sin_family = AF_INET;
                a4->sin_port = htons(la->port);
        } else {
                return tl_fail(err, TL_EINVAL,
                               "meter.http: expected an IPv4 or IPv6 "
                               "HOST:PORT (IPv6 as [ADDR]:PORT, every "
                               "address as :PORT), got '%s'",
                               addr);
        }
        return TL_OK;
}

static struct MHD_Daemon *start(struct meter_http *h,
                                const struct listen_addr *la, unsigned limit)
{
        /* epoll, not select(): select() cannot watch a descriptor past
           FD_SETSIZE (1024), so 1,000 slow clients starved /healthz. */
        return MHD_start_daemon(
            MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG | la->flags,
            la->port, NULL, NULL, handle, h, MHD_OPTION_SOCK_ADDR, &la->sa,
            MHD_OPTION_THREAD_POOL_SIZE, WORKERS, MHD_OPTION_CONNECTION_LIMIT,
            limit, MHD_OPTION_CONNECTION_TIMEOUT, IDLE_SECONDS, MHD_OPTION_END);
}

tl_status meter__http_start(struct meter *m, const char *addr,
                            struct meter_http **out, struct tl_error *err)
{
        struct listen_addr la;
        struct meter_http *h;
        unsigned limit;
        tl_status rc = parse_addr(addr, &la, err);

        if (rc)
                return rc;
        if (MHD_is_feature_supported(MHD_FEATURE_EPOLL) != MHD_YES)
                return tl_fail(err, TL_EINVAL,
                               "meter.http: this libmicrohttpd has no epoll "
                               "support");
        limit = connection_limit();
        h = tl_calloc(1, sizeof *h);
        if (!h)
                return tl_fail(err, TL_ENOMEM, "meter: out of memory");
        h->m = m;
        h->d = start(h, &la, limit);
        if (!h->d && addr[0] == ':' && la.flags == MHD_USE_DUAL_STACK) {
                /* ":PORT" on a host without IPv6: every IPv4 address, as
                   before dual stack. */
                struct sockaddr_in *a4 = (struct sockaddr_in *)&la.sa;

                memset(&la.sa, 0, sizeof la.sa);
                a4->sin_family = AF_INET;
                a4->sin_addr.s_addr = htonl(INADDR_ANY);
                a4->sin_port = htons(la.port);
                la.flags = 0;
                snprintf(la.host, sizeof la.host, "0.0.0.0");
                h->d = start(h, &la, limit);
        }
        if (!h->d) {
                tl_free(h);
                return tl_fail(err, TL_EIO, "meter.http: cannot listen on %s",
                               addr);
        }
        {
                const union MHD_DaemonInfo *i =
                    MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
                tl_log(TL_LOG_INFO, "meter", "http listening",
                       "addr=%s%s%s:%u connections=%u idle_timeout_s=%u",
                       la.flags ? "[" : "", la.host, la.flags ? "]" : "",
                       i ? (unsigned)i->port : (unsigned)la.port, limit,
                       IDLE_SECONDS);
        }
        *out = h;
        return TL_OK;
}

void meter__http_stop(struct meter_http **pp)
{
        struct meter_http *h = *pp;

        if (!h)
                return;
        MHD_stop_daemon(h->d);
        tl_free(h);
        *pp = NULL;
}
