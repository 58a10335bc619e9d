/* Hot reload: a watcher thread revalidates the rules path and swaps sets. */
#include "rating/reload.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/log.h"
#include "core/time.h"

#define LOG_COMP "rating"

/* What ends, replaces or removes a file, and what kills the watch itself. */
#define WATCH_MASK                                                             \
        (IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE |            \
         IN_DELETE | IN_DELETE_SELF | IN_MOVE_SELF)

/*
** A published set. Readers are handed '&view', a copy of the loaded set's
** header that shares its (immutable) catalogs, so a release finds its
** snapshot from the pointer alone: no lookup, no lock.
*/
struct snap {
        struct rate_catalog_set view; /* first member: see snap_of */
        struct rate_catalog_set *owned;
        atomic_size_t refs; /* readers, plus one while it is current */
};

struct rate_reloader {
        char *path;      /* as given; read again at each reload */
        char *watch_dir; /* 'path', or the directory of a file 'path' */
        char *file_name; /* the one name that matters; NULL for a dir */
        uint32_t quiet_ms;
        int inotify_fd;
        int watch;   /* inotify watch descriptor, -1 once lost */
        int wake_fd; /* eventfd: requests and the stop signal */
        pthread_t thread;
        bool thread_started;
        bool lock_ready;
        atomic_bool stopping;

        /* 'lock' guards the pointer swap and the stats; never held while
           parsing, so readers wait at most for a few stores. */
        pthread_mutex_t lock;
        struct snap *current;
        _Atomic uint64_t generation;
        uint64_t failures;
        bool failing;
        atomic_bool watching;
        char last_error[TL_ERROR_MSG_MAX];

        /* The thread's own scratch; too large for its stack frame. */
        struct rate_diags diags;
};

static struct snap *snap_of(const struct rate_catalog_set *s)
{
        /* 'view' is the first member, so the addresses coincide; the const
           is only the readers' promise not to write through it. */
        return (struct snap *)(void *)(uintptr_t)s;
}

/* Wrap 'set' (taken, also on failure) with the current reference. */
static struct snap *snap_new(struct rate_catalog_set *set)
{
        struct snap *p = tl_calloc(1, sizeof *p);

        if (!p) {
                rate_catalog_set_free(&set);
                return NULL;
        }
        p->view = *set;
        p->owned = set;
        atomic_init(&p->refs, 1);
        return p;
}

static void snap_unref(struct snap *p)
{
        /* acq_rel: the freeing thread must see every other holder's reads
           as finished before the memory goes. */
        if (p &&
            atomic_fetch_sub_explicit(&p->refs, 1, memory_order_acq_rel) == 1) {
                rate_catalog_set_free(&p->owned);
                tl_free(p);
        }
}

/* The names rate_catalog_set_load reads (its rule, repeated here because
   the loader keeps it private), plus the ConfigMap symlink. */
static bool matters(const struct rate_reloader *r, const char *name)
{
        size_t len = strlen(name);

        /* Kubernetes swaps `..data` to update every file at once; the
           files themselves are symlinks that see no event. */
        if (strcmp(name, "..data") == 0)
                return true;
        if (r->file_name)
                return strcmp(name, r->file_name) == 0;
        if (name[0] == '.')
                return false;
        return (len > 5 && strcmp(name + len - 5, ".yaml") == 0) ||
               (len > 4 && strcmp(name + len - 4, ".yml") == 0);
}

/* (Re)establish the watch after the directory was deleted or moved. */
static void rewatch(struct rate_reloader *r)
{
        char qdir[512], qerr[128];
        int e;

        if (r->watch >= 0)
                return;
        r->watch = inotify_add_watch(r->inotify_fd, r->watch_dir, WATCH_MASK);
        e = errno;
        atomic_store(&r->watching, r->watch >= 0);
        if (r->watch < 0)
                tl_log(TL_LOG_WARN, LOG_COMP,
                       "rules directory not watched; reload on request only",
                       "dir=%s error=%s",
                       tl_log_quote(r->watch_dir, qdir, sizeof qdir),
                       tl_log_quote(strerror(e), qerr, sizeof qerr));
}

