/* Hot reload of a rules path: inotify and SIGHUP trigger a whole-set
   reload; readers hold reference-counted snapshots swapped atomically. */
#ifndef RATE_RELOAD_H
#define RATE_RELOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "rating/catalog.h"

/*
** Quiet time after the last file event before a reload: an editor's save
** or a `mv` of several files arrives as a burst of events, and the set is
** read once the burst is over, not half way through it.
*/
#define RATE_RELOAD_QUIET_MS 150

/*
** A rules path kept loaded. One background thread watches the directory
** (for a single file, the file's directory, and only that name in it) and
** reloads on a finished write, a rename in or out, a create or a delete of
** a catalog file (*.yaml, *.yml not starting with '.'), or of `..data`
** (the symlink a Kubernetes ConfigMap volume swaps). Every reload reads and
** validates the whole set again; a refused set changes nothing for
** readers, and its diagnostics are logged (core/log.h, comp=rating).
*/
struct rate_reloader;

/* Counters for a service's /metrics, read together under one lock. */
struct rate_reload_stats {
        uint64_t generation; /* sets published since the initial load */
        uint64_t failures;   /* reloads refused since the initial load */
        bool failing;        /* the latest reload was refused */
        bool watching;       /* inotify still watches the directory */
        char last_error[TL_ERROR_MSG_MAX]; /* of the latest, when failing */
};

/*
** Load the set at 'path' (a catalog file or a directory of them, as
** rate_catalog_set_load) and start watching it. 'quiet_ms' is the debounce
** (0: RATE_RELOAD_QUIET_MS). 'path' is copied and read again at each
** reload, so a relative one resolves against the working directory then.
** Validation messages of the initial load go to 'diags' (may be NULL);
** nothing is logged for it, the caller decides. The reloader's thread
** starts with every signal blocked, so signals reach the service's own
** threads. Returns TL_OK and '*out' (free with rate_reloader_free); the
** statuses of rate_catalog_set_load (TL_EINVAL, TL_EPARSE, TL_ELIMIT,
** TL_ENOTFOUND, TL_EIO, TL_ENOMEM) when the initial set is refused; TL_EIO
** when inotify cannot watch the directory; TL_ENOMEM when the thread cannot
** start; TL_EUSAGE for a NULL 'path' or 'out'. '*out' is untouched on
** failure.
*/
tl_status rate_reloader_new(const char *path, uint32_t quiet_ms,
                            struct rate_reloader **out,
                            struct rate_diags *diags, struct tl_error *err);

/*
** Ask for a reload now, skipping the debounce (a service's SIGHUP). Only
** write(2) on an eventfd, and errno is preserved: safe to call from a
** signal handler, and requests that arrive during a reload are folded into
** one more. 'r' may be NULL (nothing happens), so a handler installed
** before the reloader exists is harmless.
*/
void rate_reloader_request(struct rate_reloader *r);

/*
** The current set, with a reference that keeps it alive and unchanged
** until rate_reloader_release: a reader prices a whole request against one
** snapshot and never sees half of a reload. Never NULL, never blocks on a
** reload's parsing (only on the instant of the pointer swap). The
** snapshot is shared and read-only; take as many as needed.
*/
const struct rate_catalog_set *rate_reloader_acquire(struct rate_reloader *r);

/*
** Give back a snapshot 's' of 'r' (NULL is ignored). The last release of a
** replaced set frees it. 's' must not be used afterwards.
*/
void rate_reloader_release(struct rate_reloader *r,
                           const struct rate_catalog_set *s);

/* Sets 'r' published since the initial load (lock-free; for polling). */
uint64_t rate_reloader_generation(const struct rate_reloader *r);

/* Copy the counters and the latest error of 'r' into '*out'. */
void rate_reloader_stats(struct rate_reloader *r,
                         struct rate_reload_stats *out);

/*
** Stop the thread (waiting for a reload in progress to finish), free the
** current set and 'r', and set '*pp' to NULL. Every snapshot must have
** been released first. 'pp' and '*pp' may be NULL.
*/
void rate_reloader_free(struct rate_reloader **pp);

#endif
