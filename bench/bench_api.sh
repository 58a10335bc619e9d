#!/usr/bin/env bash
# `tally serve` benchmark (docs/benchmarks.md): cost to date
# (GET /v1/customers/{id}/usage) and HTTP ingest (POST /v1/events) measured
# with wrk, keys on, while `tally meter` ingests a stream from `tally loadgen`.
#
#   bench/bench_api.sh [--customers N] [--events E] [--active-days D]
#                      [--duration S] [--connections "C1 C2 ..."] [--threads T]
#                      [--runs R] [--ingest-rate U] [--batch B] [--duplicates]
#                      [--rules PATH] [--no-usage] [--no-events]
#                      [--build-dir DIR] [--keep]
#
# The database is bench/close_load.sql's (default 100,000 customers, a
# month of usage = 100 M events rolled up), loaded for the current month, so
# the usage route's default period is the loaded one. Every measurement is
# wrk -t T -c C -d S --latency, R times per connection count (medians
# printed); during each, loadgen produces U units/s (default 5,000, CBOR
# arrays of 100) that the meter stores. POST /v1/events posts JSON batches
# of B events (default 100) with new ids in every request (distinct
# events); --duplicates also measures the same body every time (all
# duplicates after the first: serve still produces and waits for Kafka).
# serve's per-key rate limit is kept out of the way with a pool of 32 keys
# per side (each request takes one at random).
set -euo pipefail
cd "$(dirname "$0")/.."

customers=100000 events=100000000 active_days=10 duration=20 conns="16 32 64"
threads=2 runs=3 ingest_rate=5000 batch=100 dups= rules=tests/rating/worked/catalog.yaml
do_usage=1 do_events=1 build=build keep=
usage() {
  echo "usage: $0 [--customers N] [--events E] [--active-days D] [--duration S]" \
       "[--connections \"C1 C2\"] [--threads T] [--runs R] [--ingest-rate U]" \
       "[--batch B] [--duplicates] [--rules PATH] [--no-usage] [--no-events]" \
       "[--build-dir DIR] [--keep]" >&2
  exit 2
}
while [ $# -gt 0 ]; do
  case $1 in
    --customers) customers=$2; shift 2 ;;
    --events) events=$2; shift 2 ;;
    --active-days) active_days=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --connections) conns=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --ingest-rate) ingest_rate=$2; shift 2 ;;
    --batch) batch=$2; shift 2 ;;
    --duplicates) dups=1; shift ;;
    --rules) rules=$2; shift 2 ;;
    --no-usage) do_usage=; shift ;;
    --no-events) do_events=; shift ;;
    --build-dir) build=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    *) usage ;;
  esac
done
[[ $customers =~ ^[1-9][0-9]*$ && $events =~ ^[0-9]+$ &&
   $active_days =~ ^[1-9][0-9]*$ && $active_days -le 28 &&
   $duration =~ ^[1-9][0-9]*$ && $threads =~ ^[1-9][0-9]*$ &&
   $runs =~ ^[1-9][0-9]*$ && $ingest_rate =~ ^[0-9]+$ &&
   $batch =~ ^[1-9][0-9]*$ && $conns =~ ^[0-9\ ]+$ ]] || usage
command -v wrk >/dev/null || { echo "bench_api: wrk missing (apt-get install wrk)" >&2; exit 1; }
[ -r "$rules" ] || { echo "bench_api: $rules: cannot read" >&2; exit 1; }
rules=$(realpath "$rules")
case $build in /*) tally=$build/tools/tally ;; *) tally=$PWD/$build/tools/tally ;; esac
[ -x "$tally" ] || { echo "bench_api: build first ($tally missing)" >&2; exit 1; }

work=$(mktemp -d /tmp/tally-bench-api-XXXXXX)
chmod 755 "$work"
broker_pid= meter_pid= serve_pid= loadgen_pid=
cleanup() {
  for p in $loadgen_pid $serve_pid $meter_pid $broker_pid; do
    kill "$p" 2>/dev/null || true
  done
  wait 2>/dev/null || true
  if [ -z "$keep" ]; then
    tools/scripts/pg-fixture.sh stop "$work/pg" --remove >/dev/null 2>&1 || true
    rm -rf "$work"
  fi
}
trap cleanup EXIT

q() { psql -XAtqc "$1"; }
fail() { echo "bench_api: $*" >&2; exit 1; }
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "-";
  else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
# wrk's latency (e.g. 812.00us, 5.12ms, 1.20s) in ms.
to_ms() { awk '{ v = $1 + 0; if ($1 ~ /us$/) v /= 1000; else if ($1 ~ /[0-9]s$/ && $1 !~ /ms$/) v *= 1000; printf "%.2f\n", v }'; }
stored() { q "SELECT coalesce(sum(consumed), 0) FROM ingest_counts"; }
# CPU time (clock ticks, utime + stime) of process PID, and of the
# PostgreSQL server (the postmaster and its children: every backend, so
# the meter's too). Shared machines make requests/s noisy; CPU per request
# is what a change moves.
ticks() { awk '{ sub(/^[^)]*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }
pg_ticks() {
  local pm
  pm=$(head -1 "$work/pg/data/postmaster.pid")
  { cat /proc/[0-9]*/stat 2>/dev/null || true; } | awk -v pm="$pm" '{ pid = $1; sub(/^[^)]*\) /, "");
    if (pid == pm || $2 == pm) t += $12 + $13 } END { print t + 0 }'
}
hz=$(getconf CLK_TCK)

