/* tally broker --control: commands read from a FIFO, applied to the mock
   cluster, acknowledged line by line in a log file beside it. */
#include "core/alloc.h"
#include "broker/control.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"

/* A command fits in one atomic pipe write (PIPE_BUF is at least 512), so
   lines from concurrent writers never interleave. */
#define LINE_MAX_BYTES 512
#define MAX_ARGS 8
#define MAX_PUSHED_ERRORS 100000

struct brk_control {
        rd_kafka_mock_cluster_t *mc;
        char path[4096];
        int fifo_fd;
        int stop_fds[2]; /* a pipe: a byte on [1] ends the thread */
        FILE *log;
        pthread_t thread;
};

/* Kafka protocol request names accepted for APIKEY. */
static const struct {
        const char *name;
        int16_t key;
} api_keys[] = {
    {"Produce", 0},          {"Fetch", 1},
    {"ListOffsets", 2},      {"Metadata", 3},
    {"OffsetCommit", 8},     {"OffsetFetch", 9},
    {"FindCoordinator", 10}, {"JoinGroup", 11},
    {"Heartbeat", 12},       {"LeaveGroup", 13},
    {"SyncGroup", 14},       {"ApiVersions", 18},
    {"InitProducerId", 22},  {"AddPartitionsToTxn", 24},
    {"EndTxn", 26},
};

