#!/usr/bin/env bash
# The README's config reference (between the config-reference markers) must be exactly what
# `downstream help config --markdown` prints from the key table.
# usage: test_config_doc.sh path/to/downstream source-dir
set -u
bin=$1
readme=$2/README.md
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if ! "$bin" help config --markdown >"$tmp/want.md"; then
  echo "FAIL: downstream help config --markdown exited non-zero"
  exit 1
fi
# Lines strictly between the markers.
awk '$0 == "<!-- config-reference:end -->" { inside = 0 }
     inside { print }
     $0 == "<!-- config-reference:begin -->" { inside = 1 }' "$readme" >"$tmp/have.md"
if ! grep -qxF '<!-- config-reference:end -->' "$readme"; then
  echo "FAIL: $readme has no config-reference markers"
  exit 1
fi
if ! cmp -s "$tmp/want.md" "$tmp/have.md"; then
  echo "FAIL: the config reference in $readme is out of date; regenerate it with"
  echo "  scripts/update_config_doc.sh $bin"
  diff -u "$tmp/have.md" "$tmp/want.md" | head -40
  exit 1
fi
echo "ok: README config reference matches the key table ($(grep -c '^| `' "$tmp/want.md") keys)"
exit 0
