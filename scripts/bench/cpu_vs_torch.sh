#!/usr/bin/env bash
# Runs `downstream bench` and the same step in PyTorch (scripts/bench/torch_encoder_step.py) on
# this machine, one after the other, and prints both with the ratio.
# usage: scripts/bench/cpu_vs_torch.sh [PYTHON]   (PYTHON with torch + transformers; default python3)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
py=${1:-python3}
ours=$("$root/build/downstream" bench --config "$root/configs/bench_cpu.json" --quiet)
theirs=$("$py" "$root/scripts/bench/torch_encoder_step.py" --threads "$(nproc)")
echo "downstream: $ours"
echo "pytorch:    $theirs"
python3 - "$ours" "$theirs" <<'PY'
import json, sys
o, t = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(f"{'':22}{'downstream':>12}{'pytorch':>12}{'ratio':>8}")
for k in ("samples_per_s", "step_ms_median", "step_ms_p90", "achieved_gflops"):
    print(f"{k:22}{o[k]:12.2f}{t[k]:12.2f}{o[k] / t[k]:8.2f}")
PY
