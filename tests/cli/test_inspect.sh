#!/usr/bin/env bash
# `downstream inspect`: lists a fixture's tensors and exits 0; on a malformed file, a folder with
# one, a missing path or bad usage exits non-zero with one `downstream inspect: ...` line.
# usage: test_inspect.sh <downstream-binary> <source-dir>; exit 0 pass, 1 fail.
set -u
bin=$1
src=$2
fx=$src/tests/fixtures/safetensors
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
check() {  # check <description> <condition-command...>
    local what=$1
    shift
    if "$@"; then echo "ok   $what"; else echo "FAIL $what"; fail=1; fi
}

out=$("$bin" inspect "$fx/values.safetensors" 2>&1); rc=$?
check "valid file exits 0" test "$rc" -eq 0
check "lists a tensor with dtype and shape" grep -qE '^  f32\.matrix +F32 +\(2, 3\) +24$' <<<"$out"
check "prints the totals" grep -q 'total: 12 tensors, 48 parameters, 177 bytes' <<<"$out"
check "prints the metadata" grep -qE '^    format = pt$' <<<"$out"

out=$("$bin" inspect "$fx/" 2>&1); rc=$?
check "folder of valid files exits 0" test "$rc" -eq 0
check "folder: every file, sorted" bash -c '[[ "$(grep -E "\.safetensors$" <<<"$1" | xargs -r -n1 basename | tr "\n" " ")" == "empty.safetensors empty_metadata.safetensors layout.safetensors no_metadata.safetensors values.safetensors " ]]' _ "$out"

# A file whose header length runs past its end.
printf '\xff\x00\x00\x00\x00\x00\x00\x00{}' >"$tmp/bad.safetensors"
out=$("$bin" inspect "$tmp/bad.safetensors" 2>&1); rc=$?
check "bad file exits non-zero" test "$rc" -ne 0
check "bad file: one line naming the file" bash -c '[[ $(wc -l <<<"$1") -eq 1 ]] && grep -q "^downstream inspect: .*bad.safetensors: header length 255" <<<"$1"' _ "$out"

cp "$fx/values.safetensors" "$tmp/good.safetensors"
out=$("$bin" inspect "$tmp" 2>&1); rc=$?
check "folder with a bad file exits non-zero" test "$rc" -ne 0
check "folder with a bad file still lists the good one" grep -q 'good.safetensors' <<<"$out"

out=$("$bin" inspect "$tmp/missing.safetensors" 2>&1); rc=$?
check "missing file exits non-zero" test "$rc" -ne 0
check "missing file: message names it" grep -q '^downstream inspect: .*missing.safetensors: No such file' <<<"$out"

mkdir "$tmp/none"
out=$("$bin" inspect "$tmp/none" 2>&1); rc=$?
check "folder without safetensors files exits non-zero" test "$rc" -ne 0
check "folder without safetensors: message" grep -q 'no \*.safetensors files' <<<"$out"

out=$("$bin" inspect --help 2>&1); rc=$?
check "--help exits 0" test "$rc" -eq 0
check "--help prints usage" grep -q '^usage: downstream inspect' <<<"$out"
"$bin" inspect >/dev/null 2>&1; rc=$?
check "no argument is a usage error (2)" test "$rc" -eq 2
out=$("$bin" --help 2>&1)
check "inspect is listed in downstream --help" grep -qE '^  inspect ' <<<"$out"

exit $fail
