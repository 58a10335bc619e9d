/* `tally demo`: a month of business through the real path. The pieces:
   env.c starts and stops the processes (PostgreSQL, broker, meter,
   `tally serve`),
   world.c writes the customers and the catalog, changes.c a plan change
   and the corrections through `tally serve`, month.c runs
   the month's traffic through the engine, close.c closes the month
   and reconciles; cmd_demo.c strings them together. */
#ifndef DEMO_DEMO_H
#define DEMO_DEMO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "core/error.h"
#include "core/time.h"
#include "rating/usage.h"

#define DEMO_TOPIC "usage.events"
#define DEMO_GROUP "tally-demo"
#define DEMO_MAX_DEVICES 4

struct demo_opts {
        long customers, days;
        const char *dir;      /* working directory (default var/demo) */
        const char *brokers;  /* NULL: start `tally broker` */
        const char *database; /* NULL: start a private PostgreSQL */
        uint64_t seed;
        int threads; /* engine threads, 0: all */
        bool quiet;  /* no progress lines */
        struct rate_period period;
};

/* ---- the random stream: splitmix64, the same for a seed on any machine ----
 */

static inline uint64_t demo_rand(uint64_t *s)
{
        uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
}

/* Uniform in [lo, hi]. */
static inline int demo_between(uint64_t *s, int lo, int hi)
{
        return lo + (int)(demo_rand(s) % (uint64_t)(hi - lo + 1));
}

/* Uniform in [0, 1): rates and chances only, never a billed quantity. */
static inline double demo_unit(uint64_t *s)
{
        return (double)(demo_rand(s) >> 11) / 9007199254740992.0;
}

/* ---- env.c: processes ---- */

struct demo_env {
        char dir[512];    /* absolute working directory */
        char pg_dir[512]; /* the private cluster, "" when configured */
        char brokers[512];
        char http[64]; /* the meter's 127.0.0.1:PORT */
        char api[64];  /* `tally serve`'s 127.0.0.1:PORT */
        pid_t broker_pid, meter_pid, serve_pid;
        char admin_key[256]; /* "" until demo_admin_key made one */
};

/* Start (or adopt) PostgreSQL and the broker, create a fresh database
   for the demo and point libpq's variables at it. */
tl_status demo_env_start(struct demo_env *env, const struct demo_opts *o,
                         struct tl_error *err);
/* Start `tally meter` (ingest, /metrics and /healthz on env->http). */
tl_status demo_meter_start(struct demo_env *env, struct tl_error *err);
/* SIGTERM the meter and wait: it finishes its batch and leaves. */
tl_status demo_meter_stop(struct demo_env *env, struct tl_error *err);
/* Start `tally serve` on env->api with the demo's rules (hot-reloaded),
   database and broker; returns once /healthz answers 200. */
tl_status demo_serve_start(struct demo_env *env, struct tl_error *err);
/* SIGTERM `tally serve` and wait; TL_EIO unless it exits 0. */
tl_status demo_serve_stop(struct demo_env *env, struct tl_error *err);
/* `tally keys create --scope SCOPE --name NAME`: the new key into 'key'
   ('size' bytes). TL_EIO, with its stderr in DIR/keys.log, if it fails. */
tl_status demo_key_create(const struct demo_env *env, const char *scope,
                          const char *name, char *key, size_t size,
                          struct tl_error *err);
/* Stop whatever demo_env_start started; safe to call twice. */
void demo_env_stop(struct demo_env *env);

/* GET 'path' from 'addr' (127.0.0.1:PORT), with "Authorization: Bearer
   'key'" unless 'key' is NULL; the status, or -1 (then 'body' says why). */
int demo_http_get(const char *addr, const char *key, const char *path,
                  char *body, size_t size);
/* 'method' 'path' with the JSON body 'json' (NULL: none), otherwise as
   demo_http_get. */
int demo_http(const char *addr, const char *method, const char *key,
              const char *path, const char *json, char *body, size_t size);

/* This tally binary, to start its own subcommands. */
const char *demo_self_exe(void);

/* Path of 'name' in the working directory. */
const char *demo_path(const struct demo_env *env, const char *name, char *buf,
                      size_t size);

/* ---- world.c: customers and the catalog ---- */

struct demo_device {
        char id[48];
        const char *model_class; /* small or medium */
        int first_day, last_day; /* days of use, 1-based */
        bool deactivates;        /* at the end of last_day */
        bool late;               /* offline until after the close */
        double use_per_day;      /* chance of use on a day in range */
};

