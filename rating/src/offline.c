/* Offline rating: files -> decoded, deduplicated events -> usage, with the
   customers split into buckets that threads take in turn, so each customer
   stays in file order. Reading and routing the files: offline_read.c. */
#include "offline_int.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/hash.h"
#include "core/str.h"
#include "rating/invoice.h"

void rate__off_use_bucket(struct owner *w, unsigned b)
{
        w->acc = w->o->buckets[b].acc;
        w->dedup = &w->o->buckets[b].dedup;
        w->dedup->dec = w->dec2;
}

/* ---- reports
 * ------------------------------------------------------------------- */

static bool before(size_t file, uint64_t pos, const struct report *r)
{
        return file < r->file || (file == r->file && pos < r->pos);
}

void rate__off_report(struct owner *w, size_t file, uint64_t pos, bool cbor,
                      const char *msg)
{
        w->st.invalid++;
        /* Only the first max_report of the run are printed; each thread
           keeps at most that many of its own earliest, by place (it reads
           buckets in no particular order): when full, a new one replaces
           the latest it holds if it comes before it. */
        if (w->rn >= w->o->opts.max_report) {
                struct report *last = &w->reports[0];

                for (size_t i = 1; i < w->rn; i++)
                        if (before(last->file, last->pos, &w->reports[i]))
                                last = &w->reports[i];
                if (w->rn == 0 || !before(file, pos, last))
                        return;
                last->file = file;
                last->pos = pos;
                last->cbor = cbor;
                snprintf(last->msg, sizeof last->msg, "%s", msg);
                return;
        }
        if (w->rn == w->rcap) {
                size_t cap = w->rcap ? w->rcap * 2 : 16;
                struct report *r;

                r = tl_reallocarray(w->reports, cap, sizeof *r);
                if (!r)
                        return;
                w->reports = r;
                w->rcap = cap;
        }
        w->reports[w->rn].file = file;
        w->reports[w->rn].pos = pos;
        w->reports[w->rn].cbor = cbor;
        snprintf(w->reports[w->rn].msg, sizeof w->reports[w->rn].msg, "%s",
                 msg);
        w->rn++;
}

static int by_place(const void *x, const void *y)
{
        const struct report *a = x, *b = y;

        if (a->file != b->file)
                return a->file < b->file ? -1 : 1;
        return (a->pos > b->pos) - (a->pos < b->pos);
}

/* ---- dedup
 * ----------------------------------------------------------------------- */

/* Chained with the lengths folded in, so ("ab", "c") != ("a", "bc"). */
static uint64_t key_hash(const struct sch_event *ev, uint64_t subject_h)
{
        uint64_t h = tl_hash64(ev->source.ptr, ev->source.len,
                               subject_h ^ ev->source.len);

        h = tl_hash64(ev->id.ptr, ev->id.len, h ^ ev->id.len);
        return h ? h : 1; /* 0 marks an empty slot */
}

/* ---- one event
 * ----------------------------------------------------------------------- */

void rate__off_take(struct owner *w, const struct sch_event *ev,
                    uint64_t subject_h, struct sch_str raw, bool cbor,
                    size_t file, uint64_t pos)
{
        const struct rate_period *p = &w->o->period;
        const struct rate_customer *cust;
        struct tl_error why;
        size_t ci;
        int d;

        if (ev->time_us >= p->end_us ||
            (ev->time_us < p->start_us && ev->type != SCH_TYPE_SEAT)) {
                w->st.outside++;
                return;
        }
        cust = rate_customers_find_hashed(w->o->customers, ev->subject.ptr,
                                          ev->subject.len, subject_h);
        if (!cust) {
                if (!w->first_unknown || file < w->unknown_file ||
                    (file == w->unknown_file && pos < w->unknown_pos)) {
                        w->unknown_file = file;
                        w->unknown_pos = pos;
                        snprintf(w->first_unknown_buf,
                                 sizeof w->first_unknown_buf, "%.*s",
                                 (int)ev->subject.len, ev->subject.ptr);
                        w->first_unknown = w->first_unknown_buf;
                }
                w->st.unknown++;
                return;
        }
        d = rate__dedup_check(w->dedup, ev, key_hash(ev, subject_h), raw.ptr,
                              file, &why, &w->err);
        if (d < 0) {
                w->rc = w->err.code;
                return;
        }
        if (d == 1) {
                w->st.duplicates++;
                return;
        }
        if (d == 2) {
                rate__off_report(w, file, pos, cbor, why.msg);
                return;
        }
        w->st.rated++;
        ci = (size_t)(cust - w->o->customers->items);
        if ((w->rc = rate_acc_add_hinted(w->acc, ev, ci, &w->err)) == TL_OK &&
            w->o->segs[ci])
                w->rc = rate_segs_add(w->o->segs[ci], ev, &w->err);
        if (w->rc != TL_OK)
                tl_error_prefix(&w->err, "%s:%s%llu", w->o->files[file].path,
                                cbor ? "#" : "", (unsigned long long)pos);
}

