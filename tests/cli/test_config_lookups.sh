#!/usr/bin/env bash
# A typed lookup of an undeclared key, or of a key of another type, returns 0/NULL/false instead
# of failing (runtime/config/config.h). This test makes such a bug visible: every literal path passed to
# ds_config_{int,float,bool,str,enum} in the sources must be declared with a matching type, as
# `downstream help config` (the key table) lists it.
# usage: test_config_lookups.sh path/to/downstream source-dir
set -u
bin=$1
src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# "path type" for every declared key.
"$bin" help config | awk '$1 ~ /^[a-z_][a-z0-9_.]*$/ && $2 ~ /^(int|float|bool|string|enum)$/ { print $1, $2 }' >"$tmp/keys"
if [ ! -s "$tmp/keys" ]; then
  echo "FAIL: no keys read from '$bin help config'"
  exit 1
fi
dirs=()
for d in runtime models data kernels; do [ -d "$src/$d" ] && dirs+=("$src/$d"); done
# Calls may span lines: flatten each file before matching `ds_config_TYPE(expr, "path")`.
find "${dirs[@]}" -type f \( -name '*.c' -o -name '*.h' -o -name '*.cu' \) | sort | while read -r f; do
  tr '\n' ' ' <"$f" | grep -oE 'ds_config_(int|float|bool|str|enum)\([^,;()]*,[[:space:]]*"[^"]*"[[:space:]]*\)' |
    sed -E 's/^ds_config_([a-z]+)\([^,]*,[[:space:]]*"([^"]*)".*/\1 \2/' | sed "s|^|${f#"$src"/} |"
done >"$tmp/calls"
count=$(wc -l <"$tmp/calls")
if [ "$count" -eq 0 ]; then
  echo "FAIL: found no ds_config_* lookups at all; the pattern in this test must be broken"
  exit 1
fi
status=0
while read -r file fn path; do
  declared=$(awk -v p="$path" '$1 == p { print $2 }' "$tmp/keys")
  case "$fn:$declared" in
    int:int | float:float | bool:bool | str:string | str:enum | enum:enum) ;;
    *:)
      echo "FAIL: $file: ds_config_$fn(..., \"$path\"): key not declared in runtime/config/config_keys.c"
      status=1 ;;
    *)
      echo "FAIL: $file: ds_config_$fn(..., \"$path\"): the key is declared as $declared"
      status=1 ;;
  esac
done <"$tmp/calls"
[ $status = 0 ] && echo "ok: $count config lookups name declared keys of their type"
exit $status
