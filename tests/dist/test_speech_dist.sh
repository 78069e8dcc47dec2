#!/usr/bin/env bash
# The speech_ctc family's loss weighting across ranks and micro-batches (mpirun): a tiny Wav2Vec2
# from scratch (tests/fixtures/speech/tiny_scratch.json: layer norm, so HF feeds an attention mask
# and padding changes nothing) on the 9 fixture utterances, batch 8 a step, so that every second
# step holds one utterance: rank 0 gets it, rank 1 nothing (an uneven last batch). For both CTC
# reductions,
#   2 ranks x batch 4 (mpirun)  ==  1 rank x batch 8  ==  1 rank x batch 4 x accumulation 2
# in every parameter after 4 SGD steps (momentum 0.9; with AdamW the attention key biases, whose
# gradient is mathematically 0, move by normalised float noise and no two orders of summation agree). "mean" is HF's per-utterance mean (of loss / target
# length), which the trainer gets by weighting each micro-batch's mean by its utterance count;
# "sum" adds up as it is. A per-micro-batch (or per-rank) mean would weigh each of the 4 utterances
# more than each of the 5: with the weight of a "mean" micro-batch set to 1 on purpose, the
# parameters differ by 3e-3 (measured) and the test fails. SpecAugment, LayerDrop and
# dropout are off: each rank draws its masks at its own rng_step, so with them on the runs compute
# different functions by design.
source "$(dirname "$0")/lib.sh"
have_mpirun || { echo "mpirun not found: skipped"; exit 77; }
fix=$src/tests/fixtures/speech
cat >"$tmp/cfg.json" <<JSON
{
  "task": {"type": "speech_ctc"},
  "run": {"seed": 5, "threads": 1, "device": "cpu"},
  "model": {"scratch_config": "$fix/tiny_scratch.json", "freeze_feature_encoder": false, "mask_time_prob": 0,
            "layerdrop": 0, "ctc_zero_infinity": true},
  "data": {"train": "$fix/train.csv", "dev": "$fix/dev.csv", "num_workers": 1},
  "train": {"optimizer": "sgd", "lr": 0.05, "momentum": 0.9, "max_grad_norm": 0, "warmup_ratio": 0, "max_steps": 4, "eval_every": 4, "log_every": 1, "keep_last": 5,
            "metric": "loss"},
  "dist": {"timeout_s": 60}
}
JSON
for red in mean sum; do
  lr=0.05
  [ $red = sum ] && lr=2e-4  # a sum over utterances and labels: ~100x the mean's gradient
  sets=(--config "$tmp/cfg.json" --set model.ctc_loss_reduction=$red --set train.lr=$lr)
  "${mpirun2[@]}" "$bin" train "${sets[@]}" --set train.batch_size=5 --set train.output_dir="$tmp/two_$red" \
    >"$tmp/two_$red.out" 2>"$tmp/two_$red.err"
  check "$red: 2 ranks x 5 exit 0" "[ $? -eq 0 ]" || tail -5 "$tmp/two_$red.err"
  "$bin" train "${sets[@]}" --set train.batch_size=10 --set train.output_dir="$tmp/one_$red" >/dev/null 2>"$tmp/one_$red.err"
  check "$red: 1 rank x 10 exits 0" "[ $? -eq 0 ]"
  "$bin" train "${sets[@]}" --set train.batch_size=5 --set train.grad_accum=2 --set train.output_dir="$tmp/acc_$red" \
    >/dev/null 2>"$tmp/acc_$red.err"
  check "$red: 1 rank x 5 x accumulation 2 exits 0" "[ $? -eq 0 ]"
  # 1e-5: the same utterances in batches of other shapes (padding, GEMM blocking) and sums over
  # ranks in another order: fp32 rounding grows to ~1e-6 over 4 Adam steps (measured); a wrong
  # weighting is ~1e-2 away. --floor 1e-2: the attention key biases get a gradient that is
  # mathematically 0 and stay at ~1e-9 (float noise); relative to themselves they would differ.
  echo "  $("$compare" "$tmp/one_$red/checkpoint-4.safetensors" "$tmp/two_$red/checkpoint-4.safetensors" --rtol 1e-5 --floor 1e-2)"
  check "$red: 2 ranks equal 1 rank within 1e-5" \
    "'$compare' '$tmp/one_$red/checkpoint-4.safetensors' '$tmp/two_$red/checkpoint-4.safetensors' --rtol 1e-5 --floor 1e-2 >/dev/null"
  echo "  $("$compare" "$tmp/one_$red/checkpoint-4.safetensors" "$tmp/acc_$red/checkpoint-4.safetensors" --rtol 1e-5 --floor 1e-2)"
  check "$red: accumulation equals the big batch within 1e-5" \
    "'$compare' '$tmp/one_$red/checkpoint-4.safetensors' '$tmp/acc_$red/checkpoint-4.safetensors' --rtol 1e-5 --floor 1e-2 >/dev/null"
done
check "mean and sum train different models (the check can fail)" \
  "! '$compare' '$tmp/one_mean/checkpoint-4.safetensors' '$tmp/one_sum/checkpoint-4.safetensors' --rtol 1e-5 --floor 1e-2 >/dev/null"
exit $fail
