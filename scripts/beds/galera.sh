#!/usr/bin/env bash
# Three-node MariaDB Galera cluster on 127.0.0.1:3307/3308/3309, state under
# ${DSG_BEDS_DIR:-/tmp/dsg-beds}/galera (per node: datadir, my.cnf, socket,
# pid file, error log). Never touches the system mariadbd on 3306: every node
# runs with --defaults-file (no /etc/mysql), its own socket and pid file.
#
#   scripts/beds/galera.sh start|stop|status
#   scripts/beds/galera.sh kill-node N    # kill -9 node N (1..3)
#   scripts/beds/galera.sh start-node N   # (re)start node N and wait for Synced
#
# `start` prints `export DSG_TEST_GALERA_URL=...` on stdout (messages on
# stderr), so `eval "$(scripts/beds/galera.sh start)"` works.
set -Eeuo pipefail

BED_NAME=galera
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

MARIADBD="${DSG_MARIADBD_BIN:-/usr/sbin/mariadbd}"
INSTALL_DB="${DSG_MARIADB_INSTALL_DB_BIN:-/usr/bin/mariadb-install-db}"
CLIENT="${DSG_MARIADB_BIN:-/usr/bin/mariadb}"
PROVIDER=/usr/lib/galera/libgalera_smm.so
DIR="$BEDS_ROOT/galera"
RUN_USER=mysql            # OS user the nodes run as when we are root
NODES=(1 2 3)
SYNC_TIMEOUT="${DSG_GALERA_SYNC_TIMEOUT:-120}"

# DSG_GALERA_PORT_OFFSET (default 0) is added to every port below (with DSG_BEDS_DIR: a second
# cluster beside the first, e.g. 100: 3407-3409).
OFF="${DSG_GALERA_PORT_OFFSET:-0}"
sql_port() { echo $((3306 + OFF + $1)); }              # 3307 3308 3309
gm_port() { echo $((4567 + OFF + 10 * ($1 - 1))); }     # 4567 4577 4587 (group comm.)
ist_port() { echo $((4568 + OFF + 10 * ($1 - 1))); }    # 4568 4578 4588 (IST)
sst_port() { echo $((4444 + OFF + 10 * ($1 - 1))); }    # 4444 4454 4464 (rsync SST)

URL="mysql://root@127.0.0.1:$(sql_port 1),127.0.0.1:$(sql_port 2),127.0.0.1:$(sql_port 3)/test"
ndir() { echo "$DIR/node$1"; }
CLUSTER_ADDRESS="gcomm://127.0.0.1:$(gm_port 1),127.0.0.1:$(gm_port 2),127.0.0.1:$(gm_port 3)"

print_urls() { echo "export DSG_TEST_GALERA_URL='$URL'"; }

node_pid() {
  local d; d=$(ndir "$1")
  local p; p=$(read_pid "$d/mariadbd.pid")
  [ -n "$p" ] || p=$(read_pid "$d/launch.pid")
  echo "$p"
}
node_up() { pid_is_ours "$(node_pid "$1")" "$(ndir "$1")/my.cnf"; }

# nq N SQL: a query on node N over its unix socket (root, no password).
nq() {
  "$CLIENT" --no-defaults -S "$(ndir "$1")/mariadbd.sock" -uroot -N -B --connect-timeout=2 -e "$2"
}
nstatus() { nq "$1" "SHOW GLOBAL STATUS LIKE '$2'" 2>/dev/null | awk '{print $2}'; }

write_cnf() { # N
  local n="$1" d; d=$(ndir "$n")
  {
    echo "[mysqld]"
    is_root && echo "user = $RUN_USER"
    cat <<EOF
datadir = $d/data
socket = $d/mariadbd.sock
pid-file = $d/mariadbd.pid
log-error = $d/error.log
port = $(sql_port "$n")
bind-address = 127.0.0.1
skip-name-resolve
character-set-server = utf8mb4
collation-server = utf8mb4_general_ci
default_storage_engine = InnoDB
binlog_format = ROW
innodb_autoinc_lock_mode = 2
innodb_buffer_pool_size = 64M
performance_schema = OFF
wsrep_on = ON
wsrep_provider = $PROVIDER
wsrep_cluster_name = dsg-beds
wsrep_cluster_address = $CLUSTER_ADDRESS
wsrep_node_name = node$n
wsrep_node_address = 127.0.0.1
wsrep_node_incoming_address = 127.0.0.1:$(sql_port "$n")
wsrep_provider_options = "gmcast.listen_addr=tcp://127.0.0.1:$(gm_port "$n");ist.recv_addr=127.0.0.1:$(ist_port "$n");gcache.size=64M"
wsrep_sst_method = rsync
wsrep_sst_receive_address = 127.0.0.1:$(sst_port "$n")
EOF
  } >"$d/my.cnf"
}

