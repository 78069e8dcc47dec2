#!/usr/bin/env bash
# The README's main-job command: installs what is missing, builds, and runs the default job.
# Until the BERT fine-tune lands, the default job is `downstream bench` on the CPU backend
# (configs/bench_cpu.json). Extra arguments go to `downstream bench` (e.g. --set bench.batch=16).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash scripts/setup_deps.sh
bash scripts/build.sh
exec build/downstream bench --config configs/bench_cpu.json "$@"
