# Shared by the benchmark scripts (sourced, from the repository root, with
# $tally set): the private services each run starts.

# bench_db WORK NAME: a private PostgreSQL in WORK/pg with a migrated
# database NAME; its libpq variables are exported (and kept in $pg_env).
bench_db() {
  pg_env=$(tools/scripts/pg-fixture.sh start "$1/pg")
  eval "$pg_env"
  export PGDATABASE=$2
  createdb "$2"
  "$tally" db migrate >/dev/null
}

# bench_broker WORK TOPIC:PARTITIONS: `tally broker` in the background
# ($broker_pid), its address exported as TALLY_KAFKA_BROKERS.
bench_broker() {
  "$tally" broker --topic "$2" --address-file "$1/addr" \
    >/dev/null 2>"$1/broker.log" &
  broker_pid=$!
  for _ in $(seq 100); do [ -s "$1/addr" ] && break; sleep 0.1; done
  TALLY_KAFKA_BROKERS=$(cat "$1/addr")
  export TALLY_KAFKA_BROKERS
}
