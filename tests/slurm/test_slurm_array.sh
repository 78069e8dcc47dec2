#!/usr/bin/env bash
# A sweep as a real Slurm job array (this machine's own cluster): `sbatch --array=0-1 --wait
# scripts/slurm/sweep_cpu.sbatch CONFIG SWEEP` runs one `downstream train` per point of a 2-point
# grid into runs/<job name>-<array job id>/sweep-<i>/, and `downstream sweep-summary` lists both
# finished runs with their values.
source "$(dirname "$0")/lib.sh"

cat >"$tmp/cfg.json" <<JSON
{
  "run": {"seed": 3, "threads": 1},
  "model": {"path": "$src/tests/fixtures/trainer/tiny_bert", "max_length": 24},
  "data": {"train": "$src/tests/fixtures/trainer/sentiment.csv", "split": "0.75,0.125,0.125", "stratified": true},
  "train": {"batch_size": 8, "max_steps": 3, "lr": 3e-3, "warmup_steps": 1, "log_every": 1}
}
JSON
echo '{"grid": {"train.lr": [0.003, 0.001]}}' >"$tmp/sweep.json"
mkdir -p "$tmp/submit"
cd "$tmp/submit" || exit 1
DS_BIN=$bin run_bg timeout 300 sbatch --parsable --wait --array=0-1 "$src/scripts/slurm/sweep_cpu.sbatch" \
  "$tmp/cfg.json" "$tmp/sweep.json" >"$tmp/sbatch.id"
rc=$?
job=$(head -n 1 "$tmp/sbatch.id")
job=${job%%;*}
check "sbatch --array=0-1 --wait: exits 0" "[ $rc -eq 0 ]"
out=$tmp/submit/runs/downstream-sweep-$job
check "one run folder per array task" "[ -s '$out/sweep-0/checkpoint-3.safetensors' ] && [ -s '$out/sweep-1/checkpoint-3.safetensors' ]"
"$bin" sweep-summary "$out" >"$tmp/summary.txt" 2>&1
check "sweep-summary lists both finished runs with their learning rates" \
  "[ \$(grep -c 'finished .*train.lr=0.00[13]' '$tmp/summary.txt') -eq 2 ]"
[ $fail -eq 0 ] || { cat "$tmp/summary.txt"; tail -n 20 "$tmp"/submit/*.out; }
exit $fail
