/* `tally upload`: a spool sent as CBOR batches, then rewritten without
   what the delivery reports confirmed; and the file helpers it shares. */
#include "emit_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"

#define CONTENT_TYPE "application/cloudevents+cbor"
#define ARRAY_HEAD_MAX 3 /* a CBOR array head for up to 65,535 elements */

/* ---- files ---- */

char *inf__path_with(const char *path, const char *suffix)
{
        size_t a = strlen(path), b = strlen(suffix);
        char *s = tl_malloc(a + b + 1);

        if (s) {
                memcpy(s, path, a);
                memcpy(s + a, suffix, b + 1);
        }
        return s;
}

tl_status inf__spool_lock(const char *path, int *fd, struct tl_error *err)
{
        char *lock = inf__path_with(path, ".lock");
        tl_status rc = TL_OK;
        int f;

        if (!lock)
                return tl_fail(err, TL_ENOMEM, "out of memory");
        f = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (f < 0)
                rc = tl_fail(err, TL_EIO, "cannot open %s: %s", lock,
                             strerror(errno));
        while (!rc && flock(f, LOCK_EX) != 0)
                if (errno != EINTR) {
                        rc = tl_fail(err, TL_EIO, "cannot lock %s: %s", lock,
                                     strerror(errno));
                        close(f);
                }
        tl_free(lock);
        if (!rc)
                *fd = f;
        return rc;
}

tl_status inf__read_all(int fd, const char *path, unsigned char **buf,
                        size_t *len, struct tl_error *err)
{
        struct stat st;
        unsigned char *b = NULL;
        size_t n = 0, size;

        if (fstat(fd, &st) != 0)
                return tl_fail(err, TL_EIO, "cannot stat %s: %s", path,
                               strerror(errno));
        size = (size_t)st.st_size;
        if (size && !(b = tl_malloc(size)))
                return tl_fail(err, TL_ENOMEM, "%s: no memory for %zu bytes",
                               path, size);
        while (n < size) {
                ssize_t r = pread(fd, b + n, size - n, (off_t)n);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0) {
                        tl_free(b);
                        return tl_fail(err, TL_EIO, "cannot read %s: %s", path,
                                       strerror(errno));
                }
                if (r == 0)
                        break; /* shorter than it was: read what is there */
                n += (size_t)r;
        }
        *buf = b;
        *len = n;
        return TL_OK;
}

tl_status inf__write_at(int fd, const char *path, const void *buf, size_t len,
                        off_t off, struct tl_error *err)
{
        const char *p = buf;

        while (len) {
                ssize_t w = pwrite(fd, p, len, off);
                if (w < 0 && errno == EINTR)
                        continue;
                if (w <= 0)
                        return tl_fail(err, TL_EIO, "cannot write %s: %s", path,
                                       w < 0 ? strerror(errno)
                                             : "nothing written");
                p += w;
                len -= (size_t)w;
                off += w;
        }
        return TL_OK;
}

tl_status inf__fsync_dir(const char *path, struct tl_error *err)
{
        const char *slash = strrchr(path, '/');
        char *dir =
            !slash
                ? tl_strdup(".")
                : tl_strndup(path, slash == path ? 1 : (size_t)(slash - path));
        tl_status rc = TL_OK;
        int fd;

        if (!dir)
                return tl_fail(err, TL_ENOMEM, "out of memory");
        fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0 || fsync(fd) != 0)
                rc = tl_fail(err, TL_EIO, "cannot sync directory %s: %s", dir,
                             strerror(errno));
        if (fd >= 0)
                close(fd);
        tl_free(dir);
        return rc;
}

tl_status inf__write_atomic(const char *path, const void *buf, size_t len,
                            struct tl_error *err)
{
        char *tmp = inf__path_with(path, ".tmp");
        tl_status rc = TL_OK;
        int fd;

        if (!tmp)
                return tl_fail(err, TL_ENOMEM, "out of memory");
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
                rc = tl_fail(err, TL_EIO, "cannot create %s: %s", tmp,
                             strerror(errno));
        if (!rc)
                rc = inf__write_at(fd, tmp, buf, len, 0, err);
        if (!rc && fsync(fd) != 0)
                rc = tl_fail(err, TL_EIO, "cannot sync %s: %s", tmp,
                             strerror(errno));
        if (fd >= 0 && close(fd) != 0 && !rc)
                rc = tl_fail(err, TL_EIO, "cannot close %s: %s", tmp,
                             strerror(errno));
        if (!rc && rename(tmp, path) != 0)
                rc = tl_fail(err, TL_EIO, "cannot rename %s to %s: %s", tmp,
                             path, strerror(errno));
        if (rc && fd >= 0)
                unlink(tmp);
        tl_free(tmp);
        return rc ? rc : inf__fsync_dir(path, err);
}

