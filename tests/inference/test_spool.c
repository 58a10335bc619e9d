/* The offline spool: framing read back by an independent reader, torn
   tails at every byte, corruption by record and offset, device seats. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"
#include "inference/emit.h"
#include "schemas/decode.h"

#define T0 INT64_C(1790000000000000) /* 2026-09-21T14:13:20Z */
#define DAY_US (INT64_C(86400) * 1000000)

/* ---- an independent reader of the format (docs/formats.md) ---- */

/* CRC-32C bit by bit: the definition, not the table spool.c uses. */
static uint32_t crc32c_bitwise(const unsigned char *p, size_t len)
{
        uint32_t c = 0xffffffffu;

        for (size_t i = 0; i < len; i++) {
                c ^= p[i];
                for (int k = 0; k < 8; k++)
                        c = (c >> 1) ^ (0x82f63b78u & (0u - (c & 1)));
        }
        return ~c;
}

static uint64_t head(const unsigned char *b, size_t *pos, unsigned major)
{
        unsigned ai = b[*pos] & 31;
        uint64_t v = ai;

        cr_assert_eq(b[*pos] >> 5, major, "major type at byte %zu", *pos);
        (*pos)++;
        if (ai >= 24) {
                cr_assert_leq(ai, 27);
                v = 0;
                for (size_t i = 0; i < (size_t)1 << (ai - 24); i++)
                        v = v << 8 | b[(*pos)++];
        }
        return v;
}

struct rec {
        size_t off, end;
        char id[160];
        sch_seat_action action;
};

static unsigned char *slurp(const char *path, size_t *len)
{
        FILE *f = fopen(path, "rb");
        unsigned char *b;
        long n;

        cr_assert(f, "cannot read %s", path);
        fseek(f, 0, SEEK_END);
        n = ftell(f);
        rewind(f);
        b = malloc((size_t)n + 1);
        cr_assert_eq(fread(b, 1, (size_t)n, f), (size_t)n);
        fclose(f);
        *len = (size_t)n;
        return b;
}

/* Every record of 'path', strictly: the whole file must be records. */
static size_t read_records(const char *path, struct rec *out, size_t max)
{
        struct sch_options opt = {0, 100 * 366 * DAY_US};
        struct sch_decoder *d;
        struct sch_cbor_reader r;
        struct sch_event ev;
        struct sch_str raw;
        size_t len, pos = 0, n = 0;
        unsigned char *b = slurp(path, &len);

        cr_assert_eq(sch_decoder_new(&opt, &d, NULL), TL_OK);
        while (pos < len) {
                size_t start = pos, elen;
                cr_assert_lt(n, max);
                cr_assert_eq(b[pos++], 0x82, "record at byte %zu", start);
                elen = (size_t)head(b, &pos, 2);
                cr_assert_leq(pos + elen, len);
                cr_assert_eq(crc32c_bitwise(b + pos, elen),
                             (uint32_t)head(b, &(size_t){pos + elen}, 0));
                cr_assert_eq(
                    sch_cbor_reader_open(&r, b + pos, elen, false, NULL),
                    TL_OK);
                cr_assert_eq(sch_cbor_reader_next(&r, d, &ev, &raw, NULL),
                             TL_OK);
                pos += elen;
                head(b, &pos, 0);
                out[n].off = start;
                out[n].end = pos;
                snprintf(out[n].id, sizeof out[n].id, "%.*s", (int)ev.id.len,
                         ev.id.ptr);
                out[n++].action = ev.action;
        }
        sch_decoder_free(&d);
        free(b);
        return n;
}

/* ---- fixtures ---- */

static char dir[64], path[128];

static void setup(void)
{
        snprintf(dir, sizeof dir, "/tmp/tk-spool-XXXXXX");
        cr_assert(mkdtemp(dir));
        snprintf(path, sizeof path, "%s/spool.cbor", dir);
}

static void teardown(void)
{
        char cmd[128];

        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        cr_assert_eq(system(cmd), 0);
}

static struct sch_str s(const char *t)
{
        return (struct sch_str){t, (uint32_t)strlen(t)};
}

/* A tokens event "ev-N"; 'id' must outlive it. */
static struct sch_event token_event(int i, char *id, size_t size)
{
        struct sch_event ev;

