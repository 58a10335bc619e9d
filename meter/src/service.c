/* The consumer loop. Kafka offsets are never committed to Kafka as the
   truth: each batch's next offsets commit in PostgreSQL with its events,
   and every assignment or recovery seeks to what PostgreSQL holds. */
#include "service.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"
#include "core/log.h"
#include "writer.h"

const int meter__lat_bounds_ms[METER_LAT_BUCKETS] = {
    5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000};

static void sleep_ms(long ms)
{
        struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

        nanosleep(&ts, NULL);
}

static void kafka_log(const rd_kafka_t *rk, int level, const char *fac,
                      const char *buf)
{
        (void)rk;
        tl_log_library(level, "meter", "librdkafka", fac, buf);
}

static void kafka_error(rd_kafka_t *rk, int code, const char *reason,
                        void *opaque)
{
        struct meter *m = opaque;
        char q[512];

        m->kafka_errors++;
        if (code == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN)
                m->kafka_up = 0;
        if (code == RD_KAFKA_RESP_ERR__FATAL) {
                char why[256];
                rd_kafka_fatal_error(rk, why, sizeof why);
                m->fatal = true;
                tl_fail(&m->fatal_err, TL_EKAFKA, "kafka: fatal: %s", why);
        }
        tl_log(TL_LOG_WARN, "meter", "kafka error", "code=%s reason=%s",
               rd_kafka_err2name((rd_kafka_resp_err_t)code),
               tl_log_quote(reason, q, sizeof q));
}

/* ---- the database connection ----------------------------------------------
 */

bool meter__ensure_store(struct meter *m, struct meter_store **st)
{
        long backoff = 100;

        while (!meter__store_alive(*st) && !*m->stop) {
                struct tl_error e = {0};
                char q[600];
                meter__store_free(st);
                if (meter__store_open(m->cfg->group, st, &e) == TL_OK) {
                        m->db_up = 1;
                        tl_log(TL_LOG_INFO, "meter", "database connected",
                               "group=%s", m->cfg->group);
                        break;
                }
                m->db_up = 0;
                m->db_errors++;
                tl_log(TL_LOG_WARN, "meter", "database unavailable",
                       "retry_ms=%ld error=%s", backoff,
                       tl_log_quote(e.msg, q, sizeof q));
                sleep_ms(backoff);
                backoff = backoff * 2 > 5000 ? 5000 : backoff * 2;
        }
        return meter__store_alive(*st);
}

/* ---- partitions -------------------------------------------------------------
 */

static struct meter_part *find_part(struct meter *m, const char *topic,
                                    int32_t partition, uint32_t *index)
{
        for (size_t k = 0; k < m->nparts; k++) {
                uint32_t i = (uint32_t)((m->last_part + k) % m->nparts);
                struct meter_part *p = &m->parts[i];
                if (p->partition == partition && !strcmp(p->topic, topic)) {
                        m->last_part = i;
                        *index = i;
                        return p;
                }
        }
        return NULL;
}

/*
** Read the stored offsets of every assigned partition and (re)assign at
** them: librdkafka drops whatever it fetched before, so the next message of
** each partition is the first one PostgreSQL does not hold.
*/
static bool resync(struct meter *m)
{
        rd_kafka_topic_partition_list_t *l;
        struct tl_error e = {0};
        char q[600];

        while (!*m->stop) {
                if (!meter__ensure_store(m, &m->st))
                        return false;
                pthread_mutex_lock(&m->lock);
                tl_status rc =
                    meter__store_load_offsets(m->st, m->parts, m->nparts, &e);
                pthread_mutex_unlock(&m->lock);
                if (rc == TL_OK)
                        break;
                m->db_errors++;
                tl_log(TL_LOG_WARN, "meter", "reading offsets failed",
                       "error=%s", tl_log_quote(e.msg, q, sizeof q));
                sleep_ms(200);
        }
        if (*m->stop)
                return false;
        l = rd_kafka_topic_partition_list_new((int)m->nparts);
        for (size_t i = 0; i < m->nparts; i++) {
                struct meter_part *p = &m->parts[i];
                rd_kafka_topic_partition_t *tp =
                    rd_kafka_topic_partition_list_add(l, p->topic,
                                                      p->partition);
                tp->offset =
                    p->stored >= 0 ? p->stored : RD_KAFKA_OFFSET_BEGINNING;
                p->pos = p->stored >= 0 ? p->stored : 0;
                p->eof = false;
                tl_log(TL_LOG_INFO, "meter", "partition assigned",
                       "topic=%s partition=%d next_offset=%" PRId64, p->topic,
                       p->partition, p->stored);
        }
        rd_kafka_assign(m->rk, l);
        rd_kafka_topic_partition_list_destroy(l);
        return true;
}

