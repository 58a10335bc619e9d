/* The pricing catalog (spec: docs/pricing-rules.md): its model, loaded from
   YAML with every validation rule, and sets of versions chosen by period. */
#ifndef RATE_CATALOG_H
#define RATE_CATALOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/dec.h"
#include "core/error.h"
#include "rating/controls.h"
#include "rating/money.h"
#include "schemas/event.h"

#define RATE_MAX_PRICE_SCALE 12 /* fractional digits of any catalog number */
#define RATE_NO_INDEX SIZE_MAX

typedef enum {
        RATE_AGG_SUM,
        RATE_AGG_COUNT,
        RATE_AGG_MAX,
        RATE_AGG_LATEST,
        RATE_AGG_UNIQUE_COUNT,
        RATE_AGG_SEATS,
} rate_aggregation;

typedef enum {
        RATE_MODEL_PER_UNIT,
        RATE_MODEL_GRADUATED,
        RATE_MODEL_VOLUME,
        RATE_MODEL_PACKAGE,
        RATE_MODEL_FLAT,
} rate_model;

/*
** A data field of an event, resolved once at load: one of the typed fields
** (numeric or text) or, for anything else, a string dimension by name.
*/
typedef enum {
        RATE_FIELD_DIM = 0,
        /* numeric */
        RATE_FIELD_INPUT_TOKENS,
        RATE_FIELD_OUTPUT_TOKENS,
        RATE_FIELD_CACHED_INPUT_TOKENS,
        RATE_FIELD_ITERATIONS,
        RATE_FIELD_TOKENS,
        RATE_FIELD_MAC,
        RATE_FIELD_UNITS,
        /* text */
        RATE_FIELD_MODEL,
        RATE_FIELD_DEPLOYMENT,
        RATE_FIELD_DECODING,
        RATE_FIELD_DEVICE_ID,
        RATE_FIELD_ACTION,
        RATE_FIELD_MODEL_CLASS,
        RATE_FIELD_TASK,
        RATE_FIELD_OUTCOME,
} rate_field_kind;

struct rate_field {
        rate_field_kind kind;
        const char *name; /* as written; the dimension key for RATE_FIELD_DIM */
        uint32_t name_len;
};

/* A filter entry: 'field' must equal one of 'values'. */
struct rate_filter {
        struct rate_field field;
        size_t value_count;
        const char *const *values;
        const uint32_t *value_lens;
};

struct rate_meter {
        const char *id;
        sch_event_type event;
        rate_aggregation aggregation;
        struct rate_field value; /* unused for count and seats */
        size_t filter_count;
        const struct rate_filter *filters;
        size_t group_by_count;
        const struct rate_field *group_by;
};

/* Weight 'factor' for usage whose group_by field 'field' is 'value'. */
struct rate_weight {
        size_t group_index; /* into the meter's group_by */
        const char *value;
        struct tl_dec factor;
};

struct rate_tier {
        bool open;           /* the last tier: up_to null */
        struct tl_dec up_to; /* in billable units; unused when open */
        struct tl_dec price; /* per 'unit' of the charge */
};

/* More allowance per seat-month of one model_class (included_per_seat). */
struct rate_seat_allowance {
        const char *model_class;
        struct tl_dec quantity; /* in the meter's units, like `included` */
};

struct rate_charge {
        const char *id;
        const char *name;
        size_t meter; /* index into the catalog's meters */
        struct tl_dec unit;
        struct tl_dec included;
        /*
        ** included_per_seat (capacity licensing): when 'per_seat', each
        ** seat-month of the plan's seats adds 'per_seat_every' (the scalar
        ** form, every class: 'per_seat_count' is 0) or the quantity its
        ** class has in 'per_seat_classes' (sorted by class; a class not
        ** there adds nothing) to the allowance.
        */
        bool per_seat;
        struct tl_dec per_seat_every;
        size_t per_seat_count;
        const struct rate_seat_allowance *per_seat_classes;
        size_t weight_count;
        const struct rate_weight *weights;
        rate_model model;
        struct tl_dec price; /* per_unit, package, flat */
        struct tl_dec size;  /* package */
        size_t tier_count;
        const struct rate_tier *tiers;
};

struct rate_fee {
        const char *id;
        const char *name;
        struct tl_dec amount;
};

struct rate_seat_price {
        const char *model_class;
        struct tl_dec price; /* per seat-month */
};

struct rate_savings {
        size_t meter;  /* the local meter */
        size_t charge; /* index into the plan's charges */
};

struct rate_plan {
        const char *id;
        const char *name;
        size_t fee_count;
        const struct rate_fee *fees;
        size_t seat_meter; /* RATE_NO_INDEX: the plan sells no seats */
        size_t seat_price_count;
        const struct rate_seat_price *seat_prices; /* sorted by class */
        size_t charge_count;
        const struct rate_charge *charges;
        bool has_minimum;
        struct tl_dec minimum;
        size_t savings_count;
        const struct rate_savings *savings;
        struct rate_controls controls; /* limits, alerts, progressive */
};

