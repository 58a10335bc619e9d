#!/usr/bin/env bash
# End-to-end ingest benchmark (docs/benchmarks.md, docs/benchmarks.md):
# N events pre-loaded into the broker, `tally meter` from offset 0 until
# every unit is committed, then `psql \copy` of the same rows into the same
# table, in the same run, for the ratio. Also samples the meter's RSS.
#
#   bench/bench_ingest.sh [--events N] [--duplicates R] [--partitions P]
#                         [--batch B] [--encoding E] [--meters M]
#                         [--writers W] [--profile P] [--customers C]
#                         [--build DIR]
#
# --profile spread|production is loadgen's (docs/benchmarks.md); customers
# default to 1,000 for spread and 10,000 for production. The figures end
# with the rollup rows per stored event, which is what the profile changes.
#
# --meters M runs M instances in one consumer group (scale-out as in
# production: each takes a share of the partitions and its own connection).
#
# The mock cluster keeps at most 5 MiB (after compression) per partition and
# drops older data beyond that, so the preload is compressed (lz4), spread
# over many partitions and, by default, batched in CBOR arrays the way a
# device uploads its spool. Every run checks that nothing was dropped.
set -euo pipefail
cd "$(dirname "$0")/.."

events=5000000 dups=0 partitions=128 batch=1000 encoding=cbor build=build
customers= meters=1 writers= profile=spread
while [ $# -gt 0 ]; do
  case $1 in
    --events) events=$2; shift 2 ;;
    --duplicates) dups=$2; shift 2 ;;
    --partitions) partitions=$2; shift 2 ;;
    --batch) batch=$2; shift 2 ;;
    --encoding) encoding=$2; shift 2 ;;
    --customers) customers=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    --meters) meters=$2; shift 2 ;;
    --writers) writers=$2; shift 2 ;;
    --profile) profile=$2; shift 2 ;;
    *) echo "usage: $0 [--events N] [--duplicates R] [--partitions P] [--batch B] [--encoding E] [--meters M] [--writers W] [--profile P] [--customers C] [--build DIR]" >&2; exit 2 ;;
  esac
done
case $profile in
  spread) customers=${customers:-1000} ;;
  production) customers=${customers:-10000} ;;
  *) echo "bench_ingest: --profile is production or spread" >&2; exit 2 ;;
esac
tally=$PWD/$build/tools/tally
calc() { awk "BEGIN { printf \"%.6f\", $1 }"; }
[ -x "$tally" ] || { echo "bench_ingest: build first ($tally missing)" >&2; exit 1; }

work=$(mktemp -d /tmp/tally-bench-ingest-XXXXXX)
chmod 755 "$work"
broker_pid= meter_pids=()
cleanup() {
  for p in "${meter_pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -n "$broker_pid" ] && kill "$broker_pid" 2>/dev/null || true
  tools/scripts/pg-fixture.sh stop "$work/pg" --remove >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

. bench/lib.sh
bench_db "$work" bench
topic=bench
bench_broker "$work" "$topic:$partitions"

echo "preloading $events events (profile $profile, $customers customers, duplicates $dups, $encoding, batch $batch, $partitions partitions)"
"$tally" loadgen --topic "$topic" --profile "$profile" --events "$events" --customers "$customers" \
  --duplicates "$dups" --batch "$batch" --encoding "$encoding" --seed 42 \
  --truth "$work/truth.tsv" --quiet -X compression.type=lz4 -X linger.ms=50
produced=$(awk '$1 == "produced" {print $2}' "$work/truth.tsv")
stored=$(awk '$1 == "stored" {print $2}' "$work/truth.tsv")
# Nothing may have been dropped by the mock's retention.
low=$(for p in $(seq 0 $((partitions - 1))); do
        kcat -b "$TALLY_KAFKA_BROKERS" -Q -t "$topic:$p:-2" 2>/dev/null | awk '{print $NF}'
      done | sort -n | tail -1)
[ "${low:-0}" = 0 ] || { echo "bench_ingest: the broker dropped data (low watermark $low); use more partitions" >&2; exit 1; }

t0=$(date +%s.%N)
for i in $(seq "$meters"); do
  "$tally" meter --topic "$topic" --group bench --exit-idle-ms 3000 \
    ${writers:+--writers "$writers"} \
    -X session.timeout.ms=6000 2>"$work/meter-$i.log" &
  meter_pids+=($!)
done
rss_samples=() cpu_ticks=0
while :; do
  got=$(psql -XAtc "SELECT coalesce(sum(consumed), 0) FROM ingest_counts")
  [ "$got" -ge "$produced" ] && break
  for p in "${meter_pids[@]}"; do
    kill -0 "$p" 2>/dev/null || { tail "$work"/meter-*.log >&2; exit 1; }
  done
  rss_samples+=("$(ps -o rss= -p "${meter_pids[0]}" | tr -d ' ')")
  # utime + stime of the first meter, in clock ticks
  cpu_ticks=$(awk '{ print $14 + $15 }' "/proc/${meter_pids[0]}/stat" 2>/dev/null || echo "${cpu_ticks:-0}")
  sleep 0.2
done
t1=$(date +%s.%N)
for p in "${meter_pids[@]}"; do wait "$p"; done
meter_pids=()
meter_s=$(calc "$t1 - $t0")
# BENCH_KEEP_LOG=FILE keeps the first meter's log (with TALLY_LOG_LEVEL=debug
# it has every transaction's phases).
[ -z "${BENCH_KEEP_LOG:-}" ] || cp "$work/meter-1.log" "$BENCH_KEEP_LOG"
rate=$(calc "$produced / $meter_s")
in_db=$(psql -XAtc "SELECT count(*) FROM events")
rollup_rows=$(psql -XAtc "SELECT count(*) FROM usage_rollups")
[ "$in_db" = "$stored" ] || { echo "bench_ingest: $in_db events stored, truth says $stored" >&2; exit 1; }

# The same rows into the same table with psql \copy.
psql -XAqc "\\copy (SELECT * FROM events) TO '$work/events.copy'"
psql -XAqc "TRUNCATE events"
c0=$(date +%s.%N)
psql -XAqc "\\copy events FROM '$work/events.copy'"
c1=$(date +%s.%N)
copy_s=$(calc "$c1 - $c0")
copy_rate=$(calc "$stored / $copy_s")

rss_first=${rss_samples[1]:-${rss_samples[0]:-0}}
rss_max=$(printf '%s\n' "${rss_samples[@]:-0}" | sort -n | tail -1)
rss_last=${rss_samples[-1]:-0}
printf 'profile %s, %d customers\n' "$profile" "$customers"
printf 'units %d (stored %d) in %.2f s: %.0f units/s; stored events %.0f/s\n' \
  "$produced" "$stored" "$meter_s" "$rate" "$(calc "$stored / $meter_s")"
printf 'psql \\copy of the %d stored rows: %.2f s, %.0f rows/s; ratio meter/copy %.2f\n' \
  "$stored" "$copy_s" "$copy_rate" "$(calc "$rate / $copy_rate")"
meter_cpu=$(calc "$cpu_ticks / $(getconf CLK_TCK)")
printf 'meter CPU (first meter, to the last poll): %.2f s, %.2f us per unit of its share\n' \
  "$meter_cpu" "$(calc "$meter_cpu * 1000000 * $meters / $produced")"
printf 'meter RSS (KiB): first %s, max %s, last %s over %d samples\n' \
  "$rss_first" "$rss_max" "$rss_last" "${#rss_samples[@]}"
printf 'rollup rows %d: %.3f per stored event\n' "$rollup_rows" \
  "$(calc "$rollup_rows / $stored")"