/* ---- upload ---- */

enum { MSG_PENDING, MSG_DELIVERED, MSG_FAILED };

/* A Kafka message: records [first, first + n) of one subject. */
struct up_msg {
        size_t first, n;
        int state;
};

/* Consecutive records of one subject (its bytes in 'subjects'). */
struct up_run {
        size_t first, n;
        size_t subject, subject_len;
};

struct upload {
        const char *path;
        unsigned char *buf; /* the spool as read under the lock */
        size_t len;
        dev_t dev;
        ino_t ino;
        struct inf__scan scan;
        struct tl_error corruption; /* when scan.corrupt */
        struct inf__record *recs;
        size_t rec_count, rec_alloc;
        struct up_run *runs;
        size_t run_count, run_alloc;
        struct tl_buf subjects;
        struct up_msg *msgs;
        size_t msg_count, msg_alloc;
        size_t unreported;
        rd_kafka_resp_err_t first_error;
        rd_kafka_t *rk;
        rd_kafka_topic_t *rkt;
};

/* Grow '*v' (elements of 'size' bytes) to hold 'want'. */
static tl_status grow(void **v, size_t *alloc, size_t want, size_t size,
                      struct tl_error *err)
{
        size_t n = *alloc ? *alloc : 256;
        void *p;

        if (want <= *alloc)
                return TL_OK;
        while (n < want)
                n *= 2;
        p = tl_reallocarray(*v, n, size);
        if (!p)
                return tl_fail(err, TL_ENOMEM, "out of memory");
        *v = p;
        *alloc = n;
        return TL_OK;
}

/* A record of the scan: kept, and added to its subject's run. */
static tl_status on_record(void *ctx, const struct inf__record *rec,
                           const struct sch_event *ev, struct tl_error *err)
{
        struct upload *u = ctx;
        size_t i = u->rec_count;
        struct up_run *r = u->run_count ? &u->runs[u->run_count - 1] : NULL;
        tl_status rc =
            grow((void **)&u->recs, &u->rec_alloc, i + 1, sizeof *u->recs, err);

        if (rc)
                return rc;
        u->recs[u->rec_count++] = *rec;
        if (r && r->subject_len == ev->subject.len &&
            memcmp(u->subjects.data + r->subject, ev->subject.ptr,
                   ev->subject.len) == 0) {
                r->n++;
                return TL_OK;
        }
        rc = grow((void **)&u->runs, &u->run_alloc, u->run_count + 1,
                  sizeof *u->runs, err);
        if (rc)
                return rc;
        u->runs[u->run_count++] =
            (struct up_run){i, 1, u->subjects.len, ev->subject.len};
        return tl_buf_append(&u->subjects, ev->subject.ptr, ev->subject.len,
                             err);
}

/* The whole spool at 'path' (its lock held by the caller) and the
   file's identity. */
static tl_status read_spool(const char *path, struct stat *st,
                            unsigned char **buf, size_t *len,
                            struct tl_error *err)
{
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        tl_status rc;

        if (fd < 0)
                return tl_fail(err, TL_EIO, "cannot open %s: %s", path,
                               strerror(errno));
        rc = fstat(fd, st) != 0 ? tl_fail(err, TL_EIO, "cannot stat %s: %s",
                                          path, strerror(errno))
                                : inf__read_all(fd, path, buf, len, err);
        close(fd);
        return rc;
}

/* Read the spool under its lock, then scan the copy without it. */
static tl_status snapshot(struct upload *u, struct tl_error *err)
{
        struct sch_decoder *dec = NULL;
        struct stat st;
        int lock = -1;
        tl_status rc;

        if (access(u->path, F_OK) != 0)
                return tl_fail(err, errno == ENOENT ? TL_ENOTFOUND : TL_EIO,
                               "cannot open %s: %s", u->path, strerror(errno));
        rc = inf__spool_lock(u->path, &lock, err);
        if (!rc)
                rc = read_spool(u->path, &st, &u->buf, &u->len, err);
        if (!rc) {
                u->dev = st.st_dev;
                u->ino = st.st_ino;
        }
        if (lock >= 0)
                close(lock);
        if (!rc)
                rc = inf__decoder_new(&dec, err);
        if (!rc) {
                rc = inf__spool_scan(u->path, u->buf, u->len, dec, on_record, u,
                                     &u->scan, &u->corruption);
                if (rc == TL_EPARSE && u->scan.corrupt)
                        rc = TL_OK; /* send what precedes it; report it last */
                else if (rc && err)
                        *err = u->corruption;
        }
        sch_decoder_free(&dec);
        return rc;
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m,
                        void *opaque)
{
        struct upload *u = opaque;
        size_t i = (size_t)(uintptr_t)m->_private - 1;

        (void)rk;
        if (i >= u->msg_count || u->msgs[i].state != MSG_PENDING)
                return;
        u->msgs[i].state = m->err ? MSG_FAILED : MSG_DELIVERED;
        if (m->err && !u->first_error)
                u->first_error = m->err;
        u->unreported--;
}

