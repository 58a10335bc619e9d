/* tally loadgen's generator: a seeded, reproducible stream of valid events,
   duplicates and every kind of bad unit of docs/formats.md, with its truth. */
#include "core/alloc.h"
#include "loadgen/loadgen.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/dec.h"
#include "profile.h"
#include "rng.h"
#include "schemas/decode.h"

/* A batch is closed once its events pass this many bytes, so a message
   stays far below SCH_MAX_MESSAGE_BYTES and Kafka's message.max.bytes. */
#define SOFT_MESSAGE_BYTES (512 * 1024)

/* How far back a production duplicate or conflict reaches, in the
   customer's own events. */
#define RECENT 64

#define CT_JSON "application/cloudevents+json"
#define CT_CBOR "application/cloudevents+cbor"

enum unit_kind { UNIT_VALID, UNIT_DUP, UNIT_BAD };

/* The bad units, in the order they take turns. */
typedef enum {
        BAD_BYTES, /* undecodable bytes; a message of its own */
        BAD_JSON,  /* malformed JSON; a message of its own */
        BAD_MISSING_ID,
        BAD_MISSING_SOURCE,
        BAD_MISSING_SUBJECT,
        BAD_MISSING_TYPE,
        BAD_MISSING_TIME,
        BAD_MISSING_DATA,
        BAD_UNKNOWN_TYPE,
        BAD_WRONG_KIND, /* a count sent as text */
        BAD_NEGATIVE,   /* a negative count */
        BAD_TIME_OLD,   /* before 2000 */
        BAD_TIME_FUTURE,
        BAD_CONFLICT,   /* an earlier event's key with other content */
        BAD_OVER_LIMIT, /* a CBOR array over the batch limit; own message */
        BAD_CASE_COUNT
} bad_case;

/* Envelope keys dropped by BAD_MISSING_ID ... BAD_MISSING_DATA. */
static const char *const missing_keys[] = {"id",   "source", "subject",
                                           "type", "time",   "data"};

/* Truth columns after 'events'. */
enum {
        COL_INPUT,
        COL_OUTPUT,
        COL_CACHED,
        COL_ITERATIONS,
        COL_TOKENS,
        COL_MAC,
        COL_UNITS,
        COL_COUNT
};

static const char *const models[] = {
    "mercury-coder-small", "mercury-coder-mini", "mercury-large", "edge-nano"};
static const char *const decodings[] = {"autoregressive", "diffusion",
                                        "speculative"};
static const char *const regions[] = {"eu-west-1", "us-east-1", "ap-south-1"};
static const char *const classes[] = {"small", "medium", "large"};
static const char *const tasks[] = {"support.resolution", "code.review",
                                    "data.extraction"};
static const char *const outcomes[] = {"success", "success", "success",
                                       "failure", "escalated"};

/* The distinct events of one customer, by number, in stream order. */
struct lg_customer {
        uint32_t *events;
        uint32_t count, alloc;
};

/* One truth row: a customer's events of one type. */
struct lg_sums {
        uint64_t events;
        tl_u128 cols[COL_COUNT];
};

/* Storage for the strings one struct sch_event borrows. */
struct lg_text {
        char id[64];
        char source[48];
        char subject[24];
        char device_id[48];
        char dim_value[16];
};

struct lg_gen {
        struct lg_config cfg;
        uint64_t rng;             /* the stream's choices */
        uint64_t left[3];         /* units still to come, by unit_kind */
        uint64_t done[3];         /* units generated, by unit_kind */
        uint32_t next_event;      /* number of the next distinct event */
        uint32_t *event_customer; /* customer of each distinct event */
        uint64_t bad_index;       /* bad units so far: whose turn it is */
        bad_case cases[BAD_CASE_COUNT];
        size_t case_count;
        sch_event_type bad_type; /* bad units carry counts to break */
        int digits;              /* width of customer numbers */
        tl_time_us future_us;
        struct lg_customer *customers;
        struct lg_sums *sums; /* [customer * 4 + type - 1] */
        uint64_t *zipf;       /* production: cumulative customer weights */
        struct sch_decoder *decoder;
        struct tl_buf unit, scratch, elems, payload;
        struct lg_text text;
        struct sch_event ev, check_ev;
};

