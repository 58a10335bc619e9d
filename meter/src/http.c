/* /metrics (Prometheus text), /healthz and the usage API, served by
   libmicrohttpd on its own thread. */
#include "service.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <microhttpd.h>

#include "core/alloc.h"
#include "core/log.h"
#include "usage.h"

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
        if (!rc && m->usage)
                rc = COUNTER("catalog_reloads_total",
                             "Catalog sets published by hot reload.",
                             meter__usage_generation(m->usage));
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

static int put(const char *s, size_t n, void *data)
{
        return tl_buf_append(data, s, n, NULL) ? -1 : 0;
}

/* {"error":msg} and a newline, written by jansson; on failure 'out' is
   left empty (the status still says what went wrong). */
static void json_error_body(struct tl_buf *out, const char *msg)
{
        json_t *doc = json_pack("{s:s}", "error", msg);

        if (!doc || json_dump_callback(doc, put, out, JSON_COMPACT) ||
            tl_buf_append(out, "\n", 1, NULL))
                tl_buf_clear(out);
        json_decref(doc);
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
        const char *type = "text/plain; version=0.0.4";

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
        } else if (!strncmp(url, "/v1/customers/", 14)) {
                type = "application/json";
                if (h->m->usage) {
                        status = meter__usage_http(
                            h->m->usage, url + 14,
                            MHD_lookup_connection_value(
                                c, MHD_GET_ARGUMENT_KIND, "period"),
                            &body);
                } else {
                        status = MHD_HTTP_SERVICE_UNAVAILABLE;
                        json_error_body(&body,
                                        "no catalog: start the meter with "
                                        "meter.rules and meter.customers");
                }
        } else {
                status = MHD_HTTP_NOT_FOUND;
                tl_buf_puts(&body, "not found\n", &e);
        }
        ok = reply(c, status, type, body.data ? body.data : "", body.len);
        tl_buf_release(&body);
        return ok;
}

tl_status meter__http_start(struct meter *m, const char *addr,
                            struct meter_http **out, struct tl_error *err)
{
        struct sockaddr_in sa = {.sin_family = AF_INET};
        char host[64];
        const char *colon = strrchr(addr, ':');
        long port;
        struct meter_http *h;

        if (!colon || (size_t)(colon - addr) >= sizeof host)
                return tl_fail(err, TL_EINVAL,
                               "meter.http: expected HOST:PORT, got '%s'",
                               addr);
        memcpy(host, addr, (size_t)(colon - addr));
        host[colon - addr] = '\0';
        port = strtol(colon + 1, NULL, 10);
        if (port < 0 || port > 65535 ||
            inet_pton(AF_INET, *host ? host : "0.0.0.0", &sa.sin_addr) != 1)
                return tl_fail(err, TL_EINVAL,
                               "meter.http: expected an IPv4 HOST:PORT, got "
                               "'%s'",
                               addr);
        sa.sin_port = htons((uint16_t)port);
        h = tl_calloc(1, sizeof *h);
        if (!h)
                return tl_fail(err, TL_ENOMEM, "meter: out of memory");
        h->m = m;
        h->d = MHD_start_daemon(
            MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, (uint16_t)port,
            NULL, NULL, handle, h, MHD_OPTION_SOCK_ADDR, &sa,
            MHD_OPTION_CONNECTION_TIMEOUT, 10u, MHD_OPTION_END);
        if (!h->d) {
                tl_free(h);
                return tl_fail(err, TL_EIO, "meter.http: cannot listen on %s",
                               addr);
        }
        {
                const union MHD_DaemonInfo *i =
                    MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
                tl_log(TL_LOG_INFO, "meter", "http listening", "addr=%s:%u",
                       *host ? host : "0.0.0.0",
                       i ? (unsigned)i->port : (unsigned)port);
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
