#!/usr/bin/env bash
# Trainer invariants held by comparing the trainer with itself under changes that must not
# matter (bugs the other tests let through, issue 19):
# - one batch of 2B equals two accumulated micro-batches of B (dropout off, 3 steps): the logged
#   gradient norms within 1e-6 of the run's largest norm and the checkpoint's parameters within 1e-6
#   of each tensor's scale (at least 0.02, as tests/dist: BERT's attention key bias has a gradient
#   that is mathematically zero and moves by float noise alone). The same sums in another grouping
#   differ by fp32 rounding only, relative to the gradients' size: a step whose total gradient
#   nearly cancels (here step 2, norm 6e-4 against 0.4) has a larger relative difference (1e-5) but
#   the same absolute one. A loss scaled by the wrong accumulation factor changes a norm by 2x;
# - a resumed run ignores a different run.seed: 5 steps, stop, resume with --set run.seed=99,
#   5 steps give checkpoint-10 byte-identical to 10 straight steps, with dev/test split from
#   data.train by data.split (a resumed run that re-split by the new seed trains on other data);
# - a stop between evaluations (train.stop_after) does not evaluate: stopping at step 3 of 10
#   (evaluations at 5 and 10) and resuming gives the straight run's best checkpoint and export
#   byte for byte.
source "$(dirname "$0")/lib.sh"

write_tiny_train_config "$tmp/cfg.json"

# ---- 2B x 1 == B x 2 ----------------------------------------------------------------------
common="--set model.dropout=0 --set train.max_steps=3 --set train.eval_every=0 --set train.keep_last=5"
"$bin" train --config "$tmp/cfg.json" $common --set train.batch_size=8 --set train.grad_accum=1 \
  --set train.output_dir="$tmp/big" >/dev/null 2>"$tmp/big.err"
check "2B x 1 run exits 0" "[ $? -eq 0 ]"
"$bin" train --config "$tmp/cfg.json" $common --set train.batch_size=4 --set train.grad_accum=2 \
  --set train.output_dir="$tmp/acc" >/dev/null 2>"$tmp/acc.err"
check "B x 2 run exits 0" "[ $? -eq 0 ]"
norms() { grep -o '"grad_norm": [^,}]*' "$1" | cut -d' ' -f2; }
check "three logged gradient norms each" "[ \$(norms '$tmp/big/metrics.jsonl' | wc -l) -eq 3 ] && [ \$(norms '$tmp/acc/metrics.jsonl' | wc -l) -eq 3 ]"
check "gradient norms equal within 1e-6 of the largest" \
  "paste <(norms '$tmp/big/metrics.jsonl') <(norms '$tmp/acc/metrics.jsonl') | awk '{d=\$1-\$2; if (d<0) d=-d; if (d>w) w=d; if (\$1>m) m=\$1} END {exit !(w <= 1e-6*m)}'"
check "parameters after 3 steps equal within 1e-6" \
  "'$cmp_ckpt' '$tmp/big/checkpoint-3.safetensors' '$tmp/acc/checkpoint-3.safetensors' --floor 0.02 --rtol 1e-6 >/dev/null"

# ---- resume ignores run.seed --------------------------------------------------------------
"$bin" train --config "$tmp/cfg.json" --set train.output_dir="$tmp/straight" >/dev/null 2>&1
check "straight run exits 0" "[ $? -eq 0 ]"
"$bin" train --config "$tmp/cfg.json" --set train.output_dir="$tmp/reseed" --set train.stop_after=5 >/dev/null 2>&1
"$bin" train --config "$tmp/cfg.json" --set train.output_dir="$tmp/reseed" --set train.resume=true \
  --set run.seed=99 >/dev/null 2>"$tmp/reseed.err"
check "resume with another run.seed exits 0" "[ $? -eq 0 ]"
check "the log says run.seed is ignored" "grep -q 'run.seed is ignored' '$tmp/reseed.err'"
check "checkpoint-10 byte-identical to the straight run's" \
  "cmp -s '$tmp/straight/checkpoint-10.safetensors' '$tmp/reseed/checkpoint-10.safetensors'"

# ---- a stop between evaluations does not evaluate -----------------------------------------
"$bin" train --config "$tmp/cfg.json" --set train.output_dir="$tmp/stop3" --set train.stop_after=3 >/dev/null 2>&1
check "no evaluation logged at the stop" "! grep -q eval_accuracy '$tmp/stop3/metrics.jsonl'"
check "a checkpoint at the stop" "[ -s '$tmp/stop3/checkpoint-3.safetensors' ]"
"$bin" train --config "$tmp/cfg.json" --set train.output_dir="$tmp/stop3" --set train.resume=true >/dev/null 2>&1
check "resumed after the stop exits 0" "[ $? -eq 0 ]"
check "best checkpoint byte-identical to the straight run's" \
  "cmp -s '$tmp/straight/checkpoint-best.safetensors' '$tmp/stop3/checkpoint-best.safetensors'"
check "exported model byte-identical to the straight run's" \
  "cmp -s '$tmp/straight/model/model.safetensors' '$tmp/stop3/model/model.safetensors'"
exit $fail
