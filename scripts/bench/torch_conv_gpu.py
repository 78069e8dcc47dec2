#!/usr/bin/env python3
"""The PyTorch side of the GPU convolution benchmark (scripts/gpu_check.sh): times
torch.nn.functional.conv2d on CUDA, bf16, channels_last, cudnn.benchmark=True (torch's fastest
configuration for these convs), forward and backward (dx and dw, as torch.autograd.grad of the
output with a fixed dy; no bias), on the shapes bench/conv_bench_gpu.c printed (its JSON lines,
from files given with --shapes; "device", "total" and error lines are skipped, and a shape that
appears for several implementations is timed once).

Method, as ours: warm-up calls (the first runs cuDNN's benchmark search), then `repeats` calls each
between two CUDA events, a ~0.5 ms torch.cuda._sleep before each start event so that the events
time device work and not Python's enqueueing, the median. The backward keeps the graph
(retain_graph=True) so that only the backward is timed.

Output: one JSON line per shape with the shape keys, torch_fwd_ms, torch_bwd_ms and torch_mfu
(forward + backward FLOPs over time and the bf16 dense peak; backward FLOPs = 2 x forward);
without a GPU a single {"error": "no GPU: ..."} line and exit status 1.
usage: torch_conv_gpu.py --shapes FILE [FILE...] [--repeats 20] [--warmup 3]
"""
import argparse
import json
import statistics
import sys

PEAKS = [("H200", 989.0), ("H100", 989.0), ("A100", 312.0)]  # dense bf16 TFLOP/s, as kernels/cuda/gpu.cu
SPACER_CYCLES = 1_000_000
KEYS = ("model", "x", "w", "stride", "padding", "dilation", "groups", "uses", "gflop")


def load_shapes(paths):
    seen, shapes = set(), []
    for path in paths:
        try:
            lines = open(path).read().splitlines()
        except OSError as e:
            print(f"torch_conv_gpu: cannot read {path}: {e}", file=sys.stderr)
            continue
        for line in lines:
            line = line.strip()
            if not line.startswith("{"):
                continue
            try:
                r = json.loads(line)
            except json.JSONDecodeError:
                continue
            if r.get("kernel") != "conv2d" or "x" not in r:
                continue
            s = {k: r[k] for k in KEYS if k in r}
            key = json.dumps({k: s[k] for k in ("x", "w", "stride", "padding", "dilation", "groups")}, sort_keys=True)
            if key not in seen:
                seen.add(key)
                shapes.append(s)
    return shapes


def median_ms(torch, fn, warmup, repeats):
    for _ in range(warmup):
        fn()
    start = [torch.cuda.Event(enable_timing=True) for _ in range(repeats)]
    stop = [torch.cuda.Event(enable_timing=True) for _ in range(repeats)]
    for i in range(repeats):
        torch.cuda._sleep(SPACER_CYCLES)
        start[i].record()
        fn()
        stop[i].record()
    torch.cuda.synchronize()
    return statistics.median(s.elapsed_time(e) for s, e in zip(start, stop))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shapes", nargs="+", required=True)
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    args = ap.parse_args()
    try:
        import torch
        import torch.nn.functional as F
    except ImportError as e:
        print(json.dumps({"error": f"no torch: {e}"}))
        return 1
    if not torch.cuda.is_available():
        print(json.dumps({"error": "no GPU: torch.cuda.is_available() is False"}))
        print("torch_conv_gpu: no GPU", file=sys.stderr)
        return 1
    shapes = load_shapes(args.shapes)
    if not shapes:
        print(json.dumps({"error": "no shapes: bench/conv_bench_gpu.c printed none (see its log)"}))
        return 1
    torch.backends.cudnn.benchmark = True
    torch.backends.cudnn.deterministic = False
    name = torch.cuda.get_device_name(0)
    peak = next((p for part, p in PEAKS if part in name), None)
    print(json.dumps({"device": name, "peak_bf16_tflops": peak, "torch": torch.__version__,
                      "cudnn": torch.backends.cudnn.version()}), flush=True)
    dev = torch.device("cuda")
    g = torch.Generator(device=dev).manual_seed(0)
    errors = 0
    for s in shapes:
        out = dict(s)
        try:
            cl = torch.channels_last
            x = (torch.rand(*s["x"], generator=g, device=dev) * 2 - 1).to(torch.bfloat16).to(memory_format=cl)
            w = (torch.rand(*s["w"], generator=g, device=dev) * 2 - 1).to(torch.bfloat16).to(memory_format=cl)
            kw = dict(stride=tuple(s["stride"]), padding=tuple(s["padding"]), dilation=tuple(s["dilation"]),
                      groups=s["groups"])
            with torch.no_grad():
                y = F.conv2d(x, w, **kw)
                out["torch_fwd_ms"] = median_ms(torch, lambda: F.conv2d(x, w, **kw), args.warmup, args.repeats)
            dy = (torch.rand(y.shape, generator=g, device=dev) * 2 - 1).to(torch.bfloat16).to(memory_format=cl)
            xg, wg = x.detach().requires_grad_(True), w.detach().requires_grad_(True)
            yg = F.conv2d(xg, wg, **kw)
            out["torch_bwd_ms"] = median_ms(
                torch, lambda: torch.autograd.grad(yg, (xg, wg), dy, retain_graph=True), args.warmup, args.repeats)
            if peak:
                out["torch_mfu"] = 3 * s["gflop"] * 1e9 / ((out["torch_fwd_ms"] + out["torch_bwd_ms"]) * 1e-3) / (peak * 1e12)
            del x, w, y, dy, xg, wg, yg
        except Exception as e:  # a shape torch rejects (out of memory, ...) is reported, not fatal
            out["error"] = str(e)[:300]
            errors += 1
        print(json.dumps(out), flush=True)
        fwd, bwd = out.get("torch_fwd_ms"), out.get("torch_bwd_ms")
        print(f"{str(s['x']):24} {str(s['w']):22} fwd {fwd if fwd is None else round(fwd, 3)} ms, "
              f"bwd {bwd if bwd is None else round(bwd, 3)} ms", file=sys.stderr)
    return 2 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
