#!/usr/bin/env bash
# Debian's pgbouncer (pool_mode = transaction) on 127.0.0.1:6432 in front of
# the system PostgreSQL on 127.0.0.1:5432 (database `test`), state under
# ${DSG_BEDS_DIR:-/tmp/dsg-beds}/pgbouncer. Runs as OS user postgres when we
# are root (pgbouncer refuses to run as root).
#
#   scripts/beds/pgbouncer.sh start|stop|status
#
# `start` prints `export DSG_TEST_PGBOUNCER_URL=...` on stdout (messages on
# stderr), so `eval "$(scripts/beds/pgbouncer.sh start)"` works.
set -Eeuo pipefail

BED_NAME=pgbouncer
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PGBOUNCER="${DSG_PGBOUNCER_BIN:-/usr/sbin/pgbouncer}"
PSQL="${DSG_PSQL_BIN:-/usr/lib/postgresql/15/bin/psql}"
DIR="$BEDS_ROOT/pgbouncer"
INI="$DIR/pgbouncer.ini"
PIDFILE="$DIR/pgbouncer.pid"
LOGFILE="$DIR/pgbouncer.log"
PORT=6432
UPSTREAM_HOST=127.0.0.1
UPSTREAM_PORT=5432
RUN_USER=postgres

URL="postgres://postgres@127.0.0.1:$PORT/test"

as_user() {
  if is_root; then runuser -u "$RUN_USER" -- "$@"; else "$@"; fi
}

print_urls() { echo "export DSG_TEST_PGBOUNCER_URL='$URL'"; }

bouncer_pid() { read_pid "$PIDFILE"; }
running() { pid_is_ours "$(bouncer_pid)" "$INI"; }
query_ok() {
  [ "$("$PSQL" -X -q -A -t -h 127.0.0.1 -p $PORT -U postgres -d test -c 'select 1' 2>/dev/null)" = 1 ]
}

do_stop() {
  local pid; pid=$(bouncer_pid)
  [ -n "$pid" ] && kill_ours "$pid" "$INI"
  rm -rf "$DIR"
  log "stopped; removed $DIR"
}

fail_start() {
  local rc=$?
  trap - ERR
  log "start failed (exit $rc)"
  show_log "$LOGFILE"
  show_log "$DIR/start.log"
  local pid; pid=$(bouncer_pid)
  [ -n "$pid" ] && kill_ours "$pid" "$INI"
  log "pgbouncer stopped; logs kept in $DIR (run '$0 stop' to remove)"
  exit 1
}

do_start() {
  if running && query_ok; then
    log "already running"
    print_urls
    return 0
  fi
  local t0; t0=$(now_ms)
  ensure_pkg pgbouncer
  [ -x "$PGBOUNCER" ] || die "$PGBOUNCER not found"
  if is_root; then id "$RUN_USER" >/dev/null 2>&1 || die "OS user $RUN_USER does not exist"; fi
  if [ -e "$DIR" ]; then log "cleaning up an earlier state in $DIR"; do_stop 2>/dev/null; fi
  require_free_ports $PORT || die "port $PORT must be free (a packaged pgbouncer service running?)"
  "$PSQL" -X -q -A -t -h $UPSTREAM_HOST -p $UPSTREAM_PORT -U postgres -d test -c 'select 1' >/dev/null \
    || die "the upstream PostgreSQL on $UPSTREAM_HOST:$UPSTREAM_PORT (database test, user postgres) does not answer"

  make_beds_root
  mkdir -p "$DIR"
  chmod 700 "$DIR"
  trap fail_start ERR
  # auth_type = trust still requires the user to be listed in auth_file.
  echo '"postgres" ""' >"$DIR/userlist.txt"
  cat >"$INI" <<EOF
[databases]
test = host=$UPSTREAM_HOST port=$UPSTREAM_PORT dbname=test

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $PORT
unix_socket_dir = $DIR
auth_type = trust
auth_file = $DIR/userlist.txt
admin_users = postgres
pool_mode = transaction
max_client_conn = 500
default_pool_size = 8
; sqlx sends extra_float_digits in the startup packet; pgbouncer would reject it
ignore_startup_parameters = extra_float_digits
logfile = $LOGFILE
pidfile = $PIDFILE
EOF
  if is_root; then chown -R "$RUN_USER": "$DIR"; fi

  as_user "$PGBOUNCER" -d -q "$INI" >"$DIR/start.log" 2>&1
  local i
  for ((i = 0; i < 100; i++)); do
    running && query_ok && break
    sleep 0.1
  done
  running || { log "pgbouncer is not running"; false; }
  query_ok || { log "a query through 127.0.0.1:$PORT does not go through"; false; }
  trap - ERR
  log "up in $(($(now_ms) - t0)) ms; memory ~$(mem_mb "$(bouncer_pid)") MB (PSS); $URL -> $UPSTREAM_HOST:$UPSTREAM_PORT/test"
  print_urls
}

do_status() {
  if running; then
    if query_ok; then log "running on $PORT (pid $(bouncer_pid)), queries go through"; print_urls; return 0; fi
    log "running on $PORT (pid $(bouncer_pid)), but a query does not go through"; return 1
  fi
  log "not running"
  return 1
}

case "${1:-}" in
  start) do_start ;;
  stop) do_stop ;;
  status) do_status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