/* ---- randomness ---- */

/* A private stream for item 'n' of family 'family', so an event's content
   depends on the seed and its number alone, never on what came before. */
static uint64_t item_stream(const struct lg_gen *g, uint64_t family, uint64_t n)
{
        uint64_t s = g->cfg.seed ^ (family * UINT64_C(0xd1b54a32d192ed03));

        s += n * UINT64_C(0x8cb92ba72f3d8dd7);
        next_u64(&s);
        return s;
}

/* ---- events ---- */

static struct sch_str str_of(const char *s)
{
        return (struct sch_str){s, (uint32_t)strlen(s)};
}

static void customer_id(const struct lg_gen *g, uint32_t cust, char *out,
                        size_t size)
{
        snprintf(out, size, "cust_%0*u", g->digits, cust + 1);
}

/* A time in the configured range, on a millisecond, often on a second:
   whole seconds travel in CBOR as tag 1, the others as tag 0 text. */
static tl_time_us pick_time(const struct lg_gen *g, uint64_t *s)
{
        tl_time_us from = g->cfg.time_from;
        uint64_t span = (uint64_t)(g->cfg.time_to - from);
        tl_time_us t = from + (tl_time_us)below(s, span + 1);
        tl_time_us ms = t - t % 1000, sec = t - t % TL_US_PER_SEC;

        if (below(s, 4) == 0 && sec >= from)
                return sec;
        return ms >= from ? ms : t;
}

static void fill_inference(struct sch_event *ev, uint64_t *s)
{
        ev->model = str_of(models[below(s, 4)]);
        ev->deployment = below(s, 4) ? SCH_DEPLOY_CLOUD : SCH_DEPLOY_DEVICE;
        if (ev->type != SCH_TYPE_MATRIX_OPS)
                ev->decoding = str_of(decodings[below(s, 3)]);
        switch (ev->type) {
        case SCH_TYPE_TOKENS:
                ev->input_tokens = 1 + below(s, 8192);
                ev->output_tokens = 1 + below(s, 4096);
                if (below(s, 3) == 0)
                        ev->cached_input_tokens = below(s, ev->input_tokens);
                break;
        case SCH_TYPE_ITERATIONS:
                ev->iterations = 1 + below(s, 128);
                ev->tokens = 1 + below(s, 4096);
                break;
        default: /* matrix_ops: 10^6 .. about 10^16 multiply-accumulates */
                ev->mac = 1 + below(s, 9);
                for (uint64_t e = 6 + below(s, 10); e; e--)
                        ev->mac *= 10;
                ev->mac += below(s, 1000000);
                break;
        }
}

/* A task.outcome: mostly successes, units 1 two times in three. */
static void fill_outcome(struct sch_event *ev, uint64_t *s)
{
        ev->task = str_of(tasks[below(s, 3)]);
        ev->outcome = str_of(outcomes[below(s, 5)]);
        ev->deployment = below(s, 2) ? SCH_DEPLOY_CLOUD : SCH_DEPLOY_DEVICE;
        ev->units = below(s, 3) ? 1 : 2 + below(s, 9);
}

static void fill_seat(const struct lg_gen *g, struct sch_event *ev,
                      struct lg_text *t, uint32_t cust, uint64_t *s)
{
        uint64_t a = below(s, 10);

        snprintf(t->device_id, sizeof t->device_id, "dev-%0*u-%u", g->digits,
                 cust + 1, (unsigned)(1 + below(s, 5)));
        ev->device_id = str_of(t->device_id);
        ev->action = a < 7   ? SCH_SEAT_HEARTBEAT
                     : a < 9 ? SCH_SEAT_ACTIVATE
                             : SCH_SEAT_DEACTIVATE;
        ev->model_class = str_of(classes[below(s, 3)]);
}

