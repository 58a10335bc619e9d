/* The runner's file helpers: a model path resolved to its files, and a
   fresh request id. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/time.h"
#include "infer/infer.h"

int infer_resolve(const char *model, const char *tokenizer, bool q8,
                  struct infer_paths *out)
{
        struct stat st;

        if (stat(model, &st) != 0) {
                fprintf(stderr,
                        "tally infer: %s: %s (make one with tally infer "
                        "--init-model %s)\n",
                        model, strerror(errno), model);
                return INFER_EXIT_USAGE;
        }
        if (S_ISDIR(st.st_mode)) {
                snprintf(out->model, sizeof out->model, "%s/%s", model,
                         q8 ? "model-q8.bin" : "model.bin");
                snprintf(out->tokenizer, sizeof out->tokenizer,
                         "%s/tokenizer.bin", model);
        } else {
                const char *slash = strrchr(model, '/');

                snprintf(out->model, sizeof out->model, "%s", model);
                snprintf(out->tokenizer, sizeof out->tokenizer,
                         "%.*stokenizer.bin",
                         slash ? (int)(slash - model + 1) : 0, model);
        }
        if (tokenizer)
                snprintf(out->tokenizer, sizeof out->tokenizer, "%s",
                         tokenizer);
        return 0;
}

void infer_random_id(char *out, size_t size)
{
        unsigned char b[8] = {0};
        int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
        uint64_t t = (uint64_t)tl_time_now_us();

        if (fd < 0 || read(fd, b, sizeof b) != (ssize_t)sizeof b)
                memcpy(b, &t, sizeof b); /* still unique enough per run */
        if (fd >= 0)
                close(fd);
        snprintf(out, size, "req-%02x%02x%02x%02x%02x%02x%02x%02x", b[0], b[1],
                 b[2], b[3], b[4], b[5], b[6], b[7]);
}
