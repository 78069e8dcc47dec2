#!/usr/bin/env bash
# run.device and run.precision on a machine without a usable CUDA device (the CPU test machine):
# run.device=cuda (and cuda:N) fails at once with a message that says why and what to use instead;
# auto falls back to the CPU and the log says why; a malformed device and bf16 on the CPU are
# config errors. On a machine with a GPU the cases that need its absence are skipped (exit 77 when
# nothing else is left to check).
source "$(dirname "$0")/lib.sh"

# A tiny CPU bench: fast, and it opens the device the same way train, eval and predict do.
tiny=(--set bench.batch=1 --set bench.seq_len=8 --set bench.hidden=32 --set bench.heads=2
      --set bench.intermediate=64 --set bench.warmup=0 --set bench.repeats=1 --set bench.gemm_check=false)

"$bin" bench "${tiny[@]}" >"$tmp/auto.out" 2>"$tmp/auto.err"
rc=$?
if grep -q 'device: cuda' "$tmp/auto.err"; then
  echo "a CUDA device is usable here: the no-GPU cases do not apply"
  have_gpu=1
else
  have_gpu=0
fi

if [ $have_gpu -eq 0 ]; then
  check "auto without a GPU runs on the CPU (exit 0)" "[ $rc -eq 0 ]"
  check "auto logs the CPU and why" \
    "grep -Eq 'device: cpu \((no usable CUDA device|the CUDA runtime reports no devices|this build has no CUDA backend)' '$tmp/auto.err'"
  check "the CPU bench prints its JSON" "grep -q '\"device\": \"cpu\"' '$tmp/auto.out'"

  "$bin" bench "${tiny[@]}" --set run.device=cuda >"$tmp/cuda.out" 2>"$tmp/cuda.err"
  rc=$?
  check "run.device=cuda without a GPU exits 2" "[ $rc -eq 2 ]"
  check "run.device=cuda says why and what to use instead" \
    "grep -q 'run.device cuda: .*use run.device=cpu' '$tmp/cuda.err'"
  check "nothing was benchmarked" "[ ! -s '$tmp/cuda.out' ]"

  "$bin" bench "${tiny[@]}" --set run.device=cuda:1 >/dev/null 2>"$tmp/cuda1.err"
  check "run.device=cuda:1 without a GPU fails clearly" "[ $? -eq 2 ] && grep -q 'run.device cuda:1: ' '$tmp/cuda1.err'"

  "$bin" train --set run.device=cuda >/dev/null 2>"$tmp/train.err"
  check "train with run.device=cuda fails before reading any data" \
    "[ $? -eq 2 ] && grep -q 'run.device cuda: ' '$tmp/train.err'"

  "$bin" bench "${tiny[@]}" --set run.precision=bf16 >/dev/null 2>"$tmp/bf16.err"
  check "run.precision=bf16 on the CPU is refused" "[ $? -eq 2 ] && grep -q 'run.precision bf16 needs a CUDA device' '$tmp/bf16.err'"
fi

"$bin" bench "${tiny[@]}" --set run.device=cpu >/dev/null 2>"$tmp/cpu.err"
check "run.device=cpu runs on the CPU and says so" "[ $? -eq 0 ] && grep -q 'device: cpu (run.device=cpu)' '$tmp/cpu.err'"

"$bin" bench "${tiny[@]}" --set run.device=gpu0 >/dev/null 2>"$tmp/bad.err"
check "a malformed run.device is a config error" \
  "[ $? -eq 2 ] && grep -q \"run.device 'gpu0': expected auto, cpu, cuda or cuda:N\" '$tmp/bad.err'"

exit $fail
