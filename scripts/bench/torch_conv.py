#!/usr/bin/env python3
"""The PyTorch side of scripts/bench/conv_cpu_vs_torch.sh: times torch.nn.functional.conv2d
forward and its autograd backward (dx and dw, no bias) on the shapes that bench/conv_bench.c
printed (one JSON object per line on stdin; the "total" line is skipped), with the same method:
random inputs, one warm-up, then `repeats` calls each, median. Forward runs under no_grad; the
backward is torch.autograd.grad(y, (x, w), dy) of a forward made outside the timed region.

Output: the same JSON lines with torch_fwd_ms and torch_bwd_ms added.
usage: torch_conv.py --threads T [--repeats R] < shapes.jsonl
"""
import argparse
import json
import statistics
import sys
import time

import torch
import torch.nn.functional as F


def median_ms(fn, repeats):
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    g = torch.Generator().manual_seed(0)
    for line in sys.stdin:
        s = json.loads(line)
        if s.get("total"):
            continue
        x = torch.rand(*s["x"], generator=g) * 2 - 1
        w = torch.rand(*s["w"], generator=g) * 2 - 1
        kw = dict(stride=tuple(s["stride"]), padding=tuple(s["padding"]), dilation=tuple(s["dilation"]),
                  groups=s["groups"])
        with torch.no_grad():
            y = F.conv2d(x, w, **kw)
            s["torch_fwd_ms"] = median_ms(lambda: F.conv2d(x, w, **kw), args.repeats)
        dy = torch.rand(*y.shape, generator=g) * 2 - 1
        xg, wg = x.clone().requires_grad_(True), w.clone().requires_grad_(True)

        def backward():
            yy = backward.y
            torch.autograd.grad(yy, (xg, wg), dy)

        def timed_backward():
            backward.y = F.conv2d(xg, wg, **kw)  # outside the timed region below
            t0 = time.perf_counter()
            backward()
            return (time.perf_counter() - t0) * 1e3

        timed_backward()
        s["torch_bwd_ms"] = statistics.median(timed_backward() for _ in range(args.repeats))
        print(json.dumps(s), flush=True)


if __name__ == "__main__":
    main()