/*
** The production profile's event number 'n' (for a bad unit, the next
** event's) of 'cust': the spread content, then the customer's habits over
** it, and a time that advances with 'n'. The id is already in 't'.
*/
static void fill_steady(const struct lg_gen *g, uint64_t n, uint32_t cust,
                        sch_event_type type, struct sch_event *ev,
                        struct lg_text *t, uint64_t *s)
{
        struct lg__habits h;
        sch_deployment deployment;

        lg__habits_of(g->cfg.seed, cust, &h);
        deployment = h.device ? SCH_DEPLOY_DEVICE : SCH_DEPLOY_CLOUD;
        snprintf(t->source, sizeof t->source, "loadgen/%s/gw-%u",
                 regions[h.region], (unsigned)(1 + below(s, 8)));
        customer_id(g, cust, t->subject, sizeof t->subject);
        ev->id = str_of(t->id);
        ev->source = str_of(t->source);
        ev->subject = str_of(t->subject);
        ev->type = type ? type : g->cfg.types[below(s, g->cfg.type_count)];
        ev->time_us = lg__steady_time(g->cfg.time_from, g->cfg.time_to,
                                      g->cfg.events, n, below(s, 4) == 0);
        if (ev->type == SCH_TYPE_SEAT) {
                fill_seat(g, ev, t, cust, s);
                ev->model_class = str_of(classes[h.model_class]);
        } else if (ev->type == SCH_TYPE_OUTCOME) {
                fill_outcome(ev, s);
                ev->task = str_of(tasks[h.tasks[below(s, h.task_count)]]);
                ev->deployment = deployment;
        } else {
                fill_inference(ev, s);
                ev->model = str_of(models[h.models[below(s, h.model_count)]]);
                if (ev->type != SCH_TYPE_MATRIX_OPS)
                        ev->decoding = str_of(
                            decodings[h.decodings[below(s, h.decoding_count)]]);
                ev->deployment = deployment;
        }
        if (h.app_count) {
                snprintf(t->dim_value, sizeof t->dim_value, "app-%u",
                         (unsigned)(1 + h.apps[below(s, h.app_count)]));
                ev->dims[0].key = str_of("app");
                ev->dims[0].value = str_of(t->dim_value);
                ev->dim_count = 1;
        }
}

/*
** Fill '*ev' (strings in '*t') with the content of item 'n' of 'family'
** (0: distinct events, 1: bad units) for customer 'cust'. 'type' NONE picks
** one of the configured types. The same arguments give the same event.
*/
static void fill_event(const struct lg_gen *g, uint64_t family, uint64_t n,
                       uint32_t cust, sch_event_type type, struct sch_event *ev,
                       struct lg_text *t)
{
        uint64_t s = item_stream(g, family, n);

        memset(ev, 0, offsetof(struct sch_event, dims));
        snprintf(t->id, sizeof t->id, "lg-%llu-%s%llu",
                 (unsigned long long)g->cfg.seed, family ? "bad-" : "",
                 (unsigned long long)n);
        if (g->cfg.profile == LG_PRODUCTION) {
                fill_steady(g, family ? g->next_event : n, cust, type, ev, t,
                            &s);
                return;
        }
        snprintf(t->source, sizeof t->source, "loadgen/%s/gw-%u",
                 regions[below(&s, 3)], (unsigned)(1 + below(&s, 8)));
        customer_id(g, cust, t->subject, sizeof t->subject);
        ev->id = str_of(t->id);
        ev->source = str_of(t->source);
        ev->subject = str_of(t->subject);
        ev->type = type ? type : g->cfg.types[below(&s, g->cfg.type_count)];
        ev->time_us = pick_time(g, &s);
        if (ev->type == SCH_TYPE_SEAT)
                fill_seat(g, ev, t, cust, &s);
        else if (ev->type == SCH_TYPE_OUTCOME)
                fill_outcome(ev, &s);
        else
                fill_inference(ev, &s);
        if (below(&s, 2)) {
                snprintf(t->dim_value, sizeof t->dim_value, "app-%u",
                         (unsigned)(1 + below(&s, 5)));
                ev->dims[0].key = str_of("app");
                ev->dims[0].value = str_of(t->dim_value);
                ev->dim_count = 1;
        }
}

