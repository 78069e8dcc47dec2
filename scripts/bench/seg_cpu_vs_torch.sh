#!/usr/bin/env bash
# A DeepLabV3-ResNet training step on the CPU, ours against torchvision's, side by side in one run:
# `downstream bench --set task.type=segmentation` (runtime/tasks/segmentation/seg_bench.c) and
# scripts/bench/torch_seg_step.py at the same shape, model and thread count (SGD with momentum,
# train mode, the aux head), then one table with the step times, the ratio and the peak memory:
# ours is the plan (parameters, gradients, momentum, activation arena) and the process's max RSS
# from /usr/bin/time -v; torch's is its max RSS.
# Run it on a quiet machine: the numbers are meaningless while other jobs share the cores.
# usage: scripts/bench/seg_cpu_vs_torch.sh [PYTHON] [THREADS] [BATCH] [SIZE] [WIDTH] [REPEATS]
#   defaults: /opt/torchenv/bin/python, 2 threads, 2 x 3 x 256 x 256, width 64 (torchvision's), 10 repeats
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
py=${1:-/opt/torchenv/bin/python}
threads=${2:-2} batch=${3:-2} size=${4:-256} width=${5:-64} repeats=${6:-10}
bin=$root/build/downstream
[[ -x "$bin" ]] || { echo "missing $bin: bash scripts/build.sh" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export OMP_NUM_THREADS=$threads OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
/usr/bin/time -v "$bin" bench --set task.type=segmentation --set run.threads="$threads" --set bench.batch="$batch" \
  --set bench.image_size="$size" --set bench.width="$width" --set bench.repeats="$repeats" --set bench.warmup=2 \
  >"$tmp/ours.json" 2>"$tmp/ours.log" || { tail -5 "$tmp/ours.log" >&2; exit 1; }
/usr/bin/time -v "$py" "$root/scripts/bench/torch_seg_step.py" --threads "$threads" --batch "$batch" --size "$size" \
  --width "$width" --repeats "$repeats" --warmup 2 >"$tmp/torch.json" 2>"$tmp/torch.log" ||
  { tail -5 "$tmp/torch.log" >&2; exit 1; }
rss() { awk -F': ' '/Maximum resident set size/ {printf "%.0f\n", $2 * 1024}' "$1"; }
"$py" - "$tmp/ours.json" "$tmp/torch.json" "$(rss "$tmp/ours.log")" "$(rss "$tmp/torch.log")" <<'PY'
import json, sys
ours, torch = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
ours_rss, torch_rss = int(sys.argv[3]), int(sys.argv[4])
print(f"DeepLabV3-ResNet{ours['model'][-2:]} width {ours['width']}, {ours['classes']} classes, aux head, "
      f"batch {ours['batch']} x 3 x {ours['image_size']}^2, {ours['threads']} threads, SGD momentum, train mode")
print(f"{'':<10}{'step ms (median)':>18}{'p90':>10}{'samples/s':>11}{'first step s':>14}{'peak MiB':>10}{'max RSS MiB':>13}")
print(f"{'ours':<10}{ours['step_ms_median']:>18.1f}{ours['step_ms_p90']:>10.1f}{ours['samples_per_s']:>11.3f}"
      f"{ours['first_step_s']:>14.2f}{ours['peak_mem_bytes'] / 2**20:>10.0f}{ours_rss / 2**20:>13.0f}")
print(f"{'torch':<10}{torch['step_ms_median']:>18.1f}{torch['step_ms_p90']:>10.1f}{torch['samples_per_s']:>11.3f}"
      f"{torch['first_step_s']:>14.2f}{'':>10}{torch_rss / 2**20:>13.0f}")
print(f"speed ours/torch: {torch['step_ms_median'] / ours['step_ms_median']:.2f}x (above 1: ours faster); "
      f"mfu {ours['mfu']} of the measured sgemm rate {ours['gemm_gflops']} GFLOP/s; "
      f"memory ours/torch (max RSS): {ours_rss / torch_rss:.2f}")
print(json.dumps({"ours": ours, "torch": torch, "ours_max_rss": ours_rss, "torch_max_rss": torch_rss,
                  "speed_ratio": torch["step_ms_median"] / ours["step_ms_median"]}))
PY
