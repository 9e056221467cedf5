# Shared helpers for the test-bed scripts in scripts/beds/ (sourced, not run).
# Human messages go to stderr; only `export NAME=URL` lines go to stdout, so
#   eval "$(scripts/beds/<bed>.sh start)"
# works.

BEDS_ROOT="${DSG_BEDS_DIR:-/tmp/dsg-beds}"

log() { printf '[%s] %s\n' "${BED_NAME:-bed}" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

is_root() { [ "$(id -u)" -eq 0 ]; }

# now_ms: wall clock in milliseconds (for timing the start).
now_ms() { date +%s%3N; }

# port_in_use PORT: true if something listens on 127.0.0.1/any PORT (TCP).
port_in_use() { ss -Hltn "sport = :$1" 2>/dev/null | grep -q .; }

# require_free_ports PORT...: fail (naming the owner) if any port is taken.
require_free_ports() {
  local p
  for p in "$@"; do
    if port_in_use "$p"; then
      log "port $p is already in use:"
      ss -Hltnp "sport = :$p" >&2 || true
      return 1
    fi
  done
}

# pid_alive PID: the process exists (and is not a zombie).
pid_alive() {
  local pid="$1" st
  [ -n "$pid" ] && [ -d "/proc/$pid" ] || return 1
  st=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) || return 1
  [ "$st" != "Z" ]
}

# pid_is_ours PID NEEDLE: alive and its command line mentions NEEDLE (a path
# under our bed directory), so a recycled pid is never killed.
pid_is_ours() {
  local pid="$1" needle="$2"
  pid_alive "$pid" || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$needle"
}

# read_pid FILE: first line of a pid file, or nothing.
read_pid() { [ -s "$1" ] && head -n1 "$1" | tr -dc '0-9' || true; }

# wait_pid_gone PID SECONDS: wait for a process to exit; false on timeout.
wait_pid_gone() {
  local pid="$1" t="$2" i
  for ((i = 0; i < t * 10; i++)); do
    pid_alive "$pid" || return 0
    sleep 0.1
  done
  ! pid_alive "$pid"
}

# kill_ours PID NEEDLE: TERM, wait, then KILL a process we started.
kill_ours() {
  local pid="$1" needle="$2"
  pid_is_ours "$pid" "$needle" || return 0
  kill -TERM "$pid" 2>/dev/null || true
  wait_pid_gone "$pid" 20 && return 0
  log "pid $pid did not exit after SIGTERM; sending SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
  wait_pid_gone "$pid" 5 || true
}

# show_log FILE [LINES]: print the tail of a log to stderr.
show_log() {
  local f="$1" n="${2:-40}"
  if [ -f "$f" ]; then
    printf -- '----- last %s lines of %s -----\n' "$n" "$f" >&2
    tail -n "$n" "$f" >&2 || true
    printf -- '-----\n' >&2
  fi
}

# mem_mb PID...: summed proportional set size (PSS, shared pages split
# between the processes sharing them) in MB; falls back to RSS.
mem_mb() {
  local total=0 pid kb
  for pid in "$@"; do
    kb=$(awk '/^Pss:/ {print $2; exit}' "/proc/$pid/smaps_rollup" 2>/dev/null || true)
    [ -n "$kb" ] || kb=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
    total=$((total + ${kb:-0}))
  done
  echo $((total / 1024))
}

# ensure_pkg PKG...: apt-get install the packages that are missing.
ensure_pkg() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  is_root || die "missing packages: ${missing[*]} (install them with apt-get as root)"
  log "installing ${missing[*]} with apt-get"
  # Debian's policy-rc.d (if any) keeps services from starting; the packaged
  # services are not used by the beds.
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >&2 \
    || { apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >&2; } \
    || die "apt-get install ${missing[*]} failed"
}

# make_beds_root: the shared parent, traversable by service users.
make_beds_root() {
  mkdir -p "$BEDS_ROOT"
  if is_root; then chmod 755 "$BEDS_ROOT"; fi
}
