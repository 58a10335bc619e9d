/* The demo's processes: a private PostgreSQL (tools/scripts/pg-fixture.sh),
   `tally broker`, `tally meter` and `tally serve`, as children of the demo
   that die with it. They are the real services, not library calls, so the
   demo exercises exactly what production runs. */
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
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "demo/demo.h"

const char *demo_path(const struct demo_env *env, const char *name, char *buf,
                      size_t size)
{
        snprintf(buf, size, "%s/%s", env->dir, name);
        return buf;
}

static void sleep_ms(long ms)
{
        struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

        while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
                ;
}

/* Fork and exec 'argv' with stdout and stderr to 'log'; the child gets
   SIGTERM when the demo dies, so a killed demo leaves nothing running. */
static pid_t spawn(char *const argv[], const char *log)
{
        pid_t parent = getpid();
        pid_t pid = fork();

        if (pid != 0)
                return pid;
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
                _exit(127);
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (fd >= 0) {
                dup2(fd, 1);
                dup2(fd, 2);
        }
        execv(argv[0], argv);
        _exit(127);
}

const char *demo_self_exe(void)
{
        static char path[4096];

        if (!path[0]) {
                ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
                path[n > 0 ? n : 0] = '\0';
        }
        return path;
}

/* Run pg-fixture.sh start in a fresh directory and adopt its exports. */
static tl_status start_postgres(struct demo_env *env, struct tl_error *err)
{
        char cmd[1400], line[700];
        FILE *p;
        int n = 0;

        /* /tmp, not DIR: the socket path must stay short, and the server
           user (postgres, when we are root) must reach it. */
        snprintf(env->pg_dir, sizeof env->pg_dir, "/tmp/tally-demo-pg-XXXXXX");
        if (!mkdtemp(env->pg_dir)) {
                env->pg_dir[0] = '\0';
                return tl_fail(err, TL_EIO,
                               "cannot create a directory in "
                               "/tmp for PostgreSQL: %s",
                               strerror(errno));
        }
        snprintf(cmd, sizeof cmd,
                 "bash '%s/tools/scripts/pg-fixture.sh' start '%s' --watch %d "
                 "2>>'%s/postgres.log'",
                 TALLY_SOURCE_DIR, env->pg_dir, (int)getpid(), env->dir);
        p = popen(cmd, "r");
        if (!p)
                return tl_fail(err, TL_EIO, "cannot run pg-fixture.sh: %s",
                               strerror(errno));
        while (fgets(line, sizeof line, p)) {
                char *eq, *name = line + 7;

                line[strcspn(line, "\n")] = '\0';
                if (strncmp(line, "export ", 7) || !(eq = strchr(name, '=')))
                        continue;
                *eq = '\0';
                setenv(name, eq + 1, 1);
                n++;
        }
        if (pclose(p) != 0 || n < 3)
                return tl_fail(err, TL_EIO,
                               "PostgreSQL did not start (see %s/postgres.log)",
                               env->dir);
        return TL_OK;
}

static tl_status exec_sql(const char *sql, struct tl_error *err)
{
        PGconn *c = PQconnectdb("dbname=postgres");
        tl_status rc = TL_OK;

        if (PQstatus(c) != CONNECTION_OK) {
                rc = tl_fail(err, TL_EDB, "PostgreSQL: %s", PQerrorMessage(c));
        } else {
                PGresult *r = PQexec(c, sql);
                if (PQresultStatus(r) != PGRES_COMMAND_OK)
                        rc = tl_fail(err, TL_EDB, "%s: %s", sql,
                                     PQresultErrorMessage(r));
                PQclear(r);
        }
        PQfinish(c);
        return rc;
}

static tl_status wait_file(const char *path, pid_t pid, const char *what,
                           struct tl_error *err)
{
        struct stat st;

        for (int i = 0; i < 300; i++) {
                if (stat(path, &st) == 0 && st.st_size > 0)
                        return TL_OK;
                if (waitpid(pid, NULL, WNOHANG) == pid)
                        return tl_fail(err, TL_EIO, "%s exited at start", what);
                sleep_ms(50);
        }
        return tl_fail(err, TL_EIO, "%s did not start within 15 s", what);
}

static tl_status start_broker(struct demo_env *env, struct tl_error *err)
{
        char addr[600], log[600];
        char *argv[] = {
            (char *)demo_self_exe(), "broker", "--topic", DEMO_TOPIC ":6",
            "--address-file",        addr,     NULL};
        FILE *f;

        demo_path(env, "broker.addr", addr, sizeof addr);
        unlink(addr);
        env->broker_pid =
            spawn(argv, demo_path(env, "broker.log", log, sizeof log));
        if (env->broker_pid < 0)
                return tl_fail(err, TL_EIO, "fork: %s", strerror(errno));
        if (wait_file(addr, env->broker_pid, "tally broker", err))
                return TL_EIO;
        f = fopen(addr, "r");
        if (!f || !fgets(env->brokers, sizeof env->brokers, f)) {
                if (f)
                        fclose(f);
                return tl_fail(err, TL_EIO, "cannot read %s", addr);
        }
        fclose(f);
        env->brokers[strcspn(env->brokers, "\n")] = '\0';
        return TL_OK;
}