        memset(&ev, 0, sizeof ev);
        snprintf(id, size, "ev-%d", i);
        ev.id = s(id);
        ev.source = s("device/dev-1");
        ev.subject = s(i % 3 ? "cust_a" : "cust_b");
        ev.type = SCH_TYPE_TOKENS;
        ev.time_us = T0 + i * 1000001; /* microseconds survive */
        ev.model = s("tiny-15m");
        ev.deployment = SCH_DEPLOY_DEVICE;
        ev.decoding = s("autoregressive");
        ev.input_tokens = (uint64_t)i;
        ev.output_tokens = 7;
        return ev;
}

/* Append events first .. first+n-1 in one call. */
static tl_status append_range(struct inf_spool *sp, int first, int n,
                              struct tl_error *err)
{
        struct sch_event evs[64];
        char ids[64][16];

        cr_assert_leq(n, 64);
        for (int i = 0; i < n; i++)
                evs[i] = token_event(first + i, ids[i], sizeof ids[i]);
        return inf_spool_append(sp, evs, (size_t)n, err);
}

static struct inf_spool *open_ok(void)
{
        struct inf_spool *sp = NULL;
        struct tl_error err;

        cr_assert_eq(inf_spool_open(path, &sp, &err), TL_OK, "%s", err.msg);
        return sp;
}

static void write_bytes(const char *p, const void *b, size_t len)
{
        FILE *f = fopen(p, "wb");

        cr_assert(f);
        cr_assert_eq(fwrite(b, 1, len, f), len);
        fclose(f);
}

static off_t file_size(const char *p)
{
        struct stat st;

        cr_assert_eq(stat(p, &st), 0);
        return st.st_size;
}

/* A spool of events 0 .. n-1, one append each. */
static void make_spool(int n)
{
        struct inf_spool *sp = open_ok();

        for (int i = 0; i < n; i++)
                cr_assert_eq(append_range(sp, i, 1, NULL), TL_OK);
        inf_spool_free(&sp);
}

TestSuite(spool, .init = setup, .fini = teardown);

/* ---- the format ---- */

Test(spool, crc32c_reference_vector)
{
        cr_assert_eq(crc32c_bitwise((const unsigned char *)"123456789", 9),
                     0xe3069283u);
}

Test(spool, appended_events_read_back_after_reopening)
{
        struct inf_spool *sp = open_ok();
        struct rec recs[16];

        cr_assert_eq(inf_spool_count(sp), 0);
        cr_assert_eq(append_range(sp, 0, 3, NULL), TL_OK);
        cr_assert_eq(inf_spool_count(sp), 3);
        inf_spool_free(&sp);
        sp = open_ok();
        cr_assert_eq(inf_spool_count(sp), 3);
        cr_assert_eq(append_range(sp, 3, 2, NULL), TL_OK);
        cr_assert_eq(append_range(sp, 5, 0, NULL), TL_OK);
        inf_spool_free(&sp);
        sp = open_ok();
        cr_assert_eq(inf_spool_count(sp), 5);
        inf_spool_free(&sp);
        cr_assert_eq(read_records(path, recs, 16), 5);
        for (int i = 0; i < 5; i++) {
                char want[16];
                snprintf(want, sizeof want, "ev-%d", i);
                cr_assert_str_eq(recs[i].id, want);
        }
}

struct seen {
        char ids[8][32];
        int n, stop_at;
};

static tl_status collect(void *ctx, const struct sch_event *ev,
                         struct tl_error *err)
{
        struct seen *s = ctx;

        if (s->n == s->stop_at)
                return tl_fail(err, TL_ECONFLICT, "stopped at %d", s->n);
        snprintf(s->ids[s->n++], sizeof s->ids[0], "%.*s", (int)ev->id.len,
                 ev->id.ptr);
        return TL_OK;
}

Test(spool, each_walks_the_records_in_order_and_stops_when_asked)
{
        struct inf_spool *sp = open_ok();
        struct seen s = {.stop_at = -1};
        struct tl_error e;

        cr_assert_eq(append_range(sp, 0, 4, NULL), TL_OK);
        cr_assert_eq(inf_spool_each(sp, collect, &s, &e), TL_OK, "%s", e.msg);
        cr_assert_eq(s.n, 4);
        for (int i = 0; i < 4; i++) {
                char want[16];
                snprintf(want, sizeof want, "ev-%d", i);
                cr_assert_str_eq(s.ids[i], want);
        }
        s = (struct seen){.stop_at = 2};
        cr_assert_eq(inf_spool_each(sp, collect, &s, &e), TL_ECONFLICT);
        cr_assert_str_eq(e.msg, "stopped at 2");
        cr_assert_eq(s.n, 2);
        inf_spool_free(&sp);
}

