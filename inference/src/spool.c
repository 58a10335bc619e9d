/* The crash-safe offline spool: CRC-framed CBOR records, torn tails cut,
   damage reported by record and byte (format: docs/formats.md). */
#include "emit_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"

struct inf_spool {
        char *path;
        int fd, lock_fd; /* the spool; its PATH.lock, flocked */
        size_t count;    /* whole records */
        size_t end;      /* bytes of whole records: where appends go */
        struct sch_decoder *dec;
        struct tl_buf enc; /* events of one append, encoded */
        struct tl_buf out; /* records of one append, framed */
};

/* ---- CRC-32C, four bits a step ---- */

static const uint32_t crc_nibble[16] = {
    0x00000000u, 0x105ec76fu, 0x20bd8edeu, 0x30e349b1u,
    0x417b1dbcu, 0x5125dad3u, 0x61c69362u, 0x7198540du,
    0x82f63b78u, 0x92a8fc17u, 0xa24bb5a6u, 0xb21572c9u,
    0xc38d26c4u, 0xd3d3e1abu, 0xe330a81au, 0xf36e6f75u,
};

uint32_t inf__crc32c(const void *p, size_t len)
{
        const unsigned char *s = p;
        uint32_t c = 0xffffffffu;

        while (len--) {
                c ^= *s++;
                c = (c >> 4) ^ crc_nibble[c & 15];
                c = (c >> 4) ^ crc_nibble[c & 15];
        }
        return ~c;
}

/* ---- CBOR heads ---- */

static tl_status put_head(struct tl_buf *b, unsigned major, uint64_t v,
                          struct tl_error *err)
{
        unsigned char h[9];
        unsigned ai = (unsigned)v;
        size_t n = 0;

        if (v >= 24) /* 1, 2, 4 or 8 bytes follow: ai 24 .. 27 */
                for (n = 1, ai = 24; n < 8 && v >> (8 * n); n *= 2)
                        ai++;
        h[0] = (unsigned char)(major << 5 | ai);
        for (size_t i = 0; i < n; i++)
                h[1 + i] = (unsigned char)(v >> (8 * (n - 1 - i)));
        return tl_buf_append(b, h, 1 + n, err);
}

typedef enum { FRAME_OK, FRAME_SHORT, FRAME_BAD } frame_result;

static frame_result get_head(const unsigned char *buf, size_t len, size_t *pos,
                             unsigned *major, uint64_t *v)
{
        size_t p = *pos, n;
        unsigned ai;

        if (p >= len)
                return FRAME_SHORT;
        *major = buf[p] >> 5;
        ai = buf[p++] & 31;
        if (ai > 27)
                return FRAME_BAD; /* indefinite or reserved */
        n = ai < 24 ? 0 : (size_t)1 << (ai - 24);
        if (len - p < n)
                return FRAME_SHORT;
        *v = ai < 24 ? ai : 0;
        for (size_t i = 0; i < n; i++)
                *v = *v << 8 | buf[p++];
        *pos = p;
        return FRAME_OK;
}