static void add_to_truth(struct lg_gen *g, uint32_t cust,
                         const struct sch_event *ev)
{
        struct lg_sums *r =
            &g->sums[cust * (unsigned)SCH_TYPE_LAST + (unsigned)ev->type - 1u];

        r->events++;
        r->cols[COL_INPUT] += ev->input_tokens;
        r->cols[COL_OUTPUT] += ev->output_tokens;
        r->cols[COL_CACHED] += ev->cached_input_tokens;
        r->cols[COL_ITERATIONS] += ev->iterations;
        r->cols[COL_TOKENS] += ev->tokens;
        r->cols[COL_MAC] += ev->mac;
        r->cols[COL_UNITS] += ev->units;
}

/* ---- units ---- */

/* Decode the unit alone and insist it is valid or rejected, as meant. */
static tl_status check_unit(struct lg_gen *g, bool json, bool want_valid,
                            const char *what, struct tl_error *err)
{
        struct sch_cbor_reader r;
        struct tl_error derr;
        struct sch_str raw;
        tl_status rc;

        if (json) {
                rc = sch_decode_json(g->decoder, g->unit.data, g->unit.len,
                                     &g->check_ev, &derr);
        } else {
                rc = sch_cbor_reader_open(&r, g->unit.data, g->unit.len, false,
                                          &derr);
                while (!rc && sch_cbor_reader_more(&r))
                        rc = sch_cbor_reader_next(&r, g->decoder, &g->check_ev,
                                                  &raw, &derr);
        }
        if ((rc == TL_OK) == want_valid)
                return TL_OK;
        return tl_fail(err, TL_EINTERNAL, "loadgen: generated %s (%s) %s%s",
                       what, json ? "JSON" : "CBOR",
                       want_valid ? "is rejected: " : "decodes as valid",
                       want_valid ? derr.msg : "");
}

static tl_status encode(struct lg_gen *g, bool json, struct tl_error *err)
{
        tl_buf_clear(&g->unit);
        return json ? sch_encode_json(&g->ev, &g->unit, err)
                    : sch_encode_cbor(&g->ev, &g->unit, err);
}

static tl_status push_event(struct lg_customer *c, uint32_t n,
                            struct tl_error *err)
{
        if (c->count == c->alloc) {
                uint32_t alloc = c->alloc ? c->alloc * 2 : 16;
                uint32_t *p = tl_realloc(c->events, alloc * sizeof *p);
                if (!p)
                        return tl_fail(err, TL_ENOMEM,
                                       "loadgen: out of "
                                       "memory");
                c->events = p;
                c->alloc = alloc;
        }
        c->events[c->count++] = n;
        return TL_OK;
}

static tl_status valid_unit(struct lg_gen *g, uint32_t cust, bool json,
                            struct tl_error *err)
{
        uint32_t n = g->next_event;
        tl_status rc = push_event(&g->customers[cust], n, err);

        if (rc)
                return rc;
        g->next_event++;
        g->event_customer[n] = cust;
        fill_event(g, 0, n, cust, SCH_TYPE_NONE, &g->ev, &g->text);
        add_to_truth(g, cust, &g->ev);
        rc = encode(g, json, err);
#ifndef NDEBUG
        if (!rc)
                rc = check_unit(g, json, true, "valid event", err);
#endif
        return rc;
}

/* An earlier distinct event of 'cust', regenerated. */
static void earlier_event(struct lg_gen *g, uint32_t cust)
{
        const struct lg_customer *c = &g->customers[cust];
        /* A live gateway retries what it just sent: production repeats one
           of the customer's last RECENT events. */
        uint32_t back = c->count < RECENT ? c->count : RECENT;
        uint32_t n = g->cfg.profile == LG_PRODUCTION
                         ? c->events[c->count - 1 - below32(&g->rng, back)]
                         : c->events[below32(&g->rng, c->count)];

        fill_event(g, 0, n, cust, SCH_TYPE_NONE, &g->ev, &g->text);
}

