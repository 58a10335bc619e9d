/* Reading stored events back as sch_event values (the usage API, the
   monthly close): one SELECT list, one row reader. */
#ifndef SCH_DB_EVENTS_H
#define SCH_DB_EVENTS_H

#include <libpq-fe.h>

#include "schemas/event.h"

/*
** The columns sch_db_row_event reads, for a query over "events e": each
** event comes as one row per dimension (or one row without), so the query
** must join "LEFT JOIN LATERAL jsonb_each_text(e.dims) d ON true" and
** order by e.customer_id, e.source, e.event_id, d.key COLLATE "C".
*/
#define SCH_DB_EVENT_COLUMNS                                                   \
        "e.customer_id, e.type,"                                               \
        " (extract(epoch FROM e.event_time) * 1000000)::int8,"                 \
        " e.source, e.event_id, e.model, e.deployment, e.decoding,"            \
        " e.input_tokens, e.output_tokens, e.cached_input_tokens,"             \
        " e.iterations, e.tokens, e.mac, e.device_id, e.seat_action,"          \
        " e.model_class, e.task, e.outcome, e.units, d.key, d.value"

/*
** The event starting at row '*row' of 'r' (text results of a query with
** SCH_DB_EVENT_COLUMNS); '*row' moves past its dimension rows. The event
** points into 'r', which must outlive it.
*/
void sch_db_row_event(const PGresult *r, int *row, struct sch_event *ev);

#endif
