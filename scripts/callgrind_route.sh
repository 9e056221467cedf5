#!/usr/bin/env bash
# Client instructions a request of one service-benchmark server on one route, counted by
# callgrind: the release build of examples/service_bench serves VARIANT under
# `valgrind --tool=callgrind`, wrk warms it up for 5 s, the counters are zeroed, wrk drives it
# for 15 s (`-t2 -c32`), the counters are dumped, and the total is divided by wrk's count.
# Needs valgrind (and wrk, installed here when missing); TLS is off (`sslmode=disable`).
# CALLGRIND_OPTS adds callgrind options; with `--cache-sim=yes --branch-sim=yes` it also prints
# the simulated cache misses and mispredicted branches a request. CALLGRIND_KEEP=FILE keeps the
# dump for `callgrind_annotate` (build with `CARGO_PROFILE_RELEASE_DEBUG=line-tables-only` to
# see lines); CARGO_TARGET_DIR is honoured.
#
#   scripts/callgrind_route.sh crate /fortunes
#   scripts/callgrind_route.sh crate /first/fortunes
#   scripts/callgrind_route.sh tokio-postgres /fortunes [postgres://postgres@127.0.0.1:5432/test]
set -euo pipefail
cd "$(dirname "$0")/.."
variant=${1:?variant: crate, sqlx, tokio-postgres, crate-per-core}
route=${2:?route, e.g. /fortunes}
uri=${3:-postgres://postgres@127.0.0.1:5432/test}
if ! command -v wrk >/dev/null 2>&1; then
  apt-get install -y -q wrk >/dev/null || { apt-get update -q && apt-get install -y -q wrk >/dev/null; }
fi
nice cargo build --release --example service_bench
out=$(mktemp -d)
trap 'pkill -f "service_bench --serve $variant --uri" || true; rm -rf "$out"' EXIT
# shellcheck disable=SC2086 # CALLGRIND_OPTS is a list of options
(sleep 120 | valgrind --tool=callgrind ${CALLGRIND_OPTS:-} --callgrind-out-file="$out/cg.out" \
  "${CARGO_TARGET_DIR:-target}/release/examples/service_bench" --serve "$variant" --uri "$uri?sslmode=disable" \
  > "$out/serve.out" 2> "$out/valgrind.err") &
for _ in $(seq 300); do grep -q ready "$out/serve.out" 2>/dev/null && break; sleep 0.2; done
port=$(awk '/ready/{print $2}' "$out/serve.out")
[ -n "$port" ] || { echo "the server did not start"; cat "$out/valgrind.err"; exit 1; }
pid=$(pgrep -f "valgrind.*--serve $variant --uri" | head -1)
wrk -t2 -c32 -d5s "http://127.0.0.1:$port$route" > /dev/null
callgrind_control -z "$pid" > /dev/null
requests=$(wrk -t2 -c32 -d15s "http://127.0.0.1:$port$route" | awk '/requests in/{print $1}')
callgrind_control -d "$pid" > /dev/null
sleep 1
dump=$(ls -t "$out"/cg.out.* | head -1)
[ -z "${CALLGRIND_KEEP:-}" ] || cp "$dump" "$CALLGRIND_KEEP"
events=$(awk '/^events:/{sub(/^events: */, ""); print; exit}' "$dump")
totals=$(awk '/^(summary|totals):/{sub(/^[a-z]+: */, ""); print; exit}' "$dump")
echo "$variant $route: $requests requests; a request:"
paste <(tr ' ' '\n' <<< "$events") <(tr ' ' '\n' <<< "$totals") |
  awk -v n="$requests" '{printf "  %-6s %10.0f\n", $1, $2 / n}'
