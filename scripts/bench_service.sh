#!/usr/bin/env bash
# The service benchmark (issue 23), full mode: the library, hand-written sqlx and axum +
# tokio-postgres (PostgreSQL) or axum + mysql_async (MySQL/MariaDB) serving TechEmpower's /db,
# /queries?q=20, /updates?q=20 and /fortunes, each in a process of its own, driven by wrk (installed here when missing), built with --release.
# Arguments go to the driver (`--rounds N --secs S --uri URI …`; see examples/service_bench.rs).
#
#   scripts/bench_service.sh                       # PostgreSQL and MariaDB, 5 rounds of 5 s
#   scripts/bench_service.sh --rounds 3 --uri postgres://postgres@127.0.0.1:5432/test
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v wrk >/dev/null 2>&1; then
  apt-get install -y -q wrk >/dev/null || { apt-get update -q && apt-get install -y -q wrk >/dev/null; }
fi
nice cargo build --release --example service_bench
# The servers it starts end with it (they exit when their stdin closes).
exec target/release/examples/service_bench "$@"