static void count_batch(struct meter *m, const struct meter_batch *b)
{
        int64_t lat = tl_mono_us() - b->started_us;

        for (size_t i = 0; i < b->nparts; i++) {
                const struct meter_part *p = &b->parts[i];
                m->consumed += p->consumed;
                m->stored += p->stored_n;
                m->duplicates += p->dups;
                m->dead_lettered += p->dead;
        }
        m->batches++;
        m->lat_count++;
        m->lat_sum_us += (uint64_t)lat;
        for (int i = 0; i < METER_LAT_BUCKETS; i++)
                if (lat <= (int64_t)meter__lat_bounds_ms[i] * 1000)
                        m->lat_buckets[i]++;
}

/* ---- lanes: partition i is written by lane i % nlanes ----------------------
 */

static struct meter_lane *lane_of(struct meter *m, uint32_t pi)
{
        return &m->lanes[pi % (uint32_t)m->nlanes];
}

/* Take back the batch the lane's writer committed and apply the outcome:
   the new stored offsets, or a resync to read it again. */
static void lane_settle(struct meter *m, struct meter_lane *l)
{
        struct meter_batch *b;
        struct tl_error e = {0};
        tl_status rc;
        char q[600];

        meter__writer_take(&l->w, &b, &rc, &e);
        if (!b)
                return;
        if (rc == TL_OK) {
                pthread_mutex_lock(&m->lock);
                for (size_t i = 0; i < b->nparts && i < m->nparts; i++)
                        if (b->parts[i].last >= 0)
                                m->parts[i].stored = b->parts[i].stored;
                pthread_mutex_unlock(&m->lock);
                count_batch(m, b);
                tl_log(TL_LOG_DEBUG, "meter", "batch stored",
                       "units=%" PRIu64 " rows=%zu dead=%zu", b->units,
                       b->nrows, b->ndead);
        } else {
                if (rc == TL_ECONFLICT)
                        m->conflicts++;
                else
                        m->db_errors++;
                tl_log(TL_LOG_WARN, "meter",
                       "batch not stored; reading it again",
                       "status=%s error=%s", tl_status_name(rc),
                       tl_log_quote(e.msg, q, sizeof q));
                m->need_resync = true;
        }
        meter__batch_clear(b);
}

/* Hand the lane's filling batch to its writer, once the one before is
   back: a partition's batches commit in order, one at a time. */
static void lane_submit(struct meter *m, struct meter_lane *l)
{
        struct meter_batch *b = &l->b[l->fill];

        lane_settle(m, l);
        if (!b->nmsg || m->need_resync)
                return;
        /* The fence compares with what the batch before just stored. */
        for (size_t i = 0; i < b->nparts && i < m->nparts; i++)
                b->parts[i].stored = m->parts[i].stored;
        meter__writer_hand(&l->w, b);
        l->fill = !l->fill;
}

/* Wait for every writer, then drop whatever is not committed. */
static void drop_all(struct meter *m)
{
        for (int i = 0; i < m->nlanes; i++)
                lane_settle(m, &m->lanes[i]);
        for (int i = 0; i < m->nlanes; i++) {
                meter__batch_clear(&m->lanes[i].b[0]);
                meter__batch_clear(&m->lanes[i].b[1]);
        }
        m->need_resync = false;
}