/*
** One item of a CBOR sequence, measured by the routing skim. TL_EPARSE for
** any error that stops a sequential reader (the caller then falls back to
** it), else sch_cbor_reader_next's status.
*/
static tl_status decode_cbor_item(struct sch_decoder *d, const char *p,
                                  size_t n, struct sch_event *ev,
                                  struct tl_error *e)
{
        struct sch_cbor_reader r;
        struct sch_str raw;
        tl_status rc;

        if (sch_cbor_reader_open(&r, p, n, true, e) != TL_OK)
                return TL_EPARSE;
        rc = sch_cbor_reader_next(&r, d, ev, &raw, e);
        if (rc == TL_ELIMIT || r.broken || (rc == TL_OK && r.pos != n))
                return TL_EPARSE;
        return rc;
}

/* A decoded event waiting one step for its dedup slot to arrive. */
struct pending {
        struct sch_event ev;
        uint64_t subject_h;
        struct sch_str raw;
        uint64_t line;
        bool full;
};

/* Every line routed to bucket 'b', in file order, by thread 'w'. */
static void decode_bucket(struct owner *w, unsigned b)
{
        struct rate_offline *o = w->o;
        const struct rate__file *f = &o->files[o->cur_file];
        struct pending pend[2];
        unsigned cur = 0;
        uint64_t base = 0;

        rate__off_use_bucket(w, b);
        pend[0].full = pend[1].full = false;
        {
                size_t mine = 0;

                for (unsigned t = 0; t < o->nranges; t++)
                        mine += o->routes[t * o->nbuckets + b].n;
                /* Sized once for every line routed here: no rehash, and
                   the pages are faulted in by this thread. */
                if ((w->rc = rate__dedup_reserve(w->dedup, mine, &w->err)) !=
                    TL_OK)
                        return;
        }
        for (unsigned t = 0; t < o->nranges && !w->rc; t++) {
                const struct recs *r = &o->routes[t * o->nbuckets + b];

                for (size_t i = 0; i < r->n && !w->rc; i++) {
                        const struct rec *x = &r->v[i];
                        struct pending *pe = &pend[cur];
                        const char *p = f->buf + x->off;
                        size_t n = x->len;
                        struct tl_error e;
                        tl_status drc;

                        /* The routing pass read this line long ago and
                           the buckets' lines interleave, so the hardware
                           prefetcher misses them: ask a few lines ahead. */
                        if (i + AHEAD < r->n) {
                                const struct rec *y = &r->v[i + AHEAD];
                                const char *q = f->buf + y->off;

                                for (uint32_t c = 0; c < y->len && c < 512;
                                     c += 64)
                                        __builtin_prefetch(q + c);
                        }
                        if (!f->cbor && n > 0 && p[n - 1] == '\r')
                                n--;
                        w->st.read++;
                        /* Two decoders take turns, so the event decoded
                           last stays valid while the next one is read. */
                        drc = f->cbor ? decode_cbor_item(w->dec_pair[cur], p, n,
                                                         &pe->ev, &e)
                                      : sch_decode_json(w->dec_pair[cur], p, n,
                                                        &pe->ev, &e);
                        if (drc == TL_EPARSE && f->cbor) {
                                /* Where a malformed item ends is unknown:
                                   the reading in one thread stops there. */
                                o->redo_alone = 1;
                                return;
                        }
                        if (drc != TL_OK) {
                                rate__off_report(w, o->cur_file, base + x->line,
                                                 f->cbor, e.msg);
                                continue;
                        }
                        pe->subject_h = rate__off_subject_hash(
                            pe->ev.subject.ptr, pe->ev.subject.len);
                        if (rate__off_bucket(o, pe->subject_h) != b) {
                                o->redo_alone = 1;
                                return;
                        }
                        pe->raw = (struct sch_str){p, (uint32_t)n};
                        pe->line = base + x->line;
                        pe->full = true;
                        /* The dedup table is far bigger than the caches:
                           ask for this event's slot now, use it after the
                           next decode. */
                        __builtin_prefetch(rate__dedup_slot(
                            w->dedup, key_hash(&pe->ev, pe->subject_h)));
                        cur ^= 1;
                        pe = &pend[cur];
                        if (pe->full) {
                                pe->full = false;
                                rate__off_take(w, &pe->ev, pe->subject_h,
                                               pe->raw, f->cbor, o->cur_file,
                                               pe->line);
                        }
                }
                base += o->range_lines[t];
        }
        /* The last event decoded is still waiting. */
        if (pend[cur ^ 1].full && !w->rc) {
                struct pending *pe = &pend[cur ^ 1];

                rate__off_take(w, &pe->ev, pe->subject_h, pe->raw, f->cbor,
                               o->cur_file, pe->line);
        }
}

