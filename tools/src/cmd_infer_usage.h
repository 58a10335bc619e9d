/* `tally infer --help`. */
#define INFER_USAGE                                                            \
        "usage: tally infer [--model PATH] [--prompt TEXT] [--tokens N]\n"     \
        "                   [--decoding autoregressive|diffusion] [--k N]\n"   \
        "                   [--threshold P] [--block N] [--temperature T]\n"   \
        "                   [--topp P] [--seed N] [--threads N] [--q8]\n"      \
        "                   [--customer ID [--request-id ID] [--source S]\n"   \
        "                    [--model-name NAME] [--time RFC3339]\n"           \
        "                    [--config FILE] [--brokers LIST] [--topic T]\n"   \
        "                    [--spool FILE] [--task NAME [--outcome W]]\n"     \
        "                    [-X key=value]... | --offline --spool FILE\n"     \
        "                    [--device ID] [--model-class C]]\n"               \
        "                   [--format text|json] [--quiet]\n"                  \
        "       tally infer --offline --spool FILE --customer ID --device "    \
        "ID\n"                                                                 \
        "                   --deactivate\n"                                    \
        "       tally infer --init-model DIR [--dim N] [--hidden N]\n"         \
        "                   [--layers N] [--heads N] [--kv-heads N]\n"         \
        "                   [--vocab N] [--seq-len N] [--seed N]\n"            \
        "                   [--separate-classifier] [--group N]\n"             \
        "       tally infer --bench [--model PATH] [--runs N] [--tokens N]\n"  \
        "                   [--threads N] [--llama2c RUN_BINARY]\n\n"          \
        "Runs the reference engine on a llama2.c checkpoint (fp32 .bin or\n"   \
        "runq int8 .bin) and prints the answer (stdout) and its usage\n"       \
        "(stderr). With --customer it emits the request's metered events:\n"   \
        "inference.tokens, inference.iterations (diffusion) and\n"             \
        "inference.matrix_ops, ids <request-id>/<kind>, to Kafka through an\n" \
        "idempotent producer (events not confirmed go to --spool, default\n"   \
        "tally-undelivered.cbor), or with --offline to a crash-safe spool\n"   \
        "that `tally upload` sends later (device.seat activate on first "      \
        "use,\n"                                                               \
        "a heartbeat per day of use, with --device).\n\n"                      \
        "  --model PATH      a directory (model.bin, model-q8.bin with "       \
        "--q8,\n"                                                              \
        "                    tokenizer.bin) or a checkpoint file (default\n"   \
        "                    $TALLY_MODEL, else var/model)\n"                  \
        "  --tokens N        answer length: AR's most, diffusion's exact n\n"  \
        "                    (default 64)\n"                                   \
        "  --decoding D      autoregressive (default) or diffusion\n"          \
        "  --k N             diffusion: positions unmasked per step "          \
        "(default\n"                                                           \
        "                    4); takes ceil(n / k) steps per block\n"          \
        "  --threshold P     diffusion, adaptive: unmask every position at\n"  \
        "                    least P confident (at least one per step)\n"      \
        "  --block N         diffusion: denoise blocks of N positions in "     \
        "turn\n"                                                               \
        "  --temperature T   0 greedy (default 0.8); --topp P nucleus (0.9)\n" \
        "  --threads N       0: one per CPU (default)\n"                       \
        "  --config FILE     the kafka: section of the services' YAML "        \
        "config\n"                                                             \
        "                    (brokers, topic, properties); flags override "    \
        "it\n"                                                                 \
        "  --request-id ID   default: random; reuse it to retry an emission\n" \
        "                    (the meter deduplicates)\n"                       \
        "  --task NAME       also emit a task.outcome: what the request\n"     \
        "                    achieved (e.g. support.resolution), id\n"         \
        "                    <request-id>/outcome, cloud or device as the\n"   \
        "                    usage; --outcome W: success (default), failure\n" \
        "                    or another word\n"                                \
        "  --init-model DIR  write a deterministic random model (fp32 and\n"   \
        "                    int8) and a byte-level tokenizer; defaults are\n" \
        "                    stories15M's shape: dim 288, 6 layers, 6 "        \
        "heads,\n"                                                             \
        "                    vocab 32000, seq-len 256. Its text is noise;\n"   \
        "                    its metering is exact\n"                          \
        "  --bench           tokens/s of both decoders and weight formats,\n"  \
        "                    one thread and all; --llama2c runs run.c on\n"    \
        "                    the same checkpoint in the same run\n"
