#!/usr/bin/env bash
# Start or stop a private PostgreSQL cluster on a Unix socket inside DIR.
#
#   pg-fixture.sh start DIR [--watch PID]   init (first time) and start; prints
#                                           export lines for PGHOST/PGPORT/PGUSER
#   pg-fixture.sh stop DIR [--remove]       fast stop; --remove deletes DIR
#   pg-fixture.sh crash DIR                 immediate stop (no checkpoint, as
#                                           after a power cut); start again
#                                           with `start DIR`
#
# No TCP listener: the socket lives in DIR, so clusters never collide. As root
# the server runs as the unprivileged 'postgres' user (PostgreSQL refuses
# root). --watch PID stops the cluster (immediate mode) and removes DIR once
# PID exits, so a killed test run never leaves a server behind.
# TALLY_PG_OPTS adds server settings at start ("-c name=value ..."), for
# benchmarks that size the server like an ingest box.
set -euo pipefail

PORT=5432
SUPERUSER=tally

die() { echo "pg-fixture: $*" >&2; exit 1; }
usage() { echo "usage: pg-fixture.sh start DIR [--watch PID] | stop DIR [--remove] | crash DIR" >&2; exit 2; }

bindir() {
  local d
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [ -x "$d/initdb" ]; then echo "$d"; return; fi
  done
  if command -v initdb >/dev/null 2>&1; then dirname "$(command -v initdb)"; return; fi
  die "no PostgreSQL server found (initdb); run tools/setup.sh or apt-get install postgresql"
}

run_user() {
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || die "running as root needs the 'postgres' user (installed with the postgresql package)"
    echo postgres
  else
    id -un
  fi
}

as_user() {
  if [ "$(id -u)" = 0 ]; then runuser -u "$(run_user)" -- "$@"; else "$@"; fi
}

start() {
  local dir=$1 watch=${2:-} bin user
  bin=$(bindir)
  user=$(run_user)
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  [ ${#dir} -le 90 ] || die "$dir: path too long for a Unix socket (max 90 characters)"
  if [ "$(id -u)" = 0 ]; then
    chown "$user" "$dir"
    as_user test -x "$dir" || die "$dir: not reachable by user $user (check the modes of its parents)"
  fi
  chmod 700 "$dir"
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    as_user "$bin/initdb" -D "$dir/data" -U "$SUPERUSER" -A trust -E UTF8 \
      --locale=C --no-sync >"$dir/initdb.log" 2>&1 \
      || { cat "$dir/initdb.log" >&2; die "initdb failed in $dir/data"; }
  fi
  if as_user "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
    : # already serving: starting twice is not an error
  else
  as_user "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-k $dir -p $PORT -c listen_addresses= -c max_connections=200 ${TALLY_PG_OPTS:-}" \
    start >/dev/null \
    || { tail -n 20 "$dir/server.log" >&2; die "server did not start in $dir"; }
  fi
  if [ -n "$watch" ]; then
    # Detached from the caller's pipes so whoever reads our output sees EOF.
    setsid bash -c '
      while kill -0 "$1" 2>/dev/null; do sleep 1; done
      if [ -f "$2/data/postmaster.pid" ]; then
        if [ "$(id -u)" = 0 ]; then runuser -u "$4" -- "$3/pg_ctl" -D "$2/data" stop -m immediate -w
        else "$3/pg_ctl" -D "$2/data" stop -m immediate -w; fi
      fi
      rm -rf "$2"' _ "$watch" "$dir" "$bin" "$user" </dev/null >/dev/null 2>&1 &
    echo $! >"$dir/watchdog.pid"
  fi
  echo "export PGHOST=$dir"
  echo "export PGPORT=$PORT"
  echo "export PGUSER=$SUPERUSER"
}

stop() {
  local dir=$1 remove=${2:-} bin
  [ -d "$dir" ] || { [ -n "$remove" ] && return 0; die "$dir: no such cluster directory"; }
  bin=$(bindir)
  if [ -f "$dir/data/postmaster.pid" ]; then
    as_user "$bin/pg_ctl" -D "$dir/data" stop -m fast -w -t 60 >/dev/null \
      || as_user "$bin/pg_ctl" -D "$dir/data" stop -m immediate -w >/dev/null
  fi
  if [ -f "$dir/watchdog.pid" ]; then
    kill "$(cat "$dir/watchdog.pid")" 2>/dev/null || true
    rm -f "$dir/watchdog.pid"
  fi
  if [ -n "$remove" ]; then rm -rf "$dir"; fi
}

crash() {
  local dir=$1
  [ -f "$dir/data/postmaster.pid" ] || die "$dir: no running cluster"
  as_user "$(bindir)/pg_ctl" -D "$dir/data" stop -m immediate -w >/dev/null
}

[ $# -ge 2 ] || usage
cmd=$1 dir=$2
shift 2
case "$cmd" in
  start)
    watch=
    if [ $# -gt 0 ]; then
      [ "$1" = --watch ] && [ $# -eq 2 ] || usage
      watch=$2
    fi
    start "$dir" "$watch" ;;
  stop)
    remove=
    if [ $# -gt 0 ]; then [ "$1" = --remove ] || usage; remove=1; fi
    stop "$dir" "$remove" ;;
  crash)
    [ $# -eq 0 ] || usage
    crash "$dir" ;;
  *) usage ;;
esac
