#!/usr/bin/env bash
# The segmentation family end to end on the tiny VOC fixture photos (tests/fixtures/images/voc:
# a 64x48, b 40x40, c 50x36, 5 classes) through list files in the test's folder, with a narrow
# DeepLabV3 (width 4) on 32-pixel crops, and the trainer's invariants for this family (issue 19):
# - resume is bit-exact: 5 steps, stop, resume, 5 more give checkpoint-10 byte-identical to 10
#   straight steps (parameters, SGD momentum and the BatchNorm buffers), with augmentation
#   (random resize, flip, crop) and dropout on, across an epoch boundary; likewise when the resumed
#   run is given another run.seed (ignored: the checkpoint's seeds key the augmentation and the
#   dropout masks), with explicit dev lists (no data.split) and with dev/test cut from data.train by
#   data.split (a re-split by the new seed would train on other examples);
# - evaluation does not depend on the batch size (torchvision evaluates one image at a time at its
#   own size; padded batches run each image alone): the per-class IoU table and the confusion matrix
#   of `downstream eval` are identical with train.batch_size 1 and 3, and a training checkpoint
#   (checkpoint-best.safetensors) evaluates as the export made from it;
# - predict on the export: masks at each input's size, overlays, predictions.jsonl, logits;
#   the family is recognised from the model; torchvision's own logits for its checkpoint
#   (tests/fixtures/segmentation/deeplab_w2_k5*.{pth,safetensors}, scripts/fixtures/seg_checkpoints.py)
#   are reproduced within 1e-5;
# - model.path: a torchvision ResNet-50 classifier (backbone only) and a DeepLabV3 of another class
#   count fine-tune, saying what they did; bench prints its JSON.
source "$(dirname "$0")/lib.sh"
voc=$src/tests/fixtures/images/voc
fix=$src/tests/fixtures/segmentation

list() {  # file, then ids of the VOC fixture
  local f=$1
  shift
  echo "image,mask" >"$f"
  for id in "$@"; do echo "$voc/JPEGImages/$id.jpg,$voc/SegmentationClass/$id.png" >>"$f"; done
}
list "$tmp/train.csv" a b c a b c a b
list "$tmp/dev.csv" c a b
list "$tmp/all.csv" a b c a b c a b c a b c
cat >"$tmp/cfg.json" <<JSON
{
  "task": {"type": "segmentation"},
  "run": {"seed": 3, "threads": 2, "device": "cpu"},
  "model": {"width": 4},
  "data": {"train": "$tmp/train.csv", "dev": "$tmp/dev.csv", "class_names": "$voc/class_names.txt",
           "base_size": 40, "crop_size": 32, "num_workers": 1},
  "train": {"optimizer": "sgd", "lr": 0.01, "schedule": "poly", "warmup_ratio": 0, "max_grad_norm": 0,
            "weight_decay": 1e-4, "batch_size": 2, "max_steps": 10, "eval_every": 5, "log_every": 1, "keep_last": 3}
}
JSON
train() { "$bin" train --config "$tmp/cfg.json" "$@"; }

# ---- straight, resumed, resumed with another seed ---------------------------------------------
train --set train.output_dir="$tmp/straight" >"$tmp/straight.out" 2>"$tmp/straight.err"
check "10 straight steps exit 0" "[ $? -eq 0 ]"
check "dev evaluations log eval_miou and eval_pixel_accuracy" \
  "[ \$(grep -c '\"eval_miou\"' '$tmp/straight/metrics.jsonl') -eq 2 ] && grep -q eval_pixel_accuracy '$tmp/straight/metrics.jsonl'"
check "the checkpoint holds the BatchNorm buffers and the SGD momentum" \
  "grep -aq 'buffer/backbone.bn1.running_var' '$tmp/straight/checkpoint-10.safetensors' && grep -aq 'sgd_momentum' '$tmp/straight/checkpoint-10.safetensors'"
check "the export has model.safetensors, config.json, class_names.txt" \
  "[ -s '$tmp/straight/model/model.safetensors' ] && grep -q '\"deeplabv3\"' '$tmp/straight/model/config.json' && [ \"\$(head -1 '$tmp/straight/model/class_names.txt')\" = background ]"
