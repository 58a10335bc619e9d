#!/usr/bin/env bash
# What one ingested event costs PostgreSQL, phase by phase, with nothing else
# running: the floor under `bench_ingest.sh` (docs/benchmarks.md).
#
#   bench/pg_floor.sh [--rows N] [--batch B] [--runs R] [--profile P]
#                     [--build DIR]
#
# A private server with the migrated schema; N loadgen-like rows in an
# unlogged source table: --profile spread (default; 1,000 customers,
# attributes that rarely repeat) or production (times in row order, 10,000
# customers of Zipf size, a few attributes each, as `tally loadgen --profile
# production`; docs/benchmarks.md). Each
# phase writes them in transactions of B rows the way meter/src/store.c does
# (staged in a temp table, then the same statements), twice: first into
# empty tables (every key new), then again (every key there: the duplicate
# and rollup-update case). Alternatives that were tried are measured beside
# them. Prints the median microseconds per row of R runs.
set -euo pipefail
cd "$(dirname "$0")/.."

rows=400000 batch=20000 runs=3 build=build profile=spread
while [ $# -gt 0 ]; do
  case $1 in
    --rows) rows=$2; shift 2 ;;
    --batch) batch=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --profile) profile=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    *) echo "usage: $0 [--rows N] [--batch B] [--runs R] [--profile P] [--build DIR]" >&2; exit 2 ;;
  esac
done
case $profile in spread|production) ;; *) echo "pg_floor: --profile is production or spread" >&2; exit 2 ;; esac
tally=$PWD/$build/tools/tally
[ -x "$tally" ] || { echo "pg_floor: build first ($tally missing)" >&2; exit 1; }