/* After a failure: drop what is not committed and read again from the
   stored offsets (not while revoking: the partitions are going away). */
static void recover(struct meter *m)
{
        drop_all(m);
        if (!m->in_revoke)
                resync(m);
}

/* Commit everything decoded so far and wait for it. */
static void flush_all(struct meter *m)
{
        for (int i = 0; i < m->nlanes; i++)
                lane_submit(m, &m->lanes[i]);
        for (int i = 0; i < m->nlanes; i++)
                lane_settle(m, &m->lanes[i]);
        if (m->need_resync)
                recover(m);
}

/* Nothing decoded and nothing being written. */
static bool lanes_idle(const struct meter *m)
{
        for (int i = 0; i < m->nlanes; i++) {
                const struct meter_lane *l = &m->lanes[i];
                if (l->b[l->fill].nmsg || l->w.job)
                        return false;
        }
        return true;
}

static void rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                      rd_kafka_topic_partition_list_t *l, void *opaque)
{
        struct meter *m = opaque;

        if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
                /* Batches are bound to the old list: none may be left. */
                drop_all(m);
                pthread_mutex_lock(&m->lock);
                m->nparts = 0;
                if ((size_t)l->cnt > m->part_cap) {
                        struct meter_part *np =
                            tl_realloc(m->parts, (size_t)l->cnt * sizeof *np);
                        if (np) {
                                m->parts = np;
                                m->part_cap = (size_t)l->cnt;
                        }
                }
                for (int i = 0; i < l->cnt && (size_t)i < m->part_cap; i++) {
                        struct meter_part *p = &m->parts[m->nparts++];
                        memset(p, 0, sizeof *p);
                        snprintf(p->topic, sizeof p->topic, "%s",
                                 l->elems[i].topic);
                        p->partition = l->elems[i].partition;
                        p->stored = p->last = p->high = -1;
                }
                pthread_mutex_unlock(&m->lock);
                m->last_part = 0;
                m->last_assign_us = tl_mono_us();
                if (!resync(m))
                        rd_kafka_assign(rk, NULL);
                return;
        }
        /* Revoked (or an error): finish the batch while the partitions are
           still ours; the fence refuses it if they no longer are. */
        m->in_revoke = true;
        flush_all(m);
        m->in_revoke = false;
        pthread_mutex_lock(&m->lock);
        m->nparts = 0;
        pthread_mutex_unlock(&m->lock);
        tl_log(TL_LOG_INFO, "meter", "partitions revoked", "count=%d",
               l ? l->cnt : 0);
        rd_kafka_assign(rk, NULL);
}

/* ---- setup ----------------------------------------------------------------
 */

static tl_status conf_set(rd_kafka_conf_t *conf, const char *k, const char *v,
                          struct tl_error *err)
{
        char why[512];

        if (rd_kafka_conf_set(conf, k, v, why, sizeof why) != RD_KAFKA_CONF_OK)
                /* The value may be a secret: name the key only. */
                return tl_fail(err, TL_EINVAL, "kafka property '%s': %s", k,
                               why);
        return TL_OK;
}

/* Properties that would break exactly-once if a config file changed them. */
static bool reserved_prop(const char *k)
{
        static const char *const R[] = {
            "enable.auto.commit", "enable.auto.offset.store",
            "auto.offset.reset",  "group.id",
            "bootstrap.servers",  "enable.partition.eof"};

        for (size_t i = 0; i < sizeof R / sizeof R[0]; i++)
                if (!strcmp(k, R[i]))
                        return true;
        return false;
}