/* The same key with other content: one count more, or another class. */
static void alter_content(struct sch_event *ev)
{
        static const struct sch_str other_class = {"unlisted", 8};

        switch (ev->type) {
        case SCH_TYPE_TOKENS:
                ev->output_tokens++;
                break;
        case SCH_TYPE_ITERATIONS:
                ev->tokens++;
                break;
        case SCH_TYPE_MATRIX_OPS:
                ev->mac++;
                break;
        case SCH_TYPE_OUTCOME:
                ev->units++;
                break;
        default:
                ev->model_class = other_class;
                break;
        }
}

static tl_status bad_unit(struct lg_gen *g, bad_case bc, uint32_t cust,
                          bool json, struct tl_error *err)
{
        tl_status rc;

        if (bc == BAD_CONFLICT) {
                earlier_event(g, cust);
                alter_content(&g->ev);
                rc = encode(g, json, err);
                return rc ? rc : check_unit(g, json, true, "conflict", err);
        }
        fill_event(g, 1, g->bad_index, cust, g->bad_type, &g->ev, &g->text);
        if (bc == BAD_TIME_OLD)
                g->ev.time_us = tl_days_from_civil(1999, 7, 1) * TL_US_PER_DAY;
        else if (bc == BAD_TIME_FUTURE)
                g->ev.time_us = g->future_us;
        rc = encode(g, json, err);
        if (rc)
                return rc;
        if (bc >= BAD_MISSING_ID && bc <= BAD_MISSING_DATA)
                rc = lg_drop_key(&g->unit, json,
                                 missing_keys[bc - BAD_MISSING_ID], err);
        else if (bc == BAD_UNKNOWN_TYPE)
                rc = lg_unknown_type(&g->unit, json, err);
        else if (bc == BAD_WRONG_KIND)
                rc = lg_count_as_text(&g->unit, &g->scratch, json, g->ev.type,
                                      err);
        else if (bc == BAD_NEGATIVE)
                rc = lg_count_negative(&g->unit, &g->scratch, json, g->ev.type,
                                       err);
        return rc ? rc : check_unit(g, json, false, "bad unit", err);
}

/* ---- messages ---- */

static bool standalone(bad_case bc)
{
        return bc == BAD_BYTES || bc == BAD_JSON || bc == BAD_OVER_LIMIT;
}

/* A bad unit that cannot sit inside a batch, as a message of its own in
   g->unit. Sets '*json' to its encoding. */
static tl_status standalone_unit(struct lg_gen *g, bad_case bc, uint32_t cust,
                                 bool *json, struct tl_error *err)
{
        static const unsigned char empty_map = 0xa0;
        tl_status rc = TL_OK;

        tl_buf_clear(&g->unit);
        *json = bc == BAD_JSON;
        if (bc == BAD_BYTES) {
                /* 0xff is a "break" with nothing to end: never CBOR. */
                unsigned char bytes[16] = {0xff};
                for (size_t i = 1; i < sizeof bytes; i++)
                        bytes[i] = (unsigned char)next_u64(&g->rng);
                rc = tl_buf_append(&g->unit, bytes, sizeof bytes, err);
        } else if (bc == BAD_JSON) {
                fill_event(g, 1, g->bad_index, cust, g->bad_type, &g->ev,
                           &g->text);
                rc = sch_encode_json(&g->ev, &g->unit, err);
                if (!rc)
                        tl_buf_truncate(&g->unit, g->unit.len / 2);
        } else {
                rc = sch_encode_cbor_array_start(SCH_MAX_BATCH_EVENTS + 1,
                                                 &g->unit, err);
                for (int i = 0; i <= SCH_MAX_BATCH_EVENTS && !rc; i++)
                        rc = tl_buf_append(&g->unit, &empty_map, 1, err);
        }
        return rc ? rc : check_unit(g, *json, false, "bad message", err);
}

/* Events per message of customer 'cust' when messages hold up to 'batch':
   in production a customer's spool fills in proportion to its size, so
   customer k (from 1) sends batch / k at a time, at least one. */
