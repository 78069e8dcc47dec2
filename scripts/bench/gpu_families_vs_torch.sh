#!/usr/bin/env bash
# The end-to-end training step of the two newer families on CUDA, ours against PyTorch on the same
# GPU (issue 14's targets), in one pass that fits about 120 s of GPU time (few repeats):
#   DeepLabV3-ResNet50 (21 classes, aux head, SGD momentum 0.9, weight decay 1e-4) at 8 x 3 x 480 x 480:
#     `downstream bench --set task.type=segmentation` in bf16 and in fp32, against torchvision's
#     deeplabv3_resnet50 with AMP bf16, channels_last and cudnn.benchmark
#     (scripts/bench/torch_seg_step.py --device cuda); target ours bf16 >= 1.2x torch.
#   wav2vec2-base + CTC (vocab 32, feature encoder frozen, AdamW, clip 1.0) on 8 clips of 10 s:
#     `downstream bench --set task.type=speech_ctc` in fp32 and in bf16 (a build that refuses bf16
#     for wav2vec2 gives an error row), against HF Wav2Vec2ForCTC with AMP bf16
#     (scripts/bench/torch_speech_step.py --device cuda); target ours (bf16) >= 1.3x torch.
# Ours runs with run.kernels=fast and run.conv=auto (the faster of our implicit GEMM and cuDNN per
# shape); extra `--set KEY=VALUE` arguments go to every downstream run after these.
# Each row: samples/s, step ms (median), peak device memory (ours: the allocator's peak of live
# allocations; torch: torch.cuda.max_memory_allocated) and MFU. Ours prints its MFU against the
# data-sheet dense peak of its precision; torch's is computed here from the same FLOP count (ours'
# model_gflop_per_step at the same shape) against the bf16 peak, since AMP runs its GEMMs and convs
# in bf16. Prints every JSON line and a table; with $OUT set also writes
# $OUT/gpu_families_vs_torch.json ({"rows": [...], "runs": [...]}), which scripts/gpu_check.sh's
# summary prints.
# usage: [OUT=dir] [DS_BIN=downstream] [PYTHON=python3] [DS_FAMILIES_BUDGET_S=120]
#        scripts/bench/gpu_families_vs_torch.sh [--set KEY=VALUE ...]
#   The GPU machine has no network: both torch sides build their models from configs (random
#   weights), nothing is downloaded.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
py=${PYTHON:-python3}
bin=${DS_BIN:-$root/build/downstream}
budget=${DS_FAMILIES_BUDGET_S:-120}
t_start=$SECONDS
runs=$(mktemp) outs=$(mktemp) errs=$(mktemp)
trap 'rm -f "$runs" "$outs" "$errs"' EXIT
ours_opts=(--set run.device=cuda --set run.kernels=fast --set run.conv=auto --set bench.warmup=3 --set bench.repeats=5)
seg=(--set task.type=segmentation --set bench.batch=8 --set bench.image_size=480 --set bench.depth=50
     --set bench.width=64 --set bench.classes=21)
speech=(--set task.type=speech_ctc --set bench.batch=8 --set bench.seconds=10 --set bench.frozen_encoder=true)

# one LABEL CAP CMD...: runs CMD for at most CAP seconds (never past the budget) and appends its
# JSON line, tagged with "label", to $runs; a failure or a timeout appends {"label", "error"}.
one() {
    local label=$1 cap=$2
    shift 2
    local left=$((budget - (SECONDS - t_start)))
    local t=$((left < cap ? left : cap))
    local line="" why="not run: out of time" rc
    if ((t >= 5)); then
        timeout -k 5 "$t" "$@" > "$outs" 2> "$errs"
        rc=$?
        line=$(grep '^{' "$outs" | tail -1)
        why="exit $rc: $(grep -v '^\s*$' "$errs" | tail -1)"
        ((rc == 124 || rc == 137)) && why="timed out after ${t}s"
    fi
    # The JSON line, tagged; without one, an error object with the last line of stderr.
    "$py" -c 'import json, sys
d = json.loads(sys.argv[2]) if sys.argv[2] else {"error": sys.argv[3]}
d["label"] = sys.argv[1]
print(json.dumps(d))' "$label" "$line" "$why" | tee -a "$runs"
}