/*
** The frame at 'pos': FRAME_OK with '*rec' when whole with a matching CRC;
** FRAME_SHORT when the bytes end first; FRAME_BAD with the reason in
** 'why' (which may be NULL). The event inside is not looked at.
*/
static frame_result parse_frame(const unsigned char *buf, size_t len,
                                size_t pos, struct inf__record *rec, char *why,
                                size_t why_size)
{
        size_t p = pos + 1, start;
        unsigned major = 0;
        uint64_t n = 0, crc = 0;
        frame_result r;

        if (buf[pos] != 0x82) {
                snprintf(why, why_size,
                         "expected a record (a CBOR array of 2), found byte "
                         "0x%02x",
                         buf[pos]);
                return FRAME_BAD;
        }
        r = get_head(buf, len, &p, &major, &n);
        if (r == FRAME_OK &&
            (major != 2 || n == 0 || n > SCH_MAX_MESSAGE_BYTES))
                r = FRAME_BAD;
        if (r == FRAME_BAD)
                snprintf(why, why_size,
                         "expected the event as a byte string of 1 to %d "
                         "bytes",
                         SCH_MAX_MESSAGE_BYTES);
        if (r != FRAME_OK)
                return r;
        if (len - p < n)
                return FRAME_SHORT;
        start = p;
        p += (size_t)n;
        r = get_head(buf, len, &p, &major, &crc);
        if (r == FRAME_OK && (major != 0 || crc > 0xffffffffu))
                r = FRAME_BAD;
        if (r == FRAME_BAD)
                snprintf(why, why_size,
                         "expected the CRC-32C as an unsigned integer");
        if (r != FRAME_OK)
                return r;
        if (inf__crc32c(buf + start, (size_t)n) != crc) {
                snprintf(why, why_size,
                         "CRC-32C mismatch (stored 0x%08x, computed 0x%08x)",
                         (unsigned)crc, inf__crc32c(buf + start, (size_t)n));
                return FRAME_BAD;
        }
        rec->offset = pos;
        rec->size = p - pos;
        rec->event = (struct inf__bytes){buf + start, (size_t)n};
        return FRAME_OK;
}

/* Whether a whole frame with a matching CRC starts anywhere after 'pos':
   the difference between a torn tail and corruption. */
static bool valid_after(const unsigned char *buf, size_t len, size_t pos)
{
        struct inf__record rec;

        for (size_t p = pos + 1; p < len; p++) {
                const unsigned char *q = memchr(buf + p, 0x82, len - p);
                if (!q)
                        return false;
                p = (size_t)(q - buf);
                if (parse_frame(buf, len, p, &rec, NULL, 0) == FRAME_OK)
                        return true;
        }
        return false;
}

tl_status inf__decoder_new(struct sch_decoder **out, struct tl_error *err)
{
        /* A century: the skew check is the receiver's (emit_int.h). */
        struct sch_options opt = {0, 100 * 366 * TL_US_PER_DAY};

        return sch_decoder_new(&opt, out, err);
}

tl_status inf__check_event(struct sch_decoder *dec, struct inf__bytes e,
                           struct sch_event *ev, struct tl_error *err)
{
        struct sch_cbor_reader r;
        struct sch_str raw;
        tl_status rc;

        if (e.len == 0 || e.ptr[0] >> 5 != 5)
                return tl_fail(err, TL_EINVAL, "the event is not a CBOR map");
        rc = sch_cbor_reader_open(&r, e.ptr, e.len, false, err);
        return rc ? rc : sch_cbor_reader_next(&r, dec, ev, &raw, err);
}

tl_status inf__spool_scan(const char *path, const unsigned char *buf,
                          size_t len, struct sch_decoder *dec,
                          inf__record_fn fn, void *ctx, struct inf__scan *out,
                          struct tl_error *err)
{
        struct inf__scan s = {0, 0, false};
        struct inf__record rec;
        struct sch_event ev;
        struct tl_error why;
        frame_result r;
        tl_status rc;

        while (s.end < len) {
                r = parse_frame(buf, len, s.end, &rec, why.msg, sizeof why.msg);
                if (r == FRAME_OK) {
                        rc = inf__check_event(dec, rec.event, &ev, &why);
                        if (rc) {
                                s.corrupt = true;
                                *out = s;
                                return tl_fail(err, TL_EPARSE,
                                               "%s: record #%zu at byte %zu: "
                                               "invalid event: %s",
                                               path, s.count + 1, s.end,
                                               why.msg);
                        }
                        rc = fn ? fn(ctx, &rec, &ev, err) : TL_OK;
                        if (rc)
                                return rc;
                        s.count++;
                        s.end += rec.size;
                        continue;
                }
                if (!valid_after(buf, len, s.end))
                        break; /* a torn tail: nothing valid follows */
                s.corrupt = true;
                *out = s;
                return tl_fail(err, TL_EPARSE,
                               "%s: record #%zu at byte %zu: %s", path,
                               s.count + 1, s.end,
                               r == FRAME_SHORT ? "incomplete record before "
                                                  "valid ones"
                                                : why.msg);
        }
        *out = s;
        return TL_OK;
}

