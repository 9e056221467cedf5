#!/usr/bin/env bash
# Nothing a user could read is lost (issue 22): every non-empty line of the README as it was
# at REF (default da02d2a, the last 1 234-line README) must appear in README.md or docs/*.md,
# up to heading levels, indentation and markdown links (`[text](target)` compares as `text`).
# Prints the lines that do not, with their line numbers at REF, and exits 1 when there are any.
set -euo pipefail
cd "$(dirname "$0")/.."
ref="${1:-da02d2a}"

normalize() {
  sed -e 's/^[[:space:]]*//' -e 's/^#\{1,6\} //' -e 's/\[\([^]]*\)\]([^)]*)/\1/g' -e 's/[[:space:]]*$//'
}

now=$(mktemp)
trap 'rm -f "$now"' EXIT
cat README.md docs/*.md | normalize | grep -v '^$' | LC_ALL=C sort -u >"$now"
missing=$(git show "$ref:README.md" | normalize | awk -v now="$now" '
  BEGIN { while ((getline line < now) > 0) seen[line] = 1 }
  $0 != "" && !($0 in seen) { printf "%5d: %s\n", NR, $0 }')
if [ -n "$missing" ]; then
  echo "lines of the README at $ref found nowhere now:"
  echo "$missing"
  exit 1
fi
echo "every line of the README at $ref is in README.md or docs/*.md"
