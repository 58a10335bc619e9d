/* The demo's customers (invented, deterministic from the seed) and its
   catalog: pricing-rules/demo/catalog.yaml copied into the working
   directory, where the demo edits it mid-month as a pricing person would. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/str.h"
#include "demo/demo.h"

static const char *const FIRST[] = {
    "Alder",    "Birch",     "Cobalt", "Delta",   "Ember",   "Fjord",
    "Granite",  "Harbor",    "Indigo", "Juniper", "Kestrel", "Lumen",
    "Meridian", "Northwind", "Orchid", "Pioneer", "Quarry",  "Riverside",
    "Summit",   "Tidewater", "Umber",  "Vantage", "Willow",  "Zephyr"};
static const char *const SECOND[] = {
    "Legal",     "Insurance", "Health", "Logistics", "Robotics", "Media",
    "Analytics", "Retail",    "Energy", "Labs",      "Finance",  "Studios"};

static double uniform(uint64_t *s, double lo, double hi)
{
        return lo + (hi - lo) * demo_unit(s);
}

static void invent_devices(struct demo_customer *c, size_t i, int days,
                           uint64_t *s)
{
        c->devices = (int)(demo_rand(s) % 4); /* 0..3 */
        for (int d = 0; d < c->devices; d++) {
                struct demo_device *v = &c->dev[d];

                char owner[sizeof c->id];

                memcpy(owner, c->id, sizeof owner);
                snprintf(v->id, sizeof v->id, "%s-dev%d", owner, d + 1);
                v->model_class = (d + (int)i) % 2 ? "medium" : "small";
                v->first_day = demo_between(
                    s, c->start_day, c->start_day + (days - c->start_day) / 2);
                v->last_day = days;
                v->use_per_day = uniform(s, 0.4, 0.9);
                /* Some devices leave mid-month: their seat is prorated. */
                if (d == 1 && days >= 8) {
                        v->last_day = demo_between(s, v->first_day, days - 1);
                        v->deactivates = true;
                }
                /* One device in eight customers syncs only after the close:
                   its usage arrives late and becomes an adjustment. */
                if (d == 0 && i % 8 == 1)
                        v->late = true;
        }
}

static void invent(struct demo_world *w, const struct demo_opts *o)
{
        uint64_t s = o->seed;

        for (size_t i = 0; i < w->n; i++) {
                struct demo_customer *c = &w->c[i];
                bool pro = i % 5 >= 2;

                snprintf(c->id, sizeof c->id, "cust_%04u", (unsigned)(i + 1));
                snprintf(
                    c->name, sizeof c->name, "%s %s",
                    FIRST[demo_rand(&s) % (sizeof FIRST / sizeof *FIRST)],
                    SECOND[demo_rand(&s) % (sizeof SECOND / sizeof *SECOND)]);
                c->plan = pro ? "pro" : "starter";
                /* One in eight a support bot priced per resolution, one in
                   eight a device licence whose allowance grows with seats;
                   every other customer keeps the plan it had. */
                if (i % 8 == 4)
                        c->plan = "support-bot";
                else if (i % 8 == 5)
                        c->plan = "device-licence";
                c->start_day = (i % 7 == 5 && o->days >= 12) ? 10 : 1;
                c->ar_per_day = pro ? uniform(&s, 2, 8) : uniform(&s, 1, 4);
                c->diffusion_per_day =
                    pro ? uniform(&s, 1, 5) : uniform(&s, 0.3, 2);
                invent_devices(c, i, (int)o->days, &s);
                /* Both need devices: resolutions on laptops, a licence's
                   seats. */
                if (i % 8 >= 4 && i % 8 <= 5 && c->devices < 2) {
                        c->devices = 0;
                        while (c->devices < 2)
                                invent_devices(c, i, (int)o->days, &s);
                }
        }
}

/* Write 'data' to 'path' as an editor saving safely would: a temporary
   file, then rename, so a reader sees the old file or the new one. */
static tl_status write_atomic(const char *path, const char *data, size_t len,
                              struct tl_error *err)
{
        char tmp[700];
        FILE *f;

        snprintf(tmp, sizeof tmp, "%s.tmp", path);
        f = fopen(tmp, "w");
        if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
                int e = errno;
                if (f)
                        unlink(tmp);
                return tl_fail(err, TL_EIO, "cannot write %s: %s", tmp,
                               strerror(e));
        }
        if (rename(tmp, path) != 0)
                return tl_fail(err, TL_EIO, "cannot rename %s: %s", tmp,
                               strerror(errno));
        return TL_OK;
}

static tl_status write_customers(const struct demo_world *w,
                                 const struct demo_opts *o,
                                 const struct demo_env *env,
                                 struct tl_error *err)
{
        struct tl_buf b;
        char path[600];
        tl_status rc;