/* A thread's part of decoding: buckets, one after another, until none is
   left. */
void *rate__off_decode_buckets(void *arg)
{
        struct job *j = arg;
        struct rate_offline *o = j->o;
        struct owner *w = &o->owners[j->t];

        while (!w->rc && !o->redo_alone) {
                unsigned b =
                    __atomic_fetch_add(&o->next_bucket, 1, __ATOMIC_RELAXED);

                if (b >= o->nbuckets)
                        break;
                decode_bucket(w, b);
        }
        return NULL;
}

tl_status rate__off_run_threads(struct rate_offline *o, void *(*fn)(void *),
                                struct tl_error *err)
{
        pthread_t tid[MAX_THREADS];
        struct job jobs[MAX_THREADS];
        tl_status rc = TL_OK;

        for (unsigned t = 0; t < o->threads; t++) {
                jobs[t] = (struct job){o, t, TL_OK};
                if (t > 0 && pthread_create(&tid[t], NULL, fn, &jobs[t]) != 0)
                        return tl_fail(err, TL_ENOMEM, "cannot start a thread");
        }
        fn(&jobs[0]);
        for (unsigned t = 1; t < o->threads; t++)
                pthread_join(tid[t], NULL);
        for (unsigned t = 0; t < o->threads; t++)
                if (jobs[t].rc && !rc)
                        rc = tl_fail(err, jobs[t].rc, "out of memory");
        return rc;
}

/* ---- the run
 * ----------------------------------------------------------------------------------
 */

void rate_offline_free(struct rate_offline **pp)
{
        struct rate_offline *o;

        if (!pp || !*pp)
                return;
        o = *pp;
        for (unsigned t = 0; o->owners && t < o->threads; t++) {
                struct owner *w = &o->owners[t];

                sch_decoder_free(&w->dec);
                sch_decoder_free(&w->dec2);
                sch_decoder_free(&w->dec_pair[1]);
                tl_free(w->reports);
        }
        for (unsigned b = 0; o->buckets && b < o->nbuckets; b++) {
                rate_acc_free(&o->buckets[b].acc);
                rate__dedup_release(&o->buckets[b].dedup);
        }
        tl_free(o->buckets);
        for (size_t i = 0; o->segs && i < o->customers->count; i++)
                rate_segs_free(&o->segs[i]);
        tl_free(o->segs);
        for (int set = 0; set < 2; set++)
                for (size_t i = 0;
                     o->route_sets[set] && i < (size_t)o->threads * o->nbuckets;
                     i++)
                        tl_free(o->route_sets[set][i].v);
        for (size_t i = 0; o->files && i < o->file_count; i++)
                rate__file_close(&o->files[i]);
        tl_free(o->route_sets[0]);
        tl_free(o->route_sets[1]);
        tl_free(o->range_start);
        tl_free(o->range_lines);
        tl_free(o->owners);
        tl_free(o->files);
        tl_free(o);
        *pp = NULL;
}