/* Read every pending event; true when one of them calls for a reload. */
static bool drain_events(struct rate_reloader *r)
{
        _Alignas(struct inotify_event) char buf[4096];
        bool relevant = false;
        ssize_t n;

        while ((n = read(r->inotify_fd, buf, sizeof buf)) > 0) {
                for (char *p = buf; p < buf + n;) {
                        const struct inotify_event *ev = (const void *)p;

                        p += sizeof *ev + ev->len;
                        if (ev->mask & IN_Q_OVERFLOW) {
                                relevant = true; /* events were lost */
                        } else if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF |
                                               IN_IGNORED)) {
                                /* A moved directory would still be
                                   watched under its new name: drop it and
                                   watch whatever is at the path later. */
                                if (ev->wd == r->watch) {
                                        inotify_rm_watch(r->inotify_fd,
                                                         r->watch);
                                        r->watch = -1;
                                        atomic_store(&r->watching, false);
                                }
                                relevant = true;
                        } else if (ev->len && matters(r, ev->name)) {
                                relevant = true;
                        }
                }
        }
        return relevant;
}

/* Consume requests (and the stop signal); true when one was pending. */
static bool drain_wake(struct rate_reloader *r)
{
        uint64_t count;

        return read(r->wake_fd, &count, sizeof count) == (ssize_t)sizeof count;
}

/* Publish 'set' (taken) as the current one. */
static void publish(struct rate_reloader *r, struct rate_catalog_set *set)
{
        const struct rate_catalog *newest = set->catalogs[set->count - 1];
        size_t versions = set->count;
        char qpath[512], qver[160];
        struct snap *next = snap_new(set), *old;
        uint64_t gen;

        if (!next) {
                tl_log(TL_LOG_ERROR, LOG_COMP,
                       "catalog reload out of memory; previous kept serving",
                       "path=%s", tl_log_quote(r->path, qpath, sizeof qpath));
                return;
        }
        tl_log_quote(newest->version, qver, sizeof qver);
        pthread_mutex_lock(&r->lock);
        old = r->current;
        r->current = next;
        /* Bumped with the swap, so a poller that sees the new generation
           and then acquires gets the new set. */
        gen = atomic_fetch_add(&r->generation, 1) + 1;
        r->failing = false;
        r->last_error[0] = '\0';
        pthread_mutex_unlock(&r->lock);
        /* Outside the lock: freeing a large set must not stall readers. */
        snap_unref(old);
        tl_log(TL_LOG_INFO, LOG_COMP, "catalog reloaded",
               "path=%s versions=%zu newest=%s generation=%llu",
               tl_log_quote(r->path, qpath, sizeof qpath), versions, qver,
               (unsigned long long)gen);
}

/* Record and log a refused reload; the current set stays. */
static void refuse(struct rate_reloader *r, tl_status rc,
                   const struct tl_error *err)
{
        char qpath[512], qmsg[TL_ERROR_MSG_MAX + 64];
        uint64_t failures;

        pthread_mutex_lock(&r->lock);
        failures = ++r->failures;
        r->failing = true;
        snprintf(r->last_error, sizeof r->last_error, "%s", err->msg);
        pthread_mutex_unlock(&r->lock);
        tl_log(TL_LOG_ERROR, LOG_COMP,
               "catalog refused; previous catalog keeps serving",
               "path=%s status=%s errors=%zu dropped=%zu failures=%llu "
               "error=%s",
               tl_log_quote(r->path, qpath, sizeof qpath), tl_status_name(rc),
               r->diags.count, r->diags.dropped, (unsigned long long)failures,
               tl_log_quote(err->msg, qmsg, sizeof qmsg));
        /* Every diagnostic, not just the first: the person who edited the
           rules reads them here, as `tally rules check` would print them. */
        for (size_t i = 0; i < r->diags.count; i++)
                tl_log(TL_LOG_ERROR, LOG_COMP, "catalog error", "diag=%s",
                       tl_log_quote(r->diags.msg[i], qmsg, sizeof qmsg));
}

