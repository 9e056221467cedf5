#!/usr/bin/env bash
# Throw-away PostgreSQL 15 primary (127.0.0.1:5440) + streaming standby
# (127.0.0.1:5441) under ${DSG_BEDS_DIR:-/tmp/dsg-beds}/pg-standby.
#
#   scripts/beds/pg-standby.sh start|stop|status|promote
#   scripts/beds/pg-standby.sh kill-standby    # pg_ctl stop -m immediate (a crash)
#   scripts/beds/pg-standby.sh start-standby   # start it again and wait until it streams
#   scripts/beds/pg-standby.sh kill-primary    # pg_ctl stop -m immediate of the primary
#   scripts/beds/pg-standby.sh save-standby    # copy the standby's data (stopped, then started again)
#   scripts/beds/pg-standby.sh start-stale-standby  # the standby from that copy, not streaming:
#                                              # a standby restored from an older backup
#   scripts/beds/pg-standby.sh start-primary   # start it again (the standby reconnects)
#
# DSG_PG_PRIMARY_PORT / DSG_PG_STANDBY_PORT (default 5440 / 5441) with DSG_BEDS_DIR run a
# second pair beside the first.
#
# `start` prints `export DSG_TEST_PG_*_URL=...` lines on stdout (messages on
# stderr), so `eval "$(scripts/beds/pg-standby.sh start)"` works.
set -Eeuo pipefail

BED_NAME=pg-standby
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PGBIN="${DSG_PG_BIN:-/usr/lib/postgresql/15/bin}"
DIR="$BEDS_ROOT/pg-standby"
PRIMARY="$DIR/primary"
STANDBY="$DIR/standby"
RUN="$DIR/run"            # unix socket directory
P_PORT="${DSG_PG_PRIMARY_PORT:-5440}"
S_PORT="${DSG_PG_STANDBY_PORT:-5441}"
PG_USER=postgres          # OS user the servers run as (when we are root)

PRIMARY_URL="postgres://postgres@127.0.0.1:$P_PORT/test"
STANDBY_URL="postgres://postgres@127.0.0.1:$S_PORT/test"
MULTI_URL="postgres://postgres@127.0.0.1:$P_PORT,127.0.0.1:$S_PORT/test?target_session_attrs=read-write"

# as_pg CMD...: run as OS user postgres when we are root, else as ourselves.
as_pg() {
  if is_root; then runuser -u "$PG_USER" -- "$@"; else "$@"; fi
}

# q PORT SQL: one value from a query over TCP.
q() {
  as_pg "$PGBIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$1" -U postgres -d "${3:-postgres}" -c "$2"
}

server_pid() { read_pid "$1/postmaster.pid"; }
server_up() { local pid; pid=$(server_pid "$1"); pid_is_ours "$pid" "$1"; }

print_urls() {
  cat <<EOF
export DSG_TEST_PG_PRIMARY_URL='$PRIMARY_URL'
export DSG_TEST_PG_STANDBY_URL='$STANDBY_URL'
export DSG_TEST_PG_MULTI_URL='$MULTI_URL'
EOF
}

healthy() {
  server_up "$PRIMARY" && server_up "$STANDBY" \
    && [ "$(q $S_PORT 'select pg_is_in_recovery()' 2>/dev/null)" = t ] \
    && [ "$(q $P_PORT "select count(*) from pg_stat_replication where state = 'streaming'" 2>/dev/null)" -ge 1 ] 2>/dev/null
}

stop_server() { # DATADIR
  local d="$1" pid
  pid=$(server_pid "$d")
  [ -n "$pid" ] || return 0
  pid_is_ours "$pid" "$d" || return 0
  as_pg "$PGBIN/pg_ctl" -D "$d" -m immediate -w -t 20 stop >/dev/null 2>&1 || true
  kill_ours "$pid" "$d"
}

do_stop() {
  stop_server "$STANDBY"
  stop_server "$PRIMARY"
  rm -rf "$DIR"
  log "stopped; removed $DIR"
}