static tl_status setup(struct rate_offline *o, struct tl_error *err)
{
        struct sch_options so = {o->opts.now_us, 0};

        o->nbuckets =
            o->threads * 8 > MIN_BUCKETS ? o->threads * 8 : MIN_BUCKETS;
        o->owners = tl_calloc(o->threads, sizeof *o->owners);
        o->buckets = tl_calloc(o->nbuckets, sizeof *o->buckets);
        for (int set = 0; set < 2; set++)
                o->route_sets[set] = tl_calloc((size_t)o->threads * o->nbuckets,
                                               sizeof *o->routes);
        o->routes = o->route_sets[0];
        o->range_start = tl_calloc(o->threads + 1, sizeof *o->range_start);
        o->range_lines = tl_calloc(o->threads, sizeof *o->range_lines);
        if (!o->owners || !o->buckets || !o->route_sets[0] ||
            !o->route_sets[1] || !o->range_start || !o->range_lines)
                return tl_fail(err, TL_ENOMEM, "out of memory");
        for (unsigned t = 0; t < o->threads; t++) {
                struct owner *w = &o->owners[t];
                tl_status rc;

                w->index = t;
                w->o = o;
                w->dec_pair[0] = NULL;
                if ((rc = sch_decoder_new(&so, &w->dec, err)) ||
                    (rc = sch_decoder_new(&so, &w->dec2, err)) ||
                    (rc = sch_decoder_new(&so, &w->dec_pair[1], err)))
                        return rc;
                w->dec_pair[0] = w->dec;
        }
        for (unsigned b = 0; b < o->nbuckets; b++) {
                tl_status rc =
                    rate_acc_new(o->cat, &o->period, &o->buckets[b].acc, err);

                if (rc)
                        return rc;
                o->buckets[b].dedup.files = o->files;
                o->buckets[b].dedup.dec = o->owners[0].dec2;
        }
        return TL_OK;
}

static void finish_reports(struct rate_offline *o,
                           struct rate_offline_stats *total)
{
        FILE *out = o->opts.report ? o->opts.report : stderr;
        struct report *all = NULL;
        size_t n = 0, shown, unknown_file = 0;
        uint64_t unknown_pos = 0;
        const char *unknown = NULL;

        memset(total, 0, sizeof *total);
        for (unsigned t = 0; t < o->threads; t++) {
                const struct owner *w = &o->owners[t];

                total->read += w->st.read;
                total->rated += w->st.rated;
                total->duplicates += w->st.duplicates;
                total->invalid += w->st.invalid;
                total->outside += w->st.outside;
                total->unknown += w->st.unknown;
                n += w->rn;
                if (w->first_unknown &&
                    (!unknown || w->unknown_file < unknown_file ||
                     (w->unknown_file == unknown_file &&
                      w->unknown_pos < unknown_pos))) {
                        unknown = w->first_unknown;
                        unknown_file = w->unknown_file;
                        unknown_pos = w->unknown_pos;
                }
        }
        all = tl_calloc(n + 1, sizeof *all);
        n = 0;
        for (unsigned t = 0; all && t < o->threads; t++) {
                if (o->owners[t].rn == 0)
                        continue;
                memcpy(all + n, o->owners[t].reports,
                       o->owners[t].rn * sizeof *all);
                n += o->owners[t].rn;
        }
        if (all)
                qsort(all, n, sizeof *all, by_place);
        shown = all ? (n < o->opts.max_report ? n : o->opts.max_report) : 0;
        for (size_t i = 0; i < shown; i++)
                fprintf(out, "%s:%s%llu: %s\n", o->files[all[i].file].path,
                        all[i].cbor ? "#" : "", (unsigned long long)all[i].pos,
                        all[i].msg);
        if (total->invalid > shown)
                fprintf(out, "... and %llu more invalid events\n",
                        (unsigned long long)(total->invalid - shown));
        if (total->unknown)
                fprintf(out,
                        "warning: %llu events of customers not in %s (e.g. "
                        "%s) were not rated\n",
                        (unsigned long long)total->unknown, o->customers->path,
                        unknown ? unknown : "?");
        tl_free(all);
}

/*
** One run over the files: split among threads, or 'alone' (one thread, each
** file read in order). Returns its status and, on TL_OK, '*out' (also when
** the split went wrong: the caller sees redo_alone and runs alone).
*/
static tl_status run(const struct rate_catalog *cat,
                     const struct rate_customers *customers,
                     const struct rate_period *period, const char *const *paths,
                     size_t path_count, const struct rate_offline_opts *opts,
                     bool alone, struct rate_offline **out,
                     struct tl_error *err)
{
        struct rate_offline *o = tl_calloc(1, sizeof *o);
        tl_status rc = TL_OK;
        long cpus;

