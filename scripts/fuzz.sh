#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz/fuzz_*.c; clang, ASan + UBSan, CMake option DS_FUZZ)
# into build-fuzz/ and fuzzes each for a bounded time; fails when any target crashes, leaks,
# hangs or asks for more than 2 GB. Prints the executions per target.
#
# usage: scripts/fuzz.sh [SECONDS per target (default 20)] [TARGET...]   (TARGET: safetensors, pth, ...)
#   DS_FUZZ_JOBS=N    fuzz N targets at once (default 1)
#   DS_FUZZ_NICE=N    run the fuzzers at this nice level (default 0)
#   DS_FUZZ_FLAGS=... extra libFuzzer flags
#
# Corpora: the seeds, made afresh from tests/fixtures (build-fuzz/seeds/<target>), the kept inputs
# of tests/fuzz/corpus/<target> (read only), and the inputs the fuzzer found worth keeping, which
# grow from run to run in build-fuzz/corpus/<target>. A crash lands in build-fuzz/crashes/ as
# <target>-crash-<sha1> (replay it: build-fuzz/tests/fuzz_<target> FILE). Once the parser is
# fixed, copy the input into tests/fuzz/corpus/<target>/: the ctest fuzz_replay_<target> then
# replays it in every build (also under ASan, scripts/test.sh).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-20}
shift || true
out=$root/build-fuzz
fx=$root/tests/fixtures
all=(safetensors pth config sweep csv text_dataset wordpiece speech_tokenizer hf_config image audio manifest train_state
     run_files)
