#!/usr/bin/env bash
# A checkpoint resumes on another number of ranks. A 2-rank run (batch 4 per rank, global 8)
# stops after 3 of 6 steps; its folder is copied; one copy continues on 2 ranks, the other on
# 1 rank with batch 8 (the same global batch). Steps 4-6 must agree: parameters within 1e-5,
# losses and gradient norms as in test_mpi_equivalence.sh. The other way round too: a 1-rank
# checkpoint continued on 2 ranks. And a resume with another global batch converts the position
# in the epoch through the examples consumed, and says so.
source "$(dirname "$0")/lib.sh"
have_mpirun || { echo "mpirun not found: skipped"; exit 77; }
write_config "$tmp/cfg.json"
sets=(--config "$tmp/cfg.json" --set train.max_steps=6 --set train.eval_every=3)

"${mpirun2[@]}" "$bin" train "${sets[@]}" --set train.output_dir="$tmp/two" --set train.stop_after=3 \
  >"$tmp/first.out" 2>"$tmp/first.err"
check "2 ranks: the first half stops at step 3" "[ $? -eq 0 ] && grep -q 'stopped at step 3 of 6' '$tmp/first.out'"
check "only rank 0 wrote: one checkpoint-3 and one metrics log" \
  "[ -s '$tmp/two/checkpoint-3.safetensors' ] && [ \$(grep -c '\"loss\"' '$tmp/two/metrics.jsonl') -eq 3 ]"
cp -r "$tmp/two" "$tmp/one"
cp -r "$tmp/two" "$tmp/conv"

"${mpirun2[@]}" "$bin" train "${sets[@]}" --set train.output_dir="$tmp/two" --set train.resume=true \
  >"$tmp/two.out" 2>"$tmp/two.err"
check "2 ranks resume on 2 ranks" "[ $? -eq 0 ] && grep -q 'resumed from .*checkpoint-3.safetensors: step 3' '$tmp/two.err'"
"$bin" train "${sets[@]}" --set train.output_dir="$tmp/one" --set train.resume=true --set train.batch_size=8 \
  >"$tmp/one.out" 2>"$tmp/one.err"
check "2 ranks resume on 1 rank (batch 8)" "[ $? -eq 0 ] && grep -q 'resumed from .*checkpoint-3.safetensors: step 3' '$tmp/one.err'"
check "same global batch: no conversion of the position" "! grep -q 'resuming a run of global batch' '$tmp/one.err'"
# Tolerances as in test_mpi_equivalence.sh (fp32 summation order; floor = initializer_range). The
# second moments are squared gradients: twice their relative rounding, so 1e-5 again; their floor
# 1e-9 (a gradient of ~3e-5) only matters for the attention key bias, whose v is ~1e-28.
echo "  $("$compare" "$tmp/two/checkpoint-6.safetensors" "$tmp/one/checkpoint-6.safetensors" --floor 0.02 --rtol 1e-5)"
check "step 6 on 1 rank equals step 6 on 2 ranks within 1e-5" \
  "'$compare' '$tmp/two/checkpoint-6.safetensors' '$tmp/one/checkpoint-6.safetensors' --floor 0.02 --rtol 1e-5 >/dev/null"
echo "  $("$compare" "$tmp/two/checkpoint-6.safetensors" "$tmp/one/checkpoint-6.safetensors" --prefix adam_v/ --floor 1e-9 --rtol 1e-5)"
check "... AdamW moments too (the optimizer state was carried over)" \
  "'$compare' '$tmp/two/checkpoint-6.safetensors' '$tmp/one/checkpoint-6.safetensors' --prefix adam_v/ --floor 1e-9 --rtol 1e-5 >/dev/null"
check "losses of steps 1-6 equal within 1e-5" "same_values '$tmp/two/metrics.jsonl' '$tmp/one/metrics.jsonl' loss 1e-5"
check "gradient norms of steps 1-6 equal within 1e-3" \
  "same_values '$tmp/two/metrics.jsonl' '$tmp/one/metrics.jsonl' grad_norm 1e-3"
check "same test metrics" "[ \"\$(grep '^test' '$tmp/two.out')\" = \"\$(grep '^test' '$tmp/one.out')\" ]"

# 1 rank (batch 8) -> 2 ranks (batch 4).
"$bin" train "${sets[@]}" --set train.output_dir="$tmp/up" --set train.batch_size=8 --set train.stop_after=3 \
  >/dev/null 2>"$tmp/up1.err"
"${mpirun2[@]}" "$bin" train "${sets[@]}" --set train.output_dir="$tmp/up" --set train.resume=true \
  >"$tmp/up.out" 2>"$tmp/up2.err"
check "1 rank resumes on 2 ranks" "[ $? -eq 0 ] && grep -q 'resumed from .*checkpoint-3.safetensors: step 3' '$tmp/up2.err'"
check "... and reaches the 2-rank run's step 6 within 1e-5" \
  "'$compare' '$tmp/two/checkpoint-6.safetensors' '$tmp/up/checkpoint-6.safetensors' --floor 0.02 --rtol 1e-5 >/dev/null"

# Another global batch: 3 steps x 8 examples = 24 consumed = batch 6 of global batch 4.
"$bin" train "${sets[@]}" --set train.output_dir="$tmp/conv" --set train.resume=true --set train.batch_size=4 \
  >/dev/null 2>"$tmp/conv.err"
check "resume with global batch 4 after global batch 8 runs" "[ $? -eq 0 ]"
check "... and says where it continues" \
  "grep -q 'resuming a run of global batch 8 with global batch 4: 24 examples of epoch 0 were consumed, so it continues at batch 6' '$tmp/conv.err'"

[ $fail -eq 0 ] || for f in "$tmp"/*.err; do echo "--- $f"; tail -5 "$f"; done
exit $fail
