/* One batch, one transaction: the offsets a batch covers commit with the
   events they brought, so a crash at any instant loses and doubles nothing. */
#include "store.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/log.h"
#include "schemas/db.h"
#include "copy.h"
#include "service.h"

#define MONTH_CACHE 512

struct meter_store {
        PGconn *conn;
        char group[256];
        int32_t months[MONTH_CACHE]; /* partitions known to exist */
        int nmonths;
        struct tl_buf sql;  /* array parameters */
        struct tl_buf copy; /* dead-letter COPY */
        /* phases, us */
        int64_t t_begin, t_copy, t_chain, t_events, t_roll, t_rest, t_commit;
};

/* Only the keys are staged: the events of new keys are copied straight
   into `events` once the database has said which keys are new, and the
   rollups come summed from the meter. */
static const char STAGE_DDL[] =
    "CREATE TEMP TABLE IF NOT EXISTS meter_keys ("
    " seq int4, key_hash bytea, content_hash bytea,"
    " event_time timestamptz) ON COMMIT DELETE ROWS;"
    "CREATE TEMP TABLE IF NOT EXISTS meter_roll ("
    " customer_id text, day date, type int2, attrs_hash bytea,"
    " model text, deployment int2, decoding text, dims jsonb,"
    " event_count int8, input_tokens numeric, output_tokens numeric,"
    " cached_input_tokens numeric, iterations numeric, tokens numeric,"
    " mac numeric, units numeric, task text, outcome text)"
    " ON COMMIT DELETE ROWS";

/* The dedup insert; returns the staged rows whose key was there before,
   with the content stored for it. Locks are taken in key order so
   concurrent meters cannot deadlock. The stored content is looked up by a
   subquery per returned row, which can only be an index probe: as a join,
   the planner hashed all of event_keys for every batch that had a
   duplicate (150 ms at 400,000 keys, growing with the table). A key
   another transaction committed while this one waited on it is not in
   this statement's snapshot: its hash comes back NULL and "probe" reads
   it afterwards. */
static const char CHAIN_SQL[] =
    "WITH ins AS ("
    " INSERT INTO event_keys (key_hash, content_hash, event_time)"
    " SELECT key_hash, content_hash, event_time"
    " FROM meter_keys ORDER BY key_hash"
    " ON CONFLICT DO NOTHING RETURNING key_hash)"
    "SELECT s.seq, (SELECT k.content_hash FROM event_keys k"
    " WHERE k.key_hash = s.key_hash)"
    " FROM meter_keys s WHERE NOT EXISTS (SELECT 1 FROM ins i"
    " WHERE i.key_hash = s.key_hash)";

static const char EVENTS_COPY[] =
    "COPY events (event_time, customer_id, type, source, event_id, model,"
    " deployment, decoding, input_tokens, output_tokens,"
    " cached_input_tokens, iterations, tokens, mac, device_id,"
    " seat_action, model_class, task, outcome, units, dims, content_hash,"
    " kafka_topic,"
    " kafka_partition, kafka_offset) FROM STDIN BINARY";

/* In key order, for the same reason as the keys. */
static const char ROLL_SQL[] =
    "INSERT INTO usage_rollups AS r (customer_id, day, type, attrs_hash,"
    " model, deployment, decoding, dims, event_count, input_tokens,"
    " output_tokens, cached_input_tokens, iterations, tokens, mac, units,"
    " task, outcome)"
    " SELECT * FROM meter_roll ORDER BY 1, 2, 3, 4"
    " ON CONFLICT (customer_id, day, type, attrs_hash) DO UPDATE SET"
    " event_count = r.event_count + EXCLUDED.event_count,"
    " input_tokens = r.input_tokens + EXCLUDED.input_tokens,"
    " output_tokens = r.output_tokens + EXCLUDED.output_tokens,"
    " cached_input_tokens = r.cached_input_tokens"
    "  + EXCLUDED.cached_input_tokens,"
    " iterations = r.iterations + EXCLUDED.iterations,"
    " tokens = r.tokens + EXCLUDED.tokens, mac = r.mac + EXCLUDED.mac,"
    " units = r.units + EXCLUDED.units";

/* The customers this transaction touched, told at its commit to whoever
   keeps controls current (`tally serve`'s entitlements): comma-separated,
   in chunks under NOTIFY's 8000-byte payload; an id with a comma is sent
   as "*" (recheck everyone). */
