#!/usr/bin/env bash
# The README's test command: installs what is missing, builds C and CUDA, runs every test.
#  1. scripts/setup_deps.sh (Debian packages)
#  2. the safetensors and .pth reader/writer tests again under AddressSanitizer + UBSan (CPU-only build)
#  3. the full suite (labels cpu, gpu, dist); gpu tests report "skipped" without a GPU; the
#     Slurm tests (dist) start a local cluster as root and always stop it
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash scripts/setup_deps.sh

echo "== sanitizer build (ASan + UBSan): safetensors, .pth, config and tokenizer parsing, event files, hashes, hub downloads =="
DS_BUILD_DIR=$root/build-asan bash scripts/build.sh -DDS_SANITIZE=ON -DDS_WITH_CUDA=OFF -DCMAKE_BUILD_TYPE=Debug >/dev/null
(cd build-asan && ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure -R 'safetensors|config|inspect|wordpiece|tokenize|pth|tb_events|sha256|hub')

echo "== full build (C and CUDA) and test suite =="
bash scripts/build.sh
# The Slurm tests (label dist) start munged/slurmctld/slurmd and stop them in a trap; should one
# be killed outright (ctest's timeout), its daemons are stopped here, whatever ctest's outcome.
trap 'bash "$root/scripts/slurm/local_cluster.sh" reap || true' EXIT
cd build
ctest --output-on-failure
