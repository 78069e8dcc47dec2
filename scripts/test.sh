#!/usr/bin/env bash
# The README's test command: installs what is missing, builds C and CUDA, runs every test.
#  1. scripts/setup_deps.sh (Debian packages)
#  2. the whole CPU suite (label cpu) again under AddressSanitizer + UBSan (CPU-only build in
#     build-asan/; RelWithDebInfo: optimised, with line numbers in reports; leaks inside third-party
#     libraries are suppressed by name in tests/fuzz/lsan.supp, never ours). Left out there:
#     cli_test_seg_train (a dozen DeepLab trainings: over its 300 s timeout under ASan; its code
#     runs sanitized in test_seg_family, cli_test_seg_bad_input and the fuzz replays)
#  3. every parser fuzzed for 20 s or 20000 inputs from a fixed seed (scripts/fuzz.sh: clang's
#     libFuzzer, docs/reliability.md)
#  4. the full suite (labels cpu, gpu, dist); gpu tests report "skipped" without a GPU; the
#     Slurm tests (dist) start a local cluster as root and always stop it
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash scripts/setup_deps.sh

echo "== sanitizer build (ASan + UBSan): the CPU test suite =="
DS_BUILD_DIR=$root/build-asan bash scripts/build.sh -DDS_SANITIZE=ON -DDS_WITH_CUDA=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
(cd build-asan && ASAN_OPTIONS=detect_leaks=1 LSAN_OPTIONS=suppressions=$root/tests/fuzz/lsan.supp \
  ctest --output-on-failure -L cpu -E '^cli_test_seg_train$' -j 2)

echo "== fuzzing: every parser, 20 s or 20000 inputs each, fixed seed =="
# A fixed seed and at most 20000 inputs per target: what CI fuzzes is a prefix of the very sequence
# run in full before each submission (the same command with a longer time), so whether a clean clone
# passes does not depend on luck. Open-ended fuzzing for new bugs: bash scripts/fuzz.sh 600.
DS_FUZZ_FLAGS="-seed=20261203 -runs=20000" bash scripts/fuzz.sh 20

echo "== full build (C and CUDA) and test suite =="
bash scripts/build.sh
# The Slurm tests (label dist) start munged/slurmctld/slurmd and stop them in a trap; should one
# be killed outright (ctest's timeout), its daemons are stopped here, whatever ctest's outcome.
trap 'bash "$root/scripts/slurm/local_cluster.sh" reap || true' EXIT
cd build
ctest --output-on-failure