static const char TOUCHED_SQL[] =
    "SELECT pg_notify('tally_usage', string_agg(c, ',')) FROM (SELECT c,"
    " sum(octet_length(c) + 1) OVER (ORDER BY c) / 7000 AS chunk FROM"
    " (SELECT DISTINCT CASE WHEN strpos(customer_id, ',') > 0 THEN '*'"
    " ELSE customer_id END AS c FROM meter_roll) d) x GROUP BY chunk";

static const struct {
        const char *name;
        const char *sql;
} PREPARED[] = {
    {"chain", CHAIN_SQL},
    {"roll", ROLL_SQL},
    {"touched", TOUCHED_SQL},
    {"probe", "SELECT s.seq, (SELECT k.content_hash FROM event_keys k"
              " WHERE k.key_hash = s.key_hash)"
              " FROM meter_keys s WHERE s.seq = ANY($1::int4[])"},
    {"fence", "SELECT kafka_topic, kafka_partition, next_offset"
              " FROM consumer_offsets WHERE consumer_group = $1"
              " AND (kafka_topic, kafka_partition) IN"
              " (SELECT * FROM unnest($2::text[], $3::int4[]))"
              " ORDER BY 1, 2 FOR UPDATE"},
    {"offsets", "SELECT kafka_topic, kafka_partition, next_offset"
                " FROM consumer_offsets WHERE consumer_group = $1"},
    /* A missing row is inserted without ON CONFLICT: two owners of a
       new partition cannot both succeed. */
    {"off_ins", "INSERT INTO consumer_offsets (consumer_group,"
                " kafka_topic, kafka_partition, next_offset)"
                " VALUES ($1, $2, $3, $4)"},
    {"off_upd", "UPDATE consumer_offsets SET next_offset = $4,"
                " updated_at = now() WHERE consumer_group = $1"
                " AND kafka_topic = $2 AND kafka_partition = $3"},
    {"counts", "INSERT INTO ingest_counts AS c (consumer_group,"
               " kafka_topic, kafka_partition, consumed, stored,"
               " duplicates, dead_lettered)"
               " SELECT $1, t, p, n, s, d, x FROM unnest($2::text[],"
               " $3::int4[], $4::int8[], $5::int8[], $6::int8[],"
               " $7::int8[]) AS u(t, p, n, s, d, x)"
               " ON CONFLICT (consumer_group, kafka_topic,"
               " kafka_partition) DO UPDATE SET"
               " consumed = c.consumed + EXCLUDED.consumed,"
               " stored = c.stored + EXCLUDED.stored,"
               " duplicates = c.duplicates + EXCLUDED.duplicates,"
               " dead_lettered = c.dead_lettered + EXCLUDED.dead_lettered"},
    {"month", "SELECT tally_ensure_month($1::date)"},
};

static tl_status db_fail(struct meter_store *st, PGresult *r, const char *what,
                         struct tl_error *err)
{
        const char *msg =
            r ? PQresultErrorMessage(r) : PQerrorMessage(st->conn);
        char line[512];
        size_t n;

        snprintf(line, sizeof line, "%s", msg && *msg ? msg : "no reply");
        n = strlen(line);
        while (n && (line[n - 1] == '\n' || line[n - 1] == ' '))
                line[--n] = '\0';
        return tl_fail(err, TL_EDB, "%s: %s", what, line);
}

static tl_status exec_ok(struct meter_store *st, const char *sql,
                         const char *what, struct tl_error *err)
{
        PGresult *r = PQexec(st->conn, sql);
        ExecStatusType s = PQresultStatus(r);
        tl_status rc = TL_OK;

        if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK)
                rc = db_fail(st, r, what, err);
        PQclear(r);
        return rc;
}

/* Run prepared 'name'; '*out' gets the result when wanted (PQclear it). */
static tl_status run(struct meter_store *st, const char *name, int n,
                     const char *const *params, PGresult **out,
                     struct tl_error *err)
{
        PGresult *r = PQexecPrepared(st->conn, name, n, params, NULL, NULL, 0);
        ExecStatusType s = PQresultStatus(r);

        if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK) {
                tl_status rc = db_fail(st, r, name, err);
                PQclear(r);
                return rc;
        }
        if (out)
                *out = r;
        else
                PQclear(r);
        return TL_OK;
}

