#!/usr/bin/env bash
# Sweeps (runtime/config/sweep.h): a grid of 2 x 2 points, each run chosen by SLURM_ARRAY_TASK_ID
# (as a Slurm job array sets it) or --sweep-index, lands in <output>/sweep-<i>/ with its
# sweep_point.json, gets the point's values (the printed config says so), and `downstream
# sweep-summary` lists every run best first; a runs list works the same; an index past the end and
# a malformed file are clear errors.
source "$(dirname "$0")/lib.sh"
write_tiny_train_config "$tmp/cfg.json"
cat >"$tmp/grid.json" <<'JSON'
{"grid": {"train.lr": [0.003, 0.0001], "train.batch_size": [8, 4]}}
JSON
for i in 0 1 2 3; do
  SLURM_ARRAY_TASK_ID=$i "$bin" train --config "$tmp/cfg.json" --sweep "$tmp/grid.json" --set train.max_steps=4 \
    --set train.eval_every=2 --set train.output_dir="$tmp/sw" >"$tmp/sw$i.out" 2>"$tmp/sw$i.err"
  check "grid point $i exits 0" "[ $? -eq 0 ]"
done
check "point 3 is (lr 0.0001, batch 4): the last key varies fastest" \
  "grep -q '\"index\":3' '$tmp/sw/sweep-3/sweep_point.json' && grep -q '\"train.lr\":0.0001' '$tmp/sw/sweep-3/sweep_point.json' && grep -q '\"train.batch_size\":4' '$tmp/sw/sweep-3/sweep_point.json'"
check "the printed config shows the point's batch size" "grep -q '\"batch_size\": 4' '$tmp/sw3.err'"
"$bin" sweep-summary "$tmp/sw" >"$tmp/summary.txt"
check "sweep-summary lists the 4 runs" "[ \$(grep -c 'sweep-[0-3]\$' '$tmp/summary.txt') -eq 4 ]"
check "sweep-summary: every run finished, with its best metric and values" \
  "[ \$(grep -c 'eval_accuracy .* finished .*train.lr=' '$tmp/summary.txt') -eq 4 ]"
best=$(sed -n 2p "$tmp/summary.txt" | awk '{print $3}')
check "sweep-summary: best run first" \
  "awk 'NR > 1 { if (\$3 > $best) bad = 1 } END { exit bad }' '$tmp/summary.txt'"
cat >"$tmp/runs.json" <<'JSON'
{"runs": [{"train.lr": 0.001}, {"train.lr": 0.002, "train.output_dir": "OUT"}]}
JSON
sed -i "s#OUT#$tmp/own#" "$tmp/runs.json"
"$bin" train --config "$tmp/cfg.json" --sweep "$tmp/runs.json" --sweep-index 1 --set train.max_steps=2 >/dev/null 2>&1
check "a runs list with its own output dir" "[ -s '$tmp/own/sweep_point.json' ] && [ -s '$tmp/own/checkpoint-2.safetensors' ]"
"$bin" train --config "$tmp/cfg.json" --sweep "$tmp/runs.json" --sweep-index 2 >/dev/null 2>"$tmp/e1"
check "an index past the end: exit 2 saying how many points" "[ $? -eq 2 ] && grep -q 'out of range: the file lists 2 runs' '$tmp/e1'"
echo '{"grid": {"train.lr": []}}' >"$tmp/bad.json"
SLURM_ARRAY_TASK_ID=0 "$bin" train --config "$tmp/cfg.json" --sweep "$tmp/bad.json" >/dev/null 2>"$tmp/e2"
check "an empty grid list: a clear error naming the key" "[ $? -eq 2 ] && grep -q \"grid key 'train.lr' needs a non-empty list\" '$tmp/e2'"
env -u SLURM_ARRAY_TASK_ID "$bin" train --config "$tmp/cfg.json" --sweep "$tmp/grid.json" >/dev/null 2>"$tmp/e3"
check "no index: a clear error" "[ $? -eq 2 ] && grep -q 'give --sweep-index N' '$tmp/e3'"
exit $fail
