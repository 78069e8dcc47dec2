#!/usr/bin/env bash
# CTC loss forward + backward on the CPU: downstream's op (bench/ctc_cpu_bench.c, built as
# build/bench/ds_ctc_cpu_bench) against torch.nn.functional.ctc_loss on the same shapes and the
# same number of threads, one after the other in one run, and the ratio of the medians (> 1:
# downstream is faster). Both sides return the gradient torch's ctc backward returns.
# usage: scripts/bench/ctc_cpu_vs_torch.sh [PYTHON [THREADS [B T L V [ITERS]]]]
#        defaults: python3, 2 threads, B=8 T=400 L=80 V=32, 50 iterations
# Timings mean something only on an otherwise idle machine.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
py=${1:-python3}
threads=${2:-2}
B=${3:-8} T=${4:-400} L=${5:-80} V=${6:-32} iters=${7:-50}
bin=${DS_BUILD_DIR:-$root/build}/bench/ds_ctc_cpu_bench
[ -x "$bin" ] || { echo "missing $bin: build it (cmake --build build --target ds_ctc_cpu_bench)" >&2; exit 1; }
ours=$(OMP_NUM_THREADS=$threads "$bin" "$B" "$T" "$L" "$V" "$iters")
theirs=$(OMP_NUM_THREADS=$threads "$py" "$root/scripts/bench/torch_ctc.py" "$B" "$T" "$L" "$V" "$iters" "$threads")
echo "downstream: $ours"
echo "pytorch:    $theirs"
python3 - "$ours" "$theirs" "$threads" <<'PY'
import json, sys
o, t, threads = json.loads(sys.argv[1]), json.loads(sys.argv[2]), sys.argv[3]
print(f"ctc forward+backward B={o['B']} T={o['T']} L={o['L']} V={o['V']}, {threads} threads")
print(f"{'':12}{'downstream':>12}{'pytorch':>12}{'speed-up':>10}")
for k in ("ms_median", "ms_best"):
    print(f"{k:12}{o[k]:12.3f}{t[k]:12.3f}{t[k] / o[k]:10.2f}")
PY
