#include "meterkit.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <stdarg.h>

void mk_sleep_ms(long ms)
{
        struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

        while (nanosleep(&ts, &ts) && errno == EINTR)
                ;
}

void mk_case_start(struct mk_case *c, const char *name, int brokers,
                   int partitions)
{
        char topic[96];
        const char *extra[] = {"--topic", topic, NULL};

        tk_require_env();
        memset(c, 0, sizeof *c);
        snprintf(c->name, sizeof c->name, "%s", name);
        snprintf(c->dir, sizeof c->dir, "/tmp/tk-meter-%s-XXXXXX", name);
        cr_assert_not_null(mkdtemp(c->dir), "mkdtemp: %s", strerror(errno));
        snprintf(c->truth, sizeof c->truth, "%s/truth.tsv", c->dir);
        c->db = tk_pg_fresh_db(name);
        cr_assert_not_null(c->db, "no database %s", name);
        setenv("PGDATABASE", name, 1);
        snprintf(topic, sizeof topic, "%s:%d", name, partitions);
        cr_assert_eq(tk_broker_start(&c->broker, brokers, extra), 0,
                     "broker did not start");
        setenv("TALLY_BROKER_CONTROL", c->broker.control, 1);
}

void mk_case_stop(struct mk_case *c)
{
        char cmd[256];

        tk_broker_stop(&c->broker);
        if (c->db)
                PQfinish(c->db);
        c->db = NULL;
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", c->dir);
        if (system(cmd) != 0)
                fprintf(stderr, "could not remove %s\n", c->dir);
}

static pid_t spawn(const char *const *argv, const char *log)
{
        pid_t pid = fork();

        if (pid == 0) {
                int fd = open(log ? log : "/dev/null",
                              O_WRONLY | O_CREAT | O_APPEND, 0644);
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                if (fd >= 0) {
                        dup2(fd, 1);
                        dup2(fd, 2);
                }
                execv(argv[0], (char *const *)argv);
                _exit(127);
        }
        cr_assert_gt(pid, 0, "fork failed");
        return pid;
}

int mk_wait(pid_t pid, int timeout_ms)
{
        int status;

        for (int waited = 0; waited <= timeout_ms; waited += 20) {
                pid_t r = waitpid(pid, &status, WNOHANG);
                if (r == pid)
                        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
                mk_sleep_ms(20);
        }
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        return -1;
}

/* 'fixed' then 'extra' (either NULL-terminated, 'extra' may be NULL). */
static void join_argv(const char **argv, const char *const *fixed,
                      const char *const *extra)
{
        int n = 0;

        for (; *fixed; fixed++)
                argv[n++] = *fixed;
        for (; extra && *extra && n < 63; extra++)
                argv[n++] = *extra;
        argv[n] = NULL;
}

void mk_loadgen(struct mk_case *c, const char *const *extra)
{
        cr_assert_eq(mk_wait(mk_loadgen_spawn(c, extra), 240000), 0,
                     "loadgen failed (see %s/loadgen.log)", c->dir);
}

pid_t mk_loadgen_spawn(struct mk_case *c, const char *const *extra)
{
        /* The mock broker keeps 5 MiB per partition: compress. */
        const char *fixed[] = {tk_tally_bin(),
                               "loadgen",
                               "--topic",
                               c->name,
                               "--truth",
                               c->truth,
                               "--quiet",
                               "-X",
                               "compression.type=lz4",
                               NULL};
        const char *argv[64];
        char log[300];

        join_argv(argv, fixed, extra);
        snprintf(log, sizeof log, "%s/loadgen.log", c->dir);
        return spawn(argv, log);
}

static char meter_log[300];

const char *mk_meter_log(void)
{
        return meter_log;
}

pid_t mk_meter_spawn(struct mk_case *c, const char *const *extra)
{
        static int count;
        /* The mock cluster waits out a dead member's whole session. */
        const char *fixed[] = {tk_tally_bin(),
                               "meter",
                               "--topic",
                               c->name,
                               "--group",
                               c->name,
                               "--batch-ms",
                               "200",
                               "-X",
                               "session.timeout.ms=4000",
                               "-X",
                               "heartbeat.interval.ms=500",
                               NULL};
        const char *argv[64];

        join_argv(argv, fixed, extra);
        snprintf(meter_log, sizeof meter_log, "%s/meter-%d.log", c->dir,
                 ++count);
        return spawn(argv, meter_log);
}