work=$(mktemp -d /tmp/tally-pg-floor-XXXXXX)
chmod 755 "$work"
cleanup() {
  tools/scripts/pg-fixture.sh stop "$work/pg" --remove >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
. bench/lib.sh
bench_db "$work" floor
q() { psql -XAtq -v ON_ERROR_STOP=1 "$@"; }

echo "generating $rows rows (profile $profile)"
if [ "$profile" = spread ]; then
  src_sql="SELECT g AS seq,
       substr(sha256(('k' || g)::bytea), 1, 16) AS key_hash,
       sha256(('c' || g)::bytea) AS content_hash,
       timestamptz '2026-11-01 00:00:00+00'
         + ((g::bigint * 7919) % 2592000) * interval '1 second' AS event_time,
       'cust-' || lpad(((g * 31) % 1000)::text, 5, '0') AS customer_id,
       (1 + g % 3)::int2 AS type, 'src-' || (g % 7) AS source,
       'evt-' || g AS event_id, 'model-' || (g % 4) AS model,
       (1 + g % 2)::int2 AS deployment,
       (ARRAY['autoregressive', 'diffusion'])[1 + g % 2] AS decoding,
       (g % 5000)::bigint AS input_tokens, (g % 3000)::bigint AS output_tokens,
       jsonb_build_object('region', 'r' || (g % 6)) AS dims,
       substr(sha256(('a' || g)::bytea), 1, 16) AS attrs_hash
FROM generate_series(1, $rows) g"
else
  # Customer rank c = 10000^u has density 1/c (Zipf, exponent 1); u is a
  # fixed scramble of g. Attributes derive from the customer, so each keeps
  # 1-3 models, one deployment, decoding and region.
  src_sql="SELECT g AS seq, key_hash, content_hash, event_time, customer_id,
       type, source, event_id, model, deployment, decoding, input_tokens,
       output_tokens, dims,
       substr(sha256(convert_to(model || deployment || decoding || dims::text,
                                'UTF8')), 1, 16) AS attrs_hash
FROM (SELECT g, substr(sha256(('k' || g)::bytea), 1, 16) AS key_hash,
       sha256(('c' || g)::bytea) AS content_hash,
       timestamptz '2026-11-01 00:00:00+00'
         + (g::bigint * 2592000 / $rows) * interval '1 second' AS event_time,
       'cust-' || lpad(c::text, 5, '0') AS customer_id,
       (1 + g % 3)::int2 AS type, 'src-' || (g % 7) AS source,
       'evt-' || g AS event_id,
       'model-' || ((c + g % (1 + c % 3)) % 4) AS model,
       (1 + (c % 4 = 0)::int)::int2 AS deployment,
       (ARRAY['autoregressive', 'diffusion'])[1 + c % 2] AS decoding,
       (g % 5000)::bigint AS input_tokens, (g % 3000)::bigint AS output_tokens,
       jsonb_build_object('region', 'r' || (c % 6)) AS dims
  FROM (SELECT g, least(10000, floor(exp(((g::bigint * 2654435761) % 1000003)
                 / 1000003.0 * ln(10000))))::int AS c
        FROM generate_series(1, $rows) g) z) y"
fi
q <<SQL
SELECT tally_ensure_month('2026-11-01');
CREATE UNLOGGED TABLE src AS $src_sql;
CREATE INDEX ON src (seq);
ANALYZE src;
-- events without their (customer_id, event_time) index, to price it
CREATE TABLE events_noindex (LIKE events INCLUDING DEFAULTS);
SQL

# The statements of meter/src/store.c, and the alternatives measured.
prologue() {
  cat <<'SQL'
SET synchronous_commit = on;
SET work_mem = '64MB';
CREATE TEMP TABLE meter_keys (seq int4, key_hash bytea, content_hash bytea,
  event_time timestamptz) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE meter_roll (customer_id text, day date, type int2,
  attrs_hash bytea, model text, deployment int2, decoding text, dims jsonb,
  event_count int8, input_tokens numeric, output_tokens numeric,
  cached_input_tokens numeric, iterations numeric, tokens numeric,
  mac numeric) ON COMMIT DELETE ROWS;
PREPARE chain AS WITH ins AS (INSERT INTO event_keys (key_hash, content_hash,
  event_time) SELECT key_hash, content_hash, event_time FROM meter_keys
  ORDER BY key_hash ON CONFLICT DO NOTHING RETURNING key_hash)
  SELECT count(*), count((SELECT k.content_hash FROM event_keys k
  WHERE k.key_hash = s.key_hash)) FROM meter_keys s
  WHERE NOT EXISTS (SELECT 1 FROM ins i WHERE i.key_hash = s.key_hash);
PREPARE roll AS INSERT INTO usage_rollups AS r SELECT * FROM meter_roll
  ORDER BY 1, 2, 3, 4 ON CONFLICT (customer_id, day, type, attrs_hash)
  DO UPDATE SET event_count = r.event_count + EXCLUDED.event_count,
  input_tokens = r.input_tokens + EXCLUDED.input_tokens,
  output_tokens = r.output_tokens + EXCLUDED.output_tokens,
  cached_input_tokens = r.cached_input_tokens + EXCLUDED.cached_input_tokens,
  iterations = r.iterations + EXCLUDED.iterations,
  tokens = r.tokens + EXCLUDED.tokens, mac = r.mac + EXCLUDED.mac;
-- tried: find the keys already there first, then a plain insert
PREPARE probe AS WITH d AS (DELETE FROM meter_keys s WHERE (SELECT true
  FROM event_keys k WHERE k.key_hash = s.key_hash)
  RETURNING s.seq, s.key_hash) SELECT count(*), count((SELECT content_hash
  FROM event_keys k WHERE k.key_hash = d.key_hash)) FROM d;
PREPARE plain AS INSERT INTO event_keys SELECT key_hash, content_hash,
  event_time FROM meter_keys ORDER BY key_hash;
-- tried: upsert only the rollup rows already there, insert the rest
PREPARE roll_old AS WITH d AS (DELETE FROM meter_roll m WHERE (SELECT true
  FROM usage_rollups r WHERE r.customer_id = m.customer_id AND r.day = m.day
  AND r.type = m.type AND r.attrs_hash = m.attrs_hash) RETURNING m.*)
  INSERT INTO usage_rollups AS r SELECT * FROM d ORDER BY 1, 2, 3, 4
  ON CONFLICT (customer_id, day, type, attrs_hash) DO UPDATE SET
  event_count = r.event_count + EXCLUDED.event_count,
  input_tokens = r.input_tokens + EXCLUDED.input_tokens,
  output_tokens = r.output_tokens + EXCLUDED.output_tokens;
PREPARE roll_new AS INSERT INTO usage_rollups SELECT * FROM meter_roll
  ORDER BY 1, 2, 3, 4;
\timing on
SQL
}

ev_cols="event_time, customer_id, type, source, event_id, model, deployment,
  decoding, input_tokens, output_tokens, dims, content_hash, kafka_topic,
  kafka_partition, kafka_offset"
ev_vals="event_time, customer_id, type, source, event_id, model, deployment,
  decoding, input_tokens, output_tokens, dims, content_hash, 'bench', 1, seq"
stage_keys="INSERT INTO meter_keys SELECT seq, key_hash, content_hash, event_time FROM src"
stage_roll="INSERT INTO meter_roll SELECT customer_id, event_time::date, type,
  attrs_hash, model, deployment, decoding, dims, 1, input_tokens,
  output_tokens, 0, 0, 0, 0 FROM src"

# One transaction per batch of the phase's statements.
script() {
  local phase=$1 lo w
  prologue
  for ((lo = 0; lo < rows; lo += batch)); do
    w="WHERE seq > $lo AND seq <= $((lo + batch))"
    echo "BEGIN;"
    case $phase in
      events) echo "INSERT INTO events ($ev_cols) SELECT $ev_vals FROM src $w;" ;;
      events_noindex) echo "INSERT INTO events_noindex ($ev_cols) SELECT $ev_vals FROM src $w;" ;;
      keys) echo "$stage_keys $w; EXECUTE chain;" ;;
      keys_probe) echo "$stage_keys $w; EXECUTE probe; EXECUTE plain;" ;;
      rollups) echo "$stage_roll $w; EXECUTE roll;" ;;
      rollups_split) echo "$stage_roll $w; EXECUTE roll_old; EXECUTE roll_new;" ;;
    esac
    echo "COMMIT;"
  done
}

