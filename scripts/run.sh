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
#   bash scripts/run.sh speech [ARGS...]        speech: builds the spoken-digits demo set from Debian
#                                               packages (scripts/make_speech_demo.sh) into
#                                               data_cache/speech, trains a small Wav2Vec2ForCTC from
#                                               scratch (configs/speech_demo.json), evaluates it on the
#                                               held-out recordings (WER, CER, transcripts beside their
#                                               references) and transcribes them with `predict`
# Extra arguments go to `downstream train` (e.g. --set train.epochs=1).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
task=text
if [ "${1:-}" = segmentation ] || [ "${1:-}" = speech ]; then
  task=$1
  shift
fi
bash scripts/setup_deps.sh
bash scripts/build.sh
if [ "$task" = text ]; then
  bash scripts/fetch_data.sh
  exec build/downstream train --config configs/polarity_minilm.json "$@"
fi

# OpenMP threads that wait by sleeping rather than spinning: on a machine shared with other jobs a
# spinning thread burns the core its partner needs (measured here: 3-10x slower steps). Not for
# segmentation: its many small convolutions make the threads wait often, and sleeping then halves
# the speed on free cores (63 against 115 images/s); downstream's own default spin (GOMP_SPINCOUNT
# 20000, runtime/cli/blas_fastpath.c) applies there.
if [ "$task" != segmentation ]; then export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}; fi
if [ "$task" = speech ]; then
  data=${DS_DATA_DIR:-$root/data_cache}/speech
  out=runs/speech-demo
  bash scripts/make_speech_demo.sh
  start=$(date +%s)
  build/downstream train --config configs/speech_demo.json --set data.train="$data/train.csv" \
    --set data.dev="$data/dev.csv" --set data.test="$data/test.csv" --set train.output_dir="$out" "$@"
  trained=$(date +%s)
  echo
  echo "== evaluation of $out/model on the held-out recordings (never seen in training)"
  build/downstream eval --config configs/speech_demo.json --set data.train="" --set data.dev="" \
    --set data.test="$data/test.csv" --set model.path="$out/model" --quiet
  head -n 13 "$data/test.csv" | tail -n 12 | cut -d, -f1 | sed "s|^|$data/|" >"$out/heldout.txt"
  mkdir -p "$out/heldout"
  while read -r f; do cp "$f" "$out/heldout/"; done <"$out/heldout.txt"
  build/downstream predict --model "$out/model" --input "$out/heldout" --output "$out/predictions.jsonl" --quiet
  echo
  echo "training took $((trained - start)) s; transcripts of 12 held-out recordings: $out/predictions.jsonl"
  cat "$out/predictions.jsonl"
  exit 0
fi

# ---- segmentation --------------------------------------------------------------------------------
data=${DS_DATA_DIR:-$root/data_cache}/seg_demo
out=runs/segmentation-demo
began=$(date +%s)
bash scripts/make_seg_demo.sh "$data"
start=$(date +%s)
build/downstream train --config configs/segmentation_demo.json --set data.voc_root="$data" \
  --set train.output_dir="$out" "$@"
trained=$(date +%s)
echo
echo "== evaluation of $out/model: dev chose the checkpoint; test (the val images) is the held-out figure,"
echo "   never seen in training or in choosing the checkpoint"
build/downstream eval --config configs/segmentation_demo.json --set data.voc_root="$data" \
  --set model.path="$out/model" --quiet
# The held-out photos' masks and overlays, for a person to look at.
mkdir -p "$out/heldout"
head -n 24 "$data/ImageSets/Segmentation/val.txt" | sed "s|^|$data/JPEGImages/|; s|$|.jpg|" >"$out/heldout/list.txt"
build/downstream predict --model "$out/model" --input "$out/heldout/list.txt" --output "$out/predictions" --overlay --quiet
echo
echo "data $((start - began)) s, training $((trained - start)) s, in all $(($(date +%s) - began)) s;" \
  "masks and overlays of 24 held-out images: $out/predictions/"
echo "(<id>.png: the mask in VOC colours; <id>_overlay.png: the mask over the photo; predictions.jsonl: class shares)"