void mk_meter_drain(struct mk_case *c)
{
        const char *extra[] = {"--exit-idle-ms", "5000", NULL};

        cr_assert_eq(mk_wait(mk_meter_spawn(c, extra), 240000), 0,
                     "the draining meter failed (logs in %s)", c->dir);
}

void mk_finish_live(struct mk_case *c, pid_t loadgen, pid_t meter)
{
        long long produced, stored, dups, dead;

        cr_assert_eq(mk_wait(loadgen, 180000), 0, "loadgen failed");
        mk_truth_totals(c, &produced, &stored, &dups, &dead);
        /* The same process recovers by itself. */
        cr_expect(mk_wait_consumed(c, produced, 150000),
                  "the meter did not catch up after the faults");
        kill(meter, SIGTERM);
        cr_expect_eq(mk_wait(meter, 30000), 0, "meter exit after SIGTERM");
        mk_check_truth(c);
}

/* ---- the truth ------------------------------------------------------------
 */

struct truth {
        long long produced, stored, duplicates, dead;
        char rows[1 << 20];
};

static void read_truth(const char *path, struct truth *t)
{
        FILE *f = fopen(path, "r");
        char line[1024];
        size_t len = 0;
        bool table = false;

        cr_assert_not_null(f, "no truth file %s", path);
        memset(t, 0, sizeof *t);
        while (fgets(line, sizeof line, f)) {
                if (line[0] == '#')
                        continue;
                if (!strncmp(line, "customer\t", 9)) {
                        table = true;
                        continue;
                }
                if (table) {
                        size_t n = strlen(line);
                        cr_assert_lt(len + n, sizeof t->rows);
                        memcpy(t->rows + len, line, n + 1);
                        len += n;
                        continue;
                }
                sscanf(line, "produced\t%lld", &t->produced);
                sscanf(line, "stored\t%lld", &t->stored);
                sscanf(line, "duplicates\t%lld", &t->duplicates);
                sscanf(line, "dead_lettered\t%lld", &t->dead);
        }
        fclose(f);
}

void mk_truth_totals(struct mk_case *c, long long *produced, long long *stored,
                     long long *duplicates, long long *dead)
{
        static struct truth t;

        read_truth(c->truth, &t);
        *produced = t.produced;
        *stored = t.stored;
        *duplicates = t.duplicates;
        *dead = t.dead;
}

bool mk_wait_consumed(struct mk_case *c, long long want, int timeout_ms)
{
        for (int waited = 0; waited <= timeout_ms; waited += 250) {
                PGresult *r;
                if (PQstatus(c->db) != CONNECTION_OK)
                        PQreset(c->db);
                r = PQexec(c->db, "SELECT coalesce(sum(consumed), 0)"
                                  " FROM ingest_counts");
                if (PQresultStatus(r) == PGRES_TUPLES_OK &&
                    atoll(PQgetvalue(r, 0, 0)) >= want) {
                        PQclear(r);
                        return true;
                }
                PQclear(r);
                mk_sleep_ms(250);
        }
        return false;
}

/* The rows of 'sql' as tab-separated lines. */
static char *query_tsv(PGconn *db, const char *sql)
{
        PGresult *r = PQexec(db, sql);
        size_t cap = 1 << 20, len = 0;
        char *out = malloc(cap);

        cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s: %s", sql,
                     PQresultErrorMessage(r));
        out[0] = '\0';
        for (int i = 0; i < PQntuples(r); i++)
                for (int j = 0; j < PQnfields(r); j++) {
                        const char *v = PQgetvalue(r, i, j);
                        size_t n = strlen(v);
                        cr_assert_lt(len + n + 2, cap);
                        memcpy(out + len, v, n);
                        len += n;
                        out[len++] = j + 1 < PQnfields(r) ? '\t' : '\n';
                        out[len] = '\0';
                }
        PQclear(r);
        return out;
}

#define TYPE_NAME                                                              \
        "CASE type WHEN 1 THEN 'inference.tokens' WHEN 2 THEN "                \
        "'inference.iterations' WHEN 3 THEN 'inference.matrix_ops' WHEN 5 "    \
        "THEN 'task.outcome' ELSE 'device.seat' END"

