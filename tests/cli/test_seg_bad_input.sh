#!/usr/bin/env bash
# What a user can get wrong with the segmentation family, each a clear error naming the file, a
# non-zero exit (an error status, not a signal) and no crash: corrupt or truncated JPEG/PNG photos
# (tests/fixtures/images/bad), a mask of another size than its photo, a class id >= K, an RGB PNG
# as a mask, a truncated .pth, a pickle naming a forbidden global (tests/fixtures/pth), a
# checkpoint with the wrong backbone (ResNet-18's BasicBlocks), a depth that differs from the
# checkpoint's, a directory of another model family, and predict's inputs (a truncated image, a
# missing file, a list naming a missing file). And what is converted rather than refused
# (docs/image_data.md): 16-bit, RGBA, gray and gray+alpha PNG photos train and predict.
source "$(dirname "$0")/lib.sh"
voc=$src/tests/fixtures/images/voc
bad=$src/tests/fixtures/images/bad
dec=$src/tests/fixtures/images/decode
fix=$src/tests/fixtures/segmentation

cat >"$tmp/cfg.json" <<JSON
{
  "task": {"type": "segmentation"},
  "run": {"seed": 1, "threads": 2, "device": "cpu"},
  "model": {"width": 4},
  "data": {"voc_root": "$voc", "train_split": "train", "dev_split": "val", "base_size": 40, "crop_size": 32,
           "num_workers": 1},
  "train": {"optimizer": "sgd", "lr": 0.01, "batch_size": 2, "max_steps": 2, "eval_every": 2, "warmup_ratio": 0,
            "output_dir": "$tmp/run"}
}
JSON

# expect_fail NAME PATTERN COMMAND...: non-zero exit below 128, the error line ("downstream CMD: ...")
# contains PATTERN, no crash text.
expect_fail() {
  local name=$1 pattern=$2
  shift 2
  "$@" >"$tmp/out" 2>"$tmp/err"
  local rc=$?
  grep -E '^downstream [a-z]+: ' "$tmp/err" >"$tmp/errline"
  if [ $rc -ne 0 ] && [ $rc -lt 128 ] && grep -qF -- "$pattern" "$tmp/errline" &&
     ! grep -qiE 'segmentation fault|core dumped|assert|sanitizer' "$tmp/err"; then
    echo "ok   $name (exit $rc): $(head -1 "$tmp/errline" | cut -c1-220)"
  else
    echo "FAIL: $name: exit $rc, wanted '$pattern' in:"
    tail -3 "$tmp/err"
    fail=1
  fi
}
train() { "$bin" train --config "$tmp/cfg.json" "$@"; }
pairs() {  # list file, then image:mask pairs
  local f=$1
  shift
  echo "image,mask" >"$f"
  for p in "$@"; do echo "${p%%:*},${p#*:}" >>"$f"; done
}

# ---- photos and masks ------------------------------------------------------------------------
for b in truncated.jpg garbage.jpg bad_dht.jpg truncated.png bad_zlib.png not_an_image.png; do
  pairs "$tmp/$b.csv" "$bad/$b:$voc/SegmentationClass/a.png" "$voc/JPEGImages/b.jpg:$voc/SegmentationClass/b.png"
  expect_fail "a corrupt photo $b" "$bad/$b" train --set data.voc_root= --set data.train="$tmp/$b.csv" \
    --set data.dev="$tmp/$b.csv" --set data.class_names="$voc/class_names.txt"
done
good="$voc/JPEGImages/a.jpg:$voc/SegmentationClass/a.png"
pairs "$tmp/mismatch.csv" "$good" "$voc/JPEGImages/d.jpg:$voc/SegmentationClass/d.png"
list=(--set data.voc_root= --set data.class_names="$voc/class_names.txt")
expect_fail "a mask of another size than its photo" "$voc/SegmentationClass/d.png" \
  train "${list[@]}" --set data.train="$tmp/mismatch.csv" --set data.dev="$tmp/mismatch.csv"
pairs "$tmp/bad_class.csv" "$good" "$voc/JPEGImages/e.jpg:$voc/SegmentationClass/e.png"
expect_fail "a class id >= K" "$voc/SegmentationClass/e.png" \
  train "${list[@]}" --set data.train="$tmp/bad_class.csv" --set data.dev="$tmp/bad_class.csv"
pairs "$tmp/rgbmask.csv" "$dec/rgb8.png:$dec/rgb8.png" "$dec/gray8.png:$dec/gray1.png"
expect_fail "an RGB PNG as a mask" "$dec/rgb8.png" train --set data.voc_root= --set data.train="$tmp/rgbmask.csv" \
  --set data.dev="$tmp/rgbmask.csv" --set data.num_classes=2

