/* An event file of offline rating, whole in memory. */
#ifndef RATE_FILES_H
#define RATE_FILES_H

#include <stdbool.h>
#include <stddef.h>

#include "core/error.h"

struct rate__file {
        const char *path; /* borrowed */
        const char *buf;
        size_t len;
        bool mapped; /* mmap'ed (a regular file), else read into memory */
        bool cbor;   /* a CBOR sequence: named *.cbor, or not starting '{' */
};

/* Open 'path' into '*f'. TL_OK, TL_EIO or TL_ENOMEM. */
tl_status rate__file_open(struct rate__file *f, const char *path,
                          struct tl_error *err);

void rate__file_close(struct rate__file *f);

#endif