/* ---- the spool ---- */

/* Open (or create) the spool file itself; '*created' when it is new. */
static tl_status open_file(struct inf_spool *sp, bool *created,
                           struct tl_error *err)
{
        int flags = O_RDWR | O_CREAT | O_CLOEXEC;

        sp->fd = open(sp->path, flags | O_EXCL, 0644);
        *created = sp->fd >= 0;
        if (sp->fd < 0 && errno == EEXIST)
                sp->fd = open(sp->path, flags, 0644);
        if (sp->fd < 0)
                return tl_fail(err, TL_EIO, "cannot open %s: %s", sp->path,
                               strerror(errno));
        return TL_OK;
}

/* Cut a torn tail so the next record follows the last whole one. */
static tl_status cut_tail(struct inf_spool *sp, size_t end,
                          struct tl_error *err)
{
        if (ftruncate(sp->fd, (off_t)end) != 0 || fdatasync(sp->fd) != 0)
                return tl_fail(err, TL_EIO,
                               "cannot cut the torn tail of %s at byte %zu: "
                               "%s",
                               sp->path, end, strerror(errno));
        return TL_OK;
}

tl_status inf_spool_open(const char *path, struct inf_spool **out,
                         struct tl_error *err)
{
        struct inf_spool *sp;
        struct inf__scan s = {0, 0, false};
        unsigned char *buf = NULL;
        size_t len = 0;
        bool created = false;
        tl_status rc;

        if (!path || !*path)
                return tl_fail(err, TL_EUSAGE, "no spool path given");
        sp = tl_calloc(1, sizeof *sp);
        if (!sp || !(sp->path = tl_strdup(path))) {
                tl_free(sp);
                return tl_fail(err, TL_ENOMEM, "out of memory");
        }
        sp->fd = sp->lock_fd = -1;
        tl_buf_init(&sp->enc, 0);
        tl_buf_init(&sp->out, 0);
        rc = inf__spool_lock(path, &sp->lock_fd, err);
        if (!rc)
                rc = open_file(sp, &created, err);
        if (!rc)
                rc = inf__decoder_new(&sp->dec, err);
        if (!rc)
                rc = inf__read_all(sp->fd, path, &buf, &len, err);
        if (!rc)
                rc = inf__spool_scan(path, buf, len, sp->dec, NULL, NULL, &s,
                                     err);
        if (!rc && s.end < len)
                rc = cut_tail(sp, s.end, err);
        if (!rc && created)
                rc = inf__fsync_dir(path, err);
        tl_free(buf);
        if (rc) {
                inf_spool_free(&sp);
                return rc;
        }
        sp->count = s.count;
        sp->end = s.end;
        *out = sp;
        return TL_OK;
}

void inf_spool_free(struct inf_spool **pp)
{
        struct inf_spool *sp = pp ? *pp : NULL;
        if (!sp)
                return;
        *pp = NULL;
        if (sp->fd >= 0)
                close(sp->fd);
        if (sp->lock_fd >= 0)
                close(sp->lock_fd); /* releases the flock */
        sch_decoder_free(&sp->dec);
        tl_buf_release(&sp->enc);
        tl_buf_release(&sp->out);
        tl_free(sp->path);
        tl_free(sp);
}

struct each_ctx {
        inf_spool_fn fn;
        void *ctx;
};

static tl_status each_record(void *ctx, const struct inf__record *rec,
                             const struct sch_event *ev, struct tl_error *err)
{
        const struct each_ctx *c = ctx;

        (void)rec;
        return c->fn(c->ctx, ev, err);
}