fail_start() {
  local rc=$?
  trap - ERR
  log "start failed (exit $rc)"
  show_log "$DIR/primary.log"
  show_log "$DIR/standby.log"
  stop_server "$STANDBY"
  stop_server "$PRIMARY"
  log "servers stopped; logs kept in $DIR (run '$0 stop' to remove)"
  exit 1
}

do_start() {
  if healthy; then
    log "already running"
    print_urls
    return 0
  fi
  local t0; t0=$(now_ms)
  [ -x "$PGBIN/initdb" ] || die "PostgreSQL binaries not found in $PGBIN"
  if is_root; then id "$PG_USER" >/dev/null 2>&1 || die "OS user $PG_USER does not exist"; fi
  # Leftovers of an earlier (failed) start: clean them away first.
  if [ -e "$DIR" ]; then log "cleaning up an earlier state in $DIR"; do_stop 2>/dev/null; fi
  require_free_ports $P_PORT $S_PORT || die "ports $P_PORT/$S_PORT must be free"

  make_beds_root
  mkdir -p "$DIR" "$RUN"
  chmod 700 "$RUN"
  if is_root; then chown -R "$PG_USER": "$DIR"; fi
  as_pg test -w "$DIR" || die "$DIR is not writable by $PG_USER (is a parent directory closed to it?)"
  trap fail_start ERR

  log "initdb primary"
  as_pg "$PGBIN/initdb" -A trust -U postgres -D "$PRIMARY" --no-sync -E UTF8 --locale=C >"$DIR/initdb.log" 2>&1 \
    || { show_log "$DIR/initdb.log"; false; }
  cat >>"$PRIMARY/postgresql.conf" <<EOF

# --- dsg test bed ---
listen_addresses = '127.0.0.1'
port = $P_PORT
unix_socket_directories = '$RUN'
wal_level = replica
max_wal_senders = 5
hot_standby = on
fsync = off
log_line_prefix = '%m [%p] primary '
EOF
  as_pg "$PGBIN/pg_ctl" -D "$PRIMARY" -l "$DIR/primary.log" -w -t 30 start >/dev/null
  q $P_PORT "create database test" >/dev/null

  log "pg_basebackup -> standby"
  as_pg "$PGBIN/pg_basebackup" -h 127.0.0.1 -p $P_PORT -U postgres -D "$STANDBY" -R -X stream -c fast \
    >"$DIR/basebackup.log" 2>&1 || { show_log "$DIR/basebackup.log"; false; }
  cat >>"$STANDBY/postgresql.conf" <<EOF
port = $S_PORT
log_line_prefix = '%m [%p] standby '
EOF
  as_pg "$PGBIN/pg_ctl" -D "$STANDBY" -l "$DIR/standby.log" -w -t 30 start >/dev/null

  local i
  for ((i = 0; i < 300; i++)); do
    healthy && break
    sleep 0.1
  done
  healthy || { log "standby is not streaming after 30 s"; false; }
  trap - ERR

  local ms=$(($(now_ms) - t0)) pids
  pids="$(server_pid "$PRIMARY") $(server_pid "$STANDBY")"
  # all postgres processes of both clusters (children of the two postmasters)
  pids="$pids $(ps -o pid= --ppid "$(server_pid "$PRIMARY")") $(ps -o pid= --ppid "$(server_pid "$STANDBY")")"
  # shellcheck disable=SC2086
  log "up in ${ms} ms; memory of both clusters ~$(mem_mb $pids) MB (PSS)"
  log "primary $PRIMARY_URL  standby $STANDBY_URL (streaming)"
  print_urls
}

do_status() {
  local rc=0
  if server_up "$PRIMARY"; then
    log "primary: running on $P_PORT; replication: $(q $P_PORT "select coalesce(string_agg(application_name || '=' || state, ', '), 'none') from pg_stat_replication" 2>/dev/null || echo '?')"
  else
    log "primary: not running"; rc=1
  fi
  if server_up "$STANDBY"; then
    log "standby: running on $S_PORT; in recovery: $(q $S_PORT 'select pg_is_in_recovery()' 2>/dev/null || echo '?')"
  else
    log "standby: not running"; rc=1
  fi
  [ $rc -eq 0 ] && print_urls
  return $rc
}