tl_status meter__store_open(const char *group, struct meter_store **out,
                            struct tl_error *err)
{
        struct meter_store *st = tl_calloc(1, sizeof *st);
        struct sch_migrate_report rep;
        tl_status rc;

        if (!st)
                return tl_fail(err, TL_ENOMEM, "meter store: out of memory");
        snprintf(st->group, sizeof st->group, "%s", group);
        tl_buf_init(&st->sql, 0);
        tl_buf_init(&st->copy, 0);
        rc = sch_db_connect(&st->conn, err);
        if (!rc)
                rc = sch_db_migrate(st->conn, &rep, err);
        if (!rc)
                /* Durability is not negotiable; sorts of a batch stay in
                   memory. */
                rc = exec_ok(st,
                             "SET synchronous_commit = on;"
                             " SET work_mem = '64MB'",
                             "settings", err);
        if (!rc)
                rc = exec_ok(st, STAGE_DDL, "staging table", err);
        for (size_t i = 0; !rc && i < sizeof PREPARED / sizeof PREPARED[0];
             i++) {
                PGresult *r = PQprepare(st->conn, PREPARED[i].name,
                                        PREPARED[i].sql, 0, NULL);
                if (PQresultStatus(r) != PGRES_COMMAND_OK)
                        rc = db_fail(st, r, PREPARED[i].name, err);
                PQclear(r);
        }
        if (rc) {
                meter__store_free(&st);
                return rc;
        }
        *out = st;
        return TL_OK;
}

void meter__store_free(struct meter_store **pp)
{
        struct meter_store *st = *pp;

        if (!st)
                return;
        if (st->conn)
                PQfinish(st->conn);
        tl_buf_release(&st->sql);
        tl_buf_release(&st->copy);
        tl_free(st);
        *pp = NULL;
}

bool meter__store_alive(const struct meter_store *st)
{
        return st && st->conn && PQstatus(st->conn) == CONNECTION_OK;
}

/* The next offset in rows of (topic, partition, next_offset) for 'p', or
   -1 when no row is there. */
static int64_t held_offset(const PGresult *r, const struct meter_part *p)
{
        for (int row = 0; row < PQntuples(r); row++)
                if (!strcmp(PQgetvalue(r, row, 0), p->topic) &&
                    atoi(PQgetvalue(r, row, 1)) == p->partition)
                        return strtoll(PQgetvalue(r, row, 2), NULL, 10);
        return -1;
}

tl_status meter__store_load_offsets(struct meter_store *st,
                                    struct meter_part *parts, size_t n,
                                    struct tl_error *err)
{
        const char *params[1] = {st->group};
        PGresult *r = NULL; /* set by run() on success; -O3 cannot tell */
        tl_status rc = run(st, "offsets", 1, params, &r, err);

        if (rc)
                return rc;
        for (size_t i = 0; i < n; i++) {
                parts[i].stored = held_offset(r, &parts[i]);
        }
        PQclear(r);
        return TL_OK;
}

/* ---- array parameters -----------------------------------------------------
 */

/* Append a PostgreSQL array literal of the batch partitions' topics. */
static tl_status topics_array(struct tl_buf *o, const struct meter_part *parts,
                              size_t n, struct tl_error *err)
{
        tl_status rc = tl_buf_puts(o, "{", err);
        bool first = true;

        for (size_t i = 0; !rc && i < n; i++) {
                if (parts[i].last < 0)
                        continue;
                rc = tl_buf_puts(o, first ? "\"" : ",\"", err);
                for (const char *c = parts[i].topic; !rc && *c; c++)
                        rc = (*c == '"' || *c == '\\')
                                 ? tl_buf_printf(o, err, "\\%c", *c)
                                 : tl_buf_append(o, c, 1, err);
                if (!rc)
                        rc = tl_buf_puts(o, "\"", err);
                first = false;
        }
        if (!rc)
                rc = tl_buf_puts(o, "}", err);
        return rc ? rc : tl_buf_append(o, "", 1, err) /* NUL separator */;
}

enum col { COL_PARTITION, COL_CONSUMED, COL_STORED, COL_DUPS, COL_DEAD };

