/* `tally serve`: the HTTP API (docs/api.md). One process, stateless behind
   a load balancer: PostgreSQL holds every answer, Kafka takes events. */
#ifndef API_API_H
#define API_API_H

#include <stdbool.h>
#include <stdint.h>

#include "api/ingest.h"
#include "api/webhooks.h"
#include "core/error.h"
#include "invoicing/invoicing.h"

/* The `serve:` section of the tally config file (docs/api.md). */
struct api_config {
        char *http;     /* "HOST:PORT"; default "127.0.0.1:8080"; "[::]"
                           or an empty host: every IPv4 and IPv6 address */
        char *rules;    /* catalog file or directory; default: the
                           invoicing section's rules */
        char *tls_cert; /* PEM files: both or neither */
        char *tls_key;
        long threads;         /* request threads; 0: four per CPU, at least 8 */
        long max_connections; /* open connections at most, default 4096 */
        long timeout_s;       /* idle connection timeout, default 15 */
        long rate_per_s;      /* per key: requests per second, default 200 */
        long rate_burst;      /* per key: bucket size, default 400 */
        struct api_webhooks_config webhooks; /* serve.webhooks: the sender */
};

void api_config_init(struct api_config *c);
void api_config_release(struct api_config *c);

/*
** Read the `serve:` section of the config file at 'path' (NULL: none;
** values expand ${VAR} and take k_file, core/config.h). Unknown keys and bad
** values are TL_EINVAL with file:line:column, never quoting a value.
*/
tl_status api_config_load(struct api_config *c, const char *path,
                          struct tl_error *err);

struct api_server;

/*
** Start serving 'cfg' until api_server_free. 'inv' (the invoicing config:
** issuer, grace days, clock) and 'ingest' (NULL: POST /v1/events answers
** 503, no Kafka configured) are borrowed for the server's life. The
** catalogs at cfg->rules (or inv->rules) are loaded and hot-reloaded; the
** webhook sender (cfg->webhooks) runs until api_server_free.
** Returns TL_OK and '*out'; TL_EINVAL for a bad address, TLS files or
** catalogs (named); TL_EIO when it cannot listen; TL_ENOMEM.
*/
tl_status api_server_new(const struct api_config *cfg,
                         const struct inv_config *inv,
                         struct api_ingest *ingest, struct api_server **out,
                         struct tl_error *err);

/* The port it listens on (the one the OS chose for port 0). */
uint16_t api_server_port(const struct api_server *s);

/* Ask for a catalog reload now (SIGHUP); safe in a signal handler. */
void api_server_reload(struct api_server *s);

/* The routes served, in order ("GET", "/v1/customers/{id}/usage"): what
   the OpenAPI document in docs/ must describe, no more and no less. */
size_t api_route_count(void);
void api_route_at(size_t i, const char **method, const char **path);

/* Stop (in-flight requests finish), free '*pp' and set it to NULL. */
void api_server_free(struct api_server **pp);

#endif