train --set train.output_dir="$tmp/resumed" --set train.stop_after=5 >/dev/null 2>&1
train --set train.output_dir="$tmp/resumed" --set train.resume=true >/dev/null 2>"$tmp/resumed.err"
check "5 + resume + 5 exits 0" "[ $? -eq 0 ]"
check "checkpoint-10 after a resume byte-identical to the straight run's" \
  "cmp -s '$tmp/straight/checkpoint-10.safetensors' '$tmp/resumed/checkpoint-10.safetensors'"
train --set train.output_dir="$tmp/reseed" --set train.stop_after=5 >/dev/null 2>&1
train --set train.output_dir="$tmp/reseed" --set train.resume=true --set run.seed=99 >/dev/null 2>"$tmp/reseed.err"
check "resume with run.seed=99 exits 0 and says the seed is ignored" "[ $? -eq 0 ] && grep -q 'run.seed is ignored' '$tmp/reseed.err'"
check "... and its checkpoint-10 is byte-identical to the straight run's" \
  "cmp -s '$tmp/straight/checkpoint-10.safetensors' '$tmp/reseed/checkpoint-10.safetensors'"
check "... as is the exported model" "cmp -s '$tmp/straight/model/model.safetensors' '$tmp/reseed/model/model.safetensors'"
train --set train.output_dir="$tmp/other_seed" --set run.seed=99 >/dev/null 2>&1
check "a fresh run with run.seed=99 differs (the check can fail)" \
  "! cmp -s '$tmp/straight/checkpoint-10.safetensors' '$tmp/other_seed/checkpoint-10.safetensors'"

# ---- dev/test cut from data.train by data.split ------------------------------------------------
split=(--set data.train="$tmp/all.csv" --set data.dev= --set data.split=0.5,0.25,0.25)
train "${split[@]}" --set train.output_dir="$tmp/split" >/dev/null 2>"$tmp/split.err"
check "data.split run exits 0 and splits by seed 3 into 6/3/3" \
  "[ $? -eq 0 ] && grep -q 'by seed 3 into train/dev/test = 6/3/3' '$tmp/split.err'"
train "${split[@]}" --set train.output_dir="$tmp/split_re" --set train.stop_after=5 >/dev/null 2>&1
train "${split[@]}" --set train.output_dir="$tmp/split_re" --set train.resume=true --set run.seed=99 \
  >/dev/null 2>"$tmp/split_re.err"
check "resumed with run.seed=99: split by the checkpoint's seed 3" "grep -q 'by seed 3 into' '$tmp/split_re.err'"
check "... checkpoint-10 byte-identical" "cmp -s '$tmp/split/checkpoint-10.safetensors' '$tmp/split_re/checkpoint-10.safetensors'"

# ---- evaluation ------------------------------------------------------------------------------
"$bin" eval --config "$tmp/cfg.json" --set model.path="$tmp/straight/model" --set train.batch_size=1 >"$tmp/eval1.out" 2>&1
check "eval exits 0" "[ $? -eq 0 ]"
check "eval prints per-class IoU with class names and the confusion matrix" \
  "grep -q '^  stripes ' '$tmp/eval1.out' && grep -q 'confusion matrix' '$tmp/eval1.out' && grep -q 'eval_miou' '$tmp/eval1.out'"
"$bin" eval --config "$tmp/cfg.json" --set model.path="$tmp/straight/model" --set train.batch_size=3 >"$tmp/eval3.out" 2>&1
check "batch 3 (padded batches) gives the same table, matrix and metrics as batch 1" \
  "diff <(sed -n '/^dev (/,\$p' '$tmp/eval1.out' | sed 's/eval_loss [0-9.]* //') <(sed -n '/^dev (/,\$p' '$tmp/eval3.out' | sed 's/eval_loss [0-9.]* //')"

"$bin" eval --config "$tmp/cfg.json" --set model.path="$tmp/straight/checkpoint-best.safetensors" >"$tmp/evalck.out" 2>&1
check "eval of checkpoint-best.safetensors (a training checkpoint) reports what the export does" \
  "[ $? -eq 0 ] && diff <(sed -n '/^dev (/,\$p' '$tmp/eval1.out') <(sed -n '/^dev (/,\$p' '$tmp/evalck.out')"

# ---- predict ----------------------------------------------------------------------------------
mkdir -p "$tmp/photos"
cp "$voc/JPEGImages/a.jpg" "$voc/JPEGImages/c.jpg" "$tmp/photos/"
"$bin" predict --model "$tmp/straight/model" --input "$tmp/photos" --output "$tmp/pred" --overlay --save-logits \
  >/dev/null 2>"$tmp/pred.err"