. bench/lib.sh
bench_db "$work" bench
period_start=$(date -u +%Y-%m-01)
echo "PostgreSQL $(q 'SHOW server_version'): shared_buffers $(q 'SHOW shared_buffers')"
echo "loading $customers customers, $events events as rollups ($active_days active days x 5 attribute sets) for ${period_start%-01}"
t=$(date +%s)
psql -XAq -v customers="$customers" -v events="$events" \
  -v active_days="$active_days" -v period_start="$period_start" \
  -f bench/close_load.sql
psql -XAqc "VACUUM ANALYZE"
echo "loaded $(q 'SELECT count(*) FROM usage_rollups') rollup rows in $(( $(date +%s) - t )) s"

topic=bench
bench_broker "$work" "$topic:32"
"$tally" meter --topic "$topic" --group bench 2>"$work/meter.log" &
meter_pid=$!
# serve's rate limit (200 requests/s per key by default) must not cap the
# benchmark. Its config section (serve.rate_per_s) cannot be used at the
# moment: `tally serve --config` refuses a `serve:` section ("serve: unknown
# key", the top-level check shared with the meter does not list it). So
# each side gets a pool of keys and every request takes one at random:
# 32 x 200/s is far above what two cores answer.
admins=() writers=()
for i in $(seq 32); do
  admins+=("$("$tally" keys create --scope admin --name "bench-admin-$i" 2>/dev/null | head -1)")
  writers+=("$("$tally" keys create --scope events:write --name "bench-events-$i" 2>/dev/null | head -1)")
done
admin=${admins[0]}
"$tally" serve --http 127.0.0.1:0 --rules "$rules" \
  --brokers "$TALLY_KAFKA_BROKERS" --topic "$topic" \
  >"$work/serve.out" 2>"$work/serve.log" &
serve_pid=$!
port=
for _ in $(seq 300); do
  port=$(sed -n 's/^tally serve: listening on port \([0-9]*\)$/\1/p' "$work/serve.out")
  [ -n "$port" ] && break
  kill -0 "$serve_pid" 2>/dev/null || { cat "$work/serve.log" >&2; fail "tally serve exited"; }
  sleep 0.1
done
[ -n "$port" ] || fail "tally serve did not start"
url=http://127.0.0.1:$port
echo "tally serve on $url (pid $serve_pid), meter pid $meter_pid"

# One answer of each route, checked before any timing.
id=$(printf "cust_%0$((${#customers} > 6 ? ${#customers} : 6))d" 1)
code=$(curl -s -o "$work/one.json" -w '%{http_code}' \
  -H "Authorization: Bearer $admin" "$url/v1/customers/$id/usage")
[ "$code" = 200 ] || { cat "$work/one.json" >&2; fail "usage of $id answered $code"; }
echo "usage of $id: $(head -c 300 "$work/one.json")..."

export BENCH_CUSTOMERS=$customers BENCH_BATCH=$batch

# feed: loadgen at $ingest_rate units/s in the background, for the length
# of one measurement and a little more.
feed() {
  loadgen_pid=
  [ "$ingest_rate" = 0 ] && return
  "$tally" loadgen --topic "$topic" --customers "$customers" \
    --events $((ingest_rate * (duration + 5))) --rate "$ingest_rate" \
    --encoding cbor --batch 100 --quiet -X linger.ms=20 \
    >/dev/null 2>>"$work/loadgen.log" &
  loadgen_pid=$!
}
unfeed() {
  [ -n "$loadgen_pid" ] && { kill "$loadgen_pid" 2>/dev/null || true; wait "$loadgen_pid" 2>/dev/null || true; }
  loadgen_pid=
}