static uint32_t message_cap(const struct lg_gen *g, uint32_t cust,
                            uint32_t batch)
{
        uint32_t cap = g->zipf ? batch / (cust + 1) : batch;

        return cap ? cap : 1;
}

/* The customer of a message: anyone while new events remain, else one
   with events to repeat. Production draws by Zipf weight, then keeps the
   draw with chance 1 / cap, so each customer's share of events, not of
   messages, follows the weights. */
static uint32_t pick_customer(struct lg_gen *g, uint32_t batch)
{
        uint32_t cust;

        if (!g->left[UNIT_VALID])
                return g->event_customer[below32(&g->rng, g->next_event)];
        if (!g->zipf)
                return below32(&g->rng, g->cfg.customers);
        do
                cust = lg__zipf_pick(g->zipf, g->cfg.customers, &g->rng);
        while (below(&g->rng, message_cap(g, cust, batch)) != 0);
        return cust;
}

/* Each kind in proportion to what is left of it, so the three interleave
   evenly over the whole stream. */
static enum unit_kind draw_kind(struct lg_gen *g)
{
        uint64_t r = below(&g->rng, g->left[0] + g->left[1] + g->left[2]);

        if (r < g->left[UNIT_VALID])
                return UNIT_VALID;
        return r < g->left[UNIT_VALID] + g->left[UNIT_DUP] ? UNIT_DUP
                                                           : UNIT_BAD;
}

static void count_unit(struct lg_gen *g, enum unit_kind kind)
{
        g->left[kind]--;
        g->done[kind]++;
        if (kind == UNIT_BAD)
                g->bad_index++;
}

/* Generate one unit of 'kind' for 'cust' into g->unit. */
static tl_status make_unit(struct lg_gen *g, enum unit_kind kind, bad_case bc,
                           uint32_t cust, bool json, struct tl_error *err)
{
        if (kind == UNIT_VALID)
                return valid_unit(g, cust, json, err);
        if (kind == UNIT_DUP) {
                earlier_event(g, cust);
                return encode(g, json, err);
        }
        return bad_unit(g, bc, cust, json, err);
}

/* Finish the message: the units in g->elems, an array head when batched. */
static tl_status seal(struct lg_gen *g, bool json, bool array, uint32_t units,
                      uint32_t cust, struct lg_message *msg,
                      struct tl_error *err)
{
        tl_status rc = TL_OK;

        tl_buf_clear(&g->payload);
        if (array)
                rc = sch_encode_cbor_array_start(units, &g->payload, err);
        if (!rc)
                rc = tl_buf_append(&g->payload, g->elems.data, g->elems.len,
                                   err);
        if (rc)
                return rc;
        customer_id(g, cust, g->text.subject, sizeof g->text.subject);
        msg->key = g->text.subject;
        /* docs/formats.md: without the header the first byte decides. */
        msg->content_type = below(&g->rng, 8) == 0 ? NULL
                            : json                 ? CT_JSON
                                                   : CT_CBOR;
        msg->payload = &g->payload;
        msg->units = units;
        return TL_OK;
}

tl_status lg_next(struct lg_gen *g, struct lg_message *msg,
                  struct tl_error *err)
{
        lg_encoding enc = g->cfg.encoding;
        bool json =
            enc == LG_JSON || (enc == LG_MIXED && below(&g->rng, 2) == 0);
        bool array = !json && g->cfg.batch > 1;
        uint32_t batch = array ? g->cfg.batch : 1;
        uint32_t cust = pick_customer(g, batch), units = 0;
        uint32_t cap = message_cap(g, cust, batch);
        tl_status rc;