static void reload(struct rate_reloader *r)
{
        struct rate_catalog_set *set = NULL;
        struct tl_error err;
        tl_status rc;

        rewatch(r);
        tl_error_clear(&err);
        memset(&r->diags, 0, sizeof r->diags);
        rc = rate_catalog_set_load(r->path, &set, &r->diags, &err);
        if (rc)
                refuse(r, rc, &err);
        else
                publish(r, set);
}

/*
** The watcher: sleep in poll until a file event or a request. A relevant
** event (re)starts the quiet period; a request reloads at once. Neither
** path can starve the other: both are drained on every wake-up.
*/
static void *watch_main(void *arg)
{
        struct rate_reloader *r = arg;
        bool dirty = false;
        int64_t deadline_us = 0;

        while (!atomic_load(&r->stopping)) {
                struct pollfd fds[2] = {{r->wake_fd, POLLIN, 0},
                                        {r->inotify_fd, POLLIN, 0}};
                int64_t wait_ms =
                    dirty ? (deadline_us - tl_mono_us() + 999) / 1000 : -1;
                bool now = false;

                if (dirty && wait_ms < 0)
                        wait_ms = 0;
                if (wait_ms > INT_MAX)
                        wait_ms = INT_MAX;
                if (poll(fds, 2, (int)wait_ms) < 0) {
                        if (errno == EINTR)
                                continue;
                        tl_log(TL_LOG_ERROR, LOG_COMP, "reload watcher stopped",
                               "errno=%d", errno);
                        break;
                }
                if (atomic_load(&r->stopping))
                        break;
                if (fds[0].revents & POLLIN)
                        now = drain_wake(r);
                if ((fds[1].revents & POLLIN) && drain_events(r)) {
                        dirty = true;
                        deadline_us =
                            tl_mono_us() + (int64_t)r->quiet_ms * 1000;
                }
                if (now || (dirty && tl_mono_us() >= deadline_us)) {
                        /* A reload reads everything, so it also answers
                           the file events seen so far. */
                        dirty = false;
                        reload(r);
                }
        }
        return NULL;
}

/* Split 'path' into the directory to watch and, for a file, its name. */
static tl_status watch_target(struct rate_reloader *r, struct tl_error *err)
{
        struct stat st;
        const char *slash;

        if (stat(r->path, &st) != 0)
                return tl_fail(err, TL_EIO, "%s: %s", r->path, strerror(errno));
        if (S_ISDIR(st.st_mode)) {
                r->watch_dir = tl_strdup(r->path);
        } else {
                slash = strrchr(r->path, '/');
                r->file_name = tl_strdup(slash ? slash + 1 : r->path);
                if (!slash)
                        r->watch_dir = tl_strdup(".");
                else if (slash == r->path)
                        r->watch_dir = tl_strdup("/");
                else
                        r->watch_dir =
                            tl_strndup(r->path, (size_t)(slash - r->path));
                if (!r->file_name)
                        return tl_fail(err, TL_ENOMEM, "out of memory");
        }
        if (!r->watch_dir)
                return tl_fail(err, TL_ENOMEM, "out of memory");
        return TL_OK;
}

/* The inotify watch, the wake-up eventfd and the lock. */
static tl_status open_watch(struct rate_reloader *r, struct tl_error *err)
{
        tl_status rc = watch_target(r, err);

        if (rc)
                return rc;
        r->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (r->inotify_fd < 0)
                return tl_fail(err, TL_EIO, "inotify: %s", strerror(errno));
        r->watch = inotify_add_watch(r->inotify_fd, r->watch_dir, WATCH_MASK);
        if (r->watch < 0)
                return tl_fail(err, TL_EIO, "%s: cannot watch: %s",
                               r->watch_dir, strerror(errno));
        atomic_init(&r->watching, true);
        r->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (r->wake_fd < 0)
                return tl_fail(err, TL_EIO, "eventfd: %s", strerror(errno));
        if (pthread_mutex_init(&r->lock, NULL) != 0)
                return tl_fail(err, TL_ENOMEM, "cannot create a mutex");
        r->lock_ready = true;
        return TL_OK;
}

