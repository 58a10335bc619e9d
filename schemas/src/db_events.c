/* Stored events back into sch_event values. */
#include "schemas/db_events.h"

#include <stdlib.h>
#include <string.h>

static struct sch_str col(const PGresult *r, int row, int c)
{
        struct sch_str s = {NULL, 0};

        if (!PQgetisnull(r, row, c)) {
                s.ptr = PQgetvalue(r, row, c);
                s.len = (uint32_t)PQgetlength(r, row, c);
        }
        return s;
}

static uint64_t count(const PGresult *r, int row, int c)
{
        return PQgetisnull(r, row, c)
                   ? 0
                   : strtoull(PQgetvalue(r, row, c), NULL, 10);
}

/* Rows 'a' and 'b' belong to one event: same customer, source and id. */
static bool same_event(const PGresult *r, int a, int b)
{
        static const int KEY[] = {0, 3, 4};

        for (size_t k = 0; k < sizeof KEY / sizeof *KEY; k++)
                if (strcmp(PQgetvalue(r, a, KEY[k]), PQgetvalue(r, b, KEY[k])))
                        return false;
        return true;
}

void sch_db_row_event(const PGresult *r, int *row, struct sch_event *ev)
{
        int i = *row;

        memset(ev, 0, sizeof *ev);
        ev->subject = col(r, i, 0);
        ev->type = (sch_event_type)atoi(PQgetvalue(r, i, 1));
        ev->time_us = strtoll(PQgetvalue(r, i, 2), NULL, 10);
        ev->source = col(r, i, 3);
        ev->id = col(r, i, 4);
        ev->model = col(r, i, 5);
        ev->deployment = (sch_deployment)count(r, i, 6);
        ev->decoding = col(r, i, 7);
        ev->input_tokens = count(r, i, 8);
        ev->output_tokens = count(r, i, 9);
        ev->cached_input_tokens = count(r, i, 10);
        ev->iterations = count(r, i, 11);
        ev->tokens = count(r, i, 12);
        ev->mac = count(r, i, 13);
        ev->device_id = col(r, i, 14);
        ev->action = (sch_seat_action)count(r, i, 15);
        ev->model_class = col(r, i, 16);
        ev->task = col(r, i, 17);
        ev->outcome = col(r, i, 18);
        ev->units = count(r, i, 19);
        for (; *row < PQntuples(r); (*row)++) {
                if (*row > i && !same_event(r, i, *row))
                        break;
                if (!PQgetisnull(r, *row, 20) && ev->dim_count < SCH_MAX_DIMS) {
                        ev->dims[ev->dim_count].key = col(r, *row, 20);
                        ev->dims[ev->dim_count].value = col(r, *row, 21);
                        ev->dim_count++;
                }
        }
}
