#!/usr/bin/env bash
# The training data loader under data parallelism: with data.group_by_length on (the grouping is
# of the global order, so every rank sees the same grouped order and takes its shard of each
# global micro-batch) and 2 worker threads per rank, 2 ranks x batch 7 under mpirun equal 1 rank
# x batch 14 made without workers: parameters after 6 steps, each step's loss and gradient norm
# (the last global batch has 2 examples, all on rank 0). Tolerances as in test_mpi_equivalence.sh
# (the same sums in another order in fp32).
source "$(dirname "$0")/lib.sh"
have_mpirun || { echo "mpirun not found: skipped"; exit 77; }
write_config "$tmp/cfg.json"
sets=(--set train.max_steps=6 --set train.eval_every=6 --set data.group_by_length=true)
"${mpirun2[@]}" "$bin" train --config "$tmp/cfg.json" --set train.output_dir="$tmp/two" --set train.batch_size=7 \
  --set data.num_workers=2 "${sets[@]}" >"$tmp/two.out" 2>"$tmp/two.err"
check "2 ranks x batch 7, grouped, 2 workers: exit 0" "[ $? -eq 0 ]"
"$bin" train --config "$tmp/cfg.json" --set train.output_dir="$tmp/one" --set train.batch_size=14 \
  --set data.num_workers=0 "${sets[@]}" >"$tmp/one.out" 2>"$tmp/one.err"
check "1 rank x batch 14, grouped, no workers: exit 0" "[ $? -eq 0 ]"
check "both log the grouping's padding" \
  "grep -q 'data.group_by_length: ' '$tmp/two.err' && grep -q 'data.group_by_length: ' '$tmp/one.err'"
echo "  $("$compare" "$tmp/one/checkpoint-6.safetensors" "$tmp/two/checkpoint-6.safetensors" --floor 0.02 --rtol 1e-5)"
check "parameters after 6 steps equal within 1e-5 relative" \
  "'$compare' '$tmp/one/checkpoint-6.safetensors' '$tmp/two/checkpoint-6.safetensors' --floor 0.02 --rtol 1e-5 >/dev/null"
check "each step's loss equal within 1e-5" "same_values '$tmp/one/metrics.jsonl' '$tmp/two/metrics.jsonl' loss 1e-5"
check "each step's gradient norm equal within 1e-3" \
  "same_values '$tmp/one/metrics.jsonl' '$tmp/two/metrics.jsonl' grad_norm 1e-3"
# Without grouping the 1-rank run differs (other batches): the comparison above can fail.
"$bin" train --config "$tmp/cfg.json" --set train.output_dir="$tmp/plain" --set train.batch_size=14 \
  "${sets[@]}" --set data.group_by_length=false >"$tmp/plain.out" 2>"$tmp/plain.err"
check "... while the ungrouped run's parameters differ from the grouped 2-rank run's" \
  "! '$compare' '$tmp/plain/checkpoint-6.safetensors' '$tmp/two/checkpoint-6.safetensors' --floor 0.02 --rtol 1e-5 >/dev/null"
[ $fail -eq 0 ] || for f in "$tmp"/*.err; do echo "--- $f"; tail -5 "$f"; done
exit $fail
