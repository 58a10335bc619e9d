/* Offline rating: files -> decoded, deduplicated events -> usage, with the
   customers split among threads so each customer stays in file order. */
#include "rating/offline.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/hash.h"
#include "core/str.h"
#include "dedup.h"
#include "files.h"
#include "schemas/decode.h"

#define MAX_THREADS 64
#define AHEAD 4 /* lines prefetched ahead of the one decoded */

/* A line of a JSON Lines file routed to an owner thread. */
struct rec {
        uint64_t off;
        uint32_t len;
        uint32_t line; /* within its range */
};

struct recs {
        size_t n, cap;
        struct rec *v;
};

struct report {
        size_t file;
        uint64_t pos;
        bool cbor;
        char msg[TL_ERROR_MSG_MAX];
};

/* What one thread owns: its customers' usage, dedup state and reports. */
struct owner {
        unsigned index;
        struct rate_offline *o;
        struct sch_decoder *dec, *dec2;
        struct sch_decoder *dec_pair[2]; /* dec and a second, in turns */
        struct rate_acc *acc;
        struct rate__dedup dedup;
        struct rate_offline_stats st;
        size_t rn, rcap;
        struct report *reports;
        const char *first_unknown;
        char first_unknown_buf[SCH_MAX_SUBJECT_BYTES + 1];
        tl_status rc;
        struct tl_error err;
};

struct rate_offline {
        const struct rate_catalog *cat;
        const struct rate_customers *customers;
        struct rate_period period;
        struct rate_offline_opts opts;
        unsigned threads;
        struct rate__file *files;
        size_t file_count;
        struct owner *owners;
        /* Routing of the JSON Lines file being read: ranges x owners. */
        struct recs *routes;  /* [range * threads + owner] */
        struct recs *route_sets[2]; /* routes is one; CBOR skims the other */
        uint64_t *range_start;
        uint64_t *range_lines; /* lines in each range */
        size_t cur_file;
        /* Set when splitting the input among threads went wrong: a line
           whose subject the quick scan misread, or a CBOR item whose end
           the skim or an owner could not find. The run is then redone by
           one thread, which needs no splitting and reports exactly. */
        volatile int redo_alone;
};

/* The customers file's own hash: one hash per event routes it, finds its
   customer, and seeds its dedup key. */
static uint64_t subject_hash(const char *s, size_t len)
{
        return rate_customers_hash(s, len);
}

static unsigned owner_of(const struct rate_offline *o, uint64_t subject_h)
{
        return (unsigned)(subject_h % o->threads);
}

/* ---- reports ------------------------------------------------------------------- */

