#!/usr/bin/env bash
# Builds tests/fuzz/fuzz_pth.c with clang's libFuzzer, ASan and UBSan, and fuzzes the .pth reader.
# usage: scripts/fuzz_pth.sh [SECONDS (default 300)] [extra libFuzzer flags...]
# Needs clang with libFuzzer (Debian: apt-get install clang; libclang-rt-14-dev on newer releases).
# Seeds: the fixtures in tests/fixtures/pth (as whole files, mode 0) and their pickles (modes 1
# and 2: the first byte of an input picks the mode, see fuzz_pth.c). The corpus grows in
# build-fuzz/corpus; a crash lands in build-fuzz/ as crash-* (reproduce: build-fuzz/fuzz_pth FILE):
# turn each into a case of tests/cpu/test_pth_pickle.c or test_pth_archive.c once fixed.
# Not part of CI.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-300}
shift || true
out=$root/build-fuzz
mkdir -p "$out/corpus" "$out/seeds"
cc=${CC_FUZZ:-clang}
io=$root/runtime/io
"$cc" -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -I"$root" -o "$out/fuzz_pth" "$root/tests/fuzz/fuzz_pth.c" "$root/tests/pth_craft.c" \
  "$io"/pth_*.c "$io"/pickle*.c "$io/zip_reader.c" "$io/str_index.c" "$io/escape.c" "$io/safetensors_common.c" \
  "$root/runtime/base/status.c" "$root/runtime/base/dtype.c" "$root/runtime/base/tensor.c"
# Seeds: mode byte 0 + each fixture; mode bytes 1 and 2 + each zip fixture's data.pkl.
for f in "$root"/tests/fixtures/pth/*.pth; do
  [ -f "$f" ] || continue
  b=$(basename "$f")
  { printf '\0'; cat "$f"; } >"$out/seeds/file-$b"
  if python3 -c 'import sys, zipfile; sys.exit(0 if zipfile.is_zipfile(sys.argv[1]) else 1)' "$f" 2>/dev/null; then
    python3 - "$f" "$out/seeds/pkl-$b" <<'PY'
import sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
name = next((n for n in z.namelist() if n.endswith("/data.pkl")), None)
if name is not None and z.getinfo(name).compress_type == 0:
    pkl = z.read(name)
    open(sys.argv[2] + ".zip", "wb").write(b"\x01" + pkl)
    open(sys.argv[2] + ".legacy", "wb").write(b"\x02" + pkl)
PY
  fi
done
cd "$out"
ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 ./fuzz_pth -max_total_time="$seconds" -rss_limit_mb=2048 \
  -max_len=65536 -print_final_stats=1 "$@" corpus seeds