static int failf(char *why, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int failf(char *why, size_t size, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(why, size, fmt, ap);
        va_end(ap);
        return -1;
}

static int parse_int(const char *s, long min, long max, long *out)
{
        char *end;
        long v;

        if (!s || !*s)
                return -1;
        errno = 0;
        v = strtol(s, &end, 10);
        if (*end || errno || v < min || v > max)
                return -1;
        *out = v;
        return 0;
}

static int parse_api_key(const char *s, int16_t *out)
{
        long v;

        if (parse_int(s, 0, 1000, &v) == 0) {
                *out = (int16_t)v;
                return 0;
        }
        for (size_t i = 0; i < sizeof api_keys / sizeof api_keys[0]; i++) {
                if (strcasecmp(s, api_keys[i].name) == 0) {
                        *out = api_keys[i].key;
                        return 0;
                }
        }
        return -1;
}

/* A librdkafka error by number or by name, with or without the
   RD_KAFKA_RESP_ERR_ prefix; only codes librdkafka knows. */
static int parse_err(const char *s, rd_kafka_resp_err_t *out)
{
        const struct rd_kafka_err_desc *descs;
        size_t n;
        long v;
        bool numeric = parse_int(s, -1000, 1000, &v) == 0;

        if (strncasecmp(s, "RD_KAFKA_RESP_ERR_", 18) == 0)
                s += 18;
        rd_kafka_get_err_descs(&descs, &n);
        for (size_t i = 0; i < n; i++) {
                if (!descs[i].name)
                        continue;
                if (numeric ? (long)descs[i].code == v
                            : strcasecmp(descs[i].name, s) == 0) {
                        *out = descs[i].code;
                        return 0;
                }
        }
        return -1;
}

static int parse_broker(const char *s, int32_t *out, char *why, size_t size)
{
        long v;

        if (parse_int(s, -1, INT32_MAX, &v))
                return failf(why, size,
                             "broker id '%s' is not -1 (all) or a broker "
                             "number",
                             s);
        *out = (int32_t)v;
        return 0;
}

static int kafka_result(rd_kafka_resp_err_t kerr, char *why, size_t size)
{
        if (kerr)
                return failf(why, size, "%s", rd_kafka_err2str(kerr));
        return 0;
}

static int do_updown(rd_kafka_mock_cluster_t *mc, char **args, char *why,
                     size_t size)
{
        int32_t id = 0;

        if (parse_broker(args[1], &id, why, size))
                return -1;
        return kafka_result(strcmp(args[0], "down") == 0
                                ? rd_kafka_mock_broker_set_down(mc, id)
                                : rd_kafka_mock_broker_set_up(mc, id),
                            why, size);
}

static int do_rtt(rd_kafka_mock_cluster_t *mc, char **args, char *why,
                  size_t size)
{
        int32_t id = 0;
        long ms;

        if (parse_broker(args[1], &id, why, size))
                return -1;
        if (parse_int(args[2], 0, 3600 * 1000, &ms))
                return failf(why, size, "rtt '%s' is not 0..3600000 ms",
                             args[2]);
        return kafka_result(rd_kafka_mock_broker_set_rtt(mc, id, (int)ms), why,
                            size);
}

static int do_leader(rd_kafka_mock_cluster_t *mc, char **args, char *why,
                     size_t size)
{
        int32_t id = 0;
        long partition;

        if (parse_int(args[2], 0, INT32_MAX, &partition))
                return failf(why, size, "partition '%s' is not a number",
                             args[2]);
        if (parse_broker(args[3], &id, why, size))
                return -1;
        return kafka_result(rd_kafka_mock_partition_set_leader(
                                mc, args[1], (int32_t)partition, id),
                            why, size);
}

static int do_errors(rd_kafka_mock_cluster_t *mc, char **args, char *why,
                     size_t size)
{
        rd_kafka_resp_err_t code, *codes;
        int16_t key;
        long count;

        if (parse_api_key(args[1], &key))
                return failf(why, size, "unknown api key '%s'", args[1]);
        if (parse_int(args[2], 1, MAX_PUSHED_ERRORS, &count))
                return failf(why, size, "count '%s' is not 1..%d", args[2],
                             MAX_PUSHED_ERRORS);
        if (parse_err(args[3], &code))
                return failf(why, size, "unknown error code '%s'", args[3]);
        codes = tl_malloc((size_t)count * sizeof *codes);
        if (!codes)
                return failf(why, size, "out of memory");
        for (long i = 0; i < count; i++)
                codes[i] = code;
        rd_kafka_mock_push_request_errors_array(mc, key, (size_t)count, codes);
        tl_free(codes);
        return 0;
}

static int do_clear(rd_kafka_mock_cluster_t *mc, char **args, char *why,
                    size_t size)
{
        int16_t key;

        if (parse_api_key(args[1], &key))
                return failf(why, size, "unknown api key '%s'", args[1]);
        rd_kafka_mock_clear_request_errors(mc, key);
        return 0;
}

static const struct {
        const char *name;
        int argc; /* with the name */
        const char *usage;
        int (*run)(rd_kafka_mock_cluster_t *mc, char **args, char *why,
                   size_t size);
} commands[] = {
    {"down", 2, "down BROKER_ID", do_updown},
    {"up", 2, "up BROKER_ID", do_updown},
    {"rtt", 3, "rtt BROKER_ID MS", do_rtt},
    {"leader", 4, "leader TOPIC PARTITION BROKER_ID", do_leader},
    {"errors", 4, "errors APIKEY COUNT ERRCODE", do_errors},
    {"clear", 2, "clear APIKEY", do_clear},
};

int brk_control_apply(rd_kafka_mock_cluster_t *mc, const char *line, char *why,
                      size_t why_size)
{
        char copy[LINE_MAX_BYTES], *args[MAX_ARGS], *save = NULL, *tok;
        int argc = 0;

        if (strlen(line) >= sizeof copy)
                return failf(why, why_size, "longer than %d bytes",
                             LINE_MAX_BYTES - 1);
        strcpy(copy, line);
        for (tok = strtok_r(copy, " \t\r", &save); tok;
             tok = strtok_r(NULL, " \t\r", &save)) {
                if (argc == MAX_ARGS)
                        return failf(why, why_size, "too many arguments");
                args[argc++] = tok;
        }
        if (argc == 0)
                return failf(why, why_size, "empty command");
        for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
                if (strcmp(args[0], commands[i].name) != 0)
                        continue;
                if (argc != commands[i].argc)
                        return failf(why, why_size, "usage: %s",
                                     commands[i].usage);
                return commands[i].run(mc, args, why, why_size);
        }
        return failf(why, why_size,
                     "unknown command '%s' (down, up, rtt, leader, errors, "
                     "clear)",
                     args[0]);
}

/* Apply one line and append its acknowledgement; blank lines are ignored. */
static void handle_line(struct brk_control *c, char *line, bool overlong)
{
        char why[256], q1[LINE_MAX_BYTES + 64], q2[320];
        size_t len = strlen(line);
        int rc;

        while (len && strchr(" \t\r", line[len - 1]))
                line[--len] = '\0';
        while (*line == ' ' || *line == '\t')
                line++;
        if (!*line)
                return;
        if (overlong)
                rc = failf(why, sizeof why, "longer than %d bytes",
                           LINE_MAX_BYTES - 1);
        else
                rc = brk_control_apply(c->mc, line, why, sizeof why);
        if (rc == 0) {
                tl_log(TL_LOG_INFO, "broker", "control applied", "command=%s",
                       tl_log_quote(line, q1, sizeof q1));
                fprintf(c->log, "ok %s\n", line);
        } else {
                tl_log(TL_LOG_WARN, "broker", "control rejected",
                       "command=%s reason=%s",
                       tl_log_quote(line, q1, sizeof q1),
                       tl_log_quote(why, q2, sizeof q2));
                fprintf(c->log, "error %s: %s\n", line, why);
        }
        fflush(c->log);
}