/* How many messages loadgen sent, from its closing line; -1 if absent. */
static long long loadgen_messages(const struct mk_case *c)
{
        char path[300], line[512];
        long long n = -1;
        FILE *f;

        snprintf(path, sizeof path, "%s/loadgen.log", c->dir);
        f = fopen(path, "r");
        while (f && fgets(line, sizeof line, f)) {
                const char *at = strstr(line, " messages to ");
                if (!at)
                        continue;
                while (at > line && at[-1] >= '0' && at[-1] <= '9')
                        at--;
                n = atoll(at);
        }
        if (f)
                fclose(f);
        return n;
}

/* A query's one-line answer with the case's group in its only '%s'. */
static char *group_tsv(struct mk_case *c, const char *fmt, const char *group)
{
        char sql[512];
        char *lit = PQescapeLiteral(c->db, group, strlen(group));

        cr_assert_not_null(lit);
        snprintf(sql, sizeof sql, fmt, lit);
        PQfreemem(lit);
        return query_tsv(c->db, sql);
}

/*
** The broker logged some messages twice (seen with the mock cluster when a
** leader goes away while a produce request is in flight: loadgen's
** idempotent producer retries it). The meter rightly counts those copies
** as duplicates (bad units in them as dead letters again), so its counts
** cannot equal loadgen's. Read the topic again with a fault-free meter in
** a group of its own: every unit is then a duplicate or a dead letter, and
** consumed and dead letters must equal the faulted run's. Returns the dead
** letters the topic's content makes.
*/
static long long check_against_replay(struct mk_case *c, const struct truth *t)
{
        static const char sums[] = "SELECT sum(consumed), sum(stored),"
                                   " sum(dead_lettered) FROM ingest_counts"
                                   " WHERE consumer_group = %s";
        char group[96], log[300], want[128];
        const char *argv[] = {tk_tally_bin(),   "meter", "--topic",    c->name,
                              "--group",        group,   "--batch-ms", "200",
                              "--exit-idle-ms", "5000",  NULL};
        char *mine, *again;
        long long consumed = 0, stored = 0, dead = 0;

        snprintf(group, sizeof group, "%s_replay", c->name);
        snprintf(log, sizeof log, "%s/replay.log", c->dir);
        cr_assert_eq(mk_wait(spawn(argv, log), 240000), 0,
                     "the replaying meter failed (see %s)", log);
        mine = group_tsv(c, sums, c->name);
        again = group_tsv(c, sums, group);
        cr_assert_eq(
            sscanf(mine, "%lld\t%lld\t%lld", &consumed, &stored, &dead), 3,
            "%s", mine);
        cr_expect_gt(consumed, t->produced,
                     "counts differ without extra"
                     " messages in the topic");
        cr_expect_eq(stored, t->stored, "stored events");
        cr_expect_geq(dead, t->dead, "dead-lettered units");
        /* The replay stores nothing: it finds every key already there. */
        snprintf(want, sizeof want, "%lld\t0\t%lld\n", consumed, dead);
        cr_expect_str_eq(again, want,
                         "a fault-free reading of the same topic counts"
                         " otherwise (consumed, stored, dead letters)");
        free(mine);
        free(again);
        return dead;
}

