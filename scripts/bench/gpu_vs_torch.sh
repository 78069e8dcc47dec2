#!/usr/bin/env bash
# `downstream bench` on CUDA against PyTorch on the same GPU: BERT-base (vocab 30522, hidden 768,
# 12 layers, 12 heads, intermediate 3072) fine-tuning steps at (B=32, T=128) and (B=16, T=512),
# ours in run.precision (default bf16) against transformers' BertForSequenceClassification in
# eager mode (bf16 autocast, fused AdamW) and through torch.compile
# (scripts/bench/torch_bert_step.py). Prints every JSON line and a table of ratios (ours / torch;
# > 1 means downstream is faster for throughput, slower for times). With $OUT set, also writes
# $OUT/gpu_vs_torch.json ({"runs": [...]}).
# usage: scripts/bench/gpu_vs_torch.sh [PYTHON] [extra --set KEY=VALUE for downstream ...]
#   PYTHON: with torch and transformers (default: $PYTHON, else python3). The GPU machine has no
#   network: the torch side builds its model from a BertConfig, nothing is downloaded.
#   scripts/gpu_check.sh passes --set run.kernels=fast (the default, plain, is the reference path).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
py=${1:-${PYTHON:-python3}}
shift || true
bin=${DS_BIN:-$root/build/downstream}
base=(--set bench.vocab=30522 --set bench.hidden=768 --set bench.layers=12 --set bench.heads=12
      --set bench.intermediate=3072 --set bench.num_labels=2 --set bench.warmup=5 --set bench.repeats=20
      --set run.device=cuda)
runs=$(mktemp)
trap 'rm -f "$runs"' EXIT
for shape in "32 128" "16 512"; do
  read -r B T <<<"$shape"
  ours=$("$bin" bench "${base[@]}" --set bench.batch="$B" --set bench.seq_len="$T" "$@" --quiet)
  echo "downstream        B=$B T=$T: $ours"
  echo "$ours" >>"$runs"
  for mode in eager compile; do
    theirs=$("$py" "$root/scripts/bench/torch_bert_step.py" --mode "$mode" --batch "$B" --seq-len "$T")
    echo "torch $mode$( [ $mode = eager ] && echo '  ' ) B=$B T=$T: $theirs"
    echo "$theirs" >>"$runs"
  done
done
python3 - "$runs" "${OUT:-}" <<'PY'
import json, os, sys
runs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
out = sys.argv[2]
keys = ("samples_per_s", "tokens_per_s", "step_ms_median", "step_ms_p90", "mfu", "peak_mem_bytes", "first_step_s")
print(f"\n{'shape':10}{'metric':16}{'downstream':>14}{'torch eager':>14}{'torch compile':>14}{'vs eager':>10}{'vs compile':>11}")
for i in range(0, len(runs), 3):
    o, e, c = runs[i:i + 3]
    shape = f"{o['batch']}x{o['seq_len']}"
    for k in keys:
        vo, ve, vc = o.get(k), e.get(k), c.get(k)
        fmt = lambda v: "n/a" if v is None else (f"{v / 2**30:.2f} GiB" if k == "peak_mem_bytes" else f"{v:.4g}")
        ratio = lambda a, b: "n/a" if a is None or not b else f"{a / b:.2f}"
        print(f"{shape:10}{k:16}{fmt(vo):>14}{fmt(ve):>14}{fmt(vc):>14}{ratio(vo, ve):>10}{ratio(vo, vc):>11}")
if out:
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "gpu_vs_torch.json"), "w") as f:
        json.dump({"runs": runs}, f, indent=1)
    print(f"wrote {os.path.join(out, 'gpu_vs_torch.json')}")
PY