struct rate_cohort {
        const char *name;
        struct tl_dec weight;
        size_t plan;                   /* index into the catalog's plans */
        uint32_t bucket_lo, bucket_hi; /* holds buckets [lo, hi) of 10000 */
};

struct rate_experiment {
        const char *id;
        size_t plan; /* customers on this plan take part */
        const char *salt;
        size_t cohort_count;
        const struct rate_cohort *cohorts;
};

/* One loaded, validated catalog version. Immutable once loaded. */
struct rate_catalog {
        const char *path; /* the file it was read from */
        const char *name; /* the `catalog` key */
        const char *version;
        int64_t effective_from_day; /* days since 1970-01-01 */
        const struct rate_currency *currency;
        char sha256_hex[65]; /* of the file's bytes */
        /* Those bytes, as hashed: what invoicing stores for the version, so
           the stored text always matches the hash, whatever the file holds
           by then. */
        const char *source;
        size_t source_len;
        size_t meter_count;
        const struct rate_meter *meters;
        size_t plan_count;
        const struct rate_plan *plans;
        size_t experiment_count;
        const struct rate_experiment *experiments;
        struct tl_arena arena; /* owns everything above */
};

/*
** Every validation message of one load, "file:line:column: message" each,
** so `tally rules check` can print them all. Filled up to RATE_DIAG_MAX;
** 'dropped' counts the rest.
*/
#define RATE_DIAG_MAX 64
#define RATE_DIAG_MSG_MAX 320
struct rate_diags {
        size_t count;
        size_t dropped;
        char msg[RATE_DIAG_MAX][RATE_DIAG_MSG_MAX];
};

/*
** Load and validate the catalog of 'len' bytes at 'buf'; 'name' is the file
** name messages start with. Every rule of docs/pricing-rules.md is checked;
** every failure is added to 'diags' (may be NULL) and the first is put in
** 'err'. Returns TL_OK and '*out' (free with rate_catalog_free), TL_EINVAL
** (validation), TL_EPARSE / TL_ELIMIT (YAML), or TL_ENOMEM.
*/
tl_status rate_catalog_parse(const char *name, const void *buf, size_t len,
                             struct rate_catalog **out,
                             struct rate_diags *diags, struct tl_error *err);

/* Read the file at 'path' and rate_catalog_parse it. Adds TL_EIO. */
tl_status rate_catalog_load_file(const char *path, struct rate_catalog **out,
                                 struct rate_diags *diags,
                                 struct tl_error *err);

void rate_catalog_free(struct rate_catalog **pp);

/* Lookups by id: an index, or RATE_NO_INDEX. */
size_t rate_catalog_meter(const struct rate_catalog *c, const char *id);
size_t rate_catalog_plan(const struct rate_catalog *c, const char *id);
size_t rate_plan_charge(const struct rate_plan *p, const char *id);

/*
** FNV-1a-64 over 'salt' ":" 'customer_id', modulo 10000 (the spec's
** placement rule), and the cohort of 'e' holding that bucket.
*/
uint64_t rate_fnv1a64(const void *data, size_t len, uint64_t h);
uint32_t rate_bucket(const char *salt, const char *customer_id);
size_t rate_experiment_cohort(const struct rate_experiment *e, uint32_t bucket);

/*
** The versions of one rules path: a file, or every *.yaml / *.yml file of
** a directory. Versions must be unique, and so must effective_from dates
** within one currency (catalogs in different currencies may share one).
*/
struct rate_catalog_set {
        size_t count;
        /* by effective_from ascending, then by file name */
        struct rate_catalog **catalogs;
};

/*
** Load every catalog under 'path' and validate them all, as a whole: the
** set is refused if any file fails. Statuses as rate_catalog_load_file;
** TL_ENOTFOUND when a directory holds no catalog.
*/
tl_status rate_catalog_set_load(const char *path, struct rate_catalog_set **out,
                                struct rate_diags *diags, struct tl_error *err);

void rate_catalog_set_free(struct rate_catalog_set **pp);

/*
** The catalog in force for a period starting on 'period_start_day': the
** latest effective_from on or before it, or NULL when none is.
*/
const struct rate_catalog *
rate_catalog_set_pick(const struct rate_catalog_set *s,
                      int64_t period_start_day);

/*
** The catalog in force in currency 'cur' (a customer's, rate_currency_find):
** the latest effective_from on or before the day among the catalogs in
** 'cur', or NULL when none is; never one in another currency. 'cur' NULL
** is rate_catalog_set_pick (any currency; among catalogs sharing the
** latest date, the last by file name).
*/
const struct rate_catalog *
rate_catalog_set_pick_in(const struct rate_catalog_set *s,
                         int64_t period_start_day,
                         const struct rate_currency *cur);

/* Add a message to 'd' (may be NULL). */
void rate_diags_add(struct rate_diags *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

const char *rate_aggregation_name(rate_aggregation a);
const char *rate_model_name(rate_model m);

#endif
