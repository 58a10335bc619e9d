#!/usr/bin/env bash
# Invoice close benchmark (docs/benchmarks.md, docs/benchmarks.md): N customers with
# a month of usage (E events, already rolled up by the meter) drafted, then
# finalized, by `tally invoice` against a private PostgreSQL.
#
#   bench/bench_close.sh [--customers N] [--events E] [--active-days D]
#                        [--period YYYY-MM] [--rules PATH] [--as-of DATE]
#                        [--batch B] [--jobs J] [--workers K] [--runs R]
#                        [--no-draft] [--build] [--build-dir DIR]
#                        [--build-type T] [--keep]
#
# The data comes from bench/close_load.sql (its header states the shape).
# Both runs are timed wall clock, connection and migration check included;
# each command's own summary line gives its read / rate / store split
# (summed over its jobs). --jobs J is tally invoice's own concurrency
# (default one connection per CPU); --workers K finalizes with K concurrent
# processes (customers are claimed with FOR UPDATE SKIP LOCKED). --runs R
# repeats the close R times on the same data (the invoices, numbers and
# credit applications of a run are deleted and the tables vacuumed between
# runs) and prints the median. --no-draft skips the draft run: the
# finalization alone drafts and finalizes, as docs/benchmarks.md measures it.
# Afterwards every invoice must be finalized once, numbered 1..N with no
# gap, and carry the usage it priced.
# --build configures and builds DIR (default build) as type T (default
# RelWithDebInfo, the project's default; Release does not build at the
# moment: -O3 sees a false maybe-uninitialized in core/src/arena.c, an error
# under -Werror). --keep leaves the cluster running and says how to reach it.
set -euo pipefail
cd "$(dirname "$0")/.."

customers=100000 events=100000000 active_days=10 period=2026-10
rules=tests/rating/worked/catalog.yaml as_of= batch= jobs= workers=1 runs=1
build=build build_type=RelWithDebInfo do_build= keep= draft=1
usage() {
  echo "usage: $0 [--customers N] [--events E] [--active-days D] [--period YYYY-MM]" \
       "[--rules PATH] [--as-of DATE] [--batch B] [--jobs J] [--workers K] [--runs R]" \
       "[--no-draft] [--build]" \
       "[--build-dir DIR] [--build-type T] [--keep]" >&2
  exit 2
}
while [ $# -gt 0 ]; do
  case $1 in
    --customers) customers=$2; shift 2 ;;
    --events) events=$2; shift 2 ;;
    --active-days) active_days=$2; shift 2 ;;
    --period) period=$2; shift 2 ;;
    --rules) rules=$2; shift 2 ;;
    --as-of) as_of=$2; shift 2 ;;
    --batch) batch=$2; shift 2 ;;
    --workers) workers=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --no-draft) draft=; shift ;;
    --build) do_build=1; shift ;;
    --build-dir) build=$2; shift 2 ;;
    --build-type) build_type=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    *) usage ;;
  esac
done
[[ $customers =~ ^[1-9][0-9]*$ && $events =~ ^[0-9]+$ &&
   $active_days =~ ^[1-9][0-9]*$ && $active_days -le 28 &&
   $workers =~ ^[1-9][0-9]*$ && $runs =~ ^[1-9][0-9]*$ &&
   ( -z $jobs || $jobs =~ ^[1-9][0-9]*$ ) &&
   $period =~ ^[0-9]{4}-[0-9]{2}$ ]] || usage
[ -r "$rules" ] || { echo "bench_close: $rules: cannot read" >&2; exit 1; }
rules=$(realpath "$rules")

if [ -n "$do_build" ]; then
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE="$build_type" >/dev/null
  cmake --build "$build" -j2 --target tally >/dev/null