/* Produce message 'i' with 'payload', waiting while the queue is full
   until 'deadline_us'; what cannot be queued is marked failed. */
static void produce(struct upload *u, size_t i, const struct up_run *run,
                    const struct tl_buf *payload, int64_t deadline_us)
{
        rd_kafka_resp_err_t kerr;

        do {
                kerr = rd_kafka_producev(
                    u->rk, RD_KAFKA_V_RKT(u->rkt),
                    RD_KAFKA_V_KEY((u->subjects.data + run->subject),
                                   run->subject_len),
                    RD_KAFKA_V_VALUE(payload->data, payload->len),
                    RD_KAFKA_V_HEADER("content-type", CONTENT_TYPE, -1),
                    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                    RD_KAFKA_V_OPAQUE((void *)(uintptr_t)(i + 1)),
                    RD_KAFKA_V_END);
        } while (kerr == RD_KAFKA_RESP_ERR__QUEUE_FULL &&
                 tl_mono_us() < deadline_us && rd_kafka_poll(u->rk, 100) >= 0);
        if (kerr) {
                u->msgs[i].state = MSG_FAILED;
                if (!u->first_error)
                        u->first_error = kerr;
        } else {
                u->unreported++;
        }
        rd_kafka_poll(u->rk, 0);
}

/* How many records from 'first' (of 'left' in the run) fit one message:
   at most 'batch' and 1 MiB with the array head; at least one. */
static size_t fit(const struct upload *u, size_t first, size_t left,
                  size_t batch)
{
        size_t n = 0, bytes = ARRAY_HEAD_MAX;

        while (n < left && n < batch &&
               bytes + u->recs[first + n].event.len <= INF__MIB)
                bytes += u->recs[first + n++].event.len;
        return n ? n : 1;
}

/* Cut every run into messages and hand them all to librdkafka. */
static tl_status produce_all(struct upload *u, size_t batch, int timeout_ms,
                             struct tl_error *err)
{
        int64_t deadline = tl_mono_us() + (int64_t)timeout_ms * 1000;
        struct tl_buf payload;
        tl_status rc = TL_OK;

        tl_buf_init(&payload, 0);
        for (size_t r = 0; r < u->run_count && !rc; r++) {
                const struct up_run *run = &u->runs[r];
                for (size_t at = run->first; at < run->first + run->n && !rc;) {
                        size_t n = fit(u, at, run->first + run->n - at, batch);
                        bool bare =
                            n == 1 &&
                            u->recs[at].event.len + ARRAY_HEAD_MAX > INF__MIB;
                        tl_buf_clear(&payload);
                        rc = grow((void **)&u->msgs, &u->msg_alloc,
                                  u->msg_count + 1, sizeof *u->msgs, err);
                        if (!rc && !bare)
                                rc = sch_encode_cbor_array_start(n, &payload,
                                                                 err);
                        for (size_t k = 0; k < n && !rc; k++)
                                rc = tl_buf_append(
                                    &payload, u->recs[at + k].event.ptr,
                                    u->recs[at + k].event.len, err);
                        if (rc)
                                break;
                        u->msgs[u->msg_count] =
                            (struct up_msg){at, n, MSG_PENDING};
                        u->msg_count++;
                        produce(u, u->msg_count - 1, run, &payload, deadline);
                        at += n;
                }
        }
        tl_buf_release(&payload);
        return rc;
}

/* Send every record of the snapshot; mark in 'sent' the confirmed ones. */
static tl_status send_all(struct upload *u, const struct inf_emit_opts *o,
                          size_t batch, bool *sent, struct inf_emit_report *rep,
                          struct tl_error *err)
{
        int timeout_ms = inf__timeout_ms(o);
        tl_status rc = inf__producer_new(o, timeout_ms, on_delivery, u, &u->rk,
                                         &u->rkt, err);

