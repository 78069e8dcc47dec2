#!/usr/bin/env bash
# Data parallel under mpirun equals one process on the global batch: 2 ranks x batch B against
# 1 rank x batch 2B from the same seed, dropout off.
#   A: B = 10, gradient accumulation 2, 3 AdamW steps: the epoch's last global batch has 12
#      examples, split 10 + 2 by position (so averaging must weight by examples), and it is
#      accumulated with the batch before it (only the last micro-step communicates).
#   B: B = 7, 6 steps: the last global batch has 2 examples, all on rank 0, none on rank 1.
# Compared: every parameter after the last step (relative 1e-5), each step's loss (1e-5) and
# gradient norm (1e-3), and the test metrics. AdamW and clipping do not care about the scale of
# the gradients, so the parameters alone would not see a gradient summed instead of averaged: the
# logged gradient norm (taken before clipping) does.
# And a world of one makes no MPI call: with MPI made unusable in the environment, a single
# process still trains, while forcing dist.backend=mpi then fails.
source "$(dirname "$0")/lib.sh"
have_mpirun || { echo "mpirun not found: skipped"; exit 77; }
write_config "$tmp/cfg.json"

run_case() {  # name, per-rank batch, accumulation, steps
  local name=$1 b=$2 acc=$3 steps=$4
  local sets=(--set train.grad_accum="$acc" --set train.max_steps="$steps" --set train.eval_every="$steps")
  "${mpirun2[@]}" "$bin" train --config "$tmp/cfg.json" --set train.output_dir="$tmp/$name.2" --set train.batch_size="$b" \
    "${sets[@]}" >"$tmp/$name.2.out" 2>"$tmp/$name.2.err"
  check "$name: 2 ranks x batch $b exit 0" "[ $? -eq 0 ]"
  "$bin" train --config "$tmp/cfg.json" --set train.output_dir="$tmp/$name.1" --set train.batch_size=$((2 * b)) \
    "${sets[@]}" >"$tmp/$name.1.out" 2>"$tmp/$name.1.err"
  check "$name: 1 rank x batch $((2 * b)) exits 0" "[ $? -eq 0 ]"
  check "$name: the 2-rank run says so and reports exposed all-reduce time" \
    "grep -q 'data parallel: 2 ranks (mpi), global batch $((2 * b))' '$tmp/$name.2.err' && grep -q 'all-reduce: $steps steps.*exposed' '$tmp/$name.2.err'"
  check "$name: one report (rank 0 prints, rank 1 does not)" "[ \$(grep -c '^test (12 examples)' '$tmp/$name.2.out') -eq 1 ]"
  # Tolerances: the two runs add the same per-example terms in another order (per rank, then
  # across ranks) in fp32, ~1e-7 relative per step; 3-6 AdamW steps keep that near 1e-6. The
  # attention key bias gets a gradient that is mathematically zero (softmax ignores it), so AdamW
  # moves it by float noise only (~1e-8, as large as its values): each tensor is measured against
  # at least 0.02, the model's initializer_range, i.e. the scale of its weights. Gradient norms: step norms that nearly cancel (1e-3 of the first
  # step's) carry ~1e-5 of relative noise; a scaling mistake is a factor of 2 or more.
  echo "  $("$compare" "$tmp/$name.1/checkpoint-$steps.safetensors" "$tmp/$name.2/checkpoint-$steps.safetensors" --floor 0.02 --rtol 1e-5)"
  check "$name: parameters after $steps steps equal within 1e-5 relative" \
    "'$compare' '$tmp/$name.1/checkpoint-$steps.safetensors' '$tmp/$name.2/checkpoint-$steps.safetensors' --floor 0.02 --rtol 1e-5 >/dev/null"
  check "$name: each step's loss equal within 1e-5" "same_values '$tmp/$name.1/metrics.jsonl' '$tmp/$name.2/metrics.jsonl' loss 1e-5"
  check "$name: each step's gradient norm equal within 1e-3" \
    "same_values '$tmp/$name.1/metrics.jsonl' '$tmp/$name.2/metrics.jsonl' grad_norm 1e-3"
  check "$name: same test metrics" "[ \"\$(grep '^test' '$tmp/$name.1.out')\" = \"\$(grep '^test' '$tmp/$name.2.out')\" ]"
}
run_case A 10 2 3
run_case B 7 1 6

# No MPI call in a world of one: an unusable MPI (no such PML) breaks MPI_Init, not this run.
OMPI_MCA_pml=no_such_pml "$bin" train --config "$tmp/cfg.json" --set train.output_dir="$tmp/single" \
  >/dev/null 2>"$tmp/single.err"
check "a world of one trains without initialising MPI" "[ $? -eq 0 ]"
OMPI_MCA_pml=no_such_pml "$bin" train --config "$tmp/cfg.json" --set train.output_dir="$tmp/forced" \
  --set dist.backend=mpi >/dev/null 2>"$tmp/forced.err"
check "... while forcing dist.backend=mpi does initialise it (and fails here)" "[ $? -ne 0 ]"

[ $fail -eq 0 ] || for f in "$tmp"/*.err; do echo "--- $f"; tail -5 "$f"; done
exit $fail