/* Start the watcher with every signal blocked (see the header). */
static tl_status start_thread(struct rate_reloader *r, struct tl_error *err)
{
        sigset_t all, saved;
        int e;

        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &saved);
        e = pthread_create(&r->thread, NULL, watch_main, r);
        pthread_sigmask(SIG_SETMASK, &saved, NULL);
        if (e != 0)
                return tl_fail(err, TL_ENOMEM,
                               "cannot start the reload thread: %s",
                               strerror(e));
        r->thread_started = true;
        return TL_OK;
}

tl_status rate_reloader_new(const char *path, uint32_t quiet_ms,
                            struct rate_reloader **out,
                            struct rate_diags *diags, struct tl_error *err)
{
        struct rate_catalog_set *set = NULL;
        struct rate_reloader *r;
        tl_status rc;

        if (!path || !out)
                return tl_fail(err, TL_EUSAGE,
                               "rate_reloader_new: NULL path or out");
        rc = rate_catalog_set_load(path, &set, diags, err);
        if (rc)
                return rc;
        r = tl_calloc(1, sizeof *r);
        if (!r) {
                rate_catalog_set_free(&set);
                return tl_fail(err, TL_ENOMEM, "out of memory");
        }
        r->inotify_fd = r->wake_fd = r->watch = -1;
        r->quiet_ms = quiet_ms ? quiet_ms : RATE_RELOAD_QUIET_MS;
        atomic_init(&r->stopping, false);
        atomic_init(&r->generation, 0);
        r->path = tl_strdup(path);
        r->current = snap_new(set); /* takes 'set', also on failure */
        if (!r->path || !r->current)
                rc = tl_fail(err, TL_ENOMEM, "out of memory");
        if (!rc)
                rc = open_watch(r, err);
        if (!rc)
                rc = start_thread(r, err);
        if (rc) {
                /* The free function copes with a half-built reloader. */
                rate_reloader_free(&r);
                return rc;
        }
        *out = r;
        return TL_OK;
}

void rate_reloader_request(struct rate_reloader *r)
{
        int saved = errno;
        uint64_t one = 1;
        ssize_t n;

        if (!r)
                return;
        /* A full counter (EAGAIN) already means "reload pending". */
        n = write(r->wake_fd, &one, sizeof one);
        (void)n;
        errno = saved;
}

const struct rate_catalog_set *rate_reloader_acquire(struct rate_reloader *r)
{
        struct snap *p;

        /* The count is raised under the lock that guards the swap: a set
           can only be reached while current, and while current it holds a
           reference, so it is never revived from zero. */
        pthread_mutex_lock(&r->lock);
        p = r->current;
        atomic_fetch_add_explicit(&p->refs, 1, memory_order_relaxed);
        pthread_mutex_unlock(&r->lock);
        return &p->view;
}

void rate_reloader_release(struct rate_reloader *r,
                           const struct rate_catalog_set *s)
{
        (void)r; /* kept for symmetry, and for a pool of reloaders later */
        if (s)
                snap_unref(snap_of(s));
}

uint64_t rate_reloader_generation(const struct rate_reloader *r)
{
        return atomic_load(&r->generation);
}

void rate_reloader_stats(struct rate_reloader *r, struct rate_reload_stats *out)
{
        pthread_mutex_lock(&r->lock);
        out->generation = atomic_load(&r->generation);
        out->failures = r->failures;
        out->failing = r->failing;
        out->watching = atomic_load(&r->watching);
        memcpy(out->last_error, r->last_error, sizeof out->last_error);
        pthread_mutex_unlock(&r->lock);
}

void rate_reloader_free(struct rate_reloader **pp)
{
        struct rate_reloader *r;

        if (!pp || !*pp)
                return;
        r = *pp;
        if (r->thread_started) {
                atomic_store(&r->stopping, true);
                rate_reloader_request(r); /* wakes poll */
                pthread_join(r->thread, NULL);
        }
        if (r->wake_fd >= 0)
                close(r->wake_fd);
        if (r->inotify_fd >= 0)
                close(r->inotify_fd); /* drops the watch too */
        if (r->lock_ready)
                pthread_mutex_destroy(&r->lock);
        snap_unref(r->current);
        tl_free(r->file_name);
        tl_free(r->watch_dir);
        tl_free(r->path);
        tl_free(r);
        *pp = NULL;
}
