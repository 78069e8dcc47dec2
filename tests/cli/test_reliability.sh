#!/usr/bin/env bash
# What a run survives (issue 15), on the tiny BERT fixture:
# - preemption: SIGUSR1 in the middle of training ends the run after its step with a checkpoint
#   and exit 0; resuming finishes byte-identical to an uninterrupted run;
# - kill -9 at 20 random moments while a checkpoint is written every step: every time, a resumed
#   run starts from the newest complete checkpoint and says which, and the last trial's resumed run
#   finishes byte-identical to the uninterrupted run;
# - a full disk (a 1 MiB tmpfs; skipped when mounting is not allowed): a clear error naming the
#   file, exit 1, and the previous checkpoint intact (it still loads);
# - a non-finite loss (a learning rate of 1e25 overflows the weights): train.nonfinite=stop exits 1
#   naming the micro-batch; =skip drops the steps, counts them in metrics.jsonl and finishes.
source "$(dirname "$0")/lib.sh"
write_tiny_train_config "$tmp/cfg.json"
every=(--set train.eval_every=1 --set train.keep_last=2 --set run.log_level=info)

"$bin" train --config "$tmp/cfg.json" --set train.output_dir="$tmp/straight" >/dev/null 2>&1
check "uninterrupted run exits 0" "[ $? -eq 0 ]"

# ---- preemption ----------------------------------------------------------------------------
# 600 steps (~2 s), long enough for the signal to land mid-run.
long=(--set train.max_steps=600 --set train.eval_every=300 --set train.log_every=1)
"$bin" train --config "$tmp/cfg.json" --set train.output_dir="$tmp/long" "${long[@]}" >/dev/null 2>&1
"$bin" train --config "$tmp/cfg.json" --set train.output_dir="$tmp/pre" "${long[@]}" >"$tmp/pre.out" 2>"$tmp/pre.err" &
pid=$!
for _ in $(seq 500); do [ -s "$tmp/pre/metrics.jsonl" ] && break; sleep 0.02; done
kill -USR1 $pid
wait $pid
rc=$?
check "SIGUSR1: exit 0 with a checkpoint" "[ $rc -eq 0 ] && grep -q '^preempted (signal 10) after step' '$tmp/pre.out'"
step=$(sed -n 's/^preempted (signal 10) after step \([0-9]*\).*/\1/p' "$tmp/pre.out")
check "the checkpoint of the preempted step exists" "[ -n '$step' ] && [ -s '$tmp/pre/checkpoint-$step.safetensors' ]"
"$bin" train --config "$tmp/cfg.json" --set train.output_dir="$tmp/pre" "${long[@]}" --set train.resume=true \
  >/dev/null 2>&1
check "resumed after preemption: checkpoint-600 byte-identical to the uninterrupted run's" \
  "cmp -s '$tmp/long/checkpoint-600.safetensors' '$tmp/pre/checkpoint-600.safetensors'"

# ---- kill -9 while checkpoints are written -------------------------------------------------
"$bin" train --config "$tmp/cfg.json" --set train.output_dir="$tmp/straight1" "${every[@]}" >/dev/null 2>&1
ok_trials=0
seen=""
for trial in $(seq 20); do
  "$bin" train --config "$tmp/cfg.json" --set train.output_dir="$tmp/k9" --set train.resume=true "${every[@]}" \
    >/dev/null 2>&1 &
  pid=$!
  sleep "0.$(( (RANDOM % 9) + 1 ))"
  kill -9 $pid 2>/dev/null
  wait $pid 2>/dev/null
  newest=$(ls "$tmp/k9" 2>/dev/null | sed -n 's/^checkpoint-\([0-9]*\)\.safetensors$/\1/p' | sort -n | tail -1)
  "$bin" train --config "$tmp/cfg.json" --set train.output_dir="$tmp/k9" --set train.resume=true "${every[@]}" \
    --set train.stop_after=$(( ${newest:-0} + 1 )) >/dev/null 2>"$tmp/k9.err"
  rc=$?
  if [ -z "$newest" ]; then
    # killed before the first checkpoint: a fresh start is right
    [ $rc -eq 0 ] && ! grep -q 'resumed from' "$tmp/k9.err" && ok_trials=$((ok_trials + 1))
  elif [ "$newest" -ge 10 ]; then
    ok_trials=$((ok_trials + 1))  # it had finished: nothing to resume
  else
    [ $rc -eq 0 ] && grep -q "resumed from .*checkpoint-$newest.safetensors: step $newest" "$tmp/k9.err" &&
      ok_trials=$((ok_trials + 1))
  fi
  seen="$seen ${newest:--}"
  [ "${newest:-0}" -ge 9 ] && rm -rf "$tmp/k9"  # start over so that later trials still land mid-run