# Microseconds per row of one pass (psql's own timing of each statement).
pass() {
  script "$1" | psql -Xq -v ON_ERROR_STOP=1 2>&1 |
    awk -v n="$rows" '/^Time:/ { s += $2 } /ERROR/ { print; exit 1 }
                      END { printf "%.2f", s * 1000 / n }'
}

phases="events events_noindex keys keys_probe rollups rollups_split"
declare -A first second
for r in $(seq "$runs"); do
  for p in $phases; do
    q -c "TRUNCATE events, events_noindex, event_keys, usage_rollups" -c CHECKPOINT
    first[$p]+="$(pass "$p") "
    second[$p]+="$(pass "$p") "
  done
  echo "run $r of $runs done"
done
median() { tr ' ' '\n' | grep . | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
printf '\nmicroseconds of backend time per row, median of %d (%d rows, transactions of %d)\n' \
  "$runs" "$rows" "$batch"
printf '%-16s %12s %14s\n' phase "new keys" "keys present"
for p in $phases; do
  printf '%-16s %12s %14s\n' "$p" "$(echo "${first[$p]}" | median)" \
    "$(echo "${second[$p]}" | median)"
done
e=$(echo "${first[events]}" | median)
k=$(echo "${first[keys]}" | median)
u=$(echo "${first[rollups]}" | median)
awk -v e="$e" -v k="$k" -v u="$u" 'BEGIN {
  t = e + k + u
  printf "\nmeter, every key new: events %.2f + keys %.2f + rollups %.2f = %.2f us per event\n", e, k, u, t
  printf "ceiling with both cores given to PostgreSQL and nothing else: %.0f events/s\n", 2e6 / t
  printf "ceiling of the events phase alone on both cores: %.0f rows/s\n", 2e6 / e
}'