static void report(struct owner *w, size_t file, uint64_t pos, bool cbor,
                   const char *msg)
{
        w->st.invalid++;
        /* Only the first max_report of the run are printed; each thread
           keeps at most that many of its own earliest. */
        if (w->rn >= w->o->opts.max_report)
                return;
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

/* ---- dedup ----------------------------------------------------------------------- */

/* Chained with the lengths folded in, so ("ab", "c") != ("a", "bc"). */
static uint64_t key_hash(const struct sch_event *ev, uint64_t subject_h)
{
        uint64_t h = tl_hash64(ev->source.ptr, ev->source.len,
                               subject_h ^ ev->source.len);

        h = tl_hash64(ev->id.ptr, ev->id.len, h ^ ev->id.len);
        return h ? h : 1; /* 0 marks an empty slot */
}

/* ---- one event ----------------------------------------------------------------------- */

static void take(struct owner *w, const struct sch_event *ev,
                 uint64_t subject_h, struct sch_str raw, bool cbor,
                 size_t file, uint64_t pos)
{
        const struct rate_period *p = &w->o->period;
        const struct rate_customer *cust;
        struct tl_error why;
        int d;

        if (ev->time_us >= p->end_us ||
            (ev->time_us < p->start_us && ev->type != SCH_TYPE_SEAT)) {
                w->st.outside++;
                return;
        }
        cust = rate_customers_find_hashed(w->o->customers, ev->subject.ptr,
                                          ev->subject.len, subject_h);
        if (!cust) {
                if (!w->first_unknown) {
                        snprintf(w->first_unknown_buf,
                                 sizeof w->first_unknown_buf, "%.*s",
                                 (int)ev->subject.len, ev->subject.ptr);
                        w->first_unknown = w->first_unknown_buf;
                }
                w->st.unknown++;
                return;
        }
        d = rate__dedup_check(&w->dedup, ev, key_hash(ev, subject_h),
                              raw.ptr, file, &why, &w->err);
        if (d < 0) {
                w->rc = w->err.code;
                return;
        }
        if (d == 1) {
                w->st.duplicates++;
                return;
        }
        if (d == 2) {
                report(w, file, pos, cbor, why.msg);
                return;
        }
        w->st.rated++;
        if ((w->rc = rate_acc_add_hinted(
                     w->acc, ev, (size_t)(cust - w->o->customers->items),
                     &w->err)) != TL_OK)
                tl_error_prefix(&w->err, "%s:%s%llu", w->o->files[file].path,
                                cbor ? "#" : "", (unsigned long long)pos);
}

/* ---- JSON Lines: routing, then decoding by owner --------------------------------------- */

static bool blank(const char *p, size_t n)
{
        for (size_t i = 0; i < n; i++)
                if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r')
                        return false;
        return true;
}

/*
** The subject of a line by a plain scan for its first `"subject":"`. It
** only routes the line: the owner checks it against the decoded event,
** and a misread (an escaped key, a data field of that name first) sends
** the whole run to one thread instead.
*/
static bool scan_subject(const char *p, size_t n, struct sch_str *out)
{
        static const char key[] = "\"subject\"";
        const char *k = NULL, *end = p + n, *v, *j = p + 4;

        /* 'j' is rare in events and in "subject" once: find it with
           memchr, then check the key around it (memmem's general search
           cost 5 % of a run). */
        if (n < sizeof key - 1)
                return false;
        while (j < end && (j = memchr(j, 'j', (size_t)(end - j))) != NULL) {
                if (end - j >= 5 && memcmp(j - 4, key, sizeof key - 1) == 0) {
                        k = j - 4;
                        break;
                }
                j++;
        }
        if (!k)
                return false;
        v = k + sizeof key - 1;
        while (v < end && (*v == ' ' || *v == '\t'))
                v++;
        if (v == end || *v++ != ':')
                return false;
        while (v < end && (*v == ' ' || *v == '\t'))
                v++;
        if (v == end || *v++ != '"')
                return false;
        k = memchr(v, '"', (size_t)(end - v));
        if (!k)
                return false;
        *out = (struct sch_str){v, (uint32_t)(k - v)};
        return true;
}

static bool push(struct recs *r, struct rec x)
{
        if (r->n == r->cap) {
                size_t cap = r->cap ? r->cap * 2 : 1024;
                struct rec *v = tl_reallocarray(r->v, cap, sizeof *v);

                if (!v)
                        return false;
                r->v = v;
                r->cap = cap;
        }
        r->v[r->n++] = x;
        return true;
}

struct job {
        struct rate_offline *o;
        unsigned t;
        tl_status rc;
};

static void *route_range(void *arg)
{
        struct job *j = arg;
        struct rate_offline *o = j->o;
        const struct rate__file *f = &o->files[o->cur_file];
        size_t pos = o->range_start[j->t], end = o->range_start[j->t + 1];
        uint32_t line = 0;

        while (pos < end) {
                const char *p = f->buf + pos;
                const char *nl = memchr(p, '\n', f->len - pos);
                size_t n = nl ? (size_t)(nl - p) : f->len - pos;
                struct sch_str subj;

                line++;
                if (!blank(p, n)) {
                        struct rec r = {pos, (uint32_t)n, line};

                        if (n > SCH_MAX_MESSAGE_BYTES)
                                r.len = SCH_MAX_MESSAGE_BYTES + 1;
                        unsigned w = 0;

                        if (scan_subject(p, n, &subj))
                                w = owner_of(o, subject_hash(subj.ptr,
                                                             subj.len));
                        if (!push(&o->routes[j->t * o->threads + w], r))
                                j->rc = TL_ENOMEM;
                }
                pos += n + 1;
        }
        o->range_lines[j->t] = line;
        return NULL;
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

static void *decode_owned(void *arg)
{
        struct job *j = arg;
        struct rate_offline *o = j->o;
        struct owner *w = &o->owners[j->t];
        const struct rate__file *f = &o->files[o->cur_file];
        struct pending pend[2];
        unsigned cur = 0;
        uint64_t base = 0;

        pend[0].full = pend[1].full = false;
        {
                size_t mine = 0;

                for (unsigned t = 0; t < o->threads; t++)
                        mine += o->routes[t * o->threads + j->t].n;
                /* Sized once for every line routed here: no rehash, and
                   the pages are faulted in by this thread. */
                if ((w->rc = rate__dedup_reserve(&w->dedup, mine,
                                                 &w->err)) != TL_OK)
                        return NULL;
        }
        for (unsigned t = 0; t < o->threads && !w->rc; t++) {
                const struct recs *r = &o->routes[t * o->threads + j->t];

                for (size_t i = 0; i < r->n && !w->rc; i++) {
                        const struct rec *x = &r->v[i];
                        struct pending *pe = &pend[cur];
                        const char *p = f->buf + x->off;
                        size_t n = x->len;
                        struct tl_error e;
                        tl_status drc;

                        /* The routing pass read this line long ago and
                           the owners' lines interleave, so the hardware
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
                        drc = f->cbor ? decode_cbor_item(w->dec_pair[cur], p,
                                                         n, &pe->ev, &e)
                                      : sch_decode_json(w->dec_pair[cur], p,
                                                        n, &pe->ev, &e);
                        if (drc == TL_EPARSE && f->cbor) {
                                /* Where a malformed item ends is unknown:
                                   the reading in one thread stops there. */
                                o->redo_alone = 1;
                                return NULL;
                        }
                        if (drc != TL_OK) {
                                report(w, o->cur_file, base + x->line,
                                       f->cbor, e.msg);
                                continue;
                        }
                        pe->subject_h = subject_hash(pe->ev.subject.ptr,
                                                     pe->ev.subject.len);
                        if (owner_of(o, pe->subject_h) != j->t) {
                                o->redo_alone = 1;
                                return NULL;
                        }
                        pe->raw = (struct sch_str){p, (uint32_t)n};
                        pe->line = base + x->line;
                        pe->full = true;
                        /* The dedup table is far bigger than the caches:
                           ask for this event's slot now, use it after the
                           next decode. */
                        __builtin_prefetch(rate__dedup_slot(
                                &w->dedup, key_hash(&pe->ev, pe->subject_h)));
                        cur ^= 1;
                        pe = &pend[cur];
                        if (pe->full) {
                                pe->full = false;
                                take(w, &pe->ev, pe->subject_h, pe->raw,
                                     f->cbor, o->cur_file, pe->line);
                        }
                }
                base += o->range_lines[t];
        }
        /* The last event decoded is still waiting. */
        if (pend[cur ^ 1].full && !w->rc) {
                struct pending *pe = &pend[cur ^ 1];

                take(w, &pe->ev, pe->subject_h, pe->raw, f->cbor,
                     o->cur_file, pe->line);
        }
        return NULL;
}

static tl_status run_threads(struct rate_offline *o, void *(*fn)(void *),
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

static tl_status read_jsonl(struct rate_offline *o, size_t fi,
                            struct tl_error *err)
{
        const struct rate__file *f = &o->files[fi];
        tl_status rc;

        o->cur_file = fi;
        /* Ranges of about equal size, each starting at a line. */
        o->range_start[0] = 0;
        for (unsigned t = 1; t < o->threads; t++) {
                size_t pos = f->len / o->threads * t;
                const char *nl;

                if (pos < o->range_start[t - 1])
                        pos = o->range_start[t - 1];
                nl = pos < f->len ? memchr(f->buf + pos, '\n', f->len - pos)
                                  : NULL;
                o->range_start[t] = nl ? (uint64_t)(nl - f->buf) + 1 : f->len;
        }
        o->range_start[o->threads] = f->len;
        for (size_t i = 0; i < (size_t)o->threads * o->threads; i++)
                o->routes[i].n = 0;
        if ((rc = run_threads(o, route_range, err)) != TL_OK)
                return rc;
        return run_threads(o, decode_owned, err);
}

/* One segment of the skim: items from 'pos' up to the first end at or
   past 'stop', routed into 'set'. */
struct skim {
        struct rate_offline *o;
        struct recs *set;
        size_t pos, stop;
        uint64_t item;
        bool bad; /* an item the skim cannot measure: one thread reads */
        tl_status rc;
};

static void *skim_segment(void *arg)
{
        struct skim *k = arg;
        struct rate_offline *o = k->o;
        const struct rate__file *f = &o->files[o->cur_file];

        for (unsigned t = 0; t < o->threads; t++)
                k->set[t].n = 0;
        while (k->pos < f->len && k->pos < k->stop) {
                struct sch_str subj;
                size_t n;
                unsigned w = 0;

                if (sch_cbor_skim(f->buf + k->pos, f->len - k->pos, &n,
                                  &subj) != TL_OK ||
                    n > UINT32_MAX || ++k->item > UINT32_MAX) {
                        k->bad = true;
                        return NULL;
                }
                if (subj.ptr)
                        w = owner_of(o, subject_hash(subj.ptr, subj.len));
                if (!push(&k->set[w], (struct rec){k->pos, (uint32_t)n,
                                                  (uint32_t)k->item})) {
                        k->rc = TL_ENOMEM;
                        return NULL;
                }
                k->pos += n;
        }
        return NULL;
}

/* Bytes skimmed during each decode: a sixteenth of the file, so even the
   tests' small files go through several segments, within 64 KiB..64 MiB. */
static size_t segment_bytes(size_t len)
{
        size_t seg = len / 16;

        return seg < ((size_t)64 << 10)   ? (size_t)64 << 10
               : seg > ((size_t)64 << 20) ? (size_t)64 << 20
                                          : seg;
}

/*
** A CBOR sequence with several threads: one more thread skims the file for
** item ends and subjects (a tenth of a decode), a segment ahead of the
** owners decoding the segment it routed before. Anything the skim cannot
** measure sends the run to one thread, whose reader reports it exactly.
*/
static tl_status route_cbor(struct rate_offline *o, size_t fi,
                            struct tl_error *err)
{
        const struct rate__file *f = &o->files[fi];
        size_t seg = segment_bytes(f->len);
        struct skim k = {o, o->route_sets[0], 0, seg, 0, false, TL_OK};
        unsigned cur = 0;
        tl_status rc;

        o->cur_file = fi;
        for (unsigned t = 0; t < o->threads; t++)
                o->range_lines[t] = 0;
        skim_segment(&k);
        /* Size the dedup tables once, from the first segment's items. */
        if (!k.bad && !k.rc && k.pos > 0) {
                size_t items = 0;

                for (unsigned t = 0; t < o->threads; t++)
                        items += k.set[t].n;
                /* Scaled to the whole file, 5 % over, per owner. */
                tl_u128 est = (tl_u128)items * f->len / k.pos;

                est = (est + est / 20) / o->threads + 1;
                /* Capped (16M an owner, 384 MB): past that the table
                   grows as it fills, so a wrong guess costs no memory. */
                items = est > (1u << 24) ? (size_t)1 << 24 : (size_t)est;
                for (unsigned t = 0; t < o->threads; t++)
                        if ((rc = rate__dedup_reserve(&o->owners[t].dedup,
                                                      items,
                                                      &o->owners[t].err)))
                                return tl_fail(err, rc, "%s",
                                               o->owners[t].err.msg);
        }
        for (;;) {
                pthread_t tid;
                bool more, started = false;

                if (k.bad) {
                        o->redo_alone = 1;
                        return TL_OK;
                }
                if (k.rc)
                        return tl_fail(err, k.rc, "out of memory");
                more = k.pos < f->len;
                o->routes = o->route_sets[cur];
                if (more) {
                        k.set = o->route_sets[cur ^ 1];
                        k.stop = k.pos + seg;
                        started = pthread_create(&tid, NULL, skim_segment,
                                                 &k) == 0;
                }
                rc = run_threads(o, decode_owned, err);
                if (started)
                        pthread_join(tid, NULL);
                else if (more && !rc)
                        skim_segment(&k);
                if (rc || o->redo_alone)
                        return rc;
                for (unsigned t = 0; t < o->threads; t++)
                        if (o->owners[t].rc)
                                return TL_OK; /* the caller reports it */
                if (!more)
                        return TL_OK;
                cur ^= 1;
        }
}

/* CBOR sequences are read by one thread, handing each event to its owner
   (the owners are idle meanwhile, so nothing is shared at once). */
static tl_status read_cbor(struct rate_offline *o, size_t fi,
                           struct tl_error *err)
{
        const struct rate__file *f = &o->files[fi];
        struct sch_cbor_reader r;
        struct sch_decoder *dec = o->owners[0].dec;
        tl_status rc;

        rc = sch_cbor_reader_open(&r, f->buf, f->len, true, err);
        if (rc)
                return tl_error_prefix(err, "%s", f->path);
        while (sch_cbor_reader_more(&r)) {
                struct sch_event ev;
                struct sch_str raw;
                struct tl_error e;
                uint64_t item = r.index + 1;
                struct owner *w;

                rc = sch_cbor_reader_next(&r, dec, &ev, &raw, &e);
                if (rc) {
                        o->owners[0].st.read++;
                        report(&o->owners[0], fi, item, true, e.msg);
                        if (r.broken)
                                break;
                        continue;
                }
                {
                        uint64_t h = subject_hash(ev.subject.ptr,
                                                  ev.subject.len);

                        w = &o->owners[owner_of(o, h)];
                        w->st.read++;
                        take(w, &ev, h, raw, true, fi, item);
                }
                if (w->rc)
                        return tl_fail(err, w->rc, "%s", w->err.msg);
        }
        return TL_OK;
}

/* ---- the run ---------------------------------------------------------------------------------- */

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
                rate_acc_free(&w->acc);
                rate__dedup_release(&w->dedup);
                tl_free(w->reports);
        }
        for (int set = 0; set < 2; set++)
                for (size_t i = 0; o->route_sets[set] &&
                                   i < (size_t)o->threads * o->threads;
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

        o->owners = tl_calloc(o->threads, sizeof *o->owners);
        for (int set = 0; set < 2; set++)
                o->route_sets[set] = tl_calloc(
                        (size_t)o->threads * o->threads, sizeof *o->routes);
        o->routes = o->route_sets[0];
        o->range_start = tl_calloc(o->threads + 1, sizeof *o->range_start);
        o->range_lines = tl_calloc(o->threads, sizeof *o->range_lines);
        if (!o->owners || !o->route_sets[0] || !o->route_sets[1] ||
            !o->range_start || !o->range_lines)
                return tl_fail(err, TL_ENOMEM, "out of memory");
        for (unsigned t = 0; t < o->threads; t++) {
                struct owner *w = &o->owners[t];
                tl_status rc;

                w->index = t;
                w->o = o;
                w->dec_pair[0] = NULL;
                if ((rc = sch_decoder_new(&so, &w->dec, err)) ||
                    (rc = sch_decoder_new(&so, &w->dec2, err)) ||
                    (rc = sch_decoder_new(&so, &w->dec_pair[1], err)) ||
                    (rc = rate_acc_new(o->cat, &o->period, &w->acc, err)))
                        return rc;
                w->dec_pair[0] = w->dec;
                w->dedup.files = o->files;
                w->dedup.dec = w->dec2;
        }
        return TL_OK;
}

static void finish_reports(struct rate_offline *o,
                           struct rate_offline_stats *total)
{
        FILE *out = o->opts.report ? o->opts.report : stderr;
        struct report *all = NULL;
        size_t n = 0, shown;
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
                if (!unknown)
                        unknown = w->first_unknown;
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
                        all[i].cbor ? "#" : "",
                        (unsigned long long)all[i].pos, all[i].msg);
        if (total->invalid > shown)
                fprintf(out, "... and %llu more invalid events\n",
                        (unsigned long long)(total->invalid - shown));
        if (total->unknown)
                fprintf(out,
                        "warning: %llu events of customers not in %s (e.g. "
                        "%s) were not rated\n",
                        (unsigned long long)total->unknown,
                        o->customers->path, unknown ? unknown : "?");
        tl_free(all);
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
        struct rate_offline *o = tl_calloc(1, sizeof *o);
        tl_status rc = TL_OK;
        long cpus;

        if (!o)
                return tl_fail(err, TL_ENOMEM, "out of memory");
        o->cat = cat;
        o->customers = customers;
        o->period = *period;
        if (opts)
                o->opts = *opts;
        if (!o->opts.max_report)
                o->opts.max_report = 100;
        /* One clock reading for the whole run: the skew rule needs no more
           precision, and reading the clock per event costs 2 %. */
        if (!o->opts.now_us)
                o->opts.now_us = tl_time_now_us();
        cpus = sysconf(_SC_NPROCESSORS_ONLN);
        o->threads = o->opts.threads ? o->opts.threads
                                     : (unsigned)(cpus > 0 ? cpus : 1);
        if (o->threads > MAX_THREADS)
                o->threads = MAX_THREADS;
        o->files = tl_calloc(path_count + 1, sizeof *o->files);
        if (!o->files)
                rc = tl_fail(err, TL_ENOMEM, "out of memory");
        else if (path_count > RATE__MAX_FILES)
                rc = tl_fail(err, TL_ELIMIT,
                             "%zu event files: at most %d in one run",
                             path_count, RATE__MAX_FILES);
        if (!rc)
                rc = setup(o, err);
        for (size_t i = 0; !rc && i < path_count; i++) {
                rc = rate__file_open(&o->files[i], paths[i], err);
                if (rc)
                        break;
                o->file_count++;
                rc = !o->files[i].cbor ? read_jsonl(o, i, err)
                     : o->threads > 1  ? route_cbor(o, i, err)
                                       : read_cbor(o, i, err);
                if (o->redo_alone)
                        break;
                for (unsigned t = 0; !rc && t < o->threads; t++)
                        if (o->owners[t].rc)
                                rc = tl_fail(err, o->owners[t].rc, "%s",
                                             o->owners[t].err.msg);
        }
        if (rc) {
                rate_offline_free(&o);
                return rc;
        }
        if (o->redo_alone) {
                /* One thread reads everything again. */
                struct rate_offline_opts one = o->opts;

                rate_offline_free(&o);
                one.threads = 1;
                return rate_offline_run(cat, customers, period, paths,
                                        path_count, &one, out, stats, err);
        }
        finish_reports(o, stats);
        for (size_t i = 0; i < o->file_count; i++)
                stats->bytes += o->files[i].len;
        *out = o;
        return TL_OK;
}

bool rate_offline_find(const struct rate_offline *o, const char *id,
                       const struct rate_acc **acc, size_t *index)
{
        unsigned t = owner_of(o, subject_hash(id, strlen(id)));
        size_t i = rate_acc_find(o->owners[t].acc, id);

        if (i == RATE_NO_INDEX)
                return false;
        *acc = o->owners[t].acc;
        *index = i;
        return true;
}

const struct rate_acc *rate_offline_any_acc(const struct rate_offline *o)
{
        return o->owners[0].acc;
}