static tl_status make_consumer(struct meter *m, struct tl_error *err)
{
        const struct meter_config *c = m->cfg;
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        char why[512];
        tl_status rc;

        rd_kafka_conf_set_opaque(conf, m);
        rd_kafka_conf_set_log_cb(conf, kafka_log);
        rd_kafka_conf_set_error_cb(conf, kafka_error);
        rd_kafka_conf_set_rebalance_cb(conf, rebalance);
        rc = conf_set(conf, "bootstrap.servers", c->brokers, err);
        if (!rc)
                rc = conf_set(conf, "group.id", c->group, err);
        if (!rc)
                rc = conf_set(conf, "enable.auto.commit", "false", err);
        if (!rc)
                rc = conf_set(conf, "enable.auto.offset.store", "false", err);
        if (!rc)
                rc = conf_set(conf, "enable.partition.eof", "true", err);
        if (!rc)
                rc = conf_set(conf, "auto.offset.reset",
                              c->offset_reset == METER_RESET_ERROR ? "error"
                                                                   : "earliest",
                              err);
        if (!rc)
                rc = conf_set(conf, "isolation.level", "read_committed", err);
        if (!rc)
                rc = conf_set(conf, "partition.assignment.strategy",
                              "range,roundrobin", err);
        for (int i = 0; !rc && i < c->prop_count; i++) {
                const struct meter_prop *p = &c->props[i];
                if (reserved_prop(p->key))
                        rc = tl_fail(err, TL_EINVAL,
                                     "kafka property '%s' is set by the meter "
                                     "itself (exactly-once depends on it)",
                                     p->key);
                else if (!strcmp(p->key, "partition.assignment.strategy") &&
                         strstr(p->value, "cooperative"))
                        rc = tl_fail(err, TL_EINVAL,
                                     "kafka property '%s': cooperative "
                                     "rebalancing is not supported; use range "
                                     "or roundrobin",
                                     p->key);
                else
                        rc = conf_set(conf, p->key, p->value, err);
        }
        if (rc) {
                rd_kafka_conf_destroy(conf);
                return rc;
        }
        m->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, why, sizeof why);
        if (!m->rk) {
                rd_kafka_conf_destroy(conf);
                return tl_fail(err, TL_EKAFKA, "kafka consumer: %s", why);
        }
        rd_kafka_poll_set_consumer(m->rk);
        return TL_OK;
}

tl_status meter_new(const struct meter_config *c, struct meter **out,
                    struct tl_error *err)
{
        struct meter *m;
        tl_status rc;

        if (!c->brokers || !*c->brokers)
                return tl_fail(err, TL_EUSAGE,
                               "no Kafka brokers: set kafka.brokers in the "
                               "config file or TALLY_KAFKA_BROKERS");
        m = tl_calloc(1, sizeof *m);
        if (!m)
                return tl_fail(err, TL_ENOMEM, "meter: out of memory");
        m->cfg = c;
        pthread_mutex_init(&m->lock, NULL);
        m->nlanes = (int)(c->writers > 0 ? c->writers : 1);
        m->lanes = tl_calloc((size_t)m->nlanes, sizeof *m->lanes);
        rc = m->lanes ? TL_OK : tl_fail(err, TL_ENOMEM, "meter: out of memory");
        for (int i = 0; !rc && i < m->nlanes; i++) {
                struct meter_lane *l = &m->lanes[i];
                rc = meter__batch_init(&l->b[0], c->skew_s * 1000000, err);
                if (!rc)
                        rc = meter__batch_init(&l->b[1], c->skew_s * 1000000,
                                               err);
                if (!rc)
                        rc = meter__writer_start(&l->w, m, err);
        }
        if (!rc)
                rc = make_consumer(m, err);
        if (!rc && c->http)
                rc = meter__http_start(m, c->http, &m->http, err);
        if (rc) {
                meter_free(&m);
                return rc;
        }
        *out = m;
        return TL_OK;
}

void meter_free(struct meter **pp)
{
        struct meter *m = *pp;

        if (!m)
                return;
        meter__http_stop(&m->http);
        if (m->rk)
                rd_kafka_destroy(m->rk);
        meter__store_free(&m->st);
        for (int i = 0; m->lanes && i < m->nlanes; i++) {
                /* Writers first: they may still hold a batch. */
                meter__writer_stop(&m->lanes[i].w);
                meter__batch_release(&m->lanes[i].b[0]);
                meter__batch_release(&m->lanes[i].b[1]);
        }
        tl_free(m->lanes);
        tl_free(m->parts);
        pthread_mutex_destroy(&m->lock);
        tl_free(m);
        *pp = NULL;
}

