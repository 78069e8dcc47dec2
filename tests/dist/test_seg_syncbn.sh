#!/usr/bin/env bash
# SyncBatchNorm under mpirun: 2 ranks x batch B of the segmentation family equal 1 rank x batch 2B
# (a narrow DeepLabV3, width 4, on the tiny VOC fixture photos, 3 SGD steps with a learning rate of
# 1e-6, see below). Dropout is off
# (model.dropout=0): each rank draws its masks at its own rng_step (rng_step * world + rank), so
# with dropout on the two runs would compute different functions by design. The augmentation is
# keyed by example index and is the same in both. Compared after the last step: every parameter,
# every BatchNorm running mean and variance, num_batches_tracked (exactly), the SGD momentum
# buffers (the sums of the three steps' gradients), each step's loss and gradient norm. The
# batches' loss weights differ between the ranks in steps 2 and 3 (crops that reach into the
# padding have ignored pixels), so the weighting of the ranks' losses is tested too.
# Why lr 1e-6: the randomly initialised narrow model is ill-conditioned (gradient norms 60-200,
# BatchNorm over as few as 4 values per channel in the ASPP pooling branch), so with a usual
# learning rate ANY two fp32 computations that add in another order diverge: the runs agree to
# 1.4e-7 after step 1 and differ by 1e-2 after step 3 at lr 1e-2 (6% in the step-3 gradient norm
# at lr 1e-4), as would torch's. At lr 1e-6 the steps still see new batches while the parameters
# stay where the gradients are well defined, and the momentum buffers hold every step's gradient.
# And the check can fail: with model.sync_bn=false each rank normalises its own half (rank 0's
# buffers shared, as DistributedDataParallel's broadcast_buffers), and the statistics move away
# from the 1-rank run's.
source "$(dirname "$0")/lib.sh"
have_mpirun || { echo "mpirun not found: skipped"; exit 77; }
voc=$src/tests/fixtures/images/voc
echo "image,mask" >"$tmp/train.csv"
for id in a b c a b c a b c a b c; do echo "$voc/JPEGImages/$id.jpg,$voc/SegmentationClass/$id.png" >>"$tmp/train.csv"; done
printf 'image,mask\n%s,%s\n' "$voc/JPEGImages/c.jpg" "$voc/SegmentationClass/c.png" >"$tmp/dev.csv"
cat >"$tmp/cfg.json" <<JSON
{
  "task": {"type": "segmentation"},
  "run": {"seed": 4, "threads": 1, "device": "cpu"},
  "model": {"width": 4, "dropout": 0},
  "data": {"train": "$tmp/train.csv", "dev": "$tmp/dev.csv", "class_names": "$voc/class_names.txt",
           "base_size": 40, "crop_size": 32, "num_workers": 1},
  "train": {"optimizer": "sgd", "lr": 1e-6, "momentum": 0.9, "weight_decay": 1e-4, "schedule": "poly",
            "warmup_ratio": 0, "max_grad_norm": 0, "max_steps": 3, "eval_every": 3, "log_every": 1, "keep_last": 5},
  "dist": {"timeout_s": 60, "bucket_mb": 0.05}
}
JSON
"${mpirun2[@]}" "$bin" train --config "$tmp/cfg.json" --set train.batch_size=2 --set train.output_dir="$tmp/two" \
  >"$tmp/two.out" 2>"$tmp/two.err"
check "2 ranks x batch 2 (SyncBN) exit 0" "[ $? -eq 0 ]"
check "... data parallel over 2 ranks" "grep -q 'data parallel: 2 ranks (mpi), global batch 4' '$tmp/two.err'"
"$bin" train --config "$tmp/cfg.json" --set train.batch_size=4 --set train.output_dir="$tmp/one" >"$tmp/one.out" 2>"$tmp/one.err"
check "1 rank x batch 4 exits 0" "[ $? -eq 0 ]"
# Tolerances. The batch statistics are sums in double in a fixed order per channel, all-reduced, so
# both runs normalise with the same mean and variance (the running statistics come out
# bit-identical); what differs is the order of fp32 additions: the conv weight gradients (each rank
# sums its 2 images, then the all-reduce adds the halves) and the loss's mean (per rank, then
# weighted across ranks): ~1e-7 relative (measured 2e-7 on the momentum buffers). 1e-5 relative to
# each tensor's largest value (at least 0.01, for a bias near zero) leaves a margin; a missing
# all-reduce in forward or backward, or ranks weighted 1/2 instead of by their valid pixels, is 1e-3
# or more (the sync_bn=false control below: 4e-2).
compare_all() {  # prefix
  "$compare" "$tmp/one/checkpoint-3.safetensors" "$tmp/two/checkpoint-3.safetensors" --prefix "$1" --floor 0.01 \
    --rtol 1e-5
}
for p in param/ buffer/ sgd_momentum/; do echo "  $p $(compare_all $p | head -1)"; done
check "parameters after 3 steps equal within 1e-5" "compare_all param/ >/dev/null"
check "BatchNorm running statistics within 1e-5, num_batches_tracked equal" "compare_all buffer/ >/dev/null"
check "SGD momentum (the gradients of the 3 steps) within 1e-5" "compare_all sgd_momentum/ >/dev/null"
check "each step's loss equal within 1e-6" "same_values '$tmp/one/metrics.jsonl' '$tmp/two/metrics.jsonl' loss 1e-6"
check "each step's gradient norm equal within 1e-5" "same_values '$tmp/one/metrics.jsonl' '$tmp/two/metrics.jsonl' grad_norm 1e-5"

# The control: without SyncBN the ranks' statistics are their own halves'.
"${mpirun2[@]}" "$bin" train --config "$tmp/cfg.json" --set train.batch_size=2 --set model.sync_bn=false \
  --set train.output_dir="$tmp/local" >/dev/null 2>"$tmp/local.err"
check "2 ranks without SyncBN exit 0" "[ $? -eq 0 ]"
echo "  no SyncBN, buffers: $("$compare" "$tmp/one/checkpoint-3.safetensors" "$tmp/local/checkpoint-3.safetensors" --prefix buffer/ --floor 0.01 --rtol 1e-5 | head -1)"
check "... and their running statistics differ beyond the tolerance" \
  "! '$compare' '$tmp/one/checkpoint-3.safetensors' '$tmp/local/checkpoint-3.safetensors' --prefix buffer/ --floor 0.01 --rtol 1e-5 >/dev/null"
[ $fail -eq 0 ] || for f in "$tmp"/*.err; do echo "--- $f"; tail -5 "$f"; done
exit $fail
