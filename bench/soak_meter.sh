#!/usr/bin/env bash
# Meter memory soak (docs/benchmarks.md: RSS flat within 10 % over 30 minutes):
# `tally meter` consumes a steady `tally loadgen` stream (mixed encodings,
# duplicates, bad units) for M minutes while its RSS is sampled; at the
# end the counts must reconcile with loadgen's ground truth.
#
#   bench/soak_meter.sh [--minutes M] [--rate UNITS_PER_S] [--customers N]
#                       [--batch B] [--warmup-s S] [--backlog-s S]
#                       [--build DIR]
#
# "Flat" is judged after the warm-up (default 120 s: librdkafka's prefetch
# queue and the batch buffers fill first): the spread of the samples,
# (max - min) / min, must stay within 10 %. The samples go to
# $TMPDIR/tally-soak-rss.tsv (seconds, KiB) for plotting.
#
# --backlog-s S starts the meter S seconds after the stream, as after a
# restart: it catches up in batches at their size cap during the warm-up,
# so every buffer has met its largest batch before RSS is judged, and a
# later rise is growth, not a first full batch.
set -euo pipefail
cd "$(dirname "$0")/.."

minutes=30 rate=5000 customers=1000 batch=100 warmup=120 backlog=0 build=build
while [ $# -gt 0 ]; do
  case $1 in
    --minutes) minutes=$2; shift 2 ;;
    --rate) rate=$2; shift 2 ;;
    --customers) customers=$2; shift 2 ;;
    --batch) batch=$2; shift 2 ;;
    --warmup-s) warmup=$2; shift 2 ;;
    --backlog-s) backlog=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    *) echo "usage: $0 [--minutes M] [--rate UNITS_PER_S] [--customers N] [--batch B] [--warmup-s S] [--backlog-s S] [--build DIR]" >&2; exit 2 ;;
  esac
done
[[ $minutes =~ ^[1-9][0-9]*$ && $rate =~ ^[1-9][0-9]*$ &&
   $warmup =~ ^[0-9]+$ && $backlog =~ ^[0-9]+$ && $batch =~ ^[1-9][0-9]*$ ]] || { echo "soak_meter: bad arguments" >&2; exit 2; }
tally=$PWD/$build/tools/tally
[ -x "$tally" ] || { echo "soak_meter: build first ($tally missing)" >&2; exit 1; }
samples=${TMPDIR:-/tmp}/tally-soak-rss.tsv

work=$(mktemp -d /tmp/tally-soak-XXXXXX)
chmod 755 "$work"
broker_pid= meter_pid= gen_pid=
cleanup() {
  for p in $gen_pid $meter_pid $broker_pid; do kill "$p" 2>/dev/null || true; done
  tools/scripts/pg-fixture.sh stop "$work/pg" --remove >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

. bench/lib.sh
bench_db "$work" soak
bench_broker "$work" soak:16

units=$((rate * minutes * 60))
# Distinct events: the units less the duplicate and bad shares.
events=$((units * 88 / 100))
echo "soak: $minutes min at $rate units/s ($units units: ~10 % duplicates, ~2 % bad; batch $batch), RSS sampled every 5 s$([ "$backlog" = 0 ] || echo ", meter started $backlog s behind")"
"$tally" loadgen --topic soak --events "$events" --customers "$customers" \
  --duplicates 0.1 --bad 0.02 --encoding mixed --batch "$batch" \
  --rate "$rate" --seed 7 --truth "$work/truth.tsv" --quiet \
  -X compression.type=lz4 2>"$work/loadgen.log" &
gen_pid=$!
sleep "$backlog"
"$tally" meter --topic soak --group soak 2>"$work/meter.log" &
meter_pid=$!

t0=$(date +%s)
: >"$samples"
while kill -0 "$gen_pid" 2>/dev/null; do
  kill -0 "$meter_pid" 2>/dev/null || { tail "$work/meter.log" >&2; echo "soak_meter: the meter died" >&2; exit 1; }
  printf '%d\t%s\n' $(($(date +%s) - t0)) "$(awk '/^VmRSS/ {print $2}' /proc/$meter_pid/status)" >>"$samples"
  sleep 5
done
wait "$gen_pid" || { tail "$work/loadgen.log" >&2; echo "soak_meter: loadgen failed" >&2; exit 1; }
gen_pid=
produced=$(awk '$1 == "produced" {print $2}' "$work/truth.tsv")
stored=$(awk '$1 == "stored" {print $2}' "$work/truth.tsv")
for _ in $(seq 600); do
  got=$(psql -XAtc "SELECT coalesce(sum(consumed), 0) FROM ingest_counts")
  [ "$got" -ge "$produced" ] && break
  sleep 1
done
elapsed=$(($(date +%s) - t0))
read -r c s d l <<<"$(psql -XAtc "SELECT coalesce(sum(consumed), 0), coalesce(sum(stored), 0),
  coalesce(sum(duplicates), 0), coalesce(sum(dead_lettered), 0) FROM ingest_counts" | tr '|' ' ')"
in_db=$(psql -XAtc "SELECT count(*) FROM events")
kill -TERM "$meter_pid"
wait "$meter_pid" || true
meter_pid=

awk -v w="$warmup" '$1 >= w { if (!n++ || $2 < lo) lo = $2; if ($2 > hi) hi = $2; last = $2; if (n == 1) first = $2 }
  END { if (!n) { print "soak_meter: no sample after the warm-up" > "/dev/stderr"; exit 1 }
        printf "meter RSS after %d s of warm-up (KiB): first %d, min %d, max %d, last %d over %d samples; spread %.1f %% (target <= 10 %%)\n",
               w, first, lo, hi, last, n, 100 * (hi - lo) / lo
        exit (100 * (hi - lo) / lo > 10) ? 3 : 0 }' "$samples" || flat=$?
echo "units produced $produced in $elapsed s; meter: consumed $c = stored $s + duplicates $d + dead letters $l; events table $in_db, truth stored $stored"
ok=yes
[ "$c" = "$produced" ] && [ $((s + d + l)) = "$c" ] && [ "$in_db" = "$stored" ] || ok=no
echo "reconciled: $ok; samples in $samples"
[ $ok = yes ] || exit 1
[ "${flat:-0}" = 0 ] || exit 1