void meter_counts_get(const struct meter *m, struct meter_counts *o)
{
        o->consumed = m->consumed;
        o->stored = m->stored;
        o->duplicates = m->duplicates;
        o->dead_lettered = m->dead_lettered;
        o->batches = m->batches;
        o->conflicts = m->conflicts;
        o->db_errors = m->db_errors;
        o->kafka_errors = m->kafka_errors;
}

/* ---- the loop ---------------------------------------------------------------
 */

static void on_message(struct meter *m, rd_kafka_message_t *msg)
{
        const char *topic = msg->rkt ? rd_kafka_topic_name(msg->rkt) : "";
        struct meter_part *p;
        uint32_t pi;
        struct tl_error e = {0};

        if (msg->err) {
                if (msg->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                        p = find_part(m, topic, msg->partition, &pi);
                        if (p)
                                p->eof = true;
                } else if (msg->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET) {
                        m->fatal = true;
                        tl_fail(&m->fatal_err, TL_EKAFKA,
                                "%s[%d]: the stored offset is out of range "
                                "and offset_reset is 'error': %s",
                                topic, msg->partition,
                                rd_kafka_message_errstr(msg));
                } else {
                        m->kafka_errors++;
                        tl_log(TL_LOG_WARN, "meter", "consume error",
                               "topic=%s partition=%d error=%s", topic,
                               msg->partition, rd_kafka_err2name(msg->err));
                }
                rd_kafka_message_destroy(msg);
                return;
        }
        m->kafka_up = 1;
        p = find_part(m, topic, msg->partition, &pi);
        if (!p || msg->offset < p->pos) {
                /* Revoked, or fetched before a resync: read again later. */
                rd_kafka_message_destroy(msg);
                return;
        }
        if (msg->offset > p->pos && p->stored >= 0) {
                m->gaps++;
                tl_log(TL_LOG_WARN, "meter", "offset gap",
                       "topic=%s partition=%d expected=%" PRId64
                       " got=%" PRId64,
                       topic, msg->partition, p->pos, msg->offset);
        }
        p->eof = false;
        m->last_msg_us = tl_mono_us();
        {
                struct meter_lane *l = lane_of(m, pi);
                struct meter_batch *b = &l->b[l->fill];
                tl_status rc =
                    b->nmsg ? TL_OK
                            : meter__batch_bind(b, m->parts, m->nparts, &e);
                if (rc)
                        rd_kafka_message_destroy(msg);
                else
                        rc = meter__batch_add(b, msg, pi, &e);
                p->pos = msg->offset + 1;
                if (rc) {
                        char q[600];
                        tl_log(TL_LOG_ERROR, "meter", "batch dropped",
                               "error=%s", tl_log_quote(e.msg, q, sizeof q));
                        m->need_resync = true; /* the loop recovers */
                } else if (b->units >= (uint64_t)m->cfg->batch_events) {
                        lane_submit(m, l);
                }
        }
}

static void update_lag(struct meter *m)
{
        pthread_mutex_lock(&m->lock);
        for (size_t i = 0; i < m->nparts; i++) {
                int64_t lo, hi;
                if (rd_kafka_get_watermark_offsets(m->rk, m->parts[i].topic,
                                                   m->parts[i].partition, &lo,
                                                   &hi) == 0)
                        m->parts[i].high = hi;
        }
        pthread_mutex_unlock(&m->lock);
}

static bool caught_up(struct meter *m, int64_t now)
{
        if (!m->cfg->exit_idle_ms || !m->nparts || !lanes_idle(m))
                return false;
        for (size_t i = 0; i < m->nparts; i++)
                if (!m->parts[i].eof)
                        return false;
        return now - m->last_msg_us >= m->cfg->exit_idle_ms * 1000 &&
               now - m->last_assign_us >= m->cfg->exit_idle_ms * 1000;
}