fi
case $build in /*) tally=$build/tools/tally ;; *) tally=$PWD/$build/tools/tally ;; esac
[ -x "$tally" ] || { echo "bench_close: build first ($tally missing; --build)" >&2; exit 1; }

period_start=$period-01
# Finalizing needs the period's end plus the grace period (3 days) behind
# us; for a period that has not got there yet, pretend it has.
if [ -z "$as_of" ]; then
  ready=$(date -u -d "$period_start +1 month +3 days" +%F)
  [[ $(date -u +%F) < $ready ]] && as_of=$ready
fi
opts=(--period "$period" --rules "$rules" --quiet)
[ -n "$as_of" ] && opts+=(--as-of "$as_of")
[ -n "$batch" ] && opts+=(--batch "$batch")
[ -n "$jobs" ] && opts+=(--jobs "$jobs")

work=$(mktemp -d /tmp/tally-bench-close-XXXXXX)
chmod 755 "$work"
worker_pids=()
cleanup() {
  for p in "${worker_pids[@]}"; do kill "$p" 2>/dev/null || true; done
  if [ -z "$keep" ]; then
    tools/scripts/pg-fixture.sh stop "$work/pg" --remove >/dev/null 2>&1 || true
    rm -rf "$work"
  fi
}
trap cleanup EXIT

now_ns() { date +%s%N; }
# Busy and total jiffies of the whole machine: a run that found it busier
# than the close itself makes it (the close alternates between tally and
# its backend, so one worker keeps about one core busy) was disturbed.
cpu_mark() { awk '/^cpu /{ print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9 }' /proc/stat; }
cpu_busy() { # "$(cpu_mark)" taken before -> cores busy on average since
  awk -v a="$1" -v n="$(nproc)" -v b="$(cpu_mark)" 'BEGIN { split(a, x, " ");
    split(b, y, " "); printf "%.2f", n * (y[1] - x[1]) / (y[2] - x[2] + 1e-9) }'
}
ms_since() { echo $(( ($(now_ns) - $1) / 1000000 )); }
secs() { awk -v ms="$1" 'BEGIN { printf "%.2f", ms / 1000 }'; }
q() { psql -XAtqc "$1"; }
fail() { echo "bench_close: $*" >&2; exit 1; }

. bench/lib.sh
bench_db "$work" bench
echo "PostgreSQL $(q 'SHOW server_version'): shared_buffers $(q 'SHOW shared_buffers')," \
     "work_mem $(q 'SHOW work_mem'), max_wal_size $(q 'SHOW max_wal_size')"

echo "loading $customers customers, $events events as rollups ($active_days active days x 5 attribute sets) for $period"
t=$(now_ns)
psql -XAq -v customers="$customers" -v events="$events" \
  -v active_days="$active_days" -v period_start="$period_start" \
  -f bench/close_load.sql
load_ms=$(ms_since "$t")
t=$(now_ns)
psql -XAqc "VACUUM ANALYZE"
vacuum_ms=$(ms_since "$t")
rows=$(q "SELECT count(*) FROM usage_rollups")
in_rollups=$(q "SELECT coalesce(sum(event_count), 0) FROM usage_rollups")
seats=$(q "SELECT count(*) FROM events WHERE type = 4")
[ "$in_rollups" = "$events" ] || fail "rollups count $in_rollups events, expected $events"
printf 'loaded %d rollup rows (%s events), %d seat events, %d credits in %s s (+ VACUUM ANALYZE %s s); usage_rollups %s\n' \
  "$rows" "$in_rollups" "$seats" "$(q "SELECT count(*) FROM credit_ledger")" \
  "$(secs "$load_ms")" "$(secs "$vacuum_ms")" \
  "$(q "SELECT pg_size_pretty(pg_total_relation_size('usage_rollups_${period/-/_}'))")"

# One `tally invoice` run; its summary line goes to "$work/$1.out".
run() {
  local name=$1; shift
  "$tally" invoice "${opts[@]}" "$@" >"$work/$name.out" 2>"$work/$name.err" \
    || { cat "$work/$name.out" "$work/$name.err" >&2; fail "tally invoice $* failed"; }
}

totals=()
for ((r = 1; r <= runs; r++)); do
[ "$runs" = 1 ] || echo "-- run $r of $runs"
draft_ms=0
if [ -n "$draft" ]; then
  t=$(now_ns) c=$(cpu_mark)
  run draft
  draft_ms=$(ms_since "$t") draft_cores=$(cpu_busy "$c")
  drafts=$(q "SELECT count(*) FROM invoices WHERE status = 'draft'")
  [ "$drafts" = "$customers" ] || fail "$drafts drafts, expected $customers"
fi

t=$(now_ns) c=$(cpu_mark)
if [ "$workers" = 1 ]; then
  run final --finalize
else
  for i in $(seq "$workers"); do
    run "final-$i" --finalize &
    worker_pids+=($!)
  done
  for p in "${worker_pids[@]}"; do wait "$p" || fail "a finalizing worker failed"; done
  worker_pids=()
fi
final_ms=$(ms_since "$t") final_cores=$(cpu_busy "$c")

# Every customer finalized once, numbers 1..N without a gap, the usage
# each invoice priced adding up to what was loaded.
read -r n_final n_left n_distinct seq_min seq_max last_seq priced credits total <<<"$(q "
  SELECT (SELECT count(*) FROM invoices WHERE status = 'finalized'),
         (SELECT count(*) FROM invoices WHERE status = 'draft'),
         count(DISTINCT number), min(seq), max(seq),
         (SELECT sum(last_seq) FROM invoice_numbers),
         (SELECT sum(usage_events) FROM invoices),
         (SELECT count(*) FROM credit_ledger WHERE reason = 'invoice'),
         (SELECT sum(total) FROM invoices)
  FROM (SELECT number, substring(number FROM '[0-9]+\$')::bigint AS seq
        FROM invoices WHERE status = 'finalized') n" | tr '|' ' ')"
ok=yes
[ "$n_final" = "$customers" ] && [ "$n_left" = 0 ] || ok=no
[ "$n_distinct" = "$customers" ] && [ "$seq_min" = 1 ] &&
  [ "$seq_max" = "$customers" ] && [ "$last_seq" = "$customers" ] || ok=no
[ "$priced" = $((events + seats)) ] || ok=no
awk -v t="$total" 'BEGIN { exit !(t > 0) }' || ok=no

[ -z "$draft" ] || echo "draft:    $(cat "$work/draft.out")"
for f in "$work"/final*.out; do echo "finalize: $(cat "$f")"; done
printf 'cores busy on average (of %d): %sfinalize %s\n' "$(nproc)" \
  "$([ -z "$draft" ] || echo "draft $draft_cores, ")" "$final_cores"
printf 'verified: %s finalized, %s drafts left, %s distinct numbers, sequence %s..%s, counter %s;\n' \
  "$n_final" "$n_left" "$n_distinct" "$seq_min" "$seq_max" "$last_seq"
printf '          usage priced %s events (rollups %s + seats %s), %s credit applications, sum of totals %s: %s\n' \
  "$priced" "$events" "$seats" "$credits" "$total" \
  "$([ $ok = yes ] && echo OK || echo FAILED)"
w=$([ "$workers" = 1 ] || echo " ($workers workers)")
if [ -n "$draft" ]; then
  printf 'close of %d customers, %d events (%d rollup rows): draft %s s, finalize %s s%s, together %s s (target < 60 s)\n' \
    "$customers" "$events" "$rows" "$(secs "$draft_ms")" "$(secs "$final_ms")" \
    "$w" "$(secs $((draft_ms + final_ms)))"
else
  printf 'close of %d customers, %d events (%d rollup rows): finalize without a draft run %s s%s (target < 60 s)\n' \
    "$customers" "$events" "$rows" "$(secs "$final_ms")" "$w"
fi
[ $ok = yes ] || fail "verification failed"
totals+=($((draft_ms + final_ms)))
if ((r < runs)); then
  psql -XAq <<'SQL'
ALTER TABLE invoices DISABLE TRIGGER invoices_frozen;
DELETE FROM invoice_adjustments;
DELETE FROM credit_ledger WHERE reason = 'invoice';
DELETE FROM invoices;
DELETE FROM invoice_numbers;
ALTER TABLE invoices ENABLE TRIGGER invoices_frozen;
VACUUM FULL invoices, credit_ledger, invoice_numbers;
ANALYZE;
SQL
  rm -f "$work"/*.out "$work"/*.err
fi
done
if [ "$runs" -gt 1 ]; then
  sorted=$(printf '%s\n' "${totals[@]}" | sort -n)
  printf 'runs (s, low to high): %s; median %s s (target < 60 s)\n' \
    "$(for v in $sorted; do printf '%s ' "$(secs "$v")"; done)" \
    "$(secs "$(printf '%s\n' $sorted | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : int((v[NR / 2] + v[NR / 2 + 1]) / 2) }')")"
fi
if [ -n "$keep" ]; then
  echo "kept: $pg_env; export PGDATABASE=bench" | tr '\n' ';'
  echo " stop with: tools/scripts/pg-fixture.sh stop $work/pg --remove"
fi
