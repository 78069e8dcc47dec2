#!/usr/bin/env bash
# Regenerates the README's config reference (the lines between the config-reference markers)
# from the key table, via `downstream help config --markdown`. Nothing outside the markers
# changes. tests/cli/test_config_doc.sh fails while the README is out of date.
# usage: scripts/update_config_doc.sh path/to/downstream [path/to/README.md]
set -euo pipefail
bin=${1:?usage: $0 path/to/downstream [README.md]}
readme=${2:-$(cd "$(dirname "$0")/.." && pwd)/README.md}
begin='<!-- config-reference:begin -->'
end='<!-- config-reference:end -->'
if [ "$(grep -cxF "$begin" "$readme")" != 1 ] || [ "$(grep -cxF "$end" "$readme")" != 1 ]; then
  echo "$readme: needs exactly one '$begin' line and one '$end' line" >&2
  exit 1
fi
table=$(mktemp)
trap 'rm -f "$table" "$table.new"' EXIT
"$bin" help config --markdown >"$table"
awk -v b="$begin" -v e="$end" -v t="$table" '
  $0 == b { print; while ((getline line < t) > 0) print line; skipping = 1; next }
  $0 == e { skipping = 0 }
  !skipping { print }' "$readme" >"$table.new"
cat "$table.new" >"$readme"  # in place, keeping the file's mode
echo "updated the config reference in $readme"
