#!/usr/bin/env bash
# A Wav2Vec2ForCTC training step on the CPU, ours against transformers', side by side in one run:
# `downstream bench --set task.type=speech_ctc` (runtime/tasks/speech/speech_bench.c) and
# scripts/bench/torch_speech_step.py at the same shape, model and thread count (wav2vec2-base's
# architecture with random weights, feature encoder frozen, train mode with the config's dropout,
# LayerDrop and SpecAugment, CTC, AdamW), then one table with the step times, the ratio and the
# peak memory: ours is the plan (parameters, gradients, AdamW moments, activation arena) and the
# process's max RSS from /usr/bin/time -v; torch's is its max RSS.
# Run it on a quiet machine: the numbers are meaningless while other jobs share the cores.
# usage: scripts/bench/speech_cpu_vs_torch.sh [PYTHON] [THREADS] [BATCH] [SECONDS] [REPEATS]
#   defaults: /opt/torchenv/bin/python, 2 threads, 2 utterances of 4 s, 10 repeats
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
py=${1:-/opt/torchenv/bin/python}
threads=${2:-2} batch=${3:-2} seconds=${4:-4} repeats=${5:-10}
bin=${DS_BIN:-$root/build/downstream}
[[ -x "$bin" ]] || { echo "missing $bin: bash scripts/build.sh" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export OMP_NUM_THREADS=$threads OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
/usr/bin/time -v "$bin" bench --set task.type=speech_ctc --set run.threads="$threads" --set bench.batch="$batch" \
  --set bench.seconds="$seconds" --set bench.repeats="$repeats" --set bench.warmup=2 \
  >"$tmp/ours.json" 2>"$tmp/ours.log" || { tail -5 "$tmp/ours.log" >&2; exit 1; }
/usr/bin/time -v "$py" "$root/scripts/bench/torch_speech_step.py" --threads "$threads" --batch "$batch" \
  --seconds "$seconds" --repeats "$repeats" --warmup 2 >"$tmp/torch.json" 2>"$tmp/torch.log" ||
  { tail -5 "$tmp/torch.log" >&2; exit 1; }
rss() { awk -F': ' '/Maximum resident set size/ {printf "%.0f\n", $2 * 1024}' "$1"; }
"$py" - "$tmp/ours.json" "$tmp/torch.json" "$(rss "$tmp/ours.log")" "$(rss "$tmp/torch.log")" <<'PY'
import json, sys
ours, torch = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
ours_rss, torch_rss = int(sys.argv[3]), int(sys.argv[4])
print(f"Wav2Vec2ForCTC (wav2vec2-base, {ours['params'] / 1e6:.1f} M parameters), batch {ours['batch']} x "
      f"{ours['seconds']:g} s, feature encoder {'frozen' if ours['frozen_encoder'] else 'trained'}, "
      f"{ours['threads']} threads, train mode, CTC, AdamW")
print(f"{'':<10}{'step ms (median)':>18}{'p90':>10}{'samples/s':>11}{'first step s':>14}{'plan MiB':>10}{'max RSS MiB':>13}")
print(f"{'ours':<10}{ours['step_ms_median']:>18.1f}{ours['step_ms_p90']:>10.1f}{ours['samples_per_s']:>11.3f}"
      f"{ours['first_step_s']:>14.2f}{ours['peak_mem_bytes'] / 2**20:>10.0f}{ours_rss / 2**20:>13.0f}")
print(f"{'torch':<10}{torch['step_ms_median']:>18.1f}{torch['step_ms_p90']:>10.1f}{torch['samples_per_s']:>11.3f}"
      f"{torch['first_step_s']:>14.2f}{'':>10}{torch_rss / 2**20:>13.0f}")
print(f"speed ours/torch: {torch['step_ms_median'] / ours['step_ms_median']:.2f}x (above 1: ours faster); "
      f"memory ours/torch (max RSS): {ours_rss / torch_rss:.2f}")
print(json.dumps({"ours": ours, "torch": torch, "ours_max_rss": ours_rss, "torch_max_rss": torch_rss,
                  "speed_ratio": torch["step_ms_median"] / ours["step_ms_median"]}))
PY