# launch N [extra mariadbd args]: start node N in the background, own session.
launch() {
  local n="$1" d; shift
  d=$(ndir "$n")
  rm -f "$d/mariadbd.pid"
  setsid "$MARIADBD" --defaults-file="$d/my.cnf" "$@" </dev/null >>"$d/stdout.log" 2>&1 &
  echo $! >"$d/launch.pid"
}

# wait_synced N: until node N reports Synced (fails early if it dies).
wait_synced() {
  local n="$1" i st pid
  for ((i = 0; i < SYNC_TIMEOUT * 5; i++)); do
    pid=$(read_pid "$(ndir "$n")/launch.pid")
    pid_alive "$pid" || { log "node $n (pid $pid) exited"; return 1; }
    st=$(nstatus "$n" wsrep_local_state_comment || true)
    [ "$st" = Synced ] && return 0
    sleep 0.2
  done
  log "node $n not Synced after ${SYNC_TIMEOUT} s (state: ${st:-none})"
  return 1
}

node_fail() { # N: print the logs of node N
  show_log "$(ndir "$1")/error.log" 60
  show_log "$(ndir "$1")/stdout.log" 20
}

stop_node() { # N: clean shutdown, then TERM/KILL the whole session
  local n="$1" d pid lp
  d=$(ndir "$n")
  pid=$(node_pid "$n")
  lp=$(read_pid "$d/launch.pid")
  if pid_is_ours "$pid" "$d/my.cnf"; then
    nq "$n" "SHUTDOWN" >/dev/null 2>&1 || true
    wait_pid_gone "$pid" 20 || kill_ours "$pid" "$d/my.cnf"
  fi
  # leftover SST helpers (wsrep_sst_rsync, rsync --daemon) live in the node's
  # session (pgid = launch pid); only signal it if that group still exists.
  if [ -n "$lp" ] && ps -o pid= -g "$lp" >/dev/null 2>&1; then
    kill -KILL -- "-$lp" 2>/dev/null || true
  fi
}

do_stop() {
  local n
  for n in 3 2 1; do [ -d "$(ndir "$n")" ] && stop_node "$n"; done
  rm -rf "$DIR"
  log "stopped; removed $DIR"
}

cluster_healthy() {
  local n
  for n in "${NODES[@]}"; do
    node_up "$n" || return 1
    [ "$(nstatus "$n" wsrep_local_state_comment)" = Synced ] || return 1
    [ "$(nstatus "$n" wsrep_cluster_size)" = 3 ] || return 1
  done
}

FAILED_NODE=""
fail_start() {
  local rc=$? n
  trap - ERR
  log "start failed (exit $rc)"
  if [ -n "$FAILED_NODE" ]; then node_fail "$FAILED_NODE"; else
    show_log "$DIR/install-db.log"
    for n in "${NODES[@]}"; do [ -f "$(ndir "$n")/error.log" ] && show_log "$(ndir "$n")/error.log" 20; done
  fi
  for n in 3 2 1; do [ -d "$(ndir "$n")" ] && stop_node "$n"; done
  log "nodes stopped; logs kept in $DIR (run '$0 stop' to remove)"
  exit 1
}

start_and_sync() { # N [args]
  local n="$1" t0; t0=$(now_ms)
  FAILED_NODE=$n
  launch "$@"
  wait_synced "$n"
  FAILED_NODE=""
  log "node $n Synced on $(sql_port "$n") in $(($(now_ms) - t0)) ms"
}

