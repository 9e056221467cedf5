#!/usr/bin/env bash
# Throw-away Patroni 3 cluster under ${DSG_BEDS_DIR:-/tmp/dsg-beds}/patroni: one etcd member
# (client 127.0.0.1:2479, peer 2480) and three PostgreSQL 15 nodes on 127.0.0.1:5451/5452/5453
# (Patroni REST API on 8451/8452/8453), run as OS user postgres.
#
#   scripts/beds/patroni.sh start|stop|status
#   scripts/beds/patroni.sh kill-leader   # kill -9 of the leader's postmaster; Patroni promotes
#                                          # a replica (about 3 s) and rejoins the old node
#   scripts/beds/patroni.sh leader        # prints the leader's port
#
# `start` prints `export DSG_TEST_PATRONI_URL=...` on stdout (messages on stderr), so
# `eval "$(scripts/beds/patroni.sh start)"` works.
set -Eeuo pipefail

BED_NAME=patroni
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PGBIN="${DSG_PG_BIN:-/usr/lib/postgresql/15/bin}"
PATRONI="${DSG_PATRONI_BIN:-/usr/bin/patroni}"
PATRONICTL="${DSG_PATRONICTL_BIN:-/usr/bin/patronictl}"
ETCD="${DSG_ETCD_BIN:-/usr/bin/etcd}"
DIR="$BEDS_ROOT/patroni"
RUN="$DIR/run"            # unix socket directory
ETCD_PORT=2479
ETCD_PEER_PORT=2480
NODES=(1 2 3)
pg_port() { echo $((5450 + $1)); }
api_port() { echo $((8450 + $1)); }
PG_USER=postgres          # OS user everything runs as (when we are root)

URL="postgresql://postgres@127.0.0.1:$(pg_port 1),127.0.0.1:$(pg_port 2),127.0.0.1:$(pg_port 3)/test?target_session_attrs=read-write"

as_pg() {
  if is_root; then runuser -u "$PG_USER" -- "$@"; else "$@"; fi
}

# q PORT SQL [DB]: one value from a query over TCP (2 s connect timeout).
q() {
  PGCONNECT_TIMEOUT=2 as_pg "$PGBIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$1" -U postgres -d "${3:-postgres}" -c "$2"
}

print_urls() { echo "export DSG_TEST_PATRONI_URL='$URL'"; }

etcd_pid() { read_pid "$DIR/etcd.pid"; }
patroni_pid() { read_pid "$DIR/node$1.pid"; }
pg_pid() { read_pid "$DIR/node$1/data/postmaster.pid"; }

# leader: the port of the node that is not in recovery (nothing if none).
leader() {
  local n
  for n in "${NODES[@]}"; do
    if [ "$(q "$(pg_port "$n")" 'select pg_is_in_recovery()' 2>/dev/null)" = f ]; then
      pg_port "$n"
      return 0
    fi
  done
  return 1
}

healthy() {
  pid_is_ours "$(etcd_pid)" "$DIR" || return 1
  local n l
  for n in "${NODES[@]}"; do
    pid_is_ours "$(patroni_pid "$n")" "$DIR" || return 1
  done
  l=$(leader) || return 1
  # Replicas by their application_name (Patroni sets the node name): pg_basebackup's own
  # WAL stream also shows as 'streaming' while a replica is being cloned.
  # Both stream, one of them synchronously (synchronous_mode).
  [ "$(q "$l" "select count(*) || '/' || count(*) filter (where sync_state = 'sync') from pg_stat_replication where state = 'streaming' and application_name like 'node_'" 2>/dev/null)" = 2/1 ] || return 1
  for n in "${NODES[@]}"; do
    [ "$(pg_port "$n")" = "$l" ] && continue
    [ "$(q "$(pg_port "$n")" 'select pg_is_in_recovery()' 2>/dev/null)" = t ] || return 1
  done
  [ "$(q "$l" "select count(*) from pg_database where datname = 'test'" 2>/dev/null)" = 1 ] || return 1
  # And Patroni has recorded that standby in the DCS (only it may be promoted): its REST
  # API answers 200 on /sync.
  local synced=0
  for n in "${NODES[@]}"; do
    [ "$(api_status "$n" /sync)" = 200 ] && synced=$((synced + 1))
  done
  [ $synced = 1 ]
}

# api_status NODE PATH: the HTTP status of Patroni's REST API (000 when it does not answer).
api_status() {
  python3 - "$(api_port "$1")" "$2" <<'PY' 2>/dev/null || echo 000
import sys, urllib.request, urllib.error
try:
    print(urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}{sys.argv[2]}", timeout=2).status)
except urllib.error.HTTPError as e:
    print(e.code)
PY
}