tl_status demo_env_start(struct demo_env *env, const struct demo_opts *o,
                         struct tl_error *err)
{
        tl_status rc;

        if (o->database) {
                setenv("DATABASE_URL", o->database, 1);
        } else {
                if ((rc = start_postgres(env, err)))
                        return rc;
                /* A fresh cluster each run: the demo is reproducible. */
                if ((rc = exec_sql("CREATE DATABASE tally_demo", err)))
                        return rc;
                setenv("PGDATABASE", "tally_demo", 1);
                unsetenv("DATABASE_URL");
        }
        if (o->brokers) {
                snprintf(env->brokers, sizeof env->brokers, "%s", o->brokers);
                return TL_OK;
        }
        return start_broker(env, err);
}

static int free_port(void)
{
        struct sockaddr_in a = {.sin_family = AF_INET};
        socklen_t len = sizeof a;
        int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
            getsockname(fd, (struct sockaddr *)&a, &len) == 0)
                port = ntohs(a.sin_port);
        if (fd >= 0)
                close(fd);
        return port;
}

/* Wait for GET /healthz on 'addr' to answer 200 from the child '*pid'. */
static tl_status wait_healthy(const char *addr, pid_t *pid, const char *what,
                              const char *log, struct tl_error *err)
{
        char body[256];

        for (int i = 0; i < 300; i++) {
                if (demo_http_get(addr, NULL, "/healthz", body, sizeof body) ==
                    200)
                        return TL_OK;
                if (waitpid(*pid, NULL, WNOHANG) == *pid) {
                        *pid = 0;
                        return tl_fail(err, TL_EIO,
                                       "%s exited at start (see %s)", what,
                                       log);
                }
                sleep_ms(50);
        }
        return tl_fail(err, TL_EIO, "%s not healthy within 15 s (see %s)", what,
                       log);
}

tl_status demo_meter_start(struct demo_env *env, struct tl_error *err)
{
        char log[600];
        int port = free_port();

        if (port < 0)
                return tl_fail(err, TL_EIO, "no free port for the meter");
        snprintf(env->http, sizeof env->http, "127.0.0.1:%d", port);
        char *argv[] = {(char *)demo_self_exe(),
                        "meter",
                        "--brokers",
                        env->brokers,
                        "--topic",
                        DEMO_TOPIC,
                        "--group",
                        DEMO_GROUP,
                        "--http",
                        env->http,
                        "--batch-ms",
                        "100",
                        NULL};
        env->meter_pid =
            spawn(argv, demo_path(env, "meter.log", log, sizeof log));
        if (env->meter_pid < 0)
                return tl_fail(err, TL_EIO, "fork: %s", strerror(errno));
        return wait_healthy(env->http, &env->meter_pid, "tally meter", log,
                            err);
}

tl_status demo_serve_start(struct demo_env *env, struct tl_error *err)
{
        char rules[600], log[600];
        int port = free_port();

        if (port < 0)
                return tl_fail(err, TL_EIO, "no free port for tally serve");
        snprintf(env->api, sizeof env->api, "127.0.0.1:%d", port);
        char *argv[] = {(char *)demo_self_exe(),
                        "serve",
                        "--http",
                        env->api,
                        "--rules",
                        (char *)demo_path(env, "rules", rules, sizeof rules),
                        "--brokers",
                        env->brokers,
                        "--topic",
                        DEMO_TOPIC,
                        NULL};
        env->serve_pid =
            spawn(argv, demo_path(env, "serve.log", log, sizeof log));
        if (env->serve_pid < 0)
                return tl_fail(err, TL_EIO, "fork: %s", strerror(errno));
        return wait_healthy(env->api, &env->serve_pid, "tally serve", log, err);
}

tl_status demo_key_create(const struct demo_env *env, const char *scope,
                          const char *name, char *key, size_t size,
                          struct tl_error *err)
{
        char log[600];
        char *argv[] = {
            (char *)demo_self_exe(), "keys",   "create",     "--scope",
            (char *)scope,           "--name", (char *)name, NULL};
        int fds[2], status = -1;
        size_t len = 0;
        ssize_t n;
        pid_t pid;