# 16-bit, RGBA, gray and gray+alpha photos are converted (gray1.png: a 1-bit mask of ids 0/1).
conv=()
for p in gray16.png rgba8.png rgba16_interlaced.png graya8.png graya16.png gray8.png rgb16.png palette8.png; do
  conv+=("$dec/$p:$dec/gray1.png")
done
pairs "$tmp/converted.csv" "${conv[@]}"
train --set data.voc_root= --set data.train="$tmp/converted.csv" --set data.dev="$tmp/converted.csv" \
  --set data.num_classes=2 --set data.base_size=13 --set data.crop_size=12 --set train.output_dir="$tmp/conv" \
  >/dev/null 2>"$tmp/conv.err"
check "16-bit, RGBA, gray, gray+alpha and palette photos train (converted to RGB)" "[ $? -eq 0 ]"
mkdir -p "$tmp/conv_in"
for p in gray16.png rgba16_interlaced.png graya8.png; do cp "$dec/$p" "$tmp/conv_in/"; done
"$bin" predict --model "$tmp/conv/model" --input "$tmp/conv_in" --output "$tmp/conv_pred" >/dev/null 2>&1
check "... and predict" "[ $? -eq 0 ] && [ \$(wc -l <'$tmp/conv_pred/predictions.jsonl') -eq 3 ]"

# ---- checkpoints -----------------------------------------------------------------------------
head -c 100000 "$fix/deeplab_w2_k5.pth" >"$tmp/truncated.pth"
# The loss comes down once per step (forward_train): a non-finite one still stops the run before
# the update, naming its micro-batch.
expect_fail "a non-finite loss (lr 1e25), 2 micro-batches a step" "the loss of micro-batch 0 of epoch 1 is" \
  train --set train.lr=1e25 --set train.max_grad_norm=0 --set train.grad_accum=2 --set train.max_steps=6
expect_fail "a training scale range upside down" "min_scale <= max_scale" \
  train --set data.min_scale=1.5 --set data.max_scale=1.0
expect_fail "a truncated .pth" "$tmp/truncated.pth" train --set model.path="$tmp/truncated.pth"
for f in "$src"/tests/fixtures/pth/forbidden_*.pth; do
  expect_fail "a pickle naming a forbidden global ($(basename "$f"))" "$f" train --set model.path="$f"
done
expect_fail "a ResNet-18 (BasicBlock) checkpoint" "BasicBlocks" train --set model.path="$fix/resnet18_w2.safetensors"
expect_fail "... naming the file" "$fix/resnet18_w2.safetensors" train --set model.path="$fix/resnet18_w2.safetensors"
expect_fail "model.depth 101 on a ResNet-50 checkpoint" "$fix/deeplab_w2_k5.pth holds a ResNet-50 backbone" \
  train --set model.path="$fix/deeplab_w2_k5.pth" --set model.depth=101
expect_fail "a BERT directory as a segmentation model" "not deeplabv3" \
  train --set model.path="$src/tests/fixtures/trainer/tiny_bert"
expect_fail "eval of a backbone-only checkpoint" "without a segmentation head" \
  "$bin" eval --config "$tmp/cfg.json" --set model.path="$fix/resnet50_w2.pth"

# ---- predict's inputs --------------------------------------------------------------------------
model=$fix/deeplab_w2_k5.pth
expect_fail "predict on a truncated JPEG" "$bad/truncated.jpg" \
  "$bin" predict --set task.type=segmentation --model "$model" --input "$bad/truncated.jpg" --output "$tmp/p1"
expect_fail "predict on a missing file" "$tmp/nothing.jpg" \
  "$bin" predict --set task.type=segmentation --model "$model" --input "$tmp/nothing.jpg" --output "$tmp/p2"
printf '%s\n%s\n' "$voc/JPEGImages/a.jpg" "$tmp/gone.jpg" >"$tmp/list.txt"
expect_fail "predict on a list naming a missing file" "$tmp/gone.jpg" \
  "$bin" predict --set task.type=segmentation --model "$model" --input "$tmp/list.txt" --output "$tmp/p3"
expect_fail "predict with a truncated model" "$tmp/truncated.pth" \
  "$bin" predict --set task.type=segmentation --model "$tmp/truncated.pth" --input "$voc/JPEGImages/a.jpg" \
  --output "$tmp/p4"
exit $fail