void meter_watch_hangup(struct meter *m, volatile sig_atomic_t *hup)
{
        m->hup = hup;
}

/* SIGHUP: what docs/operations.md promises, and never a stop. The meter
   holds no catalog (`tally serve` does), so there is nothing to reload. */
static void on_hangup(struct meter *m)
{
        *m->hup = 0;
        tl_log(TL_LOG_INFO, "meter", "SIGHUP received",
               "action=none reason=\"the meter loads no catalog\"");
}

tl_status meter_run(struct meter *m, volatile sig_atomic_t *stop,
                    struct tl_error *err)
{
        rd_kafka_topic_partition_list_t *subs;
        rd_kafka_resp_err_t kerr;
        const struct meter_config *c = m->cfg;

        m->stop = stop;
        if (!meter__ensure_store(m, &m->st))
                return TL_OK; /* stopped before the database came */
        subs = rd_kafka_topic_partition_list_new(c->topic_count);
        for (int i = 0; i < c->topic_count; i++)
                rd_kafka_topic_partition_list_add(subs, c->topics[i],
                                                  RD_KAFKA_PARTITION_UA);
        kerr = rd_kafka_subscribe(m->rk, subs);
        rd_kafka_topic_partition_list_destroy(subs);
        if (kerr)
                return tl_fail(err, TL_EKAFKA, "subscribe: %s",
                               rd_kafka_err2str(kerr));
        tl_log(TL_LOG_INFO, "meter", "started", "group=%s topics=%d", c->group,
               c->topic_count);
        m->last_msg_us = tl_mono_us();
        while (!*stop && !m->fatal) {
                int64_t now = tl_mono_us();
                int timeout = 100;
                rd_kafka_message_t *msg;

                for (int i = 0; i < m->nlanes; i++) {
                        const struct meter_batch *b =
                            &m->lanes[i].b[m->lanes[i].fill];
                        int64_t left = b->started_us + c->batch_ms * 1000 - now;
                        if (m->lanes[i].w.job && timeout > 10)
                                timeout = 10; /* a commit to take back */
                        if (!b->nmsg)
                                continue;
                        left = left <= 0 ? 0 : left / 1000;
                        if (left < timeout)
                                timeout = (int)left;
                }
                msg = rd_kafka_consumer_poll(m->rk, timeout);
                if (msg)
                        on_message(m, msg);
                now = tl_mono_us();
                for (int i = 0; i < m->nlanes; i++) {
                        struct meter_lane *l = &m->lanes[i];
                        const struct meter_batch *b = &l->b[l->fill];
                        /* Counters, offsets and lag follow each commit at
                           once, not when the lane's next batch goes. */
                        if (meter__writer_finished(&l->w))
                                lane_settle(m, l);
                        if (b->nmsg &&
                            now - b->started_us >= c->batch_ms * 1000)
                                lane_submit(m, l);
                }
                if (m->need_resync)
                        recover(m);
                if (m->hup && *m->hup)
                        on_hangup(m);
                if (now - m->last_lag_us > 1000000) {
                        update_lag(m);
                        m->last_lag_us = now;
                }
                if (caught_up(m, now))
                        break;
        }
        flush_all(m);
        tl_log(TL_LOG_INFO, "meter", "stopping",
               "consumed=%" PRIu64 " stored=%" PRIu64 " duplicates=%" PRIu64
               " dead_lettered=%" PRIu64,
               (uint64_t)m->consumed, (uint64_t)m->stored,
               (uint64_t)m->duplicates, (uint64_t)m->dead_lettered);
        /* Leaving the group runs the revoke callback (nothing left to do). */
        rd_kafka_consumer_close(m->rk);
        if (m->fatal) {
                *err = m->fatal_err;
                return err->code;
        }
        return TL_OK;
}