tl_status inf_spool_each(struct inf_spool *sp, inf_spool_fn fn, void *ctx,
                         struct tl_error *err)
{
        struct each_ctx c = {fn, ctx};
        struct inf__scan s;
        unsigned char *buf = NULL;
        size_t len = 0;
        tl_status rc = inf__read_all(sp->fd, sp->path, &buf, &len, err);

        /* We hold the lock, so the file ends at 'end' unless a write
           failed halfway: never read past the last whole record. */
        if (!rc)
                rc = inf__spool_scan(sp->path, buf,
                                     len < sp->end ? len : sp->end, sp->dec,
                                     each_record, &c, &s, err);
        tl_free(buf);
        return rc;
}

size_t inf_spool_count(const struct inf_spool *sp)
{
        return sp->count;
}

/* Frame 'n' checked events into sp->out. */
static tl_status frame_all(struct inf_spool *sp, const struct inf__bytes *evs,
                           size_t n, struct tl_error *err)
{
        struct sch_event ev;
        struct tl_error why;
        tl_status rc = TL_OK;

        tl_buf_clear(&sp->out);
        for (size_t i = 0; i < n && !rc; i++) {
                if (inf__check_event(sp->dec, evs[i], &ev, &why))
                        return tl_fail(err, TL_EINVAL,
                                       "%s: event #%zu of the append: %s",
                                       sp->path, i + 1, why.msg);
                rc = put_head(&sp->out, 4, 2, err);
                if (!rc)
                        rc = put_head(&sp->out, 2, evs[i].len, err);
                if (!rc)
                        rc = tl_buf_append(&sp->out, evs[i].ptr, evs[i].len,
                                           err);
                if (!rc)
                        rc = put_head(&sp->out, 0,
                                      inf__crc32c(evs[i].ptr, evs[i].len), err);
        }
        return rc;
}

tl_status inf__spool_append_encoded(struct inf_spool *sp,
                                    const struct inf__bytes *evs, size_t n,
                                    struct tl_error *err)
{
        tl_status rc;

        if (n == 0)
                return TL_OK;
        rc = frame_all(sp, evs, n, err);
        if (!rc)
                rc = inf__write_at(sp->fd, sp->path, sp->out.data, sp->out.len,
                                   (off_t)sp->end, err);
        if (!rc && fdatasync(sp->fd) != 0)
                rc = tl_fail(err, TL_EIO, "cannot sync %s: %s", sp->path,
                             strerror(errno));
        if (rc) {
                /* Whatever reached the file is not known to be durable:
                   take it back, so the caller's "not spooled" is true. */
                if (ftruncate(sp->fd, (off_t)sp->end) == 0)
                        (void)fdatasync(sp->fd);
                return rc;
        }
        sp->end += sp->out.len;
        sp->count += n;
        return TL_OK;
}

tl_status inf_spool_append(struct inf_spool *sp, const struct sch_event *evs,
                           size_t n, struct tl_error *err)
{
        struct inf__bytes *items;
        size_t off = 0;
        tl_status rc = TL_OK;

        if (n == 0)
                return TL_OK;
        items = tl_reallocarray(NULL, n, sizeof *items);
        if (!items)
                return tl_fail(err, TL_ENOMEM, "out of memory");
        tl_buf_clear(&sp->enc);
        for (size_t i = 0; i < n && !rc; i++) {
                size_t before = sp->enc.len;
                rc = sch_encode_cbor(&evs[i], &sp->enc, err);
                items[i].len = sp->enc.len - before;
        }
        /* Pointers only now: the buffer may have moved while growing. */
        for (size_t i = 0; i < n && !rc; i++) {
                items[i].ptr = (const unsigned char *)sp->enc.data + off;
                off += items[i].len;
        }
        if (!rc)
                rc = inf__spool_append_encoded(sp, items, n, err);
        tl_free(items);
        return rc;
}

/* ---- device seats: the state in PATH.device ---- */

#define STATE_HEAD "tally device seats 1\n"
#define STATE_MAX_BYTES INF__MIB