static tl_status numbers_array(struct tl_buf *o, const struct meter_part *parts,
                               size_t n, enum col col, struct tl_error *err)
{
        tl_status rc = tl_buf_puts(o, "{", err);
        bool first = true;

        for (size_t i = 0; !rc && i < n; i++) {
                const struct meter_part *p = &parts[i];
                uint64_t v = col == COL_PARTITION  ? (uint64_t)p->partition
                             : col == COL_CONSUMED ? p->consumed
                             : col == COL_STORED   ? p->stored_n
                             : col == COL_DUPS     ? p->dups
                                                   : p->dead;
                if (p->last < 0)
                        continue;
                rc = tl_buf_printf(o, err, "%s%" PRIu64, first ? "" : ",", v);
                first = false;
        }
        if (!rc)
                rc = tl_buf_puts(o, "}", err);
        return rc ? rc : tl_buf_append(o, "", 1, err);
}

/* ---- the transaction ------------------------------------------------------
 */

static tl_status ensure_months(struct meter_store *st,
                               const struct meter_batch *b,
                               struct tl_error *err)
{
        for (int i = 0; i < b->nmonths; i++) {
                int32_t m = b->months[i];
                char day[32];
                const char *params[1] = {day};
                bool known = false;
                tl_status rc;

                for (int j = 0; j < st->nmonths && !known; j++)
                        known = st->months[j] == m;
                if (known)
                        continue;
                snprintf(day, sizeof day, "%04d-%02d-01", (int)(m / 12),
                         (int)(m % 12 + 1));
                rc = run(st, "month", 1, params, NULL, err);
                if (rc)
                        return rc;
                if (st->nmonths < MONTH_CACHE)
                        st->months[st->nmonths++] = m;
        }
        return TL_OK;
}

/* Compare each batch partition's offset row with what we believe. */
static tl_status fence(struct meter_store *st, struct meter_part *parts,
                       size_t n, struct tl_error *err)
{
        const char *params[3];
        size_t at;
        PGresult *r = NULL;
        tl_status rc;

        tl_buf_clear(&st->sql);
        rc = topics_array(&st->sql, parts, n, err);
        at = st->sql.len;
        if (!rc)
                rc = numbers_array(&st->sql, parts, n, COL_PARTITION, err);
        if (rc)
                return rc;
        params[0] = st->group;
        params[1] = st->sql.data;
        params[2] = st->sql.data + at;
        rc = run(st, "fence", 3, params, &r, err);
        if (rc)
                return rc;
        for (size_t i = 0; !rc && i < n; i++) {
                int64_t held;
                if (parts[i].last < 0)
                        continue;
                held = held_offset(r, &parts[i]);
                if (held != parts[i].stored)
                        rc = tl_fail(err, TL_ECONFLICT,
                                     "%s[%d]: stored offset is %" PRId64
                                     ", this consumer expected %" PRId64
                                     ": another consumer owns it now",
                                     parts[i].topic, parts[i].partition, held,
                                     parts[i].stored);
        }
        PQclear(r);
        return rc;
}

static tl_status copy_in(struct meter_store *st, const char *sql,
                         const char *body, size_t body_len,
                         struct tl_error *err)
{
        PGresult *r = PQexec(st->conn, sql);
        tl_status rc = TL_OK;

        if (PQresultStatus(r) != PGRES_COPY_IN) {
                rc = db_fail(st, r, "COPY", err);
                PQclear(r);
                return rc;
        }
        PQclear(r);
        if (body_len > INT32_MAX ||
            PQputCopyData(st->conn, body, (int)body_len) != 1) {
                PQputCopyEnd(st->conn, "tally: write failed");
                rc = db_fail(st, NULL, "COPY", err);
        } else if (PQputCopyEnd(st->conn, NULL) != 1) {
                rc = db_fail(st, NULL, "COPY", err);
        }
        while ((r = PQgetResult(st->conn)) != NULL) {
                if (!rc && PQresultStatus(r) != PGRES_COMMAND_OK)
                        rc = db_fail(st, r, "COPY", err);
                PQclear(r);
        }
        return rc;
}

static int hex_digit(char c)
{
        return c >= '0' && c <= '9'   ? c - '0'
               : c >= 'a' && c <= 'f' ? c - 'a' + 10
               : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                      : -1;
}

/* Rows of (seq, content_hash) whose hash is there: a duplicate or a
   conflict. Rows without one stay ROW_NEW, their seqs appended to 'again',
   an array literal the caller opened with "{" (NULL: none may be
   missing). */
