#!/usr/bin/env bash
# End to end on the tiny BERT fixture (tests/fixtures/trainer): `downstream train` learns the
# synthetic sentiment set, writes checkpoints, the metrics log and an HF export; and resume is
# bit-exact: 10 steps straight give the same checkpoint file, byte for byte, as 5 steps, stop,
# resume, 5 steps (dropout on, so the data order and the dropout masks must both continue).
source "$(dirname "$0")/lib.sh"

write_tiny_train_config "$tmp/cfg.json"

"$bin" train --config "$tmp/cfg.json" --set train.output_dir="$tmp/straight" >"$tmp/straight.out" 2>"$tmp/straight.err"
check "straight run exits 0" "[ $? -eq 0 ]"
check "straight run prints test metrics" "grep -q '^test (12 examples): test_loss' '$tmp/straight.out'"
check "checkpoints at steps 5 and 10" "[ -s '$tmp/straight/checkpoint-5.safetensors' ] && [ -s '$tmp/straight/checkpoint-10.safetensors' ]"
check "best checkpoint kept" "[ -s '$tmp/straight/checkpoint-best.safetensors' ]"
check "metrics log has 10 training lines and 2 evaluations" \
  "[ \$(grep -c '\"loss\"' '$tmp/straight/metrics.jsonl') -eq 10 ] && [ \$(grep -c eval_accuracy '$tmp/straight/metrics.jsonl') -eq 2 ]"
check "export has config with id2label, weights and vocab" \
  "grep -q id2label '$tmp/straight/model/config.json' && [ -s '$tmp/straight/model/model.safetensors' ] && [ -s '$tmp/straight/model/vocab.txt' ]"
check "exported weights are a valid safetensors file" "'$bin' inspect '$tmp/straight/model/model.safetensors' >/dev/null"

"$bin" train --config "$tmp/cfg.json" --set train.output_dir="$tmp/resumed" --set train.stop_after=5 \
  >"$tmp/first.out" 2>"$tmp/first.err"
check "first half exits 0 at step 5" "[ $? -eq 0 ] && grep -q 'stopped at step 5 of 10' '$tmp/first.out'"
check "no step-10 checkpoint after the first half" "[ ! -e '$tmp/resumed/checkpoint-10.safetensors' ]"
"$bin" train --config "$tmp/cfg.json" --set train.output_dir="$tmp/resumed" --set train.resume=true \
  >"$tmp/second.out" 2>"$tmp/second.err"
check "second half exits 0" "[ $? -eq 0 ]"
check "resume log names step 5" "grep -q 'resumed from .*checkpoint-5.safetensors: step 5' '$tmp/second.err'"
check "checkpoint-10 identical byte for byte (straight vs 5 + resume + 5)" \
  "cmp -s '$tmp/straight/checkpoint-10.safetensors' '$tmp/resumed/checkpoint-10.safetensors'"
check "same test metrics" "[ \"\$(grep '^test' '$tmp/straight.out')\" = \"\$(grep '^test' '$tmp/second.out')\" ]"
check "metrics log of the resumed run equals the straight one but for timings" \
  "diff <(sed 's/\"samples_per_s\": [^,}]*//; s/\"data_wait_ms\": [^,}]*//' '$tmp/straight/metrics.jsonl') <(sed 's/\"samples_per_s\": [^,}]*//; s/\"data_wait_ms\": [^,}]*//' '$tmp/resumed/metrics.jsonl') >/dev/null"

"$bin" train --config "$tmp/cfg.json" --set train.output_dir="$tmp/x" --set data.train="$tmp/missing.csv" \
  >/dev/null 2>"$tmp/missing.err"
check "missing training file: exit 1 naming the file" "[ $? -eq 1 ] && grep -q 'missing.csv' '$tmp/missing.err'"
"$bin" train --config "$tmp/cfg.json" --set train.learning_rate=1 >/dev/null 2>"$tmp/key.err"
check "unknown key: exit 2 with a suggestion" "[ $? -eq 2 ] && grep -q 'train.lr' '$tmp/key.err'"
[ $fail -eq 0 ] || { echo "--- straight.err"; tail -20 "$tmp/straight.err"; echo "--- second.err"; tail -20 "$tmp/second.err"; }
exit $fail
