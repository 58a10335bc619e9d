/* GET /v1/customers/{id}/usage: a period's usage and draft cost, read from
   the stored events and priced by rating/ with the hot-reloaded catalog. */
#ifndef METER_USAGE_H
#define METER_USAGE_H

#include "core/error.h"
#include "core/str.h"

struct meter_usage;

/*
** Load the catalog set at 'rules' (watched and hot-reloaded) and the
** customers file at 'customers'. Storing events never depends on these:
** the service calls this apart from ingest and serves 503 while it fails.
** Returns TL_OK, or the loaders' statuses with their messages.
*/
tl_status meter__usage_new(const char *rules, const char *customers,
                           struct meter_usage **out, struct tl_error *err);
void meter__usage_free(struct meter_usage **pp);

/*
** Answer the request for 'path' (what follows "/v1/customers/") with
** 'period' "YYYY-MM" or NULL for the month now: fills 'body' with JSON and
** returns the HTTP status (200, 400, 404, 503).
*/
unsigned meter__usage_http(struct meter_usage *u, const char *path,
                           const char *period, struct tl_buf *body);

/* Reload the catalog set now (SIGHUP), skipping the debounce. */
void meter__usage_reload(struct meter_usage *u);

/* Catalog sets published since start, for /metrics. */
unsigned long long meter__usage_generation(const struct meter_usage *u);

#endif
