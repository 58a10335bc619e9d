/* Helpers of the `tally serve` suites: a real server process on the case's
   database and broker, keys made by `tally keys create`. */
#ifndef SK_SERVE_KIT_H
#define SK_SERVE_KIT_H

#include <sys/types.h>

#include "meterkit.h"

struct sk_serve {
        char worked[400];      /* tests/rating/worked */
        char customers[600];   /* its customers file */
        char catalog[600];     /* a copy of its catalog in the case's dir */
        const char *http_host; /* NULL: 127.0.0.1 */
        char log[300];
        int port;
        pid_t pid;
};

/* Fill the paths of 's' for case 'c' and copy the worked catalog. */
void sk_paths(struct sk_serve *s, struct mk_case *c);

/* Start `tally serve` for case 'c' and wait for /healthz (fails the test
   unless it answers within 20 s). */
void sk_start(struct sk_serve *s, struct mk_case *c);

/* sk_start with 'extra' arguments (NULL-terminated, may be NULL) after the
   usual ones, e.g. {"--config", FILE, NULL}. */
void sk_start_with(struct sk_serve *s, struct mk_case *c,
                   const char *const *extra);

/* Only fork and exec it (port, log and pid set): for servers that will not
   answer plain HTTP, or should not start at all (mk_wait the pid). */
void sk_spawn(struct sk_serve *s, struct mk_case *c, const char *const *extra);

/* SIGTERM and wait: it must exit 0. */
void sk_stop(struct sk_serve *s);

/* `tally ARGS...` (NULL-terminated) must exit 0. */
void sk_tally_ok(const char *arg, ...);

/* `tally keys create --scope 'scope' --name 'name' [--expires 'expires']`:
   the key printed, into 'out' (room for 128 bytes). */
void sk_key(char *out, const char *scope, const char *name,
            const char *expires);

#endif
