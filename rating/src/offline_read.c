/* Offline rating's reading: a JSON Lines file is split into ranges whose
   lines the threads route to buckets by subject; a CBOR sequence is
   skimmed by one more thread a segment ahead of the decoding. */
#include "offline_int.h"

#include <pthread.h>
#include <string.h>

#include "core/alloc.h"
#include "core/str.h"

/* ---- JSON Lines: routing lines to buckets
 * ------------------------------------------------ */

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

/*
** The bucket of a line whose scanned subject is 'subj'. The owner routes
** by the decoded subject, so one with an escape (`cust\u005f0042`, `\"`)
** is decoded here by thread 't''s decoder, idle while routing: the same
** decoder, so the same bytes. Only such lines pay for it. A line that does
** not decode goes to bucket 0, whose owner reports it.
*/
static unsigned route_subject(struct rate_offline *o, unsigned t, const char *p,
                              size_t n, struct sch_str subj)
{
        struct sch_event ev;
        struct tl_error e;

        if (!memchr(subj.ptr, '\\', subj.len))
                return rate__off_bucket(
                    o, rate__off_subject_hash(subj.ptr, subj.len));
        if (n > 0 && p[n - 1] == '\r')
                n--;
        if (sch_decode_json(o->owners[t].dec, p, n, &ev, &e) != TL_OK)
                return 0;
        return rate__off_bucket(
            o, rate__off_subject_hash(ev.subject.ptr, ev.subject.len));
}

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
                                w = route_subject(o, j->t, p, r.len, subj);
                        if (!push(&o->routes[j->t * o->nbuckets + w], r))
                                j->rc = TL_ENOMEM;
                }
                pos += n + 1;
        }
        o->range_lines[j->t] = line;
        return NULL;
}

tl_status rate__off_read_jsonl(struct rate_offline *o, size_t fi,
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
        for (size_t i = 0; i < (size_t)o->threads * o->nbuckets; i++)
                o->routes[i].n = 0;
        o->nranges = o->threads;
        if ((rc = rate__off_run_threads(o, route_range, err)) != TL_OK)
                return rc;
        o->next_bucket = 0;
        return rate__off_run_threads(o, rate__off_decode_buckets, err);
}

/*
** A JSON Lines file read by one thread in order, each event handed to its
** bucket: the redo of a run whose routing went wrong. Nothing here routes
** ahead of decoding, so nothing can go wrong the same way again.
*/
tl_status rate__off_read_jsonl_alone(struct rate_offline *o, size_t fi,
                                     struct tl_error *err)
{
        const struct rate__file *f = &o->files[fi];
        struct owner *w = &o->owners[0];
        size_t pos = 0;
        uint64_t line = 0;

        while (pos < f->len) {
                const char *p = f->buf + pos;
                const char *nl = memchr(p, '\n', f->len - pos);
                size_t n = nl ? (size_t)(nl - p) : f->len - pos;
                size_t len = n;
                struct sch_event ev;
                struct tl_error e;
                uint64_t h;

                line++;
                pos += n + 1;
                if (blank(p, n))
                        continue;
                if (len > SCH_MAX_MESSAGE_BYTES)
                        len = SCH_MAX_MESSAGE_BYTES + 1;
                else if (p[len - 1] == '\r')
                        len--;
                w->st.read++;
                if (sch_decode_json(w->dec, p, len, &ev, &e) != TL_OK) {
                        rate__off_report(w, fi, line, false, e.msg);
                        continue;
                }
                h = rate__off_subject_hash(ev.subject.ptr, ev.subject.len);
                rate__off_use_bucket(w, rate__off_bucket(o, h));
                rate__off_take(w, &ev, h, (struct sch_str){p, (uint32_t)len},
                               false, fi, line);
                if (w->rc)
                        return tl_fail(err, w->rc, "%s", w->err.msg);
        }
        return TL_OK;
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

        for (unsigned b = 0; b < o->nbuckets; b++)
                k->set[b].n = 0;
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
                        w = rate__off_bucket(
                            o, rate__off_subject_hash(subj.ptr, subj.len));
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
tl_status rate__off_route_cbor(struct rate_offline *o, size_t fi,
                               struct tl_error *err)
{
        const struct rate__file *f = &o->files[fi];
        size_t seg = segment_bytes(f->len);
        struct skim k = {o, o->route_sets[0], 0, seg, 0, false, TL_OK};
        unsigned cur = 0;
        tl_status rc;

        o->cur_file = fi;
        o->nranges = 1;
        o->range_lines[0] = 0;
        skim_segment(&k);
        /* Size the dedup tables once, from the first segment's items. */
        if (!k.bad && !k.rc && k.pos > 0) {
                for (unsigned b = 0; b < o->nbuckets; b++) {
                        /* The bucket's items scaled to the whole file,
                           5 % over. Capped (16M a bucket): past that the
                           table grows as it fills, so a wrong guess costs
                           no memory. */
                        tl_u128 est = (tl_u128)k.set[b].n * f->len / k.pos;
                        size_t items;

                        est = est + est / 20 + 1;
                        items =
                            est > (1u << 24) ? (size_t)1 << 24 : (size_t)est;
                        if ((rc = rate__dedup_reserve(&o->buckets[b].dedup,
                                                      items, err)))
                                return rc;
                }
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
                        started =
                            pthread_create(&tid, NULL, skim_segment, &k) == 0;
                }
                o->next_bucket = 0;
                rc = rate__off_run_threads(o, rate__off_decode_buckets, err);
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
tl_status rate__off_read_cbor(struct rate_offline *o, size_t fi,
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
                        rate__off_report(&o->owners[0], fi, item, true, e.msg);
                        if (r.broken)
                                break;
                        continue;
                }
                {
                        uint64_t h = rate__off_subject_hash(ev.subject.ptr,
                                                            ev.subject.len);

                        w = &o->owners[0];
                        rate__off_use_bucket(w, rate__off_bucket(o, h));
                        w->st.read++;
                        rate__off_take(w, &ev, h, raw, true, fi, item);
                }
                if (w->rc)
                        return tl_fail(err, w->rc, "%s", w->err.msg);
        }
        return TL_OK;
}