stop_all() {
  local n pid
  # Patroni stops its postgres on SIGTERM; the postmasters are killed after if still there.
  for n in "${NODES[@]}"; do
    pid=$(patroni_pid "$n")
    if pid_is_ours "$pid" "$DIR"; then kill -TERM "$pid" 2>/dev/null || true; fi
  done
  for n in "${NODES[@]}"; do
    kill_ours "$(patroni_pid "$n")" "$DIR"
  done
  for n in "${NODES[@]}"; do
    pid=$(pg_pid "$n")
    [ -n "$pid" ] && pid_is_ours "$pid" "$DIR" && kill -KILL "$pid" 2>/dev/null || true
  done
  kill_ours "$(etcd_pid)" "$DIR"
  # Postgres backends of a SIGKILLed postmaster exit by themselves; wait for the ports.
  local i
  for ((i = 0; i < 100; i++)); do
    local busy=0
    for n in "${NODES[@]}"; do port_in_use "$(pg_port "$n")" && busy=1; done
    [ $busy = 0 ] && break
    sleep 0.1
  done
}

do_stop() {
  stop_all
  rm -rf "$DIR"
  log "stopped; removed $DIR"
}

fail_start() {
  local rc=$?
  trap - ERR
  log "start failed (exit $rc)"
  show_log "$DIR/etcd.log" 20
  local n
  for n in "${NODES[@]}"; do show_log "$DIR/node$n.log" 30; done
  stop_all
  log "stopped; logs kept in $DIR (run '$0 stop' to remove)"
  exit 1
}

write_config() { # NODE
  local n="$1"
  cat >"$DIR/node$n.yml" <<EOF
scope: dsg
namespace: /dsg-beds/
name: node$n
log:
  level: WARNING
restapi:
  listen: 127.0.0.1:$(api_port "$n")
  connect_address: 127.0.0.1:$(api_port "$n")
etcd3:
  host: 127.0.0.1:$ETCD_PORT
bootstrap:
  dcs:
    ttl: 20
    loop_wait: 2
    retry_timeout: 5
    primary_start_timeout: 0
    maximum_lag_on_failover: 1048576
    # A commit returns once a standby has it, and only that standby is promoted: with
    # asynchronous replication a commit acknowledged just before the kill (the killed
    # postmaster's backends still commit for a moment) is lost when the old primary is
    # rewound, and a test of "every Ok row stored" fails now and then.
    synchronous_mode: true
    postgresql:
      use_pg_rewind: true
      use_slots: true
      parameters:
        wal_level: replica
        hot_standby: "on"
        wal_log_hints: "on"
        max_wal_senders: 10
        max_replication_slots: 10
        wal_retrieve_retry_interval: 1s
        fsync: "off"
        shared_buffers: 32MB
        max_connections: 100
  initdb:
    - encoding: UTF8
    - locale: C
    - auth: trust
    - username: postgres
postgresql:
  listen: 127.0.0.1:$(pg_port "$n")
  connect_address: 127.0.0.1:$(pg_port "$n")
  data_dir: $DIR/node$n/data
  bin_dir: $PGBIN
  pgpass: $DIR/node$n/pgpass
  # Replicas are cloned with pg_basebackup; without a fast checkpoint it waits for a spread
  # one (90 s here).
  basebackup:
    - checkpoint: fast
  remove_data_directory_on_rewind_failure: true
  remove_data_directory_on_diverged_timelines: true
  authentication:
    superuser:
      username: postgres
    replication:
      username: postgres
    rewind:
      username: postgres
  parameters:
    unix_socket_directories: '$RUN'
    log_line_prefix: '%m [%p] node$n '
  pg_hba:
    - local all all trust
    - host all all 127.0.0.1/32 trust
    - host replication all 127.0.0.1/32 trust
tags:
  nofailover: false
  noloadbalance: false
  clonefrom: false
  nosync: false
EOF
}

start_patroni() { # NODE
  local n="$1"
  as_pg bash -c "setsid '$PATRONI' '$DIR/node$n.yml' >>'$DIR/node$n.log' 2>&1 </dev/null & echo \$! >'$DIR/node$n.pid'"
}