Test(spool, a_torn_last_record_is_cut_at_every_byte_offset)
{
        struct rec recs[8];
        size_t len;
        unsigned char *whole;
        size_t last, end;

        make_spool(3);
        cr_assert_eq(read_records(path, recs, 8), 3);
        last = recs[2].off;
        end = recs[2].end;
        whole = slurp(path, &len);
        cr_assert_eq(len, end);
        for (size_t cut = last; cut < end; cut++) {
                struct inf_spool *sp;
                write_bytes(path, whole, cut);
                sp = open_ok();
                cr_assert_eq(inf_spool_count(sp), 2, "cut at %zu", cut);
                cr_assert_eq(file_size(path), (off_t)last, "cut at %zu", cut);
                cr_assert_eq(append_range(sp, 40, 1, NULL), TL_OK);
                cr_assert_eq(inf_spool_count(sp), 3);
                inf_spool_free(&sp);
                cr_assert_eq(read_records(path, recs, 8), 3, "cut %zu", cut);
                cr_assert_str_eq(recs[1].id, "ev-1");
                cr_assert_str_eq(recs[2].id, "ev-40");
                sp = open_ok();
                cr_assert_eq(inf_spool_count(sp), 3);
                inf_spool_free(&sp);
        }
        free(whole);
}

Test(spool, a_zero_filled_tail_is_ignored_and_cut)
{
        unsigned char *b, *z;
        size_t len;
        struct inf_spool *sp;
        struct rec recs[8];

        make_spool(2);
        b = slurp(path, &len);
        z = calloc(1, len + 8192);
        memcpy(z, b, len);
        /* A torn record's first bytes, then the zeros of a block that the
           file system extended but never filled. */
        z[len] = 0x82;
        z[len + 1] = 0x58;
        write_bytes(path, z, len + 8192);
        sp = open_ok();
        cr_assert_eq(inf_spool_count(sp), 2);
        cr_assert_eq(file_size(path), (off_t)len);
        cr_assert_eq(append_range(sp, 2, 1, NULL), TL_OK);
        inf_spool_free(&sp);
        cr_assert_eq(read_records(path, recs, 8), 3);
        free(b);
        free(z);
}

/* Open must fail naming 'want'; the file keeps its bytes. */
static void open_fails(const char *want)
{
        struct inf_spool *sp = NULL;
        struct tl_error err;
        off_t before = file_size(path);

        cr_assert_eq(inf_spool_open(path, &sp, &err), TL_EPARSE);
        cr_assert_null(sp);
        cr_assert(strstr(err.msg, want), "wanted '%s' in: %s", want, err.msg);
        cr_assert(strstr(err.msg, path), "%s", err.msg);
        cr_assert_eq(file_size(path), before, "nothing cut");
}

Test(spool, damage_before_valid_records_is_corruption_whatever_it_is)
{
        struct rec recs[8];
        char want[64];
        size_t len;
        unsigned char *b, *z;

        make_spool(3);
        cr_assert_eq(read_records(path, recs, 8), 3);
        b = slurp(path, &len);
        /* One bit flipped in the middle record. */
        b[recs[1].off + 20] ^= 0x01;
        write_bytes(path, b, len);
        snprintf(want, sizeof want, "record #2 at byte %zu: CRC-32C mismatch",
                 recs[1].off);
        open_fails(want);
        b[recs[1].off + 20] ^= 0x01;
        /* Zeros in the middle. */
        z = calloc(1, len + 100);
        memcpy(z, b, recs[1].end);
        memcpy(z + recs[1].end + 100, b + recs[1].end, len - recs[1].end);
        write_bytes(path, z, len + 100);
        snprintf(want, sizeof want, "record #3 at byte %zu: expected a record",
                 recs[1].end);
        open_fails(want);
        /* A record cut short, then a whole one. */
        memcpy(z, b, recs[1].end - 5);
        memcpy(z + recs[1].end - 5, b + recs[2].off, len - recs[2].off);
        write_bytes(path, z, recs[1].end - 5 + len - recs[2].off);
        snprintf(want, sizeof want, "record #2 at byte %zu", recs[1].off);
        open_fails(want);
        free(z);
        free(b);
}