        tl_buf_clear(&g->elems);
        while (lg_more(g)) {
                enum unit_kind kind = draw_kind(g);
                bad_case bc = g->cases[g->bad_index % g->case_count];
                bool needs_earlier = kind == UNIT_DUP ||
                                     (kind == UNIT_BAD && bc == BAD_CONFLICT);

                /* Repeats need an earlier event of this customer; while
                   it has none, a new event comes first. */
                if (needs_earlier && g->customers[cust].count == 0) {
                        if (!g->left[UNIT_VALID])
                                return tl_fail(err, TL_EINTERNAL,
                                               "loadgen: nothing to repeat");
                        kind = UNIT_VALID;
                }
                if (kind == UNIT_BAD && standalone(bc)) {
                        if (units)
                                break; /* its own message, next time */
                        rc = standalone_unit(g, bc, cust, &json, err);
                        array = false;
                } else {
                        rc = make_unit(g, kind, bc, cust, json, err);
                }
                if (!rc)
                        rc = tl_buf_append(&g->elems, g->unit.data, g->unit.len,
                                           err);
                if (rc)
                        return rc;
                count_unit(g, kind);
                units++;
                if (!array || units == cap ||
                    g->elems.len >= SOFT_MESSAGE_BYTES)
                        break;
        }
        return seal(g, json, array, units, cust, msg, err);
}

/* ---- setup, counts, truth ---- */

bool lg_more(const struct lg_gen *g)
{
        return g->left[0] + g->left[1] + g->left[2] > 0;
}

void lg_counts(const struct lg_gen *g, struct lg_counts *out)
{
        out->stored = g->done[UNIT_VALID];
        out->duplicates = g->done[UNIT_DUP];
        out->dead_lettered = g->done[UNIT_BAD];
        out->produced = out->stored + out->duplicates + out->dead_lettered;
}

/* The bad cases that take turns: JSON ones only when JSON is sent, the
   oversized batch only when asked for. */
static void choose_cases(struct lg_gen *g)
{
        g->case_count = 0;
        for (int c = 0; c < BAD_CASE_COUNT; c++) {
                if (c == BAD_JSON && g->cfg.encoding == LG_CBOR)
                        continue;
                if (c == BAD_OVER_LIMIT && !g->cfg.batch_limit_case)
                        continue;
                g->cases[g->case_count++] = (bad_case)c;
        }
        g->bad_type = SCH_TYPE_TOKENS;
        for (size_t i = 0; i < g->cfg.type_count; i++) {
                if (g->cfg.types[i] != SCH_TYPE_SEAT) {
                        g->bad_type = g->cfg.types[i];
                        break;
                }
        }
}

static tl_status check_config(const struct lg_config *c, struct tl_error *err)
{
        if (c->events < 1 || c->events >= UINT32_MAX)
                return tl_fail(err, TL_EINVAL, "events must be 1 .. %u",
                               UINT32_MAX - 1);
        if (c->customers < 1 || c->customers > 1000000)
                return tl_fail(err, TL_EINVAL,
                               "customers must be 1 .. "
                               "1000000");
        if (c->type_count < 1 || c->type_count > SCH_TYPE_LAST)
                return tl_fail(err, TL_EINVAL, "1 to %d event types",
                               SCH_TYPE_LAST);
        if (c->batch < 1 || c->batch > SCH_MAX_BATCH_EVENTS)
                return tl_fail(err, TL_EINVAL, "batch must be 1 .. %d",
                               SCH_MAX_BATCH_EVENTS);
        if (c->time_from > c->time_to)
                return tl_fail(err, TL_EINVAL, "time range is empty");
        return TL_OK;
}

tl_status lg_new(const struct lg_config *cfg, struct lg_gen **out,
                 struct tl_error *err)
{
        struct lg_gen *g;
        int64_t year;
        unsigned month, day;
        tl_status rc = check_config(cfg, err);

