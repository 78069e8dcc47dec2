#!/usr/bin/env bash
# ctest attention_fast_sim (label cpu): the lane-level simulation of the FAST CUDA attention
# kernels (scripts/attention_fast_sim.py: tile loads, mma fragments, online softmax, dropout
# factors incl. the one-Philox-call-per-four-columns exchange, the transposed stores' bank
# conflicts; ~20-40 s). Skipped (exit 77) when no python3 with numpy is found (scripts/setup_deps.sh
# installs python3-numpy).
# usage: test_attention_fast_sim.sh <source dir>
set -u
src=${1:?usage: $0 <source dir>}
for py in "${PYTHON:-}" python3 /usr/bin/python3; do
    [[ -n $py ]] || continue
    command -v "$py" > /dev/null 2>&1 || continue
    "$py" -c 'import numpy' > /dev/null 2>&1 || continue
    exec "$py" "$src/scripts/attention_fast_sim.py"
done
echo "attention_fast_sim: skipped: no python3 with numpy (apt-get install python3-numpy)"
exit 77