struct demo_customer {
        char id[24];
        char name[64];
        const char *plan;
        int start_day;            /* 1 unless the subscription starts inside */
        const char *upgrade_plan; /* NULL, or the plan from upgrade_day on */
        int upgrade_day;
        double ar_per_day, diffusion_per_day;
        int devices;
        struct demo_device dev[DEMO_MAX_DEVICES];
};

struct demo_world {
        struct demo_customer *c;
        size_t n;
};

/* Invent the customers for 'o' (deterministic from o->seed), and write
   DIR/customers.yaml and DIR/rules/catalog.yaml (a copy of the demo
   catalog). */
tl_status demo_world_init(struct demo_world *w, const struct demo_opts *o,
                          const struct demo_env *env, struct tl_error *err);
/* Record that customer 'i' moved to 'plan' on 'day' of the period and
   rewrite DIR/customers.yaml with its history in the long form
   (`subscriptions:`), which offline `tally rate` reads. */
tl_status demo_world_upgrade(struct demo_world *w, const struct demo_opts *o,
                             const struct demo_env *env, size_t i,
                             const char *plan, int day, struct tl_error *err);
/* Frees what demo_world_init filled in 'w'; 'w' itself is the caller's. */
void demo_world_release(struct demo_world *w);

/* The mid-month edit: the Starter output price in DIR/rules/catalog.yaml,
   replaced atomically (rename), as an editor would save it. 'old_price'
   and 'new_price' receive the prices as written. */
tl_status demo_edit_catalog(const struct demo_env *env, char *old_price,
                            char *new_price, size_t size, struct tl_error *err);

/* ---- changes.c: a plan change through `tally serve` ---- */

/* Mid-month, day 'day': the first customer (a Starter one) upgrades to Pro
   from that day through POST /v1/customers/{id}/subscriptions with an
   admin key, and customers.yaml is rewritten with its history. Nothing
   when 'day' is 1 or that customer is not on Starter. */
tl_status demo_upgrade(const struct demo_opts *o, struct demo_env *env,
                       struct demo_world *w, int day, struct tl_error *err);

/* ---- month.c: the traffic ---- */

struct demo_counts {
        uint64_t ar_requests, diffusion_requests, device_requests;
        uint64_t cloud_out_tokens, local_out_tokens, macs, steps;
        uint64_t unique_events; /* distinct events produced */
        uint64_t replays;       /* events sent again: duplicates */
        uint64_t malformed;     /* messages the meter must dead-letter */
        uint64_t seat_events;
        uint64_t late_events; /* uploaded after the close */
        uint64_t uploads, device_spools_pending;
        /* task.outcome events: [cloud, device][success, failure] */
        uint64_t outcomes[2][2];
};

struct demo_month;

/* The engine (a small random model in DIR/model), the emitter and the
   logs of what was produced (DIR/events.jsonl, DIR/late.jsonl). */
tl_status demo_month_new(const struct demo_opts *o, struct demo_env *env,
                         const struct demo_world *w, struct demo_month **out,
                         struct tl_error *err);
/* Flushes and frees '*pp', then sets it to NULL; accepts NULL. */
void demo_month_free(struct demo_month **pp);

/* Day 'day' (1-based) of the period: cloud requests in both decoding
   modes, device use into spools, uploads on the devices' sync days. */
tl_status demo_month_day(struct demo_month *m, int day, struct tl_error *err);
/* Replays and malformed messages, as a real stream has them. */
tl_status demo_month_noise(struct demo_month *m, int day, struct tl_error *err);
/* Upload every spool but the late devices'; flush the emitter. */
tl_status demo_month_sync(struct demo_month *m, struct tl_error *err);
/* After the close: the late devices come online and upload. */
tl_status demo_month_late(struct demo_month *m, struct tl_error *err);
const struct demo_counts *demo_month_counts(const struct demo_month *m);

/* ---- close.c: the close and the summary ---- */

/* Wait until the meter has accounted for 'units' units. */
tl_status demo_wait_ingested(const struct demo_env *env, uint64_t units,
                             int timeout_s, struct tl_error *err);

/* Finalize the period, write the invoices, compare them with `tally rate`
   on the produced events, then take in the late events and draft the next
   period with their adjustments; prints the summary. Returns TL_OK only
   when every count reconciles and every total matches. */
tl_status demo_close(const struct demo_opts *o, struct demo_env *env,
                     struct demo_month *m, struct tl_error *err);

#endif
