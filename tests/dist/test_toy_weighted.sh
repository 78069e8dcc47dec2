#!/usr/bin/env bash
# A loss whose weight differs per rank and per micro-batch, through the real trainer: the toy
# family (tests/toy_family.h) averages a squared error over the TOKENS of ragged sequences (1 to 9
# tokens each), and keeps SyncBatchNorm-like running statistics over the global micro-batch
# through the collective hook. The trainer weights each micro-batch's backward by its tokens over
# the step's tokens on all ranks, so
#   2 ranks x batch 4 (mpirun)  ==  1 rank x batch 8  ==  1 rank x batch 4 x accumulation 2 (params)
# although the two ranks' micro-batches hold different numbers of tokens. A per-example (or
# per-rank) mean would weigh the tokens of short and long sequences differently: then the
# parameters differ by ~1e-2 here. Compared: the parameters after 5 SGD steps (momentum 0.9, an lr
# group at 10x), the frozen tensor (unchanged), and between the 2-rank and 1-rank runs the running
# statistics buffer (the global mean through the collective; per-rank means would differ).
source "$(dirname "$0")/lib.sh"
have_mpirun || { echo "mpirun not found: skipped"; exit 77; }
toy=$(dirname "$compare")/toy_train
sets=(--set run.threads=1 --set train.optimizer=sgd --set train.lr=0.05 --set train.max_grad_norm=0
      --set train.weight_decay=0.01 --set train.schedule=constant --set train.warmup_ratio=0 --set train.max_steps=5
      --set train.eval_every=5 --set train.keep_last=5 --set train.metric=loss --set dist.timeout_s=30)
"${mpirun2[@]}" "$toy" "${sets[@]}" --set train.batch_size=4 --set train.output_dir="$tmp/two" >"$tmp/two.out" 2>&1
check "2 ranks x 4 exit 0" "[ $? -eq 0 ]" || cat "$tmp/two.out"
"$toy" "${sets[@]}" --set train.batch_size=8 --set train.output_dir="$tmp/one" >"$tmp/one.out" 2>&1
check "1 rank x 8 exits 0" "[ $? -eq 0 ]"
"$toy" "${sets[@]}" --set train.batch_size=4 --set train.grad_accum=2 --set train.output_dir="$tmp/acc" >"$tmp/acc.out" 2>&1
check "1 rank x 4 x 2 exits 0" "[ $? -eq 0 ]"
# 1e-6: the same double sums over the same tokens grouped by rank or micro-batch, rounded to fp32.
echo "  $("$compare" "$tmp/one/checkpoint-5.safetensors" "$tmp/two/checkpoint-5.safetensors" --rtol 1e-6)"
check "2 ranks equal 1 rank: parameters within 1e-6" \
  "'$compare' '$tmp/one/checkpoint-5.safetensors' '$tmp/two/checkpoint-5.safetensors' --rtol 1e-6 >/dev/null"
check "accumulation equals the big batch: parameters within 1e-6" \
  "'$compare' '$tmp/one/checkpoint-5.safetensors' '$tmp/acc/checkpoint-5.safetensors' --rtol 1e-6 >/dev/null"
check "2 ranks equal 1 rank: running statistics within 1e-6" \
  "'$compare' '$tmp/one/checkpoint-5.safetensors' '$tmp/two/checkpoint-5.safetensors' --prefix buffer/stats.mean --rtol 1e-6 >/dev/null"
exit $fail
