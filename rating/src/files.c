/* Event files held in memory: mapped when they can be, read when not. */
#include "files.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/str.h"

/* Named *.cbor, or its first byte after whitespace is not '{'. */
static bool is_cbor(const struct rate__file *f)
{
        size_t plen = strlen(f->path), i = 0;

        if (plen > 5 && strcmp(f->path + plen - 5, ".cbor") == 0)
                return true;
        while (i < f->len && (f->buf[i] == ' ' || f->buf[i] == '\n' ||
                              f->buf[i] == '\r' || f->buf[i] == '\t'))
                i++;
        return i < f->len && f->buf[i] != '{';
}

tl_status rate__file_open(struct rate__file *f, const char *path,
                          struct tl_error *err)
{
        struct stat st;
        int fd = open(path, O_RDONLY | O_CLOEXEC);

        f->path = path;
        if (fd < 0)
                return tl_fail(err, TL_EIO, "%s: %s", path, strerror(errno));
        if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
                void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE,
                               fd, 0);

                if (m != MAP_FAILED) {
                        posix_madvise(m, (size_t)st.st_size,
                                      POSIX_MADV_SEQUENTIAL);
                        f->buf = m;
                        f->len = (size_t)st.st_size;
                        f->mapped = true;
                }
        }
        if (!f->mapped) {
                /* Pipes and empty files: read it all. */
                struct tl_buf b;
                char chunk[65536];
                ssize_t n;
                tl_status rc = TL_OK;

                tl_buf_init(&b, 0);
                while ((n = read(fd, chunk, sizeof chunk)) > 0 && !rc)
                        rc = tl_buf_append(&b, chunk, (size_t)n, err);
                if (!rc && n < 0)
                        rc = tl_fail(err, TL_EIO, "%s: %s", path,
                                     strerror(errno));
                if (rc) {
                        tl_buf_release(&b);
                        close(fd);
                        return rc;
                }
                f->buf = b.data; /* NULL for an empty input */
                f->len = b.len;
        }
        close(fd);
        f->cbor = is_cbor(f);
        return TL_OK;
}

void rate__file_close(struct rate__file *f)
{
        if (f->mapped)
                munmap((void *)f->buf, f->len);
        else
                tl_free((void *)f->buf);
}