/* The state file as read, and the line of one device in it. */
struct seat_state {
        char *path;
        unsigned char *text; /* the whole file; NULL when there is none */
        size_t len;
        size_t line, line_len; /* the device's line, when 'found' */
        bool found;
        int64_t day; /* its last day of use (days since 1970) */
};

/* "YYYY-MM-DD" ('len' bytes) into days since 1970; false if not a date. */
static bool parse_day(const unsigned char *s, size_t len, int64_t *day)
{
        char text[32];
        tl_time_us t;

        if (len != 10 || memchr(s, '\0', len))
                return false;
        snprintf(text, sizeof text, "%.10sT00:00:00Z", (const char *)s);
        if (tl_time_parse_rfc3339(text, strlen(text), &t, NULL))
                return false;
        *day = t / TL_US_PER_DAY;
        return true;
}

/* Lines "YYYY-MM-DD DEVICE_ID": a device's last day of use. */
static tl_status parse_state(struct seat_state *st, const char *id,
                             struct tl_error *err)
{
        size_t pos = sizeof STATE_HEAD - 1, no = 1, id_len = strlen(id);

        if (st->len < pos || memcmp(st->text, STATE_HEAD, pos) != 0)
                return tl_fail(err, TL_EPARSE,
                               "%s:1: not a device state file (expected "
                               "\"tally device seats 1\")",
                               st->path);
        while (pos < st->len) {
                const unsigned char *s = st->text + pos;
                const unsigned char *nl = memchr(s, '\n', st->len - pos);
                size_t len = nl ? (size_t)(nl - s) : 0;
                int64_t day = 0;

                no++;
                if (!nl || len < 12 || s[10] != ' ' || !parse_day(s, 10, &day))
                        return tl_fail(err, TL_EPARSE,
                                       "%s:%zu: expected \"YYYY-MM-DD "
                                       "DEVICE_ID\"",
                                       st->path, no);
                if (!st->found && len - 11 == id_len &&
                    memcmp(s + 11, id, id_len) == 0) {
                        st->found = true;
                        st->line = pos;
                        st->line_len = len + 1;
                        st->day = day;
                }
                pos += len + 1;
        }
        return TL_OK;
}

/* Read PATH.device (absent: no device known) and find 'id' in it. */
static tl_status load_state(const struct inf_spool *sp, const char *id,
                            struct seat_state *st, struct tl_error *err)
{
        tl_status rc = TL_OK;
        int fd;

        memset(st, 0, sizeof *st);
        st->path = inf__path_with(sp->path, ".device");
        if (!st->path)
                return tl_fail(err, TL_ENOMEM, "out of memory");
        fd = open(st->path, O_RDONLY | O_CLOEXEC);
        if (fd < 0 && errno == ENOENT)
                return TL_OK;
        if (fd < 0)
                return tl_fail(err, TL_EIO, "cannot open %s: %s", st->path,
                               strerror(errno));
        rc = inf__read_all(fd, st->path, &st->text, &st->len, err);
        close(fd);
        if (!rc && st->len > STATE_MAX_BYTES)
                rc = tl_fail(err, TL_ELIMIT, "%s: over %d bytes", st->path,
                             STATE_MAX_BYTES);
        return rc ? rc : parse_state(st, id, err);
}

/* Write the state back: every other device's line as it was, then the
   device's own when 'keep' (last day 'day'). */
static tl_status save_state(const struct seat_state *st, const char *id,
                            bool keep, int64_t day, struct tl_error *err)
{
        size_t head = sizeof STATE_HEAD - 1;
        size_t cut = st->found ? st->line : st->len;
        size_t resume = st->found ? st->line + st->line_len : st->len;
        struct tl_buf b;
        int64_t y;
        unsigned m, d;
        tl_status rc;

        tl_civil_from_days(day, &y, &m, &d);
        tl_buf_init(&b, 0);
        rc = tl_buf_puts(&b, STATE_HEAD, err);
        if (!rc && st->text) /* parse_state checked the head */
                rc = tl_buf_append(&b, st->text + head, cut - head, err);
        if (!rc && st->text)
                rc =
                    tl_buf_append(&b, st->text + resume, st->len - resume, err);
        if (!rc && keep)
                rc = tl_buf_printf(&b, err, "%04lld-%02u-%02u %s\n",
                                   (long long)y, m, d, id);
        if (!rc)
                rc = inf__write_atomic(st->path, b.data, b.len, err);
        tl_buf_release(&b);
        return rc;
}