do_promote() {
  server_up "$STANDBY" || die "standby is not running"
  local t0; t0=$(now_ms)
  as_pg "$PGBIN/pg_ctl" -D "$STANDBY" -w -t 30 promote >/dev/null \
    || { show_log "$DIR/standby.log"; die "promote failed"; }
  [ "$(q $S_PORT 'select pg_is_in_recovery()')" = f ] || die "standby still in recovery after promote"
  log "standby on $S_PORT promoted in $(($(now_ms) - t0)) ms (the old primary on $P_PORT is still running)"
}

do_kill_standby() {
  server_up "$STANDBY" || { log "standby is not running"; return 0; }
  as_pg "$PGBIN/pg_ctl" -D "$STANDBY" -m immediate -w -t 30 stop >/dev/null
  log "standby on $S_PORT stopped (immediate)"
}

do_start_standby() {
  if ! server_up "$STANDBY"; then
    as_pg "$PGBIN/pg_ctl" -D "$STANDBY" -l "$DIR/standby.log" -w -t 30 start >/dev/null \
      || { show_log "$DIR/standby.log"; die "standby did not start"; }
  fi
  local i
  for ((i = 0; i < 300; i++)); do
    healthy && { log "standby on $S_PORT streaming"; return 0; }
    sleep 0.1
  done
  die "standby is not streaming after 30 s"
}

do_save_standby() {
  do_kill_standby
  rm -rf "$DIR/standby.saved"
  as_pg cp -a "$STANDBY" "$DIR/standby.saved"
  log "standby data saved in $DIR/standby.saved"
  do_start_standby
}

do_start_stale_standby() {
  [ -d "$DIR/standby.saved" ] || die "no saved standby: run save-standby first"
  do_kill_standby
  rm -rf "$STANDBY"
  as_pg cp -a "$DIR/standby.saved" "$STANDBY"
  # Nothing to stream from: it stays in recovery at the saved position and serves reads.
  as_pg sed -i '/primary_conninfo/d' "$STANDBY/postgresql.auto.conf"
  as_pg "$PGBIN/pg_ctl" -D "$STANDBY" -l "$DIR/standby.log" -w -t 30 start >/dev/null \
    || { show_log "$DIR/standby.log"; die "the stale standby did not start"; }
  [ "$(q $S_PORT 'select pg_is_in_recovery()')" = t ] || die "the stale standby is not in recovery"
  log "standby on $S_PORT started from the saved copy, not streaming"
}

do_kill_primary() {
  server_up "$PRIMARY" || { log "primary is not running"; return 0; }
  as_pg "$PGBIN/pg_ctl" -D "$PRIMARY" -m immediate -w -t 30 stop >/dev/null
  log "primary on $P_PORT stopped (immediate)"
}

do_start_primary() {
  if ! server_up "$PRIMARY"; then
    as_pg "$PGBIN/pg_ctl" -D "$PRIMARY" -l "$DIR/primary.log" -w -t 30 start >/dev/null \
      || { show_log "$DIR/primary.log"; die "primary did not start"; }
  fi
  log "primary on $P_PORT running"
}

case "${1:-}" in
  start) do_start ;;
  kill-primary) do_kill_primary ;;
  start-primary) do_start_primary ;;
  kill-standby) do_kill_standby ;;
  start-standby) do_start_standby ;;
  save-standby) do_save_standby ;;
  start-stale-standby) do_start_stale_standby ;;
  stop) do_stop ;;
  status) do_status ;;
  promote) do_promote ;;
  *) echo "usage: $0 start|stop|status|promote|kill-standby|start-standby|kill-primary|start-primary|save-standby|start-stale-standby" >&2; exit 2 ;;
esac
