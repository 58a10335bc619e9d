/* The inference runner behind `tally infer`: generate, print, emit, and
   its benchmark. Functions return process exit codes. */
#ifndef INFER_INFER_H
#define INFER_INFER_H

#include <stdbool.h>
#include <stddef.h>

/* The exit codes of docs/operations.md, as `tally` returns them. */
enum { INFER_EXIT_OK = 0, INFER_EXIT_RUNTIME = 1, INFER_EXIT_USAGE = 2 };

#include "inference/engine.h"
#include "inference/model.h"
#include "inference/tokenizer.h"

/* A model directory or checkpoint, resolved to its two files. */
struct infer_paths {
        char model[4096];
        char tokenizer[4096];
};

/*
** 'model' is a directory (model.bin, or model-q8.bin with 'q8', and
** tokenizer.bin) or a checkpoint file (tokenizer.bin beside it unless
** 'tokenizer' names one). Returns 0, or INFER_EXIT_USAGE after saying why.
*/
int infer_resolve(const char *model, const char *tokenizer, bool q8,
                  struct infer_paths *out);

struct infer_bench_args {
        const char *model;   /* NULL: a stories15M-shaped random model */
        const char *llama2c; /* run.c binary to compare with, or NULL */
        long runs;           /* per configuration; the median is reported */
        long tokens;         /* AR: tokens per run (run.c's -n) */
        long diffusion_n, diffusion_k;
        long threads; /* 0: all CPUs */
};

struct cli_kafka;

/* Everything `tally infer` was asked. */
#define INFER_MAX_PROPS 64

struct infer_args {
        const char *model, *tokenizer, *prompt, *format;
        bool q8, quiet, offline, deactivate, diffusion;
        long tokens, k, block, threads, seed;
        double threshold, temperature, topp;
        /* emission */
        const char *customer, *request_id, *source, *model_name, *time;
        const char *brokers, *topic, *spool, *device, *model_class;
        const char *task, *outcome; /* --task, --outcome: a task.outcome */
        const char *props[INFER_MAX_PROPS];
        size_t prop_count;
        const char *config;      /* --config FILE: its kafka: section */
        struct cli_kafka *kafka; /* the file's strings, owned by the caller */
        /* --init-model */
        const char *init_dir;
        struct inf_init_opts init;
        /* --bench */
        bool bench;
        struct infer_bench_args b;
};

/* The config file's `infer:` section (docs/operations.md). */
struct infer_config {
        char *task;    /* infer.task: a task.outcome with each request */
        char *outcome; /* infer.outcome: how it ended (NULL: success) */
};

/*
** Read the `infer:` section of the config file at 'path' into 'c' (zeroed
** first; 'path' NULL: nothing). Keys task and outcome, each also as k_file,
** ${VAR} expanded; an outcome without a task is refused. Returns TL_OK,
** or TL_EINVAL / TL_EIO with "file:line:column: infer.key: ...". Release
** 'c' with infer_config_release, also after a failure.
*/
tl_status infer_config_load(struct infer_config *c, const char *path,
                            struct tl_error *err);
void infer_config_release(struct infer_config *c);

/* Generate, print, emit. Returns the exit code. */
int infer_run(const struct infer_args *a);

/* "req-" and 16 random hex digits. */
void infer_random_id(char *out, size_t size);

/* `tally infer --bench`: tokens/s for both decoders, both formats,
   one thread and all; and run.c on the same checkpoint if given. */
int infer_bench(const struct infer_bench_args *a);

#endif
