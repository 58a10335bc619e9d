/* The subcommand table: names, one-line summaries, usage, what each needs. */
#include <stddef.h>

#include "cli.h"
#include "cmd_infer_usage.h"

/* A command whose part has landed gets its entry point; the others name the
   part they wait for, so `tally help` tells the truth about this build. */
const struct cli_command cli_commands[] = {
    {"rules", "validate, compare and simulate pricing catalogs",
     "usage: tally rules check PATH...\n"
     "       tally rules diff OLD NEW\n"
     "       tally rules simulate --rules PATH --period YYYY-MM\n\n"
     "check     validate catalog files; prints every error as\n"
     "          file:line:column: message; exit 2 if any\n"
     "diff      what changed between two catalogs, price by price\n"
     "simulate  re-rate a period held in the database with other rules,\n"
     "          read-only: revenue per customer and cohort, before/after\n",
     NULL, cli_rules_main},
    {"rate", "price events offline into draft invoices",
     "usage: tally rate --rules PATH --customers FILE --events FILE...\n"
     "                  --period YYYY-MM [--format json|table] "
     "[--skip-invalid]\n\n"
     "Offline rating: no Kafka, no database. Events are JSON Lines or CBOR\n"
     "sequence files. Prints the period's draft invoices (JSON: an array in\n"
     "customer id order). Invalid events are reported with their place and\n"
     "the command exits 2, unless --skip-invalid is given.\n\n"
     "  --threads N   decoding threads (default: one per CPU)\n",
     NULL, cli_rate_main},
    {"meter", "the ingest service: Kafka -> PostgreSQL",
     "usage: tally meter [--config FILE] [--brokers LIST] [--topic T,...]\n"
     "                   [--group NAME] [--http HOST:PORT]\n"
     "                   [--batch-events N] [--batch-ms MS]\n"
     "                   [--offset-reset earliest|error] [--exit-idle-ms MS]\n"
     "                   [-X KEY=VALUE]...\n\n"
     "Consumes usage events from Kafka, validates, deduplicates and stores\n"
     "them in PostgreSQL exactly once: each batch's events, dead letters,\n"
     "rollups and consumed offsets commit in one transaction. Serves\n"
     "/metrics and /healthz over HTTP with --http (or meter.http).\n\n"
     "  --config FILE      YAML config (default tally.yaml if present); the\n"
     "                     environment (TALLY_KAFKA_BROKERS, TALLY_KAFKA_GROUP,\n"
     "                     TALLY_KAFKA_TOPICS, TALLY_METER_HTTP, libpq's PG*\n"
     "                     or DATABASE_URL) overrides it, flags override both\n"
     "  --exit-idle-ms MS  stop once every partition is read to its end and\n"
     "                     nothing came for MS (tests, benchmarks, backfills)\n"
     "  -X KEY=VALUE       a librdkafka property (TLS, SASL, timeouts) or a\n"
     "                     config key (meter.batch_ms=200)\n\n"
     "SIGTERM or SIGINT: finish the batch, store offsets, leave the group.\n",
     NULL, cli_meter_main},
    {"customers", "import customers from a customers file",
     "usage: tally customers import FILE [--config FILE]\n\n"
     "Loads or updates customers (upsert) in one transaction; invalid input\n"
     "is reported as file:line:column and nothing is half-imported. The\n"
     "file's `credits` is the total prepaid credit it grants: a re-import\n"
     "grants only the difference.\n",
     NULL, cli_customers_main},
    {"usage", "usage and cost to date for the open period",
     "usage: tally usage --customer ID [--period YYYY-MM] [--format "
     "table|json]\n"
     "                   [--rules PATH] [--config FILE] [--as-of DATE]\n\n"
     "The customer's draft invoice priced now from the database: usage to\n"
     "date, pending late-usage adjustments, credit, tax. The period defaults\n"
     "to the current month. Writes nothing.\n",
     NULL, cli_usage_main},
    {"invoice", "draft or finalize a period's invoices",
     "usage: tally invoice --period YYYY-MM [--customer ID] [--finalize]\n"
     "                     [--out DIR] [--report] [--rules PATH]\n"
     "                     [--config FILE] [--grace-days N] [--as-of DATE]\n"
     "                     [--batch N] [--jobs N] [--quiet]\n\n"
     "Drafts (default) or finalizes the period's invoices from the\n"
     "database. Several processes may run at once: customers are claimed\n"
     "with FOR UPDATE SKIP LOCKED. Finalized invoices get gap-free numbers\n"
     "and never change; a rerun creates nothing new.\n\n"
     "  --finalize      freeze and number them (after the period's end plus\n"
     "                  the grace period, default 3 days)\n"
     "  --out DIR       write each stored invoice of the period as JSON and\n"
     "                  PDF, and all lines to invoices-YYYY-MM.csv\n"
     "  --report        revenue per plan and per experiment cohort (alone:\n"
     "                  of what is stored, without closing)\n"
     "  --rules PATH    catalog file or directory (default invoicing.rules\n"
     "                  of the config file, or $TALLY_RULES)\n"
     "  --as-of DATE    the day the grace period is checked against\n"
     "                  (default today)\n"
     "  --batch N       customers per transaction (default 500)\n"
     "  --jobs N        concurrent connections, 1-64 (default one per CPU,\n"
     "                  at most 8)\n",
     NULL, cli_invoice_main},
    {"infer", "the reference inference engine; emits metered events",
     INFER_USAGE, NULL, cli_infer_main},
    {"upload", "send a device's offline spool to Kafka",
     "usage: tally upload --spool FILE [--brokers LIST] [--topic NAME]\n"
     "                    [--batch N] [--timeout-ms MS] [-X key=value]...\n\n"
     "Sends the spool's events as CBOR batches (one subject per message,\n"
     "key = subject) through an idempotent producer, waits for the delivery\n"
     "reports and removes from the spool only the events they confirmed.\n"
     "Run it again after a failure: it sends what is left. Exit 1 when\n"
     "some events could not be delivered (they stay in the spool).\n\n"
     "  --brokers LIST   bootstrap servers (default $TALLY_KAFKA_BROKERS)\n"
     "  --topic NAME     default usage.events\n"
     "  --batch N        events per message (1-10000, default 1000)\n"
     "  --timeout-ms MS  delivery wait (default 30000)\n"
     "  -X key=value     any librdkafka property; repeatable\n",
     NULL, cli_upload_main},
    {"broker", "a Kafka-protocol broker on loopback for development",
     "usage: tally broker [--brokers N] [--partitions N]\n"
     "                    [--topic NAME[:PARTITIONS]]... "
     "[--address-file FILE]\n"
     "                    [--control PATH]\n\n"
     "Serves the Kafka protocol on 127.0.0.1 with librdkafka's mock\n"
     "cluster, for development, tests and the demo (never production).\n"
     "Prints its bootstrap address (host:port,...) as the first line on\n"
     "stdout and runs until SIGINT or SIGTERM. Topics named with --topic\n"
     "are created at start; any other topic is created on first use with\n"
     "4 partitions (librdkafka's mock default, not configurable).\n\n"
     "  --brokers N          brokers in the cluster (1-9, default 1)\n"
     "  --partitions N       partitions of each --topic without its own\n"
     "                       count (1-256, default 4)\n"
     "  --topic NAME[:P]     create NAME with P partitions (default\n"
     "                       --partitions); repeatable\n"
     "  --address-file FILE  also write the bootstrap address to FILE\n"
     "  --control PATH       fault injection: create a FIFO at PATH and\n"
     "                       apply each line written to it; each is\n"
     "                       acknowledged in PATH.log with a line\n"
     "                       'ok COMMAND' or 'error COMMAND: WHY'\n\n"
     "Control commands (BROKER_ID -1: every broker):\n"
     "  down BROKER_ID           disconnect it, refuse connections\n"
     "  up BROKER_ID             accept connections again\n"
     "  leader TOPIC PARTITION BROKER_ID\n"
     "                           move a partition's leader\n"
     "  errors APIKEY COUNT ERRCODE\n"
     "                           fail the next COUNT requests of APIKEY\n"
     "                           (Produce, Fetch, ListOffsets, Metadata,\n"
     "                           OffsetCommit, OffsetFetch, JoinGroup,\n"
     "                           Heartbeat, SyncGroup, ... or a number)\n"
     "                           with ERRCODE (a librdkafka error name\n"
     "                           such as NOT_LEADER_FOR_PARTITION,\n"
     "                           REQUEST_TIMED_OUT, _TRANSPORT, or a\n"
     "                           number)\n"
     "  clear APIKEY             drop errors still queued for APIKEY\n"
     "  rtt BROKER_ID MS         delay its responses by MS\n",
     NULL, cli_broker_main},
    {"loadgen", "produce synthetic events for tests and benchmarks",
     "usage: tally loadgen [--brokers LIST] [--topic NAME] [--events N]\n"
     "                     [--customers N] [--types LIST]\n"
     "                     [--encoding json|cbor|mixed] [--batch N]\n"
     "                     [--duplicates RATIO] [--bad RATIO] "
     "[--batch-limit-case]\n"
     "                     [--rate N] [--seed N] [--truth FILE]\n"
     "                     [--time-from RFC3339] [--time-to RFC3339]\n"
     "                     [--quiet] [-X key=value]...\n\n"
     "Produces synthetic usage events (events.md) to Kafka for tests and\n"
     "benchmarks, keyed by subject, through an idempotent producer\n"
     "(acks=all). Exit 1 if any message fails delivery.\n\n"
     "  --brokers LIST       bootstrap servers (default "
     "$TALLY_KAFKA_BROKERS)\n"
     "  --topic NAME         default usage.events\n"
     "  --events N           distinct valid events (default 10000)\n"
     "  --customers N        subjects cust_0001 ... (default 100)\n"
     "  --types LIST         comma list of tokens, iterations, "
     "matrix_ops,\n"
     "                       seat (default tokens,iterations,matrix_ops)\n"
     "  --encoding E         json, cbor or mixed per message (default "
     "mixed)\n"
     "  --batch N            events per CBOR message, as an array when\n"
     "                       N > 1 (default 1: a bare map); JSON messages\n"
     "                       hold one event\n"
     "  --duplicates RATIO   share of all units that resend an earlier\n"
     "                       event of the same subject unchanged (0 ..<1)\n"
     "  --bad RATIO          share of all units the ingest must dead-letter,\n"
     "                       taking turns: undecodable bytes, bad JSON,\n"
     "                       missing id/source/subject/type/time/data,\n"
     "                       unknown type, a count as text, a negative\n"
     "                       count, time before 2000, time far ahead, and\n"
     "                       an earlier key resent with other content\n"
     "  --batch-limit-case   bad units also include a CBOR array of 10,001\n"
     "                       elements (one unit: the message is rejected\n"
     "                       whole)\n"
     "  --rate N             units per second (default 0: no limit)\n"
     "  --seed N             the same seed and times give the same stream\n"
     "                       (default: from the clock; printed)\n"
     "  --time-from, --time-to  event times (default: this UTC month's\n"
     "                       start .. now; never in the future)\n"
     "  --truth FILE         after every delivery is confirmed, write the\n"
     "                       ground truth there (atomically)\n"
     "  --quiet              no progress lines\n"
     "  -X key=value         any librdkafka property; repeatable\n\n"
     "A unit is one event or one bad item: a CBOR array of k events is k\n"
     "units. The ratios are of all units produced. The truth file is TSV:\n"
     "  # tally loadgen ground truth\n"
     "  produced<TAB>units    stored<TAB>events    duplicates<TAB>units\n"
     "  dead_lettered<TAB>units (one line each), then the header\n"
     "  customer type events input_tokens output_tokens\n"
     "  cached_input_tokens iterations tokens mac\n"
     "  and one row per customer and type with stored events, sorted by\n"
     "  customer then type name; columns a type lacks are 0.\n",
     NULL, cli_loadgen_main},
    {"db", "database schema migrations",
     "usage: tally db migrate\n\n"
     "Applies the SQL migrations that this tally carries (schemas/sql),\n"
     "each once, in order, each in its own transaction, and records them\n"
     "with their SHA-256 in tally_migrations. Idempotent; safe to run from\n"
     "several processes at once. Connects with DATABASE_URL or libpq's\n"
     "PG* variables. Fails (exit 1) if an applied migration has changed or\n"
     "the database is newer than this tally.\n",
     NULL, cli_db_main},
    {"demo", "the main job: a month of business, end to end",
     "usage: tally demo [--customers N] [--days D] [--period YYYY-MM]\n"
     "                  [--dir DIR] [--seed N] [--threads N]\n"
     "                  [--brokers LIST] [--database URL] [--quiet]\n\n"
     "Runs a month of business on this machine through the real path: starts\n"
     "a private PostgreSQL and a tally broker (unless --database and --brokers\n"
     "name running ones), imports invented customers, serves their requests\n"
     "with the reference engine (cloud: both decoding modes; devices: offline\n"
     "spools uploaded on sync days), replays some events and sends malformed\n"
     "ones, ingests everything with tally meter, edits a price mid-month (the\n"
     "running meter reloads it), closes the month, re-rates it offline with\n"
     "tally rate, then lets late devices sync and drafts their adjustments.\n"
     "Prints a summary that reconciles every count; exit 1 if any check\n"
     "fails.\n\n"
     "  --customers N   customers (1-5000, default 24)\n"
     "  --days D        days of the month simulated (default: all)\n"
     "  --period P      the month (default: the last whole month)\n"
     "  --dir DIR       working directory, emptied of earlier runs' outputs\n"
     "                  (default var/demo): invoices/, logs, events.jsonl\n"
     "  --seed N        the same seed gives the same customers and traffic\n"
     "  --database URL  a PostgreSQL to use (its tables are created there; use\n"
     "                  an empty database)\n"
     "  --brokers LIST  a Kafka cluster to use (topic usage.events)\n",
     NULL, cli_demo_main},
};

const unsigned cli_command_count =
        sizeof cli_commands / sizeof cli_commands[0];
