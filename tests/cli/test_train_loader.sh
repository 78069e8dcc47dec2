#!/usr/bin/env bash
# The training data loader end to end on the tiny BERT fixture (tests/fixtures/trainer): the
# trained checkpoint is the same byte for byte whether batches are made in the training thread
# (data.num_workers=0) or by 2 or 3 worker threads (with a ring of 1 or 4 slots), with and without
# data.group_by_length; a grouped run with 2 workers stopped at step 5 and resumed mid-epoch ends
# byte-identical to a straight one; grouping changes the batches (so the result), logs the padding
# it saves; the metrics log carries data_wait_ms.
# usage: test_train_loader.sh path/to/downstream source-dir
source "$(dirname "$0")/lib.sh"

write_tiny_train_config "$tmp/cfg.json"
run() {  # run NAME --set ... : trains into $tmp/NAME
  local name=$1
  shift
  "$bin" train --config "$tmp/cfg.json" --set train.output_dir="$tmp/$name" "$@" >"$tmp/$name.out" 2>"$tmp/$name.err"
}
same() { cmp -s "$tmp/$1/checkpoint-10.safetensors" "$tmp/$2/checkpoint-10.safetensors"; }

run w0 --set data.num_workers=0
check "0 workers: exits 0" "[ $? -eq 0 ]"
run w2 --set data.num_workers=2
check "2 workers: exits 0" "[ $? -eq 0 ]"
run w3 --set data.num_workers=3 --set data.prefetch_batches=1
check "3 workers, 1 slot: exits 0" "[ $? -eq 0 ]"
check "checkpoint-10: 0 workers = 2 workers, byte for byte" "same w0 w2"
check "checkpoint-10: 0 workers = 3 workers with 1 slot, byte for byte" "same w0 w3"
check "metrics log has data_wait_ms on each of the 10 training lines" \
  "[ \$(grep -c '\"data_wait_ms\": [0-9]' '$tmp/w2/metrics.jsonl') -eq 10 ]"
check "the end of training reports the data wait" "grep -q 'data: waited .* for 10 batches' '$tmp/w2.err'"

run g0 --set data.group_by_length=true --set data.num_workers=0
check "grouped, 0 workers: exits 0" "[ $? -eq 0 ]"
run g2 --set data.group_by_length=true --set data.num_workers=2
check "grouped, 2 workers: exits 0" "[ $? -eq 0 ]"
check "grouped: 0 workers = 2 workers, byte for byte" "same g0 g2"
check "grouping logs the padding it saves" "grep -q 'data.group_by_length: .* less to compute' '$tmp/g2.err'"
check "grouping changes the batches, so the trained weights" "! same w2 g2"

run gr --set data.group_by_length=true --set data.num_workers=2 --set train.stop_after=5
check "grouped first half exits 0 at step 5" "[ $? -eq 0 ] && grep -q 'stopped at step 5 of 10' '$tmp/gr.out'"
run gr --set data.group_by_length=true --set data.num_workers=2 --set train.resume=true
check "grouped second half exits 0" "[ $? -eq 0 ] && grep -q 'resumed from .*checkpoint-5.safetensors: step 5' '$tmp/gr.err'"
check "grouped, 2 workers: straight = 5 + resume + 5, byte for byte" "same g2 gr"

[ $fail -eq 0 ] || { for f in w2 g2 gr; do echo "--- $f.err"; tail -15 "$tmp/$f.err"; done; }
exit $fail
