#!/usr/bin/env bash
# A real Slurm cluster on this machine (scripts/slurm/local_cluster.sh: munged, slurmctld,
# slurmd) runs `downstream train` on the tiny BERT fixture (tests/fixtures/trainer, 3 steps) two
# ways, each with 2 tasks:
#   1. sbatch --wait scripts/slurm/train_cpu.sbatch (the template as users submit it);
#   2. srun --mpi=pmix -n2 --overcommit downstream train ... (a step launched directly).
# Each must exit 0 and leave a valid checkpoint in the output directory.
#
# Independent or data parallel: a `downstream train` without the data-parallel trainer runs each
# task as a separate single-process run, so two tasks would write the same output directory. A
# binary that does not know the dist.* config keys therefore runs behind a wrapper that sends
# ranks > 0 to their own directory; the test then checks that every task trained. A binary
# that knows dist.* must form one world of 2 (its log says "data parallel: 2 ranks", or names a
# world size of 2) and only rank 0 may write: the test then checks exactly that.
#
# Needs root (daemons, /etc/munge) and the Debian packages munge, slurm-wlm, openmpi-bin,
# libpmix-dev: exits 77 (skipped) when it is not root or they cannot be installed. The cluster
# is this test's own (own directory and ports) and the trap stops it on every way out; should
# the test be killed outright, `local_cluster.sh reap` (run by scripts/test.sh) stops it.
set -u
bin=$(realpath "$1") # the test changes directory
src=$(realpath "$2")
cluster_sh=$src/scripts/slurm/local_cluster.sh

if [ "$(id -u)" -ne 0 ]; then
  echo "skipped: needs root (starts munged, slurmctld and slurmd; writes /etc/munge); uid is $(id -u)"
  exit 77
fi

tmp=$(mktemp -d)
export DS_SLURM_DIR=/var/spool/downstream-slurm-test.$$
# Ports of our own, away from a cluster on Slurm's defaults (6817/6818) and from other tests.
export DS_SLURM_CTLD_PORT=$((17000 + ($$ % 4000) * 2))
export DS_SLURM_D_PORT=$((DS_SLURM_CTLD_PORT + 1))
export DS_SLURM_OWNER_PID=$$
export SLURM_CONF=$DS_SLURM_DIR/slurm.conf
# Long commands run in the background while the shell waits for them (run_bg), so that a TERM
# (ctest's timeout, Ctrl-C) runs the trap at once instead of after the command ends.
bg_pid=
run_bg() {
  "$@" &
  bg_pid=$!
  wait "$bg_pid"
  local rc=$?
  bg_pid=
  return $rc
}
cleanup() {
  [ -z "$bg_pid" ] || kill -TERM "$bg_pid" 2>/dev/null
  bash "$cluster_sh" stop >"$tmp/stop.log" 2>&1 || { echo "local_cluster.sh stop failed:"; cat "$tmp/stop.log"; }
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
fail=0
check() { if eval "$2"; then echo "ok   $1"; else echo "FAIL: $1"; fail=1; fi; }

bash "$cluster_sh" install
rc=$?
if [ $rc -eq 3 ]; then
  echo "skipped: the Slurm/MPI packages are missing and could not be installed (no network or apt?)"
  exit 77
fi
[ $rc -eq 0 ] || { echo "FAIL: installing the packages (exit $rc)"; exit 1; }
if ! run_bg timeout 180 bash "$cluster_sh" start; then
  echo "FAIL: the local cluster did not start"
  exit 1
fi
echo "ok   cluster up: $(sinfo -h -o '%n %t %c CPUs')"

cat >"$tmp/cfg.json" <<JSON
{
  "run": {"seed": 3, "threads": 1},
  "model": {"path": "$src/tests/fixtures/trainer/tiny_bert", "max_length": 24},
  "data": {"train": "$src/tests/fixtures/trainer/sentiment.csv", "split": "0.75,0.125,0.125", "stratified": true},
  "train": {"batch_size": 8, "max_steps": 3, "lr": 3e-3, "warmup_steps": 1, "log_every": 1}
}
JSON

# The binary the jobs run: the real one, or the wrapper described at the top.
if "$bin" help config 2>/dev/null | grep -q '^dist\.launcher'; then
  dist_capable=1
  task_bin=$bin
  echo "note: downstream knows dist.*: expecting one data-parallel world of 2 ranks"
else
  dist_capable=0
  task_bin=$tmp/task.sh
  cat >"$task_bin" <<SH
#!/bin/bash
# Each task is an independent run here: ranks > 0 get their own output directory.
if [ "\${SLURM_PROCID:-0}" -gt 0 ]; then
  exec "$bin" "\$@" --set train.output_dir="$tmp/rank\$SLURM_PROCID-\$SLURM_JOB_NAME"
fi
exec "$bin" "\$@"
SH
  chmod +x "$task_bin"
  echo "note: downstream has no dist.* keys: the two tasks run independently (ranks > 0 in their own directory)"
fi

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
  if grep -qiE 'data parallel: 2 ranks|world[ _]size[ :=]*2([^0-9]|$)' "$log"; then
    echo "note: $name: the log shows a data-parallel world of 2"
    check "$name: only rank 0 printed the test metrics" "[ \$(grep -c '^test (' '$log') -eq 1 ]"
  elif [ $dist_capable -eq 1 ]; then
    check "$name: log shows a data-parallel world of 2 ranks" false
  else
    local other=$tmp/rank1-$job_name
    check "$name: rank 1 trained independently too (checkpoint in its own directory)" \
      "[ -s '$other/checkpoint-3.safetensors' ]"
    check "$name: both tasks printed test metrics" "[ \$(grep -c '^test (' '$log') -eq 2 ]"
  fi
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