void mk_check_truth(struct mk_case *c)
{
        static struct truth t;
        char *events, *rollups, *counts, *dead;
        char want[256];
        long long want_dead;

        read_truth(c->truth, &t);
        want_dead = t.dead;
        events =
            query_tsv(c->db, "SELECT customer_id, " TYPE_NAME ", count(*),"
                             " coalesce(sum(input_tokens), 0),"
                             " coalesce(sum(output_tokens), 0),"
                             " coalesce(sum(cached_input_tokens), 0),"
                             " coalesce(sum(iterations), 0),"
                             " coalesce(sum(tokens), 0), coalesce(sum(mac), 0),"
                             " coalesce(sum(units), 0)"
                             " FROM events GROUP BY 1, 2 ORDER BY 1, 2");
        cr_expect_str_eq(events, t.rows,
                         "stored events differ from the ground truth");
        /* Rollups hold the same sums (seats are read from events). */
        rollups = query_tsv(c->db, "SELECT customer_id, " TYPE_NAME
                                   ", sum(event_count),"
                                   " sum(input_tokens), sum(output_tokens),"
                                   " sum(cached_input_tokens), sum(iterations),"
                                   " sum(tokens), sum(mac), sum(units)"
                                   " FROM usage_rollups"
                                   " GROUP BY 1, 2 ORDER BY 1, 2");
        free(events);
        events =
            query_tsv(c->db, "SELECT customer_id, " TYPE_NAME ", count(*),"
                             " coalesce(sum(input_tokens), 0),"
                             " coalesce(sum(output_tokens), 0),"
                             " coalesce(sum(cached_input_tokens), 0),"
                             " coalesce(sum(iterations), 0),"
                             " coalesce(sum(tokens), 0), coalesce(sum(mac), 0),"
                             " coalesce(sum(units), 0)"
                             " FROM events WHERE type <> 4"
                             " GROUP BY 1, 2 ORDER BY 1, 2");
        cr_expect_str_eq(rollups, events, "rollups differ from the events");
        counts = group_tsv(c,
                           "SELECT sum(consumed), sum(stored),"
                           " sum(duplicates), sum(dead_lettered)"
                           " FROM ingest_counts WHERE consumer_group = %s",
                           c->name);
        snprintf(want, sizeof want, "%lld\t%lld\t%lld\t%lld\n", t.produced,
                 t.stored, t.duplicates, t.dead);
        if (strcmp(counts, want)) {
                char *held = group_tsv(c,
                                       "SELECT sum(next_offset) FROM"
                                       " consumer_offsets WHERE"
                                       " consumer_group = %s",
                                       c->name);
                long long sent = loadgen_messages(c);
                fprintf(stderr,
                        "%s: the meter counted %.*s (consumed,"
                        " stored, duplicates, dead letters); loadgen sent"
                        " %lld messages, the topic holds %s",
                        c->name, (int)strcspn(counts, "\n"), counts, sent,
                        held);
                if (sent >= 0 && atoll(held) > sent)
                        want_dead = check_against_replay(c, &t);
                else
                        cr_expect_str_eq(counts, want,
                                         "consumed, stored, duplicates, dead"
                                         " letters: the meter counted %s,"
                                         " the producer's truth is %s",
                                         counts, want);
                free(held);
        }
        dead = group_tsv(c,
                         "SELECT coalesce(sum(batch_count), 0) FROM"
                         " dead_letters WHERE consumer_group = %s",
                         c->name);
        snprintf(want, sizeof want, "%lld\n", want_dead);
        cr_expect_str_eq(dead, want, "dead-letter rows: %s, want %s", dead,
                         want);
        free(dead);
        /* The meter's keys are the ones tally_event_key() computes. */
        dead = query_tsv(c->db, "SELECT count(*) FROM events e WHERE NOT EXISTS"
                                " (SELECT 1 FROM event_keys k WHERE k.key_hash"
                                " = tally_event_key(e.customer_id, e.source,"
                                " e.event_id))");
        cr_expect_str_eq(dead, "0\n", "events without their dedup key");
        free(events);
        free(rollups);
        free(counts);
        free(dead);
}

/* ---- HTTP -------------------------------------------------------------------
 */

int mk_free_port(void)
{
        struct sockaddr_in a = {.sin_family = AF_INET};
        socklen_t len = sizeof a;
        int fd = socket(AF_INET, SOCK_STREAM, 0), port;

        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
        getsockname(fd, (struct sockaddr *)&a, &len);
        port = ntohs(a.sin_port);
        close(fd);
        return port;
}

int mk_http_get(int port, const char *path, char *body, size_t size)
{
        struct sockaddr_in a = {.sin_family = AF_INET};
        int fd = socket(AF_INET, SOCK_STREAM, 0), status = -1;
        char req[512];
        size_t len = 0;
        ssize_t n;

        a.sin_port = htons((uint16_t)port);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        body[0] = '\0';
        if (connect(fd, (struct sockaddr *)&a, sizeof a)) {
                close(fd);
                return -1;
        }
        snprintf(req, sizeof req, "GET %s HTTP/1.0\r\nHost: localhost\r\n\r\n",
                 path);
        if (write(fd, req, strlen(req)) < 0) {
                close(fd);
                return -1;
        }
        while (len + 1 < size && (n = read(fd, body + len, size - len - 1)) > 0)
                len += (size_t)n;
        body[len] = '\0';
        close(fd);
        sscanf(body, "HTTP/1.%*d %d", &status);
        {
                char *b = strstr(body, "\r\n\r\n");
                if (b)
                        memmove(body, b + 4, strlen(b + 4) + 1);
        }
        return status;
}

void mk_sh(const char *fmt, ...)
{
        static char cmd[8192];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(cmd, sizeof cmd, fmt, ap);
        va_end(ap);
        cr_assert_eq(system(cmd), 0, "%s", cmd);
}
