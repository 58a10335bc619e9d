/* Helpers of the meter suites: a private broker and database per test,
   loadgen runs, meter processes, and the check against loadgen's truth. */
#ifndef MK_METERKIT_H
#define MK_METERKIT_H

#include <stdbool.h>
#include <sys/types.h>

#include <libpq-fe.h>

#include "testkit.h"

struct mk_case {
        char name[64]; /* database, topic and group */
        char truth[256];
        char dir[128]; /* scratch directory */
        struct tk_broker broker;
        PGconn *db;
};

/*
** A fresh database and a broker of 'brokers' brokers whose topics have
** 'partitions' partitions; exports PGDATABASE and TALLY_KAFKA_BROKERS for
** the child processes. Fails the test on error.
*/
void mk_case_start(struct mk_case *c, const char *name, int brokers,
                   int partitions);
void mk_case_stop(struct mk_case *c);

/* Run loadgen to the case's topic with extra arguments (NULL-terminated);
   fails the test unless it exits 0. */
void mk_loadgen(struct mk_case *c, const char *const *extra);

/* Start loadgen in the background; mk_wait() it. */
pid_t mk_loadgen_spawn(struct mk_case *c, const char *const *extra);

/* Start `tally meter` on the case's topic and group with test timeouts
   and extra arguments; stderr goes to DIR/meter-N.log. */
pid_t mk_meter_spawn(struct mk_case *c, const char *const *extra);

/* The log file of the meter mk_meter_spawn started last. */
const char *mk_meter_log(void);

/* Wait for 'pid' up to 'timeout_ms'; its exit code, or -1 (then killed). */
int mk_wait(pid_t pid, int timeout_ms);

/* Run the meter until caught up and idle; fails the test unless exit 0. */
void mk_meter_drain(struct mk_case *c);

/*
** After faults against a running meter: wait for loadgen, then until the
** meter has committed every unit, stop it with SIGTERM (exit 0 expected)
** and check the truth.
*/
void mk_finish_live(struct mk_case *c, pid_t loadgen, pid_t meter);

/*
** Compare the database with loadgen's truth file: events per customer and
** type with their sums, the rollups, the ingest counts (stored +
** duplicates + dead letters = produced) and the dead letters.
*/
void mk_check_truth(struct mk_case *c);

/* The totals of the case's truth file. */
void mk_truth_totals(struct mk_case *c, long long *produced, long long *stored,
                     long long *duplicates, long long *dead);

/* Poll ingest_counts until 'want' units are committed; false on timeout.
   Survives the database going away meanwhile. */
bool mk_wait_consumed(struct mk_case *c, long long want, int timeout_ms);

/* Run the shell command printf('fmt', ...) and fail the test unless it
   exits 0. */
void mk_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Sleep 'ms' milliseconds. */
void mk_sleep_ms(long ms);

/* A GET on 127.0.0.1:'port'; returns the status and fills 'body'. */
int mk_http_get(int port, const char *path, char *body, size_t size);

/* A free TCP port on loopback. */
int mk_free_port(void);

#endif