one seg_ours_bf16 25 "$bin" bench "${ours_opts[@]}" "${seg[@]}" --set run.precision=bf16 "$@" --quiet
one seg_ours_fp32 25 "$bin" bench "${ours_opts[@]}" "${seg[@]}" --set run.precision=fp32 "$@" --quiet
one seg_torch_amp 40 "$py" "$root/scripts/bench/torch_seg_step.py" --device cuda --amp bf16 --channels-last \
    --cudnn-benchmark --batch 8 --size 480 --depth 50 --width 64 --classes 21 --warmup 3 --repeats 5
one w2v_ours_bf16 20 "$bin" bench "${ours_opts[@]}" "${speech[@]}" --set run.precision=bf16 "$@" --quiet
one w2v_ours_fp32 20 "$bin" bench "${ours_opts[@]}" "${speech[@]}" --set run.precision=fp32 "$@" --quiet
one w2v_torch_amp 35 "$py" "$root/scripts/bench/torch_speech_step.py" --device cuda --amp bf16 --batch 8 \
    --seconds 10 --warmup 3 --repeats 5

"$py" - "$runs" "${OUT:-}" <<'PY'
import json, os, sys
runs = {r["label"]: r for r in (json.loads(l) for l in open(sys.argv[1]) if l.strip())}
out = sys.argv[2]
rows = []
for fam, shape, target in (("seg", "DeepLabV3-R50 8x3x480x480", 1.2), ("w2v", "wav2vec2-base 8 x 10 s", 1.3)):
    ours = [runs.get(f"{fam}_ours_bf16", {}), runs.get(f"{fam}_ours_fp32", {})]
    torch = runs.get(f"{fam}_torch_amp", {})
    # The FLOP count and the bf16 peak come from whichever of our runs finished.
    gflop = next((o["model_gflop_per_step"] for o in ours if "model_gflop_per_step" in o), None)
    bf16_peak = next((o.get("peak_bf16_tflops") for o in ours if o.get("peak_bf16_tflops")), None)
    tms = torch.get("step_ms_median")
    if tms and gflop and bf16_peak:
        torch["mfu"] = gflop / tms / bf16_peak  # GFLOP / ms = TFLOP/s
        torch["mfu_basis"] = f"ours' FLOP count, bf16 dense peak {bf16_peak:.0f} TFLOP/s"
    for label, r in ((f"{fam}_ours_bf16", ours[0]), (f"{fam}_ours_fp32", ours[1]), (f"{fam}_torch_amp", torch)):
        row = {"model": shape, "impl": "torch AMP" if "torch" in label else "downstream",
               "precision": "bf16" if "bf16" in label or "torch" in label else "fp32",
               **{k: r.get(k) for k in ("samples_per_s", "step_ms_median", "peak_mem_bytes", "mfu", "error")}}
        if "ours" in label and r.get("step_ms_median") and tms:
            row["vs_torch"] = tms / r["step_ms_median"]  # > 1: ours faster
            row["target"] = target if "bf16" in label else None
        rows.append(row)
fmt = lambda v, f: format("-", ">" + f.split(".")[0]) if v is None else format(v, f)
print(f"\n{'model':27} {'impl':11} {'prec':5} {'samples/s':>10} {'step ms':>9} {'peak GiB':>9} {'MFU':>6} {'vs torch':>9} {'target':>7}")
for r in rows:
    if r.get("error"):
        print(f"{r['model']:27} {r['impl']:11} {r['precision']:5} error: {str(r['error'])[:60]}")
        continue
    mem = r["peak_mem_bytes"] / 2**30 if r.get("peak_mem_bytes") else None
    mfu = 100 * r["mfu"] if r.get("mfu") is not None else None
    print(f"{r['model']:27} {r['impl']:11} {r['precision']:5} {fmt(r.get('samples_per_s'), '10.2f')} "
          f"{fmt(r.get('step_ms_median'), '9.1f')} {fmt(mem, '9.2f')} {fmt(mfu, '5.1f')}% "
          f"{fmt(r.get('vs_torch'), '9.2f')} {fmt(r.get('target'), '7.1f')}")
if out:
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "gpu_families_vs_torch.json"), "w") as f:
        json.dump({"rows": rows, "runs": list(runs.values())}, f, indent=1)
    print(f"wrote {os.path.join(out, 'gpu_families_vs_torch.json')}")
PY
