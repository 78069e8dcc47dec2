#!/usr/bin/env bash
# The README's main-job command: installs what is missing, builds, fetches the real data and the
# pretrained checkpoint, and fine-tunes all-MiniLM-L6-v2 on the sentence-polarity movie reviews
# on the CPU backend (configs/polarity_minilm.json), printing dev and test accuracy at the end.
# Extra arguments go to `downstream train` (e.g. --set train.epochs=1).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash scripts/setup_deps.sh
bash scripts/build.sh
bash scripts/fetch_data.sh
exec build/downstream train --config configs/polarity_minilm.json "$@"
