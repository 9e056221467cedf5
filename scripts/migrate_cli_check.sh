#!/usr/bin/env bash
# The migration command line from a shell (issue 25): `generate`, then `up`, then `status`,
# then `generate` again (nothing), `lint`, `down`, through the example program that registers
# its models (examples/migrate.rs) and the shipped `dsg-migrate` binary. On a temporary SQLite
# file always, and on PostgreSQL / MariaDB when DSG_TEST_POSTGRES_URL / DSG_TEST_MYSQL_URL are
# set. Exits non-zero on the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --quiet --example migrate --bin dsg-migrate
migrate=target/debug/examples/migrate
dsg=target/debug/dsg-migrate

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

urls=("sqlite:///$work/app.db")
[[ -n "${DSG_TEST_POSTGRES_URL:-}" ]] && urls+=("$DSG_TEST_POSTGRES_URL")
[[ -n "${DSG_TEST_MYSQL_URL:-}" ]] && urls+=("$DSG_TEST_MYSQL_URL")

expect() { # expect WHAT OUTPUT PATTERN
  if ! grep -q -- "$3" <<<"$2"; then
    echo "FAIL ($1): expected '$3' in:"; echo "$2"; exit 1
  fi
}

for url in "${urls[@]}"; do
  dir="$work/migrations-$RANDOM"
  export DATABASE_URL="$url"
  name="${url%%:*}"
  args=(--dir "$dir" --history-table mig_x_history)
  # Leftovers of an earlier run on a server.
  "$dsg" "${args[@]}" status >/dev/null 2>&1 || true
  out=$("$migrate" "${args[@]}" generate init); expect "$name generate" "$out" "wrote"
  ls "$dir"/0001_init.up.sql "$dir"/0001_init.down.sql >/dev/null
  out=$("$migrate" "${args[@]}" up --allow-unsafe); expect "$name up" "$out" "applied 1"
  out=$("$dsg" "${args[@]}" status); expect "$name status" "$out" "applied at"
  out=$("$migrate" "${args[@]}" generate again); expect "$name generate again" "$out" "nothing to generate"
  out=$("$dsg" "${args[@]}" up); expect "$name up again" "$out" "nothing to apply"
  out=$("$dsg" "${args[@]}" lint --all || true); expect "$name lint" "$out" "finding(s)"
  out=$("$dsg" "${args[@]}" down); expect "$name down" "$out" "reverted 1"
  out=$("$dsg" "${args[@]}" status); expect "$name status after down" "$out" "pending"
  echo "ok: $name: generate, up, status, generate again, lint, down"
done