static tl_status mark_known(struct meter_batch *b, const PGresult *r,
                            struct tl_buf *again, struct tl_error *err)
{
        tl_status rc = TL_OK;

        for (int i = 0; !rc && i < PQntuples(r); i++) {
                long seq = strtol(PQgetvalue(r, i, 0), NULL, 10);
                const char *hex = PQgetvalue(r, i, 1); /* "\\x..." */
                struct meter_row *row;
                bool bad = false;

                if (seq < 0 || (size_t)seq >= b->nrows)
                        return tl_fail(err, TL_EINTERNAL,
                                       "meter: bad dedup row %d", i);
                row = &b->rows[seq];
                row->fate = ROW_NEW;
                if (PQgetisnull(r, i, 1)) {
                        if (!again)
                                continue; /* settle reports it */
                        rc = tl_buf_printf(again, err, "%s%ld",
                                           again->len > 1 ? "," : "", seq);
                        continue;
                }
                if (PQgetlength(r, i, 1) != 2 + 2 * SCH_HASH_BYTES)
                        bad = true;
                for (int j = 0; !bad && j < SCH_HASH_BYTES; j++) {
                        int hi = hex_digit(hex[2 + 2 * j]);
                        int lo = hex_digit(hex[3 + 2 * j]);
                        bad = hi < 0 || lo < 0;
                        row->db_hash[j] = (unsigned char)(hi << 4 | lo);
                }
                if (bad)
                        return tl_fail(err, TL_EINTERNAL,
                                       "meter: bad content hash in dedup "
                                       "row %d",
                                       i);
                row->fate = memcmp(row->db_hash, row->hash, SCH_HASH_BYTES)
                                ? ROW_CONFLICT
                                : ROW_DUP;
        }
        return rc;
}

/* Mark staged rows: new unless the chain (or, for keys committed while it
   waited, the probe) gives the content stored before. */
static tl_status classify(struct meter_store *st, struct meter_batch *b,
                          PGresult *notnew, struct tl_error *err)
{
        const char *params[1];
        PGresult *r = NULL;
        tl_status rc;

        for (size_t i = 0; i < b->nrows; i++)
                if (b->rows[i].dup_of < 0)
                        b->rows[i].fate = ROW_STORED;
        tl_buf_clear(&st->sql);
        rc = tl_buf_puts(&st->sql, "{", err);
        if (!rc)
                rc = mark_known(b, notnew, &st->sql, err);
        if (rc || st->sql.len == 1)
                return rc;
        rc = tl_buf_puts(&st->sql, "}", err);
        if (rc)
                return rc;
        params[0] = st->sql.data;
        rc = run(st, "probe", 1, params, &r, err);
        if (rc)
                return rc;
        rc = mark_known(b, r, NULL, err);
        PQclear(r);
        return rc;
}

static tl_status write_offsets(struct meter_store *st, struct meter_part *parts,
                               size_t n, struct tl_error *err)
{
        for (size_t i = 0; i < n; i++) {
                char part[16], next[24];
                const char *params[4] = {st->group, parts[i].topic, part, next};
                tl_status rc;

                if (parts[i].last < 0)
                        continue;
                snprintf(part, sizeof part, "%d", parts[i].partition);
                snprintf(next, sizeof next, "%" PRId64, parts[i].last + 1);
                rc = run(st, parts[i].stored < 0 ? "off_ins" : "off_upd", 4,
                         params, NULL, err);
                if (rc)
                        return rc;
        }
        return TL_OK;
}

static tl_status write_counts(struct meter_store *st, struct meter_part *parts,
                              size_t n, struct tl_error *err)
{
        size_t at[7];
        const char *params[7];
        tl_status rc;

        tl_buf_clear(&st->sql);
        at[1] = 0;
        rc = topics_array(&st->sql, parts, n, err);
        for (int c = COL_PARTITION; !rc && c <= COL_DEAD; c++) {
                at[2 + c] = st->sql.len;
                rc = numbers_array(&st->sql, parts, n, (enum col)c, err);
        }
        if (rc)
                return rc;
        params[0] = st->group;
        for (int i = 1; i < 7; i++)
                params[i] = st->sql.data + at[i];
        return run(st, "counts", 7, params, NULL, err);
}

/* The events of new keys, then the rollups they add to. */
static tl_status write_stored(struct meter_store *st, struct meter_batch *b,
                              struct tl_error *err)
{
        size_t rows;
        tl_status rc;

