#!/usr/bin/env bash
# Starts a throw-away PostgreSQL 15 on a local port for the tests and prints its URL.
# Installs the server from Debian's packages when it is missing. Usage:
#   url=$(scripts/postgres.sh start)   ...   scripts/postgres.sh stop
# `halt` and `resume` stop and restart the same server with its data (the outage test).
set -euo pipefail
PGBIN=/usr/lib/postgresql/15/bin
PGDIR=${ATTEST_PG_DIR:-/tmp/attest-pg}
PORT=${ATTEST_PG_PORT:-54329}

ensure_installed() {
  [ -x "$PGBIN/postgres" ] && return 0
  if [ "$(id -u)" = 0 ]; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-15) >&2 || return 1
  fi
  [ -x "$PGBIN/postgres" ]
}

run_server() {
  as_pg "$PGBIN/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/log" -w \
    -o "-p $PORT -k $PGDIR -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null
}

as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

case "${1:-start}" in
  start)
    ensure_installed || { echo "postgres.sh: PostgreSQL 15 could not be installed" >&2; exit 1; }
    "$0" stop >/dev/null 2>&1 || true
    rm -rf "$PGDIR"; mkdir -p "$PGDIR"
    [ "$(id -u)" = 0 ] && chown postgres "$PGDIR"
    as_pg "$PGBIN/initdb" -D "$PGDIR/data" -U postgres --auth=trust -E UTF8 >/dev/null
    run_server
    echo "postgresql+psycopg://postgres@127.0.0.1:$PORT/postgres"
    ;;
  stop|halt)
    [ -d "$PGDIR/data" ] && as_pg "$PGBIN/pg_ctl" -D "$PGDIR/data" -m fast stop >/dev/null
    ;;
  resume)
    run_server
    ;;
esac