done
echo "  newest complete checkpoint at each kill:$seen"
check "kill -9 at 20 random moments: each resume started from the newest complete checkpoint ($ok_trials/20)" \
  "[ $ok_trials -eq 20 ]"
"$bin" train --config "$tmp/cfg.json" --set train.output_dir="$tmp/k9" --set train.resume=true "${every[@]}" \
  >/dev/null 2>&1
check "after the kills, the finished run's checkpoint-10 is the uninterrupted run's, byte for byte" \
  "cmp -s '$tmp/straight1/checkpoint-10.safetensors' '$tmp/k9/checkpoint-10.safetensors'"

# ---- a full disk ---------------------------------------------------------------------------
mkdir -p "$tmp/full"
if mount -t tmpfs -o size=1m tmpfs "$tmp/full" 2>/dev/null; then
  # Each checkpoint of the tiny model is ~0.47 MB: the second one does not fit beside the first.
  "$bin" train --config "$tmp/cfg.json" --set train.output_dir="$tmp/full/run" "${every[@]}" --set train.keep_last=5 \
    >/dev/null 2>"$tmp/full.err"
  rc=$?
  check "full disk: exit 1 with a message naming the file" \
    "[ $rc -eq 1 ] && grep -q 'checkpoint-[0-9]*.safetensors.*No space left on device' '$tmp/full.err'"
  first=$(ls "$tmp/full/run" | sed -n 's/^checkpoint-\([0-9]*\)\.safetensors$/\1/p' | sort -n | head -1)
  check "full disk: the previous checkpoint is intact" \
    "[ -n '$first' ] && '$bin' inspect '$tmp/full/run/checkpoint-$first.safetensors' >/dev/null"
  check "full disk: no temporary file left behind" "! ls '$tmp/full/run' | grep -q tmp"
  umount "$tmp/full"
else
  echo "skipped: full disk (mounting a tmpfs is not allowed here)"
fi

# ---- non-finite loss -----------------------------------------------------------------------
huge=(--set train.lr=1e25 --set train.max_grad_norm=0 --set train.warmup_steps=0 --set train.log_every=1)
"$bin" train --config "$tmp/cfg.json" --set train.output_dir="$tmp/nan" "${huge[@]}" >/dev/null 2>"$tmp/nan.err"
rc=$?
check "non-finite, stop: exit 1 naming the micro-batch" \
  "[ $rc -eq 1 ] && grep -q 'the loss of micro-batch [0-9]* of epoch [0-9]* is' '$tmp/nan.err'"
"$bin" train --config "$tmp/cfg.json" --set train.output_dir="$tmp/skip" "${huge[@]}" --set train.nonfinite=skip \
  >"$tmp/skip.out" 2>/dev/null
rc=$?
check "non-finite, skip: exit 0, the skipped steps counted" \
  "[ $rc -eq 0 ] && grep -q 'steps were skipped' '$tmp/skip.out' && grep -q '\"skipped_steps\": [1-9]' '$tmp/skip/metrics.jsonl'"
exit $fail