# measure NAME C SCRIPT: one wrk run; appends "name c rps p50 p99 non2xx
# errors meter_events_per_s serve_cpu_ms pg_cpu_ms" to $work/results (the
# last two per request; PostgreSQL's includes the meter's work).
measure() {
  local name=$1 c=$2 script=$3 out=$work/wrk-$1-$2-$RANDOM.txt s0 s1 t0 t1
  local sv0 sv1 pg0 pg1
  feed
  sleep 1
  s0=$(stored) t0=$(date +%s.%N)
  sv0=$(ticks "$serve_pid") pg0=$(pg_ticks)
  wrk -t "$threads" -c "$c" -d "${duration}s" --timeout 10s --latency \
    -s "$script" "$url" >"$out" 2>&1 || { cat "$out" >&2; fail "wrk failed"; }
  sv1=$(ticks "$serve_pid") pg1=$(pg_ticks)
  s1=$(stored) t1=$(date +%s.%N)
  unfeed
  local rps p50 p99 non2xx errs mrate n scpu pcpu
  n=$(awk '/requests in/ { print $1 }' "$out")
  scpu=$(awk -v a="$sv0" -v b="$sv1" -v n="$n" -v hz="$hz" 'BEGIN { printf "%.3f", n ? (b - a) * 1000 / hz / n : 0 }')
  pcpu=$(awk -v a="$pg0" -v b="$pg1" -v n="$n" -v hz="$hz" 'BEGIN { printf "%.3f", n ? (b - a) * 1000 / hz / n : 0 }')
  rps=$(awk '/^Requests\/sec:/ { print $2 }' "$out")
  p50=$(awk '$1 == "50%" { print $2 }' "$out" | to_ms)
  p99=$(awk '$1 == "99%" { print $2 }' "$out" | to_ms)
  non2xx=$(awk '/Non-2xx/ { print $NF }' "$out"); non2xx=${non2xx:-0}
  errs=$(awk '/Socket errors/ { gsub(",", ""); print $4 + $6 + $8 + $10 }' "$out"); errs=${errs:-0}
  mrate=$(awk -v a="$s0" -v b="$s1" -v t0="$t0" -v t1="$t1" 'BEGIN { printf "%.0f", (b - a) / (t1 - t0) }')
  echo "$name $c $rps $p50 $p99 $non2xx $errs $mrate $scpu $pcpu" >>"$work/results"
  printf '  %-12s -c %-4s %10s req/s  p50 %7s ms  p99 %7s ms  non-2xx %s  socket errors %s  meter stored %s units/s  CPU ms/request serve %s PostgreSQL %s\n' \
    "$name" "$c" "$rps" "$p50" "$p99" "$non2xx" "$errs" "$mrate" "$scpu" "$pcpu"
}

: >"$work/results"
echo "wrk -t $threads -d ${duration}s --latency; loadgen $ingest_rate units/s into the meter during each; $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
for ((r = 1; r <= runs; r++)); do
  echo "-- run $r of $runs"
  if [ -n "$do_usage" ]; then
    for c in $conns; do BENCH_KEYS="${admins[*]}" measure usage "$c" bench/api_usage.lua; done
  fi
  if [ -n "$do_events" ]; then
    for c in $conns; do
      BENCH_KEYS="${writers[*]}" BENCH_UNIQUE=1 BENCH_NONCE="r$r-c$c-$$" \
        measure events "$c" bench/api_events.lua
    done
    if [ -n "$dups" ]; then
      for c in $conns; do
        BENCH_KEYS="${writers[*]}" BENCH_UNIQUE=0 BENCH_NONCE="d$r-c$c-$$" \
          measure events-dup "$c" bench/api_events.lua
      done
    fi
  fi
done
kill -0 "$serve_pid" 2>/dev/null || fail "tally serve died"
kill -0 "$meter_pid" 2>/dev/null || { tail "$work/meter.log" >&2; fail "tally meter died"; }

echo
echo "medians of $runs runs ($customers customers; machine shared: see docs/benchmarks.md)"
printf '| %-10s | %5s | %10s | %10s | %8s | %8s | %7s | %6s | %11s | %9s | %9s |\n' \
  route conns "req/s" "events/s" "p50 ms" "p99 ms" non-2xx errors "meter u/s" "serve CPU" "PG CPU"
for name in usage events events-dup; do
  for c in $conns; do
    rows=$(awk -v n="$name" -v c="$c" '$1 == n && $2 == c' "$work/results")
    [ -n "$rows" ] || continue
    rps=$(awk '{ print $3 }' <<<"$rows" | median)
    ev=$([ "$name" = usage ] && echo - || awk -v r="$rps" -v b="$batch" 'BEGIN { printf "%.0f", r * b }')
    printf '| %-10s | %5s | %10.0f | %10s | %8s | %8s | %7s | %6s | %11s | %9s | %9s |\n' "$name" "$c" "$rps" "$ev" \
      "$(awk '{ print $4 }' <<<"$rows" | median)" "$(awk '{ print $5 }' <<<"$rows" | median)" \
      "$(awk '{ s += $6 } END { print s }' <<<"$rows")" "$(awk '{ s += $7 } END { print s }' <<<"$rows")" \
      "$(awk '{ print $8 }' <<<"$rows" | median)" \
      "$(awk '{ print $9 }' <<<"$rows" | median)" "$(awk '{ print $10 }' <<<"$rows" | median)"
  done
done
echo "serve CPU, PG CPU: ms of CPU (user + system) per request over the run"
echo "targets: usage >= 2,000 req/s with p99 <= 25 ms; events >= 50,000 events/s (batches of 100)"
if [ -n "$keep" ]; then
  echo "kept: $pg_env; export PGDATABASE=bench; work dir $work" | tr '\n' ';'
  echo " stop with: tools/scripts/pg-fixture.sh stop $work/pg --remove"
fi
