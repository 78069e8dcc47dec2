#!/usr/bin/env bash
# BERT users must see exactly what they saw before the task seam (issue 11): a 10-step run of the
# tiny config (dropout on, accumulation 2 on the second run), and `predict` over the export, give
# files byte-identical to those recorded BEFORE the refactor in
# tests/fixtures/regression/bert_before_seam.sha256 (a regression record of this project's own
# output, not golden data: correctness is held by the PyTorch parity tests). Paths inside the
# checkpoint's metadata are relative (the run starts in a scratch folder holding copies of the
# fixtures), so the record does not depend on where the repository is checked out.
# Regenerate only for an intended change of BERT's bytes: DS_RECORD=1 bash this <bin> <src>.
source "$(dirname "$0")/lib.sh"

bin=$(realpath "$bin"); src=$(realpath "$src")
record="$src/tests/fixtures/regression/bert_before_seam.sha256"
cp -r "$src/tests/fixtures/trainer/tiny_bert" "$tmp/tiny_bert"
cp "$src/tests/fixtures/trainer/sentiment.csv" "$tmp/sentiment.csv"
cd "$tmp" || exit 1
cat >cfg.json <<JSON
{
  "run": {"seed": 3, "threads": 2},
  "model": {"path": "tiny_bert", "max_length": 24},
  "data": {"train": "sentiment.csv", "split": "0.75,0.125,0.125", "stratified": true},
  "train": {"batch_size": 8, "max_steps": 10, "eval_every": 5, "lr": 3e-3, "warmup_steps": 2, "keep_last": 3,
            "log_every": 1}
}
JSON
"$bin" train --config cfg.json --set train.output_dir=run >run.out 2>run.err
check "10-step run exits 0" "[ $? -eq 0 ]"
"$bin" train --config cfg.json --set train.output_dir=acc --set train.grad_accum=2 --set train.batch_size=4 \
  >acc.out 2>acc.err
check "accumulated run exits 0" "[ $? -eq 0 ]"
cut -d, -f1 sentiment.csv | tail -n +2 | head -40 >texts.txt
"$bin" predict --model run/model --input texts.txt --output predict.jsonl 2>predict.err
check "predict exits 0" "[ $? -eq 0 ]"
# The metrics log minus its timings (samples_per_s, data_wait_ms vary run to run).
sed 's/"samples_per_s": [^,}]*//; s/"data_wait_ms": [^,}]*//' run/metrics.jsonl >metrics.notime
files="run/checkpoint-10.safetensors run/checkpoint-5.safetensors run/checkpoint-best.safetensors
       run/model/model.safetensors run/model/config.json acc/checkpoint-10.safetensors predict.jsonl metrics.notime"
sha256sum $files >now.sha256
if [ "${DS_RECORD:-0}" = 1 ]; then
  cp now.sha256 "$record"
  echo "recorded $record"
fi
check "every file byte-identical to the record made before the task seam" "diff '$record' now.sha256"
exit $fail