do_start() {
  if healthy; then
    log "already running"
    print_urls
    return 0
  fi
  local t0; t0=$(now_ms)
  ensure_pkg patroni etcd-server etcd-client
  [ -x "$PGBIN/initdb" ] || die "PostgreSQL binaries not found in $PGBIN"
  if is_root; then id "$PG_USER" >/dev/null 2>&1 || die "OS user $PG_USER does not exist"; fi
  if [ -e "$DIR" ]; then log "cleaning up an earlier state in $DIR"; do_stop 2>/dev/null; fi
  local ports=($ETCD_PORT $ETCD_PEER_PORT) n
  for n in "${NODES[@]}"; do ports+=("$(pg_port "$n")" "$(api_port "$n")"); done
  require_free_ports "${ports[@]}" || die "ports ${ports[*]} must be free"

  make_beds_root
  mkdir -p "$DIR" "$RUN"
  for n in "${NODES[@]}"; do mkdir -p "$DIR/node$n"; done
  chmod 700 "$RUN"
  for n in "${NODES[@]}"; do write_config "$n"; done
  if is_root; then chown -R "$PG_USER": "$DIR"; fi
  as_pg test -w "$DIR" || die "$DIR is not writable by $PG_USER (is a parent directory closed to it?)"
  trap fail_start ERR

  log "etcd on 127.0.0.1:$ETCD_PORT"
  as_pg bash -c "setsid '$ETCD' --name dsg --data-dir '$DIR/etcd' \
      --listen-client-urls http://127.0.0.1:$ETCD_PORT --advertise-client-urls http://127.0.0.1:$ETCD_PORT \
      --listen-peer-urls http://127.0.0.1:$ETCD_PEER_PORT --initial-advertise-peer-urls http://127.0.0.1:$ETCD_PEER_PORT \
      --initial-cluster dsg=http://127.0.0.1:$ETCD_PEER_PORT --initial-cluster-state new \
      --enable-v2=true >'$DIR/etcd.log' 2>&1 </dev/null & echo \$! >'$DIR/etcd.pid'"
  local i
  for ((i = 0; i < 100; i++)); do
    port_in_use $ETCD_PORT && break
    sleep 0.1
  done
  port_in_use $ETCD_PORT || { log "etcd did not listen"; false; }

  # All three at once: one wins the initialize key and bootstraps (initdb), the others
  # wait for it and clone it.
  log "patroni nodes on $(pg_port 1)/$(pg_port 2)/$(pg_port 3)"
  for n in "${NODES[@]}"; do start_patroni "$n"; done
  local l=""
  for ((i = 0; i < 600; i++)); do
    l=$(leader) && break
    for n in "${NODES[@]}"; do
      pid_is_ours "$(patroni_pid "$n")" "$DIR" || { log "patroni node$n exited"; false; }
    done
    sleep 0.1
  done
  [ -n "$l" ] || { log "no node is primary after 60 s"; false; }
  q "$l" "create database test" >/dev/null
  for ((i = 0; i < 600; i++)); do
    healthy && break
    sleep 0.1
  done
  healthy || { log "the cluster is not healthy after 60 s"; false; }
  trap - ERR

  local ms=$(($(now_ms) - t0)) pids
  pids="$(etcd_pid)"
  for n in "${NODES[@]}"; do
    pids="$pids $(patroni_pid "$n") $(pg_pid "$n") $(ps -o pid= --ppid "$(pg_pid "$n")" || true)"
  done
  # shellcheck disable=SC2086
  log "up in ${ms} ms; memory of etcd, Patroni and the three clusters ~$(mem_mb $pids) MB (PSS)"
  log "leader on $(leader); $URL"
  print_urls
}

do_status() {
  if ! pid_is_ours "$(etcd_pid)" "$DIR"; then
    log "not running"
    return 1
  fi
  as_pg "$PATRONICTL" -c "$DIR/node1.yml" list >&2 || true
  if healthy; then print_urls; else log "not healthy"; return 1; fi
}

do_kill_leader() {
  local l n pid
  l=$(leader) || die "no leader (no node is out of recovery)"
  n=$((l - 5450))
  pid=$(pg_pid "$n")
  pid_is_ours "$pid" "$DIR" || die "no postmaster pid for node$n"
  kill -KILL "$pid"
  log "killed (-9) the postmaster of node$n on port $l (pid $pid)"
}

do_leader() {
  leader || die "no leader"
}

case "${1:-}" in
  start) do_start ;;
  stop) do_stop ;;
  status) do_status ;;
  kill-leader) do_kill_leader ;;
  leader) do_leader ;;
  *) echo "usage: $0 start|stop|status|kill-leader|leader" >&2; exit 2 ;;
esac