        tl_buf_init(&b, 0);
        tl_buf_printf(&b, NULL,
                      "# Written by tally demo (seed %llu): %zu customers.\n"
                      "customers:\n",
                      (unsigned long long)o->seed, w->n);
        for (size_t i = 0; i < w->n; i++) {
                const struct demo_customer *c = &w->c[i];

                char start[32];

                if (c->start_day > 1)
                        snprintf(start, sizeof start, "%.8s%02d",
                                 o->period.start_iso, c->start_day);
                else
                        snprintf(start, sizeof start, "%.4s-01-01",
                                 o->period.start_iso);
                tl_buf_printf(&b, NULL, "  - id: %s\n    name: \"%s\"\n", c->id,
                              c->name);
                /* After a plan change the file keeps the history, in the
                   long form, as `tally serve` recorded it. */
                if (c->upgrade_plan)
                        tl_buf_printf(&b, NULL,
                                      "    subscriptions:\n"
                                      "      - { plan: %s, start: %s, end: "
                                      "%.8s%02d }\n"
                                      "      - { plan: %s, start: %.8s%02d }\n",
                                      c->plan, start, o->period.start_iso,
                                      c->upgrade_day, c->upgrade_plan,
                                      o->period.start_iso, c->upgrade_day);
                else
                        tl_buf_printf(&b, NULL, "    plan: %s\n    start: %s\n",
                                      c->plan, start);
                if (i % 4 == 0)
                        tl_buf_puts(&b, "    tax_rate: 0.19\n", NULL);
                else if (i % 4 == 1)
                        tl_buf_puts(&b, "    tax_rate: 0.20\n", NULL);
                if (i % 6 == 2)
                        tl_buf_puts(&b, "    credits: 50.00\n", NULL);
                else if (i % 6 == 4)
                        tl_buf_puts(&b, "    credits: 200.00\n", NULL);
                /* An explicit placement wins over the bucket rule. */
                if (i == 3)
                        tl_buf_puts(
                            &b, "    cohorts: { output-price: lower }\n", NULL);
        }
        if (!b.data) {
                tl_buf_release(&b);
                return tl_fail(err, TL_ENOMEM, "out of memory");
        }
        rc = write_atomic(demo_path(env, "customers.yaml", path, sizeof path),
                          b.data, b.len, err);
        tl_buf_release(&b);
        return rc;
}

static tl_status read_text(const char *path, struct tl_buf *b,
                           struct tl_error *err)
{
        FILE *f = fopen(path, "r");
        char chunk[4096];
        size_t n;

        if (!f)
                return tl_fail(err, TL_EIO, "cannot open %s: %s", path,
                               strerror(errno));
        while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
                if (tl_buf_append(b, chunk, n, err)) {
                        fclose(f);
                        return TL_ENOMEM;
                }
        fclose(f);
        return tl_buf_append(b, "", 1, err) ? TL_ENOMEM : TL_OK;
}

tl_status demo_world_init(struct demo_world *w, const struct demo_opts *o,
                          const struct demo_env *env, struct tl_error *err)
{
        char src[600], dst[600];
        struct tl_buf cat;
        tl_status rc;

        w->n = (size_t)o->customers;
        w->c = tl_calloc(w->n, sizeof *w->c);
        if (!w->c)
                return tl_fail(err, TL_ENOMEM, "out of memory");
        invent(w, o);
        if ((rc = write_customers(w, o, env, err)))
                return rc;
        demo_path(env, "rules", dst, sizeof dst);
        if (mkdir(dst, 0755) != 0 && errno != EEXIST)
                return tl_fail(err, TL_EIO, "cannot create %s: %s", dst,
                               strerror(errno));
        snprintf(src, sizeof src, "%s/pricing-rules/demo/catalog.yaml",
                 TALLY_SOURCE_DIR);
        tl_buf_init(&cat, 0);
        rc = read_text(src, &cat, err);
        if (!rc)
                rc = write_atomic(
                    demo_path(env, "rules/catalog.yaml", dst, sizeof dst),
                    cat.data, cat.len - 1, err);
        tl_buf_release(&cat);
        return rc;
}

tl_status demo_world_upgrade(struct demo_world *w, const struct demo_opts *o,
                             const struct demo_env *env, size_t i,
                             const char *plan, int day, struct tl_error *err)
{
        w->c[i].upgrade_plan = plan;
        w->c[i].upgrade_day = day;
        return write_customers(w, o, env, err);
}

void demo_world_release(struct demo_world *w)
{
        tl_free(w->c);
        w->c = NULL;
        w->n = 0;
}

/* Replace the text after 'anchor' up to the next 'stop' with 'with';
   the old text goes to 'old'. */
static tl_status replace_after(struct tl_buf *b, const char *path,
                               const char *anchor, const char *stop,
                               const char *with, char *old, size_t size,
                               struct tl_error *err)
{
        char *at = strstr(b->data, anchor), *end;
        struct tl_buf out;
        size_t head;

        if (!at || !(end = strstr(at + strlen(anchor), stop)))
                return tl_fail(err, TL_EINVAL,
                               "%s: the demo expects '%s' in it", path, anchor);
        at += strlen(anchor);
        snprintf(old, size, "%.*s", (int)(end - at), at);
        head = (size_t)(at - b->data);
        tl_buf_init(&out, 0);
        if (tl_buf_append(&out, b->data, head, err) ||
            tl_buf_puts(&out, with, err) ||
            tl_buf_append(&out, end, strlen(end) + 1, err)) {
                tl_buf_release(&out);
                return TL_ENOMEM;
        }
        tl_buf_release(b);
        *b = out;
        return TL_OK;
}

tl_status demo_edit_catalog(const struct demo_env *env, char *old_price,
                            char *new_price, size_t size, struct tl_error *err)
{
        static const char PRICE[] =
            "unit: 1000, included: 1000, model: per_unit, price: ";
        char path[600], version[64];
        struct tl_buf b;
        tl_status rc;

        demo_path(env, "rules/catalog.yaml", path, sizeof path);
        snprintf(new_price, size, "1.60");
        tl_buf_init(&b, 0);
        rc = read_text(path, &b, err);
        if (!rc)
                rc = replace_after(&b, path, PRICE, " }", new_price, old_price,
                                   size, err);
        if (!rc)
                rc = replace_after(&b, path, "version: \"", "\"", "demo-2",
                                   version, sizeof version, err);
        if (!rc)
                rc = write_atomic(path, b.data, strlen(b.data), err);
        tl_buf_release(&b);
        return rc;
}