do_start() {
  if cluster_healthy 2>/dev/null; then
    log "already running"
    print_urls
    return 0
  fi
  local t0 n; t0=$(now_ms)
  ensure_pkg galera-4 rsync
  [ -x "$MARIADBD" ] || die "$MARIADBD not found"
  [ -f "$PROVIDER" ] || die "$PROVIDER not found (package galera-4)"
  command -v wsrep_sst_rsync >/dev/null || die "wsrep_sst_rsync not found (package mariadb-server)"
  if is_root; then id "$RUN_USER" >/dev/null 2>&1 || die "OS user $RUN_USER does not exist"; fi
  if [ -e "$DIR" ]; then log "cleaning up an earlier state in $DIR"; do_stop 2>/dev/null; fi
  local ports=()
  for n in "${NODES[@]}"; do ports+=("$(sql_port "$n")" "$(gm_port "$n")" "$(ist_port "$n")" "$(sst_port "$n")"); done
  require_free_ports "${ports[@]}" || die "ports ${ports[*]} must be free"

  make_beds_root
  mkdir -p "$DIR"
  trap fail_start ERR
  for n in "${NODES[@]}"; do mkdir -p "$(ndir "$n")"; write_cnf "$n"; done
  # One datadir from mariadb-install-db; nodes 2 and 3 get a copy (their
  # state is replaced by an rsync SST from node 1 when they join anyway).
  local -a iargs=(--defaults-file="$(ndir 1)/my.cnf" --auth-root-authentication-method=normal
    --skip-test-db --wsrep-on=OFF)
  if is_root; then iargs+=(--user="$RUN_USER"); fi
  log "mariadb-install-db"
  "$INSTALL_DB" "${iargs[@]}" >"$DIR/install-db.log" 2>&1
  for n in 2 3; do cp -a "$(ndir 1)/data" "$(ndir "$n")/data"; done
  if is_root; then chown -R "$RUN_USER": "$DIR"; fi

  start_and_sync 1 --wsrep-new-cluster
  # root over TCP from 127.0.0.1 with an empty password (skip-name-resolve,
  # so 'root'@'localhost' does not match TCP clients), and the database.
  nq 1 "CREATE USER IF NOT EXISTS 'root'@'127.0.0.1'; GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION; CREATE DATABASE IF NOT EXISTS test;"
  start_and_sync 2
  start_and_sync 3
  local i
  for ((i = 0; i < 50; i++)); do cluster_healthy && break; sleep 0.2; done
  cluster_healthy || { log "cluster not Synced with size 3"; false; }
  for n in "${NODES[@]}"; do
    "$CLIENT" --no-defaults -h 127.0.0.1 -P "$(sql_port "$n")" -uroot -N -B -e "SELECT 1" test >/dev/null \
      || { FAILED_NODE=$n; log "root@127.0.0.1 cannot reach node $n over TCP"; false; }
  done
  trap - ERR
  local mem=""
  for n in "${NODES[@]}"; do mem+=" node$n=$(mem_mb "$(node_pid "$n")")MB"; done
  log "up in $(($(now_ms) - t0)) ms; cluster_size=3, all Synced; memory (PSS):$mem"
  print_urls
}

do_status() {
  local n rc=0
  for n in "${NODES[@]}"; do
    if node_up "$n"; then
      log "node $n: running on $(sql_port "$n") (pid $(node_pid "$n")), $(nstatus "$n" wsrep_local_state_comment || echo '?'), cluster_size $(nstatus "$n" wsrep_cluster_size || echo '?')"
    else
      log "node $n: not running"; rc=1
    fi
  done
  [ $rc -eq 0 ] && print_urls
  return $rc
}

check_n() { case "${1:-}" in 1 | 2 | 3) ;; *) die "node number must be 1, 2 or 3" ;; esac; }

do_kill_node() {
  local n="$1" pid; check_n "$n"
  pid=$(node_pid "$n")
  node_up "$n" || die "node $n is not running"
  kill -KILL "$pid"
  wait_pid_gone "$pid" 10 || die "node $n (pid $pid) did not die"
  log "node $n (pid $pid, port $(sql_port "$n")) killed with SIGKILL"
}

do_start_node() {
  local n="$1" m others=0; check_n "$n"
  [ -f "$(ndir "$n")/my.cnf" ] || die "no cluster state in $DIR; run '$0 start'"
  if node_up "$n"; then log "node $n already running"; print_urls; return 0; fi
  require_free_ports "$(sql_port "$n")" "$(gm_port "$n")" "$(ist_port "$n")" "$(sst_port "$n")" \
    || die "node $n ports are taken"
  for m in "${NODES[@]}"; do [ "$m" != "$n" ] && node_up "$m" && others=$((others + 1)); done
  local -a args=()
  if [ $others -eq 0 ]; then
    # nobody left to join: bootstrap a new cluster from this node's data
    log "no other node is running; bootstrapping the cluster from node $n"
    sed -i 's/^safe_to_bootstrap: 0/safe_to_bootstrap: 1/' "$(ndir "$n")/data/grastate.dat" 2>/dev/null || true
    args+=(--wsrep-new-cluster)
  fi
  FAILED_NODE=$n
  trap 'trap - ERR; node_fail "$FAILED_NODE"; exit 1' ERR
  start_and_sync "$n" "${args[@]}"
  trap - ERR
  print_urls
}

case "${1:-}" in
  start) do_start ;;
  stop) do_stop ;;
  status) do_status ;;
  kill-node) do_kill_node "${2:-}" ;;
  start-node) do_start_node "${2:-}" ;;
  *) echo "usage: $0 start|stop|status|kill-node N|start-node N" >&2; exit 2 ;;
esac