        demo_path(env, "keys.log", log, sizeof log);
        if (pipe(fds) != 0)
                return tl_fail(err, TL_EIO, "pipe: %s", strerror(errno));
        fcntl(fds[0], F_SETFD, FD_CLOEXEC);
        fcntl(fds[1], F_SETFD, FD_CLOEXEC);
        pid = fork();
        if (pid == 0) {
                int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
                dup2(fds[1], 1);
                if (fd >= 0)
                        dup2(fd, 2);
                execv(argv[0], argv);
                _exit(127);
        }
        close(fds[1]);
        while (pid > 0 && len + 1 < size &&
               (n = read(fds[0], key + len, size - 1 - len)) != 0) {
                if (n > 0)
                        len += (size_t)n;
                else if (errno != EINTR)
                        break;
        }
        close(fds[0]);
        key[len] = '\0';
        key[strcspn(key, "\n")] = '\0';
        if (pid < 0)
                return tl_fail(err, TL_EIO, "fork: %s", strerror(errno));
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || !key[0])
                return tl_fail(err, TL_EIO,
                               "tally keys create --scope %s failed (see %s)",
                               scope, log);
        return TL_OK;
}

static int stop_child(pid_t *pid, int timeout_ms)
{
        int status = -1;

        if (*pid <= 0)
                return 0;
        kill(*pid, SIGTERM);
        for (int t = 0; t < timeout_ms; t += 20) {
                if (waitpid(*pid, &status, WNOHANG) == *pid) {
                        *pid = 0;
                        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
                }
                sleep_ms(20);
        }
        kill(*pid, SIGKILL);
        waitpid(*pid, NULL, 0);
        *pid = 0;
        return -1;
}

tl_status demo_serve_stop(struct demo_env *env, struct tl_error *err)
{
        int code = stop_child(&env->serve_pid, 30000);

        return code ? tl_fail(err, TL_EIO,
                              "tally serve exited with %d after SIGTERM", code)
                    : TL_OK;
}

tl_status demo_meter_stop(struct demo_env *env, struct tl_error *err)
{
        int code = stop_child(&env->meter_pid, 30000);

        return code ? tl_fail(err, TL_EIO,
                              "tally meter exited with %d after SIGTERM", code)
                    : TL_OK;
}

void demo_env_stop(struct demo_env *env)
{
        char cmd[1200];

        stop_child(&env->serve_pid, 30000);
        stop_child(&env->meter_pid, 30000);
        stop_child(&env->broker_pid, 10000);
        if (env->pg_dir[0]) {
                snprintf(cmd, sizeof cmd,
                         "bash '%s/tools/scripts/pg-fixture.sh' stop '%s' "
                         "--remove >/dev/null 2>&1",
                         TALLY_SOURCE_DIR, env->pg_dir);
                if (system(cmd) != 0)
                        fprintf(stderr,
                                "tally demo: could not stop the "
                                "PostgreSQL in %s\n",
                                env->pg_dir);
                env->pg_dir[0] = '\0';
        }
}

int demo_http_get(const char *addr, const char *key, const char *path,
                  char *body, size_t size)
{
        return demo_http(addr, "GET", key, path, NULL, body, size);
}

int demo_http(const char *addr, const char *method, const char *key,
              const char *path, const char *json, char *body, size_t size)
{
        struct sockaddr_in a = {.sin_family = AF_INET};
        char req[4096], type[96] = "", *buf = body, *sep;
        size_t len = 0;
        int fd, status = -1, n_req;
        ssize_t n;

        body[0] = '\0';
        a.sin_port = htons((uint16_t)atoi(strchr(addr, ':') + 1));
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
                snprintf(body, size, "connect %s: %s", addr, strerror(errno));
                if (fd >= 0)
                        close(fd);
                return -1;
        }
        if (json)
                snprintf(type, sizeof type,
                         "Content-Type: application/json\r\n"
                         "Content-Length: %zu\r\n",
                         strlen(json));
        n_req =
            snprintf(req, sizeof req,
                     "%s %s HTTP/1.0\r\nHost: %s\r\n%s%s%s%s"
                     "Connection: close\r\n\r\n%s",
                     method, path, addr, key ? "Authorization: Bearer " : "",
                     key ? key : "", key ? "\r\n" : "", type, json ? json : "");
        if (n_req < 0 || (size_t)n_req >= sizeof req) {
                close(fd);
                snprintf(body, size, "request too long: %s %s", method, path);
                return -1;
        }
        if (write(fd, req, (size_t)n_req) == n_req)
                while (len + 1 < size &&
                       (n = read(fd, buf + len, size - 1 - len)) > 0)
                        len += (size_t)n;
        close(fd);
        buf[len] = '\0';
        if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1)
                return -1;
        sep = strstr(buf, "\r\n\r\n");
        if (sep)
                memmove(buf, sep + 4, strlen(sep + 4) + 1);
        return status;
}