/* A record whose CRC is right but whose event is not: corruption, even
   last (a torn write cannot produce it). */
Test(spool, an_invalid_event_with_a_valid_crc_is_corruption)
{
        /* {"id": "x"}: a map, but no event. */
        static const unsigned char ev[] = {0xa1, 0x62, 'i', 'd', 0x61, 'x'};
        unsigned char rec[32];
        uint32_t crc = crc32c_bitwise(ev, sizeof ev);
        size_t len, n = 0;
        unsigned char *b;
        FILE *f;
        char want[80];

        make_spool(2);
        b = slurp(path, &len);
        rec[n++] = 0x82;
        rec[n++] = 0x40 | sizeof ev;
        memcpy(rec + n, ev, sizeof ev);
        n += sizeof ev;
        rec[n++] = 0x1a;
        for (int k = 3; k >= 0; k--)
                rec[n++] = (unsigned char)(crc >> (8 * k));
        f = fopen(path, "ab");
        fwrite(rec, 1, n, f);
        fclose(f);
        snprintf(want, sizeof want, "record #3 at byte %zu: invalid event",
                 len);
        open_fails(want);
        free(b);
}

/* ---- device seats ---- */

static const struct inf_device dev1 = {"cust_a", "device/dev-1", "dev-1",
                                       "small"};

static size_t seat(struct inf_spool *sp, const struct inf_device *d,
                   tl_time_us now, bool deactivate)
{
        struct tl_error err;
        size_t n = 99;

        cr_assert_eq(inf_spool_seat(sp, d, now, deactivate, &n, &err), TL_OK,
                     "%s", err.msg);
        return n;
}

Test(spool, seats_activate_once_then_one_heartbeat_a_day)
{
        struct inf_spool *sp = open_ok();
        struct rec recs[16];
        char act_id[64];

        cr_assert_eq(seat(sp, &dev1, T0, false), 1);
        cr_assert_eq(seat(sp, &dev1, T0 + 1000, false), 0);
        inf_spool_free(&sp);
        sp = open_ok();
        cr_assert_eq(seat(sp, &dev1, T0 + 3600 * INT64_C(1000000), false), 0);
        cr_assert_eq(seat(sp, &dev1, T0 + DAY_US, false), 1);
        inf_spool_free(&sp);
        /* An upload empties the spool; the state stays beside it. */
        cr_assert_eq(unlink(path), 0);
        sp = open_ok();
        cr_assert_eq(seat(sp, &dev1, T0 + DAY_US + 5, false), 0);
        cr_assert_eq(seat(sp, &dev1, T0 + 3 * DAY_US, false), 1);
        cr_assert_eq(seat(sp, &dev1, T0 + 2 * DAY_US, false), 0, "clock back");
        inf_spool_free(&sp);
        cr_assert_eq(read_records(path, recs, 16), 1);
        cr_assert_str_eq(recs[0].id, "dev-1:heartbeat:2026-09-24");
        cr_assert_eq(recs[0].action, SCH_SEAT_HEARTBEAT);
        /* The first record went with the unlinked file: check its id on
           a fresh device. */
        sp = open_ok();
        cr_assert_eq(
            seat(sp,
                 &(struct inf_device){"cust_a", "device/x", "dev 2%", "medium"},
                 T0, false),
            1);
        inf_spool_free(&sp);
        cr_assert_eq(read_records(path, recs, 16), 2);
        snprintf(act_id, sizeof act_id, "dev 2%%:activate:%lld", (long long)T0);
        cr_assert_str_eq(recs[1].id, act_id);
        cr_assert_eq(recs[1].action, SCH_SEAT_ACTIVATE);
}

