#!/usr/bin/env bash
# ctest ctc_kernel_sim (label cpu): the lane-level simulation of the CUDA CTC loss
# (scripts/ctc_kernel_sim.py --quick: every thread of every block replayed from barrier to barrier,
# races, bounds, coverage and the values against a log-space reference; ~1-5 s). It checks the
# kernel's alpha/beta indexing on the CPU, where no GPU runs it, against the CPU op itself through
# tests/sim/ctc_cpu_ref (built next to the tests; ctest runs this from that directory) and a
# log-space reference. Pure Python (no numpy); skipped (exit 77) when no python3 is found.
# usage: test_ctc_kernel_sim.sh <source dir>
set -u
src=${1:?usage: $0 <source dir>}
for py in "${PYTHON:-}" python3 /usr/bin/python3; do
    [[ -n $py ]] || continue
    command -v "$py" > /dev/null 2>&1 || continue
    ref=()
    [[ -x $PWD/ctc_cpu_ref ]] && ref=(--cpu-op "$PWD/ctc_cpu_ref")
    exec "$py" "$src/scripts/ctc_kernel_sim.py" --quick "${ref[@]}"
done
echo "ctc_kernel_sim: skipped: no python3"
exit 77