targets=("$@")
((${#targets[@]})) || targets=("${all[@]}")

command -v clang >/dev/null || { echo "fuzz: clang not found: run scripts/setup_deps.sh" >&2; exit 1; }
CC=clang cmake -S "$root" -B "$out" -DDS_FUZZ=ON -DDS_WITH_CUDA=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  >"$out.cmake.log" 2>&1 || { cat "$out.cmake.log"; exit 1; }
cmake --build "$out" -j "$(nproc)" --target "${targets[@]/#/fuzz_}" >/dev/null

# ---- seeds from the fixtures: the first byte of an input picks a target's mode (see each target) ----
seeds=$out/seeds
rm -rf "$seeds"
seed() {  # seed TARGET NAME PREFIX-BYTES FILE...: PREFIX + the files' contents joined by NUL bytes
  local t=$1 name=$2 prefix=$3 i=0
  shift 3
  mkdir -p "$seeds/$t"
  {
    printf "$prefix"
    for f in "$@"; do
      ((i++)) && printf '\0'
      [ -f "$f" ] && cat "$f"
    done
  } >"$seeds/$t/$name"
}
small() { find "$@" -type f -size -64k 2>/dev/null | sort; }

for f in $(small "$fx/safetensors" "$fx/pth" -name '*.safetensors'); do seed safetensors "$(basename "$f")" '' "$f"; done
for f in $(small "$fx/pth" -name '*.pth'); do
  b=$(basename "$f")
  seed pth "file-$b" '\0' "$f"
  # The pickle of a zip checkpoint, as modes 1 (zip) and 2 (legacy) wrap it (fuzz_pth.c).
  python3 - "$f" "$seeds/pth/pkl-$b" <<'PY' || true
import sys, zipfile
if zipfile.is_zipfile(sys.argv[1]):
    z = zipfile.ZipFile(sys.argv[1])
    name = next((n for n in z.namelist() if n.endswith("/data.pkl")), None)
    if name is not None and z.getinfo(name).compress_type == 0:
        pkl = z.read(name)
        open(sys.argv[2] + ".zip", "wb").write(b"\x01" + pkl)
        open(sys.argv[2] + ".legacy", "wb").write(b"\x02" + pkl)
PY
done
printf 'train.lr=3e-5' >"$out/set1"
printf 'data.max_length=64' >"$out/set2"
for f in "$root"/configs/*.json; do seed config "$(basename "$f")" '' "$f" "$out/set1" "$out/set2"; done
printf '{"grid": {"train.lr": [1e-4, 3e-4], "train.batch_size": [16, 32]}}' >"$out/grid.json"
printf '{"runs": [{"train.lr": 1e-4}, {"train.lr": 3e-4, "train.epochs": 5, "task.type": "text_classification"}]}' >"$out/runs.json"
seed sweep grid '\3' "$out/grid.json"
seed sweep runs '\1' "$out/runs.json"
for f in $(small "$fx/textdata" -name '*.csv'); do seed csv "$(basename "$f")" '\0' "$f"; seed text_dataset "$(basename "$f")" '\0' "$f"; done
for f in $(small "$fx/textdata" -name '*.tsv'); do seed csv "$(basename "$f")" '\1' "$f"; seed text_dataset "$(basename "$f")" '\1' "$f"; done
for f in $(small "$fx/textdata" -name '*.jsonl'); do seed csv "$(basename "$f")" '\3' "$f"; seed text_dataset "$(basename "$f")" '\2' "$f"; done
seed text_dataset lines '\203' "$fx/tokenizer/cli_input.txt"
printf 'Hello, world! naïve café' >"$out/text_a"
printf 'Ünïcödé [MASK] 中文' >"$out/text_b"
for d in "$fx"/tokenizer/*/ "$fx/trainer/trace/model/"; do
  seed wordpiece "$(basename "$d")" '' "$d/vocab.txt" "$d/tokenizer_config.json" "$d/tokenizer.json" "$out/text_a" "$out/text_b"
done
printf 'HELLO WORLD naïve' >"$out/transcript"
for d in "$fx"/audio/hub "$fx"/audio/hub_lower "$fx"/audio/recipe_v5 "$fx"/audio/recipe_vocab; do
  pre=$d/preprocessor_config.json
  [ -f "$pre" ] || pre=$d/processor_config.json
  seed speech_tokenizer "$(basename "$d")" '' "$d/vocab.json" "$d/tokenizer_config.json" "$d/special_tokens_map.json" \
    "$d/added_tokens.json" "$pre" "$out/transcript"
done
for f in "$fx"/bert/*/config.json "$fx"/trainer/trace/model/config.json; do
  seed hf_config "bert-$(basename "$(dirname "$f")")" '\0' "$f"
done
printf '{"model_type": "deeplabv3", "class_names": ["background", "cat"], "base_size": 520, "crop_size": 480,
 "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}' >"$out/deeplab.json"
seed hf_config deeplab '\1' "$out/deeplab.json"
for f in $(small "$fx/images/decode" "$fx/images/bad"); do
  b=$(basename "$f")
  seed image "rgb-$b" '\0' "$f"
  case $b in *.png) seed image "mask-$b" '\1' "$f" ;; esac
done
seed image probe '\2' "$fx/images/decode/baseline420.jpg"
for f in $(small "$fx/audio" \( -name '*.wav' -o -name '*.flac' -o -name '*.ogg' -o -name '*.m4a' \)); do
  b=$(basename "$f")
  seed audio "probe-$b" '\0' "$f"
  seed audio "mono-$b" '\1' "$f"
  seed audio "16k-$b" '\2' "$f"
done
# Manifests: the fixtures' rows, their audio renamed to the a.wav that fuzz_manifest.c provides.
i=0
for f in "$fx"/audio/manifest.csv "$fx"/audio/manifest.tsv "$fx"/audio/manifest.jsonl; do
  sed -E 's/[A-Za-z0-9_]+\.(wav|flac|ogg)/a.wav/g' "$f" >"$out/manifest.$i"
  seed manifest "speech-$(basename "$f")" "\\$i" "$out/manifest.$i"
  i=$((i + 1))
done
seed manifest seg-csv '\3' "$fx/images/lists/pairs.csv"
seed manifest seg-tsv '\4' "$fx/images/lists/pairs.tsv"
seed manifest seg-jsonl '\5' "$fx/images/lists/pairs.jsonl"
seed manifest seg-headerless '\13' "$fx/images/lists/headerless.csv"
seed manifest classes '\6' "$fx/images/voc/class_names.txt"
# These two take their seeds from tests/fuzz/corpus only: checkpoints of fuzz_train_state.c's block,
# and a run folder's files (metrics.jsonl, config.json, eval_*.json, samples.jsonl of a tiny run).
mkdir -p "$seeds/train_state" "$seeds/run_files"

# ---- fuzzing ----------------------------------------------------------------------------------
mkdir -p "$out/crashes" "$out/logs"
# Leaks inside third-party libraries only (tests/fuzz/lsan.supp says which and why).
export ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1:abort_on_error=0
export LSAN_OPTIONS=suppressions=$root/tests/fuzz/lsan.supp:print_suppressions=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export OMP_NUM_THREADS=1

run_one() {  # fuzzes target $1; the log goes to logs/$1.log; returns the fuzzer's status
  local t=$1
  mkdir -p "$out/corpus/$t"
  nice -n "${DS_FUZZ_NICE:-0}" "$out/tests/fuzz_$t" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=30 \
    -print_final_stats=1 -artifact_prefix="$out/crashes/$t-" ${DS_FUZZ_FLAGS:-} \
    "$out/corpus/$t" "$seeds/$t" "$root/tests/fuzz/corpus/$t" >"$out/logs/$t.log" 2>&1
}

pids=()
jobs=${DS_FUZZ_JOBS:-1}
for t in "${targets[@]}"; do
  while (($(jobs -rp | wc -l) >= jobs)); do wait -n || true; done
  run_one "$t" &
  pids+=("$t:$!")
done
failed=()
printf '%-18s %10s %12s %8s %s\n' target seconds executions exec/s result
for p in "${pids[@]}"; do
  t=${p%%:*}
  if wait "${p#*:}"; then r=ok; else r=FAILED; failed+=("$t"); fi
  log=$out/logs/$t.log
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
  printf '%-18s %10s %12s %8s %s\n' "$t" "$seconds" "${execs:-?}" "${rate:-?}" "$r"
done
if ((${#failed[@]})); then
  for t in "${failed[@]}"; do
    echo "== fuzz_$t failed ($out/logs/$t.log):"
    grep -E -A 30 '^==[0-9]+==ERROR|runtime error|^SUMMARY|Test unit written|ALARM|out-of-memory' "$out/logs/$t.log" | head -n 60
  done
  echo "fuzz: ${#failed[@]} target(s) failed: ${failed[*]}; inputs in $out/crashes/" >&2
  exit 1
fi
echo "fuzz: ${#targets[@]} targets, ${seconds} s each: no crash"