Test(spool, deactivate_then_the_next_use_activates_again)
{
        struct inf_spool *sp = open_ok();
        struct inf_device dev2 = {"cust_b", "device/dev-2", "dev-2", "large"};
        struct rec recs[16];

        cr_assert_eq(seat(sp, &dev1, T0, false), 1);
        cr_assert_eq(seat(sp, &dev2, T0, false), 1);
        cr_assert_eq(seat(sp, &dev1, T0 + 10, true), 1);
        cr_assert_eq(seat(sp, &dev2, T0 + 11, false), 0, "dev-2 untouched");
        cr_assert_eq(seat(sp, &dev1, T0 + 20, false), 1);
        cr_assert_eq(seat(sp, &dev1, T0 + 30, false), 0);
        inf_spool_free(&sp);
        cr_assert_eq(read_records(path, recs, 16), 4);
        cr_assert_eq(recs[0].action, SCH_SEAT_ACTIVATE);
        cr_assert_eq(recs[2].action, SCH_SEAT_DEACTIVATE);
        cr_assert(strstr(recs[2].id, "dev-1:deactivate:"));
        cr_assert_eq(recs[3].action, SCH_SEAT_ACTIVATE);
        cr_assert_str_neq(recs[0].id, recs[3].id);
}

/* ---- every error path ---- */

Test(spool, unusable_paths_are_errors_naming_them)
{
        struct inf_spool *sp = NULL;
        struct tl_error err;
        char p[160];

        cr_assert_eq(inf_spool_open("", &sp, &err), TL_EUSAGE);
        cr_assert_eq(inf_spool_open(NULL, &sp, &err), TL_EUSAGE);
        /* The parent is a regular file. */
        make_spool(1);
        snprintf(p, sizeof p, "%s/x", path);
        cr_assert_eq(inf_spool_open(p, &sp, &err), TL_EIO);
        cr_assert(strstr(err.msg, p), "%s", err.msg);
        /* The spool is a directory. */
        snprintf(p, sizeof p, "%s/d", dir);
        cr_assert_eq(mkdir(p, 0700), 0);
        cr_assert_eq(inf_spool_open(p, &sp, &err), TL_EIO);
        cr_assert(strstr(err.msg, "cannot open"), "%s", err.msg);
        cr_assert_null(sp);
}

Test(spool, an_invalid_event_is_refused_and_nothing_written)
{
        struct inf_spool *sp = open_ok();
        struct sch_event evs[2];
        char ids[2][16];
        struct tl_error err;

        evs[0] = token_event(0, ids[0], sizeof ids[0]);
        evs[1] = token_event(1, ids[1], sizeof ids[1]);
        evs[1].model = s("");
        cr_assert_eq(inf_spool_append(sp, evs, 2, &err), TL_EINVAL);
        cr_assert(strstr(err.msg, "event #2"), "%s", err.msg);
        cr_assert(strstr(err.msg, "data.model"), "%s", err.msg);
        cr_assert_eq(inf_spool_count(sp), 0);
        cr_assert_eq(file_size(path), 0);
        inf_spool_free(&sp);
}

static void state_is(const char *text, const char *want)
{
        char p[160];
        struct inf_spool *sp = open_ok();
        struct tl_error err;
        size_t n = 99;

        snprintf(p, sizeof p, "%s.device", path);
        write_bytes(p, text, strlen(text));
        cr_assert_eq(inf_spool_seat(sp, &dev1, T0, false, &n, &err), TL_EPARSE,
                     "%s", text);
        cr_assert(strstr(err.msg, want), "wanted '%s' in: %s", want, err.msg);
        cr_assert(strstr(err.msg, ".device:"), "%s", err.msg);
        cr_assert_eq(n, 99, "out-parameter untouched");
        cr_assert_eq(inf_spool_count(sp), 0, "no seat event on a bad state");
        inf_spool_free(&sp);
}

Test(spool, a_corrupt_state_file_is_an_error_with_its_line)
{
        state_is("", ":1: not a device state file");
        state_is("seats\n", ":1: not a device state file");
        state_is("tally device seats 1\n2026-09-21 dev-1\nx\n", ":3: expected");
        state_is("tally device seats 1\n2026-02-30 dev-1\n", ":2: expected");
        state_is("tally device seats 1\n2026-09-21 dev-1", ":2: expected");
        state_is("tally device seats 1\n2026-09-21 \n", ":2: expected");
        state_is("tally device seats 1\n2026-9-21 dev-1\n", ":2: expected");
}

