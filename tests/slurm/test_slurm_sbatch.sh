#!/usr/bin/env bash
# A real Slurm cluster on this machine (scripts/slurm/local_cluster.sh: munged, slurmctld,
# slurmd) runs `downstream train` on the tiny BERT fixture (tests/fixtures/trainer, 3 steps) two
# ways, each with 2 tasks:
#   1. sbatch --wait scripts/slurm/train_cpu.sbatch (the template as users submit it);
#   2. srun --mpi=pmix -n2 --overcommit downstream train ... (a step launched directly).
# Each must exit 0 and leave a valid checkpoint in the output directory.
#
# Both launches must form one data-parallel world of 2 ranks (the log says "data parallel: 2
# ranks"), only rank 0 may write, and the result must equal one process on the global batch:
# the step-3 checkpoint of each 2 x 8 run is compared with a 1 x 16 run (dropout off, the same
# seed) by compare_checkpoints within 1e-5 relative, as tests/dist/test_mpi_equivalence.sh does
# under mpirun.
#
# Needs root (daemons, /etc/munge) and the Debian packages munge, slurm-wlm, openmpi-bin,
# libpmix-dev: exits 77 (skipped) when it is not root or they cannot be installed. The cluster
# is this test's own (own directory and ports) and the trap stops it on every way out; should
# the test be killed outright, `local_cluster.sh reap` (run by scripts/test.sh) stops it.
source "$(dirname "$0")/lib.sh"

cat >"$tmp/cfg.json" <<JSON
{
  "run": {"seed": 3, "threads": 1},
  "model": {"path": "$src/tests/fixtures/trainer/tiny_bert", "max_length": 24, "dropout": 0},
  "data": {"train": "$src/tests/fixtures/trainer/sentiment.csv", "split": "0.75,0.125,0.125", "stratified": true},
  "train": {"batch_size": 8, "max_steps": 3, "lr": 3e-3, "warmup_steps": 1, "log_every": 1}
}
JSON

task_bin=$bin

# The reference: one process on the global batch (2 ranks x 8 = 16).
"$bin" train --config "$tmp/cfg.json" --set train.batch_size=16 --set train.output_dir="$tmp/one" \
  >"$tmp/one.log" 2>&1
check "reference: 1 process x batch 16 exits 0" "[ $? -eq 0 ] && [ -s '$tmp/one/checkpoint-3.safetensors' ]"

# A 1-core machine cannot place 2 tasks x 1 core without overcommitting.
over=()
[ "$(nproc)" -ge 2 ] || over=(--overcommit)

# check_run NAME LOG OUTPUT_DIR JOB_NAME LINES: the assertions shared by the two launches; LINES
# is how many training lines metrics.jsonl must hold (one writer, train.log_every as given).
check_run() {
  local name=$1 log=$2 out=$3 job_name=$4 lines=$5
  check "$name: checkpoint after 3 steps" "[ -s '$out/checkpoint-3.safetensors' ]"
  check "$name: checkpoint is a valid safetensors file" "'$bin' inspect '$out/checkpoint-3.safetensors' >/dev/null 2>&1"
  check "$name: metrics log has $lines training line(s), one writer" \
    "[ \"\$(grep -c '\"loss\"' '$out/metrics.jsonl' 2>/dev/null)\" = $lines ]"
  check "$name: log shows a data-parallel world of 2 ranks" "grep -q 'data parallel: 2 ranks' '$log'"
  check "$name: only rank 0 printed the test metrics" "[ \$(grep -c '^test (' '$log') -eq 1 ]"
  check "$name: parameters equal the 1-process run on the global batch (1e-5 relative)" \
    "'$compare' '$tmp/one/checkpoint-3.safetensors' '$out/checkpoint-3.safetensors' --floor 0.02 --rtol 1e-5 >&2"
}

# ---- 1. the sbatch template ------------------------------------------------------------------
mkdir -p "$tmp/submit"
cd "$tmp/submit" || exit 1
# --set train.log_every=3 after the config: extra arguments must reach `downstream train`.
DS_BIN=$task_bin run_bg timeout 300 sbatch --parsable --wait "${over[@]}" \
  "$src/scripts/slurm/train_cpu.sbatch" "$tmp/cfg.json" --set train.log_every=3 >"$tmp/sbatch.id"
rc=$?
job=$(head -n 1 "$tmp/sbatch.id")
job=${job%%;*}
log=$tmp/submit/downstream-cpu-$job.out
check "sbatch --wait train_cpu.sbatch: job $job exits 0" "[ $rc -eq 0 ]"
check "sbatch: job ran 2 tasks" "grep -q '^job $job: 2 tasks x 1 threads' '$log'"
check "sbatch: output directory under the submit directory" "[ -d '$tmp/submit/runs/downstream-cpu-$job' ]"
check_run sbatch "$log" "$tmp/submit/runs/downstream-cpu-$job" downstream-cpu 1
if [ $fail -ne 0 ] && [ -s "$log" ]; then echo "--- $log (last 30 lines)"; tail -n 30 "$log"; fi

# ---- 2. srun --mpi=pmix directly -------------------------------------------------------------
fail_before=$fail
run_bg timeout 300 srun --mpi=pmix -n2 --overcommit --job-name=ds-srun-test --kill-on-bad-exit=1 \
  "$task_bin" train --config "$tmp/cfg.json" --set run.device=cpu --set train.output_dir="$tmp/srun" \
  >"$tmp/srun.log" 2>&1
rc=$?
check "srun --mpi=pmix -n2 --overcommit: exits 0" "[ $rc -eq 0 ]"
check_run srun "$tmp/srun.log" "$tmp/srun" ds-srun-test 3
if [ $fail -ne $fail_before ]; then echo "--- srun.log (last 30 lines)"; tail -n 30 "$tmp/srun.log"; fi

if [ $fail -ne 0 ]; then
  echo "--- slurmctld.log (last 15 lines)"
  tail -n 15 "$DS_SLURM_DIR/log/slurmctld.log" 2>/dev/null
  echo "--- slurmd.log (last 15 lines)"
  tail -n 15 "$DS_SLURM_DIR/log/slurmd.log" 2>/dev/null
fi
exit $fail
