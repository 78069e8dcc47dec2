#!/usr/bin/env bash
# ctest conv_implicit_gemm_sim (label cpu): the lane-level simulation of the FAST CUDA convolution
# (scripts/conv_implicit_gemm_sim.py --quick: edge cases, both tile configurations, split-K,
# every DeepLabV3-ResNet50 conv shape at width 4 and wav2vec2's convs scaled down; ~30-60 s).
# It checks the kernel's index arithmetic on the CPU, where no GPU runs it. Skipped (exit 77)
# when no python3 with numpy is found (scripts/setup_deps.sh installs python3-numpy).
# usage: test_conv_implicit_gemm_sim.sh <source dir>
set -u
src=${1:?usage: $0 <source dir>}
for py in "${PYTHON:-}" python3 /usr/bin/python3; do
    [[ -n $py ]] || continue
    command -v "$py" > /dev/null 2>&1 || continue
    "$py" -c 'import numpy' > /dev/null 2>&1 || continue
    exec "$py" "$src/scripts/conv_implicit_gemm_sim.py" --quick
done
echo "conv_implicit_gemm_sim: skipped: no python3 with numpy (apt-get install python3-numpy)"
exit 77
