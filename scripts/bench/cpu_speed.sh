#!/usr/bin/env bash
# The CPU backend against PyTorch 2.x + transformers on this machine, both sides of each row of
# issue 18's table in one invocation, one after the other, and the table with ratios:
#   - the main job (configs/polarity_minilm.json: all-MiniLM-L6-v2, batch 32, max length 64,
#     dynamic padding) for STEPS optimizer steps: training time (downstream: from the log line
#     before step 1 to the log line of step STEPS; PyTorch: scripts/bench/torch_main_job.py, the
#     HF Trainer loop, its own clock around the loop), peak RSS of the whole process
#     (/usr/bin/time), and the time from process start to the first step (PyTorch's includes its
#     imports);
#   - the encoder step (configs/bench_cpu.json: 6 layers, batch 8, seq 128, as
#     scripts/bench/cpu_vs_torch.sh): samples/s of `downstream bench` and of
#     scripts/bench/torch_encoder_step.py.
# Ratios are "how many times faster downstream is" (> 1: downstream faster) and, for memory,
# downstream / PyTorch (< 1: downstream smaller). docs/cpu_speed.md has the method and results.
#
# usage: scripts/bench/cpu_speed.sh [PYTHON]     (PYTHON with torch + transformers; default python3)
# env:   STEPS (100), THREADS ($(nproc)), DS_BIN (build/downstream),
#        DS_DATA_CACHE (data_cache/: all-MiniLM-L6-v2 and polarity/, from scripts/fetch_data.sh)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
py=${1:-python3}
steps=${STEPS:-100}
threads=${THREADS:-$(nproc)}
bin=$(realpath "${DS_BIN:-$root/build/downstream}")
cache=$(realpath "${DS_DATA_CACHE:-$root/data_cache}")
for f in "$cache/all-MiniLM-L6-v2/config.json" "$cache/polarity/polarity-en-pang&lee2.csv"; do
  [ -e "$f" ] || { echo "cpu_speed: $f is missing (scripts/fetch_data.sh fetches it)" >&2; exit 1; }
done
[ -x /usr/bin/time ] || { echo "cpu_speed: /usr/bin/time is missing (scripts/setup_deps.sh installs it)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ln -s "$cache" "$tmp/data_cache"  # the config's relative data paths

echo "cpu_speed: main job, $steps steps, $threads threads: downstream ..." >&2
(cd "$tmp" && /usr/bin/time -f "%M" -o "$tmp/ours.rss" "$bin" train --config "$root/configs/polarity_minilm.json" \
  --set train.max_steps="$steps" --set train.log_every=1 --set train.eval_every=0 \
  --set train.output_dir="$tmp/run" --set run.threads="$threads" >"$tmp/ours.out" 2>"$tmp/ours.err")
echo "cpu_speed: main job: PyTorch ..." >&2
/usr/bin/time -f "%M" -o "$tmp/torch.rss" "$py" "$root/scripts/bench/torch_main_job.py" --model-dir "$cache/all-MiniLM-L6-v2" \
  --csv "$cache/polarity/polarity-en-pang&lee2.csv" --steps "$steps" --threads "$threads" >"$tmp/torch.out" 2>"$tmp/torch.err" ||
  { cat "$tmp/torch.err" >&2; exit 1; }
echo "cpu_speed: encoder step: downstream, then PyTorch ..." >&2
enc_ours=$("$bin" bench --config "$root/configs/bench_cpu.json" --set run.threads="$threads" --quiet)
enc_torch=$("$py" "$root/scripts/bench/torch_encoder_step.py" --threads "$threads")

python3 - "$tmp" "$steps" "$enc_ours" "$enc_torch" <<'PY'
import json, re, sys
tmp, steps, enc_o, enc_t = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3]), json.loads(sys.argv[4])
log = open(f"{tmp}/ours.err").read().splitlines()
stamp = lambda line: float(re.match(r"\[\s*([0-9.]+)s", line).group(1))
first = next(i for i, l in enumerate(log) if re.search(r"\] step 1/", l))
start = stamp(log[first - 1])  # the last line before step 1: training starts here
end = stamp(next(l for l in log if re.search(rf"\] step {steps}/{steps} ", l)))
torch = json.loads(open(f"{tmp}/torch.out").read().strip().splitlines()[-1])
rss_o, rss_t = (int(open(f"{tmp}/{s}.rss").read().split()[-1]) / 1024 for s in ("ours", "torch"))
rows = [
    (f"main job, {steps} steps: training time (s)", end - start, torch["train_s"], torch["train_s"] / (end - start)),
    ("encoder step (6 layers, batch 8, seq 128): samples/s", enc_o["samples_per_s"], enc_t["samples_per_s"],
     enc_o["samples_per_s"] / enc_t["samples_per_s"]),
    ("main job: peak RSS (MB)", rss_o, rss_t, rss_o / rss_t),
    ("main job: start-up to first step (s)", start, torch["first_step_s"], torch["first_step_s"] / start),
]
print(f"| work | downstream | PyTorch + transformers | ratio |")
print(f"|---|---:|---:|---:|")
for name, o, t, r in rows:
    print(f"| {name} | {o:.2f} | {t:.2f} | {r:.2f}x |")
print("(ratio: PyTorch time / downstream time, downstream samples/s / PyTorch's, downstream RSS / PyTorch's)")
PY