        tl_buf_clear(&st->copy);
        rc = meter__batch_stored_copy(b, &st->copy, &rows, err);
        if (!rc && rows)
                rc = copy_in(st, EVENTS_COPY, st->copy.data, st->copy.len, err);
        st->t_events = tl_mono_us();
        if (!rc) {
                tl_buf_clear(&st->copy);
                rc = meter__rollup_copy(&b->roll, &st->copy, &rows, err);
        }
        if (!rc && rows)
                rc = copy_in(st, "COPY meter_roll FROM STDIN BINARY",
                             st->copy.data, st->copy.len, err);
        if (!rc && rows)
                rc = run(st, "roll", 0, NULL, NULL, err);
        if (!rc && rows)
                rc = run(st, "touched", 0, NULL, NULL, err);
        return rc;
}

static tl_status transaction(struct meter_store *st, struct meter_batch *b,
                             struct tl_error *err)
{
        struct meter_part *parts = b->parts;
        size_t nparts = b->nparts;
        PGresult *notnew = NULL;
        tl_status rc = TL_OK;

        st->t_begin = tl_mono_us();
        if (b->staged)
                rc = meter_copy_trailer(&b->keys, err);
        if (!rc)
                rc = exec_ok(st, "BEGIN", "BEGIN", err);
        if (!rc)
                rc = fence(st, parts, nparts, err);
        if (!rc && b->staged)
                rc = copy_in(st, "COPY meter_keys FROM STDIN BINARY",
                             b->keys.data, b->keys.len, err);
        st->t_copy = tl_mono_us();
        if (!rc && b->staged)
                rc = run(st, "chain", 0, NULL, &notnew, err);
        if (!rc && b->staged)
                rc = classify(st, b, notnew, err);
        PQclear(notnew);
        st->t_chain = tl_mono_us();
        if (!rc)
                rc = meter__batch_settle(b, err);
        st->t_events = st->t_chain;
        if (!rc && b->staged)
                rc = write_stored(st, b, err);
        st->t_roll = tl_mono_us();
        if (!rc && b->ndead) {
                tl_buf_clear(&st->copy);
                rc =
                    meter__batch_dead_copy(b, parts, st->group, &st->copy, err);
                if (!rc)
                        rc = copy_in(st,
                                     "COPY dead_letters (consumer_group,"
                                     " kafka_topic,"
                                     " kafka_partition, kafka_offset,"
                                     " batch_index, batch_count, reason, raw)"
                                     " FROM STDIN BINARY",
                                     st->copy.data, st->copy.len, err);
        }
        if (!rc)
                rc = write_counts(st, parts, nparts, err);
        if (!rc)
                rc = write_offsets(st, parts, nparts, err);
        st->t_rest = tl_mono_us();
        if (!rc)
                rc = exec_ok(st, "COMMIT", "COMMIT", err);
        st->t_commit = tl_mono_us();
        return rc;
}

tl_status meter__store_commit(struct meter_store *st, struct meter_batch *b,
                              struct tl_error *err)
{
        tl_status rc;

        if (b->months_overflow)
                return tl_fail(err, TL_ELIMIT,
                               "meter: one batch touched more "
                               "than 512 months");
        rc = ensure_months(st, b, err);
        if (!rc)
                rc = transaction(st, b, err);
        if (rc) {
                if (meter__store_alive(st))
                        PQclear(PQexec(st->conn, "ROLLBACK"));
                return rc;
        }
        for (size_t i = 0; i < b->nparts; i++)
                if (b->parts[i].last >= 0)
                        b->parts[i].stored = b->parts[i].last + 1;
        tl_log(TL_LOG_DEBUG, "meter", "transaction",
               "staged=%zu keys_ms=%.1f dedup_ms=%.1f events_ms=%.1f "
               "rollups_ms=%.1f rest_ms=%.1f commit_ms=%.1f",
               b->staged, (double)(st->t_copy - st->t_begin) / 1000,
               (double)(st->t_chain - st->t_copy) / 1000,
               (double)(st->t_events - st->t_chain) / 1000,
               (double)(st->t_roll - st->t_events) / 1000,
               (double)(st->t_rest - st->t_roll) / 1000,
               (double)(st->t_commit - st->t_rest) / 1000);
        return TL_OK;
}