Test(spool, seat_state_write_and_bad_devices_fail_cleanly)
{
        struct inf_spool *sp = open_ok();
        struct tl_error err;
        char p[160], longid[200];
        size_t n = 99;

        cr_assert_eq(
            inf_spool_seat(sp, &(struct inf_device){"c", NULL, "d", "small"},
                           T0, false, &n, &err),
            TL_EUSAGE);
        cr_assert_eq(
            inf_spool_seat(sp, &(struct inf_device){"c", "s", "a\nb", "small"},
                           T0, false, &n, &err),
            TL_EINVAL);
        memset(longid, 'd', sizeof longid - 1);
        longid[sizeof longid - 1] = '\0';
        cr_assert_eq(
            inf_spool_seat(sp, &(struct inf_device){"c", "s", longid, "small"},
                           T0, false, &n, &err),
            TL_EINVAL);
        /* The state cannot be written: the seat event is in the spool
           (docs: the event first, then the state). */
        snprintf(p, sizeof p, "%s.device.tmp", path);
        cr_assert_eq(mkdir(p, 0700), 0);
        cr_assert_eq(inf_spool_seat(sp, &dev1, T0, false, &n, &err), TL_EIO);
        cr_assert(strstr(err.msg, ".device.tmp"), "%s", err.msg);
        cr_assert_eq(n, 99);
        cr_assert_eq(inf_spool_count(sp), 1);
        /* The state is a directory: unreadable. */
        snprintf(p, sizeof p, "%s.device", path);
        cr_assert_eq(mkdir(p, 0700), 0);
        cr_assert_eq(inf_spool_seat(sp, &dev1, T0, false, &n, &err), TL_EIO);
        inf_spool_free(&sp);
}

Test(spool, every_allocation_failure_unwinds)
{
        long appended = 0;

        for (long fail = 0;; fail++) {
                struct inf_spool *sp = NULL;
                struct tl_error err;
                tl_status rc;
                size_t n;

                tl_alloc_fail_after(fail);
                rc = inf_spool_open(path, &sp, &err);
                if (!rc) {
                        rc = append_range(sp, 0, 3, &err);
                        appended += rc ? 0 : 3;
                }
                if (!rc) {
                        rc = inf_spool_seat(sp, &dev1, T0 + fail * DAY_US,
                                            false, &n, &err);
                        appended += rc ? 0 : (long)n;
                }
                inf_spool_free(&sp);
                tl_alloc_fail_reset();
                if (!rc)
                        break;
                cr_assert_eq(rc, TL_ENOMEM, "allocation %ld: %s", fail,
                             err.msg);
                cr_assert_lt(fail, 10000);
        }
        /* Whatever failed left the spool whole: every success is in it (a
           seat event may be too when only its state write failed). */
        struct inf_spool *sp = open_ok();
        struct rec recs[4096];
        size_t count = inf_spool_count(sp);

        inf_spool_free(&sp);
        cr_assert_geq((long)count, appended);
        cr_assert_eq(read_records(path, recs, 4096), count);
}

Test(spool, the_lock_serializes_writers_across_processes)
{
        struct inf_spool *sp;
        struct timespec a, b;
        int status, go[2];
        char c = 0;
        pid_t pid;

        /* Fork before opening: a child would inherit the lock's open file
           description, and with it the lock. */
        cr_assert_eq(pipe(go), 0);
        pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
                struct inf_spool *other = NULL;
                close(go[1]);
                if (read(go[0], &c, 1) != 1)
                        _exit(2);
                /* Blocks until the parent frees its spool. */
                if (inf_spool_open(path, &other, NULL) ||
                    append_range(other, 10, 1, NULL) ||
                    inf_spool_count(other) != 3)
                        _exit(1);
                inf_spool_free(&other);
                _exit(0);
        }
        close(go[0]);
        sp = open_ok();
        cr_assert_eq(write(go[1], &c, 1), 1);
        close(go[1]);
        clock_gettime(CLOCK_MONOTONIC, &a);
        usleep(300 * 1000);
        cr_assert_eq(append_range(sp, 0, 2, NULL), TL_OK);
        inf_spool_free(&sp);
        cr_assert_eq(waitpid(pid, &status, 0), pid);
        clock_gettime(CLOCK_MONOTONIC, &b);
        cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "the child saw the parent's records");
        cr_assert_geq((b.tv_sec - a.tv_sec) * 1000 +
                          (b.tv_nsec - a.tv_nsec) / 1000000,
                      300);
}