check "predict (family recognised from the export) exits 0" "[ $? -eq 0 ]"
png_size() { od -An -j16 -N8 -tu1 "$1" | awk '{print $3*256+$4 "x" $7*256+$8}'; }  # IHDR width x height
check "masks at each input's size: a 64x48, c 50x36" \
  "[ \"\$(png_size '$tmp/pred/a.png')\" = 64x48 ] && [ \"\$(png_size '$tmp/pred/c.png')\" = 50x36 ]"
check "overlays and logits written" "[ -s '$tmp/pred/a_overlay.png' ] && [ -s '$tmp/pred/c.safetensors' ]"
check "predictions.jsonl: one line per image with class fractions" \
  "[ \$(wc -l <'$tmp/pred/predictions.jsonl') -eq 2 ] && grep -q '\"classes\": {\"' '$tmp/pred/predictions.jsonl'"
"$bin" predict --model "$tmp/straight/model" --input "$voc/JPEGImages/b.jpg" --output "$tmp/pred_r" --resize 24 \
  >/dev/null 2>&1
check "--resize 24: the mask is still the input's 40x40" "[ \"\$(png_size '$tmp/pred_r/b.png')\" = 40x40 ]"
"$bin" predict --model "$fix/deeplab_w2_k5.pth" --input "$voc/JPEGImages/a.jpg" --output "$tmp/pred_tv" --save-logits \
  >/dev/null 2>"$tmp/pred_tv.err"
check "predict with a bare torchvision .pth exits 0, classes named class_0.." \
  "[ $? -eq 0 ] && grep -q '\"class_' '$tmp/pred_tv/predictions.jsonl'"
# Tolerance: both sides fp32 from the same weights, differing in summation order only (~1e-6 of
# the largest logit measured); 1e-5 leaves a margin while a wrong tensor or layer is >= 1e-2.
echo "  $("$cmp_ckpt" "$fix/deeplab_w2_k5_logits.safetensors" "$tmp/pred_tv/a.safetensors" --prefix '' --rtol 1e-5)"
check "... its out and aux logits equal torchvision's within 1e-5" \
  "'$cmp_ckpt' '$fix/deeplab_w2_k5_logits.safetensors' '$tmp/pred_tv/a.safetensors' --prefix '' --rtol 1e-5 >/dev/null"

# ---- model.path: a backbone, another class count -------------------------------------------------
train --set model.path="$fix/resnet50_w2.pth" --set model.width=2 --set train.max_steps=2 \
  --set train.output_dir="$tmp/backbone" >/dev/null 2>"$tmp/backbone.err"
check "a ResNet-50 classifier checkpoint fine-tunes as the backbone" \
  "[ $? -eq 0 ] && grep -q 'its backbone loaded into backbone.\*, fc.\* ignored' '$tmp/backbone.err'"
train --set model.path="$fix/deeplab_w2_k5.pth" --set model.width=2 --set data.class_names=a,b,c,d,e,f \
  --set train.max_steps=2 --set train.output_dir="$tmp/k6" >/dev/null 2>"$tmp/k6.err"
check "a 5-class DeepLabV3 fine-tunes on 6 classes, classifier.4 re-initialised" \
  "[ $? -eq 0 ] && grep -q 'has 5 classes, the data 6: classifier.4 and aux_classifier.4 re-initialised' '$tmp/k6.err'"

# ---- bench and help ------------------------------------------------------------------------------
"$bin" bench --set task.type=segmentation --set bench.width=4 --set bench.image_size=32 --set bench.repeats=2 \
  --set bench.warmup=0 --set bench.gemm_check=false --set run.threads=2 >"$tmp/bench.out" 2>/dev/null
check "bench prints one JSON object with the step time, throughput and memory" \
  "[ $? -eq 0 ] && [ \$(wc -l <'$tmp/bench.out') -eq 1 ] && grep -q '\"samples_per_s\": [0-9]' '$tmp/bench.out' && grep -q '\"peak_mem_bytes\": [1-9]' '$tmp/bench.out' && grep -q '\"batch\": 2, \"image_size\": 32' '$tmp/bench.out'"
check "help config lists the segmentation keys" "'$bin' help config | grep -q '^data.voc_root'"
[ $fail -eq 0 ] || for f in "$tmp"/*.err; do echo "--- $f"; tail -3 "$f"; done
exit $fail