        if (!o)
                return tl_fail(err, TL_ENOMEM, "out of memory");
        o->cat = cat;
        o->customers = customers;
        o->period = *period;
        o->alone = alone;
        if (opts)
                o->opts = *opts;
        if (!o->opts.max_report)
                o->opts.max_report = 100;
        /* One clock reading for the whole run: the skew rule needs no more
           precision, and reading the clock per event costs 2 %. */
        if (!o->opts.now_us)
                o->opts.now_us = tl_time_now_us();
        cpus = sysconf(_SC_NPROCESSORS_ONLN);
        o->threads =
            o->opts.threads ? o->opts.threads : (unsigned)(cpus > 0 ? cpus : 1);
        if (o->threads > MAX_THREADS)
                o->threads = MAX_THREADS;
        if (alone)
                o->threads = 1;
        o->files = tl_calloc(path_count + 1, sizeof *o->files);
        if (!o->files)
                rc = tl_fail(err, TL_ENOMEM, "out of memory");
        else if (path_count > RATE__MAX_FILES)
                rc = tl_fail(err, TL_ELIMIT,
                             "%zu event files: at most %d in one run",
                             path_count, RATE__MAX_FILES);
        if (!rc)
                rc = setup(o, err);
        if (!rc &&
            !(o->segs = tl_calloc(customers->count + 1, sizeof *o->segs)))
                rc = tl_fail(err, TL_ENOMEM, "out of memory");
        for (size_t i = 0; !rc && i < customers->count; i++)
                rc = rate_segs_new(cat, &customers->items[i], period,
                                   &o->segs[i], err);
        for (size_t i = 0; !rc && i < path_count; i++) {
                rc = rate__file_open(&o->files[i], paths[i], err);
                if (rc)
                        break;
                o->file_count++;
                if (alone)
                        rc = o->files[i].cbor
                                 ? rate__off_read_cbor(o, i, err)
                                 : rate__off_read_jsonl_alone(o, i, err);
                else
                        rc = !o->files[i].cbor ? rate__off_read_jsonl(o, i, err)
                             : o->threads > 1  ? rate__off_route_cbor(o, i, err)
                                               : rate__off_read_cbor(o, i, err);
                if (o->redo_alone)
                        break;
                for (unsigned t = 0; !rc && t < o->threads; t++)
                        if (o->owners[t].rc)
                                rc = tl_fail(err, o->owners[t].rc, "%s",
                                             o->owners[t].err.msg);
        }
        if (rc)
                rate_offline_free(&o);
        *out = o;
        return rc;
}

tl_status rate_offline_run(const struct rate_catalog *cat,
                           const struct rate_customers *customers,
                           const struct rate_period *period,
                           const char *const *paths, size_t path_count,
                           const struct rate_offline_opts *opts,
                           struct rate_offline **out,
                           struct rate_offline_stats *stats,
                           struct tl_error *err)
{
        struct rate_offline *o = NULL;
        tl_status rc = run(cat, customers, period, paths, path_count, opts,
                           false, &o, err);

        if (!rc && o->redo_alone) {
                /* The split went wrong: one thread reads everything again,
                   in order. That reading splits nothing, so it is the
                   last: a redo that asked for another would be a bug. */
                rate_offline_free(&o);
                rc = run(cat, customers, period, paths, path_count, opts, true,
                         &o, err);
                if (!rc && o->redo_alone) {
                        rate_offline_free(&o);
                        rc = tl_fail(err, TL_EINTERNAL,
                                     "offline rating read alone and was "
                                     "asked to redo");
                }
        }
        if (rc)
                return rc;
        finish_reports(o, stats);
        for (size_t i = 0; i < o->file_count; i++)
                stats->bytes += o->files[i].len;
        *out = o;
        return TL_OK;
}

bool rate_offline_find(const struct rate_offline *o, const char *id,
                       const struct rate_acc **acc, size_t *index)
{
        unsigned b =
            rate__off_bucket(o, rate__off_subject_hash(id, strlen(id)));
        size_t i = rate_acc_find(o->buckets[b].acc, id);

        if (i == RATE_NO_INDEX)
                return false;
        *acc = o->buckets[b].acc;
        *index = i;
        return true;
}

const struct rate_segs *rate_offline_segs(const struct rate_offline *o,
                                          const struct rate_customer *c)
{
        return o->segs[c - o->customers->items];
}

const struct rate_acc *rate_offline_any_acc(const struct rate_offline *o)
{
        return o->buckets[0].acc;
}