/* True once brk_control_stop asked: commands still buffered then
   are dropped rather than applied to a cluster about to go. */
static bool stop_requested(const struct brk_control *c)
{
        struct pollfd p = {c->stop_fds[0], POLLIN, 0};

        return poll(&p, 1, 0) > 0;
}

static void *control_thread(void *arg)
{
        struct brk_control *c = arg;
        char line[LINE_MAX_BYTES], chunk[1024];
        size_t len = 0;
        bool overlong = false;

        for (;;) {
                struct pollfd p[2] = {{c->fifo_fd, POLLIN, 0},
                                      {c->stop_fds[0], POLLIN, 0}};
                ssize_t n;

                if (poll(p, 2, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        break;
                }
                if (p[1].revents)
                        break;
                if (!(p[0].revents & POLLIN))
                        continue;
                /* Opened read-write, the FIFO never reports end of file. */
                n = read(c->fifo_fd, chunk, sizeof chunk);
                if (n < 0 && (errno == EINTR || errno == EAGAIN))
                        continue;
                if (n <= 0)
                        break;
                for (ssize_t i = 0; i < n; i++) {
                        if (chunk[i] == '\n' && stop_requested(c))
                                return NULL;
                        if (chunk[i] == '\n') {
                                line[len] = '\0';
                                handle_line(c, line, overlong);
                                len = 0;
                                overlong = false;
                        } else if (len + 1 < sizeof line) {
                                line[len++] = chunk[i];
                        } else {
                                overlong = true;
                        }
                }
        }
        return NULL;
}

/* Replace a stale FIFO at 'path', refuse to replace anything else. */
static int make_fifo(const char *path)
{
        struct stat st;

        if (lstat(path, &st) == 0) {
                if (!S_ISFIFO(st.st_mode)) {
                        fprintf(stderr,
                                "tally broker: --control %s exists and is "
                                "not a FIFO\n",
                                path);
                        return -1;
                }
                unlink(path);
        }
        if (mkfifo(path, 0600)) {
                fprintf(stderr, "tally broker: --control %s: %s\n", path,
                        strerror(errno));
                return -1;
        }
        return 0;
}

int brk_control_start(rd_kafka_mock_cluster_t *mc, const char *path,
                      struct brk_control **out)
{
        struct brk_control *c = tl_calloc(1, sizeof *c);
        char log_path[sizeof c->path + 8];

        if (!c || strlen(path) >= sizeof c->path) {
                fprintf(stderr, "tally broker: --control path too long\n");
                tl_free(c);
                return -1;
        }
        c->mc = mc;
        c->fifo_fd = c->stop_fds[0] = c->stop_fds[1] = -1;
        strcpy(c->path, path);
        snprintf(log_path, sizeof log_path, "%s.log", path);
        if (make_fifo(path))
                goto fail;
        c->fifo_fd = open(path, O_RDWR | O_CLOEXEC);
        c->log = fopen(log_path, "w");
        if (c->fifo_fd < 0 || !c->log || pipe(c->stop_fds)) {
                fprintf(stderr, "tally broker: --control %s: %s\n", path,
                        strerror(errno));
                goto fail_fifo;
        }
        if (pthread_create(&c->thread, NULL, control_thread, c)) {
                fprintf(stderr, "tally broker: cannot start control thread\n");
                goto fail_fifo;
        }
        tl_log(TL_LOG_INFO, "broker", "control listening", "fifo=%s", path);
        *out = c;
        return 0;
fail_fifo:
        unlink(path);
fail:
        if (c->log)
                fclose(c->log);
        for (int i = 0; i < 2; i++)
                if (c->stop_fds[i] >= 0)
                        close(c->stop_fds[i]);
        if (c->fifo_fd >= 0)
                close(c->fifo_fd);
        tl_free(c);
        return -1;
}

void brk_control_stop(struct brk_control **pp)
{
        struct brk_control *c = *pp;

        if (!c)
                return;
        /* A byte into our own empty pipe cannot block or fail. */
        while (write(c->stop_fds[1], "x", 1) < 0 && errno == EINTR)
                ;
        pthread_join(c->thread, NULL);
        close(c->stop_fds[0]);
        close(c->stop_fds[1]);
        close(c->fifo_fd);
        unlink(c->path);
        fclose(c->log);
        tl_free(c);
        *pp = NULL;
}