        if (rc)
                return rc;
        g = tl_calloc(1, sizeof *g);
        if (!g)
                return tl_fail(err, TL_ENOMEM, "loadgen: out of memory");
        g->cfg = *cfg;
        g->rng = item_stream(g, 2, 0);
        g->left[UNIT_VALID] = cfg->events;
        g->left[UNIT_DUP] = cfg->duplicates;
        g->left[UNIT_BAD] = cfg->bad;
        g->digits = snprintf(NULL, 0, "%u", cfg->customers);
        if (g->digits < 4)
                g->digits = 4;
        /* "Far in the future": New Year two years on, whatever the skew. */
        tl_civil_from_days(cfg->now_us / TL_US_PER_DAY, &year, &month, &day);
        g->future_us = tl_days_from_civil(year + 2, 1, 1) * TL_US_PER_DAY;
        choose_cases(g);
        tl_buf_init(&g->unit, 0);
        tl_buf_init(&g->scratch, 0);
        tl_buf_init(&g->elems, 0);
        tl_buf_init(&g->payload, 0);
        g->event_customer = tl_malloc(cfg->events * sizeof *g->event_customer);
        g->customers = tl_calloc(cfg->customers, sizeof *g->customers);
        g->sums =
            tl_calloc((size_t)cfg->customers * SCH_TYPE_LAST, sizeof *g->sums);
        if (!g->event_customer || !g->customers || !g->sums) {
                lg_free(&g);
                return tl_fail(err, TL_ENOMEM, "loadgen: out of memory");
        }
        rc = sch_decoder_new(NULL, &g->decoder, err);
        if (!rc && cfg->profile == LG_PRODUCTION)
                rc = lg__zipf_new(cfg->customers, &g->zipf, err);
        if (rc) {
                lg_free(&g);
                return rc;
        }
        *out = g;
        return TL_OK;
}

void lg_free(struct lg_gen **pp)
{
        struct lg_gen *g = *pp;

        if (!g)
                return;
        for (uint32_t i = 0; g->customers && i < g->cfg.customers; i++)
                tl_free(g->customers[i].events);
        tl_free(g->customers);
        tl_free(g->event_customer);
        tl_free(g->sums);
        tl_free(g->zipf);
        sch_decoder_free(&g->decoder);
        tl_buf_release(&g->unit);
        tl_buf_release(&g->scratch);
        tl_buf_release(&g->elems);
        tl_buf_release(&g->payload);
        tl_free(g);
        *pp = NULL;
}

tl_status lg_truth(const struct lg_gen *g, struct tl_buf *out,
                   struct tl_error *err)
{
        /* Rows sort by type name: device.seat < inference.iterations < ... */
        static const sch_event_type by_name[] = {
            SCH_TYPE_SEAT, SCH_TYPE_ITERATIONS, SCH_TYPE_MATRIX_OPS,
            SCH_TYPE_TOKENS, SCH_TYPE_OUTCOME};
        struct lg_counts n;
        char id[24], num[48];
        tl_status rc;

        lg_counts(g, &n);
        rc = tl_buf_printf(out, err,
                           "# tally loadgen ground truth\n"
                           "produced\t%llu\nstored\t%llu\nduplicates\t%llu\n"
                           "dead_lettered\t%llu\n"
                           "customer\ttype\tevents\tinput_tokens\t"
                           "output_tokens\tcached_input_tokens\titerations\t"
                           "tokens\tmac\tunits\n",
                           (unsigned long long)n.produced,
                           (unsigned long long)n.stored,
                           (unsigned long long)n.duplicates,
                           (unsigned long long)n.dead_lettered);
        for (uint32_t c = 0; c < g->cfg.customers && !rc; c++) {
                customer_id(g, c, id, sizeof id);
                for (size_t t = 0; t < SCH_TYPE_LAST && !rc; t++) {
                        const struct lg_sums *r =
                            &g->sums[c * (unsigned)SCH_TYPE_LAST +
                                     (unsigned)by_name[t] - 1u];
                        if (!r->events)
                                continue;
                        rc = tl_buf_printf(out, err, "%s\t%s\t%llu", id,
                                           sch_event_type_name(by_name[t]),
                                           (unsigned long long)r->events);
                        for (int k = 0; k < COL_COUNT && !rc; k++) {
                                tl_u128_format(r->cols[k], num, sizeof num);
                                rc = tl_buf_printf(out, err, "\t%s", num);
                        }
                        if (!rc)
                                rc = tl_buf_puts(out, "\n", err);
                }
        }
        return rc;
}
