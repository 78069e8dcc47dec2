#!/usr/bin/env bash
# The README's main-job commands: install what is missing, build, fetch the real data, train on the
# CPU backend and report.
#   bash scripts/run.sh [ARGS...]               text: fine-tunes all-MiniLM-L6-v2 on the
#                                               sentence-polarity movie reviews
#                                               (configs/polarity_minilm.json), printing dev and
#                                               test accuracy at the end
#   bash scripts/run.sh segmentation [ARGS...]  segmentation: builds the demo set (Fashion-MNIST
#                                               items on photos, scripts/make_seg_demo.sh) into
#                                               data_cache/seg_demo, trains a narrow DeepLabV3 from
#                                               scratch (configs/segmentation_demo.json), evaluates
#                                               it (mIoU, per-class IoU, confusion matrix) and writes
#                                               masks and overlays of the held-out images into
#                                               runs/segmentation-demo/predictions/
# Extra arguments go to `downstream train` (e.g. --set train.epochs=1).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
task=text
if [ "${1:-}" = segmentation ]; then
  task=segmentation
  shift
fi
bash scripts/setup_deps.sh
bash scripts/build.sh
if [ "$task" = text ]; then
  bash scripts/fetch_data.sh
  exec build/downstream train --config configs/polarity_minilm.json "$@"
fi

# ---- segmentation --------------------------------------------------------------------------------
# OpenMP threads that wait by sleeping rather than spinning: on a machine shared with other jobs a
# spinning thread burns the core its partner needs (measured here: 3-10x slower steps).
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
data=${DS_DATA_DIR:-$root/data_cache}/seg_demo
out=runs/segmentation-demo
bash scripts/make_seg_demo.sh "$data"
start=$(date +%s)
build/downstream train --config configs/segmentation_demo.json --set data.voc_root="$data" \
  --set train.output_dir="$out" "$@"
trained=$(date +%s)
echo
echo "== evaluation of $out/model on the held-out images (never seen in training)"
build/downstream eval --config configs/segmentation_demo.json --set data.voc_root="$data" \
  --set model.path="$out/model" --quiet
# The held-out photos' masks and overlays, for a person to look at.
mkdir -p "$out/heldout"
head -n 24 "$data/ImageSets/Segmentation/val.txt" | sed "s|^|$data/JPEGImages/|; s|$|.jpg|" >"$out/heldout/list.txt"
build/downstream predict --model "$out/model" --input "$out/heldout/list.txt" --output "$out/predictions" --overlay --quiet
echo
echo "training took $((trained - start)) s; masks and overlays of 24 held-out images: $out/predictions/"
echo "(<id>.png: the mask in VOC colours; <id>_overlay.png: the mask over the photo; predictions.jsonl: class shares)"