static struct sch_str cstr(const char *s)
{
        size_t n = strlen(s);

        return (struct sch_str){s, n > UINT32_MAX ? UINT32_MAX : (uint32_t)n};
}

/* The seat event due now, if any. */
static sch_seat_action due(const struct seat_state *st, bool deactivate,
                           int64_t day)
{
        if (deactivate)
                return SCH_SEAT_DEACTIVATE;
        if (!st->found)
                return SCH_SEAT_ACTIVATE;
        return day > st->day ? SCH_SEAT_HEARTBEAT : SCH_SEAT_NONE;
}

static tl_status seat_event(const struct inf_spool *sp,
                            const struct inf_device *dev, tl_time_us now_us,
                            int64_t day, sch_seat_action act, char *id,
                            size_t id_size, struct sch_event *ev,
                            struct tl_error *err)
{
        int64_t y;
        unsigned m, d;
        int n;

        tl_civil_from_days(day, &y, &m, &d);
        if (act == SCH_SEAT_HEARTBEAT)
                n = snprintf(id, id_size, "%s:heartbeat:%04lld-%02u-%02u",
                             dev->device_id, (long long)y, m, d);
        else
                n = snprintf(id, id_size, "%s:%s:%lld", dev->device_id,
                             sch_seat_action_name(act), (long long)now_us);
        if (n < 0 || (size_t)n >= id_size)
                return tl_fail(err, TL_EINVAL,
                               "%s: device id '%.64s...' too long for a seat "
                               "event id",
                               sp->path, dev->device_id);
        memset(ev, 0, sizeof *ev);
        ev->id = cstr(id);
        ev->source = cstr(dev->source);
        ev->subject = cstr(dev->subject);
        ev->type = SCH_TYPE_SEAT;
        ev->time_us = now_us;
        ev->device_id = cstr(dev->device_id);
        ev->action = act;
        ev->model_class = cstr(dev->model_class);
        return TL_OK;
}

tl_status inf_spool_seat(struct inf_spool *sp, const struct inf_device *dev,
                         tl_time_us now_us, bool deactivate, size_t *appended,
                         struct tl_error *err)
{
        int64_t day = now_us / TL_US_PER_DAY - (now_us % TL_US_PER_DAY < 0);
        struct seat_state st;
        struct sch_event ev;
        char id[2 * SCH_MAX_ID_BYTES];
        sch_seat_action act;
        tl_status rc;

        if (!dev || !dev->subject || !dev->source || !dev->device_id ||
            !dev->model_class)
                return tl_fail(err, TL_EUSAGE,
                               "%s: a device needs subject, source, "
                               "device_id and model_class",
                               sp->path);
        if (strchr(dev->device_id, '\n'))
                return tl_fail(err, TL_EINVAL,
                               "%s: device_id holds a line break", sp->path);
        rc = load_state(sp, dev->device_id, &st, err);
        act = rc ? SCH_SEAT_NONE : due(&st, deactivate, day);
        if (act)
                rc = seat_event(sp, dev, now_us, day, act, id, sizeof id, &ev,
                                err);
        /* The event first, then the state: a crash in between repeats an
           activation (harmless) rather than losing one. */
        if (act && !rc)
                rc = inf_spool_append(sp, &ev, 1, err);
        if (act && !rc && (!deactivate || st.found))
                rc = save_state(&st, dev->device_id, !deactivate, day, err);
        tl_free(st.path);
        tl_free(st.text);
        if (!rc)
                *appended = act ? 1 : 0;
        return rc;
}
