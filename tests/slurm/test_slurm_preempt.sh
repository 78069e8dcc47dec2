#!/usr/bin/env bash
# Preemption on a real Slurm cluster (this machine's own, scripts/slurm/local_cluster.sh): the job
# template scripts/slurm/train_cpu.sbatch (one task here) trains the tiny BERT fixture for 1500
# steps (long enough, ~5 s, for the signal to land mid-run) with dropout on; once it has logged a few steps the test sends the job's tasks SIGUSR1, as
# Slurm does 120 s before a time limit (`#SBATCH --signal=USR1@120`). The run must finish its
# step, write a checkpoint and requeue its own job (train.requeue=true in the template); the job
# must come back, resume from that checkpoint (train.resume=auto under Slurm) and finish with a
# checkpoint byte-identical to an uninterrupted run's.
# Slurm holds a requeued job until its BeginTime (a couple of minutes); the test releases it at
# once with `scontrol update StartTime=now`, as a scheduler with free nodes would.
source "$(dirname "$0")/lib.sh"

cat >"$tmp/cfg.json" <<JSON
{
  "run": {"seed": 3, "threads": 1},
  "model": {"path": "$src/tests/fixtures/trainer/tiny_bert", "max_length": 24},
  "data": {"train": "$src/tests/fixtures/trainer/sentiment.csv", "split": "0.75,0.125,0.125", "stratified": true},
  "train": {"batch_size": 8, "max_steps": 1500, "eval_every": 500, "lr": 3e-3, "warmup_steps": 2, "log_every": 1}
}
JSON

# The reference: the same run uninterrupted, outside Slurm.
env -u SLURM_JOB_ID "$bin" train --config "$tmp/cfg.json" --set run.threads=1 --set train.output_dir="$tmp/ref" \
  >"$tmp/ref.log" 2>&1
check "reference run exits 0" "[ $? -eq 0 ] && [ -s '$tmp/ref/checkpoint-1500.safetensors' ]"

mkdir -p "$tmp/submit"
cd "$tmp/submit" || exit 1
DS_BIN=$bin DS_OUTPUT_DIR=$tmp/run sbatch --parsable --ntasks=1 "$src/scripts/slurm/train_cpu.sbatch" "$tmp/cfg.json" \
  >"$tmp/sbatch.id"
job=$(head -n 1 "$tmp/sbatch.id")
job=${job%%;*}
check "sbatch: job $job submitted" "[ -n '$job' ]"
for _ in $(seq 600); do
  [ -s "$tmp/run/metrics.jsonl" ] && [ "$(grep -c '"loss"' "$tmp/run/metrics.jsonl")" -ge 3 ] && break
  sleep 0.1
done
scancel --signal=USR1 "$job"
# The job goes back to PENDING (requeued, held until its BeginTime): release it.
released=no
for _ in $(seq 300); do
  state=$(squeue -h -j "$job" -o %T 2>/dev/null)
  reason=$(squeue -h -j "$job" -o %r 2>/dev/null)
  if [ "$state" = PENDING ] && [ "$reason" = BeginTime ]; then
    scontrol update jobid="$job" StartTime=now && released=yes
    break
  fi
  [ -z "$state" ] && break
  sleep 0.2
done
check "the signalled job was requeued" "[ $released = yes ]"
for _ in $(seq 600); do [ -z "$(squeue -h -j "$job" -o %T 2>/dev/null)" ] && break; sleep 0.2; done
log=$tmp/submit/downstream-cpu-$job.out
check "first run: preempted after a step, checkpoint written, job requeued" \
  "grep -q '^preempted (signal 10) after step [0-9]* of 1500: checkpoint written; the job is requeued' '$log'"
step=$(sed -n 's/^preempted (signal 10) after step \([0-9]*\).*/\1/p' "$log" | head -1)
check "second run: resumed from the preemption's checkpoint (step $step)" \
  "grep -q 'resumed from .*checkpoint-$step.safetensors: step $step' '$log'"
check "second run: trained to the end" "grep -q '^trained 1500 steps' '$log'"
check "the final checkpoint is byte-identical to the uninterrupted run's" \
  "cmp -s '$tmp/ref/checkpoint-1500.safetensors' '$tmp/run/checkpoint-1500.safetensors'"
if [ $fail -ne 0 ] && [ -s "$log" ]; then echo "--- $log (last 30 lines)"; tail -n 30 "$log"; fi
exit $fail
