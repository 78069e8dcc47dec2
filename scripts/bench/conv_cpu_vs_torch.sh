#!/usr/bin/env bash
# Times the CPU conv2d op (build/bench/ds_conv_bench) and torch.nn.functional.conv2d with
# autograd (scripts/bench/torch_conv.py) forward and backward on every distinct convolution of
# DeepLabV3-ResNet50 (full width, 21 classes, aux head) at a batch of N x 3 x H x W, on the same
# number of threads, and prints one table with the ratios (ours / torch: below 1 is faster).
# Build first: cmake --build build --target ds_conv_bench.
# usage: scripts/bench/conv_cpu_vs_torch.sh [PYTHON] [THREADS] [N H W] [REPEATS] [WAV2VEC2_SAMPLES]
#   defaults: python3, 2 threads, 2 256 256, 5 repeats; with WAV2VEC2_SAMPLES (e.g. 64000) the
#   shapes are wav2vec2-base's conv1d layers on N clips of that many samples instead (H, W unused).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
py=${1:-python3}
threads=${2:-2}
n=${3:-2} h=${4:-256} w=${5:-256}
repeats=${6:-5}
wav=${7:-}
bench="$root/build/bench/ds_conv_bench"
[[ -x "$bench" ]] || { echo "missing $bench: cmake --build build --target ds_conv_bench" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
args=(--batch "$n" --size "$h" "$w" --repeats "$repeats")
[[ -n "$wav" ]] && args+=(--wav2vec2 "$wav")
OMP_NUM_THREADS=$threads "$bench" "${args[@]}" >"$tmp/ours.jsonl" 2>"$tmp/ours.log" || { cat "$tmp/ours.log" >&2; exit 1; }
head -1 "$tmp/ours.log"
"$py" "$root/scripts/bench/torch_conv.py" --threads "$threads" --repeats "$repeats" <"$tmp/ours.jsonl" >"$tmp/both.jsonl"
"$py" - "$tmp/both.jsonl" "$threads" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print(f"{len(rows)} convolution shapes, {sys.argv[2]} threads; times in ms (median); ratio = ours / torch")
hdr = f"{'x (N,C,H,W)':<20}{'w (K,C,R,S)':<18}{'s/p/d/g':<12}{'uses':>5}{'fwd':>9}{'torch':>9}{'ratio':>7}{'bwd':>9}{'torch':>9}{'ratio':>7}"
print(hdr)
tot = [0.0] * 4
for r in rows:
    x = ",".join(map(str, r["x"])); w = ",".join(map(str, r["w"]))
    def hw(v):
        return str(v[0]) if v[0] == v[1] else f"{v[0]}x{v[1]}"
    g = f"{hw(r['stride'])}/{hw(r['padding'])}/{hw(r['dilation'])}/{r['groups']}"
    print(f"{x:<20}{w:<18}{g:<12}{r['uses']:>5}{r['fwd_ms']:>9.2f}{r['torch_fwd_ms']:>9.2f}"
          f"{r['fwd_ms'] / r['torch_fwd_ms']:>7.2f}{r['bwd_ms']:>9.2f}{r['torch_bwd_ms']:>9.2f}"
          f"{r['bwd_ms'] / r['torch_bwd_ms']:>7.2f}")
    for i, k in enumerate(("fwd_ms", "torch_fwd_ms", "bwd_ms", "torch_bwd_ms")):
        tot[i] += r["uses"] * r[k]
print(f"{'total, weighted by uses':<55}{tot[0]:>9.1f}{tot[1]:>9.1f}{tot[0] / tot[1]:>7.2f}"
      f"{tot[2]:>9.1f}{tot[3]:>9.1f}{tot[2] / tot[3]:>7.2f}")
print(f"forward + backward: ours {tot[0] + tot[2]:.1f} ms, torch {tot[1] + tot[3]:.1f} ms, ratio {(tot[0] + tot[2]) / (tot[1] + tot[3]):.2f}")
PY