        if (rc)
                return rc;
        rc = produce_all(u, batch, timeout_ms, err);
        inf__producer_settle(u->rk, timeout_ms, &u->unreported);
        rd_kafka_topic_destroy(u->rkt);
        rd_kafka_destroy(u->rk);
        for (size_t i = 0; i < u->msg_count; i++) {
                const struct up_msg *m = &u->msgs[i];
                if (m->state != MSG_DELIVERED)
                        continue;
                rep->delivered += m->n;
                rep->messages++;
                for (size_t k = 0; k < m->n; k++)
                        sent[m->first + k] = true;
        }
        return rc;
}

/*
** Under the lock, replace the spool with the records not in 'sent' plus
** whatever follows the snapshot's whole records now (appends made since,
** or the damaged rest). Refused when the file is not the one read.
*/
static tl_status rewrite(struct upload *u, const bool *sent,
                         struct tl_error *err)
{
        unsigned char *now = NULL;
        size_t len = 0;
        struct tl_buf out;
        struct stat st;
        int lock = -1;
        tl_status rc = inf__spool_lock(u->path, &lock, err);

        tl_buf_init(&out, 0);
        if (!rc)
                rc = read_spool(u->path, &st, &now, &len, err);
        if (!rc &&
            (st.st_dev != u->dev || st.st_ino != u->ino || len < u->scan.end ||
             (u->scan.end && memcmp(now, u->buf, u->scan.end) != 0)))
                rc = tl_fail(err, TL_ECONFLICT,
                             "%s changed during the upload (another upload?): "
                             "left as it is",
                             u->path);
        for (size_t i = 0; i < u->scan.count && !rc; i++)
                if (!sent[i])
                        rc = tl_buf_append(&out, u->buf + u->recs[i].offset,
                                           u->recs[i].size, err);
        if (!rc)
                rc = tl_buf_append(&out, now + u->scan.end, len - u->scan.end,
                                   err);
        if (!rc)
                rc = inf__write_atomic(u->path, out.data, out.len, err);
        if (lock >= 0)
                close(lock);
        tl_free(now);
        tl_buf_release(&out);
        return rc;
}

static void upload_release(struct upload *u)
{
        tl_free(u->buf);
        tl_free(u->recs);
        tl_free(u->runs);
        tl_free(u->msgs);
        tl_buf_release(&u->subjects);
}

/* The outcome once the sending and the rewrite are done. */
static tl_status verdict(struct upload *u, const struct inf_emit_report *r,
                         struct tl_error *err)
{
        if (u->scan.corrupt) {
                if (!err)
                        return TL_EPARSE;
                *err = u->corruption;
                return tl_error_prefix(err,
                                       "%zu of the %zu events before the "
                                       "damage delivered, the rest kept",
                                       r->delivered, u->scan.count);
        }
        if (r->spooled)
                return tl_fail(err, TL_EKAFKA,
                               "%s: %zu of %zu events not delivered (%s); "
                               "they stay in the spool",
                               u->path, r->spooled, u->scan.count,
                               rd_kafka_err2str(u->first_error));
        return TL_OK;
}

tl_status inf_upload(const char *spool_path, const struct inf_emit_opts *o,
                     size_t batch, struct inf_emit_report *rep,
                     struct tl_error *err)
{
        struct upload u;
        struct inf_emit_report r = {0, 0, 0};
        bool *sent = NULL;
        tl_status rc;

        if (!spool_path || !*spool_path || !o)
                return tl_fail(err, TL_EUSAGE, "upload needs a spool path");
        if (batch > SCH_MAX_BATCH_EVENTS)
                return tl_fail(err, TL_EUSAGE,
                               "batch of %zu events is over the limit of %d",
                               batch, SCH_MAX_BATCH_EVENTS);
        memset(&u, 0, sizeof u);
        u.path = spool_path;
        tl_buf_init(&u.subjects, 0);
        rc = snapshot(&u, err);
        if (!rc && u.scan.count &&
            !(sent = tl_calloc(u.scan.count, sizeof *sent)))
                rc = tl_fail(err, TL_ENOMEM, "out of memory");
        if (!rc && u.scan.count)
                rc = send_all(&u, o, batch ? batch : 1000, sent, &r, err);
        if (!rc && r.delivered)
                rc = rewrite(&u, sent, err);
        r.spooled = rc ? u.scan.count : u.scan.count - r.delivered;
        if (!rc)
                rc = verdict(&u, &r, err);
        if (rep)
                *rep = r;
        tl_free(sent);
        upload_release(&u);
        return rc;
}
